"""Activation maps as coloured mosaics: the numbers, where channels sit, and the bytes.

The pipeline of :func:`render_grid` is built for speed: normalisation statistics are
taken once at full resolution, the selected channels are block-mean downsampled so the
mosaic fits ``max_side``, then normalised, tiled, coloured through a lookup table and
encoded (PNG at a low compression level when it fits the byte budget, JPEG otherwise).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from .._deprecation import renamed_property
from ..checks import index_in, indices_in
from ..colour.colormaps import apply_colormap
from ..colour.normalize import (
    NormStats,
    apply_normalization,
    default_colormap,
    normalization_stats,
)
from ..colour.scale import as_maps
from ..errors import InvalidSettingError
from ..layout.mosaic import MosaicLayout, downsample, downsample_factor, mosaic
from .encode import encode
from .upscale import upscale_by, upscale_factor

__all__ = ["RenderMemo", "RenderedView", "render_channel", "render_grid", "render_selection",
           "render_strip"]
T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class RenderedView:
    """One rendered view of a layer: the numbers, where channels sit, and the bytes.

    Attributes
    ----------
    view : numpy.ndarray
        Float32 (H, W) normalised mosaic in [0, 1], NaN in the gaps; for a single
        channel, the normalised map at its own resolution (not upscaled).
    layout : MosaicLayout
        Which channel sits where in ``view``; ``layout.channel_at(y, x)``.
    rgb : numpy.ndarray
        uint8 (h, w, 3) image that was encoded; ``h, w`` are multiples of the view's
        shape when it was upscaled (``rgb.shape[0] == view.shape[0] * upscale``).
    data : bytes
        The encoded image; empty when it was rendered for a viewer that colours the maps
        itself (``encode_picture=False``): :meth:`encoded` encodes it then.
    format : str
        ``"png"`` or ``"jpeg"`` (usable as ``ipywidgets.Image.format``); empty with
        ``data``.
    normalization : str
        The normalisation used.
    colormap : str
        The colour map used.
    tiles : numpy.ndarray or None
        Float32 (h, w, N) activation values of the shown channels at the view's
        resolution (block means when downsampled), in layout order: what a hover
        read-out shows (see :meth:`value_at`).
    upscale : int
        Nearest-neighbour factor from ``view`` pixels to ``rgb`` pixels (along x when
        ``upscale_rows`` differs).
    stats : NormStats or None
        The normalisation statistics of the shown channels, in layout order (one entry
        per cell): the scale the picture was drawn with.
        ``stats.value_range()`` gives the activation values at both ends of the colours.
    upscale_rows : int
        The factor along y when it differs from ``upscale`` (a heat strip's rows are
        taller than its time steps are wide); 0: the same as ``upscale``.
    display_scale : int
        Nearest-neighbour factor a viewer applies to ``rgb`` when it shows it (1: shown
        as encoded). A browser canvas scales the picture with CSS
        (``image-rendering: pixelated``), so fewer pixels are encoded, sent and decoded;
        a static copy is upscaled by :meth:`display_rgb`.
    """

    view: np.ndarray
    layout: MosaicLayout
    rgb: np.ndarray
    data: bytes
    format: str
    normalization: str = "channel"
    colormap: str = "viridis"
    tiles: np.ndarray | None = field(default=None, repr=False)
    upscale: int = 1
    stats: NormStats | None = field(default=None, repr=False)
    upscale_rows: int = 0
    display_scale: int = 1

    mode = renamed_property("normalization")
    cmap = renamed_property("colormap")

    @property
    def aspect(self) -> float:
        """Width over height of the picture as drawn (``rgb``), for a figure's shape."""
        return float(self.rgb.shape[1]) / max(1.0, float(self.rgb.shape[0]))

    def encoded(self) -> tuple[bytes, str]:
        """(bytes, format) of ``rgb``: :attr:`data`, or a new encoding when it is empty."""
        if self.data:
            return self.data, self.format
        return encode(self.rgb)

    def display_rgb(self) -> np.ndarray:
        """``rgb`` at the size it is shown: upscaled by :attr:`display_scale`."""
        return upscale_by(self.rgb, self.display_scale)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of ``view`` (the coordinate system of clicks and hovers)."""
        return int(self.view.shape[0]), int(self.view.shape[1])

    def value_at(self, y: float, x: float) -> dict | None:
        """Describe the view pixel (y, x): channel, position in the map, values.

        Returns
        -------
        dict or None
            ``{"channel", "row", "col", "value", "normalized"}`` where row/col are in
            the original map's coordinates and ``value`` is the activation (block mean
            when downsampled); None in padding or outside the view.
        """
        hit = self.layout.locate(y, x)
        if hit is None:
            return None
        channel, row, col = hit
        yi, xi = math.floor(y), math.floor(x)
        value = float("nan")
        if self.tiles is not None:
            cell = self.layout.cell_at(y, x)
            y0, x0 = self.layout.cell_origin(cell)
            value = float(self.tiles[yi - y0, xi - x0, cell])
        return {"channel": channel, "row": row, "col": col, "value": value,
                "normalized": float(self.view[yi, xi])}


class RenderMemo:
    """What :func:`render_grid` computed for the last few sources, kept for later calls.

    A panel that redraws a layer of an image (another colour map, another normalisation,
    back to an earlier layer or image) passes one memo, bound to the activation it draws
    (:meth:`bind`), to every call: per source, the statistics of each normalisation, the
    block-mean tiles of the channels shown and the last normalised mosaic are computed
    once, so a colour-map change only recolours and encodes. It keeps the ``sources``
    most recently bound sources (and holds on to them).

    Parameters
    ----------
    sources : int
        How many sources to remember.
    """

    def __init__(self, sources: int = 4) -> None:
        self._limit = max(1, int(sources))
        self._memos: OrderedDict[tuple, tuple[np.ndarray, dict]] = OrderedDict()
        self._entries: dict[str, tuple[object, object]] = {}

    def bind(self, source: np.ndarray) -> RenderMemo:
        """Use the memo for ``source``: an array, known again when it is a view of the same
        memory with the same shape, strides and type (the memo holds the array, so that
        memory cannot be reused by another while it is remembered). Returns the memo."""
        arr = np.asarray(source)
        key = (arr.__array_interface__["data"][0], arr.shape, arr.strides, arr.dtype.str)
        if key in self._memos:
            self._memos.move_to_end(key)
        else:
            self._memos[key] = (arr, {})
            while len(self._memos) > self._limit:
                self._memos.popitem(last=False)
        self._entries = self._memos[key][1]
        return self

    def get(self, slot: str, key: object, make: Callable[[], T]) -> T:
        """The value of ``slot`` made for ``key``; made now (replacing the slot's old
        value) when the slot holds another key."""
        entry = self._entries.get(slot)
        if entry is not None and entry[0] == key:
            return entry[1]  # type: ignore[return-value]
        value = make()
        for part in value if isinstance(value, tuple) else (value,):
            if isinstance(part, np.ndarray):
                part.setflags(write=False)  # shared by every view drawn from it
        self._entries[slot] = (key, value)
        return value


def _made(memo: RenderMemo | None, slot: str, key: object, make: Callable[[], T]) -> T:
    return make() if memo is None else memo.get(slot, key, make)


def render_grid(
    maps: np.ndarray,
    channels: Sequence[int] | np.ndarray | None = None,
    normalization: str = "channel",
    colormap: str | None = None,
    max_side: int = 1024,
    columns: int | None = None,
    *,
    pad: int = 1,
    background: tuple[int, int, int] = (255, 255, 255),
    max_bytes: int = 400_000,
    min_side: int = 0,
    stats_from: np.ndarray | None = None,
    memo: RenderMemo | None = None,
    scale_in_viewer: bool = False,
    encode_picture: bool = True,
) -> RenderedView:
    """Render several channels of a layer as one coloured mosaic.

    Parameters
    ----------
    maps : numpy.ndarray
        Activations (H, W, C) of one image (or (H, W)).
    channels : sequence of int, optional
        Channels to show, in display order (e.g. a page of
        :func:`~cnnviz_widgets.layout.order.order_channels`); default all.
    normalization : str
        See :func:`~cnnviz_widgets.colour.normalize.normalize`. Its statistics are
        computed at full resolution; for ``"layer"`` and ``"signed"`` over every channel
        of ``maps``, so a page stays comparable with the rest of the layer.
    colormap : str, optional
        Colour map name; default :func:`default_colormap` of ``normalization``.
    max_side : int
        The mosaic's height and width stay within this many pixels: tiles are block-mean
        downsampled by the smallest integer factor that fits.
    columns : int, optional
        Tiles per row; default ``ceil(sqrt(N))``.
    pad : int
        Gap between tiles, in pixels, painted ``background``.
    background : (int, int, int)
        RGB of the gaps.
    max_bytes : int
        Byte budget of the encoded image (see :func:`~cnnviz_widgets.render.encode.encode`).
    min_side : int
        Upscale a small mosaic by an integer nearest-neighbour factor until its shorter
        side reaches this many pixels (0: never), so a grid of 7 x 7 maps stays readable.
    stats_from : numpy.ndarray, optional
        Take the normalisation statistics from these maps (the same channels) instead:
        e.g. two images' maps without the gap drawn between them, which gives the same
        scale faster than reading past the gap's missing values.
    memo : RenderMemo, optional
        Bound to ``maps`` by the caller: reuse what earlier calls on the same maps
        computed (statistics, tiles, the normalised mosaic). Not used with
        ``stats_from``.
    scale_in_viewer : bool
        Encode the mosaic at its own size and leave the ``min_side`` upscaling to the
        viewer (:attr:`RenderedView.display_scale`) instead of encoding it upscaled.
    encode_picture : bool
        False leaves ``data`` empty, for a viewer that colours the maps itself
        (:mod:`cnnviz_widgets.render.codes`); :meth:`RenderedView.encoded` encodes later.

    Returns
    -------
    RenderedView
    """
    x = as_maps(maps)
    idx = _channel_indices(x, channels)
    mode = normalization
    cmap = colormap or default_colormap(mode)
    n = idx.size
    memo = memo if stats_from is None else None
    shown = idx.tobytes()
    selected, stats, gather_late = _selected_and_stats(
        x, idx, mode, stats_from,
        stats=lambda make: _made(memo, f"stats {mode}", shown, make))
    cols = min(n, math.ceil(math.sqrt(n)) if columns is None else max(1, int(columns)))
    rows = math.ceil(n / cols)
    h, w = x.shape[:2]
    # largest tile side such that the mosaic fits max_side both ways
    fit = min((max_side - (cols - 1) * pad) // cols, (max_side - (rows - 1) * pad) // rows)
    factor = downsample_factor((h, w), max(1, fit))

    def tiles() -> np.ndarray:
        small = downsample(selected(), max(1, math.ceil(max(h, w) / factor)))
        return small[..., idx] if gather_late else small

    small = _made(memo, "tiles", (shown, factor), tiles)
    view, layout = _made(memo, "mosaic", (shown, factor, mode, cols, pad), lambda: mosaic(
        apply_normalization(small, stats), cols, pad, channels=idx.tolist(), scale=factor,
        source_shape=(h, w)))
    rgb = apply_colormap(view, cmap, background)
    factor = upscale_factor(view.shape, min_side, max_side) if min_side else 1
    factor, shown = (1, factor) if scale_in_viewer else (factor, 1)
    rgb = upscale_by(rgb, factor)
    data, fmt = encode(rgb, max_bytes) if encode_picture else (b"", "")
    return RenderedView(view, layout, rgb, data, fmt, mode, cmap, small, factor, stats,
                        display_scale=shown)


def _channel_indices(x: np.ndarray, channels: Sequence[int] | np.ndarray | None) -> np.ndarray:
    """The channels to show as non-negative indices (all by default), checked."""
    n_all = x.shape[2]
    idx = (np.arange(n_all, dtype=np.intp) if channels is None
           else indices_in(channels, n_all, from_end=True).astype(np.intp))
    if idx.size == 0:
        raise InvalidSettingError("No channel to render; give at least one channel index.")
    return idx % n_all


def _selected_and_stats(
    x: np.ndarray, idx: np.ndarray, mode: str, stats_from: np.ndarray | None,
    stats: Callable[[Callable[[], NormStats]], NormStats] | None = None,
) -> tuple[Callable[[], np.ndarray], NormStats, bool]:
    """(a function giving the maps to draw, their statistics in ``idx`` order, gather
    after downsampling).

    Shared modes take their scale over the whole layer, per-channel modes over the shown
    channels; statistics are always taken at full resolution. ``stats(make)`` may return
    statistics made earlier instead of calling ``make()``.
    """
    n, n_all = idx.size, x.shape[2]
    identity = n == n_all and np.array_equal(idx, np.arange(n_all))
    # when most channels are shown in another order, gather them after downsampling:
    # a gather along the channel axis of a full-size layer costs more than the rest
    gather_late = not identity and 2 * n >= n_all
    source = x if stats_from is None else as_maps(stats_from)

    def make() -> NormStats:
        if mode in ("layer", "signed"):
            return normalization_stats(source, mode, idx)
        if gather_late:
            return normalization_stats(source, mode).take(idx)
        return normalization_stats(source if identity else source[..., idx], mode)

    def selected() -> np.ndarray:
        return x if identity or gather_late else x[..., idx]

    return selected, make() if stats is None else stats(make), gather_late


def render_strip(
    maps: np.ndarray,
    channels: Sequence[int] | np.ndarray | None = None,
    normalization: str = "channel",
    colormap: str | None = None,
    *,
    max_width: int = 1024,
    width: int = 512,
    height: int = 256,
    background: tuple[int, int, int] = (255, 255, 255),
    max_bytes: int = 400_000,
    stats_from: np.ndarray | None = None,
) -> RenderedView:
    """Render a sequence as a heat strip: one row per channel, time (or tokens) along x.

    The strip is the mosaic of the channels' maps of height 1 in one column without
    gaps, so ``view[i]`` is channel ``channels[i]`` normalised exactly as a map would be
    (the same four normalisations, statistics over the layer for ``"layer"`` and
    ``"signed"``).

    Parameters
    ----------
    maps : numpy.ndarray
        A sequence (T, C), or maps of height 1 (1, T, C)
        (:func:`~cnnviz_widgets.layout.tokens.sequence_maps`).
    channels : sequence of int, optional
        Channels to show, top to bottom; default all.
    normalization, colormap
        As for :func:`render_grid`.
    max_width : int
        Longer sequences are block-mean downsampled along x to fit this many view pixels.
    width, height : int
        The encoded image is nearest-neighbour upscaled, separately along each axis, until
        it is about this wide and this high (rows stay 4 to 32 pixels high).
    background : (int, int, int)
        RGB of non-finite values.
    max_bytes : int
        Byte budget of the encoded image.
    stats_from : numpy.ndarray, optional
        Take the normalisation statistics from these (same channels) instead, as for
        :func:`render_grid`.

    Returns
    -------
    RenderedView
        ``view`` is (len(channels), T'), ``layout`` one column of cells one pixel high
        (``layout.locate(y, x)`` gives ``(channel, 0, t)``); ``rgb`` is upscaled by
        ``upscale_rows`` along y and ``upscale`` along x, with the last picture row of
        every channel but the last painted ``background`` to part the channels.
    """
    arr = np.asarray(maps)
    x = arr[None, ...] if arr.ndim == 2 else as_maps(arr)
    if x.shape[0] != 1:
        raise InvalidSettingError(
            f"A heat strip shows a sequence (T, C) or maps of height 1; got shape {arr.shape}.")
    stats_src = None if stats_from is None else np.asarray(stats_from)
    if stats_src is not None and stats_src.ndim == 2:
        stats_src = stats_src[None, ...]
    idx = _channel_indices(x, channels)
    mode = normalization
    cmap = colormap or default_colormap(mode)
    selected, stats, gather_late = _selected_and_stats(x, idx, mode, stats_src)
    t = x.shape[1]
    factor = downsample_factor((1, t), max(1, max_width))
    small = downsample(selected(), max(1, math.ceil(t / factor)))
    if gather_late:
        small = small[..., idx]
    norm = apply_normalization(small, stats)
    view, layout = mosaic(norm, 1, 0, channels=idx.tolist(), scale=factor, source_shape=(1, t))
    rgb = apply_colormap(view, cmap, background)
    rows, cols = view.shape
    kx = max(1, min(width // max(cols, 1), 2048 // max(cols, 1)))
    ky = max(4, min(32, height // max(rows, 1)))
    rgb = np.ascontiguousarray(np.repeat(np.repeat(rgb, ky, axis=0), kx, axis=1))
    if rows > 1:  # a line of background between channels (the view has no gaps)
        rgb[ky - 1:-1:ky] = np.asarray(background, np.uint8)
    data, fmt = encode(rgb, max_bytes)
    return RenderedView(view, layout, rgb, data, fmt, mode, cmap, small, kx, stats, ky)


def render_channel(
    maps: np.ndarray,
    channel: int,
    normalization: str = "channel",
    colormap: str | None = None,
    min_side: int = 224,
    *,
    max_side: int = 2048,
    background: tuple[int, int, int] = (255, 255, 255),
    max_bytes: int = 400_000,
    stats_from: np.ndarray | None = None,
    scale_in_viewer: bool = False,
    encode_picture: bool = True,
) -> RenderedView:
    """Render one channel at full resolution, upscaled crisply for display.

    Parameters
    ----------
    maps : numpy.ndarray
        Activations (H, W, C) of one image (or (H, W)).
    channel : int
        The channel to show.
    normalization : str
        For ``"layer"`` and ``"signed"`` the statistics are taken over the whole layer, so
        the channel keeps the colours it has in the grid.
    colormap : str, optional
        Colour map name; default :func:`default_colormap` of ``normalization``.
    min_side : int
        The encoded image is nearest-neighbour upscaled by an integer factor until its
        shorter side is at least this (``view`` keeps the map's own resolution).
    max_side : int
        Cap on the upscaled image's longer side.
    background : (int, int, int)
        RGB of non-finite pixels.
    max_bytes : int
        Byte budget of the encoded image (see :func:`~cnnviz_widgets.render.encode.encode`).
    stats_from : numpy.ndarray, optional
        Take the normalisation statistics from these maps (same channels) instead, as
        for :func:`render_grid`.
    scale_in_viewer, encode_picture : bool
        As for :func:`render_grid`.

    Returns
    -------
    RenderedView
        Its layout is a single cell holding ``channel``.
    """
    x = as_maps(maps)
    n_all = x.shape[2]
    c = index_in(channel, n_all, from_end=True) % n_all
    mode = normalization
    cmap = colormap or default_colormap(mode)
    stats = normalization_stats(x if stats_from is None else as_maps(stats_from), mode, [c])
    raw = x[..., c].astype(np.float32)
    view = apply_normalization(raw, stats)
    h, w = view.shape
    layout = MosaicLayout(1, 1, h, w, 0, (c,), 1, h, w)
    small_rgb = apply_colormap(view, cmap, background)
    k = upscale_factor((h, w), min_side, max_side)
    k, shown = (1, k) if scale_in_viewer else (k, 1)
    rgb = np.ascontiguousarray(upscale_by(small_rgb, k))
    data, fmt = encode(rgb, max_bytes) if encode_picture else (b"", "")
    return RenderedView(view, layout, rgb, data, fmt, mode, cmap, raw[..., None], k, stats,
                        display_scale=shown)


def render_selection(
    maps: np.ndarray,
    channel: int | None,
    channels: Sequence[int] | np.ndarray | None,
    normalization: str = "channel",
    colormap: str | None = None,
    *,
    stats_from: np.ndarray | None = None,
    strip: bool = False,
    memo: RenderMemo | None = None,
    scale_in_viewer: bool = False,
    encode_picture: bool = True,
) -> RenderedView:
    """What a panel shows of ``maps`` for its selection: ``channel`` alone, or else the grid
    of ``channels`` (:func:`render_channel`, :func:`render_grid` with ``min_side=448``); a
    heat strip of those rows when ``strip`` (maps of height 1, :func:`render_strip`).

    ``channels`` is only read when ``channel`` is None; ``memo`` (bound to ``maps``)
    serves the grid (see :class:`RenderMemo`); ``scale_in_viewer`` leaves the upscaling of
    the channel or grid to the viewer (:attr:`RenderedView.display_scale`);
    ``encode_picture=False`` leaves it unencoded (a heat strip is always encoded).
    """
    if strip:
        shown = [channel] if channel is not None else channels
        return render_strip(maps, shown, normalization, colormap, stats_from=stats_from)
    if channel is not None:
        return render_channel(maps, channel, normalization, colormap, stats_from=stats_from,
                              scale_in_viewer=scale_in_viewer, encode_picture=encode_picture)
    return render_grid(maps, channels, normalization, colormap, min_side=448,
                       stats_from=stats_from, memo=memo, scale_in_viewer=scale_in_viewer,
                       encode_picture=encode_picture)
