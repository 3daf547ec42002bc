"""Anatomy records: parameters, kernel shapes and receptive fields match Keras and theory."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.errors import LayerNotFoundError
from cnnviz_widgets.testing import skip_connection_model
from cnnviz_widgets.weights import Anatomy, LayerRecord, anatomy

VGG_KERNELS = {
    "block1_conv1": "3x3x3x64", "block1_conv2": "3x3x64x64",
    "block2_conv1": "3x3x64x128", "block2_conv2": "3x3x128x128",
    "block3_conv1": "3x3x128x256", "block3_conv2": "3x3x256x256",
    "block3_conv3": "3x3x256x256",
    "block4_conv1": "3x3x256x512", "block4_conv2": "3x3x512x512",
    "block4_conv3": "3x3x512x512",
    "block5_conv1": "3x3x512x512", "block5_conv2": "3x3x512x512",
    "block5_conv3": "3x3x512x512",
}
VGG_RF = {
    "block1_conv1": 3, "block1_conv2": 5, "block1_pool": 6,
    "block2_conv1": 10, "block2_conv2": 14, "block2_pool": 16,
    "block3_conv1": 24, "block3_conv2": 32, "block3_conv3": 40, "block3_pool": 44,
    "block4_conv1": 60, "block4_conv2": 76, "block4_conv3": 92, "block4_pool": 100,
    "block5_conv1": 132, "block5_conv2": 164, "block5_conv3": 196, "block5_pool": 212,
}


def test_digits_params_match_seed_figures(digits):
    a = anatomy(digits)
    params = {r.name: r.params for r in a.records if r.params}
    assert params == {"conv1": 320, "conv2": 18_496, "conv3": 73_856,
                      "dense1": 16_512, "predictions": 1_290}
    assert a.total_params == a.trainable_params == 110_474 == digits.count_params()
    assert a.non_trainable_params == 0
    assert [r.name for r in a.records] == ActivationEngine(digits).layer_names
    conv2 = a["conv2"]
    assert (conv2.kernel_shape, conv2.strides, conv2.padding) == ("3x3x32x64", (1, 1), "valid")
    assert conv2.output_shape == (11, 11, 64)
    assert [a[n].receptive_field for n in ("conv1", "pool1", "conv2", "pool2", "conv3")] == [
        3, 4, 8, 10, 18]
    assert a["flatten"].receptive_field is None and a["dense1"].kernel_shape is None


def test_vgg16_kernels_and_receptive_fields(vgg16):
    a = anatomy(vgg16)
    kernels = {r.name: r.kernel_shape for r in a.records if r.kernel_shape}
    assert kernels == VGG_KERNELS
    assert {r.name: r.receptive_field for r in a.records} == VGG_RF
    assert a["block5_conv3"].jump == 16 and a["block5_pool"].jump == 32
    assert a.total_params == vgg16.count_params() == 14_714_688
    for r in a.records:
        layer = vgg16.get_layer(r.name)
        assert r.params == layer.count_params()


def test_nested_model_uses_engine_paths(nested):
    a = anatomy(nested)
    engine = ActivationEngine(nested)
    assert [r.name for r in a.records] == engine.layer_names
    assert [r.index for r in a.records] == list(range(len(a.records)))
    assert sum(r.params for r in a.records) == nested.count_params() == a.total_params
    # conv1 (3) -> pool1 (4, jump 2) -> block/conv (8) -> block/pool (10, jump 4) -> conv2 (18)
    assert a["backbone/block/conv"].kernel_shape == "3x3x8x8"
    assert [a[n].receptive_field for n in ("backbone/conv1", "backbone/pool1",
            "backbone/block/conv", "backbone/block/pool", "backbone/conv2")] == [3, 4, 8, 10, 18]
    assert a["gap"].receptive_field is None
    assert anatomy(engine).to_records() == a.to_records()  # an engine is accepted too


def test_trainable_and_non_trainable_counts():
    model = skip_connection_model()
    a = anatomy(model)
    assert a.total_params == model.count_params()
    assert a.non_trainable_params == 16  # batch-norm moving mean and variance, 8 channels each
    assert a["res_bn"].params == 32 and a["res_bn"].trainable_params == 16
    assert a.trainable_params == sum(r.trainable_params for r in a.records)


def test_frozen_backbone_counts(nested):
    model = keras.models.clone_model(nested)
    model.get_layer("backbone").trainable = False
    a = anatomy(model)
    backbone = sum(r.params for r in a.records if r.name.startswith("backbone/"))
    assert a.trainable_params == a.total_params - backbone
    assert all(r.trainable_params == 0 for r in a.records if r.name.startswith("backbone/"))


def test_records_html_and_lookup(digits):
    a = anatomy(digits)
    rows = a.to_records()
    assert rows[0]["name"] == "conv1" and list(rows[0]) == Anatomy.columns()
    page = a._repr_html_()
    assert page.count("<tr>") == len(a) + 1 and "110,474" in page and "3x3x32x64" in page
    with pytest.raises(LayerNotFoundError):
        a["conv9"]
    odd = Anatomy([LayerRecord(0, "<b>&x", "Conv2D", "conv", (1, 1, 1), 1, 1)], 1, 1, 0, "<m>")
    html_text = odd._repr_html_()
    assert "&lt;b&gt;&amp;x" in html_text and "<b>&x" not in html_text
    assert "&lt;m&gt;" in html_text


def _empirical_rf(model, size):
    """Width of the input region whose pixels change the centre output (row through centre)."""
    x = tf.Variable(tf.ones((1, size, size, 1)))
    with tf.GradientTape() as tape:
        y = model(x)
        h, w = y.shape[1] // 2, y.shape[2] // 2
        out = tf.reduce_sum(y[0, h, w])
    grad = tape.gradient(out, x).numpy()[0, :, :, 0]
    cols = np.flatnonzero(np.abs(grad).sum(axis=0) > 0)
    rows = np.flatnonzero(np.abs(grad).sum(axis=1) > 0)
    assert cols.size == cols[-1] - cols[0] + 1  # one contiguous window
    return int(rows.size), int(cols.size)


def test_receptive_field_matches_gradients_for_strides_and_dilation():
    keras.utils.set_random_seed(0)
    ones = "ones"
    model = keras.Sequential([
        keras.Input((48, 48, 1)),
        keras.layers.Conv2D(2, 3, kernel_initializer=ones, name="c1"),
        keras.layers.AveragePooling2D(2, name="p1"),
        keras.layers.Conv2D(2, 3, dilation_rate=2, kernel_initializer=ones, name="c2"),
        keras.layers.Conv2D(2, 5, strides=2, kernel_initializer=ones, name="c3"),
        keras.layers.ZeroPadding2D(1, name="pad"),
        keras.layers.Conv2D(1, 3, kernel_initializer=ones, name="c4"),
    ])
    a = anatomy(model)
    # c1: 3; p1: 3 + 1 = 4, jump 2; c2: k_eff 5 -> 4 + 4 * 2 = 12; c3: 12 + 4 * 2 = 20, jump 4;
    # pad keeps it; c4: 20 + 2 * 4 = 28
    assert [r.receptive_field for r in a.records] == [3, 4, 12, 20, 20, 28]
    assert a["c4"].jump == 4
    for name in ("c1", "p1", "c2", "c3", "c4"):
        sub = keras.Model(model.inputs, model.get_layer(name).output)
        assert _empirical_rf(sub, 48) == (a[name].receptive_field,) * 2, name


def test_model_keyword_is_the_deprecated_name_of_model_or_engine(digits):
    want = anatomy(model_or_engine=digits).to_records()
    with pytest.warns(DeprecationWarning, match=r"anatomy\(model=...\).*model_or_engine="):
        assert anatomy(model=digits).to_records() == want
