"""Mosaics: the one tiling of many maps into one image, and block-mean downsampling.

:func:`mosaic` lays tiles out row by row with gaps between them and returns a
:class:`MosaicLayout` that maps any pixel of the image back to its channel and to the
position in the original map (``layout.channel_at(y, x)``, ``layout.locate(y, x)``).
Feature-map grids, filter grids, RGB filter patches and the exported page's strips are
all tiled here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import DTypeLike

from ..checks import whole_number
from ..colour.scale import as_maps
from ..errors import InvalidSettingError

__all__ = ["MosaicLayout", "downsample", "downsample_factor", "mosaic"]


def downsample(maps: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink maps by an integer factor using block means (area averaging).

    Parameters
    ----------
    maps : numpy.ndarray
        Shape (H, W, C) or (H, W).
    max_side : int
        Largest allowed height or width of the result.

    Returns
    -------
    numpy.ndarray
        Float32, shape (ceil(H/f), ceil(W/f)[, C]) with the smallest integer factor
        ``f = ceil(max(H, W) / max_side)`` (``f == 1`` returns the maps unchanged as
        float32). Each output pixel is the mean of its f x f block; blocks at the bottom
        and right edge may be partial and are averaged over the pixels they hold. NaN in a
        block makes that output pixel NaN.
    """
    whole_number(max_side, "max_side")
    arr = np.asarray(maps)
    x = arr if arr.ndim == 3 else as_maps(arr)
    h, w = x.shape[:2]
    f = downsample_factor((h, w), max_side)
    if f == 1:
        out = x.astype(np.float32, copy=False)
    else:
        out = _block_mean(x.astype(np.float32, copy=False), f)
    return out if arr.ndim == 3 else out[..., 0]


def downsample_factor(shape: tuple[int, int], max_side: int) -> int:
    """Smallest integer factor that brings ``max(shape)`` down to ``max_side`` or less."""
    return max(1, math.ceil(max(shape) / max(1, max_side)))


def _block_mean(x: np.ndarray, f: int) -> np.ndarray:
    h, w = x.shape[:2]
    hh, ww = (h // f) * f, (w // f) * f
    if hh == h and ww == w:  # the common case: an exact reshape
        c = x.shape[2]
        return x.reshape(h // f, f, w // f, f, c).mean(axis=(1, 3), dtype=np.float32)
    rows = np.add.reduceat(x, np.arange(0, h, f), axis=0)
    sums = np.add.reduceat(rows, np.arange(0, w, f), axis=1)
    rcount = np.minimum(f, h - np.arange(0, h, f)).astype(np.float32)
    ccount = np.minimum(f, w - np.arange(0, w, f)).astype(np.float32)
    return sums / (rcount[:, None, None] * ccount[None, :, None])


@dataclass(frozen=True)
class MosaicLayout:
    """Where each channel sits in a mosaic image.

    Cells are filled row by row; there are ``pad`` pixels of gap between cells (not
    around the border), so the mosaic is ``rows * tile_height + (rows - 1) * pad`` pixels
    high.

    Attributes
    ----------
    rows, columns : int
        Grid size in cells.
    tile_height, tile_width : int
        Size of one tile in mosaic pixels.
    pad : int
        Gap between tiles in pixels.
    channels : tuple of int
        The channel index shown in each cell, in cell order (length <= rows * columns).
    scale : int
        Downsampling factor: one mosaic pixel covers ``scale x scale`` pixels of the
        original map (1 when not downsampled).
    source_height, source_width : int
        Size of the original (not downsampled) maps; 0 means ``tile * scale``.
    """

    rows: int
    columns: int
    tile_height: int
    tile_width: int
    pad: int
    channels: tuple[int, ...]
    scale: int = 1
    source_height: int = 0
    source_width: int = 0

    @property
    def height(self) -> int:
        """Mosaic height in pixels."""
        return self.rows * self.tile_height + max(0, self.rows - 1) * self.pad

    @property
    def width(self) -> int:
        """Mosaic width in pixels."""
        return self.columns * self.tile_width + max(0, self.columns - 1) * self.pad

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the mosaic."""
        return self.height, self.width

    def cell_origin(self, cell: int) -> tuple[int, int]:
        """Top-left mosaic pixel (y, x) of a cell, cells counted row by row."""
        r, c = divmod(int(cell), self.columns)
        return r * (self.tile_height + self.pad), c * (self.tile_width + self.pad)

    def cell_at(self, y: float, x: float) -> int | None:
        """Cell index under mosaic pixel (y, x); None in a gap, an empty cell or outside."""
        yi, xi = math.floor(y), math.floor(x)
        if not (0 <= yi < self.height and 0 <= xi < self.width):
            return None
        r, ty = divmod(yi, self.tile_height + self.pad)
        c, tx = divmod(xi, self.tile_width + self.pad)
        if ty >= self.tile_height or tx >= self.tile_width:
            return None
        cell = r * self.columns + c
        return cell if cell < len(self.channels) else None

    def channel_at(self, y: float, x: float) -> int | None:
        """Channel index shown at mosaic pixel (y, x), or None in padding or outside.

        Parameters
        ----------
        y, x : float
            Mosaic pixel coordinates (row, column); fractions are floored, so the pixel
            ``(2, 3)`` covers ``2 <= y < 3, 3 <= x < 4``.

        Returns
        -------
        int or None
        """
        cell = self.cell_at(y, x)
        return None if cell is None else self.channels[cell]

    def locate(self, y: float, x: float) -> tuple[int, int, int] | None:
        """Map a mosaic pixel to ``(channel, row, column)`` in the original map.

        The row and column are in the coordinates of the original (not downsampled) map:
        the top-left pixel of the block the mosaic pixel stands for. None in padding.
        """
        cell = self.cell_at(y, x)
        if cell is None:
            return None
        y0, x0 = self.cell_origin(cell)
        ty, tx = math.floor(y) - y0, math.floor(x) - x0
        sy, sx = ty * self.scale, tx * self.scale
        if self.source_height:
            sy = min(sy, self.source_height - 1)
        if self.source_width:
            sx = min(sx, self.source_width - 1)
        return self.channels[cell], sy, sx


def mosaic(
    tiles: np.ndarray,
    columns: int | None = None,
    pad: int = 1,
    *,
    channels: Sequence[int] | np.ndarray | None = None,
    fill: float = np.nan,
    scale: int = 1,
    source_shape: tuple[int, int] | None = None,
    dtype: DTypeLike = np.float32,
) -> tuple[np.ndarray, MosaicLayout]:
    """Tile N maps into one 2-D image.

    Parameters
    ----------
    tiles : numpy.ndarray
        Shape (h, w, N), or (h, w) for one tile.
    columns : int, optional
        Cells per row; default ``ceil(sqrt(N))``. Capped at N.
    pad : int
        Gap in pixels between neighbouring tiles.
    channels : sequence of int, optional
        The channel index each tile stands for (recorded in the layout); default
        ``range(N)``.
    fill : float
        Value of the gaps and of empty cells; NaN by default so that a colour map can
        paint them as background.
    scale : int
        Downsampling factor of the tiles, recorded in the layout.
    source_shape : (int, int), optional
        (H, W) of the original maps, recorded in the layout.
    dtype : numpy dtype
        Type of the image (float32 by default; e.g. uint8 with an integer ``fill`` for
        quantised levels).

    Returns
    -------
    image : numpy.ndarray
        Shape ``(layout.height, layout.width)``, of type ``dtype``.
    layout : MosaicLayout
        Which channel sits where; ``layout.channel_at(y, x)`` inverts the tiling.
    """
    t = as_maps(tiles)
    h, w, n = t.shape
    if n == 0:
        raise InvalidSettingError(
            "Cannot build a mosaic of zero tiles; select at least one channel.")
    whole_number(pad, "pad", minimum=0)
    cols = math.ceil(math.sqrt(n)) if columns is None else whole_number(columns, "columns")
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    chans = tuple(range(n)) if channels is None else tuple(int(c) for c in channels)
    if len(chans) != n:
        raise InvalidSettingError(f"Got {len(chans)} channel labels for {n} tiles.")
    sh, sw = source_shape if source_shape is not None else (0, 0)
    layout = MosaicLayout(rows, cols, h, w, pad, chans, int(scale), int(sh), int(sw))
    # one strided copy into a padded (rows, h + pad, cols, w + pad) block, then crop
    block = np.full((rows, h + pad, cols, w + pad), fill, dtype=dtype)
    if n < rows * cols:
        src = np.full((h, w, rows * cols), fill, dtype=dtype)
        src[..., :n] = t
    else:
        src = t
    block[:, :h, :, :w] = src.reshape(h, w, rows, cols).transpose(2, 0, 3, 1)
    image = block.reshape(rows * (h + pad), cols * (w + pad))[:layout.height, :layout.width]
    return np.ascontiguousarray(image), layout
