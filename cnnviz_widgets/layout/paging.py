"""Paging: the one way a long list of channels or filters is cut into pages."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..checks import index_in, whole_number

__all__ = ["page_count", "page_of", "page_range"]


def page_count(n: int, per_page: int) -> int:
    """Number of pages needed to show ``n`` items at ``per_page`` a page (at least 1).

    Parameters
    ----------
    n : int
        Number of items (0 still makes one, empty, page).
    per_page : int
        Items per page (>= 1).

    Raises
    ------
    InvalidSettingError
        (a ``ValueError``) when ``per_page`` < 1.
    """
    per_page = whole_number(per_page, "per_page")
    return max(1, math.ceil(max(int(n), 0) / per_page))


def page_range(n: int, page: int, per_page: int) -> range:
    """Positions ``start, ..., stop - 1`` of the items on page ``page`` (zero-based).

    Parameters
    ----------
    n : int
        Number of items.
    page : int
        Zero-based page number, ``0 <= page < page_count(n, per_page)``.
    per_page : int
        Items per page (>= 1).

    Returns
    -------
    range
        The last page may be shorter; page 0 of zero items is empty.

    Raises
    ------
    SelectionOutOfRangeError
        (an ``IndexError``) when ``page`` is negative or past the last page.
    InvalidSettingError
        (a ``ValueError``) when ``per_page`` < 1.

    Examples
    --------
    >>> page_range(10, 1, 4), page_range(10, 2, 4)
    (range(4, 8), range(8, 10))
    """
    pages = page_count(n, per_page)
    page = index_in(page, pages, "page", f"a list of {n} items at {per_page} a page")
    start = page * int(per_page)
    return range(start, min(start + int(per_page), max(int(n), 0)))


def page_of(indices: Sequence[int] | np.ndarray, page: int, per_page: int) -> np.ndarray:
    """Return one page of an ordered list of channel indices.

    Parameters
    ----------
    indices : sequence of int
        Channel indices in display order (for example from
        :func:`~cnnviz_widgets.layout.order.order_channels`).
    page : int
        Zero-based page number.
    per_page : int
        Channels per page (>= 1).

    Returns
    -------
    numpy.ndarray
        ``indices[page * per_page:(page + 1) * per_page]`` as a new intp array; the last
        page may be shorter.

    Raises
    ------
    SelectionOutOfRangeError, InvalidSettingError
        As :func:`page_range`.
    """
    idx = np.asarray(indices, dtype=np.intp).ravel()
    span = page_range(idx.size, page, per_page)
    return idx[span.start:span.stop].copy()
