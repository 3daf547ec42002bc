"""Render arrays for a screen: image bytes, matplotlib figures, bqplot views.

``render.maps``, ``render.encode`` and ``render.upscale`` need only numpy and Pillow;
``render.mpl`` and ``render.signal`` (lines of signals and sequences) import matplotlib and
``render.bq`` imports bqplot and ipywidgets, each only when used.
"""

from __future__ import annotations

from .encode import data_url, encode, encode_png, thumbnail
from .maps import RenderedView, render_channel, render_grid, render_strip
from .upscale import upscale_nearest

__all__ = [
    "RenderedView",
    "data_url",
    "encode",
    "encode_png",
    "render_channel",
    "render_grid",
    "render_strip",
    "thumbnail",
    "upscale_nearest",
]
