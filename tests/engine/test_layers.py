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
    assert engine.layer("per_row").output_shape == (6, 4)  # also one map, not 4 channels
    assert engine.layer("per_row").channels == 1
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
