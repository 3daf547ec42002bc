"""Overlay blends a coloured, resized, normalised heatmap over the image."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from cnnviz_widgets.attribution import activation_heatmap, overlay


def test_alpha_ends_and_shape():
    image = np.random.default_rng(0).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    heat = np.random.default_rng(1).uniform(size=(10, 12))
    out = overlay(image, heat, alpha=0.0)
    assert out.dtype == np.uint8 and out.shape == (10, 12, 3)
    np.testing.assert_array_equal(out, image)
    full = overlay(image, heat, alpha=1.0, cmap="viridis")
    unit = (heat - heat.min()) / (heat.max() - heat.min())
    lut = matplotlib.colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255
    want = np.rint(lut[np.rint(unit * 255).astype(int)]).astype(np.uint8)
    np.testing.assert_allclose(full.astype(int), want.astype(int), atol=1)


def test_small_heatmap_is_resized_and_gray_image_becomes_rgb():
    image = np.full((28, 28), 100, dtype=np.uint8)
    heat = np.zeros((3, 3))
    heat[1, 1] = 1.0
    out = overlay(image, heat, alpha=1.0, cmap="gray")
    assert out.shape == (28, 28, 3)
    assert out[14, 14, 0] > 200 and out[0, 0, 0] < 30


def test_constant_heatmap_and_errors():
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    out = overlay(image, np.ones((4, 4)), alpha=1.0, cmap="gray")
    assert out.max() == 0
    with pytest.raises(ValueError):
        overlay(image, np.ones((4, 4, 3)))
    with pytest.raises(ValueError):
        overlay(image, np.ones((4, 4)), alpha=1.5)
    with pytest.raises(ValueError):
        overlay(image, np.full((4, 4), np.nan))


def test_activation_heatmap():
    act = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(activation_heatmap(act), act.mean(-1))
    np.testing.assert_array_equal(activation_heatmap(act, 2), act[..., 2])
    np.testing.assert_array_equal(activation_heatmap(act[None], -1), act[..., 3])
    assert activation_heatmap(act[..., 0]).shape == (2, 3)
    with pytest.raises(IndexError):
        activation_heatmap(act, 4)
    with pytest.raises(ValueError):
        activation_heatmap(np.zeros(5))
