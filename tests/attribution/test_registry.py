"""The registry declares the methods; a panel can build and run them from it."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.attribution import (
    METHODS,
    ActivationMaximization,
    GradCAM,
    MethodSpec,
    ParamSpec,
    Saliency,
    get_method,
    register_method,
)
from cnnviz_widgets.testing import tiny_cnn


@pytest.fixture(scope="module")
def model():
    return tiny_cnn()


def test_entries_and_params_are_well_formed():
    assert {"saliency", "smoothgrad", "gradcam", "activation_maximization"} <= set(METHODS)
    assert get_method("gradcam").cls is GradCAM
    assert get_method("smoothgrad").cls is Saliency
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
        get_method("lrp")


def test_param_validation():
    p = ParamSpec("steps", "Steps", "int", 10, min=1, max=100)
    assert p.validate(5.0) == 5
    for bad in (0, 101, 2.5, True):
        with pytest.raises(ValueError):
            p.validate(bad)
    c = ParamSpec("mode", "Mode", "choice", "a", choices=("a", "b"))
    with pytest.raises(ValueError):
        c.validate("z")


def test_run_every_method(model, monkeypatch):
    monkeypatch.setenv("CNNVIZ_MAX_STEPS", "3")
    image = np.random.default_rng(0).uniform(0, 255, (8, 8)).astype(np.float32)
    sal = get_method("saliency").run(model, image, target=1)
    np.testing.assert_array_equal(sal, Saliency(model)(image, target=1))
    smooth = get_method("smoothgrad").run(model, image, smooth_samples=4)
    np.testing.assert_array_equal(smooth, Saliency(model)(image, smooth_samples=4))
    cam = get_method("gradcam").run(model, image, layer="conv_a")
    np.testing.assert_array_equal(cam, GradCAM(model, "conv_a")(image))
    res = get_method("activation_maximization").run(model, layer="conv_b", channel=2)
    assert res.steps == 3 and res.image.shape == (8, 8, 1)
    res = get_method("activation_maximization").run(model, target=1, jitter=0)
    assert res.steps == 3
    with pytest.raises(TypeError, match="no parameter"):
        get_method("gradcam").run(model, image, bogus=1)
    with pytest.raises(ValueError, match="image"):
        get_method("gradcam").run(model)


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
