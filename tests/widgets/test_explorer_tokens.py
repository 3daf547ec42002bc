"""The explorer on transformer token layers: maps of the patch grid, or a strip."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz_widgets import explore
from cnnviz_widgets.render.view import ErrorValue, MapValue, SeriesValue
from cnnviz_widgets.testing import tiny_vit
from tests.widgets.oracle import layer_output, minmax


@pytest.fixture(scope="module")
def vit():
    return tiny_vit()


@pytest.fixture(scope="module")
def pictures():
    return np.random.default_rng(5).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)


@pytest.fixture
def ex(vit, pictures):
    return explore(vit, pictures, include_samples=False)


def test_every_layer_of_the_transformer_draws(ex):
    for backend in ("matplotlib", "bqplot"):
        ex.backend = backend
        for name in ex.engine.layer_names:
            ex.layer = name
            for channel in (None, 2):
                ex.channel = channel
                assert not isinstance(ex.value, ErrorValue), (name, channel)
            ex.channel = None
    assert ex.errors.message == ""


@pytest.mark.parametrize("layer", ["position", "attention", "mlp1"])
def test_one_channel_is_the_oracle_tokens_reshaped_to_the_grid(vit, ex, layer):
    ex.layer = layer
    ex.image_index = 1
    ex.channel = 3
    tokens = layer_output(vit, layer, ex)  # (17, D): the class token first
    expected = tokens[1:, 3].reshape(4, 4)
    np.testing.assert_allclose(ex.value.rendered.tiles[..., 0], expected, rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(ex.current_view(), minmax(expected), atol=1e-4)
    assert "16 patch tokens as a 4x4 grid (class token left out)" in ex.value.caption


def test_the_grid_tiles_are_the_oracle_grid_of_every_channel(vit, ex):
    ex.layer = "residual2"
    ex.normalization = "layer"
    tokens = layer_output(vit, "residual2", ex)
    grid = tokens[1:].reshape(4, 4, -1)
    lo, hi = grid.min(), grid.max()  # the scale of the grid's tokens
    value = ex.value
    assert isinstance(value, MapValue)
    layout = value.rendered.layout
    view = ex.current_view()
    assert sorted(layout.channels) == list(range(12))
    for cell, channel in enumerate(layout.channels):
        y0, x0 = layout.cell_origin(cell)
        np.testing.assert_allclose(view[y0:y0 + 4, x0:x0 + 4],
                                   (grid[..., channel] - lo) / (hi - lo), atol=1e-4)


def test_without_a_class_token_nothing_is_left_out(pictures):
    model = tiny_vit(class_token=False)
    ex = explore(model, pictures, include_samples=False, layer="norm1", channel=0)
    tokens = layer_output(model, "norm1", ex)  # (16, 12)
    np.testing.assert_allclose(ex.value.rendered.tiles[..., 0], tokens[:, 0].reshape(4, 4),
                               rtol=1e-4, atol=1e-5)
    assert "16 patch tokens as a 4x4 grid |" in ex.value.caption
    assert "left out" not in ex.value.caption


def _loose_tokens_model():
    """Eight tokens of twelve features: no square grid."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", name="conv")(inp)
    x = keras.layers.Reshape((8, 12), name="tokens")(x)
    x = keras.layers.Dense(5, name="mix")(x)
    x = keras.layers.Flatten(name="flat")(x)
    return keras.Model(inp, keras.layers.Dense(3, name="probs")(x))


def test_tokens_without_a_grid_are_a_strip_of_features_over_tokens(pictures):
    model = _loose_tokens_model()
    images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    ex = explore(model, images, include_samples=False, layer="mix")
    tokens = layer_output(model, "mix", ex)  # (8, 5)
    view = ex.current_view()
    assert view.shape == (5, 8)
    for row, feature in enumerate(ex.shown_channels()):
        np.testing.assert_allclose(view[row], minmax(tokens[:, feature]), atol=1e-4)
    assert "8 tokens x 5 features" in ex.value.caption
    ex.channel = 4
    assert isinstance(ex.value, SeriesValue) and ex.value.x_label == "token"
    np.testing.assert_allclose(ex.value.values, tokens[:, 4], rtol=1e-5, atol=1e-6)


def test_moving_sliders_on_tokens_never_runs_the_model(ex):
    ex.layer = "mlp1"
    ex.value  # noqa: B018 - drawn once
    stats = ex.engine.stats
    evaluations, misses = stats.layer_evaluations, stats.cache_misses
    for channel in (0, 23, None):
        ex.channel = channel
    ex.normalization = "signed"
    ex.channel_order = "max"
    ex.backend = "bqplot"
    ex.channel = 1
    assert stats.layer_evaluations == evaluations and stats.cache_misses == misses


def test_explain_a_token_channel_lays_its_grid_over_the_image(vit, ex):
    from cnnviz_widgets.attribution.overlay import activation_heatmap, overlay

    ex.layer = "mlp2"
    assert ex.explainer.button.layout.display == "none"  # the grid: pick a channel first
    ex.channel = 4
    assert ex.explainer.button.layout.display is None
    heat, result = ex.explain_channel(steps=3)
    grid = layer_output(vit, "mlp2", ex)[1:].reshape(4, 4, 12)
    expected = overlay(ex.engine.pixels(ex.image), activation_heatmap(grid, 4), alpha=0.5)
    assert np.abs(heat.astype(int) - expected.astype(int)).max() <= 1
    assert result.steps == 3
    ex.layer = "pooled"
    assert ex.explainer.button.layout.display == "none"


def test_a_click_on_one_token_channel_reads_out_without_an_error(ex):
    ex.backend = "bqplot"
    ex.layer = "attention"
    ex.channel = 5
    ex.canvas.maps.simulate_click(1.5, 2.5)
    assert ex.errors.message == "" and ex.field is None
    assert "channel <b>5</b>" in ex.canvas.maps.readout.value


def test_bad_input_is_a_message_and_the_token_view_keeps_working(ex):
    from cnnviz_widgets.errors import CnnvizError

    ex.layer = "norm2"
    with pytest.raises(CnnvizError):
        ex.add_image(b"these bytes are not a picture")
    assert ex.errors.message and len(ex.images) == 3
    with pytest.raises(CnnvizError):
        ex.layer = "no such layer"
    assert "no such layer" in ex.errors.message and ex.layer == "norm2"
    ex.channel = 7
    assert isinstance(ex.value, MapValue) and ex.current_view().shape == (4, 4)
    assert ex.errors.message == ""
