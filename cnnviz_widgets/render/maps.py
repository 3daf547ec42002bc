"""Turn activation maps into small, fast image bytes.

The pipeline of :func:`render_grid` is built for speed: normalisation statistics are
taken once at full resolution, the selected channels are block-mean downsampled so the
mosaic fits ``max_side``, then normalised, tiled, coloured through a lookup table and
encoded (PNG at a low compression level when it fits the byte budget, JPEG otherwise).
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..colour.colormaps import apply_colormap
from ..colour.normalize import apply_normalization, default_colormap, normalization_stats
from ..colour.tiling import MosaicLayout, as_maps, downsample, downsample_factor, mosaic

__all__ = [
    "RenderedView",
    "encode",
    "encode_jpeg",
    "encode_png",
    "render_channel",
    "render_grid",
    "upscale_nearest",
]

_JPEG_QUALITIES = (85, 70, 55, 40, 25, 10)


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
        The encoded image.
    format : str
        ``"png"`` or ``"jpeg"`` (usable as ``ipywidgets.Image.format``).
    mode : str
        The normalisation used.
    cmap : str
        The colour map used.
    tiles : numpy.ndarray or None
        Float32 (h, w, N) activation values of the shown channels at the view's
        resolution (block means when downsampled), in layout order: what a hover
        read-out shows (see :meth:`value_at`).
    upscale : int
        Nearest-neighbour factor from ``view`` pixels to ``rgb`` pixels.
    """

    view: np.ndarray
    layout: MosaicLayout
    rgb: np.ndarray
    data: bytes
    format: str
    mode: str = "channel"
    cmap: str = "viridis"
    tiles: np.ndarray | None = field(default=None, repr=False)
    upscale: int = 1

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


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"Expected a uint8 RGB image of shape (H, W, 3); got {arr.dtype} "
                         f"{arr.shape}.")
    return np.ascontiguousarray(arr)


def _pil(rgb: np.ndarray):
    from PIL import Image

    return Image.fromarray(_check_rgb(rgb))


def encode_png(rgb: np.ndarray, compress_level: int = 1) -> bytes:
    """Encode an RGB image as PNG.

    Parameters
    ----------
    rgb : numpy.ndarray
        uint8, shape (H, W, 3).
    compress_level : int
        zlib level 0-9; the default 1 is several times faster than PIL's default 6 for
        a few percent more bytes.

    Returns
    -------
    bytes
    """
    buf = io.BytesIO()
    _pil(rgb).save(buf, format="PNG", compress_level=int(compress_level))
    return buf.getvalue()


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """Encode an RGB image as baseline JPEG at ``quality`` (1-95)."""
    buf = io.BytesIO()
    _pil(rgb).save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


def _png_estimate(arr: np.ndarray) -> float:
    """Cheap guess of the PNG size: zlib level 1 on every 16th row, scaled up."""
    sample = arr[::16]
    return len(zlib.compress(sample.tobytes(), 1)) * arr.shape[0] / sample.shape[0]


def encode(
    rgb: np.ndarray,
    max_bytes: int = 400_000,
    *,
    prefer: str = "png",
    png_max_pixels: int = 300_000,
) -> tuple[bytes, str]:
    """Encode an RGB image within a byte budget, quickly.

    PNG (lossless, compress level 1) is used when the image has at most
    ``png_max_pixels`` pixels (larger PNGs take tens of milliseconds to encode) and it
    fits ``max_bytes``; a zlib estimate on every 16th row skips the PNG attempt when it
    clearly will not fit. Otherwise JPEG is used at the highest quality of
    85, 70, 55, 40, 25, 10 that fits.

    Parameters
    ----------
    rgb : numpy.ndarray
        uint8, shape (H, W, 3).
    max_bytes : int
        Byte budget. Best effort: when even JPEG quality 10 does not fit, that smallest
        encoding is returned anyway (reduce the image size to do better).
    prefer : {"png", "jpeg"}
        ``"jpeg"`` skips PNG altogether.
    png_max_pixels : int
        Largest image (H * W) for which PNG is tried.

    Returns
    -------
    (bytes, str)
        The encoded image and its format, ``"png"`` or ``"jpeg"``.
    """
    if prefer not in ("png", "jpeg"):
        raise ValueError(f"prefer must be 'png' or 'jpeg'; got {prefer!r}.")
    arr = _check_rgb(rgb)
    h, w = arr.shape[:2]
    if prefer == "png" and h * w <= png_max_pixels:
        sure = arr.nbytes + h + 1024 <= max_bytes  # even incompressible data fits
        if sure or _png_estimate(arr) <= 1.1 * max_bytes:
            data = encode_png(arr)
            if len(data) <= max_bytes:
                return data, "png"
    best = b""
    for quality in _JPEG_QUALITIES:
        best = encode_jpeg(arr, quality)
        if len(best) <= max_bytes:
            break
    return best, "jpeg"


def upscale_nearest(rgb: np.ndarray, min_side: int = 224, max_side: int = 2048) -> np.ndarray:
    """Enlarge an image by an integer nearest-neighbour factor so small maps stay crisp.

    Parameters
    ----------
    rgb : numpy.ndarray
        Shape (H, W) or (H, W, C).
    min_side : int
        The shorter side of the result is at least this (e.g. a 7x7 map becomes 224x224
        with factor 32).
    max_side : int
        The factor is capped so the longer side does not exceed this (factor >= 1).

    Returns
    -------
    numpy.ndarray
        Shape (H*k, W*k[, C]) with ``k = ceil(min_side / min(H, W))`` (capped); the input
        itself when ``k == 1``.
    """
    arr = np.asarray(rgb)
    h, w = arr.shape[:2]
    if h == 0 or w == 0:
        return arr
    k = upscale_factor((h, w), min_side, max_side)
    if k == 1:
        return arr
    rest = arr.shape[2:]
    big = np.broadcast_to(arr[:, None, :, None], (h, k, w, k, *rest))
    return big.reshape(h * k, w * k, *rest)


def upscale_factor(shape: tuple[int, int], min_side: int, max_side: int = 2048) -> int:
    """The integer factor :func:`upscale_nearest` uses for an image of ``shape``."""
    h, w = shape
    k = max(1, math.ceil(min_side / max(1, min(h, w))))
    return max(1, min(k, max_side // max(1, max(h, w))))



def render_grid(
    maps: np.ndarray,
    channels: Sequence[int] | np.ndarray | None = None,
    mode: str = "channel",
    cmap: str | None = None,
    max_side: int = 1024,
    columns: int | None = None,
    *,
    pad: int = 1,
    background: tuple[int, int, int] = (255, 255, 255),
    max_bytes: int = 400_000,
    min_side: int = 0,
) -> RenderedView:
    """Render several channels of a layer as one coloured mosaic.

    Parameters
    ----------
    maps : numpy.ndarray
        Activations (H, W, C) of one image (or (H, W)).
    channels : sequence of int, optional
        Channels to show, in display order (e.g. a page of :func:`order_channels`);
        default all.
    mode : str
        Normalisation (see :func:`~cnnviz_widgets.colour.normalize.normalize`). Its
        statistics are computed at full resolution; for ``"layer"`` and ``"signed"`` over
        every channel of ``maps``, so a page stays comparable with the rest of the layer.
    cmap : str, optional
        Colour map name; default :func:`default_colormap` of ``mode``.
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
        Byte budget of the encoded image (see :func:`encode`).
    min_side : int
        Upscale a small mosaic by an integer nearest-neighbour factor until its shorter
        side reaches this many pixels (0: never), so a grid of 7 x 7 maps stays readable.

    Returns
    -------
    RenderedView
    """
    x = as_maps(maps)
    n_all = x.shape[2]
    idx = (np.arange(n_all, dtype=np.intp) if channels is None
           else np.atleast_1d(np.asarray(channels, dtype=np.intp)))
    if idx.size == 0:
        raise ValueError("No channel to render; give at least one channel index.")
    if idx.min() < -n_all or idx.max() >= n_all:
        raise IndexError(f"Channel index out of range for a layer with {n_all} channels: "
                         f"{idx.tolist()}")
    idx = idx % n_all
    cmap = cmap or default_colormap(mode)
    n = idx.size
    identity = n == n_all and np.array_equal(idx, np.arange(n_all))
    # when most channels are shown in another order, gather them after downsampling:
    # a gather along the channel axis of a full-size layer costs more than the rest
    gather_late = not identity and 2 * n >= n_all
    selected = x if identity or gather_late else x[..., idx]
    # shared modes take their scale over the whole layer, per-channel modes over the shown
    if mode in ("layer", "signed"):
        stats = normalization_stats(x, mode, idx)
    elif gather_late:
        stats = normalization_stats(x, mode).take(idx)
    else:
        stats = normalization_stats(selected, mode)
    cols = min(n, math.ceil(math.sqrt(n)) if columns is None else max(1, int(columns)))
    rows = math.ceil(n / cols)
    h, w = x.shape[:2]
    # largest tile side such that the mosaic fits max_side both ways
    fit = min((max_side - (cols - 1) * pad) // cols, (max_side - (rows - 1) * pad) // rows)
    factor = downsample_factor((h, w), max(1, fit))
    small = downsample(selected, max(1, math.ceil(max(h, w) / factor)))
    if gather_late:
        small = small[..., idx]
    norm = apply_normalization(small, stats)
    view, layout = mosaic(norm, cols, pad, channels=idx.tolist(), scale=factor,
                          source_shape=(h, w))
    rgb = apply_colormap(view, cmap, background)
    factor = upscale_factor(view.shape, min_side, max_side) if min_side else 1
    if factor > 1:
        rgb = upscale_nearest(rgb, min_side, max_side)
    data, fmt = encode(rgb, max_bytes)
    return RenderedView(view, layout, rgb, data, fmt, mode, cmap, small, factor)


def render_channel(
    maps: np.ndarray,
    channel: int,
    mode: str = "channel",
    cmap: str | None = None,
    min_side: int = 224,
    *,
    max_side: int = 2048,
    background: tuple[int, int, int] = (255, 255, 255),
    max_bytes: int = 400_000,
) -> RenderedView:
    """Render one channel at full resolution, upscaled crisply for display.

    Parameters
    ----------
    maps : numpy.ndarray
        Activations (H, W, C) of one image (or (H, W)).
    channel : int
        The channel to show.
    mode : str
        Normalisation. For ``"layer"`` and ``"signed"`` the statistics are taken over the
        whole layer, so the channel keeps the colours it has in the grid.
    cmap : str, optional
        Colour map name; default :func:`default_colormap` of ``mode``.
    min_side : int
        The encoded image is nearest-neighbour upscaled by an integer factor until its
        shorter side is at least this (``view`` keeps the map's own resolution).
    max_side : int
        Cap on the upscaled image's longer side.
    background : (int, int, int)
        RGB of non-finite pixels.
    max_bytes : int
        Byte budget of the encoded image (see :func:`encode`).

    Returns
    -------
    RenderedView
        Its layout is a single cell holding ``channel``.
    """
    x = as_maps(maps)
    n_all = x.shape[2]
    c = int(channel)
    if not -n_all <= c < n_all:
        raise IndexError(f"Channel {channel} is out of range for a layer with {n_all} "
                         f"channels (0 to {n_all - 1}).")
    c %= n_all
    cmap = cmap or default_colormap(mode)
    stats = normalization_stats(x, mode, [c])
    raw = x[..., c].astype(np.float32)
    view = apply_normalization(raw, stats)
    h, w = view.shape
    layout = MosaicLayout(1, 1, h, w, 0, (c,), 1, h, w)
    small_rgb = apply_colormap(view, cmap, background)
    k = upscale_factor((h, w), min_side, max_side)
    rgb = upscale_nearest(small_rgb, min_side, max_side)
    data, fmt = encode(rgb, max_bytes)
    return RenderedView(view, layout, np.ascontiguousarray(rgb), data, fmt, mode, cmap,
                        raw[..., None], k)
