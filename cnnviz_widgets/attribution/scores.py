"""Score objects: what an attribution method explains or maximises.

A score is a small callable object that maps a batch of values (the model's output,
or a layer's output) to one number per image, shape ``(batch,)``. It follows
tf-keras-vis's score objects; any callable with that contract works as ``target=``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checks import index_in
from ..errors import ArgumentTypeError

__all__ = ["ChannelScore", "ClassScore", "Score", "TopClassScore", "resolve_score"]

#: Maps a backend tensor of shape (batch, ...) to a tensor of shape (batch,).
Score = Callable[[Any], Any]


def _ops() -> Any:
    from .._keras import keras

    return keras.ops


def _rows(output: Any) -> Any:
    """``output`` as (batch, values): a numpy array stays numpy, anything else becomes a
    backend tensor (written with ``keras.ops``, so any Keras backend differentiates it)."""
    if isinstance(output, np.ndarray):
        return output if output.ndim == 2 else output.reshape(output.shape[0], -1)
    ops = _ops()
    output = ops.convert_to_tensor(output)
    if len(output.shape) != 2:
        output = ops.reshape(output, (ops.shape(output)[0], -1))
    return output


@dataclass(frozen=True)
class ClassScore:
    """The output for one class: ``output[:, index]``.

    Parameters
    ----------
    index : int
        Index of the class in the model's output vector.
    """

    index: int

    def __call__(self, output: Any) -> Any:
        output = _rows(output)
        size = output.shape[-1]
        if size is not None:
            index_in(self.index, size, "class", "the output", from_end=True)
        return output[:, self.index]


@dataclass(frozen=True)
class TopClassScore:
    """Each image's largest output: the score of its own predicted class.

    Its gradient is that of ``output[i, argmax_i]`` for every image ``i`` of the batch,
    found in the same forward pass (no second run to learn the predicted class).
    """

    def __call__(self, output: Any) -> Any:
        output = _rows(output)
        if isinstance(output, np.ndarray):
            return output.max(axis=-1)
        return _ops().max(output, axis=-1)


@dataclass(frozen=True)
class ChannelScore:
    """The mean of one channel of a layer's output over its spatial positions.

    For a vector output (a dense layer) this is simply the value of one unit.

    Parameters
    ----------
    channel : int
        Index on the last (channel) axis.
    """

    channel: int

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, np.ndarray):
            value = _ops().convert_to_tensor(value)
        size = value.shape[-1]
        if size is not None:
            index_in(self.channel, size, "channel", "the layer", from_end=True)
        picked = value[..., self.channel]
        axes = tuple(range(1, len(picked.shape)))
        if not axes:
            return picked
        return picked.mean(axis=axes) if isinstance(picked, np.ndarray) else \
            _ops().mean(picked, axis=axes)


def resolve_score(target: Any, output: Any | None = None) -> Callable[[Any], Any]:
    """Turn ``target`` (None, a class index or a score callable) into a score callable.

    Parameters
    ----------
    target : None, int or callable
        ``None`` picks the top class of ``output`` when it is given, else each image's
        own top class (:class:`TopClassScore`); an int is a class index; a callable is
        returned unchanged.
    output : array or tensor, optional
        The model's output for the image, shape (1, classes).

    Returns
    -------
    callable
        A score mapping a batch of outputs to shape ``(batch,)``.
    """
    if target is None:
        if output is None:
            return TopClassScore()
        from .autodiff import to_numpy

        flat = to_numpy(output)
        flat = flat.reshape(flat.shape[0], -1)
        return ClassScore(int(np.argmax(flat[0])))
    if isinstance(target, bool):
        raise ArgumentTypeError(
            "target must be None, a class index or a score callable, not a bool")
    if isinstance(target, (int, np.integer)):
        return ClassScore(int(target))
    if callable(target):
        return target
    raise ArgumentTypeError(
        f"target must be None (top class), an int (class index) or a callable score such as "
        f"ClassScore(3); got {type(target).__name__}."
    )
