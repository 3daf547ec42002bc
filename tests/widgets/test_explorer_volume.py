"""The explorer on a model of volumes: a slice of every channel, every slice of a channel,
the slice slider, and slice changes that never call the model."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import explore
from cnnviz_widgets.errors import CnnvizError
from cnnviz_widgets.layout.volume import slice_row, volume_maps
from cnnviz_widgets.testing.volumes import tiny_volume_cnn
from tests.widgets.oracle import layer_output, minmax


@pytest.fixture(scope="module")
def model():
    return tiny_volume_cnn()


@pytest.fixture
def ex(model):
    volumes = np.random.default_rng(0).integers(0, 256, (3, 4, 8, 8, 1), dtype=np.uint8)
    return explore(model, volumes, include_samples=False)


def test_a_volume_model_opens_on_its_first_3d_convolution_with_a_slice_slider(ex):
    assert len(ex.images) == 3 and ex.layer == "conv3d_a" and ex.is_volume
    slider = ex.volume_controls.depth
    assert slider.max == 3 and ex.volume_controls.row.layout.display is None
    slider.value = 2  # as the front end would
    assert ex.depth == 2
    ex.layer = "pool3d"  # 2 slices: the slider follows, the depth is kept in range
    assert slider.max == 1 and ex.depth == 1
    ex.layer = "gap3d"
    assert ex.volume_controls.row.layout.display == "none"


def test_one_slice_of_every_channel_is_the_oracle_slice(ex, model):
    ex.depth = 3
    expected = layer_output(model, "conv3d_a", ex)[3]  # (8, 8, 4)
    np.testing.assert_allclose(ex.current_maps().maps, expected, rtol=1e-5, atol=1e-6)
    ex.channel = 2
    np.testing.assert_allclose(ex.current_view(), minmax(expected[..., 2]), atol=1e-6)
    assert "slice 3 of 0-3" in ex.value.caption


def test_every_slice_of_one_channel(ex, model):
    ex.channel, ex.volume_view = 1, "slices"
    activation = layer_output(model, "conv3d_a", ex)
    maps = ex.current_maps().maps
    assert maps.shape == (8, 8, 4) and ex.shown_channels() == [0, 1, 2, 3]
    for d in range(4):
        np.testing.assert_allclose(maps[..., d], activation[d, ..., 1], rtol=1e-5, atol=1e-6)
    assert "channel 1 of 4: its 4 slices" in ex.value.caption
    assert ex.volume_controls.depth.layout.display == "none"


def test_a_slice_change_redraws_without_calling_the_model(ex):
    ex.value  # noqa: B018 - drawn once
    evaluations = ex.engine.stats.layer_evaluations
    requests = ex.engine.stats.cache_hits + ex.engine.stats.cache_misses
    before = ex.render_count
    views = []
    for depth in (1, 2, 3, 0):
        ex.depth = depth
        views.append(ex.current_view().copy())
    ex.volume_view = "slices"
    ex.volume_view = "slice"
    assert ex.engine.stats.layer_evaluations == evaluations
    assert ex.engine.stats.cache_hits + ex.engine.stats.cache_misses == requests
    assert ex.render_count - before == 6
    assert not np.array_equal(views[0], views[1])  # each slice its own picture


def test_a_slice_outside_the_layer_is_refused_in_the_panel(ex):
    with pytest.raises(CnnvizError, match="slice 4"):
        ex.depth = 4
    assert ex.depth == 0 and "slice 4" in ex.errors.message


def test_layout_helpers():
    v = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(volume_maps(v, "slice", 1, 0).maps, v[1])
    np.testing.assert_array_equal(volume_maps(v, "slices", 0, 4).maps[..., 1], v[1, ..., 4])
    row = slice_row(v[..., 0])
    assert row.shape == (3, 9) and np.isnan(row[:, 4]).all()
    np.testing.assert_array_equal(row[:, 5:], v[1, ..., 0])
