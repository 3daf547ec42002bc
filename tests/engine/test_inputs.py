"""The image preparation steps, checked value by value."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.engine.inputs import decode_image, fit_channels, resize
from cnnviz_widgets.testing import skip_connection_model, tiny_cnn


def test_uint8_and_unit_float_arrays_decode_to_the_same_pixels():
    u8 = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    np.testing.assert_allclose(decode_image(u8), decode_image(u8 / 255.0), rtol=1e-6)


def test_sixteen_bit_is_rescaled_to_0_255():
    arr = np.array([[0, 65535]], dtype=np.uint16)
    np.testing.assert_allclose(decode_image(arr), [[0.0, 255.0]])


def test_gray_to_rgb_repeats_and_rgba_drops_alpha():
    gray = np.full((2, 2), 100.0, np.float32)
    assert fit_channels(gray, 3).shape == (2, 2, 3)
    rgba = np.zeros((2, 2, 4), np.float32)
    rgba[..., 3] = 255
    np.testing.assert_array_equal(fit_channels(rgba, 3), np.zeros((2, 2, 3)))


def test_batch_of_one_is_unwrapped_and_bigger_batches_are_refused():
    assert decode_image(np.zeros((1, 4, 4, 3), np.uint8)).shape == (4, 4, 3)
    with pytest.raises(ValueError, match="batch of 3"):
        decode_image(np.zeros((3, 4, 4, 3), np.uint8))


def test_resize_keeps_a_constant_image_constant():
    out = resize(np.full((10, 30, 3), 7.0, np.float32), 8, 8)
    assert out.shape == (8, 8, 3)
    np.testing.assert_allclose(out, 7.0, rtol=1e-6)


def test_default_preprocess_divides_by_255_for_unknown_models():
    engine = ActivationEngine(tiny_cnn())
    np.testing.assert_allclose(engine.prepare(np.full((8, 8), 255, np.uint8)), 1.0)


def test_explicit_preprocess_is_used():
    engine = ActivationEngine(tiny_cnn(), preprocess=lambda x: x - 1.0)
    np.testing.assert_allclose(engine.prepare(np.zeros((8, 8), np.uint8)), -1.0)


def test_keras_applications_models_get_their_preprocess_input():
    import keras

    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    engine = ActivationEngine(model)
    image = np.full((32, 32, 3), 200, np.uint8)
    expected = keras.applications.vgg16.preprocess_input(image[None].astype(np.float32))
    np.testing.assert_allclose(engine.prepare(image), expected)


def test_flexible_input_size_keeps_the_image_size():
    import keras

    inp = keras.Input((None, None, 3))
    model = keras.Model(inp, keras.layers.Conv2D(2, 3, padding="same", name="c")(inp))
    engine = ActivationEngine(model)
    assert engine.activation("c", np.zeros((13, 21, 3), np.uint8)).shape == (13, 21, 2)
    assert engine.layer("c").output_shape == (None, None, 2)


def test_pil_image_and_path_give_the_same_input(tmp_path):
    engine = ActivationEngine(skip_connection_model())
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), np.uint8))
    image.save(tmp_path / "x.png")
    np.testing.assert_array_equal(engine.prepare(image), engine.prepare(tmp_path / "x.png"))
    np.testing.assert_array_equal(engine.prepare(image),
                                  engine.prepare((tmp_path / "x.png").read_bytes()))


def _gradient_image(height: int = 40, width: int = 64) -> np.ndarray:
    """Smooth content: red ramps across, green ramps down, blue is a diagonal wave."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 255 * x / (width - 1)
    green = 255 * y / (height - 1)
    blue = 127.5 + 127.5 * np.sin((x + 2 * y) / 5.0)
    return np.rint(np.stack([red, green, blue], axis=-1)).astype(np.uint8)


@pytest.mark.parametrize("source", [(40, 64), (7, 9)], ids=["shrink", "enlarge"])
def test_resize_to_a_non_square_input_matches_pillow_on_real_content(source):
    import keras

    model = keras.Sequential([keras.Input((12, 20, 3)), keras.layers.Conv2D(1, 1, name="c")])
    engine = ActivationEngine(model, preprocess=lambda x: x)  # see the 0-255 pixels
    image = _gradient_image(*source)
    prepared = engine.prepare(image)[0]
    assert prepared.shape == (12, 20, 3)
    # Pillow's own 8-bit RGB bilinear resize: another code path than the engine's float
    # planes. It resizes in two passes, each rounding to whole numbers, so it may differ
    # by at most 0.5 + 0.5: a tolerance of 1 on the 0-255 scale (observed 0.74 and 0.94)
    pillow = np.asarray(Image.fromarray(image).resize((20, 12), Image.Resampling.BILINEAR),
                        dtype=np.float32)
    assert np.abs(prepared - pillow).max() <= 1.0
    # the tolerance is far below what a wrong method or orientation would give
    nearest = np.asarray(Image.fromarray(image).resize((20, 12), Image.Resampling.NEAREST),
                         dtype=np.float32)
    assert np.abs(nearest - pillow).max() > 10
    flipped = np.asarray(Image.fromarray(image[::-1]).resize((20, 12),
                                                             Image.Resampling.BILINEAR))
    assert np.abs(prepared - flipped).max() > 100


@pytest.mark.parametrize("shape, input_shape", [
    ((5, 12, 10), (12, 10, 1)), ((5, 12, 10, 1), (12, 10, 1)), ((5, 12, 10), (12, 10)),
    ((5, 12, 10), (12, 10, 3)), ((5, 12, 10, 3), (12, 10, 3)), ((5, 12, 10), (None, None, 1)),
])
def test_a_fitting_uint8_stack_gives_the_pixels_of_each_image(shape, input_shape):
    from cnnviz_widgets.engine.inputs import decode_image, fit_channels, resize, stack_pixels

    stack = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    channels = input_shape[-1] if len(input_shape) == 3 else None
    one_by_one = np.stack([resize(fit_channels(decode_image(image), channels),
                                  input_shape[0], input_shape[1]) for image in stack])
    fast = stack_pixels(stack, input_shape)
    assert fast.dtype == np.float32
    np.testing.assert_array_equal(fast, one_by_one)


@pytest.mark.parametrize("stack, input_shape", [
    (np.zeros((2, 12, 10), np.float32), (12, 10, 1)),   # floats follow per-image rules
    (np.zeros((2, 12, 10), np.uint8), (24, 20, 1)),     # needs resizing
    (np.zeros((2, 12, 10, 3), np.uint8), (12, 10, 1)),  # colour to grey
    (np.zeros((2, 12, 10, 4), np.uint8), (12, 10, 3)),  # RGBA
    ([np.zeros((12, 10), np.uint8)], (12, 10, 1)),      # not a stack
])
def test_other_stacks_go_image_by_image(stack, input_shape):
    from cnnviz_widgets.engine.inputs import stack_pixels

    assert stack_pixels(stack, input_shape) is None
