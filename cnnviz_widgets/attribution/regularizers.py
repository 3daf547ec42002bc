"""Regularisers for activation maximisation: what keeps the synthesised image natural.

A regulariser is a small object with two hooks, each optional:

* ``penalty(x)``: a differentiable amount subtracted from the objective at every step
  (``x`` is the image batch as a backend tensor, pixels on the 0-1 scale);
* ``update(u, step)``: a change made to the image (a numpy array, batch first) after
  step ``step``.

:class:`TotalVariation` is a penalty (tf-keras-vis's ``TotalVariation2D``); :class:`Blur`
is an update (the Gaussian blur of Yosinski et al.'s DeepVis).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Blur", "Regularizer", "TotalVariation", "gaussian_blur"]


class Regularizer:
    """Base class of the regularisers; both hooks do nothing by default."""

    def penalty(self, x: Any) -> Any | None:
        """The amount to subtract from the objective for image batch ``x``, or None."""
        return None

    def update(self, u: np.ndarray, step: int) -> np.ndarray:
        """The image ``u`` (N, H, W, C) after step ``step`` (1-based); unchanged here."""
        return u


@dataclass(frozen=True)
class TotalVariation(Regularizer):
    """Penalise ``weight`` times the mean absolute difference of neighbouring pixels.

    Calling it on an image batch (N, H, W, C) returns that penalty: the mean of
    ``|x[:, i+1, j] - x[:, i, j]|`` plus the mean of ``|x[:, i, j+1] - x[:, i, j]|``, times
    ``weight`` (in the units of the objective; pixels on the 0-1 scale).

    Parameters
    ----------
    weight : float, default 1.0
        Strength of the penalty.
    """

    weight: float = 1.0

    def __call__(self, x: Any) -> Any:
        from .._keras import keras

        ops = keras.ops
        return self.weight * (ops.mean(ops.abs(x[:, 1:] - x[:, :-1]))
                              + ops.mean(ops.abs(x[:, :, 1:] - x[:, :, :-1])))

    def penalty(self, x: Any) -> Any | None:
        return self(x) if self.weight else None


@dataclass(frozen=True)
class Blur(Regularizer):
    """Gaussian-blur the image (standard deviation ``sigma`` pixels) every ``every`` steps.

    Calling it on an image batch (N, H, W, C) returns the blurred batch
    (:func:`gaussian_blur`).

    Parameters
    ----------
    every : int, default 4
        Blur after every ``every``-th step; 0 never blurs.
    sigma : float, default 0.5
        Standard deviation in pixels; 0 never blurs.
    """

    every: int = 4
    sigma: float = 0.5

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return gaussian_blur(u, self.sigma)

    def update(self, u: np.ndarray, step: int) -> np.ndarray:
        if self.every > 0 and self.sigma > 0 and step % self.every == 0:
            return self(u)
        return u


def image_blur_sigma(height: int, width: int) -> float:
    """The blur that takes an image's content away: a sigma of an eighth of its larger side.

    The one strength of "a blurred copy of the image" in the package (the faithfulness
    substrate, the integrated-gradients baseline). An eighth of the image, not a fixed
    number of pixels, so that it removes a 28-pixel digit as well as a 224-pixel photo
    (see :func:`~.faithfulness.substrate_pixels`).
    """
    return max(int(height), int(width)) / 8


def gaussian_blur(u: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a batch (N, H, W, C) over H and W.

    The kernel reaches ``ceil(3 sigma)`` pixels each side and is normalised to sum 1;
    borders reflect. An axis not longer than that radius is left alone.

    Parameters
    ----------
    u : numpy.ndarray
        Shape (N, H, W, C).
    sigma : float
        Standard deviation in pixels; ``<= 0`` returns ``u``.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``u``.
    """
    if sigma <= 0:
        return u
    radius = max(1, int(math.ceil(3.0 * sigma)))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    kernel /= kernel.sum()
    out = u.astype(np.float64)
    for axis in (1, 2):
        if out.shape[axis] <= radius:
            continue
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect")
        acc = np.zeros_like(out)
        for i, k in enumerate(kernel):
            acc += k * np.take(padded, range(i, i + out.shape[axis]), axis=axis)
        out = acc
    return out.astype(u.dtype)
