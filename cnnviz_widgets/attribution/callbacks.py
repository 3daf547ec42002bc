"""Progress callbacks for the iterative attribution methods.

A long computation (activation maximisation, SmoothGrad's noisy samples) reports to a
:class:`Callback`: ``on_begin(total)`` once, ``callback(step, total, value)`` after each
step, ``on_end()`` once, also when the computation fails. :func:`as_callback` turns what
a caller passes as ``progress=`` into one callback, once, before the loop starts: a
plain function ``f(step, total)``, an ``ipywidgets.IntProgress`` bar, a callback or a
list of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = [
    "Callback",
    "CallbackList",
    "FunctionProgress",
    "ProgressLike",
    "WidgetProgress",
    "as_callback",
    "reporting",
]


class Callback:
    """Base class of progress callbacks; every hook does nothing by default.

    Subclass it and override the hooks you need.
    """

    def on_begin(self, total: int) -> None:
        """Called once before the first step; ``total`` is the number of steps."""

    def __call__(self, step: int, total: int, value: float) -> None:
        """Called after step ``step`` (1 to ``total``).

        Parameters
        ----------
        step : int
            Steps done so far.
        total : int
            Steps in all.
        value : float
            The method's current objective (NaN for a method without one).
        """

    def on_end(self) -> None:
        """Called once after the last step, also when the computation raised."""


class FunctionProgress(Callback):
    """Calls a plain function ``f(step, total)`` after each step.

    Parameters
    ----------
    function : callable
        Called as ``function(step, total)``.
    """

    def __init__(self, function: Callable[[int, int], Any]):
        self.function = function

    def __call__(self, step: int, total: int, value: float) -> None:
        self.function(step, total)


class WidgetProgress(Callback):
    """Drives a progress bar widget such as ``ipywidgets.IntProgress``.

    ``on_begin`` sets ``bar.max`` to the number of steps and ``bar.value`` to 0; each
    step sets ``bar.value``. Nothing is imported: any object with writable ``value``
    and ``max`` attributes works.

    Parameters
    ----------
    bar : ipywidgets.IntProgress or alike
        The widget to update.
    """

    def __init__(self, bar: Any):
        self.bar = bar

    def on_begin(self, total: int) -> None:
        self.bar.max = total
        self.bar.value = 0

    def __call__(self, step: int, total: int, value: float) -> None:
        self.bar.value = step


class CallbackList(Callback):
    """Several callbacks called in order, as one.

    Parameters
    ----------
    callbacks : sequence of Callback
        The callbacks.
    """

    def __init__(self, callbacks: Sequence[Callback] = ()):
        self.callbacks = list(callbacks)

    def on_begin(self, total: int) -> None:
        for callback in self.callbacks:
            callback.on_begin(total)

    def __call__(self, step: int, total: int, value: float) -> None:
        for callback in self.callbacks:
            callback(step, total, value)

    def on_end(self) -> None:
        for callback in self.callbacks:
            callback.on_end()


#: What ``progress=`` accepts: None, a Callback, a function ``f(step, total)``, a widget
#: with ``value`` and ``max`` (ipywidgets.IntProgress), or a list of these.
ProgressLike = Callback | Callable[[int, int], Any] | Sequence[Any] | Any | None


def _is_bar(obj: Any) -> bool:
    return not callable(obj) and hasattr(obj, "value") and hasattr(obj, "max")


def as_callback(progress: ProgressLike) -> Callback:
    """Turn a ``progress=`` argument into one :class:`Callback`.

    Parameters
    ----------
    progress : None, Callback, callable, widget or sequence of these
        ``None``: no reporting; a :class:`Callback` is used as it is; a widget with
        ``value`` and ``max`` (``ipywidgets.IntProgress``) is driven by
        :class:`WidgetProgress`; any other callable is called as ``f(step, total)``;
        a list or tuple combines its items.

    Returns
    -------
    Callback

    Raises
    ------
    TypeError
        For anything else.
    """
    if progress is None:
        return Callback()
    if isinstance(progress, Callback):
        return progress
    if isinstance(progress, (list, tuple)):
        return CallbackList([as_callback(item) for item in progress])
    if _is_bar(progress):
        return WidgetProgress(progress)
    if callable(progress):
        return FunctionProgress(progress)
    raise TypeError(
        "progress must be a Callback, a function progress(step, total), a progress bar "
        f"widget with 'value' and 'max' (ipywidgets.IntProgress) or a list of these; got "
        f"{type(progress).__name__}."
    )


@contextlib.contextmanager
def reporting(progress: ProgressLike, total: int) -> Iterator[Callback]:
    """Wrap ``progress`` once, call ``on_begin(total)``, yield it, and always ``on_end()``.

    Examples
    --------
    >>> with reporting(lambda s, t: print(s, t), 2) as report:
    ...     for step in (1, 2):
    ...         report(step, 2, float("nan"))
    1 2
    2 2
    """
    callback = as_callback(progress)
    callback.on_begin(total)
    try:
        yield callback
    finally:
        callback.on_end()
