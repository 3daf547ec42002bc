"""Render arrays for a screen: image bytes, matplotlib figures, bqplot views.

``render.image`` needs only numpy and Pillow; ``render.mpl`` imports matplotlib and
``render.bq`` imports bqplot and ipywidgets, each only when used.
"""

from __future__ import annotations

from .image import RenderedView, encode, encode_png, render_channel, render_grid, upscale_nearest

__all__ = [
    "RenderedView",
    "encode",
    "encode_png",
    "render_channel",
    "render_grid",
    "upscale_nearest",
]
