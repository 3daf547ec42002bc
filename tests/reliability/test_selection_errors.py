"""Wrong selections set from Python: our exception, the message in the panel, still usable."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import explore
from cnnviz_widgets.errors import (
    CnnvizError,
    InvalidSettingError,
    LayerNotFoundError,
    SelectionOutOfRangeError,
)
from cnnviz_widgets.testing import nested_backbone_model, tiny_cnn


@pytest.fixture(scope="module")
def model():
    return tiny_cnn((8, 8, 3))


@pytest.fixture
def ex(model):
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    panel = explore(model, images, include_samples=False)
    yield panel
    panel.close()


def _message(ex) -> str:
    return ex.errors.message


# (trait, value, error type, phrases the message must contain)
CASES = [
    ("layer", "conv_c", LayerNotFoundError, ["conv_a", "engine.layers"]),
    ("layer", "CONV_A", LayerNotFoundError, ["Did you mean 'conv_a'"]),
    ("layer", "", LayerNotFoundError, ["Known layers"]),
    ("layer", "zzzz", LayerNotFoundError, ["Known layers: 'conv_a'"]),
    ("channel", 6, SelectionOutOfRangeError, ["has 6 channel", "0 to 5", "channel=None"]),
    ("channel", -1, SelectionOutOfRangeError, ["0 to 5"]),
    ("channel", 10**9, SelectionOutOfRangeError, ["no channel 1000000000"]),
    ("image_index", 3, SelectionOutOfRangeError, ["3 image(s)", "0 to 2"]),
    ("image_index", -1, SelectionOutOfRangeError, ["no image -1"]),
    ("page", 1, SelectionOutOfRangeError, ["1 page(s)"]),
    ("page", -2, SelectionOutOfRangeError, ["no page -2"]),
    ("normalization", "minmax", InvalidSettingError, ["'channel'", "'signed'"]),
    ("colormap", "not-a-map", InvalidSettingError, ["viridis"]),
    ("backend", "plotly", InvalidSettingError, ["'matplotlib'", "'bqplot'"]),
    ("channel_order", "random", InvalidSettingError, ["'sparsity'"]),
]


@pytest.mark.parametrize(("trait", "value", "error", "phrases"), CASES,
                         ids=[f"{c[0]}={c[1]!r}" for c in CASES])
def test_bad_selection(ex, trait, value, error, phrases):
    ex.layer = "conv_b"
    ex.image_index = 1
    state = {name: getattr(ex, name) for name in ("layer", "channel", "image_index", "page",
                                                  "normalization", "colormap", "backend")}
    view = ex.current_view().copy()
    renders = ex.render_count
    with pytest.raises(error) as info:
        setattr(ex, trait, value)
    assert isinstance(info.value, CnnvizError)
    for phrase in phrases:
        assert phrase in str(info.value) and phrase in _message(ex)
    # nothing changed and nothing was redrawn
    assert {name: getattr(ex, name) for name in state} == state
    assert ex.render_count == renders
    np.testing.assert_array_equal(ex.current_view(), view)
    # the next valid action works and clears the message
    ex.channel = 2
    assert _message(ex) == ""
    np.testing.assert_array_equal(ex.current_activation(),
                                  ex.engine.activation("conv_b", ex.images[1]))


def test_unknown_nested_layer_suggests_the_full_path():
    ex = explore(nested_backbone_model(), np.zeros((1, 32, 32, 3), np.uint8),
                 include_samples=False)
    with pytest.raises(LayerNotFoundError) as info:
        ex.layer = "block3_conv"  # a leaf name without its path
    with pytest.raises(LayerNotFoundError) as info:
        ex.layer = "conv2"
    assert "backbone/conv2" in str(info.value) and "backbone/conv2" in _message(ex)
    ex.layer = "backbone/conv2"
    assert _message(ex) == ""
    ex.close()


def test_switching_to_a_layer_with_fewer_channels_resets_the_channel(ex):
    ex.layer = "conv_b"
    ex.channel = 5
    ex.layer = "conv_a"  # 4 channels: channel 5 would be out of range
    assert ex.channel is None and _message(ex) == ""


def test_bad_values_from_the_controls_are_reported_not_raised(ex):
    ex.layer = "conv_b"
    ex.controls["channel"].set_state({"value": 5})
    assert ex.channel == 5
    ex.controls["layer"].set_state({"index": 0})
    assert ex.layer == "conv_a" and ex.channel is None
    # explain without a channel: our error in the panel, not an exception out of a click
    ex.explainer.button.click()
    assert "Pick one channel first" in _message(ex)
    ex.channel = 1
    assert _message(ex) == ""
