"""Pictures enlarged by the viewer: encoded at the maps' own size, shown as before."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets.render.maps import render_selection
from cnnviz_widgets.render.view import MapValue, png_of
from cnnviz_widgets.widgets.explorer.canvas import ImageCanvas


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.mark.parametrize("channel", [None, 3])
def test_the_shown_picture_is_the_one_encoded_upscaled_before(channel):
    maps = np.random.default_rng(4).normal(size=(11, 11, 16)).astype(np.float32)
    before = render_selection(maps, channel, None, "layer", "magma")
    after = render_selection(maps, channel, None, "layer", "magma", scale_in_viewer=True)
    assert before.upscale > 1 and before.display_scale == 1
    assert after.upscale == 1 and after.display_scale == before.upscale
    assert after.rgb.shape[:2] == after.view.shape
    np.testing.assert_array_equal(after.display_rgb(), before.rgb)
    np.testing.assert_array_equal(_pixels(after.data), after.rgb)  # lossless, native size
    assert len(after.data) < len(before.data)
    # a static copy (a notebook without a kernel) is drawn at the shown size
    np.testing.assert_array_equal(_pixels(png_of(MapValue(after, "t"))), before.rgb)


def test_the_canvas_asks_the_browser_for_the_shown_width():
    maps = np.random.default_rng(5).random((9, 9, 4)).astype(np.float32)
    canvas = ImageCanvas()
    small = render_selection(maps, None, None, "channel", "viridis", scale_in_viewer=True)
    canvas.show(MapValue(small, "t"))
    assert canvas.image.width == str(small.rgb.shape[1] * small.display_scale)
    assert "image-rendering: pixelated" in canvas.style.value
    np.testing.assert_array_equal(_pixels(canvas.image.value), small.rgb)
    whole = render_selection(maps, None, None, "channel", "viridis")
    canvas.show(MapValue(whole, "t"))  # encoded at its shown size: no width asked
    assert canvas.image.width == ""
    canvas.close()
