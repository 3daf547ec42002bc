"""Crop pictures: enlarged crisp, the marker outlined where it is, the pixels untouched."""

from __future__ import annotations

import numpy as np

from cnnviz_widgets.render.crops import MARKER_COLOUR, Crop, crop_picture, draw_outline


def test_the_outline_is_drawn_inside_the_box_and_nowhere_else():
    rgb = np.zeros((6, 6, 3), dtype=np.uint8)
    out = draw_outline(rgb, (1, 1, 5, 5))
    painted = (out == MARKER_COLOUR).all(axis=2)
    expected = np.zeros((6, 6), dtype=bool)
    expected[1:5, 1:5] = True
    expected[2:4, 2:4] = False
    np.testing.assert_array_equal(painted, expected)
    assert not rgb.any()  # a copy


def test_a_crop_is_enlarged_by_an_integer_factor_with_its_marker_scaled():
    pixels = np.arange(25, dtype=np.float32).reshape(5, 5) * 10
    picture = crop_picture(Crop(pixels, (2, 2, 3, 3), "x"), side=50)
    assert picture.shape == (50, 50, 3)
    plain = crop_picture(Crop(pixels, (2, 2, 3, 3), "x"), side=50, marked=False)
    np.testing.assert_array_equal(plain[::10, ::10, 0], pixels.astype(np.uint8))
    painted = (picture == MARKER_COLOUR).all(axis=2)
    rows, cols = np.nonzero(painted)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (20, 29, 20, 29)
    np.testing.assert_array_equal(picture[~painted], plain[~painted])


def test_a_crop_without_marker_is_the_picture_alone():
    pixels = np.full((4, 4, 3), 7, dtype=np.float32)
    picture = crop_picture(Crop(pixels, None, ""), side=8)
    assert (picture == 7).all()
