"""The explorer's browser view (``backend="browser"``): what reaches the front end, and what
does not. The canvas's own colouring is checked in JupyterLab and Notebook 7
(``test_browser_view_in_jupyterlab``, ``test_browser_view_in_notebook7`` in
``tests/browser``)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import explore, zoo
from cnnviz_widgets.colour.colormaps import palette
from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.render.codes import code_coefficients, colour_codes, tile_codes
from cnnviz_widgets.render.maps import render_selection
from cnnviz_widgets.widgets.explorer import canvas as canvas_module
from cnnviz_widgets.widgets.explorer import controls as controls_module
from cnnviz_widgets.widgets.explorer.canvas import BrowserCanvas, ImageCanvas

pytest.importorskip("anywidget", reason="the browser view needs the notebook extra")


@pytest.fixture(scope="module")
def digits():
    return zoo.digits_cnn(), zoo.digit_samples()[0][:3]


@pytest.fixture
def ex(comm_log, digits):
    model, images = digits
    explorer = explore(model, images, backend="browser", layer="conv2")
    yield explorer
    explorer.close()


def _shown(ex, colours: np.ndarray | None = None) -> np.ndarray:
    """What the canvas draws, from the bytes the widget holds (the front end's inputs);
    ``colours`` replaces the palette it holds."""
    maps = ex.canvas.maps
    h, w = maps.size
    codes = tile_codes(ex.canvas.value.rendered.tiles, ex.canvas.value.rendered.layout)
    assert np.frombuffer(maps.codes, np.uint8).reshape(h, w).tolist() == codes.codes.tolist()
    coefficients = np.frombuffer(maps.coefficients, "<f4").reshape(2, -1)
    if colours is None:
        colours = np.frombuffer(maps.palette, np.uint8).reshape(257, 3)
    return colour_codes(codes, coefficients, colours)


def test_the_browser_view_draws_the_grid_the_render_layer_draws(ex):
    assert isinstance(ex.canvas, BrowserCanvas)
    rendered = ex.canvas.value.rendered
    reference = render_selection(ex.engine.activation("conv2", ex.images[0]), None,
                                 ex.page_channels(), ex.normalization, ex.colormap,
                                 scale_in_viewer=True)
    # a palette whose colour i spells i gives the entry of the colour map each pixel takes
    spelled = np.stack([np.arange(257) % 256, np.arange(257) // 256, np.zeros(257)], 1)
    shown = _shown(ex, spelled.astype(np.uint8)).astype(np.int32)
    index = shown[..., 0] + 256 * shown[..., 1]
    view = reference.view
    want = np.where(np.isnan(view), 256, np.minimum(np.floor(np.nan_to_num(view) * 256), 255))
    assert index.shape == view.shape
    np.testing.assert_array_equal(index == 256, want == 256)  # the gaps
    assert np.abs(index - want).max() <= 1  # the colour, or its neighbour in the colour map
    np.testing.assert_array_equal(_shown(ex), palette(ex.colormap)[index])
    assert ex.canvas.maps.scale == rendered.display_scale > 1


def test_a_colour_or_normalisation_change_sends_numbers_not_codes(ex, comm_log):
    maps = ex.canvas.maps
    codes_before = maps.codes
    calls = ex.engine.stats.layer_evaluations
    for change in ({"colormap": "gray"}, {"normalization": "layer"},
                   {"normalization": "signed"}, {"colormap": "magma"}):
        comm_log.mark()
        name, value = next(iter(change.items()))
        setattr(ex, name, value)
        sent = set().union(*comm_log.updated(maps))
        assert sent and sent <= {"coefficients", "palette"}, (change, sent)
    assert maps.codes is codes_before
    assert ex.engine.stats.layer_evaluations == calls
    np.testing.assert_array_equal(
        np.frombuffer(maps.palette, np.uint8).reshape(257, 3), palette("magma"))
    # signed normalisation: the coefficients are those of the layer's symmetric scale
    codes = ex.canvas.maps.tile_codes
    np.testing.assert_allclose(
        np.frombuffer(maps.coefficients, "<f4").reshape(2, -1),
        code_coefficients(codes, ex.canvas.value.rendered.stats), rtol=1e-6)


def test_new_maps_send_new_codes(ex, comm_log):
    comm_log.mark()
    ex.layer = "conv1"
    assert "codes" in set().union(*comm_log.updated(ex.canvas.maps))
    comm_log.mark()
    ex.channel = 2  # one map at its own size, enlarged in the browser
    assert ex.canvas.maps.size == list(ex.canvas.value.rendered.view.shape)
    assert ex.canvas.maps.scale > 1
    _shown(ex)


def test_values_that_are_not_maps_are_drawn_as_pictures(ex):
    ex.layer = next(name for name in ex.engine.layer_names if "dense" in name
                    or name.startswith("fc") or name == "logits")
    assert ex.canvas.children == (ex.canvas.pictures,)
    assert isinstance(ex.canvas.pictures, ImageCanvas)
    assert ex.canvas.pictures.image.value  # the bars
    ex.layer = "conv2"
    assert ex.canvas.children == (ex.canvas.maps,)


def test_without_anywidget_the_view_says_what_to_install(monkeypatch, digits):
    monkeypatch.setattr(canvas_module, "browser_view_available", lambda: False)
    monkeypatch.setattr(controls_module, "browser_view_available", lambda: False)
    with pytest.raises(InvalidSettingError, match="pip install anywidget"):
        BrowserCanvas()
    model, images = digits
    ex = explore(model, images)
    try:
        assert "browser" not in ex.controls["backend"].options
    finally:
        ex.close()
