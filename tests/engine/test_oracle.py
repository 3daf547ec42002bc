"""Every layer's activation equals a plain keras.Model(model.inputs, layer.output).

The oracle prepares its input on its own (Pillow resize, the model's own
``preprocess_input`` or a division by 255), so a mistake in ``engine.prepare`` fails
here too, and the engine's list of layers is checked in full against ``model.layers``.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.errors import LayerNotViewableError
from cnnviz_widgets.testing import (
    digits_like_cnn,
    multi_output_layer_model,
    nested_backbone_model,
    shared_layer_model,
    skip_connection_model,
    tiny_cnn,
)

from .oracle import assert_matches, flat_layer_names, oracle_activation, oracle_prepare, unit

NESTED_FEEDERS = {"backbone": "identity_scale", "backbone/block": "backbone/pool1"}
NESTED_LAYERS = ["identity_scale", "backbone/conv1", "backbone/pool1", "backbone/block/conv",
                 "backbone/block/pool", "backbone/conv2", "gap", "head", "probs"]


def _images(shape, n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=shape, dtype=np.uint8) for _ in range(n)]


def _input_size(model) -> tuple[int, int]:
    return tuple(int(d) for d in model.inputs[0].shape[1:3])


def _check_all_layers(model, image_shape, feeders=None, n_images=2, preprocess=unit):
    """Compare every layer for ``n_images`` random images of ``image_shape`` (any size)."""
    engine = ActivationEngine(model)
    for image in _images(image_shape, n_images):
        x = oracle_prepare(image, _input_size(model), preprocess)
        for name in engine.layer_names:
            assert_matches(engine.activation(name, image),
                           oracle_activation(model, name, x, feeders))
    return engine


@pytest.mark.parametrize(
    ("builder", "image_shape"),
    [(tiny_cnn, (13, 11)), (digits_like_cnn, (28, 28, 1)), (skip_connection_model, (20, 24, 3))],
    ids=["tiny-resized", "digits", "skip-dag-resized"],
)
def test_every_layer_of_a_flat_model_matches_the_oracle(builder, image_shape):
    model = builder()
    engine = _check_all_layers(model, image_shape)
    assert engine.layer_names == flat_layer_names(model)


def test_nested_backbone_layers_match_the_oracle():
    engine = _check_all_layers(nested_backbone_model(), (32, 32, 3), NESTED_FEEDERS)
    assert engine.layer_names == NESTED_LAYERS
    assert engine.layer("backbone/block/conv").depth == 2
    assert engine.layer("backbone/block/conv").parent == "backbone/block"


def test_the_oracle_preparation_is_not_the_engine_s_own():
    # guards the guard: a different preprocessing gives a different input
    model = tiny_cnn()
    image = _images((13, 11), 1)[0]
    x = oracle_prepare(image, (8, 8))
    np.testing.assert_allclose(ActivationEngine(model).prepare(image), x, rtol=1e-6, atol=1e-6)
    assert not np.allclose(ActivationEngine(model, preprocess=lambda b: b).prepare(image), x)


def test_a_shared_layer_and_a_shared_nested_model_are_one_entry_per_call():
    model = shared_layer_model()
    engine = ActivationEngine(model)
    assert engine.layer_names == ["stem", "shared", "shared:2", "sum", "block/conv",
                                  "block:2/conv", "gap", "probs"]
    assert engine.layer("block:2/conv").parent == "block:2"
    assert engine.keras_layer("shared:2") is model.get_layer("shared")
    image = _images((12, 12, 3), 1, seed=4)[0]
    x = oracle_prepare(image, (12, 12))
    # each call of the shared objects, run by hand on the oracle's values
    stem = keras.Model(model.inputs, model.get_layer("stem").output)(x)
    shared, block = model.get_layer("shared"), model.get_layer("block")
    first = shared(stem)
    second = shared(first)
    total = first + second
    once = block(total)
    twice = block(once)
    expected = {
        "stem": stem, "shared": first, "shared:2": second, "sum": total,
        "block/conv": once, "block:2/conv": twice,
        "gap": keras.ops.mean(twice, axis=(1, 2)),
        "probs": model(x),
    }
    for name in engine.layer_names:
        assert_matches(engine.activation(name, image), np.asarray(expected[name])[0])
    assert not np.allclose(engine.activation("shared", image),
                           engine.activation("shared:2", image))


def test_a_layer_with_two_outputs_is_listed_once_per_output():
    model = multi_output_layer_model()
    engine = ActivationEngine(model)
    names = flat_layer_names(model)
    at = names.index("split")
    assert engine.layer_names == [*names[:at], "split[0]", "split[1]", *names[at + 1:]]
    assert [i.n_outputs for i in engine.layers] == [1, 2, 2, 1, 1, 1, 1, 1]
    image = _images((10, 10, 3), 1, seed=2)[0]
    with pytest.raises(LayerNotViewableError, match=r"'split' has 2 outputs.*'split\[0\]'"):
        engine.activation("split", image)
    x = oracle_prepare(image, (10, 10))
    for name in engine.layer_names:
        if name.startswith("split["):
            split = keras.Model(model.inputs, model.get_layer("split").output)(x)
            expected = keras.ops.convert_to_numpy(split[int(name[6])])[0]
        else:
            expected = oracle_activation(model, name, x)
        assert_matches(engine.activation(name, image), expected)


@pytest.mark.slow
def test_vgg16_with_top_matches_the_oracle_at_224():
    model = keras.applications.VGG16(weights=None)
    engine = _check_all_layers(model, (240, 200, 3), n_images=1,
                               preprocess=keras.applications.vgg16.preprocess_input)
    assert engine.layer_names == flat_layer_names(model)
    assert len([i for i in engine.layers if i.kind in ("conv", "pool")]) == 18


@pytest.mark.slow
def test_vgg19_matches_the_oracle():
    model = keras.applications.VGG19(weights=None, include_top=False, input_shape=(64, 64, 3))
    engine = _check_all_layers(model, (50, 80, 3), n_images=1,
                               preprocess=keras.applications.vgg19.preprocess_input)
    assert engine.layer_names == flat_layer_names(model)


@pytest.mark.slow
def test_resnet50_branches_are_listed_in_the_model_s_own_order():
    model = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
    engine = ActivationEngine(model)
    assert engine.layer_names == flat_layer_names(model)
    image = _images((64, 64, 3), 1)[0]
    x = oracle_prepare(image, (64, 64), keras.applications.resnet50.preprocess_input)
    for name in ("conv2_block1_0_conv", "conv2_block1_3_bn", "conv2_block1_add",
                 "conv3_block4_out", "conv5_block3_out"):
        assert_matches(engine.activation(name, image), oracle_activation(model, name, x),
                       rtol=1e-4)


@pytest.mark.slow
def test_vgg16_as_nested_backbone_matches_the_oracle():
    backbone = keras.applications.VGG16(weights=None, include_top=False,
                                        input_shape=(48, 48, 3))
    inp = keras.Input((48, 48, 3))
    h = keras.layers.Rescaling(1 / 127.5, offset=-1, name="scale")(inp)
    h = backbone(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    out = keras.layers.Dense(3, name="head")(h)
    model = keras.Model(inp, out)
    engine = _check_all_layers(model, (48, 48, 3), {"vgg16": "scale"}, n_images=1)
    assert engine.layer_names == (
        ["scale"] + [f"vgg16/{n}" for n in flat_layer_names(backbone)] + ["gap", "head"])


class _OracleTable:
    """Oracle activations for every (layer, image) pair of one model, computed once."""

    def __init__(self, model, images, feeders=None):
        self.model = model
        self.images = images
        self.names = ActivationEngine(model).layer_names
        self.values = {}
        for i, image in enumerate(images):
            x = oracle_prepare(image, _input_size(model))
            for name in self.names:
                self.values[name, i] = oracle_activation(model, name, x, feeders)


@pytest.fixture(scope="module")
def nested_table():
    return _OracleTable(nested_backbone_model(), _images((32, 32, 3), 3, seed=7), NESTED_FEEDERS)


@pytest.fixture(scope="module")
def skip_table():
    return _OracleTable(skip_connection_model(), _images((16, 16, 3), 3, seed=3))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), budget=st.sampled_from([0, 20_000, 200_000, 512 * 2**20]))
@pytest.mark.parametrize("table_name", ["nested_table", "skip_table"])
def test_random_navigation_and_image_switches_match_the_oracle(request, table_name, data, budget):
    table = request.getfixturevalue(table_name)
    engine = ActivationEngine(table.model, cache_bytes=budget)
    moves = data.draw(st.lists(
        st.tuples(st.sampled_from(table.names), st.integers(0, len(table.images) - 1),
                  st.booleans()),
        min_size=1, max_size=30,
    ))
    for name, i, frozen in moves:
        # a fresh copy: the cache must key on content, not on the object
        image = np.array(table.images[i])
        image.flags.writeable = not frozen
        assert_matches(engine.activation(name, image), table.values[name, i])
        assert engine.stats.cache_bytes <= budget
