"""LayerInfo: channels of every output shape; names of layers called more than once."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.engine import LayerInfo


@pytest.mark.parametrize(
    ("shape", "channels"),
    [((28, 28), 1), ((28, 28, 5), 5), ((10,), 10), ((None, None, 3), 3), ((None, None), 1),
     ((4, 4, 4, 2), 2), ((), None), ((7, None), 1), ((7, 7, None), None)],
)
def test_channels_of_each_output_shape(shape, channels):
    assert LayerInfo("x", "other", shape, 0, "Layer").channels == channels


def test_a_two_dimensional_output_has_one_channel_and_its_activation_agrees():
    inp = keras.Input((6, 9, 1))
    squeezed = keras.layers.Reshape((6, 9), name="squeeze")(inp)
    model = keras.Model(inp, keras.layers.Dense(4, name="per_row")(squeezed))
    engine = ActivationEngine(model)
    info = engine.layer("squeeze")
    assert info.output_shape == (6, 9) and info.is_spatial and info.channels == 1
    per_row = engine.layer("per_row")  # not the input's size: 6 tokens of 4 features
    assert per_row.output_shape == (6, 4) and per_row.layout == "tokens"
    assert per_row.channels == 4 and not per_row.is_spatial and per_row.token_grid is None
    image = np.arange(54, dtype=np.uint8).reshape(6, 9)
    np.testing.assert_allclose(engine.activation("squeeze", image), image / 255.0, rtol=1e-6)


def test_a_name_clash_between_a_second_call_and_another_layer_is_avoided():
    # Keras names a second Dense "dense_1"; a shared layer's second call must not take it
    inp = keras.Input((4, 4, 3))
    shared = keras.layers.Dense(3, name="dense")
    h = shared(shared(inp))
    model = keras.Model(inp, keras.layers.Dense(3, name="dense_1")(h))
    engine = ActivationEngine(model)
    assert engine.layer_names == ["dense", "dense:2", "dense_1"]
    assert len(set(engine.layer_names)) == len(engine.layers)
    assert engine.activation("dense_1", np.zeros((4, 4, 3))).shape == (4, 4, 3)


@pytest.mark.parametrize(("tokens", "grid"), [
    (196, (14, 14, 0)), (197, (14, 14, 1)), (50, (7, 7, 1)), (17, (4, 4, 1)), (4, (2, 2, 0)),
    (12, None), (3, None), (1, None), (None, None)])
def test_token_grid_is_a_square_after_an_optional_class_token(tokens, grid):
    from cnnviz_widgets.engine.layers import token_grid

    assert token_grid(tokens) == grid


def test_each_kind_of_model_names_what_its_axes_mean():
    from cnnviz_widgets.testing import tiny_cnn, tiny_conv1d, tiny_vit

    signal = ActivationEngine(tiny_conv1d())
    assert signal.plan.input_axes == "sequence"
    assert [i.layout for i in signal.layers] == ["sequence"] * 3 + ["vector"] * 2
    assert signal.layer("conv1d_b").channels == 16 and not signal.layer("conv1d_b").is_spatial
    vit = ActivationEngine(tiny_vit())
    assert vit.plan.input_axes == "image" and vit.layer("patch_embed").layout == "image"
    assert vit.layer("patches").token_grid == (4, 4, 0)
    assert vit.layer("attention").token_grid == (4, 4, 1)
    assert vit.layer("mlp1").channels == 24
    assert ActivationEngine(tiny_vit(class_token=False)).layer("attention").token_grid == (4, 4, 0)
    assert {i.layout for i in ActivationEngine(tiny_cnn()).layers} == {"image", "vector"}
