"""Nearest-neighbour upscaling by an integer factor, so small maps and kernels stay crisp."""

from __future__ import annotations

import math

import numpy as np

from ..checks import whole_number

__all__ = ["upscale_by", "upscale_factor", "upscale_nearest"]


def upscale_factor(shape: tuple[int, int], min_side: int, max_side: int = 2048) -> int:
    """The integer factor :func:`upscale_nearest` uses for an image of ``shape``.

    ``k = ceil(min_side / min(H, W))``, capped so that ``k * max(H, W) <= max_side``, and at
    least 1.
    """
    h, w = shape
    k = max(1, math.ceil(min_side / max(1, min(h, w))))
    return max(1, min(k, max_side // max(1, max(h, w))))


def upscale_by(image: np.ndarray, factor: int) -> np.ndarray:
    """Repeat every pixel ``factor`` times along the first two axes.

    Parameters
    ----------
    image : numpy.ndarray
        Shape (H, W, ...): any trailing axes (colour, tiles) are kept.
    factor : int
        Integer factor >= 1.

    Returns
    -------
    numpy.ndarray
        Shape (H * factor, W * factor, ...); the input itself when ``factor == 1``.
    """
    arr = np.asarray(image)
    k = whole_number(factor, "The upscaling factor")
    if k == 1:
        return arr
    # repeat along x first, then every row k times: a few times faster than repeating
    # both axes in one broadcast
    row = np.repeat(arr, k, axis=1)
    return np.broadcast_to(row[:, None], (arr.shape[0], k, *row.shape[1:])).reshape(
        arr.shape[0] * k, *row.shape[1:])


def upscale_nearest(image: np.ndarray, min_side: int = 224, max_side: int = 2048) -> np.ndarray:
    """Enlarge an image by an integer nearest-neighbour factor so small maps stay crisp.

    Parameters
    ----------
    image : numpy.ndarray
        Shape (H, W) or (H, W, C).
    min_side : int
        The shorter side of the result is at least this (e.g. a 7x7 map becomes 224x224
        with factor 32).
    max_side : int
        The factor is capped so the longer side does not exceed this (factor >= 1).

    Returns
    -------
    numpy.ndarray
        Shape (H*k, W*k[, C]) with ``k = upscale_factor((H, W), min_side, max_side)``; the
        input itself when ``k == 1``.
    """
    arr = np.asarray(image)
    h, w = arr.shape[:2]
    if h == 0 or w == 0:
        return arr
    return upscale_by(arr, upscale_factor((h, w), min_side, max_side))
