"""Input transforms for activation maximisation: what the model sees at each step.

A transform is a small callable object, ``transform(x, rng) -> x``, applied to the
image (a backend tensor, batch first) before every forward pass. It must be
differentiable, so the gradient flows back to the untransformed image. Random
transforms draw from ``rng`` (a seeded ``numpy.random.Generator``), which keeps runs
reproducible.

The call is split in two, so that the optimiser can compile its step once: ``draw(rng)``
takes the random numbers (a *fixed* part that sets the output's shape, such as a scale
factor, and *offsets*, whole numbers such as a crop position) and ``apply(x, fixed,
offsets)`` transforms with backend operations, the offsets being Python ints or int32
tensors alike. A transform that only defines ``__call__`` still works; the optimiser
then runs its steps eagerly.

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
    "compilable",
    "rotate",
    "standard_transforms",
]

#: Scale factors of :func:`standard_transforms`.
STANDARD_SCALES: tuple[float, ...] = (1.0, 0.975, 1.025, 0.95, 1.05)
#: Rotation angles (degrees) of :func:`standard_transforms`.
STANDARD_ANGLES: tuple[float, ...] = tuple(float(a) for a in range(-5, 6))


class InputTransform:
    """Base class of the input transforms.

    A subclass defines :meth:`draw` and :meth:`apply` (then it can be compiled into the
    optimiser's step, see :func:`compilable`), or only ``__call__``. One whose offsets
    set the output's shape says so with ``shaping = True``: a backend without dynamic
    shapes (JAX) then compiles one program per value; TensorFlow one for all.
    """

    shaping = False

    def __call__(self, x: Any, rng: np.random.Generator) -> Any:
        """Return the transformed batch ``x`` (N, H, W[, C])."""
        fixed, offsets = self.draw(rng)
        return self.apply(x, fixed, offsets)

    def draw(self, rng: np.random.Generator) -> tuple[Any, tuple[int, ...]]:
        """One call's random numbers: a hashable part that sets the output shape, and
        whole-number offsets (a tuple of the same length at every draw)."""
        raise NotImplementedError

    def apply(self, x: Any, fixed: Any, offsets: Any) -> Any:
        """``x`` transformed with what :meth:`draw` gave; ``offsets`` may be tensors."""
        raise NotImplementedError


def compilable(transform: InputTransform) -> bool:
    """True when ``transform`` is split into :meth:`~InputTransform.draw` and
    :meth:`~InputTransform.apply` (and its call is theirs), so it can be compiled."""
    kind = type(transform)
    return (kind.__call__ is InputTransform.__call__
            and kind.draw is not InputTransform.draw
            and kind.apply is not InputTransform.apply)


def _sides(x: Any) -> tuple[Any, Any]:
    """Height and width of a batch ``x``: ints, or tensors where the shape is dynamic."""
    shape = keras.ops.shape(x)
    return shape[1], shape[2]


def _shifted(x: Any, dy: Any, dx: Any, height: Any, width: Any) -> Any:
    """The window of ``x`` (N, H, W[, C]) from row ``dy`` and column ``dx``, ``height`` x
    ``width`` (ints or int32 tensors): a crop whose position and size may be tensors."""
    ops = keras.ops
    if all(isinstance(v, int) for v in (dy, dx, height, width)):
        return x[:, dy:dy + height, dx:dx + width]
    zero = ops.zeros((), "int32")
    start = [zero, ops.cast(dy, "int32"), ops.cast(dx, "int32")] + [zero] * (len(x.shape) - 3)
    return ops.slice(x, ops.stack(start), (ops.shape(x)[0], height, width, *x.shape[3:]))


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

    def draw(self, rng: np.random.Generator) -> tuple[Any, tuple[int, ...]]:
        if self.px <= 0:
            return None, ()
        return None, tuple(int(s) for s in rng.integers(-self.px, self.px + 1, size=2))

    def apply(self, x: Any, fixed: Any, offsets: Any) -> Any:
        if self.px <= 0:
            return x
        dy, dx = offsets[0], offsets[1]
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

    def draw(self, rng: np.random.Generator) -> tuple[Any, tuple[int, ...]]:
        return None, ()

    def apply(self, x: Any, fixed: Any, offsets: Any) -> Any:
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

    def draw(self, rng: np.random.Generator) -> tuple[Any, tuple[int, ...]]:
        if self.px <= 0:
            return None, ()
        return None, tuple(int(s) for s in rng.integers(0, self.px + 1, size=2))

    def apply(self, x: Any, fixed: Any, offsets: Any) -> Any:
        if self.px <= 0:
            return x
        height, width = _sides(x)
        return _shifted(x, offsets[0], offsets[1], height - self.px, width - self.px)


@dataclass(frozen=True)
class RandomScale(InputTransform):
    """Resize the image (bilinear) by a factor drawn from ``scales``.

    The new size is ``floor(size * factor)`` (lucid's ``random_scale``); a factor of 1
    leaves the image alone. With ``keep_size`` the image is zoomed about its centre
    instead, on a canvas of the same size (bilinear, ``fill`` where the source lies
    outside it): the content is scaled as lucid scales it, but the shape never changes,
    so a backend whose compiled programs have fixed shapes (JAX) compiles one step for
    every factor instead of one per factor.

    Parameters
    ----------
    scales : sequence of float
        Factors to draw from, each equally likely.
    keep_size : bool, default False
        Zoom on a canvas of the same size.
    fill : float, default 0.5
        With ``keep_size``, the pixel value of what comes from outside the image.
    """

    scales: tuple[float, ...] = STANDARD_SCALES
    keep_size: bool = False
    fill: float = 0.5

    @property
    def shaping(self) -> bool:  # type: ignore[override]
        """Whether the drawn factor sets the output's shape (not with ``keep_size``)."""
        return not self.keep_size

    def draw(self, rng: np.random.Generator) -> tuple[Any, tuple[int, ...]]:
        return None, (int(rng.integers(len(self.scales))),)

    def apply(self, x: Any, fixed: Any, offsets: Any) -> Any:
        which = offsets[0]
        ops = keras.ops
        if self.keep_size:
            if isinstance(which, int):
                if float(self.scales[which]) == 1.0:
                    return x
                factor: Any = float(self.scales[which])
            else:
                factor = ops.take(ops.convert_to_tensor(np.asarray(self.scales, np.float32)),
                                  which)
            x = ops.convert_to_tensor(x)
            return _sampled(x, *_affine_taps(*_sides(x), 0.0, self.fill, factor))
        height, width = int(x.shape[1]), int(x.shape[2])
        sizes = [(max(1, int(height * f)), max(1, int(width * f))) for f in self.scales]
        if isinstance(which, int):
            size = sizes[which]
            return x if size == (height, width) else resize_images(x, size)
        # a tensor (a compiled program with dynamic shapes): the drawn size is picked there
        return resize_images(x, ops.take(ops.convert_to_tensor(np.asarray(sizes, np.int32)),
                                         which, axis=0))


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

    def draw(self, rng: np.random.Generator) -> tuple[Any, tuple[int, ...]]:
        return None, (int(rng.integers(len(self.angles))),)

    def apply(self, x: Any, fixed: Any, offsets: Any) -> Any:
        which = offsets[0]
        if isinstance(which, int):
            return rotate(x, float(self.angles[which]), self.fill)
        # a tensor (in a compiled program): the drawn angle is picked there
        ops = keras.ops
        degrees = ops.take(ops.convert_to_tensor(np.asarray(self.angles, np.float32)), which)
        x = ops.convert_to_tensor(x)
        return _sampled(x, *_affine_taps(*_sides(x), degrees, self.fill))


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
    x = keras.ops.convert_to_tensor(x)
    return _sampled(x, *_affine_taps(*_sides(x), degrees, fill))


def _affine_taps(height: int, width: int, degrees: Any, fill: float,
                 zoom: Any = 1.0) -> tuple[Any, Any, Any]:
    """The bilinear sampling of a rotation by ``degrees`` and a zoom by ``zoom`` about the
    centre (each a number or a float tensor), on a canvas of the same size.

    Returns, as tensors, the flat source pixel of each of the four taps of every output
    pixel (4, H * W) int32, the tap's weight where the source lies inside the image
    (4, H * W), and the part of each output that comes from ``fill`` outside it
    (H * W,); computed with backend operations, so the angle may be an input of a
    compiled program.
    """
    ops = keras.ops
    theta = ops.cast(degrees, "float32") * (math.pi / 180.0)
    cos, sin = ops.cos(theta), ops.sin(theta)
    h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    inverse = 1.0 / ops.cast(zoom, "float32")
    rows = (ops.arange(height, dtype="float32")[:, None] - cy) * inverse
    cols = (ops.arange(width, dtype="float32")[None, :] - cx) * inverse
    yy = ops.reshape(rows + 0.0 * cols, (-1,))
    xx = ops.reshape(0.0 * rows + cols, (-1,))
    src_y = sin * xx + cos * yy + cy
    src_x = cos * xx - sin * yy + cx
    y0, x0 = ops.floor(src_y), ops.floor(src_x)
    indices, weights, outside = [], [], []
    for oy, ox in ((0, 0), (0, 1), (1, 0), (1, 1)):
        ys, xs = y0 + oy, x0 + ox
        weight = (1 - ops.abs(src_y - ys)) * (1 - ops.abs(src_x - xs))
        inside = ops.logical_and(ops.logical_and(ys >= 0, ys < h),
                                 ops.logical_and(xs >= 0, xs < w))
        indices.append(ops.cast(ops.clip(ys, 0, h - 1) * w + ops.clip(xs, 0, w - 1), "int32"))
        weights.append(ops.where(inside, weight, 0.0))
        outside.append(ops.where(inside, 0.0, weight * fill))
    return ops.stack(indices), ops.stack(weights), ops.sum(ops.stack(outside), axis=0)


def _sampled(x: Any, index: Any, weight: Any, constant: Any) -> Any:
    """``x`` (N, H, W[, C]) resampled by four taps of :func:`_affine_taps`' form."""
    ops = keras.ops
    flat = ops.reshape(x, (ops.shape(x)[0], -1, 1 if len(x.shape) == 3 else x.shape[3]))
    weight = ops.cast(weight, flat.dtype)
    out = ops.cast(constant, flat.dtype)[None, :, None]
    for tap in range(4):
        out = out + weight[tap][None, :, None] * ops.take(flat, index[tap], axis=1)
    return ops.reshape(out, ops.shape(x))


def resize_images(x: Any, size: Any) -> Any:
    """Bilinear resize of a batch (N, H, W[, C]) to ``size`` (height, width), differentiable.

    Half-pixel centres and no antialiasing, as ``tf.image.resize(method="bilinear")``;
    the one resize of a tensor in the package. Under TensorFlow ``size`` may be an int32
    tensor (in a program whose shapes are dynamic).
    """
    ops = keras.ops
    x = ops.convert_to_tensor(x)
    plain = len(x.shape) == 3
    images = x[..., None] if plain else x
    if isinstance(size, (tuple, list)):
        if tuple(x.shape[1:3]) == tuple(int(s) for s in size):
            return x
        out = ops.image.resize(images, tuple(int(s) for s in size), interpolation="bilinear",
                               antialias=False, data_format="channels_last")
    else:  # a size tensor, inside a TensorFlow program with dynamic shapes
        import tensorflow as tf

        out = tf.image.resize(images, size, method="bilinear", antialias=False)
    return out[..., 0] if plain else out


def standard_transforms(size: int | None = None,
                        keep_size: bool | None = None) -> tuple[InputTransform, ...]:
    """Lucid's ``standard_transforms``: pad 12, crop-jitter 8, scale, rotate, crop-jitter 4.

    The scales are :data:`STANDARD_SCALES` and the angles :data:`STANDARD_ANGLES`.

    Parameters
    ----------
    size : int, optional
        The image's smaller side. Below 128 pixels the pad and jitter widths shrink in
        proportion (at least 1 pixel), so a 28-pixel digit is not drowned in border.
    keep_size : bool, optional
        Scale on a canvas of the same size (:class:`RandomScale`'s ``keep_size``). By
        default, only under JAX, whose compiled programs have fixed shapes: one compiled
        step then serves every scale, as it does under TensorFlow.

    Returns
    -------
    tuple of InputTransform
    """
    factor = 1.0 if size is None else min(1.0, size / 128.0)
    if keep_size is None:
        keep_size = keras.backend.backend() == "jax"

    def px(n: int) -> int:
        return max(1, round(n * factor))

    return (Pad(px(12)), RandomCrop(px(8)), RandomScale(STANDARD_SCALES, keep_size),
            RandomRotate(STANDARD_ANGLES), RandomCrop(px(4)))
