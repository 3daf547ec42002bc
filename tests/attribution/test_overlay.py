"""Overlay blends a coloured, resized, normalised heatmap over the image."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from cnnviz_widgets.attribution import activation_heatmap, overlay
from cnnviz_widgets.errors import (
    InvalidSettingError,
    LayerNotViewableError,
    SelectionOutOfRangeError,
)


def test_alpha_ends_and_shape():
    image = np.random.default_rng(0).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    heat = np.random.default_rng(1).uniform(size=(10, 12))
    out = overlay(image, heat, alpha=0.0)
    assert out.dtype == np.uint8 and out.shape == (10, 12, 3)
    np.testing.assert_array_equal(out, image)
    full = overlay(image, heat, alpha=1.0, colormap="viridis")
    unit = (heat - heat.min()) / (heat.max() - heat.min())
    want = matplotlib.colormaps["viridis"](unit, bytes=True)[..., :3]
    np.testing.assert_array_equal(full, want)
    # a blend is the weighted sum, rounded (quarters of integers are exact in floats)
    half = overlay(image, heat, alpha=0.25, colormap="viridis")
    blend = np.rint(0.75 * image.astype(np.float64) + 0.25 * want.astype(np.float64))
    np.testing.assert_array_equal(half, blend.astype(np.uint8))


def test_cmap_is_a_deprecated_alias_and_colormap_objects_work_registered_or_not():
    image = np.random.default_rng(2).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    heat = np.random.default_rng(3).uniform(size=(6, 6))
    want = overlay(image, heat, alpha=0.6, colormap="magma")
    with pytest.warns(DeprecationWarning, match="colormap"):
        np.testing.assert_array_equal(overlay(image, heat, alpha=0.6, cmap="magma"), want)
    np.testing.assert_array_equal(
        overlay(image, heat, alpha=0.6, colormap=matplotlib.colormaps["magma"]), want)
    custom = matplotlib.colors.LinearSegmentedColormap.from_list("unregistered", ["k", "r"])
    red = overlay(np.zeros_like(image), np.eye(6), alpha=1.0, colormap=custom)
    np.testing.assert_array_equal(red[np.eye(6, dtype=bool)], [[255, 0, 0]] * 6)
    np.testing.assert_array_equal(red[~np.eye(6, dtype=bool)], 0)
    with pytest.raises(InvalidSettingError, match="colour map"):
        overlay(image, heat, colormap="not-a-map")


def test_small_heatmap_is_resized_and_gray_image_becomes_rgb():
    image = np.full((28, 28), 100, dtype=np.uint8)
    heat = np.zeros((3, 3))
    heat[1, 1] = 1.0
    out = overlay(image, heat, alpha=1.0, colormap="gray")
    assert out.shape == (28, 28, 3)
    assert out[14, 14, 0] > 200 and out[0, 0, 0] < 30


def test_constant_heatmap_and_errors():
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    out = overlay(image, np.ones((4, 4)), alpha=1.0, colormap="gray")
    assert out.max() == 0
    with pytest.raises(LayerNotViewableError):
        overlay(image, np.ones((4, 4, 3)))
    with pytest.raises(InvalidSettingError, match="alpha"):
        overlay(image, np.ones((4, 4)), alpha=1.5)
    with pytest.raises(InvalidSettingError, match="NaN"):
        overlay(image, np.full((4, 4), np.nan))


def test_activation_heatmap():
    act = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(activation_heatmap(act), act.mean(-1))
    np.testing.assert_array_equal(activation_heatmap(act, 2), act[..., 2])
    np.testing.assert_array_equal(activation_heatmap(act[None], -1), act[..., 3])
    assert activation_heatmap(act[..., 0]).shape == (2, 3)
    with pytest.raises(SelectionOutOfRangeError):
        activation_heatmap(act, 4)
    with pytest.raises(LayerNotViewableError):
        activation_heatmap(np.zeros(5))
