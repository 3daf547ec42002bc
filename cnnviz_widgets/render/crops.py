"""Crops of a data set's top images: the part of each image a channel's maximum looks at.

A :class:`Crop` is plain data (the input pixels of a receptive box, where the position
sits inside it, a caption), made beside the scan by
:class:`~cnnviz_widgets.engine.scan.cache.DatasetScans`; :func:`crop_picture` turns one
into an RGB picture, enlarged for the screen with the position outlined. Nothing here
touches a model.
"""

from __future__ import annotations

import math

import numpy as np

from ..colour.colormaps import MARKER_COLOUR
from ..engine.scan.cache import Crop
from .encode import thumbnail

__all__ = ["MARKER_COLOUR", "Crop", "crop_picture", "draw_outline", "signal_marker_fractions"]


def draw_outline(rgb: np.ndarray, box: tuple[int, int, int, int],
                 colour: tuple[int, int, int] = MARKER_COLOUR,
                 thickness: int = 1) -> np.ndarray:
    """Return a copy of ``rgb`` with the outline of ``box`` drawn inside its edges.

    Parameters
    ----------
    rgb : numpy.ndarray
        uint8 (H, W, 3).
    box : (top, left, bottom, right)
        Pixel box, bottom and right exclusive; clipped to the picture.
    colour : (int, int, int)
        Colour of the outline.
    thickness : int
        Width of the outline in pixels (at most half the box).

    Returns
    -------
    numpy.ndarray
        uint8 (H, W, 3).
    """
    out = np.array(rgb, dtype=np.uint8, copy=True)
    h, w = out.shape[:2]
    top, left = max(int(box[0]), 0), max(int(box[1]), 0)
    bottom, right = min(int(box[2]), h), min(int(box[3]), w)
    if bottom <= top or right <= left:
        return out
    t = max(1, min(int(thickness), (bottom - top + 1) // 2, (right - left + 1) // 2))
    paint = np.asarray(colour, dtype=np.uint8)
    out[top:top + t, left:right] = paint
    out[bottom - t:bottom, left:right] = paint
    out[top:bottom, left:left + t] = paint
    out[top:bottom, right - t:right] = paint
    return out


def crop_picture(crop: Crop, side: int = 96, *, marked: bool = True) -> np.ndarray:
    """The picture of a crop for the screen: enlarged (or shrunk) to ``side``, marked.

    Parameters
    ----------
    crop : Crop
        The crop.
    side : int
        Length of the picture's longer side (see
        :func:`~cnnviz_widgets.render.encode.thumbnail`: a small crop is enlarged by an
        integer nearest-neighbour factor, so its pixels stay crisp).
    marked : bool
        Outline the position of the maximum (``crop.marker``).

    Returns
    -------
    numpy.ndarray
        uint8 (H, W, 3); encode it with :func:`~cnnviz_widgets.render.encode.encode_png`
        or :func:`~cnnviz_widgets.render.encode.data_url`.
    """
    pixels = np.asarray(crop.pixels)
    if crop.signal:
        return _signal_crop_picture(crop, side, marked)
    picture = thumbnail(pixels, side)
    if not marked or crop.marker is None or pixels.shape[0] == 0 or pixels.shape[1] == 0:
        return picture
    fy = picture.shape[0] / pixels.shape[0]
    fx = picture.shape[1] / pixels.shape[1]
    top, left, bottom, right = crop.marker
    box = (math.floor(top * fy), math.floor(left * fx), math.ceil(bottom * fy),
           math.ceil(right * fx))
    return draw_outline(picture, box, thickness=max(1, round(min(fy, fx) / 4)))


def signal_marker_fractions(crop: Crop) -> tuple[float, float] | None:
    """Where the marker of a signal's crop starts and ends along x, as fractions of the
    picture's width (None without a marker)."""
    steps = np.asarray(crop.pixels).shape[0]
    if crop.marker is None or steps == 0:
        return None
    top, _, bottom, _ = crop.marker
    return min(max(top / steps, 0.0), 1.0), min(max(bottom / steps, 0.0), 1.0)


def _signal_crop_picture(crop: Crop, side: int, marked: bool) -> np.ndarray:
    """A signal's crop as a line plot, the time steps of its marker outlined."""
    from .signal import signal_thumbnail

    picture = signal_thumbnail(crop.pixels, side)
    where = signal_marker_fractions(crop) if marked else None
    if where is None:
        return picture
    left, right = math.floor(where[0] * side), math.ceil(where[1] * side)
    return draw_outline(picture, (0, left, side, max(right, left + 1)))
