"""The stages of a network and the receptive-field arithmetic that defines them.

A *stage* is a run of layers, in the order the model computes them, that share one
resolution. The resolution of a layer is its *jump*. For every layer the recursion
keeps two numbers along the main path from the input: the *jump* (distance in input
pixels between neighbouring output positions, i.e. the product of all strides so far)
and the receptive-field *size* (width in input pixels of the window that one output
position sees)::

    size_out = size_in + (k_eff - 1) * jump_in,    k_eff = dilation * (k - 1) + 1
    jump_out = jump_in * stride

Layers that mix inputs (``Add``, ``Concatenate``) take the input with the largest
field; layers that do not move pixels around (activations, batch norm, dropout,
padding) keep the values of their input.

:func:`stage_layers` is the one definition of a stage used by the block overview, the
exported page's default layers and anything else that shows "one layer per stage".
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

__all__ = ["FEATURE_KINDS", "Field", "plan_of", "receptive_fields", "stage_layers"]

#: Layer kinds that compute new features; pooling, dropout and reshaping layers only
#: move or drop values, so a stage never ends on one of them.
FEATURE_KINDS = frozenset({"conv", "activation", "normalization", "merge", "other"})


@dataclass(frozen=True)
class Field:
    """Receptive field of one layer's output: ``size`` and ``jump`` in input pixels.

    ``size`` is None once the spatial axes are gone (dense, flatten, global pooling).
    """

    size: Fraction | None
    jump: Fraction

    @property
    def size_int(self) -> int | None:
        """The size as an int (rounded up when a transposed conv made it fractional)."""
        if self.size is None:
            return None
        return int(-(-self.size.numerator // self.size.denominator))


def _pair(value: Any, n: int = 2) -> tuple[int, ...]:
    if value is None:
        return (1,) * n
    if isinstance(value, int):
        return (value,) * n
    return tuple(int(v) for v in value)


def plan_of(model_or_engine: Any) -> Any:
    """Return the flattened plan behind a model or an :class:`ActivationEngine`."""
    from .coerce import as_engine

    return as_engine(model_or_engine).plan


def _spatial_kernel(layer: Any) -> tuple[int, int, int, int] | None:
    """Return (kernel, stride, dilation, transposed) along the width for windowed layers."""
    cls = type(layer).__name__
    if cls.startswith("Global"):
        return None
    if hasattr(layer, "pool_size") and getattr(layer, "pool_size", None) is not None:
        k = _pair(layer.pool_size)[-1]
        s = _pair(getattr(layer, "strides", None) or layer.pool_size)[-1]
        return k, s, 1, 0
    if hasattr(layer, "kernel_size"):
        k = _pair(layer.kernel_size)[-1]
        s = _pair(getattr(layer, "strides", 1))[-1]
        d = _pair(getattr(layer, "dilation_rate", 1))[-1]
        return k, s, d, int("Transpose" in cls)
    return None


def receptive_fields(plan: Any) -> dict[str, Field]:
    """Return ``{layer name: Field}`` for every step of ``plan``.

    Parameters
    ----------
    plan : cnnviz_widgets.engine.layers.Plan
        The flattened plan of a model (``build_plan(model)``).

    Returns
    -------
    dict
        One :class:`Field` per layer name, computed along the main path.
    """
    state: dict[int, Field] = {plan.input_key: Field(Fraction(1), Fraction(1))}
    fields: dict[str, Field] = {}
    for step in plan.steps:
        ins = [state[k] for k in step.inputs if k in state]
        spatial_ins = [f for f in ins if f.size is not None]
        if spatial_ins:
            base = max(spatial_ins, key=lambda f: (f.size, f.jump))
        elif ins:
            base = ins[0]
        else:
            base = Field(Fraction(1), Fraction(1))
        field = base
        if base.size is not None:
            if not step.info.is_spatial:
                field = Field(None, base.jump)
            else:
                window = _spatial_kernel(step.layer)
                cls = step.info.class_name
                if window is not None:
                    k, s, d, transposed = window
                    k_eff = d * (k - 1) + 1
                    if transposed:
                        jump = base.jump / s
                        field = Field(base.size + (k_eff - 1) * jump, jump)
                    else:
                        field = Field(base.size + (k_eff - 1) * base.jump, base.jump * s)
                elif cls.startswith("UpSampling"):
                    field = Field(base.size, base.jump / _pair(step.layer.size)[-1])
        for k in step.outputs:
            state[k] = field
        fields[step.info.name] = field
    return fields


def stage_layers(model_or_engine: Any) -> list[str]:
    """Return the last feature layer of every stage (resolution) of the network.

    A stage is a run of layers, in the order the model computes them, that share the
    same resolution: the same *jump* (product of the strides of all convolutions and
    poolings so far, see :func:`receptive_fields`). Among spatial layers of the kinds in
    :data:`FEATURE_KINDS` (conv, activation, normalization, merge, other), the last one
    before each change of resolution ends a stage, and the last of them all ends the
    final stage. Using strides rather than output sizes makes the rule work for models
    with a flexible input size and ignores the slight shrinking of "valid" convolutions.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine built on it.

    Returns
    -------
    list of str
        Layer names in model order; for VGG16 ``block1_conv2``, ``block2_conv2``,
        ``block3_conv3``, ``block4_conv3``, ``block5_conv3``.
    """
    plan = plan_of(model_or_engine)
    fields = receptive_fields(plan)
    ends: list[str] = []
    last_name: str | None = None
    last_jump = None
    for info in plan.layers:
        if not info.is_spatial or info.kind not in FEATURE_KINDS:
            continue
        jump = fields[info.name].jump
        if last_name is not None and jump != last_jump:
            ends.append(last_name)
        last_name, last_jump = info.name, jump
    if last_name is not None:
        ends.append(last_name)
    return ends
