"""The shared checks: a whole number, an index into what a layer has."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.checks import index_in, indices_in, whole_number
from cnnviz_widgets.errors import (
    CnnvizError,
    InvalidSettingError,
    ScanError,
    SelectionOutOfRangeError,
)


@pytest.mark.parametrize("value", [1, 5, np.int64(3), np.uint8(9)])
def test_whole_numbers_in_range_come_back_as_int(value):
    got = whole_number(value, "top_k")
    assert got == int(value) and type(got) is int


@pytest.mark.parametrize("value", [0, -2, True, False, 2.0, "3", None, np.bool_(True), [1]])
def test_anything_else_is_refused_with_its_name(value):
    with pytest.raises(InvalidSettingError, match=r"top_k must be a whole number of at least 1"):
        whole_number(value, "top_k")


def test_bounds_and_the_error_type_are_the_callers():
    assert whole_number(0, "steps", minimum=0) == 0
    with pytest.raises(ScanError, match="from 1 to 4; got 5"):
        whole_number(5, "partition_size", maximum=4, error=ScanError)
    with pytest.raises(CnnvizError, match="Try 3"):
        whole_number(9, "n", maximum=4, hint="Try 3.")


def test_an_index_in_range_and_out_of_range():
    assert index_in(np.int32(63), 64) == 63
    with pytest.raises(SelectionOutOfRangeError, match=r"no channel 64: layer 'c' has 64 "
                                                       r"channel\(s\), numbered 0 to 63"):
        index_in(64, 64, where="layer 'c'")
    with pytest.raises(SelectionOutOfRangeError, match="no channel -1"):
        index_in(-1, 64)
    for bad in (True, 1.0, "2", None):
        with pytest.raises(SelectionOutOfRangeError, match="by its number"):
            index_in(bad, 64)
    # both are IndexError for callers who catch that
    with pytest.raises(IndexError):
        index_in(70, 3, what="class", where="the output")


def test_many_indices_at_once():
    np.testing.assert_array_equal(indices_in([0, 2, np.int64(1)], 3), [0, 2, 1])
    assert indices_in([], 3).shape == (0,)
    with pytest.raises(SelectionOutOfRangeError, match="no channel 3"):
        indices_in([0, 3], 3)
    with pytest.raises(SelectionOutOfRangeError, match="by its number"):
        indices_in([0.5], 3)
    np.testing.assert_array_equal(indices_in(2, 3), [2])


def test_counting_from_the_end_when_the_caller_allows_it():
    assert index_in(-1, 4, from_end=True) == -1
    np.testing.assert_array_equal(indices_in([-4, 3], 4, from_end=True), [-4, 3])
    with pytest.raises(SelectionOutOfRangeError, match=r"no channel -5.*-4 to -1 from the end"):
        indices_in([0, -5], 4, from_end=True)
    with pytest.raises(SelectionOutOfRangeError, match="no channel -1"):
        indices_in([-1], 4)
