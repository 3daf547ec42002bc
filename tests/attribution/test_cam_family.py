"""The CAM family equals its published formulas, written out in NumPy on tiny models."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.attribution import (
    EigenCAM,
    GradCAM,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    XGradCAM,
    upsample_heatmap,
)
from cnnviz_widgets.errors import LayerNotFoundError, LayerNotViewableError
from cnnviz_widgets.testing import tiny_cnn

FAMILY = [GradCAMPlusPlus, XGradCAM, LayerCAM, HiResCAM, EigenCAM]


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def gradcam_plusplus(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    g2, g3 = g ** 2, g ** 3
    denom = 2 * g2 + a.sum(axis=(0, 1)) * g3
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(denom != 0, g2 / denom, 0.0)
    weights = (alpha * _relu(g)).sum(axis=(0, 1))
    return _relu(a @ weights)


def xgradcam(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    weights = (g * a).sum(axis=(0, 1)) / (a.sum(axis=(0, 1)) + 1e-7)
    return _relu(a @ weights)


def layercam(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    return _relu((_relu(g) * a).sum(axis=-1))


def hirescam(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    return _relu((g * a).sum(axis=-1))


def eigencam(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """First principal component by the covariance's eigenvectors (not an SVD)."""
    h, w, c = a.shape
    flat = a.reshape(h * w, c)
    centred = flat - flat.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    projection = centred @ vectors[:, -1]
    if np.corrcoef(projection, flat.sum(axis=1))[0, 1] < 0:
        projection = -projection
    return _relu(projection.reshape(h, w))


FORMULAS = {GradCAMPlusPlus: gradcam_plusplus, XGradCAM: xgradcam, LayerCAM: layercam,
            HiResCAM: hirescam, EigenCAM: eigencam}


def _functional_model():
    """Input (10, 10, 3) -> conv1 (ReLU, 4) -> conv2 (ReLU, 5) -> Flatten -> linear Dense (3)."""
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((10, 10, 3))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    h = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="conv2")(h)
    h = keras.layers.Flatten(name="flat")(h)
    out = keras.layers.Dense(3, name="out")(h)
    return keras.Model(inputs, out)


@pytest.fixture(scope="module")
def models():
    # tiny_cnn ends in a softmax: the methods run with logits=False, like the oracle
    return {"functional": _functional_model(), "tiny": tiny_cnn()}


def _activations_and_gradients(model, layer: str, batch: np.ndarray, target: int):
    """A and d score / dA: ``keras.Model(inputs, [layer.output, model.output])`` for a
    functional model, the layers called in turn for a Sequential one."""
    import keras
    import tensorflow as tf

    with tf.GradientTape() as tape:
        if isinstance(model, keras.Sequential):
            out = tf.constant(batch)
            for each in model.layers:
                out = each(out, training=False)
                if each.name == layer:
                    tape.watch(out)
                    feature = out
        else:
            probe = keras.Model(model.inputs, [model.get_layer(layer).output, model.output])
            feature, out = probe(tf.constant(batch), training=False)
        score = out[:, target]
    grads = tape.gradient(score, feature)
    return feature.numpy()[0].astype(np.float64), grads.numpy()[0].astype(np.float64)


CASES = [("functional", "conv1", (10, 10, 3)), ("functional", "conv2", (10, 10, 3)),
         ("tiny", "conv_a", (8, 8)), ("tiny", "conv_b", (8, 8))]


@pytest.mark.parametrize("method", FAMILY, ids=lambda m: m.__name__)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_layer_map_equals_the_numpy_formula(models, method, case):
    name, layer, shape = case
    model = models[name]
    cam = method(model, layer, logits=False)  # the oracle differentiates the model's output
    image = np.random.default_rng(len(layer) + len(name)).uniform(0, 255, shape)
    image = image.astype(np.float32)
    batch = cam.engine.prepare(image)
    height, width = batch.shape[1:3]
    nonzero = 0
    for target in range(3):
        a, g = _activations_and_gradients(model, layer, batch, target)
        want = FORMULAS[method](a, g)
        got = cam(image, target=target, upsample=False)
        assert got.shape == a.shape[:2] and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * max(want.max(), 1e-9))
        nonzero += want.max() > 0
        # the default call: the same map upsampled as Grad-CAM does, divided by its max
        up = upsample_heatmap(want, height, width)
        scaled = up / up.max() if up.max() > 0 else up
        np.testing.assert_allclose(cam(image, target=target), scaled, rtol=1e-4, atol=1e-5)
    assert nonzero > 0
    top = int(np.argmax(model(batch)))
    np.testing.assert_array_equal(cam(image, upsample=False), cam(image, top, upsample=False))


def test_eigencam_needs_no_target_and_no_gradient(models):
    cam = EigenCAM(models["functional"], "conv2")
    image = np.random.default_rng(9).uniform(0, 255, (10, 10, 3)).astype(np.float32)
    first = cam(image, target=0, upsample=False)
    np.testing.assert_array_equal(first, cam(image, target=2, upsample=False))
    assert cam(image).max() == pytest.approx(1.0)


def test_every_method_is_a_gradcam_with_its_defaults_and_errors():
    model = tiny_cnn()
    for method in FAMILY:
        assert issubclass(method, GradCAM)
        assert method(model).layer == GradCAM(model).layer == "conv_b"
        with pytest.raises(LayerNotFoundError, match="conv_b"):
            method(model, "conv_bb")
        with pytest.raises(LayerNotViewableError, match="spatial"):
            method(model, "probs")
