"""Mosaics: tiles land where the layout says, and the layout inverts the tiling."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.layout import MosaicLayout, downsample, mosaic


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


@pytest.mark.parametrize("h,w,n,columns,pad", [(3, 2, 7, None, 1), (1, 1, 1, None, 0),
                                               (4, 5, 6, 4, 2), (2, 3, 9, 1, 3),
                                               (5, 5, 12, 20, 1)])
def test_channel_at_inverts_the_tiling(h, w, n, columns, pad):
    """Every pixel of the mosaic, against a brute-force placement loop."""
    rng = np.random.default_rng(n)
    tiles = rng.normal(size=(h, w, n)).astype(np.float32)
    labels = rng.permutation(100)[:n]
    image, layout = mosaic(tiles, columns, pad, channels=labels)
    cols = min(n, columns or int(np.ceil(np.sqrt(n))))
    expected_owner = np.full(image.shape, -1)
    expected = np.full(image.shape, np.nan, np.float32)
    for k in range(n):
        r, c = divmod(k, cols)
        y, x = r * (h + pad), c * (w + pad)
        expected[y:y + h, x:x + w] = tiles[..., k]
        expected_owner[y:y + h, x:x + w] = labels[k]
    np.testing.assert_array_equal(image, expected)
    for y in range(image.shape[0]):
        for x in range(image.shape[1]):
            got = layout.channel_at(y + 0.5, x + 0.25)
            assert got == (None if expected_owner[y, x] < 0 else expected_owner[y, x])
            hit = layout.locate(y, x)
            if hit is not None:
                cell = list(labels).index(hit[0])
                assert tiles[hit[1], hit[2], cell] == image[y, x]


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


def test_mosaic_columns_no_pad_and_integer_dtype():
    tiles = np.arange(16, dtype=np.float32).reshape(2, 2, 4)
    image, layout = mosaic(tiles, columns=4, pad=0)
    assert image.shape == (2, 8)
    np.testing.assert_array_equal(image[:, 2:4], tiles[..., 1])
    levels = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    strip, _ = mosaic(levels, 2, 0, fill=0, dtype=np.uint8)
    assert strip.dtype == np.uint8 and strip.shape == (4, 4)
    np.testing.assert_array_equal(strip[2:, :2], levels[..., 2])
    assert (strip[2:, 2:] == 0).all()
    with pytest.raises(InvalidSettingError):
        mosaic(np.zeros((2, 2, 0)))
    with pytest.raises(InvalidSettingError):
        mosaic(tiles, pad=-1)


def test_downsample_block_mean():
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    out = downsample(x, 2)
    np.testing.assert_array_equal(out, [[2.5, 4.5], [10.5, 12.5]])
    assert downsample(x, 4).shape == (4, 4)


def test_downsample_partial_blocks():
    x = np.arange(25, dtype=np.float32).reshape(5, 5, 1)
    out = downsample(x, 3)  # factor 2 -> 3 x 3, edge blocks partial
    assert out.shape == (3, 3, 1)
    assert out[0, 0, 0] == np.mean([0, 1, 5, 6])
    assert out[2, 2, 0] == 24.0
    assert out[0, 2, 0] == np.mean([4, 9])
