"""Bad requests raise our own exception types with messages that say what to do."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.errors import (
    CnnvizError,
    ImageDecodeError,
    ImageShapeError,
    InvalidSettingError,
    LayerNotFoundError,
    UnsupportedModelError,
)
from cnnviz_widgets.testing import tiny_cnn


@pytest.fixture(scope="module")
def engine():
    return ActivationEngine(tiny_cnn())


def test_unknown_layer_lists_close_matches(engine):
    with pytest.raises(LayerNotFoundError) as info:
        engine.activation("conv_c", np.zeros((8, 8)))
    message = str(info.value)
    assert "conv_a" in message and "conv_b" in message and "engine.layers" in message
    assert isinstance(info.value, KeyError) and isinstance(info.value, CnnvizError)


@pytest.mark.parametrize("name", [3, None, 1.5, ["conv_a"]], ids=["int", "None", "float", "list"])
def test_a_layer_that_is_not_named_by_a_string_says_how_to_name_one(engine, name):
    for ask in (lambda: engine.activation(name, np.zeros((8, 8))), lambda: engine.layer(name),
                lambda: engine.keras_layer(name), lambda: engine.viewable(name),
                lambda: engine.features(name, np.zeros((2, 8, 8))),
                lambda: engine.forward(engine.prepare(np.zeros((8, 8))), [name])):
        with pytest.raises(InvalidSettingError) as info:
            ask()
        message = str(info.value)
        assert "named by a string" in message and "engine.layer_names" in message
        assert repr(name) in message and isinstance(info.value, CnnvizError)


def test_undecodable_bytes(engine):
    with pytest.raises(ImageDecodeError, match="Could not read"):
        engine.prepare(b"this is not an image")


def test_missing_file(engine, tmp_path):
    with pytest.raises(ImageDecodeError, match="no image file"):
        engine.prepare(tmp_path / "missing.png")


def test_wrong_number_of_channels(engine):
    with pytest.raises(ImageShapeError, match="5 channel"):
        engine.prepare(np.zeros((8, 8, 5), np.uint8))


def test_non_finite_values(engine):
    image = np.zeros((8, 8), np.float32)
    image[2, 3] = np.nan
    with pytest.raises(ImageShapeError, match="NaN"):
        engine.prepare(image)


def test_model_with_non_image_input():
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(2)])
    with pytest.raises(UnsupportedModelError, match="not an image"):
        ActivationEngine(model)


def test_model_with_two_inputs():
    a, b = keras.Input((8, 8, 1)), keras.Input((8, 8, 1))
    model = keras.Model([a, b], keras.layers.Add()([a, b]))
    with pytest.raises(UnsupportedModelError, match="2 inputs"):
        ActivationEngine(model)


def test_not_a_model():
    with pytest.raises(UnsupportedModelError, match="Keras model"):
        ActivationEngine("vgg16")


def test_rgb_png_bytes_for_a_grayscale_model_are_converted(engine):
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), (255, 0, 0)).save(buffer, format="PNG")
    x = engine.prepare(buffer.getvalue())
    assert x.shape == (1, 8, 8, 1)
    # red through ITU-R 601 luma, then divided by 255
    np.testing.assert_allclose(x, 0.299, atol=1e-3)
