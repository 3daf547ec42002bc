"""Every layer's activation equals a plain keras.Model(model.inputs, layer.output)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.testing import (
    digits_like_cnn,
    nested_backbone_model,
    skip_connection_model,
    tiny_cnn,
)

from .oracle import assert_matches, oracle_activation

NESTED_FEEDERS = {"backbone": "identity_scale", "backbone/block": "backbone/pool1"}


def _images(shape, n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=shape, dtype=np.uint8) for _ in range(n)]


def _check_all_layers(model, feeders=None, n_images=2):
    engine = ActivationEngine(model)
    for image in _images(model.inputs[0].shape[1:], n_images):
        x = engine.prepare(image)
        for name in engine.layer_names:
            assert_matches(engine.activation(name, image),
                           oracle_activation(model, name, x, feeders))
    return engine


@pytest.mark.parametrize(
    "builder",
    [tiny_cnn, digits_like_cnn, skip_connection_model],
    ids=["tiny", "digits", "skip-dag"],
)
def test_every_layer_matches_the_oracle(builder):
    _check_all_layers(builder())


def test_nested_backbone_layers_match_the_oracle():
    engine = _check_all_layers(nested_backbone_model(), NESTED_FEEDERS)
    assert "backbone/block/conv" in engine.layer_names
    assert engine.layer("backbone/block/conv").depth == 2


@pytest.mark.slow
def test_vgg16_with_top_matches_the_oracle_at_224():
    model = keras.applications.VGG16(weights=None)
    engine = _check_all_layers(model, n_images=1)
    assert len([i for i in engine.layers if i.kind in ("conv", "pool")]) == 18


@pytest.mark.slow
def test_vgg19_matches_the_oracle():
    model = keras.applications.VGG19(weights=None, include_top=False, input_shape=(64, 64, 3))
    _check_all_layers(model, n_images=1)


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
    engine = _check_all_layers(model, {"vgg16": "scale"}, n_images=1)
    assert "vgg16/block3_conv1" in engine.layer_names


class _OracleTable:
    """Oracle activations for every (layer, image) pair of one model, computed once."""

    def __init__(self, model, images, feeders=None):
        self.model = model
        self.images = images
        probe = ActivationEngine(model)
        self.names = probe.layer_names
        self.values = {}
        for i, image in enumerate(images):
            x = probe.prepare(image)
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
        st.tuples(st.sampled_from(table.names), st.integers(0, len(table.images) - 1)),
        min_size=1, max_size=30,
    ))
    for name, i in moves:
        # a fresh copy: the cache must key on content, not on the object
        image = np.array(table.images[i])
        assert_matches(engine.activation(name, image), table.values[name, i])
        assert engine.stats.cache_bytes <= budget
