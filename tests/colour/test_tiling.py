"""Channel ordering, paging, downsampling and mosaic layout."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.colour.tiling import (
    MosaicLayout,
    downsample,
    mosaic,
    order_channels,
    page_count,
    page_of,
)


def three_channels():
    a = np.array([[0.0, 0.0], [0.0, 4.0]])  # mean 1, max 4, 3/4 zeros
    b = np.array([[2.0, 2.0], [2.0, 2.0]])  # mean 2, max 2, no zeros
    c = np.array([[0.0, 0.0], [0.0, 0.0]])  # dead
    return np.stack([a, b, c], axis=-1)


@pytest.mark.parametrize("by,expected", [("index", [0, 1, 2]), ("mean", [1, 0, 2]),
                                         ("max", [0, 1, 2]), ("sparsity", [1, 0, 2])])
def test_order_channels(by, expected):
    order = order_channels(three_channels(), by)
    assert order.dtype == np.intp
    assert order.tolist() == expected


def test_order_ties_are_stable_and_nan_channel_last():
    x = np.stack([np.ones((2, 2)), np.full((2, 2), np.nan), np.ones((2, 2))], axis=-1)
    assert order_channels(x, "mean").tolist() == [0, 2, 1]


def test_order_unknown():
    with pytest.raises(ValueError, match="'index', 'mean', 'max', 'sparsity'"):
        order_channels(three_channels(), "variance")


def test_paging():
    idx = np.arange(10)[::-1]
    assert page_of(idx, 0, 4).tolist() == [9, 8, 7, 6]
    assert page_of(idx, 2, 4).tolist() == [1, 0]
    assert page_count(10, 4) == 3
    assert page_count(0, 4) == 1
    with pytest.raises(IndexError, match="numbered 0 to 2"):
        page_of(idx, 3, 4)
    with pytest.raises(ValueError):
        page_of(idx, 0, 0)


def test_mosaic_places_tiles_and_gaps():
    tiles = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    image, layout = mosaic(tiles, pad=1, channels=[10, 11, 12, 13, 14])
    assert (layout.rows, layout.columns) == (2, 3)  # ceil(sqrt(5)) = 3 columns
    assert image.shape == (2 * 2 + 1, 3 * 3 + 2) == layout.shape
    np.testing.assert_array_equal(image[0:2, 0:3], tiles[..., 0])
    np.testing.assert_array_equal(image[0:2, 4:7], tiles[..., 1])
    np.testing.assert_array_equal(image[3:5, 4:7], tiles[..., 4])
    assert np.isnan(image[2]).all()  # gap row
    assert np.isnan(image[:, 3]).all() and np.isnan(image[:, 7]).all()  # gap columns
    assert np.isnan(image[3:5, 8:11]).all()  # empty last cell


def test_channel_at_maps_pixels_back():
    layout = MosaicLayout(rows=2, columns=3, tile_height=2, tile_width=3, pad=1,
                          channels=(10, 11, 12, 13, 14))
    assert layout.channel_at(0, 0) == 10
    assert layout.channel_at(1.9, 2.9) == 10
    assert layout.channel_at(0, 3) is None  # gap column
    assert layout.channel_at(0, 4) == 11
    assert layout.channel_at(2, 0) is None  # gap row
    assert layout.channel_at(3, 0) == 13
    assert layout.channel_at(4, 6) == 14
    assert layout.channel_at(3, 8) is None  # empty cell
    assert layout.channel_at(-1, 0) is None and layout.channel_at(0, 11) is None
    assert layout.locate(4, 6) == (14, 1, 2)


def test_locate_scales_back_to_source():
    layout = MosaicLayout(1, 2, 2, 2, 1, (5, 7), scale=3, source_height=5, source_width=5)
    assert layout.locate(1, 4) == (7, 3, 3)
    assert layout.locate(1, 1) == (5, 3, 3)


def test_mosaic_columns_and_no_pad():
    tiles = np.arange(16, dtype=np.float32).reshape(2, 2, 4)
    image, layout = mosaic(tiles, columns=4, pad=0)
    assert image.shape == (2, 8)
    np.testing.assert_array_equal(image[:, 2:4], tiles[..., 1])
    with pytest.raises(ValueError):
        mosaic(np.zeros((2, 2, 0)))


def test_downsample_block_mean():
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    out = downsample(x, 2)
    np.testing.assert_array_equal(out, [[2.5, 4.5], [10.5, 12.5]])
    assert downsample(x, 4) is not None and downsample(x, 4).shape == (4, 4)


def test_downsample_partial_blocks():
    x = np.arange(25, dtype=np.float32).reshape(5, 5, 1)
    out = downsample(x, 3)  # factor 2 -> 3 x 3, edge blocks partial
    assert out.shape == (3, 3, 1)
    assert out[0, 0, 0] == np.mean([0, 1, 5, 6])
    assert out[2, 2, 0] == 24.0
    assert out[0, 2, 0] == np.mean([4, 9])
