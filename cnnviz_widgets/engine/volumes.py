"""Reading volumes and videos, (D, H, W, C), for a model of 3-D layers.

A volume is a stack of D slices (or a video of D frames) of H x W pixels with C channels.
Its values are read as an image's are (integers 0-255, floats 0-1 scaled to 0-255, see
:func:`~cnnviz_widgets.engine.inputs.decode_image`), slice by slice with the same rule for
the whole volume; a volume is never resized, so its shape must be the model's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ImageShapeError
from .inputs import decode_image

__all__ = ["is_one_volume", "volume_stack", "volume_values"]


def _shown(input_shape: tuple[int | None, ...]) -> str:
    names = ("D", "H", "W")
    return "(" + ", ".join(str(s) if s is not None else names[i]
                           for i, s in enumerate(input_shape[:3])) + f", {input_shape[3]})"


def volume_values(volume: Any, input_shape: tuple[int | None, ...]) -> np.ndarray:
    """Read one volume for a model whose input is (D, H, W, C): float32 0-255 (D, H, W, C).

    Parameters
    ----------
    volume : numpy.ndarray or tensor
        Shape (D, H, W, C), or (D, H, W) when the model takes one channel; leading batch
        axes of length 1 are removed.
    input_shape : tuple
        The model's input shape without the batch axis, (D, H, W, C); None marks a size
        the model accepts any value of.

    Raises
    ------
    ImageShapeError
        If the volume is not an array of numbers of the model's shape.
    """
    want = _shown(input_shape)
    if hasattr(volume, "numpy") and not isinstance(volume, np.ndarray):
        volume = volume.numpy()
    if not isinstance(volume, np.ndarray) and not isinstance(volume, (list, tuple)):
        raise ImageShapeError(
            f"This model takes a volume (or a video), a numpy array of shape {want} (depth or "
            f"frames, height, width, channels), not {type(volume).__name__}.")
    arr = np.asarray(volume)
    channels = input_shape[3]
    while arr.ndim > 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 3 and channels == 1:
        arr = arr[..., None]
    fits = arr.ndim == 4 and all(s is None or s == a for s, a in zip(input_shape, arr.shape,
                                                                     strict=True))
    if not fits:
        hint = ""
        if arr.ndim == 5 or arr.ndim == 4 and channels == 1 and arr.shape[-1] != 1:
            hint = f" It looks like {arr.shape[0]} volumes: pass one at a time, e.g. volumes[0]."
        raise ImageShapeError(
            f"The model takes a volume of shape {want} (depth or frames, height, width, "
            f"channels); got shape {arr.shape}. Volumes are not resized: give one of the "
            f"model's shape.{hint}")
    if 0 in arr.shape:
        raise ImageShapeError(f"The volume is empty (shape {arr.shape}).")
    d, h, w, c = arr.shape
    flat = arr.reshape(d * h, w) if c == 1 else arr.reshape(d * h, w, c)
    pixels = decode_image(flat)  # the image rule for values, on the whole volume at once
    return np.ascontiguousarray(pixels.reshape(d, h, w, c), dtype=np.float32)


def is_one_volume(array: np.ndarray, input_shape: tuple[int | None, ...]) -> bool:
    """True when ``array`` is one volume of a model with ``input_shape`` (D, H, W, C), False
    for a stack of them: (D, H, W, C) and, for one channel, (D, H, W) are one volume."""
    if array.ndim == 3:
        return input_shape[3] == 1
    return array.ndim == 4 and array.shape[-1] == input_shape[3]


def volume_stack(stack: Any, input_shape: tuple[int | None, ...]) -> np.ndarray | None:
    """The values of a uint8 stack (N, D, H, W[, C]) that fits the model, at once; None for
    any other stack (its volumes are then read one by one by :func:`volume_values`)."""
    if not isinstance(stack, np.ndarray) or stack.dtype != np.uint8:
        return None
    if stack.ndim == 4 and input_shape[3] == 1:
        stack = stack[..., None]
    if stack.ndim != 5 or 0 in stack.shape:
        return None
    if not all(s is None or s == a for s, a in zip(input_shape, stack.shape[1:], strict=True)):
        return None
    return stack.astype(np.float32)
