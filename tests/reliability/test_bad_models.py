"""Odd models and odd activations: a clear message or a correct view, never a crash.

Runs with every warning turned into an error, so a numpy RuntimeWarning (division by
zero, invalid value) while normalising NaN, Inf, constant or all-zero maps fails the test.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine, explore
from cnnviz_widgets.colour.normalize import NORMALIZATIONS
from cnnviz_widgets.errors import CnnvizError, UnsupportedModelError
from cnnviz_widgets.render.view import MapValue

layers = keras.layers


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="(?!cnnviz)")
        yield


def _message(ex) -> str:
    return ex.errors.message


def _oracle(model, layer_name, batch):
    sub = keras.Model(model.inputs[0], model.get_layer(layer_name).output)
    return np.asarray(sub(batch))[0]


def _images(shape, n=2, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def _walk_everything(ex):
    """Every layer x normalisation x (grid, channel 0), asserting the panel stays clean."""
    for info in ex.engine.layers:
        ex.layer = info.name
        for mode in NORMALIZATIONS:
            ex.normalization = mode
            for channel in (None, 0):
                ex.channel = channel
                assert _message(ex) == "", (info.name, mode, channel, _message(ex))
                view = ex.current_view()
                assert view.ndim == 2 and view.size > 0
                if isinstance(ex.value, MapValue):  # maps are in [0, 1]; vectors stay raw
                    finite = view[np.isfinite(view)]
                    assert finite.size == 0 or (finite.min() >= 0 and finite.max() <= 1)
                    assert ex.value.rendered.rgb.dtype == np.uint8
        ex.channel = None
        ex.normalization = "channel"


# -- models that cannot be explored: our error, saying what to do --------------------------


def _two_inputs():
    a, b = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
    return keras.Model([a, b], layers.Add()([layers.Conv2D(2, 3)(a), layers.Conv2D(2, 3)(b)]))


REFUSED = [
    ("several-inputs", _two_inputs, "sub-model that takes just the image input"),
    ("vector-input", lambda: keras.Sequential([keras.Input((10,)), layers.Dense(3)]),
     "not an image"),
    ("more-than-a-volume", lambda: keras.Sequential([
        keras.Input((2, 4, 8, 8, 1)), layers.Reshape((8, 8, 8, 1)), layers.Conv3D(2, 3)]),
     "more than a volume or a video"),
    ("unbuilt-model", lambda: keras.Sequential([layers.Conv2D(2, 3)]), "Build it first"),
    ("not-a-model", lambda: "model.keras", "Pass a keras.Model"),
    ("a-bare-layer", lambda: layers.Conv2D(2, 3), "Pass a keras.Model"),
]


@pytest.mark.parametrize(("builder", "phrase"), [r[1:] for r in REFUSED],
                         ids=[r[0] for r in REFUSED])
def test_unsupported_models_are_refused_with_a_clear_message(builder, phrase):
    model = builder()
    for make in (ActivationEngine, lambda m: explore(m, np.zeros((8, 8, 3)))):
        with pytest.raises(UnsupportedModelError) as info:
            make(model)
        assert phrase in str(info.value)


def test_a_sub_model_on_one_input_of_a_two_input_model_works():
    model = _two_inputs()
    conv = model.layers[2]
    sub = keras.Model(model.inputs[0], conv(model.inputs[0]))
    ex = explore(sub, _images((8, 8, 3)), include_samples=False)
    assert ex.current_view().shape[0] > 0 and _message(ex) == ""


# -- models that work, possibly with unusual views ---------------------------------------------


def test_no_spatial_layers_show_vectors():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 3)), layers.Flatten(name="flat"),
                              layers.Dense(4, name="dense")])
    images = _images((8, 8, 3))
    ex = explore(model, images, include_samples=False)
    assert ex.layer == "flat"
    _walk_everything(ex)
    ex.layer = "dense"
    expected = _oracle(model, "dense", ex.engine.prepare(images[0]))
    np.testing.assert_allclose(ex.current_view(), expected[None, :], rtol=1e-5, atol=1e-6)
    with pytest.raises(CnnvizError, match="0 to 3"):
        ex.channel = 4


def test_dynamic_shapes_follow_each_image():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((None, None, 3)), layers.Conv2D(4, 3, name="conv"),
                              layers.GlobalAveragePooling2D(name="gap"), layers.Dense(2, name="d")])
    images = [np.full((12, 10, 3), 60, np.uint8), _images((20, 31, 3), 1)[0]]
    ex = explore(model, images, include_samples=False)
    assert ex.engine.layer("conv").output_shape == (None, None, 4)
    for index, image in enumerate(images):
        ex.image_index = index
        act = ex.current_activation()
        assert act.shape == (image.shape[0] - 2, image.shape[1] - 2, 4)
        np.testing.assert_allclose(act, _oracle(model, "conv", ex.engine.prepare(image)),
                                   rtol=1e-5, atol=1e-6)
    _walk_everything(ex)
    assert "?x?x4" in ex.controls["layer"].options[0][0]


def test_one_channel_layer():
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(1, 3, name="one")])
    ex = explore(model, _images((8, 8)), include_samples=False)
    _walk_everything(ex)
    ex.channel = 0
    assert ex.shown_channels() == [0] and ex.page_count() == 1
    with pytest.raises(CnnvizError, match="has 1 channel"):
        ex.channel = 1
    assert "has 1 channel" in _message(ex)


def test_thousand_channel_layer_pages_through_the_grid():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 3)), layers.Conv2D(1000, 3, name="wide")])
    ex = explore(model, _images((6, 6, 3)), include_samples=False)
    assert ex.page_count() == 16  # 1000 channels, 64 per page
    seen = []
    for page in range(16):
        ex.page = page
        seen += ex.shown_channels()
    assert sorted(seen) == list(range(1000))
    with pytest.raises(CnnvizError, match="16 page"):
        ex.page = 16
    assert "16 page" in _message(ex)
    ex.page = 3
    assert _message(ex) == "" and ex.shown_channels() == list(range(192, 256))
    ex.channel = 999
    np.testing.assert_allclose(ex.current_activation()[..., 999],
                               _oracle(model, "wide", ex.engine.prepare(ex.images[0]))[..., 999],
                               rtol=1e-5, atol=1e-6)


def test_five_band_input_model():
    model = keras.Sequential([keras.Input((8, 8, 5)), layers.Conv2D(2, 3, name="c")])
    ex = explore(model, np.random.default_rng(0).random((2, 8, 8, 5), np.float32),
                 include_samples=False)
    _walk_everything(ex)
    with pytest.raises(CnnvizError, match="expects 5"):
        ex.add_image(np.zeros((8, 8, 3)))


# -- bad activations: NaN, Inf, constant, all zero --------------------------------------------


def _poisoned_model():
    """conv channels: 0 NaN, 1 +Inf/-Inf, 2 all zero, 3 constant 5, 4 normal."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        layers.Conv2D(5, 3, name="conv"),
        layers.Conv2D(3, 3, name="after"),  # mixes the poison into every channel
        layers.GlobalAveragePooling2D(name="gap"),
        layers.Dense(3, name="dense"),
    ])
    kernel, bias = model.get_layer("conv").get_weights()
    kernel[..., 0] = np.nan
    kernel[..., 1] = 0.0
    bias[1] = np.inf
    kernel[..., 2] = 0.0
    bias[2] = 0.0
    kernel[..., 3] = 0.0
    bias[3] = 5.0
    model.get_layer("conv").set_weights([kernel, bias])
    return model


def test_nan_inf_constant_and_zero_channels_are_shown_without_nan_or_warnings():
    model = _poisoned_model()
    images = _images((8, 8, 3))
    ex = explore(model, images, include_samples=False)
    ex.layer = "conv"
    act = ex.current_activation()
    assert np.isnan(act[..., 0]).all() and np.isinf(act[..., 1]).all()
    assert (act[..., 2] == 0).all() and (act[..., 3] == 5).all()
    caption = ex.value.caption
    assert "NaN" in caption and "infinite" in caption and "check the layer's weights" in caption
    _walk_everything(ex)  # no warning, colours finite, values in [0, 1]
    ex.layer = "conv"
    for mode, flat in (("channel", 0.0), ("layer", 0.0), ("standardize", 0.5), ("signed", 0.5)):
        ex.normalization = mode
        for channel in (2, 3):  # zero and constant channels come out flat, not NaN
            ex.channel = channel
            view = ex.current_view()
            assert np.isfinite(view).all()
            if mode in ("channel", "standardize"):
                np.testing.assert_allclose(view, flat)
        ex.channel = 4
        assert np.isfinite(ex.current_view()).all()  # the normal channel is unaffected
        ex.channel = 0
        assert np.isnan(ex.current_view()).all()  # NaN maps stay blank (background colour)
        assert (ex.value.rendered.rgb == 255).all()


def test_all_nan_downstream_layers_and_vectors():
    model = _poisoned_model()
    ex = explore(model, _images((8, 8, 3)), include_samples=False)
    for name in ("after", "gap", "dense"):
        ex.layer = name
        assert not np.isfinite(ex.current_activation()).any()
        assert _message(ex) == ""
        assert "NaN" in ex.value.caption
    ex.backend = "bqplot"
    for name in ("after", "dense"):
        ex.layer = name
        assert _message(ex) == ""


def test_log_of_negative_values_gives_nan_and_is_reported():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(4, 3, name="conv"),
                              layers.Activation(keras.ops.log, name="log")])
    ex = explore(model, _images((8, 8, 3)), include_samples=False)
    ex.layer = "log"
    act = ex.current_activation()
    assert np.isnan(act).any() and np.isfinite(act).any()
    assert "NaN" in ex.value.caption
    _walk_everything(ex)


def test_all_zero_model():
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(3, 3, name="c",
                                                                    kernel_initializer="zeros")])
    ex = explore(model, _images((8, 8)), include_samples=False)
    _walk_everything(ex)
    ex.normalization = "signed"
    ex.channel = 1
    np.testing.assert_array_equal(ex.current_view(), 0.5)
    assert "NaN" not in ex.value.caption
