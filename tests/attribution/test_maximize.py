"""Activation maximisation raises its objective by a large factor in few steps."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import (
    ActivationMaximization,
    Blur,
    ClassScore,
    Jitter,
    TotalVariation,
)
from cnnviz_widgets.attribution.maximize import _gaussian_blur, _PixelMap
from cnnviz_widgets.errors import LayerNotFoundError
from cnnviz_widgets.testing import digits_like_cnn, nested_backbone_model, skip_connection_model


@pytest.fixture(autouse=True)
def few_steps(monkeypatch):
    monkeypatch.setenv("CNNVIZ_MAX_STEPS", "30")


@pytest.fixture(scope="module")
def digits():
    return ActivationMaximization(digits_like_cnn())


def test_channel_gain_is_large_in_capped_steps(digits):
    res = digits("conv2", channel=2, steps=1000)
    assert res.steps == 30 and res.history.shape == (30,)
    assert res.image.shape == (28, 28, 1) and res.image.dtype == np.uint8
    assert res.initial > 0
    # measured about 42x (random-initialised digits CNN, conv2 filter 2, 30 steps)
    assert res.gain > 10
    assert res.final > res.history[0]
    # the objective is the channel's spatial mean on the returned image
    act = digits.engine.activation("conv2", res.image)
    assert np.isclose(act[..., 2].mean(), res.final, rtol=0.05)


def test_trained_digits_conv3_channels():
    zoo = pytest.importorskip("cnnviz_widgets.zoo.digits")
    try:
        model = zoo.digits_cnn()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"digits zoo not available: {exc}")
    am = ActivationMaximization(model)
    gains = [am("conv3", channel=c).gain for c in (0, 1, 3)]
    # measured about 17-19x in 30 steps
    assert min(gains) > 8, gains
    res = am(target=3)
    # the logit of "3" goes from below zero to far above it (measured -0.57 -> 24.9)
    assert res.initial < 0 < 10 < res.final


def test_seeded_and_progress(digits):
    calls = []
    a = digits("conv1", channel=1, steps=5, seed=3, progress=lambda s, t: calls.append((s, t)))
    b = digits("conv1", channel=1, steps=5, seed=3)
    c = digits("conv1", channel=1, steps=5, seed=4)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.history, b.history)
    assert not np.array_equal(a.image, c.image)
    assert calls == [(s, 5) for s in range(1, 6)]

    class Bar:  # duck-typed ipywidgets.IntProgress
        value = -1
        max = 0
        seen: list = []

        def __setattr__(self, k, v):
            object.__setattr__(self, k, v)
            if k == "value":
                self.seen.append(v)

    bar = Bar()
    digits("conv1", channel=1, steps=4, progress=bar)
    assert bar.max == 4 and bar.value == 4 and bar.seen == [0, 1, 2, 3, 4]


def test_step_cap(monkeypatch, digits):
    monkeypatch.setenv("CNNVIZ_MAX_STEPS", "3")
    assert digits("conv1", channel=0, steps=50).steps == 3
    assert digits("conv1", channel=0, steps=2).steps == 2
    monkeypatch.setenv("CNNVIZ_MAX_STEPS", "many")
    with pytest.raises(ValueError, match="CNNVIZ_MAX_STEPS"):
        digits("conv1", channel=0, steps=2)


def test_class_target_and_regularizers(digits):
    res = digits(target=3, regularizers=[Jitter(1), TotalVariation(0.1), Blur(5, 0.7)])
    assert res.final > res.initial  # the logit of class 3 rises (a random model: slowly)
    same = digits(target=ClassScore(3), regularizers=[Jitter(1), TotalVariation(0.1),
                                                      Blur(5, 0.7)])
    np.testing.assert_array_equal(res.image, same.image)
    assert digits.engine.model.layers[-1].activation.__name__ == "softmax"


def test_nested_backbone_layer():
    am = ActivationMaximization(nested_backbone_model())
    res = am("backbone/block/conv", channel=1, steps=20)
    assert res.image.shape == (32, 32, 3)
    assert res.final > res.initial


def test_vgg_style_preprocess_is_fitted_as_affine():
    import keras

    engine = ActivationEngine(skip_connection_model(),
                              preprocess=keras.applications.vgg16.preprocess_input)
    pix = _PixelMap(engine, 16, 16, 3)
    assert pix.affine
    import tensorflow as tf

    u = np.random.default_rng(0).uniform(0, 1, (1, 16, 16, 3)).astype(np.float32)
    want = keras.applications.vgg16.preprocess_input(u * 255.0)
    np.testing.assert_allclose(pix.to_model(tf, tf.constant(u)).numpy(), want, atol=1e-3)


def test_non_affine_preprocess_falls_back_to_input_space():
    engine = ActivationEngine(skip_connection_model(), preprocess=lambda x: (x / 255.0) ** 2)
    res = ActivationMaximization(engine)("stem", channel=1, steps=10)
    assert res.extra["pixel_space"] is False
    assert res.image.shape == (16, 16, 3) and res.final > res.initial


def test_blur_keeps_the_mean_and_smooths():
    u = np.random.default_rng(0).uniform(0, 1, (1, 20, 20, 2))
    b = _gaussian_blur(u, 1.0)
    assert abs(b.mean() - u.mean()) < 0.01
    assert np.abs(np.diff(b, axis=1)).mean() < 0.5 * np.abs(np.diff(u, axis=1)).mean()


def test_errors(digits):
    with pytest.raises(ValueError, match="Nothing to maximise"):
        digits()
    with pytest.raises(ValueError, match="channel"):
        digits("conv1")
    with pytest.raises(ValueError):
        digits(channel=3)
    with pytest.raises(IndexError):
        digits("conv1", channel=99)
    with pytest.raises(LayerNotFoundError):
        digits("conv9", channel=0)
    with pytest.raises(TypeError):
        digits("conv1", channel=0, regularizers=["jitter"])
