"""Concepts by non-negative factorisation, against planted directions and brute force."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz_widgets import find_concepts
from cnnviz_widgets.errors import InvalidSettingError
from tests.conftest import fashion_test_set, require

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: Directions the layer "parts" gives to the three parts of an image (one per class).
PLANTED = np.array([[1.0, 0.2, 0.0, 0.0, 0.5],
                    [0.0, 1.0, 0.8, 0.0, 0.0],
                    [0.1, 0.0, 0.3, 1.0, 0.0]], dtype=np.float32)


@pytest.fixture(scope="module", autouse=True)
def sklearn():
    return require("sklearn", "concepts")


def planted_model() -> keras.Model:
    """Input channel k of a pixel is part k; a 1x1 convolution maps it to PLANTED[k]; a
    head reads each part back as its class (``PLANTED @ head = I``)."""
    inputs = keras.Input((8, 8, 3))
    parts = keras.layers.Conv2D(5, 1, activation="relu", use_bias=False, name="parts")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(parts)
    outputs = keras.layers.Dense(3, use_bias=False, name="head")(pooled)
    model = keras.Model(inputs, outputs)
    model.get_layer("parts").set_weights([PLANTED[None, None]])
    model.get_layer("head").set_weights([np.linalg.pinv(PLANTED)])
    return model


def planted_images(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images of class k: most lit pixels show part k, a few another part."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, count)
    x = np.zeros((count, 8, 8, 3), np.uint8)
    for i, k in enumerate(labels):
        lit = rng.random((8, 8)) < 0.6
        part = np.where(rng.random((8, 8)) < 0.8, k, rng.integers(0, 3, (8, 8)))
        amplitude = rng.integers(60, 256, (8, 8))
        rows, cols = np.nonzero(lit)
        x[i, rows, cols, part[rows, cols]] = amplitude[rows, cols]
    return x, labels


@pytest.fixture(scope="module")
def planted():
    model = planted_model()
    x, y = planted_images(300)
    return model, x, y, find_concepts(model, x, "parts", n=3, labels=y, top_k=5)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_planted_directions_are_found_and_matter_for_their_class(planted):
    model, x, y, concepts = planted
    assert concepts.components.shape == (3, 5) and (concepts.components >= 0).all()
    cosine = _unit(concepts.components) @ _unit(PLANTED).T  # (concept, planted)
    match = cosine.argmax(axis=1)
    assert sorted(match.tolist()) == [0, 1, 2]
    assert cosine.max(axis=1).min() > 0.999
    assert concepts.reconstruction_error < 1e-3  # every position is one planted direction
    # each concept is found most in the images of its class ...
    np.testing.assert_array_equal(concepts.stats.class_means.argmax(axis=1), match)
    # ... and counts most for that class's score
    for k in range(3):
        importance = concepts.importance(k)
        assert int(np.argmax(importance)) == int(np.flatnonzero(match == k)[0])
        assert importance.max() > 10 * np.abs(np.delete(importance, importance.argmax())).max()


def test_importance_adds_up_to_gradient_times_activation(planted):
    """The head is linear: the contributions of the concepts sum to the mean class score."""
    model, x, y, concepts = planted
    scores = keras.ops.convert_to_numpy(model(x[:40].astype(np.float32) / 255.0))
    total = concepts.importance(1, images=list(x[:40])).sum()
    np.testing.assert_allclose(total, scores[:, 1].mean(), rtol=1e-3, atol=1e-5)


def test_maps_say_where_each_concept_is(planted):
    _, x, _, concepts = planted
    maps = concepts.maps(x[0])
    assert maps.shape == (3, 8, 8)
    for i, k in enumerate((_unit(concepts.components) @ _unit(PLANTED).T).argmax(axis=1)):
        there = x[0][..., k] > 0
        # elsewhere only the leak of a direction found to within a cosine of 0.999
        assert (maps[i][there] > 0).all()
        assert np.abs(maps[i][~there]).max() < 0.01 * maps[i].max()


@pytest.fixture(scope="module")
def fashion():
    from cnnviz_widgets import zoo

    model, x, y = fashion_test_set(600)
    return model, x, y, find_concepts(model, x, "conv3", n=6, labels=y, top_k=4,
                                      class_names=zoo.FASHION_MNIST_CLASSES)


def test_top_images_carry_more_of_their_concept_than_random_images(fashion):
    """The oracle: activations from a plain sub-model, coefficients by scipy's NNLS."""
    from scipy.optimize import nnls

    model, x, y, concepts = fashion
    assert (concepts.components >= 0).all() and 0 < concepts.reconstruction_error < 1
    sub = keras.Model(model.inputs, model.get_layer("conv3").output)

    def strength(images: np.ndarray, concept: int) -> np.ndarray:
        acts = np.asarray(sub.predict(images[..., None].astype(np.float32) / 255.0, verbose=0))
        rows = acts.reshape(len(images), -1, acts.shape[-1])
        return np.array([max(nnls(concepts.components.T.astype(np.float64),
                                  r.astype(np.float64))[0][concept] for r in image_rows)
                         for image_rows in rows])

    others = np.random.default_rng(1).choice(len(x), 12, replace=False)
    for concept in range(concepts.n):
        top = int(concepts.top_indices[concept, 0])
        best = strength(x[[top]], concept)[0]
        np.testing.assert_allclose(best, concepts.top_values[concept, 0], rtol=0.05)
        assert best > strength(x[others], concept).mean()
        assert concepts.label(concept).endswith(
            f"selectivity {concepts.stats.class_selectivity[concept]:.2f}")
    crops = concepts.crops(0)
    assert [c.index for c in crops] == concepts.top_indices[0].tolist()
    assert all(c.pixels.shape[0] < 28 for c in crops)  # cut to what conv3 sees


def test_a_layer_with_negative_values_is_refused(planted):
    _, x, _, _ = planted
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, name="linear")(inputs))
    with pytest.raises(InvalidSettingError, match="ReLU"):
        find_concepts(model, x[:20], "linear", n=2)


def test_a_set_too_large_to_keep_is_read_twice_with_the_same_result(planted, monkeypatch):
    from cnnviz_widgets.meaning import concepts as module

    model, x, y, kept = planted
    monkeypatch.setattr(module, "MAX_KEPT_BYTES", 10_000)  # a few batches at most
    twice = find_concepts(model, x, "parts", n=3, labels=y, top_k=5)
    np.testing.assert_allclose(twice.components, kept.components, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(twice.top_indices, kept.top_indices)
    np.testing.assert_allclose(twice.reconstruction_error, kept.reconstruction_error,
                               rtol=1e-4, atol=1e-7)
