"""Receptive boxes: hand-computed boxes, the gradient oracle and VGG16's published field."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.engine.layers import build_plan
from cnnviz_widgets.engine.receptive import receptive_box, receptive_fields
from cnnviz_widgets.errors import (
    InvalidSettingError,
    LayerNotFoundError,
    LayerNotViewableError,
    SelectionOutOfRangeError,
)
from cnnviz_widgets.testing import (
    digits_like_cnn,
    nested_backbone_model,
    skip_connection_model,
    tiny_cnn,
)
from tests.attribution.helpers import backend_gradient

L = keras.layers


def _model(input_shape, *layers):
    keras.utils.set_random_seed(0)
    inp = keras.Input(input_shape)
    x = inp
    for layer in layers:
        x = layer(x)
    return keras.Model(inp, x)


def valid_stack():
    return _model((10, 10, 1), L.Conv2D(2, 3, name="c1"), L.Conv2D(2, 3, name="c2"),
                  L.Conv2D(2, 3, name="c3"))


def strided_same(size=8):
    return _model((size, size, 1), L.Conv2D(2, 3, strides=2, padding="same", name="s1"),
                  L.Conv2D(2, 3, strides=2, padding="same", name="s2"))


def pooled():
    return _model((9, 9, 1), L.Conv2D(3, 3, name="conv"), L.MaxPooling2D(2, name="pool"),
                  L.MaxPooling2D(3, strides=2, padding="same", name="same_pool"))


def padded():
    return _model((6, 6, 1), L.ZeroPadding2D(((2, 1), (0, 3)), name="pad"),
                  L.Conv2D(2, 3, name="conv"), L.Cropping2D(((1, 0), (2, 1)), name="crop"),
                  L.Conv2D(2, 3, name="conv2"))


def dilated():
    return _model((9, 9, 1), L.Conv2D(2, 3, dilation_rate=2, name="dil"))


def non_square():
    return _model((10, 7, 2), L.Conv2D(3, (3, 1), strides=(2, 1), name="tall"),
                  L.Conv2D(3, (1, 3), name="wide"),
                  L.Conv2D(3, (2, 3), strides=(1, 2), padding="same", name="mixed"))


@pytest.mark.parametrize(
    ("build", "layer", "row", "col", "box"),
    [
        # three 3x3 'valid' convs: size 7, jump 1, no offset
        (valid_stack, "c1", 4, 5, (4, 5, 7, 8)),
        (valid_stack, "c3", 1, 2, (1, 2, 8, 9)),
        # 'same', stride 2 on 8 pixels: TensorFlow pads 0 before and 1 after
        (strided_same, "s1", 0, 3, (0, 6, 3, 8)),
        (strided_same, "s2", 1, 0, (4, 0, 8, 7)),
        # on 7 pixels it pads 1 before and 1 after
        (lambda: strided_same(7), "s1", 0, 1, (0, 1, 2, 4)),
        (lambda: strided_same(7), "s2", 1, 1, (3, 3, 7, 7)),
        # conv 3 then 2x2 pooling: size 4, jump 2; a 'same' 3x3 pooling on 3 positions
        (pooled, "pool", 2, 1, (4, 2, 8, 6)),
        # ... which pads 1 before; the conv column 6 the 2x2 pooling drops is never seen
        (pooled, "same_pool", 0, 1, (0, 2, 6, 8)),
        # ZeroPadding2D moves the window back; positions that see only padding are empty
        (padded, "pad", 0, 0, (0, 0, 0, 1)),
        (padded, "pad", 3, 2, (1, 2, 2, 3)),
        (padded, "conv", 0, 0, (0, 0, 1, 3)),
        (padded, "conv", 6, 6, (4, 6, 6, 6)),
        # Cropping2D moves it forward
        (padded, "conv2", 0, 0, (0, 2, 4, 6)),
        (padded, "conv2", 3, 1, (2, 3, 6, 6)),
        # dilation 2 widens a 3x3 kernel to 5x5
        (dilated, "dil", 1, 3, (1, 3, 6, 8)),
        # kernels (3, 1) with strides (2, 1), then (1, 3), then (2, 3) 'same', strides (1, 2)
        (non_square, "tall", 3, 4, (6, 4, 9, 5)),
        (non_square, "wide", 3, 4, (6, 4, 9, 7)),
        (non_square, "mixed", 1, 1, (2, 1, 7, 6)),
        (non_square, "mixed", 3, 2, (6, 3, 9, 7)),  # 'same' pads 1 after: cut to what is seen
    ],
)
def test_hand_computed_boxes(build, layer, row, col, box):
    assert receptive_box(build(), layer, row, col) == box


def test_field_arithmetic_per_axis():
    fields = receptive_fields(build_plan(non_square()))
    mixed = fields["mixed"]
    assert (mixed.rows.size, mixed.rows.jump, mixed.rows.start, mixed.rows.length) == (5, 2, 0, 4)
    assert (mixed.cols.size, mixed.cols.jump, mixed.cols.start, mixed.cols.length) == (5, 2, -1, 3)
    assert (mixed.size, mixed.jump, mixed.size_int) == (5, 2, 5)
    tall = fields["tall"]
    assert (tall.rows.size, tall.cols.size, tall.size) == (3, 1, 3)


# -- the gradient oracle --------------------------------------------------------------------
def _linear(model):
    """Drop the activation of every convolution, so that no position's gradient dies."""
    for layer in model.layers:
        if isinstance(layer, L.Conv2D):
            layer.activation = keras.activations.linear
    return model


def _support(model, layer, row, col, images):
    """Input pixels (H, W) on which output position (row, col) of ``layer`` depends."""
    sub = keras.Model(model.inputs, model.get_layer(layer).output)
    assert np.any(keras.ops.convert_to_numpy(sub(images, training=False)) != 0)
    gradient = backend_gradient(lambda x: sub(x, training=False)[:, row, col], images)
    return np.abs(gradient).sum(axis=(0, -1)) > 0


ORACLE_CASES = [
    (tiny_cnn, ("conv_a", "pool_a", "conv_b"), None),
    (digits_like_cnn, ("conv1", "pool1", "drop1", "conv2", "pool2", "conv3"), None),
    (skip_connection_model, ("stem", "res_conv1", "res_bn", "res_relu", "res_conv2", "res_add",
                             "res_out", "side_conv", "merge"), None),
    (valid_stack, ("c1", "c2", "c3"), None),
    (strided_same, ("s1", "s2"), None),
    (lambda: strided_same(7), ("s1", "s2"), None),
    (pooled, ("conv", "pool", "same_pool"), None),
    (padded, ("pad", "conv", "crop", "conv2"), None),
    (dilated, ("dil",), None),
    (non_square, ("tall", "wide", "mixed"), None),
    (lambda: _model((None, None, 1), L.Conv2D(2, 3, strides=2, padding="same", name="s"),
                    L.Conv2D(2, (3, 2), strides=(3, 2), padding="same", name="t"),
                    L.Conv2D(2, 3, dilation_rate=2, padding="same", name="d")),
     ("s", "t", "d"), (13, 11)),
]


@pytest.mark.parametrize(("build", "layers", "image_size"), ORACLE_CASES)
def test_gradient_oracle_box_is_exact(build, layers, image_size):
    # A dilated window that overhangs the padding may skip the first real pixels (its
    # taps jump over them), so the box of the 'd' layer is only checked where it is uncut.
    model = _linear(build())
    fields = receptive_fields(ActivationEngine(model).plan, image_size)
    engine = ActivationEngine(model)
    rng = np.random.default_rng(0)
    height, width, channels = (*(image_size or engine.input_shape[:2]), engine.input_shape[-1])
    images = rng.uniform(0.1, 1.0, (8, height, width, channels)).astype("float32")
    for layer in layers:
        sub = keras.Model(model.inputs, model.get_layer(layer).output)
        rows, cols = sub.compute_output_shape((1, height, width, channels))[1:3]
        picks = {(0, 0), (rows - 1, cols - 1)}
        picks |= {(int(rng.integers(rows)), int(rng.integers(cols))) for _ in range(3)}
        for row, col in sorted(picks):
            top, left, bottom, right = receptive_box(engine, layer, row, col,
                                                     image_size=image_size)
            support = _support(model, layer, row, col, images)
            inside = np.zeros_like(support)
            inside[top:bottom, left:right] = True
            where = f"{layer} ({row}, {col}) box {(top, left, bottom, right)}"
            assert not support[~inside].any(), f"{where}: gradient outside the box"
            if bottom > top and right > left:  # tight: every border row and column is seen
                box = support[top:bottom, left:right]
                uncut = (fields[layer].rows.window(row), fields[layer].cols.window(col))
                if layer != "d" or uncut[0] == (top, bottom):
                    assert box[0].any() and box[-1].any(), f"{where}: rows not tight"
                if layer != "d" or uncut[1] == (left, right):
                    assert box[:, 0].any() and box[:, -1].any(), f"{where}: cols not tight"
            else:
                assert not support.any(), f"{where}: an empty box for a position with input"


@pytest.mark.parametrize(
    "layer",
    [L.Conv2DTranspose(2, 3, strides=2, padding="same", name="up"),
     L.Conv2DTranspose(2, 3, strides=2, padding="valid", name="up"),
     L.Conv2DTranspose(2, (2, 4), strides=(2, 3), padding="same", name="up"),
     L.UpSampling2D((2, 3), name="up"),
     L.UpSampling2D(2, interpolation="bilinear", name="up")],
)
def test_upsampling_boxes_cover_what_the_position_sees(layer):
    # A bound: each side may be wider by less than one step (jump) of the upsampled layer.
    model = _linear(_model((9, 8, 1), L.Conv2D(2, 3, strides=2, padding="same", name="down"),
                           layer, L.Conv2D(2, 3, padding="same", name="after")))
    step = receptive_fields(build_plan(model))["down"].jump
    images = np.random.default_rng(1).uniform(0.1, 1.0, (4, 9, 8, 1)).astype("float32")
    for name in ("up", "after"):
        rows, cols = model.get_layer(name).output.shape[1:3]
        for row, col in [(0, 0), (1, 2), (rows // 2, cols - 1), (rows - 1, cols - 1)]:
            top, left, bottom, right = receptive_box(model, name, row, col)
            support = _support(model, name, row, col, images)
            seen_rows, seen_cols = np.nonzero(support.any(1))[0], np.nonzero(support.any(0))[0]
            for low, high, seen in ((top, bottom, seen_rows), (left, right, seen_cols)):
                assert low <= seen[0] and seen[-1] < high, (name, row, col)
                assert seen[0] - low <= step and high - 1 - seen[-1] <= step, (name, row, col)


def test_nested_layers_are_named_by_path():
    model = nested_backbone_model()
    backbone = model.get_layer("backbone")
    for name in ("conv1", "pool1", "block/conv", "block/pool", "conv2"):
        assert receptive_box(model, f"backbone/{name}", 2, 3) == receptive_box(
            backbone, name, 2, 3)
    assert receptive_box(model, "backbone/conv2", 2, 3) == (1, 5, 19, 23)


def test_global_pooling_with_kept_axes_sees_the_whole_image():
    model = _model((6, 5, 1), L.Conv2D(2, 3, name="conv"),
                   L.GlobalAveragePooling2D(keepdims=True, name="gap"))
    assert receptive_box(model, "gap", 0, 0) == (0, 0, 6, 5)


# -- errors -------------------------------------------------------------------------------------
def test_errors_name_the_problem():
    engine = ActivationEngine(tiny_cnn())
    with pytest.raises(LayerNotViewableError, match="flatten"):
        receptive_box(engine, "flatten", 0, 0)
    with pytest.raises(LayerNotViewableError):
        receptive_box(engine, "probs", 0, 0)
    with pytest.raises(SelectionOutOfRangeError, match="use 0 to 3"):
        receptive_box(engine, "pool_a", 4, 0)
    with pytest.raises(SelectionOutOfRangeError, match="col -1"):
        receptive_box(engine, "pool_a", 0, -1)
    with pytest.raises(IndexError):  # still an IndexError for existing handlers
        receptive_box(engine, "conv_a", 0, 8)
    with pytest.raises(InvalidSettingError, match="row must be an int"):
        receptive_box(engine, "conv_a", 1.5, 0)
    with pytest.raises(LayerNotFoundError, match="conv_a"):
        receptive_box(engine, "conv_x", 0, 0)
    with pytest.raises(InvalidSettingError, match="height is 8"):
        receptive_box(engine, "conv_a", 0, 0, image_size=(9, 8))
    assert receptive_box(engine, "conv_a", 0, 0, image_size=(8, 8)) == (0, 0, 2, 2)
    assert receptive_box(engine, "conv_a", np.int64(7), np.int32(7)) == (6, 6, 8, 8)


def test_any_size_models_need_the_image_size():
    model = _model((None, None, 1), L.Conv2D(2, 3, strides=2, padding="same", name="s"))
    with pytest.raises(InvalidSettingError, match="image_size"):
        receptive_box(model, "s", 0, 0)
    with pytest.raises(InvalidSettingError, match="two positive ints"):
        receptive_box(model, "s", 0, 0, image_size=(8,))
    assert receptive_box(model, "s", 0, 0, image_size=(8, 7)) == (0, 0, 3, 2)
    assert receptive_box(model, "s", 0, 0, image_size=(7, 8)) == (0, 0, 2, 3)
    with pytest.raises(SelectionOutOfRangeError):
        receptive_box(model, "s", 4, 0, image_size=(8, 8))


def test_fields_are_computed_once_per_plan():
    engine = ActivationEngine(skip_connection_model())
    first, again = receptive_fields(engine.plan), receptive_fields(engine.plan)
    assert first == again and first is not again  # callers get their own dict ...
    assert all(first[name] is again[name] for name in first)  # ... of the same fields
    sized = receptive_fields(engine.plan, (16, 16))
    assert all(sized[name] is first[name] for name in first)  # the model's own size


# -- VGG16 --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vgg16():
    return keras.applications.VGG16(weights=None, include_top=False)


def test_vgg16_block5_conv3_sees_196_pixels(vgg16):
    field = receptive_fields(build_plan(vgg16))["block5_conv3"]
    assert (field.size, field.jump) == (196, 16)
    assert (field.rows.start, field.cols.start) == (-90, -90)
    engine = ActivationEngine(vgg16)
    assert receptive_box(engine, "block5_conv3", 7, 7, image_size=(224, 224)) == (22, 22, 218, 218)
    assert receptive_box(engine, "block5_conv3", 0, 13, image_size=(224, 224)) == (0, 118, 106, 224)
    assert receptive_box(engine, "block5_pool", 3, 3, image_size=(224, 224)) == (6, 6, 218, 218)
    with pytest.raises(SelectionOutOfRangeError, match="use 0 to 9"):
        receptive_box(engine, "block5_conv3", 0, 10, image_size=(224, 160))
