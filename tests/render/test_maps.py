"""The render pipeline: normalised mosaics, their colours, bytes, layout and scale."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets.colour.colormaps import lut
from cnnviz_widgets.colour.normalize import normalization_stats
from cnnviz_widgets.render.maps import render_channel, render_grid


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_render_grid_random_layer_within_budget():
    layer = np.random.default_rng(1).random((224, 224, 64), dtype=np.float32)
    view = render_grid(layer, None, "channel", "viridis")
    assert len(view.data) <= 400_000
    img = decode(view.data)
    assert img.size == (view.rgb.shape[1], view.rgb.shape[0])
    assert max(view.view.shape) <= 1024
    assert view.view.shape == view.layout.shape == view.rgb.shape[:2]
    assert view.layout.scale == 2 and view.layout.tile_height == 112
    assert view.layout.channels == tuple(range(64))


def test_render_grid_values_by_hand():
    a = np.array([[0.0, 10.0], [20.0, 30.0]])
    b = np.array([[0.0, 1.0], [2.0, 3.0]])
    x = np.stack([a, b], -1)
    view = render_grid(x, [1, 0], "layer", "gray", columns=2, pad=1)
    assert view.format == "png"
    assert view.layout.channels == (1, 0)
    np.testing.assert_allclose(view.view[:, :2], b / 30, rtol=1e-6)
    np.testing.assert_allclose(view.view[:, 3:], a / 30, rtol=1e-6)
    assert np.isnan(view.view[:, 2]).all()
    assert view.rgb[0, 2].tolist() == [255, 255, 255]  # background gap
    assert view.rgb[1, 4].tolist() == lut("gray")[255].tolist()
    info = view.value_at(1, 4)
    assert info["channel"] == 0 and (info["row"], info["col"]) == (1, 1)
    assert info["value"] == 30.0 and info["normalized"] == 1.0
    assert view.value_at(0, 2) is None
    assert view.normalization == "layer" and view.colormap == "gray"
    lo, hi = view.stats.value_range()  # one entry per cell, layer scale: 0 .. 30
    np.testing.assert_array_equal(lo, [0.0, 0.0])
    np.testing.assert_array_equal(hi, [30.0, 30.0])


def test_render_grid_downsampling_keeps_full_resolution_stats():
    x = np.zeros((8, 8, 1), np.float32)
    x[0, 0, 0] = 4.0  # a single bright pixel: block mean 1 after 2x downsampling
    view = render_grid(x, None, "channel", max_side=4)
    assert view.view.shape == (4, 4)
    assert view.view[0, 0] == pytest.approx(0.25)  # scaled by the full-res max, 4


def test_render_channel_layer_mode_is_comparable():
    x = np.stack([np.full((7, 7), 1.0), np.linspace(0, 10, 49).reshape(7, 7)], -1)
    view = render_channel(x, 0, "layer", "viridis")
    np.testing.assert_allclose(view.view, 0.1, rtol=1e-6)
    assert view.layout.channels == (0,)
    assert view.rgb.shape == (224, 224, 3) and view.upscale == 32
    assert decode(view.data).size == (224, 224)
    own = render_channel(x, 0, "channel", "viridis")
    np.testing.assert_array_equal(own.view, 0.0)
    assert render_channel(x, -1, "channel").layout.channels == (1,)
    with pytest.raises(IndexError):
        render_channel(x, 2, "channel")


def test_render_with_nan_and_constant_no_warnings():
    x = np.ones((6, 6, 3), np.float32)
    x[0, 0, 1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for mode in ("channel", "layer", "standardize", "signed"):
            render_grid(x, None, mode)
            render_channel(x, 1, mode)


def test_stats_follow_the_layout_order():
    x = np.random.default_rng(5).normal(size=(6, 6, 5)).astype(np.float32)
    view = render_grid(x, [3, 0, 4], "channel")
    assert view.stats.n_channels == 3
    lo, hi = view.stats.value_range()
    for k, channel in enumerate(view.layout.channels):
        assert lo[k] == pytest.approx(float(x[..., channel].min()))
        assert hi[k] == pytest.approx(float(x[..., channel].max()))
    one = render_channel(x, 2, "standardize")
    expected = normalization_stats(x[..., 2:3], "standardize")
    np.testing.assert_allclose(one.stats.value_range(), expected.value_range())


def test_old_field_names_are_deprecated():
    view = render_grid(np.ones((2, 2, 1)), None, "signed")
    with pytest.warns(DeprecationWarning):
        assert view.mode == "signed"
    with pytest.warns(DeprecationWarning):
        assert view.cmap == "RdBu_r"


def test_render_memo_gives_the_pictures_drawn_without_it():
    """One memo across colour maps, normalisations and pages of one layer, another layer,
    back to the first and a copy of it: every picture equals the one drawn from scratch
    (the memo is only a cache)."""
    from cnnviz_widgets.render.maps import RenderMemo

    rng = np.random.default_rng(3)
    first = rng.normal(size=(20, 20, 12)).astype(np.float32)
    second = rng.normal(size=(20, 20, 12)).astype(np.float32)
    memo = RenderMemo()
    steps = [(first, None, "channel", "viridis"), (first, None, "channel", "magma"),
             (first, None, "standardize", "magma"), (first, [5, 1, 2], "standardize", "gray"),
             (first, None, "channel", "viridis"), (first, [5, 1, 2], "layer", "gray"),
             (second, None, "channel", "viridis"), (second, [5, 1, 2], "layer", "gray"),
             (first, None, "standardize", "magma"), (first.copy(), None, "channel", "gray")]
    for maps, channels, mode, cmap in steps:
        fresh = render_grid(maps, channels, mode, cmap, min_side=100)
        kept = render_grid(maps, channels, mode, cmap, min_side=100, memo=memo.bind(maps))
        assert kept.data == fresh.data
        np.testing.assert_array_equal(kept.view, fresh.view)
        np.testing.assert_array_equal(kept.tiles, fresh.tiles)
        assert kept.layout.channels == fresh.layout.channels
    # what it shares between views cannot be changed through one of them
    assert not kept.view.flags.writeable
