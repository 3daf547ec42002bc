"""MuFidelity, stability (max-sensitivity), complexity and sparseness against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets._keras import keras
from cnnviz_widgets.attribution import complexity, mu_fidelity, sparseness, stability
from cnnviz_widgets.attribution.registry import MethodSpec, ParamSpec


def test_complexity_is_the_entropy_of_the_normalised_map():
    heat = np.array([[1.0, -2.0], [3.0, 4.0]])
    p = np.abs(heat).ravel() / 10.0
    assert complexity(heat) == pytest.approx(-np.sum(p * np.log(p)), abs=1e-6)
    assert complexity(np.ones((4, 4))) == pytest.approx(np.log(16), abs=1e-6)
    assert complexity({"one": np.diag([1.0, 0.0, 0.0])})["one"] == pytest.approx(0.0, abs=1e-6)


def test_sparseness_is_the_gini_index():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    v = x.ravel()
    mean_difference = np.abs(v[:, None] - v[None, :]).sum() / (2 * v.size ** 2 * v.mean())
    assert sparseness(x) == pytest.approx(mean_difference, abs=1e-6)  # 0.25
    assert sparseness(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-6)
    one_hot = np.zeros((2, 2))
    one_hot[1, 0] = 5.0
    assert sparseness({"a": one_hot})["a"] == pytest.approx(1 - 1 / 4, abs=1e-6)


@pytest.fixture(scope="module")
def linear():
    """logit_0 = w . x on a 6 x 6 grey image (pixels / 255), logit_1 = 0."""
    rng = np.random.default_rng(0)
    inputs = keras.Input((6, 6, 1))
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    w = rng.normal(size=36).astype("float32")
    dense.set_weights([np.stack([w, np.zeros(36, "float32")], 1), np.zeros(2, "float32")])
    engine = ActivationEngine(model, preprocess=lambda p: np.asarray(p) / 255.0)
    image = rng.uniform(60, 200, (6, 6, 1)).astype("float32")
    return engine, w.reshape(6, 6), image


def test_mu_fidelity_is_one_for_the_exact_contributions_of_a_linear_model(linear):
    engine, w, image = linear
    exact = w * image[..., 0] / 255.0  # what each pixel adds to the logit
    scores = mu_fidelity(engine, image, {"exact": exact, "negated": -exact,
                                         "flat": np.ones((6, 6))},
                         target=0, probabilities=False, grid_size=6, samples=50)
    assert scores["exact"] == pytest.approx(1.0, abs=1e-5)
    assert scores["negated"] == pytest.approx(-1.0, abs=1e-5)
    assert abs(scores["flat"]) < 0.9


def test_stability_is_zero_for_a_gradient_that_does_not_depend_on_the_input(linear):
    engine, _, image = linear
    assert stability(engine, image, "saliency", target=0, samples=3) == pytest.approx(0.0,
                                                                                     abs=1e-6)


class PixelsMap:
    """A method whose map is the image's grey pixels."""

    def __init__(self, model_or_engine):
        self.engine = model_or_engine

    def __call__(self, image, target=None):
        return np.asarray(self.engine.pixels(image), dtype=np.float64)[..., 0]


def test_stability_is_the_largest_relative_change(linear):
    engine, _, image = linear
    spec = MethodSpec("pixels", "Pixels", PixelsMap, (ParamSpec("target", "Class", "class"),))
    result = stability(engine, image, spec, target=0, radius=0.05, samples=4, seed=7)
    rng = np.random.default_rng(7)
    base = image[..., 0].astype(np.float64)
    changes = []
    for _ in range(4):  # the image lies far from 0 and 255: no clipping
        noisy = (image + rng.uniform(-0.05 * 255, 0.05 * 255, image.shape)).astype("float32")
        changes.append(np.linalg.norm(noisy[..., 0] - base) / np.linalg.norm(base))
    assert result == pytest.approx(max(changes), rel=1e-5)
