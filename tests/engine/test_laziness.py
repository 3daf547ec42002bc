"""Laziness and caching, proven by the engine's own counters and by layers that count."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.testing import (
    counting_cnn,
    digits_like_cnn,
    nested_backbone_model,
    skip_connection_model,
)


@pytest.fixture(scope="module")
def digits_model():
    return digits_like_cnn()


def _digit(seed):
    return np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)


def test_second_request_is_a_hit_and_runs_nothing(digits_model):
    engine = ActivationEngine(digits_model)
    first = engine.activation("conv2", _digit(0))
    evaluations = engine.stats.layer_evaluations
    assert engine.stats.cache_misses == 1 and engine.stats.cache_hits == 0
    again = engine.activation("conv2", _digit(0))
    assert engine.stats.cache_hits == 1
    assert engine.stats.layer_evaluations == evaluations
    np.testing.assert_array_equal(first, again)


def test_a_request_computes_only_the_layers_it_needs(digits_model):
    engine = ActivationEngine(digits_model)
    engine.activation("pool2", _digit(1))
    # conv1, pool1, drop1, conv2, pool2
    assert engine.stats.layer_evaluations == 5


def test_a_deeper_layer_continues_from_the_deepest_cached_one(digits_model):
    engine = ActivationEngine(digits_model)
    engine.activation("conv2", _digit(2))  # 4 layers
    engine.activation("conv3", _digit(2))  # pool2, drop2, conv3
    assert engine.stats.layer_evaluations == 7


def test_walking_all_layers_in_any_order_counts_each_layer_once(digits_model):
    engine = ActivationEngine(digits_model)
    names = engine.layer_names
    for name in np.random.default_rng(5).permutation(names):
        engine.activation(str(name), _digit(3))
    assert engine.stats.layer_evaluations == len(names)


def test_switching_image_recomputes_only_the_requested_prefix(digits_model):
    engine = ActivationEngine(digits_model)
    for name in engine.layer_names:
        engine.activation(name, _digit(4))
    before = engine.stats.layer_evaluations
    engine.activation("pool1", _digit(5))
    assert engine.stats.layer_evaluations - before == 2
    engine.activation("pool1", _digit(4))  # the first image is still cached
    assert engine.stats.layer_evaluations - before == 2


def test_same_content_in_a_new_array_is_the_same_cache_key(digits_model):
    engine = ActivationEngine(digits_model)
    engine.activation("conv1", _digit(6))
    engine.activation("conv1", _digit(6).copy())
    assert engine.stats.cache_hits == 1
    assert engine.stats.layer_evaluations == 1


def test_branches_are_computed_once_for_a_merge():
    model = skip_connection_model()
    engine = ActivationEngine(model)
    image = np.zeros((16, 16, 3), np.uint8)
    engine.activation("merge", image)
    ancestors = ["stem", "res_conv1", "res_bn", "res_relu", "res_conv2", "res_add", "res_out",
                 "side_conv", "merge"]
    assert engine.stats.layer_evaluations == len(ancestors)
    engine.activation("res_add", image)
    assert engine.stats.layer_evaluations == len(ancestors)


def test_nested_layer_needs_only_the_nested_prefix():
    engine = ActivationEngine(nested_backbone_model())
    engine.activation("backbone/block/conv", np.zeros((32, 32, 3), np.uint8))
    # identity_scale, backbone/conv1, backbone/pool1, backbone/block/conv
    assert engine.stats.layer_evaluations == 4


def test_returned_arrays_are_read_only_so_the_cache_cannot_be_corrupted(digits_model):
    engine = ActivationEngine(digits_model)
    out = engine.activation("conv1", _digit(7))
    with pytest.raises(ValueError):
        out[0, 0, 0] = 1.0


@settings(max_examples=30, deadline=None)
@given(budget=st.integers(0, 400_000),
       moves=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 3)), min_size=1, max_size=40))
def test_the_cache_never_holds_more_than_its_budget(budget, moves):
    engine = ActivationEngine(_DIGITS, cache_bytes=budget)
    names = engine.layer_names
    for layer_index, image_seed in moves:
        engine.activation(names[layer_index], _digit(image_seed))
        assert 0 <= engine.stats.cache_bytes <= budget
        assert engine._cache.nbytes == sum(v.nbytes for v in engine._cache._items.values())


_DIGITS = digits_like_cnn()


def test_features_equal_single_image_activations(digits_model):
    engine = ActivationEngine(digits_model)
    images = [_digit(s) for s in range(5)]
    feats = engine.features("dense1", images, batch_size=2)
    assert feats.shape == (5, 128)
    for i, image in enumerate(images):
        np.testing.assert_allclose(feats[i], engine.activation("dense1", image),
                                   rtol=1e-5, atol=1e-6)
    stacked = engine.features("conv1", np.stack(images))
    assert stacked.shape == (5, 26, 26, 32)


def test_results_are_read_only_even_without_a_cache(digits_model):
    engine = ActivationEngine(digits_model, cache_bytes=0)
    out = engine.activation("conv2", _digit(8))
    assert engine.stats.cache_bytes == 0
    with pytest.raises(ValueError):
        out[0, 0, 0] = 1.0


# -- counted by the layers themselves, not by the engine -------------------------------
COUNTED = ["conv1", "conv2", "add", "pool", "conv3", "flatten", "dense"]


def _small(seed):
    return np.random.default_rng(seed).integers(0, 256, (16, 16), dtype=np.uint8)


@pytest.fixture
def counted():
    model, counter = counting_cnn()
    return ActivationEngine(model), counter


def test_walking_every_layer_runs_each_layer_once_per_image(counted):
    engine, counter = counted
    assert engine.layer_names == COUNTED and not counter
    for seed in (0, 1):
        for name in np.random.default_rng(seed).permutation(COUNTED):
            engine.activation(str(name), _small(seed))
        assert counter == {name: seed + 1 for name in COUNTED}
    assert engine.stats.layer_evaluations == sum(counter.values())


def test_a_cached_request_runs_no_layer(counted):
    engine, counter = counted
    engine.activation("conv3", _small(2))
    before = counter.copy()
    engine.activation("conv3", _small(2))  # a new array with the same content
    engine.activation("add", _small(2))  # on the path of the cached request
    assert counter == before


def test_a_deeper_request_continues_from_the_cached_one(counted):
    engine, counter = counted
    engine.activation("pool", _small(3))
    assert counter == {"conv1": 1, "conv2": 1, "add": 1, "pool": 1}
    engine.activation("dense", _small(3))
    assert counter == dict.fromkeys(COUNTED, 1)


def test_a_branch_merge_runs_each_branch_once(counted):
    engine, counter = counted
    engine.activation("add", _small(4))  # add needs conv1 twice over: directly and via conv2
    assert counter == {"conv1": 1, "conv2": 1, "add": 1}


def test_without_a_cache_each_request_runs_its_prefix_again():
    model, counter = counting_cnn()
    engine = ActivationEngine(model, cache_bytes=0)  # nothing is kept
    engine.activation("pool", _small(5))
    engine.activation("pool", _small(5))
    assert counter == {"conv1": 2, "conv2": 2, "add": 2, "pool": 2}
