"""Objectives for activation maximisation: what to make large, composable with + - *.

An :class:`Objective` maps the values of some layers (backend tensors, batch first)
to one number per image, shape (N,); the optimiser raises their sum. Objectives add,
subtract and scale like lucid's ``Objective`` (``lucid/optvis/objectives.py``)::

    channel("block4_conv1", 7) - 0.5 * channel("block4_conv1", 8)
    channel("block4_conv1", 7) + diversity("block4_conv1")

The values are read from a mapping ``{layer name: tensor}``; the model's output is
under the key ``None`` (:data:`OUTPUT`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .._keras import keras
from ..checks import index_in
from ..errors import ArgumentTypeError, InvalidSettingError, LayerNotViewableError

__all__ = [
    "OUTPUT",
    "Objective",
    "as_objective",
    "channel",
    "class_logit",
    "direction",
    "diversity",
    "neuron",
]

#: The key under which an objective finds the model's output.
OUTPUT = None


class Objective:
    """A differentiable quantity per image, built from layer values.

    Parameters
    ----------
    function : callable
        ``function(values) -> tensor (N,)`` where ``values`` maps each name of
        ``layers`` to that layer's output (``None``: the model's output).
    layers : iterable of str or None
        The layers ``function`` reads.
    name : str
        For display.
    """

    def __init__(self, function: Callable[[Mapping[str | None, Any]], Any],
                 layers: Any = (), name: str = "objective"):
        self.function = function
        self.layers: tuple[str | None, ...] = tuple(dict.fromkeys(layers))
        self.name = name

    def __call__(self, values: Mapping[str | None, Any]) -> Any:
        """The objective of each image of the batch, shape (N,)."""
        return self.function(values)

    def __repr__(self) -> str:
        return f"Objective({self.name})"

    @property
    def reads_output(self) -> bool:
        """True when the objective needs the model's output (not only inner layers)."""
        return OUTPUT in self.layers

    def __add__(self, other: Any) -> Objective:
        if isinstance(other, Objective):
            return Objective(lambda v: self(v) + other(v), self.layers + other.layers,
                             f"{self.name} + {other.name}")
        if isinstance(other, (int, float, np.number)):
            value = float(other)
            return Objective(lambda v: self(v) + value, self.layers, f"{self.name} + {value}")
        return NotImplemented

    __radd__ = __add__

    def __neg__(self) -> Objective:
        return Objective(lambda v: -self(v), self.layers, f"-({self.name})")

    def __sub__(self, other: Any) -> Objective:
        if isinstance(other, (Objective, int, float, np.number)):
            return self + (-other)
        return NotImplemented

    def __rsub__(self, other: Any) -> Objective:
        return (-self) + other

    def __mul__(self, other: Any) -> Objective:
        if isinstance(other, (int, float, np.number)):
            value = float(other)
            return Objective(lambda v: value * self(v), self.layers, f"{value} * {self.name}")
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Objective:
        if isinstance(other, (int, float, np.number)):
            return self * (1.0 / float(other))
        return NotImplemented


def _channel_values(value: Any, index: int, layer: str) -> Any:
    size = value.shape[-1]
    if size is not None:
        index_in(index, size, "channel", f"layer {layer!r}", from_end=True)
    return value[..., index]


def channel(layer: str, index: int) -> Objective:
    """The mean of channel ``index`` of ``layer`` over its positions (lucid's ``channel``).

    For a vector layer (a dense layer) it is that unit's value.
    """
    def function(values: Mapping[str | None, Any]) -> Any:
        picked = _channel_values(values[layer], index, layer)
        axes = tuple(range(1, len(picked.shape)))
        return keras.ops.mean(picked, axis=axes) if axes else picked

    return Objective(function, [layer], f"channel({layer!r}, {index})")


def neuron(layer: str, index: int, y: int | None = None, x: int | None = None) -> Objective:
    """Channel ``index`` of ``layer`` at one position (lucid's ``neuron``).

    Parameters
    ----------
    layer : str
        A layer with a spatial output (N, H, W, C).
    index : int
        Channel.
    y, x : int, optional
        Row and column; by default the centre, ``(H // 2, W // 2)``.
    """

    def function(values: Mapping[str | None, Any]) -> Any:
        picked = _channel_values(values[layer], index, layer)
        if len(picked.shape) != 3:
            raise LayerNotViewableError(
                f"neuron() needs a layer with a spatial output; {layer!r} has shape "
                f"{tuple(values[layer].shape)}. Use channel() for a vector layer.")
        row = picked.shape[1] // 2 if y is None else y
        col = picked.shape[2] // 2 if x is None else x
        return picked[:, row, col]

    return Objective(function, [layer], f"neuron({layer!r}, {index}, y={y}, x={x})")


def class_logit(index: int) -> Objective:
    """The model's output for class ``index``.

    :class:`~.maximize.ActivationMaximization` reads the logit (the value before a final
    softmax or sigmoid) when it was built with ``logits=True``.
    """
    from .scores import ClassScore

    score = ClassScore(int(index))
    return Objective(lambda values: score(values[OUTPUT]), [OUTPUT], f"class_logit({index})")


def direction(layer: str, vector: Any) -> Objective:
    """The dot product of ``layer``'s activation vectors with ``vector``, mean over positions.

    As lucid's ``direction`` (a direction in activation space rather than one channel).

    Parameters
    ----------
    layer : str
        Layer whose last axis has as many entries as ``vector``.
    vector : array-like, shape (C,)
        The direction (not normalised here).
    """
    vec = np.asarray(vector, dtype=np.float32).ravel()

    def function(values: Mapping[str | None, Any]) -> Any:
        value = values[layer]
        if value.shape[-1] != vec.size:
            raise InvalidSettingError(
                f"The direction has {vec.size} entries but layer {layer!r} has "
                f"{value.shape[-1]} channels.")
        ops = keras.ops
        dots = ops.tensordot(value, ops.convert_to_tensor(vec, dtype=value.dtype),
                             axes=[[len(value.shape) - 1], [0]])
        axes = tuple(range(1, len(dots.shape)))
        return ops.mean(dots, axis=axes) if axes else dots

    return Objective(function, [layer], f"direction({layer!r})")


def diversity(layer: str) -> Objective:
    """Minus the mean cosine similarity of the images' Gram matrices of ``layer``.

    With ``G_i`` the Gram matrix (C, C) of image ``i``'s activations (positions by
    channels), normalised to unit Frobenius norm, image ``i`` scores
    ``-sum_{j != i} <G_i, G_j> / N``; the batch total is lucent's ``diversity``
    (lucid's with the sign flipped, so it is added to be maximised). It pushes the
    images of a batch towards different styles. A batch of one scores 0.
    """
    def function(values: Mapping[str | None, Any]) -> Any:
        ops = keras.ops
        value = values[layer]
        n = int(value.shape[0])
        flat = ops.reshape(value, (n, -1, value.shape[-1]))
        grams = ops.matmul(ops.swapaxes(flat, 1, 2), flat)
        grams = ops.reshape(grams, (n, -1))
        grams = grams / ops.maximum(ops.norm(grams, axis=1, keepdims=True), 1e-10)
        similarity = ops.matmul(grams, ops.transpose(grams))
        others = ops.sum(similarity, axis=1) - ops.diagonal(similarity)
        return -others / float(n)

    return Objective(function, [layer], f"diversity({layer!r})")


def as_objective(target: Any, layer: str | None = None) -> Objective:
    """An :class:`Objective` from an objective, a class index or a score callable.

    A score callable (``ClassScore(3)``, ``ChannelScore(2)``, any function of a batch
    of values returning shape (N,)) is applied to ``layer``'s output, or to the model's
    output when ``layer`` is None; an int is :func:`class_logit`.
    """
    if isinstance(target, Objective):
        return target
    if isinstance(target, bool):
        raise ArgumentTypeError(
            "target must be an Objective, a class index or a score, not a bool")
    if isinstance(target, (int, np.integer)) and layer is None:
        return class_logit(int(target))
    if callable(target):
        return Objective(lambda values: target(values[layer]), [layer],
                         f"{getattr(target, '__name__', repr(target))} on "
                         f"{'the output' if layer is None else repr(layer)}")
    raise ArgumentTypeError(
        f"Cannot maximise {target!r}: give an Objective (e.g. channel('conv1', 3)), a class "
        "index, or a callable score such as ClassScore(3).")
