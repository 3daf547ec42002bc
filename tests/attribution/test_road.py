"""ROAD (Rong et al. 2022): noisy linear imputation and the MoRF / LeRF curves."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets._keras import keras
from cnnviz_widgets.attribution.metrics.road import impute, road

# the reference's neighbours (pytorch-grad-cam metrics/road.py, after Rong et al.)
REFERENCE = [((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12),
             ((0, -1), 1 / 6), ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6)]


def dense_imputation(image: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """The reference's linear system written as a dense matrix, pixel by pixel."""
    h, w, c = image.shape
    unknown = [(y, x) for y in range(h) for x in range(w) if removed[y, x]]
    index = {p: i for i, p in enumerate(unknown)}
    a = np.zeros((len(unknown), len(unknown)))
    b = np.zeros((len(unknown), c))
    for i, (y, x) in enumerate(unknown):
        total = 0.0
        for (dy, dx), weight in REFERENCE:
            ny, nx = y + dy, x + dx
            if not (0 <= ny < h and 0 <= nx < w):
                continue
            total += weight
            if removed[ny, nx]:
                a[i, index[(ny, nx)]] = weight
            else:
                b[i] -= weight * image[ny, nx]
        a[i, i] = -total
    out = image.astype(np.float64).copy()
    solution = np.linalg.solve(a, b)
    for i, (y, x) in enumerate(unknown):
        out[y, x] = solution[i]
    return out


def test_imputation_equals_the_dense_linear_system():
    rng = np.random.default_rng(0)
    image = rng.random((7, 6, 3)) * 255
    removed = rng.random((7, 6)) < 0.6
    removed[0, 0] = False  # at least one kept pixel
    ours = impute(image, removed, noise=0.0, tolerance=1e-12)
    np.testing.assert_allclose(ours, dense_imputation(image, removed), rtol=1e-8, atol=1e-8)


def test_imputation_noise_touches_only_removed_pixels():
    rng = np.random.default_rng(1)
    image = rng.random((30, 30)) * 255
    removed = np.zeros((30, 30), bool)
    removed[5:25, 5:25] = True
    plain = impute(image, removed, noise=0.0)
    noisy = impute(image, removed, noise=3.0, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(noisy[~removed], image[~removed])
    assert np.std((noisy - plain)[removed]) == pytest.approx(3.0, rel=0.1)


def quarter_model() -> keras.Model:
    """Class 0's logit is the sum of the top-left quarter of an 8 x 8 image; class 1's is 0."""
    inputs = keras.Input((8, 8, 1))
    quarter = keras.layers.Cropping2D(((0, 4), (0, 4)))(inputs)
    flat = keras.layers.Flatten()(quarter)
    dense = keras.layers.Dense(2, activation="softmax")
    outputs = dense(flat)
    model = keras.Model(inputs, outputs)
    dense.set_weights([np.stack([np.full(16, 0.5), np.zeros(16)], axis=1).astype("float32"),
                       np.array([-4.0, 0.0], "float32")])
    return model


@pytest.fixture(scope="module")
def quarter():
    model = quarter_model()
    engine = ActivationEngine(model, preprocess=lambda p: np.asarray(p) / 255.0)
    image = np.zeros((8, 8, 1), np.float32)
    image[:4, :4] = 255.0
    return model, engine, image


def test_road_curves_equal_an_independent_implementation(quarter):
    model, engine, image = quarter
    heat = np.random.default_rng(3).random((8, 8))
    result = road(engine, image, heat, target=0, percentiles=(25, 50, 75), noise=0.0)
    order = np.argsort(-heat.ravel(), kind="stable")
    expected = {"morf": [], "lerf": []}
    for p in (25, 50, 75):
        n = int(64 * p / 100)
        for curve, chosen in (("morf", order[:n]), ("lerf", order[64 - n:])):
            removed = np.zeros(64, bool)
            removed[chosen] = True
            filled = dense_imputation(image.astype(np.float64), removed.reshape(8, 8))
            probs = np.asarray(model(filled[None].astype("float32") / 255.0))
            expected[curve].append(probs[0, 0])
    np.testing.assert_allclose(result.morf, expected["morf"], atol=1e-5)
    np.testing.assert_allclose(result.lerf, expected["lerf"], atol=1e-5)
    assert result.combined == pytest.approx(
        (np.mean(expected["lerf"]) - np.mean(expected["morf"])) / 2, abs=1e-5)


def test_the_map_of_the_quarter_the_model_reads_scores_better(quarter):
    _, engine, image = quarter
    read = np.zeros((8, 8))
    read[:4, :4] = 1.0
    other = np.zeros((8, 8))
    other[4:, 4:] = 1.0
    results = road(engine, image, {"read": read, "other": other}, target=0)
    assert results["read"].combined > results["other"].combined + 0.1
    assert results["read"].morf_mean < results["other"].morf_mean
