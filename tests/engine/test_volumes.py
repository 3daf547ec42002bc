"""Models of volumes and videos (D, H, W, C): layers, activations against a plain Keras
sub-model, scans against brute force, and 3-D receptive boxes against the gradient."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.engine.receptive import receptive_box, volume_box
from cnnviz_widgets.engine.scan import scan
from cnnviz_widgets.errors import ImageShapeError, LayerNotViewableError
from cnnviz_widgets.testing.volumes import tiny_volume_cnn
from tests.attribution.helpers import backend_gradient

L = keras.layers
VOLUME_LAYERS = ["conv3d_a", "pool3d", "conv3d_b", "avg3d", "up3d", "deconv3d"]


@pytest.fixture(scope="module")
def tiny():
    model = tiny_volume_cnn()
    return model, ActivationEngine(model)


def volumes(n, seed=0, shape=(4, 8, 8, 1)):
    return np.random.default_rng(seed).uniform(0.05, 1.0, (n, *shape)).astype(np.float32)


def test_volume_layers_are_listed_with_their_kinds(tiny):
    _, engine = tiny
    assert engine.plan.input_axes == "volume" and engine.input_shape == (4, 8, 8, 1)
    kinds = {info.name: (info.class_name, info.kind, info.layout) for info in engine.layers}
    assert kinds["conv3d_a"] == ("Conv3D", "conv", "volume")
    assert kinds["pool3d"] == ("MaxPooling3D", "pool", "volume")
    assert kinds["avg3d"] == ("AveragePooling3D", "pool", "volume")
    assert kinds["up3d"] == ("UpSampling3D", "reshape", "volume")
    assert kinds["deconv3d"] == ("Conv3DTranspose", "conv", "volume")
    assert kinds["gap3d"] == ("GlobalAveragePooling3D", "pool", "vector")
    assert engine.layer("deconv3d").channels == 3


def test_activations_match_a_plain_keras_sub_model(tiny):
    model, engine = tiny
    vol = volumes(1, seed=1)[0]
    got = engine.activations(engine.layer_names, vol)
    for name in engine.layer_names:
        oracle = keras.Model(model.inputs, model.get_layer(name).output)
        expected = np.asarray(oracle([vol[None]], training=False))[0]  # 0-1: prepared as is
        assert got[name].shape == engine.layer(name).output_shape
        np.testing.assert_allclose(got[name], expected, rtol=1e-5, atol=1e-6)


def test_a_volume_is_read_like_an_image_and_never_resized(tiny):
    _, engine = tiny
    grey = np.random.default_rng(2).integers(0, 256, (4, 8, 8)).astype(np.uint8)
    np.testing.assert_array_equal(engine.pixels(grey), grey[..., None].astype(np.float32))
    with pytest.raises(ImageShapeError, match="Volumes are not resized"):
        engine.pixels(np.zeros((4, 9, 8, 1)))
    with pytest.raises(ImageShapeError, match="3 volumes: pass one at a time"):
        engine.pixels(np.zeros((3, 4, 8, 8, 1)))
    with pytest.raises(ImageShapeError, match="takes a volume"):
        engine.pixels("a_photo.png")


@pytest.mark.parametrize("layer", ["conv3d_a", "deconv3d"])
def test_scan_top_positions_are_the_brute_force_argmax(tiny, layer):
    model, engine = tiny
    data = volumes(12, seed=4)
    result = scan(engine, data, [layer], top_k=3, batch_size=5, progress=None)[layer]
    acts = np.asarray(keras.Model(model.inputs, model.get_layer(layer).output)([data]))
    assert result.map_shape == acts.shape[1:4] and result.top_positions.shape[-1] == 3
    for c in range(acts.shape[-1]):
        peaks = acts[..., c].reshape(len(data), -1).max(axis=1)
        order = sorted(range(len(data)), key=lambda i: (-peaks[i], i))[:3]
        assert list(result.top_indices[c]) == order
        for j, image in enumerate(order):
            where = np.unravel_index(acts[image, ..., c].argmax(), acts.shape[1:4])
            assert tuple(result.top_positions[c, j]) == tuple(int(v) for v in where)
            np.testing.assert_allclose(result.top_values[c, j], peaks[image], rtol=1e-5)


def _support(model, layer, position, data):
    """Input voxels (D, H, W) on which ``position`` (d, y, x) of ``layer`` depends."""
    sub = keras.Model(model.inputs, model.get_layer(layer).output)
    d, y, x = position
    gradient = backend_gradient(lambda v: sub([v], training=False)[:, d, y, x], data)
    return np.abs(gradient).sum(axis=(0, -1)) > 0


def _linear_volume_model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 12, 8, 1))
    x = L.ZeroPadding3D(((1, 0), (0, 1), (1, 1)), name="pad")(inp)
    x = L.Conv3D(2, 3, padding="same", name="same")(x)
    x = L.Conv3D(2, (1, 3, 2), strides=(1, 2, 1), name="strided")(x)
    x = L.AveragePooling3D((2, 2, 1), name="avg")(x)
    x = L.Conv3D(2, 2, dilation_rate=(1, 1, 2), name="dilated")(x)
    return keras.Model(inp, x)


def test_receptive_3d_boxes_are_the_gradient_support():
    model = _linear_volume_model()  # no ReLU: every voxel in a window has a gradient
    engine = ActivationEngine(model)
    data = volumes(3, seed=5, shape=(6, 12, 8, 1))
    rng = np.random.default_rng(0)
    for layer in ("pad", "same", "strided", "avg", "dilated"):
        shape = engine.layer(layer).output_shape[:3]
        picks = {(0, 0, 0), tuple(s - 1 for s in shape)}
        picks |= {tuple(int(rng.integers(s)) for s in shape) for _ in range(2)}
        for position in sorted(picks):
            front, top, left, back, bottom, right = volume_box(engine, layer, *position)
            support = _support(model, layer, position, data)
            inside = np.zeros_like(support)
            inside[front:back, top:bottom, left:right] = True
            where = f"{layer} {position} box {(front, top, left, back, bottom, right)}"
            assert not support[~inside].any(), f"{where}: gradient outside the box"
            if back > front and bottom > top and right > left:
                box = support[front:back, top:bottom, left:right]
                assert box.any(axis=(1, 2)).all() and box.any(axis=(0, 2)).all() \
                    and box.any(axis=(0, 1)).all(), f"{where}: a border plane without gradient"


def test_a_volume_layer_needs_three_coordinates(tiny):
    _, engine = tiny
    with pytest.raises(LayerNotViewableError, match="volume_box"):
        receptive_box(engine, "conv3d_a", 0, 0)
    with pytest.raises(LayerNotViewableError, match="no receptive box"):
        volume_box(engine, "gap3d", 0, 0, 0)


def test_top_crops_of_a_volume_layer_are_the_middle_frame_of_the_box(tiny):
    from cnnviz_widgets.engine.scan.cache import DatasetScans

    model, engine = tiny
    data = np.random.default_rng(6).integers(0, 256, (6, 4, 8, 8, 1), dtype=np.uint8)
    acts = np.asarray(keras.Model(model.inputs, model.get_layer("conv3d_b").output)(
        [data.astype(np.float32) / 255.0]))
    scans = DatasetScans(engine, data, top_k=2)
    crops = scans.crops("conv3d_b", 4)
    peaks = acts[..., 4].reshape(len(data), -1).max(axis=1)
    for crop in crops:
        where = np.unravel_index(acts[crop.index, ..., 4].argmax(), acts.shape[1:4])
        front, top, left, back, bottom, right = volume_box(engine, "conv3d_b", *where)
        frame = data[crop.index, (front + back - 1) // 2].astype(np.float32)
        np.testing.assert_array_equal(crop.pixels, frame[top:bottom, left:right])
        np.testing.assert_allclose(crop.value, peaks[crop.index], rtol=1e-5)
    assert [c.index for c in crops] == list(np.argsort(-peaks, kind="stable")[:2])
    assert scans.crops("gap3d", 0)[0].pixels.shape == (8, 8, 1)  # a vector: the middle slice


def test_a_volume_model_of_any_size_runs_and_its_boxes_ask_for_a_fixed_input():
    from cnnviz_widgets.errors import InvalidSettingError

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((None, None, None, 1)),
                              L.Conv3D(2, 3, padding="same", name="conv")])
    engine = ActivationEngine(model)
    vol = volumes(1, seed=7, shape=(3, 5, 6, 1))[0]
    expected = np.asarray(model(vol[None]))[0]
    np.testing.assert_allclose(engine.activation("conv", vol), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(InvalidSettingError, match="volumes of any size"):
        volume_box(engine, "conv", 0, 0, 0)
