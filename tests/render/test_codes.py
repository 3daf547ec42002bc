"""Maps as codes for the browser view: the colours the browser computes from them (their
numpy reference, ``colour_codes``) against the render layer's own normalisation and lookup."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.colour.colormaps import palette
from cnnviz_widgets.colour.normalize import NORMALIZATIONS
from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.render.codes import (
    GAP_CODE,
    codable,
    code_coefficients,
    colour_codes,
    tile_codes,
)
from cnnviz_widgets.render.maps import render_selection, render_strip


def _index_palette() -> np.ndarray:
    """A palette whose colour i spells i (red: low byte, green: high byte)."""
    i = np.arange(257)
    return np.stack([i % 256, i // 256, np.zeros_like(i)], axis=1).astype(np.uint8)


def _indices(codes, coefficients) -> np.ndarray:
    rgb = colour_codes(codes, coefficients, _index_palette()).astype(np.int32)
    return rgb[..., 0] + 256 * rgb[..., 1]


def _maps() -> np.ndarray:
    rng = np.random.default_rng(11)
    maps = rng.normal(size=(40, 36, 14)).astype(np.float32).cumsum(axis=0)
    maps[..., 3] = 2.5  # a flat channel
    maps[5:9, 2:4, 6] = np.nan  # missing values
    maps[..., 9] *= 1e-3  # a quiet channel
    return maps


@pytest.mark.parametrize("mode", NORMALIZATIONS)
@pytest.mark.parametrize("channel", [None, 6])
def test_browser_colours_are_within_one_step_of_the_render_layers(mode, channel):
    maps = _maps()
    rendered = render_selection(maps, channel, None, mode, "viridis", scale_in_viewer=True)
    assert codable(rendered)
    codes = tile_codes(rendered.tiles, rendered.layout)
    got = _indices(codes, code_coefficients(codes, rendered.stats))
    # the render layer's lookup: floor(256 x), the last entry for x = 1, NaN: background
    view = rendered.view
    want = np.where(np.isnan(view), 256,
                    np.minimum(np.floor(np.nan_to_num(view) * 256), 255)).astype(np.int32)
    assert got.shape == want.shape
    gaps = want == 256
    np.testing.assert_array_equal(got == 256, gaps)  # gaps and missing values, exactly
    assert np.abs(got - want)[~gaps].max() <= 1
    assert np.mean(got == want) > 0.6


def test_colours_come_from_the_colour_map_and_the_background():
    maps = _maps()
    rendered = render_selection(maps, None, None, "layer", "magma", scale_in_viewer=True)
    codes = tile_codes(rendered.tiles, rendered.layout)
    colours = palette("magma", (10, 20, 30))
    rgb = colour_codes(codes, code_coefficients(codes, rendered.stats), colours)
    index = _indices(codes, code_coefficients(codes, rendered.stats))
    np.testing.assert_array_equal(rgb, colours[index])
    assert (rgb[index == 256] == (10, 20, 30)).all()
    # the gaps between tiles are background, and the tile map says where the tiles are
    on_tile = (codes.tile_rows[:, None] >= 0) & (codes.tile_cols[None, :] >= 0)
    assert (codes.codes[~on_tile] == GAP_CODE).all()


def test_codes_keep_each_value_to_half_a_step_of_its_tile():
    maps = _maps()
    rendered = render_selection(maps, None, None, "channel", "viridis", scale_in_viewer=True)
    codes = tile_codes(rendered.tiles, rendered.layout)
    layout = rendered.layout
    for t in range(len(layout.channels)):
        r, c = divmod(t, codes.columns)
        y0, x0 = r * (layout.tile_height + layout.pad), c * (layout.tile_width + layout.pad)
        tile = codes.codes[y0:y0 + layout.tile_height, x0:x0 + layout.tile_width]
        source = rendered.tiles[..., t]
        finite = np.isfinite(source)
        assert (tile[~finite] == GAP_CODE).all()
        back = codes.low[t] + tile[finite].astype(np.float64) * codes.step[t]
        assert np.abs(back - source[finite]).max() <= codes.step[t] / 2 + 1e-6 * (
            1 + np.abs(source[finite]).max())
        assert (codes.tile_rows[y0:y0 + layout.tile_height] == r).all()
        assert (codes.tile_cols[x0:x0 + layout.tile_width] == c).all()


def test_a_stretched_heat_strip_is_not_codable():
    strip = render_strip(np.random.default_rng(1).normal(size=(50, 4)))
    assert not codable(strip)


def test_mismatched_tiles_or_statistics_are_our_errors():
    rendered = render_selection(_maps(), None, None, "channel", "viridis")
    with pytest.raises(InvalidSettingError, match="tiles"):
        tile_codes(rendered.tiles[..., :3], rendered.layout)
    other = render_selection(_maps(), None, [0, 1], "channel", "viridis")
    codes = tile_codes(rendered.tiles, rendered.layout)
    with pytest.raises(InvalidSettingError, match="statistics"):
        code_coefficients(codes, other.stats)
