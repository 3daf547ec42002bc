"""Mosaics of learned filters: kernels as rows of upscaled tiles, RGB patches.

Both are thin uses of :func:`cnnviz_widgets.layout.mosaic.mosaic` on tiles enlarged with
:func:`cnnviz_widgets.render.upscale.upscale_by`, so a 3 x 3 kernel stays crisp.
"""

from __future__ import annotations

import numpy as np

from ..layout.mosaic import MosaicLayout, mosaic
from .upscale import upscale_by

__all__ = ["filter_mosaic", "rgb_mosaic"]


def _cell_factor(tile_shape: tuple[int, ...], cell: int) -> int:
    """Integer factor that brings the longer side of a tile up to about ``cell`` pixels."""
    return max(1, int(cell) // max(1, *tile_shape[:2]))


def filter_mosaic(grid: np.ndarray, cell: int = 24, pad: int = 2, *,
                  return_layout: bool = False
                  ) -> np.ndarray | tuple[np.ndarray, MosaicLayout]:
    """Lay out normalised kernels ``grid`` (F, C, kh, kw) as F rows of C tiles.

    Parameters
    ----------
    grid : numpy.ndarray
        Values in [0, 1], e.g. from :func:`cnnviz_widgets.weights.filter_grid`.
    cell : int
        Each kernel is enlarged by the integer factor ``cell // max(kh, kw)`` (nearest
        neighbour).
    pad : int
        Gap between tiles, NaN (painted as background by the colour map).
    return_layout : bool
        Also return the :class:`MosaicLayout`, whose ``channels`` number the cells
        ``f * C + c`` row by row.

    Returns
    -------
    numpy.ndarray
        2-D float32 image with NaN in the gaps (and the layout with ``return_layout``).
    """
    g = np.asarray(grid, dtype=np.float32)
    n_filters, n_channels, kh, kw = g.shape
    if g.size == 0:
        empty = np.zeros((0, 0), np.float32)
        return (empty, MosaicLayout(0, 0, 0, 0, pad, ())) if return_layout else empty
    tiles = g.reshape(n_filters * n_channels, kh, kw).transpose(1, 2, 0)  # (kh, kw, F*C)
    image, layout = mosaic(upscale_by(tiles, _cell_factor((kh, kw), cell)), n_channels, pad)
    return (image, layout) if return_layout else image


def rgb_mosaic(patches: np.ndarray, columns: int = 8, cell: int = 32, pad: int = 2,
               background: int = 255) -> np.ndarray:
    """Lay out RGB filter patches (F, kh, kw, 3) in [0, 1] as a uint8 RGB image.

    Patches are enlarged by ``cell // max(kh, kw)`` (nearest neighbour) and tiled
    ``columns`` a row with ``pad`` pixels of ``background`` grey level between them.
    """
    p = np.asarray(patches, dtype=np.float32)
    tiles = upscale_by(p.transpose(1, 2, 0, 3), _cell_factor(p.shape[1:3], cell))
    planes = [mosaic(tiles[..., k], columns, pad)[0] for k in range(3)]  # NaN gaps
    rgb = np.stack(planes, axis=-1)
    with np.errstate(invalid="ignore"):
        out = np.clip(rgb * 255.0 + 0.5, 0, 255)
    return np.where(np.isnan(out), background, out).astype(np.uint8)
