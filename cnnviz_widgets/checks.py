"""The checks every entry point shares: a whole number, an index into what a layer has.

One wording for each, and one exception type each, wherever a value is checked:
:func:`whole_number` for counts and sizes (``top_k``, ``batch_size``, ``steps``...) and
:func:`index_in` for a channel, image, page, class or filter number. Both refuse ``True``
and ``2.0`` (a bool or a float is never a count), and both accept NumPy integers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import CnnvizError, InvalidSettingError, SelectionOutOfRangeError

__all__ = ["index_in", "indices_in", "is_whole", "whole_number"]


def is_whole(value: Any) -> bool:
    """Whether ``value`` is an integer (Python or NumPy), and not a bool."""
    return (isinstance(value, (int, np.integer))
            and not isinstance(value, (bool, np.bool_)))


def whole_number(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None,
                 error: type[CnnvizError] = InvalidSettingError, hint: str = "") -> int:
    """Return ``value`` as an ``int`` when it is a whole number in range, else raise why.

    Parameters
    ----------
    value : object
        The value given.
    name : str
        Its name as the caller wrote it (``"top_k"``, ``"steps"``).
    minimum, maximum : int, optional
        The smallest and largest values allowed (``maximum=None``: no upper bound).
    error : type
        The :class:`~cnnviz_widgets.errors.CnnvizError` to raise (InvalidSettingError by default).
    hint : str
        A sentence to append (what to do instead).

    Returns
    -------
    int

    Raises
    ------
    InvalidSettingError
        (or ``error``) with a message such as "top_k must be a whole number of at least 1;
        got 0."
    """
    if is_whole(value) and value >= minimum and (maximum is None or value <= maximum):
        return int(value)
    bound = (f"from {minimum} to {maximum}" if maximum is not None
             else f"of at least {minimum}")
    raise error(f"{name} must be a whole number {bound}; got {value!r}."
                + (f" {hint}" if hint else ""))


def index_in(value: Any, count: int, what: str = "channel", where: str = "the layer",
             hint: str = "", *, from_end: bool = False) -> int:
    """Return ``value`` as an ``int`` when it numbers one of ``count`` things, else raise.

    Parameters
    ----------
    value : object
        The index asked for.
    count : int
        How many there are.
    what : str
        What is counted, singular (``"channel"``, ``"image"``, ``"page"``, ``"class"``).
    where : str
        What has them (``"layer 'conv2'"``, ``"the output"``).
    hint : str
        A sentence to append (what to do instead).
    from_end : bool, default False
        Also accept ``-count`` to ``-1``, counting from the end as Python does (returned
        as given).

    Returns
    -------
    int

    Raises
    ------
    SelectionOutOfRangeError
        With a message such as "There is no channel 64: layer 'conv2' has 64 channel(s),
        numbered 0 to 63."; a value that is not a whole number gets the same type.
    """
    tail = f" {hint}" if hint else ""
    numbered = f"numbered 0 to {count - 1}" if count > 0 else "so none can be chosen"
    if from_end and count > 0:
        numbered += f" (or {-count} to -1 from the end)"
    if not is_whole(value):
        raise SelectionOutOfRangeError(
            f"A {what} is chosen by its number (a whole number), not {value!r}: {where} has "
            f"{count} {what}(s), {numbered}.{tail}")
    if not (-count if from_end else 0) <= value < count:
        raise SelectionOutOfRangeError(
            f"There is no {what} {value}: {where} has {count} {what}(s), {numbered}.{tail}")
    return int(value)


def indices_in(values: Any, count: int, what: str = "channel", where: str = "the layer",
               hint: str = "", *, from_end: bool = False) -> np.ndarray:
    """Return ``values`` as an int64 array when each numbers one of ``count`` things.

    Parameters
    ----------
    values : int or sequence of int
        The indices asked for.
    count, what, where, hint, from_end
        As for :func:`index_in`.

    Returns
    -------
    numpy.ndarray
        1-D int64 indices (as given: with ``from_end``, negative ones stay negative).

    Raises
    ------
    SelectionOutOfRangeError
        Naming the first index that is not one of the ``count``.
    """
    array = np.asarray(values)
    if array.ndim == 0:
        return np.asarray([index_in(array.item() if is_whole(array.item()) else values,
                                    count, what, where, hint, from_end=from_end)],
                          dtype=np.int64)
    flat = array.reshape(-1)
    if flat.size and not np.issubdtype(flat.dtype, np.integer):
        index_in(values, count, what, where, hint)  # not whole numbers: says so
    low = -count if from_end else 0
    if flat.size and (flat.min() < low or flat.max() >= count):
        bad = flat[(flat < low) | (flat >= count)][0]
        index_in(int(bad), count, what, where, hint, from_end=from_end)  # says which
    return flat.astype(np.int64)
