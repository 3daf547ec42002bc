"""Filter mosaics: every kernel where a plain placement loop puts it, enlarged crisply."""

from __future__ import annotations

import numpy as np

from cnnviz_widgets.render.filters import filter_mosaic, rgb_mosaic


def test_filter_mosaic_places_upscaled_kernels():
    grid = np.random.default_rng(0).random((3, 4, 3, 3)).astype(np.float32)
    image, layout = filter_mosaic(grid, cell=24, pad=2, return_layout=True)
    k, t = 8, 24  # 24 // 3
    assert image.shape == (3 * t + 2 * 2, 4 * t + 3 * 2)
    assert (layout.rows, layout.columns) == (3, 4)
    for f in range(3):
        for c in range(4):
            y, x = f * (t + 2), c * (t + 2)
            tile = image[y:y + t, x:x + t]
            np.testing.assert_array_equal(tile, np.kron(grid[f, c], np.ones((k, k))))
            assert layout.channel_at(y + 3, x + 5) == f * 4 + c
    assert np.isnan(image[t:t + 2]).all() and np.isnan(image[:, t:t + 2]).all()
    np.testing.assert_array_equal(filter_mosaic(grid), image)


def test_rgb_mosaic_against_a_placement_loop():
    patches = np.random.default_rng(1).random((5, 2, 2, 3)).astype(np.float32)
    out = rgb_mosaic(patches, columns=3, cell=8, pad=1, background=200)
    t = 8  # factor 4
    assert out.dtype == np.uint8 and out.shape == (2 * t + 1, 3 * t + 2, 3)
    expected = np.full(out.shape, 200, np.uint8)
    for i in range(5):
        r, c = divmod(i, 3)
        big = np.repeat(np.repeat(patches[i], 4, axis=0), 4, axis=1)
        y, x = r * (t + 1), c * (t + 1)
        expected[y:y + t, x:x + t] = np.clip(big * 255 + 0.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
