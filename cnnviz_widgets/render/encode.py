"""Image bytes: PNG and JPEG encoding within a budget, data URLs and thumbnails.

The one place where pixels become bytes (Pillow) and bytes become ``data:`` URLs; the
explorer, the filter panel, the image thumbnails and the exported page all use it.
"""

from __future__ import annotations

import base64
import io
import math
import struct
import zlib

import numpy as np

from ..checks import whole_number
from ..errors import ImageShapeError, InvalidSettingError
from .upscale import upscale_by

__all__ = ["as_rgb8", "data_url", "encode", "encode_jpeg", "encode_png", "thumbnail"]

_JPEG_QUALITIES = (85, 70, 55, 40, 25, 10)
_FORMATS = ("png", "jpeg", "auto")


def _check_image(image: np.ndarray, allow_gray: bool = False) -> np.ndarray:
    arr = np.asarray(image)
    rgb = arr.ndim == 3 and arr.shape[2] == 3
    gray = allow_gray and arr.ndim == 2
    if not (rgb or gray) or arr.dtype != np.uint8:
        shapes = "(H, W, 3) or (H, W)" if allow_gray else "(H, W, 3)"
        raise ImageShapeError(f"Expected a uint8 image of shape {shapes}; got {arr.dtype} "
                              f"{arr.shape}.")
    return np.ascontiguousarray(arr)


def _pil(image: np.ndarray, allow_gray: bool = False):
    from PIL import Image

    return Image.fromarray(_check_image(image, allow_gray))


def encode_png(image: np.ndarray, compress_level: int = 1, *, optimize: bool = False) -> bytes:
    """Encode an RGB (or grayscale) image as PNG.

    Parameters
    ----------
    image : numpy.ndarray
        uint8, shape (H, W, 3), or (H, W) for grayscale.
    compress_level : int
        zlib level 0-9; the default 1 is several times faster than level 6 for a few
        percent more bytes. Rows are stored unfiltered, or as the row above (filter
        "Up") when they repeat it, which suits flat, upscaled maps.
    optimize : bool
        Let Pillow search for the smallest encoding (slow; for files that are kept).

    Returns
    -------
    bytes
    """
    if not optimize:
        return _png(_check_image(image, allow_gray=True), int(compress_level))
    buf = io.BytesIO()
    _pil(image, allow_gray=True).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _png(arr: np.ndarray, level: int) -> bytes:
    """A PNG of a checked uint8 (H, W, 3) or (H, W) image, written directly with zlib.

    Each row is stored unfiltered, except a row equal to the one above, stored with the
    "Up" filter (all zeros). Feature maps are flat colours, often upscaled by repeating
    rows and pixels: this is several times faster than an encoder that tries every filter
    on every row, and smaller too.
    """
    h, w = arr.shape[:2]
    channels = 1 if arr.ndim == 2 else 3
    raw = np.empty((h, w * channels + 1), np.uint8)
    raw[:, 0] = 0
    raw[:, 1:] = arr.reshape(h, -1)
    if h > 1:
        flat = raw[:, 1:]
        same = np.zeros(h, dtype=bool)
        same[1:] = (flat[1:] == flat[:-1]).all(axis=1)
        raw[same] = 0
        raw[same, 0] = 2  # filter "Up": the row above, plus zero
    header = struct.pack(">IIBBBBB", w, h, 8, 2 if channels == 3 else 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(raw.tobytes(), min(max(level, 0), 9)))
            + _png_chunk(b"IEND", b""))


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """Encode an RGB (or grayscale) image as baseline JPEG at ``quality`` (1-95)."""
    buf = io.BytesIO()
    _pil(image, allow_gray=True).save(buf, format="JPEG", quality=int(quality))
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
        raise InvalidSettingError(f"prefer must be 'png' or 'jpeg'; got {prefer!r}.")
    arr = _check_image(rgb)
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


def data_url(image: np.ndarray, format: str = "png", *, optimize: bool = False,
             quality: int = 85) -> str:
    """Encode an image as a ``data:`` URL (for HTML, ``<img src=...>``, JSON).

    Parameters
    ----------
    image : numpy.ndarray
        uint8, shape (H, W, 3), or (H, W) for grayscale.
    format : {"png", "jpeg", "auto"}
        ``"auto"`` encodes both and keeps JPEG only when it is under 80 % of the PNG's
        size (photographs), PNG otherwise (maps, digits, flat colours).
    optimize : bool
        Smallest PNG Pillow can make (slower); for files that are kept.
    quality : int
        JPEG quality.

    Returns
    -------
    str
        ``"data:image/png;base64,..."`` or ``"data:image/jpeg;base64,..."``.
    """
    if format not in _FORMATS:
        raise InvalidSettingError(
            f"format must be one of {', '.join(map(repr, _FORMATS))}; got {format!r}.")
    data, kind = b"", format
    if format in ("png", "auto"):
        data, kind = encode_png(image, 6, optimize=optimize), "png"
    if format in ("jpeg", "auto"):
        jpeg = encode_jpeg(image, quality)
        if format == "jpeg" or len(jpeg) < 0.8 * len(data):
            data, kind = jpeg, "jpeg"
    return f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")


def as_rgb8(pixels: np.ndarray) -> np.ndarray:
    """0-255 pixel values of any channel count as a uint8 (H, W, 3) image."""
    arr = np.asarray(pixels)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[2] == 2:
        arr = arr[..., 0]  # gray + alpha
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3:
        raise ImageShapeError(
            f"Expected an image of shape (H, W) or (H, W, C); got {arr.shape}.")
    arr = arr[..., :3]  # drop alpha and extra channels
    if arr.dtype != np.uint8:
        with np.errstate(all="ignore"):
            arr = np.nan_to_num(np.rint(arr.astype(np.float32)), nan=0.0)
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def thumbnail(pixels: np.ndarray, side: int = 48) -> np.ndarray:
    """A small RGB picture of an image, at most ``side`` pixels along its longer side.

    Parameters
    ----------
    pixels : numpy.ndarray
        0-255 pixel values (any real dtype; clipped and rounded), shape (H, W) or
        (H, W, C): one channel is gray, RGBA loses its alpha, more channels keep the
        first three.
    side : int
        Target length of the longer side.

    Returns
    -------
    numpy.ndarray
        uint8 (h, w, 3). A larger image is shrunk (Lanczos) to fit ``side``; a smaller one
        is enlarged by the integer nearest-neighbour factor ``side // max(H, W)`` so that
        small inputs (digits) stay crisp. Encode it with :func:`data_url`.
    """
    from PIL import Image

    side = whole_number(side, "side")
    arr = as_rgb8(pixels)
    h, w = arr.shape[:2]
    longest = max(h, w, 1)
    if longest > side:
        f = side / longest
        size = (max(1, round(w * f)), max(1, round(h * f)))
        return np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.LANCZOS))
    k = max(1, math.floor(side / longest))
    return np.ascontiguousarray(upscale_by(arr, k))
