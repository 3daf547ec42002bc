"""KPCA-CAM, FEM and Finer-CAM against their published formulas, written here in NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.attribution import FEM, KPCACAM, FinerCAM, GradCAM, get_method
from tests.attribution.helpers import feature_and_gradient
from tests.conftest import require


def _model():
    """Input (10, 10, 3) -> conv1 (ReLU, 4) -> conv2 (ReLU, 6) -> mean -> linear Dense (7)."""
    import keras

    keras.utils.set_random_seed(5)
    layers = keras.layers
    return keras.Sequential([keras.Input((10, 10, 3)),
                             layers.Conv2D(4, 3, activation="relu", name="conv1"),
                             layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2"),
                             layers.GlobalAveragePooling2D(name="pool"),
                             layers.Dense(7, name="out")])


@pytest.fixture(scope="module")
def setup():
    model = _model()
    image = np.random.default_rng(0).uniform(0, 255, (10, 10, 3)).astype(np.float32)
    return model, image


def _features(model, batch, layer="conv2"):
    a, _ = feature_and_gradient(model, layer, batch, lambda out: out[:, 0])
    return a


def test_fem_equals_the_k_sigma_rule(setup):
    model, image = setup
    cam = FEM(model, "conv2", k=1.0)
    a = _features(model, cam.engine.prepare(image))
    weights = [(a[..., c] > a[..., c].mean() + 1.0 * a[..., c].std()).mean()
               for c in range(a.shape[-1])]
    want = np.maximum(sum(w * a[..., c] for c, w in enumerate(weights)), 0.0)
    np.testing.assert_allclose(cam(image, upsample=False), want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kernel", ["sigmoid", "rbf"])
def test_kpcacam_equals_scikit_learns_kernel_pca(setup, kernel):
    decomposition = require("sklearn.decomposition")
    model, image = setup
    cam = KPCACAM(model, "conv2", kernel=kernel)
    a = _features(model, cam.engine.prepare(image))
    flat = a.reshape(-1, a.shape[-1])
    centred = flat - flat.mean(axis=0)
    projection = decomposition.KernelPCA(n_components=1, kernel=kernel).fit_transform(
        centred)[:, 0]
    if projection @ flat.sum(axis=1) < 0:
        projection = -projection
    want = np.maximum(projection.reshape(a.shape[:2]), 0.0)
    np.testing.assert_allclose(cam(image, upsample=False), want, rtol=1e-3,
                               atol=1e-5 * max(want.max(), 1e-9))


def finer_score_numpy(y: np.ndarray, target: int, alpha: float) -> tuple[float, list[int]]:
    """The Finer-CAM objective and its comparison classes (ranks 1, 2, 3 by closeness)."""
    order = np.argsort(np.abs(y - y[target]), kind="stable")
    rivals = list(order[1:4])
    p = np.exp(y - y.max())
    p /= p.sum()
    return float(sum(p[c] * (y[target] - alpha * y[c]) for c in rivals)
                 / (sum(p[c] for c in rivals) + 1e-9)), rivals


def test_finercam_is_gradcam_of_the_weighted_difference(setup):
    import keras

    model, image = setup
    cam = FinerCAM(model, "conv2", alpha=0.7)
    batch = cam.engine.prepare(image)
    y = np.asarray(model(batch))[0].astype(np.float64)
    target = int(np.argmax(y))
    _, rivals = finer_score_numpy(y, target, 0.7)

    def score(out):
        probs = keras.ops.softmax(out, axis=-1)
        weights = [probs[:, c] for c in rivals]
        total = sum(w * (out[:, target] - 0.7 * out[:, c])
                    for w, c in zip(weights, rivals, strict=True))
        return total / (sum(weights) + 1e-9)

    a, g = feature_and_gradient(model, "conv2", batch, score)
    want = np.maximum((a * g.mean(axis=(0, 1))).sum(axis=-1), 0.0)
    got = cam(image, upsample=False)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * max(want.max(), 1e-9))
    # the score itself, on the model's output, equals the formula
    value = float(np.asarray(cam.finer_score(batch)(keras.ops.convert_to_tensor(y[None])))[0])
    assert value == pytest.approx(finer_score_numpy(y, target, 0.7)[0], rel=1e-5)
    # alpha 0 weighs the target's logit alone: Grad-CAM
    plain = FinerCAM(model, "conv2", alpha=0.0)(image, target=target, upsample=False)
    np.testing.assert_allclose(plain, GradCAM(model, "conv2")(image, target=target,
                                                              upsample=False),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["kpcacam", "fem", "finercam", "shapleycam"])
def test_registered_with_gradcams_call_shape(setup, name):
    model, image = setup
    heat = get_method(name).run(model, image, layer="conv2")
    assert heat.shape == (10, 10) and 0.0 <= heat.min() and heat.max() <= 1.0


def test_shapleycam_weights_are_the_gradient_minus_half_the_hessian_product():
    import keras

    from cnnviz_widgets.attribution import ShapleyCAM

    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((6, 6, 3)),
                              keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(5, activation="softmax", name="out")])
    w, b = (np.asarray(v, np.float64) for v in model.get_layer("out").get_weights())
    image = np.random.default_rng(4).uniform(0, 255, (6, 6, 3)).astype(np.float32)
    cam = ShapleyCAM(model, "conv", logits=False)  # the probability: a curved score
    batch = cam.engine.prepare(image)
    a = _features(model, batch, "conv")
    positions = a.shape[0] * a.shape[1]
    z = a.mean(axis=(0, 1)) @ w + b
    p = np.exp(z - z.max())
    p /= p.sum()
    for target in range(2):
        onehot = np.eye(5)[target]
        grad_z = p[target] * (onehot - p)
        hess_z = p[target] * (np.outer(onehot - p, onehot - p) - (np.diag(p) - np.outer(p, p)))
        grad_a = w @ grad_z / positions  # the same at every position
        hvp_a = w @ (hess_z @ (z - b)) / positions  # J^T H J A, with J A = z - b
        weights = grad_a - 0.5 * hvp_a
        want = np.maximum(a @ weights, 0.0)
        np.testing.assert_allclose(cam(image, target=target, upsample=False), want,
                                   rtol=1e-3, atol=1e-6 * max(want.max(), 1e-9))
    # on the logits the head is linear: no curvature, Grad-CAM's map
    logit = ShapleyCAM(model, "conv")(image, target=1, upsample=False)
    np.testing.assert_allclose(logit, GradCAM(model, "conv")(image, target=1, upsample=False),
                               rtol=1e-4, atol=1e-6)
