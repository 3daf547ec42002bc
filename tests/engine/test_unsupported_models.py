"""Models the engine cannot show: our error, what is supported, and what to do instead.

Where a message suggests code, the test runs that code and checks the result against a
plain Keras sub-model.
"""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.errors import UnsupportedModelError
from cnnviz_widgets.testing import tiny_text_model

layers = keras.layers
SUPPORTED = "The engine shows models whose input is an image, (H, W, C) or (H, W), a signal"


def refusal(model) -> str:
    with pytest.raises(UnsupportedModelError) as info:
        ActivationEngine(model)
    message = str(info.value)
    assert SUPPORTED in message
    return message


def test_token_ids_suggest_the_model_after_the_embedding_and_it_works():
    model = tiny_text_model()
    message = refusal(model)
    assert "(None, 20) int32 is integer token ids (text)" in message
    sub_code = re.search(r"sub = (keras\.Model\(.*?\.output, model\.output\))", message)[1]
    embed_code = re.search(r"embedded = (keras\.Model\(.*?\[0\])", message)[1]
    use_code = re.search(r"then use (ActivationEngine\(sub\)\.activation\(.*?\))\.$",
                         message)[1]
    assert sub_code == "keras.Model(model.get_layer('embedding').output, model.output)"
    tokens = np.random.default_rng(0).integers(0, 50, size=20)
    names = {"keras": keras, "model": model, "token_ids": tokens,
             "ActivationEngine": ActivationEngine}
    names["sub"] = eval(sub_code, names)
    names["embedded"] = eval(embed_code, names)
    conv = eval(use_code, names)
    expected = keras.Model(model.inputs, model.get_layer("conv1d").output)([tokens[None]])
    np.testing.assert_allclose(conv, np.asarray(expected)[0], rtol=1e-5, atol=1e-6)
    engine = ActivationEngine(names["sub"])
    assert engine.plan.input_axes == "sequence" and engine.input_shape == (20, 8)
    np.testing.assert_allclose(engine.activation("probs", names["embedded"]),
                               np.asarray(model(tokens[None]))[0], rtol=1e-5, atol=1e-6)


def test_more_axes_than_a_volume_are_refused():
    inp = keras.Input((2, 4, 8, 8, 1))
    x = layers.Reshape((8, 8, 8, 1), name="frames_as_depth")(inp)
    model = keras.Model(inp, layers.Conv3D(2, 3, name="conv3d")(x))
    message = refusal(model)
    assert "(None, 2, 4, 8, 8, 1) float32 is 4 axes of positions and one of channels" in message
    assert "more than a volume or a video" in message
    code = re.search(r"e\.g\. (keras\.Model\(.*?, model\.output\))", message)[1]
    assert code == "keras.Model(model.get_layer('frames_as_depth').output, model.output)"
    engine = ActivationEngine(eval(code, {"keras": keras, "model": model}))
    assert engine.layer_names == ["conv3d"] and engine.input_shape == (8, 8, 8, 1)


def test_a_volume_folded_into_channels_is_a_volume_model_with_image_layers():
    inp = keras.Input((4, 8, 8, 1))
    x = layers.Reshape((8, 8, 4), name="frames_as_channels")(layers.Permute((2, 3, 1, 4))(inp))
    out = layers.Conv2D(3, 3, name="conv")(x)
    model = keras.Model(inp, out)
    engine = ActivationEngine(model)
    assert engine.plan.input_axes == "volume" and engine.layer("conv").layout == "image"
    volume = np.random.default_rng(2).uniform(0, 1, (4, 8, 8, 1)).astype(np.float32)
    expected = keras.Model(model.inputs, model.get_layer("conv").output)(
        engine.prepare(volume))
    np.testing.assert_allclose(engine.activation("conv", volume), np.asarray(expected)[0],
                               rtol=1e-5, atol=1e-5)


def test_an_unknown_number_of_channels_is_refused():
    image = keras.Sequential([keras.Input((8, 8, None)), layers.GlobalAveragePooling2D()])
    message = refusal(image)
    assert "no fixed number of channels" in message and "keras.Input((8, 8, 3))" in message
    signal = keras.Sequential([keras.Input((16, None)), layers.MaxPooling1D(2)])
    message = refusal(signal)
    assert "(None, 16, None) float32 has no fixed number" in message
    assert "keras.Input((16, 2))" in message


def test_a_vector_of_numbers_is_refused():
    message = refusal(keras.Sequential([keras.Input((10,)), layers.Dense(2)]))
    assert "(None, 10) float32 is a vector of numbers, not an image or a signal" in message


def test_an_integer_image_is_still_an_image():
    inp = keras.Input((8, 8), dtype="uint8")
    x = layers.Reshape((8, 8, 1))(layers.Rescaling(1 / 255, name="scale")(inp))
    model = keras.Model(inp, layers.Conv2D(2, 3, name="conv")(x))
    engine = ActivationEngine(model, preprocess=lambda x: x)
    image = np.random.default_rng(1).integers(0, 256, size=(8, 8)).astype(np.uint8)
    expected = keras.Model(model.inputs, model.get_layer("conv").output)([image[None]])
    np.testing.assert_allclose(engine.activation("conv", image), np.asarray(expected)[0],
                               rtol=1e-5, atol=1e-5)
