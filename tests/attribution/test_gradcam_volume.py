"""Grad-CAM on 3-D convolutions against its formula computed by hand with the backend's
own autodiff (GradientTape on TensorFlow, jax.grad on JAX)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import GradCAM
from cnnviz_widgets.attribution.gradcam import default_gradcam_layer, upsample_heatmap
from cnnviz_widgets.errors import LayerNotViewableError
from cnnviz_widgets.testing.volumes import tiny_volume_cnn
from tests.attribution.helpers import feature_and_gradient

TOL = {"rtol": 1e-4, "atol": 1e-5}


@pytest.fixture(scope="module")
def volume():
    model = tiny_volume_cnn()
    engine = ActivationEngine(model)
    vol = np.random.default_rng(3).uniform(0.0, 1.0, (4, 8, 8, 1)).astype(np.float32)
    return model, engine, vol


@pytest.mark.parametrize("layer", ["conv3d_a", "conv3d_b", "deconv3d"])
def test_volume_gradcam_is_the_formula(volume, layer):
    model, engine, vol = volume
    batch = engine.prepare(vol)
    cam = GradCAM(engine, layer, logits=False)
    peaks = []
    for target in range(3):
        got = cam(vol, target=target, upsample=False)
        # by hand: w_k = d p_t / d A_k averaged over (d, h, w); map = ReLU(sum_k w_k A_k)
        feature, grads = feature_and_gradient(model, layer, batch,
                                              lambda out, t=target: out[:, t])
        expected = np.maximum((feature * grads.mean(axis=(0, 1, 2))).sum(axis=-1), 0.0)
        assert got.shape == engine.layer(layer).output_shape[:3]
        np.testing.assert_allclose(got, expected, **TOL)
        peaks.append(float(got.max()))
    assert max(peaks) > 0, "maps of zeros only would not test the formula"


def test_volume_gradcam_upsamples_along_all_three_axes(volume):
    _, engine, vol = volume
    cam = GradCAM(engine, "conv3d_b", logits=False)
    raw = cam(vol, target=0, upsample=False)
    full = cam(vol, target=0)
    assert raw.shape == (2, 2, 2) and full.shape == (4, 8, 8)
    np.testing.assert_allclose(full, upsample_heatmap(raw, 8, 8, depth=4)
                               / upsample_heatmap(raw, 8, 8, depth=4).max(), **TOL)


def test_trilinear_upsampling_is_linear_along_each_axis():
    # a map linear along every axis stays linear inside (half-pixel centres, clamped edges)
    d, h, w = np.meshgrid(np.arange(2.0), np.arange(3.0), np.arange(4.0), indexing="ij")
    heat = (1.0 + 2.0 * d + 3.0 * h + 5.0 * w).astype(np.float32)
    up = upsample_heatmap(heat, 6, 8, depth=4)
    assert up.shape == (4, 6, 8)
    dd, hh, ww = np.meshgrid((np.arange(4) + 0.5) / 2 - 0.5, (np.arange(6) + 0.5) / 2 - 0.5,
                             (np.arange(8) + 0.5) / 2 - 0.5, indexing="ij")
    expected = 1.0 + 2.0 * np.clip(dd, 0, 1) + 3.0 * np.clip(hh, 0, 2) + 5.0 * np.clip(ww, 0, 3)
    np.testing.assert_allclose(up, expected, rtol=1e-5, atol=1e-4)
    with pytest.raises(LayerNotViewableError, match="depth="):
        upsample_heatmap(heat, 6)


def test_the_default_layer_of_a_volume_model_is_its_last_3d_convolution(volume):
    _, engine, _ = volume
    assert default_gradcam_layer(engine) == "deconv3d"


def _conv3d_head(shape: tuple[int, ...], kernel: int, seed: int):
    """Conv3D "c" (3 channels, ReLU) -> global average -> Dense "out" (2, linear), and a
    random volume of ``shape`` prepared for it."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape),
                              keras.layers.Conv3D(3, kernel, activation="relu", name="c"),
                              keras.layers.GlobalAveragePooling3D(),
                              keras.layers.Dense(2, name="out")])
    vol = np.random.default_rng(seed).uniform(0.0, 1.0, shape).astype(np.float32)
    return model, vol, ActivationEngine(model).prepare(vol)


def test_gradient_maps_of_a_volume_reduce_its_channels_as_for_an_image():
    from cnnviz_widgets.attribution import IntegratedGradients, Saliency
    from tests.attribution.helpers import backend_gradient

    model, vol, batch = _conv3d_head((3, 6, 6, 2), kernel=2, seed=1)
    grad = backend_gradient(lambda t: model(t)[:, 1], batch)[0]  # (3, 6, 6, 2)
    saliency = Saliency(model)(vol, target=1)
    assert saliency.shape == (3, 6, 6)
    np.testing.assert_allclose(saliency, np.abs(grad).max(axis=-1), **TOL)
    ig = IntegratedGradients(model, steps=8)
    maps, gap = ig.attributions(vol, target=1)
    assert maps.shape == (3, 6, 6, 2)
    np.testing.assert_allclose(ig(vol, target=1), maps.sum(axis=-1), **TOL)


def test_scorecam_of_a_volume_is_the_brute_force_formula():
    import keras
    from scipy.ndimage import zoom

    from cnnviz_widgets.attribution import ScoreCAM

    model, vol, batch = _conv3d_head((4, 6, 6, 1), kernel=3, seed=2)
    a = np.asarray(keras.Model(model.inputs, model.get_layer("c").output)(batch))[0]
    weights = []
    for k in range(a.shape[-1]):  # each channel zoomed to the input (order 1), min-max scaled
        up = zoom(a[..., k].astype(np.float64), np.divide(batch.shape[1:4], a.shape[:3]),
                  order=1, mode="nearest")
        span = up.max() - up.min()
        mask = (up - up.min()) / span if span > 0 else np.zeros_like(up)
        masked = (batch[0] * mask[..., None])[None].astype(np.float32)
        weights.append(float(np.asarray(model(masked))[0, 1]))
    expected = np.maximum(a @ np.asarray(weights), 0.0)
    got = ScoreCAM(model, "c", logits=False)(vol, target=1, upsample=False)
    assert got.shape == (2, 4, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
