"""Activation maximisation raises its objective by a large factor in few steps."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import (
    ActivationMaximization,
    Blur,
    Callback,
    ClassScore,
    Jitter,
    TotalVariation,
    WidgetProgress,
)
from cnnviz_widgets.attribution.maximize import _PixelMap
from cnnviz_widgets.attribution.regularizers import gaussian_blur
from cnnviz_widgets.errors import InvalidSettingError, LayerNotFoundError
from cnnviz_widgets.testing import (
    digits_like_cnn,
    nested_backbone_model,
    skip_connection_model,
    tiny_cnn,
)

STEPS = 30


@pytest.fixture(scope="module")
def digits():
    return ActivationMaximization(digits_like_cnn())


@pytest.mark.tensorflow_weights
def test_channel_gain_is_large_in_few_steps(digits):
    # pixel space: its start is noise, on which the channel is already on (the Fourier
    # default starts from a nearly uniform grey, where it is 0; see test_feature_vis.py)
    res = digits("conv2", channel=2, steps=STEPS, param="pixels")
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
    from cnnviz_widgets import zoo

    model = zoo.digits_cnn()
    am = ActivationMaximization(model)
    gains = [am("conv3", channel=c, steps=STEPS).gain for c in (0, 1, 3)]
    # measured about 17-19x in 30 steps
    assert min(gains) > 8, gains
    res = am(target=3, steps=STEPS)
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
    import ipywidgets

    widget = ipywidgets.IntProgress()
    digits("conv1", channel=1, steps=3, progress=WidgetProgress(widget))
    assert (widget.max, widget.value) == (3, 3)


def test_steps_are_only_the_parameter(monkeypatch, digits):
    # an environment variable from older versions no longer changes anything
    monkeypatch.setenv("CNNVIZ_MAX_STEPS", "3")
    assert digits("conv1", channel=0, steps=5).steps == 5
    assert digits("conv1", channel=0, steps=0).history.shape == (0,)
    for bad in (-1, 2.5, True):
        with pytest.raises(InvalidSettingError, match="steps"):
            digits("conv1", channel=0, steps=bad)


def test_callbacks_hear_begin_every_step_with_its_objective_and_end(digits):
    class Recorder(Callback):
        def __init__(self):
            self.events = []

        def on_begin(self, total):
            self.events.append(("begin", total))

        def __call__(self, step, total, value):
            self.events.append((step, total, value))

        def on_end(self):
            self.events.append(("end",))

    rec, other = Recorder(), Recorder()
    res = digits("conv1", channel=1, steps=4, progress=[rec, other])
    assert rec.events[0] == ("begin", 4) and rec.events[-1] == ("end",)
    assert [e[:2] for e in rec.events[1:-1]] == [(s, 4) for s in range(1, 5)]
    np.testing.assert_array_equal([e[2] for e in rec.events[1:-1]], res.history)
    assert other.events == rec.events

    class Failing(Callback):
        ended = False

        def __call__(self, step, total, value):
            raise RuntimeError("stop")

        def on_end(self):
            Failing.ended = True

    with pytest.raises(RuntimeError, match="stop"):
        digits("conv1", channel=1, steps=3, progress=Failing())
    assert Failing.ended  # on_end runs even when the loop fails


def test_a_function_is_wrapped_once_before_the_loop(digits, monkeypatch):
    from cnnviz_widgets import progress as callbacks

    wrapped = []
    original = callbacks.as_callback

    def counting(progress, *args):
        wrapped.append(progress)
        return original(progress, *args)

    monkeypatch.setattr(callbacks, "as_callback", counting)
    calls = []
    digits("conv1", channel=1, steps=6, progress=lambda s, t: calls.append((s, t)))
    assert len(wrapped) == 1 and calls == [(s, 6) for s in range(1, 7)]
    with pytest.raises(TypeError, match="progress"):
        digits("conv1", channel=1, steps=1, progress=42)


def test_class_target_and_regularizers(digits):
    kwargs = {"steps": STEPS, "transforms": [Jitter(1)],
              "regularizers": [TotalVariation(0.1), Blur(5, 0.7)]}
    res = digits(target=3, **kwargs)
    assert res.final > res.initial  # the logit of class 3 rises (a random model: slowly)
    same = digits(target=ClassScore(3), **kwargs)
    np.testing.assert_array_equal(res.image, same.image)
    assert digits.engine.model.layers[-1].activation.__name__ == "softmax"
    # the object's own strategies are the call's defaults
    built = ActivationMaximization(digits.engine, transforms=[Jitter(1)],
                                   regularizers=[TotalVariation(0.1), Blur(5, 0.7)])
    np.testing.assert_array_equal(built(target=3, steps=STEPS).image, res.image)
    # a jitter in regularizers= (the old way) still works, with a warning
    with pytest.warns(DeprecationWarning, match="transforms="):
        old = digits(target=3, steps=STEPS,
                     regularizers=[Jitter(1), TotalVariation(0.1), Blur(5, 0.7)])
    np.testing.assert_array_equal(old.image, res.image)


def test_from_settings_builds_the_strategies():
    am = ActivationMaximization.from_settings(tiny_cnn(), jitter=3, total_variation=0.5,
                                              blur_every=2, blur_sigma=0.25)
    assert am.transforms == (Jitter(3),)
    assert am.regularizers == (TotalVariation(0.5), Blur(2, 0.25))
    bare = ActivationMaximization.from_settings(am.engine, jitter=0, blur_every=0)
    assert bare.transforms == () and bare.regularizers == ()


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
    u = np.random.default_rng(0).uniform(0, 1, (1, 16, 16, 3)).astype(np.float32)
    want = keras.applications.vgg16.preprocess_input(u * 255.0)
    got = keras.ops.convert_to_numpy(pix.to_model(keras.ops.convert_to_tensor(u)))
    np.testing.assert_allclose(got, want, atol=1e-3)


def test_non_affine_preprocess_falls_back_to_input_space():
    engine = ActivationEngine(skip_connection_model(), preprocess=lambda x: (x / 255.0) ** 2)
    res = ActivationMaximization(engine)("stem", channel=1, steps=10)
    assert res.extra["pixel_space"] is False
    assert res.image.shape == (16, 16, 3) and res.final > res.initial


def test_blur_keeps_the_mean_and_smooths():
    u = np.random.default_rng(0).uniform(0, 1, (1, 20, 20, 2))
    b = gaussian_blur(u, 1.0)
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
    with pytest.raises(TypeError, match="Regularizer"):
        digits("conv1", channel=0, regularizers=["jitter"])
    with pytest.raises(TypeError, match="InputTransform"):
        digits("conv1", channel=0, transforms=[TotalVariation(1.0)])
    with pytest.raises(InvalidSettingError, match="learning_rate"):
        digits("conv1", channel=0, learning_rate=0)
