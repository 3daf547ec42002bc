"""Mosaics of learned filters: kernels as rows of upscaled tiles, RGB patches."""

from __future__ import annotations

import numpy as np

__all__ = ["filter_mosaic", "rgb_mosaic"]


def _upscale(tile: np.ndarray, cell: int) -> np.ndarray:
    factor = max(1, cell // max(tile.shape[:2]))
    return np.repeat(np.repeat(tile, factor, axis=0), factor, axis=1)


def filter_mosaic(grid: np.ndarray, cell: int = 24, pad: int = 2) -> np.ndarray:
    """Lay out normalised kernels ``grid`` (F, C, kh, kw) as F rows of C tiles.

    Returns a 2-D float32 array with NaN in the gaps; each kernel is upscaled by
    nearest neighbour so a 3 x 3 kernel stays crisp.
    """
    grid = np.asarray(grid, dtype=np.float32)
    n_filters, n_channels = grid.shape[:2]
    sample = _upscale(grid[0, 0], cell) if grid.size else np.zeros((cell, cell), np.float32)
    th, tw = sample.shape
    out = np.full((n_filters * (th + pad) + pad, n_channels * (tw + pad) + pad), np.nan,
                  np.float32)
    for f in range(n_filters):
        for c in range(n_channels):
            y, x = pad + f * (th + pad), pad + c * (tw + pad)
            out[y:y + th, x:x + tw] = _upscale(grid[f, c], cell)
    return out


def rgb_mosaic(patches: np.ndarray, columns: int = 8, cell: int = 32, pad: int = 2,
               background: int = 255) -> np.ndarray:
    """Lay out RGB filter patches (F, kh, kw, 3) in [0, 1] as a uint8 RGB image."""
    patches = np.asarray(patches, dtype=np.float32)
    n = patches.shape[0]
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    sample = _upscale(patches[0], cell)
    th, tw = sample.shape[:2]
    out = np.full((rows * (th + pad) + pad, columns * (tw + pad) + pad, 3), background,
                  np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        y, x = pad + r * (th + pad), pad + c * (tw + pad)
        out[y:y + th, x:x + tw] = np.clip(_upscale(patches[i], cell) * 255 + 0.5, 0, 255)
    return out
