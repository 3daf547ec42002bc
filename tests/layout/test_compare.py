"""Comparing two views: the join, the difference and two views beside each other, exactly."""

from __future__ import annotations

import numpy as np

from cnnviz_widgets.layout.compare import beside, difference, gap_width, join

NAN = np.nan


def test_the_gap_is_an_eighth_of_the_width_and_at_least_one_column():
    assert [gap_width(w) for w in (1, 7, 8, 15, 16, 64)] == [1, 1, 1, 1, 2, 8]


def test_join_puts_the_maps_side_by_side_with_a_nan_gap():
    left = np.arange(4, dtype=np.float32).reshape(2, 2, 1)
    right = 10 + np.arange(4, dtype=np.float32).reshape(2, 2, 1)
    joined, both = join(left, right)
    np.testing.assert_array_equal(joined[..., 0], [[0, 1, NAN, 10, 11],
                                                   [2, 3, NAN, 12, 13]])
    np.testing.assert_array_equal(both[..., 0], [[0, 1, 10, 11], [2, 3, 12, 13]])
    assert joined.shape == (2, 5, 1) and both.shape == (2, 4, 1)


def test_join_keeps_every_channel_and_takes_2d_maps_as_one_channel():
    left = np.zeros((1, 16, 3), np.float32)
    right = np.ones((1, 16, 3), np.float32)
    joined, _ = join(left, right)
    assert joined.shape == (1, 16 + 2 + 16, 3)
    assert np.isnan(joined[:, 16:18]).all() and (joined[:, 18:] == 1).all()
    joined, both = join(np.zeros((2, 2)), np.ones((2, 2)))
    assert joined.shape == (2, 5, 1) and both.shape == (2, 4, 1)


def test_difference_is_left_minus_right_in_float32():
    left = np.array([[3, 0], [255, 7]], dtype=np.uint8)
    right = np.array([[1, 2], [0, 7]], dtype=np.uint8)
    out = difference(left, right)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[2, -2], [255, 0]])


def test_beside_pads_the_shorter_view_below_and_puts_a_gap_between():
    left = np.array([[1.0, 2.0]], np.float32)
    right = np.array([[5.0], [6.0]], np.float32)
    out = beside(left, right)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1, 2, NAN, 5],
                                        [NAN, NAN, NAN, 6]])


def test_beside_views_of_the_same_height_are_not_padded():
    left = np.zeros((2, 16), np.float32)
    right = np.ones((2, 16), np.float32)
    out = beside(left, right)
    assert out.shape == (2, 16 + 2 + 16)
    assert not np.isnan(out[:, :16]).any() and np.isnan(out[:, 16:18]).all()
