"""Sequences and tokens laid out as maps: the one reshape of tokens, strips of height 1."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.errors import LayerNotViewableError
from cnnviz_widgets.layout.tokens import layer_maps, sequence_maps, token_maps, token_words


def test_token_maps_drop_the_class_token_and_keep_row_major_patch_order():
    tokens = np.arange(17 * 3, dtype=np.float32).reshape(17, 3)
    maps = token_maps(tokens, (4, 4, 1))
    assert maps.shape == (4, 4, 3)
    for r in range(4):
        for c in range(4):
            np.testing.assert_array_equal(maps[r, c], tokens[1 + 4 * r + c])


def test_token_maps_without_a_class_token_and_for_a_batch():
    batch = np.random.default_rng(0).normal(size=(2, 9, 5))
    maps = token_maps(batch, (3, 3, 0))
    assert maps.shape == (2, 3, 3, 5)
    np.testing.assert_array_equal(maps[1, 2, 0], batch[1, 6])


def test_token_maps_refuse_a_count_that_is_not_the_grid():
    with pytest.raises(LayerNotViewableError, match="4x4 grid"):
        token_maps(np.zeros((16, 3)), (4, 4, 1))


def test_a_sequence_is_maps_of_height_one():
    seq = np.arange(12.0).reshape(6, 2)
    maps = sequence_maps(seq)
    assert maps.shape == (1, 6, 2)
    np.testing.assert_array_equal(maps[0, :, 1], seq[:, 1])
    with pytest.raises(LayerNotViewableError):
        sequence_maps(np.zeros((2, 3, 4)))


def test_layer_maps_by_axes():
    seq = np.zeros((10, 3))
    laid = layer_maps(seq, "sequence")
    assert laid.strip and laid.along == "time" and laid.maps.shape == (1, 10, 3)
    assert "3 channels over 10 time steps" in laid.note

    grid = layer_maps(np.zeros((17, 4)), "tokens", (4, 4, 1))
    assert not grid.strip and grid.maps.shape == (4, 4, 4)
    assert grid.note == "16 patch tokens as a 4x4 grid (class token left out)"

    loose = layer_maps(np.zeros((8, 4)), "tokens", None)
    assert loose.strip and loose.along == "token" and loose.maps.shape == (1, 8, 4)
    assert "8 tokens x 4 features" in loose.note

    assert layer_maps(np.zeros((5, 5, 2)), "image").maps.shape == (5, 5, 2)
    assert layer_maps(np.zeros((5, 6)), "plane").maps.shape == (5, 6, 1)
    with pytest.raises(LayerNotViewableError):
        layer_maps(np.zeros(4), "vector")


def test_token_words_without_a_class_token():
    assert token_words(16, (4, 4, 0)) == "16 patch tokens as a 4x4 grid"
