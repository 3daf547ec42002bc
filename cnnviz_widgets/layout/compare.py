"""Two views compared: maps joined side by side with a gap, their difference, and two
rendered views placed beside each other (the shorter padded below).

Pure numpy. The gap and the padding are NaN, which the colour layer draws as background
and leaves out of every scale.
"""

from __future__ import annotations

import numpy as np

from ..colour.scale import as_maps

__all__ = ["beside", "difference", "gap_width", "join"]


def gap_width(width: int) -> int:
    """Columns of background between two compared views ``width`` wide: an eighth of the
    width, at least one."""
    return max(1, int(width) // 8)


def join(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maps (H, W, C) side by side for one scale.

    Parameters
    ----------
    left, right : numpy.ndarray
        Maps of the same shape (H, W, C), or (H, W) as one channel.

    Returns
    -------
    joined : numpy.ndarray
        (H, 2 W + gap, C): ``left``, :func:`gap_width` ``(W)`` columns of NaN, ``right``.
    both : numpy.ndarray
        (H, 2 W, C): the two without the gap, to take the scale from.
    """
    a, b = as_maps(left), as_maps(right)
    gap = np.full((a.shape[0], gap_width(a.shape[1]), a.shape[2]), np.nan, np.float32)
    return np.concatenate([a, gap, b], axis=1), np.concatenate([a, b], axis=1)


def difference(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``left - right`` in float32 (positive where the left is higher)."""
    return np.asarray(left).astype(np.float32) - np.asarray(right).astype(np.float32)


def beside(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two 2-D views side by side: the shorter padded below with NaN rows, then
    :func:`gap_width` ``(right's width)`` columns of NaN between them.

    Returns
    -------
    numpy.ndarray
        Float32 (max(h1, h2), w1 + gap + w2).
    """
    height = max(left.shape[0], right.shape[0])

    def padded(view: np.ndarray) -> np.ndarray:
        rows = np.full((height - view.shape[0], view.shape[1]), np.nan, np.float32)
        return np.concatenate([view, rows], axis=0)

    gap = np.full((height, gap_width(right.shape[1])), np.nan, np.float32)
    return np.concatenate([padded(left), gap, padded(right)], axis=1)
