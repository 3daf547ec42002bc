"""The attribution panel on a 1-D convolution model and a vision transformer: layers over
time and over tokens, and a signal drawn as lines with its heatmap under them."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from cnnviz_widgets import explore
from cnnviz_widgets.testing import tiny_conv1d, tiny_vit
from cnnviz_widgets.widgets.attribution import AttributionPanel
from tests.widgets.signal_figures import record_signal_figures


@pytest.fixture(scope="module")
def conv1d():
    return tiny_conv1d()


@pytest.fixture(scope="module")
def signals():
    rng = np.random.default_rng(7)
    return rng.normal(size=(2, 64, 2)).astype(np.float32)


@pytest.fixture
def drawn(monkeypatch):
    """Every signal figure drawn while the test runs: (signal, its keyword arguments)."""
    return record_signal_figures(monkeypatch)


def _gradcam_over_time(model, layer, batch, target):
    """Grad-CAM's formula over a sequence: ReLU(sum_c mean_t(dy/dA_c) A_c), length T, with
    y the class score before the softmax (the logit of ``probs``)."""
    inner = keras.Model(model.inputs, [model.get_layer(layer).output,
                                       model.get_layer("gap1d").output])
    kernel, bias = model.get_layer("probs").get_weights()
    x = tf.constant(batch)
    with tf.GradientTape() as tape:
        acts, pooled = inner(x)
        tape.watch(acts)
        score = tf.reduce_sum(pooled[0] * kernel[:, target]) + bias[target]
    grads = tape.gradient(score, acts)[0].numpy()
    a = acts[0].numpy()
    return np.maximum((a * grads.mean(axis=0)).sum(axis=1), 0.0)


def test_layer_dropdown_offers_sequence_layers(conv1d, signals):
    panel = AttributionPanel(conv1d, signals, auto_run=False)
    names = [v for _, v in panel.controls["layer"].options]
    assert names == ["", "conv1d_a", "pool1d", "conv1d_b"]


def test_layer_dropdown_offers_token_layers_with_a_grid():
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    panel = AttributionPanel(tiny_vit(), images, auto_run=False)
    names = [v for _, v in panel.controls["layer"].options]
    assert "patch_embed" in names and "class_token" in names and "residual2" in names
    assert "pooled" not in names and "probs" not in names


def test_layer_dropdown_leaves_out_tokens_without_a_grid():
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", name="conv")(inp)
    x = keras.layers.Reshape((8, 12), name="tokens")(x)
    x = keras.layers.Flatten(name="flat")(x)
    model = keras.Model(inp, keras.layers.Dense(3, name="probs")(x))
    images = np.zeros((1, 8, 8, 3), np.uint8)
    panel = AttributionPanel(model, images, auto_run=False)
    assert [v for _, v in panel.controls["layer"].options] == ["", "conv"]


def test_a_signal_is_drawn_as_lines_with_the_cam_under_them(conv1d, signals, drawn):
    panel = AttributionPanel(conv1d, signals, show_faithfulness=False)
    panel.controls["layer"].value = "conv1d_b"
    assert panel.errors.message == ""
    signal, drawing = drawn[-1]
    heat = drawing["heat"]
    np.testing.assert_array_equal(signal, signals[0])
    np.testing.assert_array_equal(heat, panel.result)
    assert panel.result.shape == (64,)
    picture = Image.open(io.BytesIO(panel.picture.value))
    assert picture.format == "PNG" and picture.width > 2 * picture.height
    assert panel.caption.value.startswith("Grad-CAM over signal 0")


def test_the_cam_over_time_follows_grad_cams_formula(conv1d, signals):
    panel = AttributionPanel(conv1d, signals, show_faithfulness=False)
    panel.image_index = 1
    panel.controls["layer"].value = "conv1d_b"
    batch = panel.engine.prepare(panel.images[1])
    target = int(np.argmax(conv1d(batch).numpy()[0]))
    cam = _gradcam_over_time(conv1d, "conv1d_b", batch, target)  # (32,)
    stretched = np.interp(np.linspace(0, 31, 64), np.arange(32), cam)
    assert np.corrcoef(stretched, panel.result)[0, 1] > 0.95


def test_gradient_maps_of_a_signal_are_read_per_step(conv1d, signals, drawn):
    panel = AttributionPanel(conv1d, signals, method="saliency", show_faithfulness=False)
    assert panel.result.shape == (64, 2)
    heat = drawn[-1][1]["heat"]
    np.testing.assert_allclose(heat, panel.result.max(axis=1))
    assert "largest over the channels" in panel.caption.value


def test_side_by_side_methods_are_signals_too(conv1d, signals, drawn):
    panel = AttributionPanel(conv1d, signals, show_faithfulness=False,
                             side_by_side=["layercam"])
    assert len(panel.others.children) == 1
    cell_picture = panel.others.children[0].children[1]
    assert Image.open(io.BytesIO(cell_picture.value)).format == "PNG"
    np.testing.assert_array_equal(drawn[-1][1]["heat"], panel.heatmaps["layercam"])


def test_the_panel_borrows_an_explorers_signals_and_thumbnails(conv1d, signals):
    ex = explore(conv1d, signals)
    panel = AttributionPanel(ex, auto_run=False)
    assert panel.images == ex.images
    assert panel.picker.strip.value.count("data:image/png;base64,") == 2
    assert panel.picker.upload.layout.display == "none"
