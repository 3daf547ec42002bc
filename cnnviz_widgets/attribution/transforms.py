"""Input transforms for activation maximisation: what the model sees at each step.

A transform is a small callable object, ``transform(x, rng) -> x``, applied to the
image (a backend tensor, batch first) before every forward pass. It must be
differentiable, so the gradient flows back to the untransformed image. Random
transforms draw from ``rng`` (a seeded ``numpy.random.Generator``), which keeps runs
reproducible.

Besides :class:`Jitter`, the transforms of lucid's "transformation robustness"
(``lucid/optvis/transform.py``): :class:`Pad`, :class:`RandomCrop` (lucid's ``jitter``),
:class:`RandomScale` and :class:`RandomRotate`, and :func:`standard_transforms`, their
usual sequence. These may change the image size; the optimiser resizes the result back
for models with a fixed input size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._keras import keras

__all__ = [
    "STANDARD_ANGLES",
    "STANDARD_SCALES",
    "InputTransform",
    "Jitter",
    "Pad",
    "RandomCrop",
    "RandomRotate",
    "RandomScale",
    "rotate",
    "standard_transforms",
]

#: Scale factors of :func:`standard_transforms`.
STANDARD_SCALES: tuple[float, ...] = (1.0, 0.975, 1.025, 0.95, 1.05)
#: Rotation angles (degrees) of :func:`standard_transforms`.
STANDARD_ANGLES: tuple[float, ...] = tuple(float(a) for a in range(-5, 6))


class InputTransform:
    """Base class of the input transforms."""

    def __call__(self, x: Any, rng: np.random.Generator) -> Any:
        """Return the transformed batch ``x`` (N, H, W[, C])."""
        raise NotImplementedError


@dataclass(frozen=True)
class Jitter(InputTransform):
    """Roll the image by a random offset of up to ``px`` pixels in height and width.

    The model sees a shifted copy; the gradient flows back to the unshifted image, which
    discourages high-frequency patterns tied to exact pixel positions. ``px=0`` leaves
    the image alone (and draws no random numbers).

    Parameters
    ----------
    px : int, default 2
        Largest shift, in pixels.
    """

    px: int = 2

    def __call__(self, x: Any, rng: np.random.Generator) -> Any:
        if self.px <= 0:
            return x
        dy, dx = (int(s) for s in rng.integers(-self.px, self.px + 1, size=2))
        return keras.ops.roll(keras.ops.roll(x, dy, axis=1), dx, axis=2)


@dataclass(frozen=True)
class Pad(InputTransform):
    """Pad the image by ``px`` pixels on every side with the constant ``value``.

    Parameters
    ----------
    px : int, default 12
        Border width in pixels.
    value : float, default 0.5
        Pixel value of the border (0-1 scale: mid-grey), as lucid's ``pad(12,
        mode="constant", constant_value=.5)``.
    """

    px: int = 12
    value: float = 0.5

    def __call__(self, x: Any, rng: np.random.Generator) -> Any:
        if self.px <= 0:
            return x
        pads = [[0, 0], [self.px, self.px], [self.px, self.px]] + [[0, 0]] * (len(x.shape) - 3)
        return keras.ops.pad(x, pads, constant_values=self.value)


@dataclass(frozen=True)
class RandomCrop(InputTransform):
    """Crop ``px`` pixels less in height and width, at a random offset (lucid's ``jitter``).

    Unlike :class:`Jitter` nothing wraps around; the image shrinks by ``px``.

    Parameters
    ----------
    px : int, default 8
        How many rows and columns are cut, split at random between the two sides.
    """

    px: int = 8

    def __call__(self, x: Any, rng: np.random.Generator) -> Any:
        if self.px <= 0:
            return x
        dy, dx = (int(s) for s in rng.integers(0, self.px + 1, size=2))
        height, width = int(x.shape[1]), int(x.shape[2])
        return x[:, dy:dy + height - self.px, dx:dx + width - self.px]


@dataclass(frozen=True)
class RandomScale(InputTransform):
    """Resize the image (bilinear) by a factor drawn from ``scales``.

    The new size is ``floor(size * factor)`` (lucid's ``random_scale``); a factor of 1
    leaves the image alone.

    Parameters
    ----------
    scales : sequence of float
        Factors to draw from, each equally likely.
    """

    scales: tuple[float, ...] = STANDARD_SCALES

    def __call__(self, x: Any, rng: np.random.Generator) -> Any:
        factor = float(self.scales[int(rng.integers(len(self.scales)))])
        height, width = int(x.shape[1]), int(x.shape[2])
        size = (max(1, int(height * factor)), max(1, int(width * factor)))
        if size == (height, width):
            return x
        return resize_images(x, size)


@dataclass(frozen=True)
class RandomRotate(InputTransform):
    """Rotate the image about its centre by an angle (degrees) drawn from ``angles``.

    Bilinear sampling, with ``fill`` outside the original image (:func:`rotate`); as
    lucid's ``random_rotate``.

    Parameters
    ----------
    angles : sequence of float
        Angles in degrees, counter-clockwise as displayed, each equally likely.
    fill : float, default 0.5
        Pixel value of the corners that come from outside the image.
    """

    angles: tuple[float, ...] = STANDARD_ANGLES
    fill: float = 0.5

    def __call__(self, x: Any, rng: np.random.Generator) -> Any:
        angle = float(self.angles[int(rng.integers(len(self.angles)))])
        return rotate(x, angle, self.fill)


def rotate(x: Any, degrees: float, fill: float = 0.5) -> Any:
    """Rotate a batch (N, H, W[, C]) about its centre, counter-clockwise as displayed.

    Output pixel ``(y, x)`` takes the bilinear interpolation of the input at the
    position rotated back by ``degrees`` about ``((H - 1) / 2, (W - 1) / 2)``; positions
    outside the image count as ``fill``. Differentiable in ``x``; 0 degrees returns ``x``.

    Parameters
    ----------
    x : tensor
        Batch first, height and width on axes 1 and 2.
    degrees : float
        Angle of rotation.
    fill : float, default 0.5
        Value outside the image.

    Returns
    -------
    tensor
        Same shape as ``x``.
    """
    if degrees % 360 == 0:
        return x
    ops = keras.ops
    x = ops.convert_to_tensor(x)
    height, width = int(x.shape[1]), int(x.shape[2])
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    yy, xx = np.meshgrid(np.arange(height) - cy, np.arange(width) - cx, indexing="ij")
    src_y = (sin * xx + cos * yy + cy).ravel()
    src_x = (cos * xx - sin * yy + cx).ravel()
    y0, x0 = np.floor(src_y), np.floor(src_x)
    flat = ops.reshape(x, (ops.shape(x)[0], height * width, -1))
    out = 0.0
    for oy, ox in ((0, 0), (0, 1), (1, 0), (1, 1)):
        ys, xs = y0 + oy, x0 + ox
        weight = (1 - np.abs(src_y - ys)) * (1 - np.abs(src_x - xs))
        inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        index = (np.clip(ys, 0, height - 1) * width + np.clip(xs, 0, width - 1)).astype(np.int32)
        picked = ops.take(flat, ops.convert_to_tensor(index), axis=1)
        mask = ops.convert_to_tensor(inside[None, :, None])
        term = ops.where(mask, picked, ops.cast(fill, picked.dtype))
        out = out + ops.convert_to_tensor(weight[None, :, None], dtype=picked.dtype) * term
    return ops.reshape(out, ops.shape(x))


def resize_images(x: Any, size: tuple[int, int]) -> Any:
    """Bilinear resize of a batch (N, H, W[, C]) to ``size`` (height, width), differentiable.

    Half-pixel centres and no antialiasing, as ``tf.image.resize(method="bilinear")``;
    the one resize of a tensor in the package.
    """
    ops = keras.ops
    x = ops.convert_to_tensor(x)
    if tuple(int(s) for s in x.shape[1:3]) == tuple(size):
        return x
    plain = len(x.shape) == 3
    images = x[..., None] if plain else x
    out = ops.image.resize(images, tuple(size), interpolation="bilinear", antialias=False,
                           data_format="channels_last")
    return out[..., 0] if plain else out


def standard_transforms(size: int | None = None) -> tuple[InputTransform, ...]:
    """Lucid's ``standard_transforms``: pad 12, crop-jitter 8, scale, rotate, crop-jitter 4.

    The scales are :data:`STANDARD_SCALES` and the angles :data:`STANDARD_ANGLES`.

    Parameters
    ----------
    size : int, optional
        The image's smaller side. Below 128 pixels the pad and jitter widths shrink in
        proportion (at least 1 pixel), so a 28-pixel digit is not drowned in border.

    Returns
    -------
    tuple of InputTransform
    """
    factor = 1.0 if size is None else min(1.0, size / 128.0)

    def px(n: int) -> int:
        return max(1, round(n * factor))

    return (Pad(px(12)), RandomCrop(px(8)), RandomScale(STANDARD_SCALES),
            RandomRotate(STANDARD_ANGLES), RandomCrop(px(4)))
