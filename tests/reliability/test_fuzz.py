"""Property-based fuzzing of image decoding and of the engine over random small models."""

from __future__ import annotations

import io
import warnings

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.engine.inputs import decode_image
from cnnviz_widgets.errors import CnnvizError

FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _check_decoded(out: np.ndarray) -> None:
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    assert out.ndim in (2, 3) and out.shape[0] > 0 and out.shape[1] > 0
    assert np.isfinite(out).all()


def _decode_or_our_error(value) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy warning would mean an unchecked value
        try:
            out = decode_image(value)
        except CnnvizError:
            return
    _check_decoded(out)


# -- decoding -------------------------------------------------------------------------------

_PNG = io.BytesIO()
Image.new("RGB", (5, 4), (10, 20, 30)).save(_PNG, format="PNG")
_PNG = _PNG.getvalue()


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes_decode_or_raise_our_error(data):
    _decode_or_our_error(data)


@FUZZ
@given(st.integers(0, len(_PNG)), st.binary(max_size=32), st.integers(0, len(_PNG)))
def test_mutated_png_decodes_or_raises_our_error(cut, junk, where):
    data = bytearray(_PNG[:cut])
    data[min(where, len(data)):min(where, len(data)) + len(junk)] = junk
    _decode_or_our_error(bytes(data))


_DTYPES = st.sampled_from([np.uint8, np.uint16, np.int8, np.int16, np.int32, np.int64,
                           np.uint32, np.float16, np.float32, np.float64, np.bool_,
                           np.complex64])


@FUZZ
@given(hnp.arrays(_DTYPES, hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=6)))
def test_random_arrays_decode_or_raise_our_error(arr):
    # hypothesis fills float arrays with NaN, +-Inf, subnormals and huge values too
    _decode_or_our_error(arr)


@FUZZ
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 5),
                                        st.sampled_from([1, 3, 4])),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=64)))
def test_float_images_with_nan_inf_and_extremes(arr):
    _decode_or_our_error(arr)


@FUZZ
@given(st.sampled_from(["L", "RGB", "RGBA", "P", "CMYK", "I", "F", "LA", "1", "I;16"]),
       st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**16))
def test_pil_images_of_any_mode_decode(mode, w, h, seed):
    rng = np.random.default_rng(seed)
    image = Image.frombytes(mode, (w, h), rng.bytes(w * h * 8)) if mode != "1" else \
        Image.new("1", (w, h), int(seed % 2))
    _decode_or_our_error(image)


# -- the engine over random small models -------------------------------------------------------


@st.composite
def small_models(draw):
    side = draw(st.integers(4, 12))
    channels = draw(st.sampled_from([1, 3]))
    functional = draw(st.booleans())
    layers = keras.layers
    stack = []
    spatial = side
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "bn", "relu"]))
        if kind == "conv":
            k = draw(st.sampled_from([1, 3]))
            padding = "same" if spatial < k + 1 else draw(st.sampled_from(["same", "valid"]))
            stack.append(layers.Conv2D(draw(st.integers(1, 6)), k, padding=padding,
                                       activation=draw(st.sampled_from([None, "relu", "tanh"])),
                                       name=f"conv{i}"))
            spatial = spatial if padding == "same" else spatial - k + 1
        elif kind == "pool" and spatial >= 2:
            stack.append(layers.MaxPooling2D(2, name=f"pool{i}"))
            spatial //= 2
        elif kind == "bn":
            stack.append(layers.BatchNormalization(name=f"bn{i}"))
        else:
            stack.append(layers.ReLU(name=f"relu{i}"))
    head = draw(st.sampled_from(["none", "gap", "flatten"]))
    if head == "gap":
        stack += [layers.GlobalAveragePooling2D(name="gap"), layers.Dense(3, name="dense")]
    elif head == "flatten":
        stack += [layers.Flatten(name="flat"), layers.Dense(4, name="dense")]
    seed = draw(st.integers(0, 1000))
    keras.utils.set_random_seed(seed)
    if functional:
        inp = keras.Input((side, side, channels))
        x = inp
        for layer in stack:
            x = layer(x)
        model = keras.Model(inp, x)
    else:
        model = keras.Sequential([keras.Input((side, side, channels)), *stack])
    for layer in model.layers:  # non-trivial batch-norm statistics
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            rng = np.random.default_rng(seed)
            layer.set_weights([gamma * 1.5, beta + 0.1, mean + rng.normal(0, 0.1, mean.shape),
                               var * 2.0])
    return model, (side, side, channels), seed


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_models(), st.sampled_from(["uint8", "unit", "gray2d"]))
def test_engine_matches_keras_on_random_models(spec, image_kind):
    model, shape, seed = spec
    rng = np.random.default_rng(seed)
    if image_kind == "uint8":
        image = rng.integers(0, 256, shape, dtype=np.uint8)
    elif image_kind == "unit":
        image = rng.random(shape, np.float32)
    else:  # a grayscale image, whatever the model's channels
        image = rng.integers(0, 256, shape[:2], dtype=np.uint8)
    engine = ActivationEngine(model)
    batch = engine.prepare(image)
    assert batch.shape == (1, *shape)
    names = engine.layer_names
    order = list(rng.permutation(names))  # any order: the cache must never mix layers up
    got = engine.activations(order, image)
    for name in names:
        layer = model.get_layer(name)
        oracle = np.asarray(keras.Model(model.inputs[0], layer.output)(batch))[0]
        assert got[name].shape == oracle.shape == engine.layer(name).output_shape
        np.testing.assert_allclose(got[name], oracle, rtol=1e-5, atol=1e-5 * (
            1 + np.abs(oracle).max(initial=0)))
    # asking again costs nothing
    evaluations = engine.stats.layer_evaluations
    engine.activation(names[-1], image)
    assert engine.stats.layer_evaluations == evaluations
