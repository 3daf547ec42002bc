"""Grad-CAM on every kind of model, against its formula computed from the model's own layers.

Grad-CAM (Selvaraju et al.): the weight of channel k is the mean over positions of
d score / d A_k, the map is ReLU(sum_k weight_k A_k); the score is the class logit. The
oracle takes A and its gradient from plain Keras calls and the backend's own gradient.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import GradCAM, Saliency
from cnnviz_widgets.attribution.gradcam import default_gradcam_layer
from cnnviz_widgets.attribution.scores import ClassScore
from cnnviz_widgets.testing import (
    image_and_metadata_cnn,
    tiny_conv1d,
    tiny_vit,
    two_head_cnn,
    two_image_cnn,
)

from .helpers import backend_gradient, copy_model, feature_and_gradient, numpy, tensor


def _cam(feature: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Grad-CAM of a (*positions, C) layer output and its gradient."""
    weights = grads.reshape(-1, grads.shape[-1]).mean(axis=0)
    return np.maximum((feature * weights).sum(axis=-1), 0.0)


_NONEMPTY: list[bool] = []


def _close(got: np.ndarray, want: np.ndarray) -> None:
    """``got`` equals the oracle's ``want``; remembers whether ``want`` had any positive value."""
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(want.max(), 1e-6))
    _NONEMPTY.append(bool(want.max() > 0))


@pytest.fixture(autouse=True)
def _some_map_is_not_empty():
    """Every test compares at least one map with positive values (else it proves nothing)."""
    _NONEMPTY.clear()
    yield
    assert not _NONEMPTY or any(_NONEMPTY), "every oracle map was empty"


def _signal(seed: int, length: int = 64, channels: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(length, channels)).astype("float32")


def _photo(seed: int, shape=(16, 16, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


@pytest.mark.parametrize("layer", ["conv1d_a", "pool1d", "conv1d_b"])
def test_grad_cam_over_time_is_the_formula_on_a_conv1d_model(layer):
    model = tiny_conv1d()
    linear = copy_model(tiny_conv1d, model, linear_head=True)
    signal = _signal(1)
    for target in range(3):
        feature, grads = feature_and_gradient(linear, layer, signal[None],
                                              lambda out, t=target: out[:, t])
        got = GradCAM(model, layer)(signal, target=target, upsample=False)
        _close(got, _cam(feature, grads))
    full = GradCAM(model, layer)(signal, target=0)
    assert full.shape == (64,) and full.max() == pytest.approx(1.0) and full.min() >= 0


def test_the_default_layer_of_a_conv1d_model_is_its_last_convolution():
    assert default_gradcam_layer(tiny_conv1d()) == "conv1d_b"


@pytest.mark.parametrize("class_token", [True, False])
def test_grad_cam_on_vit_tokens_is_the_formula_on_the_patch_grid(class_token):
    model = tiny_vit(class_token=class_token)
    linear = copy_model(lambda: tiny_vit(class_token=class_token), model, linear_head=True)
    photo = _photo(2)
    engine = ActivationEngine(model)
    layer = default_gradcam_layer(engine)
    assert layer == "norm1"  # the input of the last attention, as pytorch-grad-cam's ViT example
    batch = tensor(engine.prepare(photo))
    # the block's input is needed besides norm1: the residual adds it after the attention
    before, inner = linear.get_layer("position").output, linear.get_layer(layer).output
    head = keras.Model([before, inner], linear.output)
    start = keras.Model(linear.inputs, [before, inner])(batch)
    feature = numpy(start[1])[0]
    for target in range(3):
        grads = backend_gradient(lambda f, t=target: head([start[0], f])[:, t],
                                 feature[None])[0]
        skip = 1 if class_token else 0
        want = _cam(feature[skip:].reshape(4, 4, -1), grads[skip:].reshape(4, 4, -1))
        _close(GradCAM(engine)(photo, target=target, upsample=False), want)
    assert GradCAM(engine)(photo).shape == (16, 16)


def test_grad_cam_explains_the_chosen_output_of_a_two_head_model():
    model = two_head_cnn()
    engine = ActivationEngine(model, output="colour")
    photo = _photo(3)
    batch = tensor(engine.prepare(photo))
    conv, dense = model.get_layer("conv_colour"), model.get_layer("colour")
    kernel, bias = (numpy(w) for w in dense.weights)
    split = keras.Model(model.inputs, model.get_layer("split").output)
    half = split(batch)[1]

    def colour_logits(v):  # conv_colour -> global mean -> the colour head without softmax
        pooled = keras.ops.mean(conv(v), axis=(1, 2))
        return keras.ops.matmul(pooled, tensor(kernel)) + tensor(bias)

    feature = numpy(conv(half))[0]
    for target in range(2):
        grads = backend_gradient(lambda f, t=target: (
            keras.ops.matmul(keras.ops.mean(f, axis=(1, 2)), tensor(kernel)) + tensor(bias)
        )[:, t], feature[None])[0]
        _close(GradCAM(engine, "conv_colour")(photo, target=target, upsample=False),
               _cam(feature, grads))
        # a layer with two outputs: its second output, through the rest of the colour head
        grads = backend_gradient(lambda v, t=target: colour_logits(v)[:, t], numpy(half))[0]
        _close(GradCAM(engine, "split[1]")(photo, target=target, upsample=False),
               _cam(numpy(half)[0], grads))
    assert model.get_layer("colour").activation.__name__ == "softmax"  # restored


def test_grad_cam_and_saliency_hold_the_other_input_fixed():
    model = image_and_metadata_cnn()
    meta = np.array([0.5, -1.0, 2.0, 0.25], dtype="float32")
    engine = ActivationEngine(model, image_input="photo", other_inputs={"meta": meta})
    linear = copy_model(image_and_metadata_cnn, model, linear_head=True)
    photo = _photo(4)
    batch = engine.prepare(photo)
    inner = linear.get_layer("conv_b").output
    feature_model = keras.Model(linear.inputs, inner)
    head = keras.Model([inner, linear.inputs[1]], linear.output)
    fixed = tensor(meta[None])
    feature = numpy(feature_model([tensor(batch), fixed]))[0]
    for target in range(3):
        grads = backend_gradient(lambda f, t=target: head([f, fixed])[:, t], feature[None])[0]
        _close(GradCAM(engine, "conv_b")(photo, target=target, upsample=False),
               _cam(feature, grads))
        want = backend_gradient(lambda x, t=target: linear([x, fixed])[:, t], batch)
        got = Saliency(engine).input_gradients(batch, ClassScore(target))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * np.abs(want).max())
    # the fixed input is really used: other metadata, other class scores
    other = ActivationEngine(model, image_input="photo", other_inputs={"meta": meta * 0 + 5})
    assert not np.allclose(other.activation("probs", photo), engine.activation("probs", photo))
    np.testing.assert_allclose(engine.activation("probs", photo),
                               numpy(model([tensor(batch), fixed]))[0], rtol=1e-5)


def test_grad_cam_on_one_image_of_a_pair():
    model = two_image_cnn()
    right = _photo(6, (12, 12, 1))
    engine = ActivationEngine(model, image_input="left", other_inputs={"right": right})
    cam = GradCAM(engine)(_photo(5, (12, 12, 1)), target=0)
    assert cam.shape == (12, 12) and np.isfinite(cam).all()
