"""Paging: every item on exactly one page, in order, against plain slicing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnviz_widgets.errors import InvalidSettingError, SelectionOutOfRangeError
from cnnviz_widgets.layout import page_count, page_of, page_range


def test_paging_by_hand():
    idx = np.arange(10)[::-1]
    assert page_of(idx, 0, 4).tolist() == [9, 8, 7, 6]
    assert page_of(idx, 2, 4).tolist() == [1, 0]
    assert page_count(10, 4) == 3
    assert page_count(0, 4) == 1
    assert page_range(10, 1, 4) == range(4, 8)
    assert page_range(0, 0, 4) == range(0, 0)
    with pytest.raises(SelectionOutOfRangeError, match="numbered 0 to 2"):
        page_of(idx, 3, 4)
    with pytest.raises(IndexError):
        page_of(idx, -1, 4)
    with pytest.raises(InvalidSettingError):
        page_of(idx, 0, 0)


@pytest.mark.parametrize("n,per_page", [(1, 1), (7, 3), (64, 64), (65, 64), (1000, 64),
                                        (37, 8)])
def test_pages_partition_the_list(n, per_page):
    order = np.random.default_rng(n).permutation(n)
    pages = page_count(n, per_page)
    assert pages == math.ceil(n / per_page)
    seen = np.concatenate([page_of(order, p, per_page) for p in range(pages)])
    np.testing.assert_array_equal(seen, order)
    for p in range(pages):
        np.testing.assert_array_equal(page_of(order, p, per_page),
                                      order[p * per_page:(p + 1) * per_page])


def test_page_of_returns_a_copy():
    idx = np.arange(5)
    page = page_of(idx, 0, 5)
    page[0] = 99
    assert idx[0] == 0
