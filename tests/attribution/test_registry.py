"""The registry declares the methods; a panel can build and run them from it."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.attribution import (
    METHODS,
    ActivationMaximization,
    Blur,
    Callback,
    GradCAM,
    Jitter,
    MethodSpec,
    ParamSpec,
    Saliency,
    SmoothGrad,
    TotalVariation,
    get_method,
    register_method,
)
from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.testing import tiny_cnn


@pytest.fixture(scope="module")
def model():
    return tiny_cnn()


def test_entries_and_params_are_well_formed():
    assert {"saliency", "smoothgrad", "gradcam", "activation_maximization"} <= set(METHODS)
    assert get_method("gradcam").cls is GradCAM
    assert get_method("smoothgrad").cls is SmoothGrad
    assert get_method("activation_maximization").cls is ActivationMaximization
    for spec in METHODS.values():
        assert spec.label and spec.output in ("heatmap", "image")
        names = [p.name for p in spec.params]
        assert len(names) == len(set(names))
        for p in spec.params:
            assert p.kind in ("int", "float", "choice", "bool", "layer", "class")
            assert p.validate(p.default) == p.default
            if p.min is not None and p.max is not None:
                assert p.min <= p.max
    with pytest.raises(KeyError, match="known"):
        get_method("deeplift")


def test_param_validation():
    p = ParamSpec("steps", "Steps", "int", 10, min=1, max=100)
    assert p.validate(5.0) == 5
    for bad in (0, 101, 2.5, True):
        with pytest.raises(ValueError):
            p.validate(bad)
    c = ParamSpec("mode", "Mode", "choice", "a", choices=("a", "b"))
    with pytest.raises(InvalidSettingError):
        c.validate("z")
    with pytest.raises(InvalidSettingError):
        p.validate("5")


def test_run_every_method(model):
    image = np.random.default_rng(0).uniform(0, 255, (8, 8)).astype(np.float32)
    sal = get_method("saliency").run(model, image, target=1)
    np.testing.assert_array_equal(sal, Saliency(model)(image, target=1))
    smooth = get_method("smoothgrad").run(model, image, samples=4)
    np.testing.assert_array_equal(smooth, SmoothGrad(Saliency(model), samples=4)(image))
    cam = get_method("gradcam").run(model, image, layer="conv_a")
    np.testing.assert_array_equal(cam, GradCAM(model, "conv_a")(image))
    am = get_method("activation_maximization")
    res = am.run(model, layer="conv_b", channel=2, steps=3)
    want = ActivationMaximization(model, param="fourier")("conv_b", channel=2, steps=3)
    assert res.steps == 3 and res.image.shape == (8, 8, 1)
    np.testing.assert_array_equal(res.image, want.image)
    res = am.run(model, layer="conv_b", channel=2, steps=3, param="pixels", jitter=0)
    want = ActivationMaximization(model, transforms=[], regularizers=[Blur(4, 0.5)])(
        "conv_b", channel=2, steps=3)
    np.testing.assert_array_equal(res.image, want.image)
    res = am.run(model, layer="conv_b", channel=2, steps=3, images=2)
    assert res.images.shape == (2, 8, 8, 1)
    res = am.run(model, target=1, steps=3, jitter=0)
    assert res.steps == 3 and res.channel is None
    with pytest.raises(TypeError, match="no parameter"):
        get_method("gradcam").run(model, image, bogus=1)
    with pytest.raises(InvalidSettingError, match="image"):
        get_method("gradcam").run(model)


def test_parameters_apply_only_when_they_make_sense(model):
    """A class target for a filter, or a filter for a class, is left out, not an error."""
    am = get_method("activation_maximization")
    assert not am.param("target").applies({"layer": "conv_b"})
    assert am.param("channel").applies({"layer": "conv_b"})
    assert am.param("target").applies({"layer": None})
    assert not am.param("channel").applies({"layer": None})
    # the panel sends every control's value: channel 0 with no layer, a class with a layer
    res = am.run(model, layer=None, channel=0, target=2, steps=2)
    assert res.layer is None and res.extra["target"] == 2
    res = am.run(model, layer="conv_b", channel=1, target=2, steps=2)
    assert res.layer == "conv_b" and res.channel == 1 and res.extra["target"] is None


def test_build_once_call_many_with_progress(model):
    spec = get_method("activation_maximization")
    method = spec.build(model, param="pixels", jitter=1, total_variation=0.5, blur_every=0,
                        steps=99)
    assert isinstance(method, ActivationMaximization)
    assert method.transforms == (Jitter(1),) and method.regularizers == (TotalVariation(0.5),)
    # the panel's default: lucid's image; the pixel settings are not passed at all
    init, _ = spec._split({"jitter": 1, "total_variation": 0.5})
    assert init == {"param": "fourier", "total_variation": 0.5}
    method = spec.build(model, jitter=1, total_variation=0.5)
    assert method.regularizers == (TotalVariation(0.5),)

    class Recorder(Callback):
        def __init__(self):
            self.steps = []

        def __call__(self, step, total, value):
            self.steps.append((step, total))

    rec = Recorder()
    res = spec.call(method, layer="conv_a", channel=0, steps=3, progress=rec)
    assert res.steps == 3 and rec.steps == [(1, 3), (2, 3), (3, 3)]
    calls = []
    image = np.random.default_rng(1).uniform(0, 255, (8, 8))
    get_method("smoothgrad").run(model, image, samples=5, progress=lambda s, t: calls.append(s))
    assert calls == [5]
    # a method that does not report progress ignores it
    get_method("gradcam").run(model, image, progress=lambda s, t: calls.append(s))
    assert calls == [5]


def test_adding_a_method_is_one_entry(model):
    class Constant:
        def __init__(self, model_or_engine, level=0.5):
            self.level = level

        def __call__(self, image, target=None):
            return np.full((8, 8), self.level)

    spec = register_method(MethodSpec("constant", "Constant", Constant, (
        ParamSpec("level", "Level", "float", 0.5, 0.0, 1.0, stage="init"),)))
    try:
        assert get_method("constant") is spec
        assert spec.run(model, np.zeros((8, 8)), level=0.25)[0, 0] == 0.25
    finally:
        METHODS.pop("constant")
