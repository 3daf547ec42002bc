"""Composites: which rule each linear layer of a model gets, named as Zennit names them.

A :class:`Composite` maps the kind of a layer (a convolution, a dense layer) to a rule,
with its own rule for the *first* layer, the one that reads the input (Zennit's
``SpecialFirstLayerMapComposite``, ``zennit/composites.py``). Sums of branches and
average poolings always use the ``Norm`` rule, activations pass relevance through (what
Zennit's ``layer_map_base`` gives every composite).

==========================  ===============  ==============  ===========
name                        first layer      convolutions    dense
==========================  ===============  ==============  ===========
``epsilon``                 epsilon          epsilon         epsilon
``epsilon_plus``            z+               z+              epsilon
``epsilon_plus_flat``       flat             z+              epsilon
``epsilon_gamma_box``       z-box            gamma (0.25)    epsilon
``epsilon_alpha2_beta1``    alpha 2 beta 1   alpha 2 beta 1  epsilon
==========================  ===============  ==============  ===========

The z-box rule needs the range of the inputs: :class:`~.lrp.LRP` takes it from the
model's preprocessing (black and white pixels, prepared as the engine prepares them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...errors import InvalidSettingError, UnknownNameError
from .rules import AlphaBeta, Epsilon, Flat, Gamma, Rule, ZBox, ZPlus

__all__ = ["COMPOSITES", "Composite", "make_composite"]


@dataclass(frozen=True)
class Composite:
    """The rule of each linear layer: ``first`` for the layer(s) reading the input,
    ``conv`` for the other convolutions, ``dense`` for the other dense layers.

    Parameters
    ----------
    name : str
        What it is called (part of the key of its compiled programs: give two different
        composites different names).
    conv, dense : Rule
        The rules of convolutions and dense layers.
    first : Rule, optional
        The rule of the first linear layer(s); by default that of its kind.
    """

    name: str
    conv: Rule
    dense: Rule
    first: Rule | None = None

    def rule(self, kind: str, first: bool) -> Rule:
        """The rule of a layer of ``kind`` (``"conv"`` or ``"dense"``), first or not."""
        if first and self.first is not None:
            return self.first
        return self.conv if kind == "conv" else self.dense

    @property
    def key(self) -> str:
        """A description of every rule (the key of its compiled programs)."""
        return f"{self.name}:{self.first!r}:{self.conv!r}:{self.dense!r}"


def _epsilon(epsilon: float, gamma: float, bounds: Any) -> Composite:
    return Composite("epsilon", Epsilon(epsilon), Epsilon(epsilon))


def _epsilon_plus(epsilon: float, gamma: float, bounds: Any) -> Composite:
    return Composite("epsilon_plus", ZPlus(), Epsilon(epsilon))


def _epsilon_plus_flat(epsilon: float, gamma: float, bounds: Any) -> Composite:
    return Composite("epsilon_plus_flat", ZPlus(), Epsilon(epsilon), first=Flat())


def _epsilon_gamma_box(epsilon: float, gamma: float, bounds: Any) -> Composite:
    low, high = bounds()
    return Composite("epsilon_gamma_box", Gamma(gamma), Epsilon(epsilon),
                     first=ZBox(low, high))


def _epsilon_alpha2_beta1(epsilon: float, gamma: float, bounds: Any) -> Composite:
    return Composite("epsilon_alpha2_beta1", AlphaBeta(2.0, 1.0), Epsilon(epsilon))


#: The composites by name: ``factory(epsilon, gamma, bounds)``, ``bounds()`` giving the
#: (low, high) of the first layer's inputs.
COMPOSITES: dict[str, Callable[[float, float, Any], Composite]] = {
    "epsilon": _epsilon,
    "epsilon_plus": _epsilon_plus,
    "epsilon_plus_flat": _epsilon_plus_flat,
    "epsilon_gamma_box": _epsilon_gamma_box,
    "epsilon_alpha2_beta1": _epsilon_alpha2_beta1,
}


def make_composite(composite: str | Composite, epsilon: float = 1e-6, gamma: float = 0.25,
                   bounds: Callable[[], tuple[Any, Any]] | None = None) -> Composite:
    """The :class:`Composite` called ``composite`` (or ``composite`` itself).

    Parameters
    ----------
    composite : str or Composite
        A name of :data:`COMPOSITES`, or a composite of one's own.
    epsilon : float, default 1e-6
        The stabiliser of the epsilon rule (dense layers).
    gamma : float, default 0.25
        The gamma of ``epsilon_gamma_box``.
    bounds : callable, optional
        ``bounds() -> (low, high)``: the range of the first layer's inputs (z-box).

    Raises
    ------
    UnknownNameError
        For a name that is not a composite (the message lists them).
    InvalidSettingError
        For a negative ``epsilon`` or ``gamma``.
    """
    if isinstance(composite, Composite):
        return composite
    if not isinstance(composite, str) or composite not in COMPOSITES:
        raise UnknownNameError(
            f"Unknown composite {composite!r}; known: {sorted(COMPOSITES)} (or a Composite).")
    for name, value in (("epsilon", epsilon), ("gamma", gamma)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise InvalidSettingError(f"{name} must be a non-negative number, not {value!r}.")
    return COMPOSITES[composite](float(epsilon), float(gamma), bounds or _no_bounds)


def _no_bounds() -> tuple[Any, Any]:
    raise InvalidSettingError("The composite 'epsilon_gamma_box' needs the range of the inputs.")
