"""Scaling numbers into [0, 1]: the one min-max scaler every view uses.

Heatmaps, filters, saliency maps and quantised exports all scale with
:func:`unit_scale`, so a constant input has one answer everywhere (0) and non-finite
values are treated the same way everywhere (left out of the range, NaN in the result).
"""

from __future__ import annotations

import numpy as np

from ..errors import LayerNotViewableError

__all__ = ["as_maps", "finite_range", "unit_scale"]


def as_maps(maps: np.ndarray) -> np.ndarray:
    """View ``maps`` as (H, W, C): a 2-D map becomes one channel; other ranks are refused."""
    arr = np.asarray(maps)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise LayerNotViewableError(
            f"Expected activation maps of shape (H, W, C) or (H, W); got shape {arr.shape}."
        )
    return arr


def finite_range(
    x: np.ndarray, axis: int | tuple[int, ...] | None = None, keepdims: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Min and max over the finite values of ``x`` (float64).

    Parameters
    ----------
    x : numpy.ndarray
        Any shape and real dtype.
    axis : int or tuple of int, optional
        Axes to reduce; None reduces everything.
    keepdims : bool
        Keep the reduced axes with length 1 (for broadcasting back onto ``x``).

    Returns
    -------
    (lo, hi) : numpy.ndarray
        Float64. Where no value is finite, both are 0.
    """
    arr = np.asarray(x)
    with np.errstate(all="ignore"):
        lo = np.min(arr, axis=axis, keepdims=keepdims).astype(np.float64)
        hi = np.max(arr, axis=axis, keepdims=keepdims).astype(np.float64)
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            finite = np.isfinite(arr)
            lo = np.min(np.where(finite, arr, np.inf), axis=axis,
                        keepdims=keepdims).astype(np.float64)
            hi = np.max(np.where(finite, arr, -np.inf), axis=axis,
                        keepdims=keepdims).astype(np.float64)
            empty = ~np.isfinite(lo)
            lo = np.where(empty, 0.0, lo)
            hi = np.where(empty, 0.0, hi)
    return lo, hi


def unit_scale(
    x: np.ndarray,
    axis: int | tuple[int, ...] | None = None,
    *,
    lo: float | np.ndarray | None = None,
    hi: float | np.ndarray | None = None,
) -> np.ndarray:
    """Min-max scale ``x`` into [0, 1].

    Parameters
    ----------
    x : numpy.ndarray
        Any shape and real dtype.
    axis : int or tuple of int, optional
        Scale each block over these axes separately (e.g. ``(0, 1)`` per channel of
        (H, W, C) maps); None scales over the whole array.
    lo, hi : float or array, optional
        A range to use instead of the data's own (values outside it are clipped); each
        defaults to the finite min or max over ``axis``.

    Returns
    -------
    numpy.ndarray
        Float32 with the shape of ``x``, values in [0, 1]. A block with no spread
        (constant, or a single finite value) is 0; non-finite inputs are left out of the
        range and come out NaN. No numpy warning is emitted.

    Examples
    --------
    >>> unit_scale(np.array([2.0, 4.0, 6.0]))
    array([0. , 0.5, 1. ], dtype=float32)
    >>> unit_scale(np.full(3, 7.0))
    array([0., 0., 0.], dtype=float32)
    """
    arr = np.asarray(x)
    if lo is None or hi is None:
        dlo, dhi = finite_range(arr, axis=axis, keepdims=True)
        lo = dlo if lo is None else lo
        hi = dhi if hi is None else hi
    lo = np.asarray(lo, dtype=np.float64)
    span = np.asarray(hi, dtype=np.float64) - lo
    flat = ~(np.isfinite(span) & (span > 0))
    with np.errstate(all="ignore"):
        out = (arr.astype(np.float64) - lo) / np.where(flat, 1.0, span)
        out = np.where(flat & np.isfinite(arr), 0.0, out)
        out = np.clip(out, 0.0, 1.0)
    return out.astype(np.float32)
