"""The filter explorer: pages, exact tiles, dead filters, the jump to feature maps."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz_widgets import explore
from cnnviz_widgets.errors import InvalidSettingError, SelectionOutOfRangeError
from cnnviz_widgets.widgets.filters import FilterExplorer


@pytest.fixture(scope="module")
def known_model():
    """A first layer with 3 input channels and 20 filters with known kernels."""
    inp = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(20, 2, activation="relu", name="conv")
    out = keras.layers.Conv2D(4, 1, name="mix")(conv(inp))
    model = keras.Model(inp, out)
    kernel = np.arange(2 * 2 * 3 * 20, dtype=np.float32).reshape(2, 2, 3, 20) / 100.0
    kernel[..., 7] = -1.0  # never fires on non-negative inputs
    bias = np.zeros(20, np.float32)
    bias[7] = -1.0
    conv.set_weights([kernel, bias])
    return model


def test_tiles_are_the_kernels_normalised_per_filter(known_model):
    panel = FilterExplorer(known_model, per_page=4, channels_shown=3)
    view = panel.current_view()
    kernel = panel.bank.kernels
    f0 = kernel[..., 0]
    expected = (f0 - f0.min()) / (f0.max() - f0.min())
    # first row, first tile: 2x2 kernel upscaled x12 into a 24 px cell, then a 2 px gap
    tile = view[0:24, 0:24]
    np.testing.assert_allclose(tile[::12, ::12], expected[..., 0], atol=1e-6)
    second_channel = view[0:24, 26:50]
    np.testing.assert_allclose(second_channel[::12, ::12], expected[..., 1], atol=1e-6)
    assert np.isnan(view[0, 24:26]).all() and np.isnan(view[24:26, 0]).all()


def test_pages_and_filter_selection(known_model):
    panel = FilterExplorer(known_model, per_page=4)
    assert panel.filters_on_page() == [0, 1, 2, 3]
    panel.filter = 9
    assert panel.page == 2 and panel.filters_on_page() == [8, 9, 10, 11]
    panel.controls["page"].set_state({"value": 4})
    assert panel.filters_on_page() == [16, 17, 18, 19]
    with pytest.raises(SelectionOutOfRangeError, match="20 filter"):
        panel.filter = 20
    assert "20 filter" in panel.errors.message


def test_rgb_view_of_a_three_channel_first_layer(known_model):
    panel = FilterExplorer(known_model, per_page=8)
    panel.view = "rgb"
    rgb = panel.current_view()
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    panel.layer = "mix"  # 20 input channels: no RGB view
    assert panel.view == "channels"
    with pytest.raises(InvalidSettingError):
        panel.layer = "not_a_conv"


def test_dead_filter_scan_marks_the_planted_filter(known_model):
    images = [np.random.default_rng(i).integers(0, 256, (8, 8, 3), np.uint8) for i in range(4)]
    panel = FilterExplorer(known_model, images=images, per_page=8)
    report = panel.scan_dead_filters()
    assert 7 in report.indices.tolist()
    assert "dead: 1 of 20" in panel.caption.value
    assert panel.progress.value == panel.progress.max


def test_jump_between_filters_and_feature_maps(known_model):
    ex = explore(known_model, np.zeros((8, 8, 3), np.uint8), include_samples=False)
    panel = FilterExplorer(ex)
    panel.filter = 5
    panel.show_feature_map()
    assert ex.layer == "conv" and ex.channel == 5
    ex.channel = 11  # followed at once
    assert panel.filter == 11 and panel.page == 11 // panel.per_page
    panel.controls["follow"].value = False
    ex.channel = 2
    assert panel.filter == 11
    panel.follow_explorer()
    assert panel.filter == 2


def test_dead_filters_can_be_hidden(known_model):
    images = [np.full((8, 8, 3), 200, np.uint8)]
    panel = FilterExplorer(known_model, images=images, per_page=8)
    panel.scan_dead_filters()
    panel.hide_dead = True
    assert 7 not in panel.filters_on_page() and len(panel.filters_on_page()) == 8
    assert panel.filters_on_page() == [0, 1, 2, 3, 4, 5, 6, 8]
    panel.controls["hide_dead"].set_state({"value": False})
    assert 7 in panel.filters_on_page()


def test_the_old_mode_name_still_reads_and_writes_normalization(known_model):
    panel = FilterExplorer(known_model)
    with pytest.warns(DeprecationWarning, match="FilterExplorer.normalization"):
        panel.mode = "layer"
    assert panel.normalization == "layer"
    with pytest.warns(DeprecationWarning, match="FilterExplorer.mode is deprecated"):
        assert panel.mode == "layer"


def test_images_come_before_the_layer_and_the_old_order_warns(known_model):
    images = [np.zeros((8, 8, 3), np.uint8)]
    new = FilterExplorer(known_model, images, "mix", per_page=4)
    assert new.layer == "mix" and len(new.images) == 1
    with pytest.warns(DeprecationWarning, match=r"\(model_or_engine, images, layer\)"):
        old = FilterExplorer(known_model, "mix", images=images, per_page=4)
    assert old.layer == "mix" and len(old.images) == 1
    with pytest.warns(DeprecationWarning, match="images, layer"):
        assert FilterExplorer(known_model, "mix").layer == "mix"
    with pytest.warns(DeprecationWarning, match=r"FilterExplorer\(model=...\)"):
        assert FilterExplorer(model=known_model, layer="mix").layer == "mix"
    for panel in (new, old):
        panel.close()
