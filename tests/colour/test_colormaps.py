"""Colour lookup tables agree with matplotlib, and gaps get the background."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from cnnviz_widgets.colour.colormaps import apply_colormap, lut


@pytest.mark.parametrize("name", ["viridis", "magma", "RdBu_r", "gray"])
def test_lut_matches_matplotlib(name):
    table = lut(name)
    assert table.shape == (256, 3) and table.dtype == np.uint8
    cmap = matplotlib.colormaps[name]
    x = np.array([0.0, 0.1, 0.25, 0.5, 0.75, 0.999, 1.0])
    expected = cmap(x, bytes=True)[:, :3]
    np.testing.assert_array_equal(apply_colormap(x[None, :], name)[0], expected)
    np.testing.assert_array_equal(table, cmap(np.arange(256), bytes=True)[:, :3])


def test_lut_is_cached_and_read_only():
    assert lut("viridis") is lut("viridis")
    with pytest.raises(ValueError):
        lut("viridis")[0, 0] = 1


def test_nan_gets_background():
    x = np.array([[np.nan, 0.0], [1.0, np.nan]])
    rgb = apply_colormap(x, "viridis", background=(1, 2, 3))
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [1, 2, 3] and rgb[1, 1].tolist() == [1, 2, 3]
    assert rgb[0, 1].tolist() == lut("viridis")[0].tolist()
    assert rgb[1, 0].tolist() == lut("viridis")[255].tolist()


def test_out_of_range_is_clipped():
    rgb = apply_colormap(np.array([[-3.0, 7.0]]), "gray")
    assert rgb[0, 0].tolist() == [0, 0, 0] and rgb[0, 1].tolist() == [255, 255, 255]


def test_unknown_colormap_lists_valid_names():
    with pytest.raises(ValueError, match="viridis") as info:
        lut("viridiss")
    assert "Did you mean 'viridis'" in str(info.value)


def test_colormap_object_any_shape_and_float_output():
    from matplotlib.colors import LinearSegmentedColormap

    cmap = LinearSegmentedColormap.from_list("red_to_blue", ["red", "blue"])
    x = np.random.default_rng(0).random((2, 3, 4))
    rgb = apply_colormap(x, cmap)
    assert rgb.shape == (2, 3, 4, 3) and rgb.dtype == np.uint8
    # independent oracle: matplotlib's own colour of each bin's centre
    centre = (np.floor(x * 256).clip(0, 255) + 0.5) / 256
    np.testing.assert_array_equal(rgb, cmap(centre, bytes=True)[..., :3])
    as_float = apply_colormap(x, cmap, as_float=True)
    assert as_float.dtype == np.float32
    np.testing.assert_allclose(as_float, rgb / 255.0, atol=1e-7)
    np.testing.assert_array_equal(apply_colormap(x, "jet"),
                                  apply_colormap(x, matplotlib.colormaps["jet"]))


def test_colormap_of_the_wrong_type():
    with pytest.raises(ValueError, match="Colormap"):
        lut(3)
