"""A rendered view as codes that a browser colours itself.

Each tile's values are quantised once to 255 levels of the tile's own range (a *code*, one
byte per pixel; 255 marks the gaps and non-finite values). A normalisation and a colour map
then reach the browser as a few numbers: per tile, the affine map from a code to the
normalised value, and the colour map's 256-entry lookup table
(:func:`~cnnviz_widgets.colour.colormaps.palette`, the table ``apply_colormap`` uses). A
change of either sends those numbers, not a new picture. :func:`colour_codes` is the same
colouring in numpy: the browser's reference.

The colours match :func:`~cnnviz_widgets.render.maps.render_grid` to within one of the
colour map's 256 steps: a value is rounded to its tile's 255 levels before it is normalised.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..colour.normalize import NormStats
from ..errors import InvalidSettingError
from ..layout.mosaic import MosaicLayout, mosaic
from .maps import RenderedView

__all__ = ["GAP_CODE", "TileCodes", "code_coefficients", "codable", "colour_codes",
           "tile_codes"]

#: The code of a gap between tiles, an empty cell or a non-finite value.
GAP_CODE = 255
_TOP = GAP_CODE - 1  # codes 0..254 span a tile's range


@dataclass(frozen=True, eq=False)
class TileCodes:
    """A mosaic's values as one byte per pixel.

    Attributes
    ----------
    codes : numpy.ndarray
        uint8 (H, W), laid out as the view: ``low[t] + code * step[t]`` is the value of a
        pixel of tile ``t``; :data:`GAP_CODE` in the gaps.
    tile_rows, tile_cols : numpy.ndarray
        int16 (H,) and (W,): the tile row of each picture row and the tile column of each
        picture column, -1 in a gap. Tile ``t`` is at ``(t // columns, t % columns)``.
    columns : int
        Tiles per row.
    low, step : numpy.ndarray
        float64 (N,), one per tile in layout order.
    """

    codes: np.ndarray
    tile_rows: np.ndarray
    tile_cols: np.ndarray
    columns: int
    low: np.ndarray = field(repr=False)
    step: np.ndarray = field(repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the picture, in view pixels."""
        return int(self.codes.shape[0]), int(self.codes.shape[1])


def codable(rendered: RenderedView) -> bool:
    """Whether ``rendered`` can be sent as codes: a grid or a single map with its tiles and
    statistics, drawn one picture pixel per view pixel (a heat strip's stretched rows are
    not)."""
    return (rendered.tiles is not None and rendered.stats is not None
            and rendered.upscale == 1 and rendered.upscale_rows in (0, 1)
            and rendered.tiles.ndim == 3
            and rendered.tiles.shape[2] == len(rendered.layout.channels))


def tile_codes(tiles: np.ndarray, layout: MosaicLayout) -> TileCodes:
    """Quantise each tile to 255 levels of its own finite range and lay the codes out.

    Parameters
    ----------
    tiles : numpy.ndarray
        (h, w, N) values in layout order (:attr:`RenderedView.tiles`).
    layout : MosaicLayout
        Where the tiles sit (:attr:`RenderedView.layout`).

    Returns
    -------
    TileCodes

    Raises
    ------
    InvalidSettingError
        When the tiles do not match the layout.
    """
    x = np.asarray(tiles, dtype=np.float32)
    n = len(layout.channels)
    if x.ndim != 3 or x.shape[2] != n or x.shape[:2] != (layout.tile_height, layout.tile_width):
        raise InvalidSettingError(
            f"The tiles have shape {x.shape}, but the layout holds {n} tiles of "
            f"{layout.tile_height} x {layout.tile_width}.")
    finite = np.isfinite(x)
    all_finite = bool(finite.all())
    with np.errstate(all="ignore"):
        if all_finite:
            low, high = x.min(axis=(0, 1)), x.max(axis=(0, 1))
        else:
            low = np.where(finite, x, np.inf).min(axis=(0, 1))
            high = np.where(finite, x, -np.inf).max(axis=(0, 1))
        empty = ~np.isfinite(low)
        low = np.where(empty, 0.0, low).astype(np.float64)
        step = np.where(empty, 0.0, (high.astype(np.float64) - low) / _TOP)
        scale = np.where(step > 0, 1.0 / np.where(step > 0, step, 1.0), 0.0).astype(np.float32)
        q = (x - low.astype(np.float32)) * scale
        np.clip(q, 0, _TOP, out=q)
        q = np.rint(q)
        if not all_finite:
            q[~finite] = GAP_CODE
    codes, laid = mosaic(q.astype(np.uint8), layout.columns, layout.pad,
                         channels=list(layout.channels), fill=GAP_CODE, dtype=np.uint8)
    cell_h, cell_w = layout.tile_height + layout.pad, layout.tile_width + layout.pad
    rows = np.arange(codes.shape[0])
    cols = np.arange(codes.shape[1])
    tile_rows = np.where(rows % cell_h < layout.tile_height, rows // cell_h, -1)
    tile_cols = np.where(cols % cell_w < layout.tile_width, cols // cell_w, -1)
    return TileCodes(np.ascontiguousarray(codes), tile_rows.astype(np.int16),
                     tile_cols.astype(np.int16), laid.columns, low, step)


def code_coefficients(codes: TileCodes, stats: NormStats) -> np.ndarray:
    """Per tile, ``(a, b)`` with ``normalised = clip(a * code + b, 0, 1)``.

    Parameters
    ----------
    codes : TileCodes
    stats : NormStats
        The normalisation of the shown tiles, in layout order (:attr:`RenderedView.stats`).

    Returns
    -------
    numpy.ndarray
        float32 (2, N): the slopes, then the intercepts.
    """
    n = codes.low.size
    if stats.offset.size != n:
        raise InvalidSettingError(
            f"The statistics describe {stats.offset.size} channel(s) but {n} tiles are shown.")
    with np.errstate(all="ignore"):
        per_value = stats.gain.astype(np.float64) / stats.spread.astype(np.float64)
        slope = codes.step * per_value
        intercept = (codes.low - stats.offset) * per_value + stats.base
    return np.stack([slope, intercept]).astype(np.float32)


def colour_codes(codes: TileCodes, coefficients: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Colour ``codes`` as the browser does: uint8 (H, W, 3).

    Parameters
    ----------
    codes : TileCodes
    coefficients : numpy.ndarray
        From :func:`code_coefficients`.
    colours : numpy.ndarray
        From :func:`~cnnviz_widgets.colour.colormaps.palette`.
    """
    a, b = (np.asarray(c, np.float32) for c in coefficients)
    n = a.size
    with np.errstate(all="ignore"):
        norm = np.clip(a[:, None] * np.arange(GAP_CODE, dtype=np.float32) + b[:, None], 0, 1)
        index = np.floor(norm * 256.0)
        index = np.where(np.isnan(index), 256, np.minimum(index, 255)).astype(np.int16)
    table = np.concatenate([index, np.full((n, 1), 256, np.int16)], axis=1)  # (N, 256)
    tr, tc = codes.tile_rows[:, None].astype(np.intp), codes.tile_cols[None, :].astype(np.intp)
    tile = np.where((tr >= 0) & (tc >= 0), tr * codes.columns + tc, 0)
    tile = np.minimum(tile, n - 1)
    picked = table[tile, codes.codes]
    picked[codes.codes == GAP_CODE] = 256
    return np.asarray(colours, np.uint8)[picked]
