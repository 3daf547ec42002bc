"""Nearest-neighbour upscaling against an explicit index formula."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.render.upscale import upscale_by, upscale_factor, upscale_nearest


def test_upscale_nearest_is_crisp():
    rgb = np.arange(7 * 7 * 3, dtype=np.uint8).reshape(7, 7, 3)
    big = upscale_nearest(rgb, 224)
    assert big.shape == (224, 224, 3)
    np.testing.assert_array_equal(big[::32, ::32], rgb)
    np.testing.assert_array_equal(big[31, 31], rgb[0, 0])
    np.testing.assert_array_equal(big[32, 0], rgb[1, 0])
    assert upscale_nearest(rgb, 5) is rgb


@pytest.mark.parametrize("shape,k", [((3, 4), 3), ((2, 5, 3), 2), ((4, 1, 6), 5)])
def test_upscale_by_matches_the_index_formula(shape, k):
    x = np.random.default_rng(0).random(shape)
    big = upscale_by(x, k)
    rows = np.arange(shape[0] * k) // k
    cols = np.arange(shape[1] * k) // k
    np.testing.assert_array_equal(big, x[rows][:, cols])


def test_factor_is_capped_by_max_side():
    assert upscale_factor((7, 7), 224) == 32
    assert upscale_factor((7, 100), 224, max_side=500) == 5
    assert upscale_factor((3000, 3000), 224) == 1
    with pytest.raises(ValueError):
        upscale_by(np.zeros((2, 2)), 0)
