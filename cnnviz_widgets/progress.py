"""Progress callbacks for long computations: attribution loops and data-set scans.

A long computation (activation maximisation, SmoothGrad's noisy samples, a scan) reports to a
:class:`Callback`: ``on_begin(total)`` once, ``callback(step, total, value)`` after each
step, ``on_end()`` once, also when the computation fails. :func:`as_callback` turns what
a caller passes as ``progress=`` into one callback, once, before the loop starts: a
plain function ``f(step, total)``, an ``ipywidgets.IntProgress`` bar, a callback or a
list of them.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .errors import ArgumentTypeError

__all__ = [
    "Callback",
    "CallbackList",
    "FunctionProgress",
    "NotebookProgress",
    "ProgressLike",
    "TextProgress",
    "WidgetProgress",
    "as_callback",
    "default_progress",
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


class _Rate:
    """Items per second since ``on_begin``; the shared part of the text and bar displays."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def restart(self) -> None:
        self.started = time.perf_counter()

    def describe(self, step: int, total: int | None, unit: str) -> str:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = step / elapsed
        shown = f"{step:,}" if not total else f"{step:,} / {total:,}"
        return f"{shown} {unit}, {rate:,.0f} {unit}/s, {elapsed:.1f} s"


class TextProgress(Callback):
    """Writes ``done / total items, rate items/s`` on one line of a text stream.

    Parameters
    ----------
    unit : str
        What a step counts (``"images"``, ``"steps"``).
    stream : file, optional
        Where to write (default: standard error).
    every : float
        Seconds between two updates of the line (the last one is always written).
    """

    def __init__(self, unit: str = "steps", stream: Any = None, every: float = 0.5):
        self.unit = unit
        self.stream = stream
        self.every = every
        self._rate = _Rate()
        self._shown = 0.0
        self.text = ""

    def on_begin(self, total: int) -> None:
        self._rate.restart()
        self._shown = 0.0

    def __call__(self, step: int, total: int, value: float) -> None:
        now = time.perf_counter()
        if step < total and now - self._shown < self.every:
            return
        self._shown = now
        self.text = self._rate.describe(step, total, self.unit)
        stream = self.stream if self.stream is not None else sys.stderr
        stream.write("\r" + self.text)
        stream.flush()

    def on_end(self) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        if self.text:
            stream.write("\n")
            stream.flush()


class NotebookProgress(Callback):
    """An ``ipywidgets`` progress bar with a label that shows the rate.

    The widget is :attr:`widget`; :func:`default_progress` displays it. A widget is
    only touched on a change of at least ``every`` seconds (and at the end), so a fast
    loop does not flood the front end with messages.

    Parameters
    ----------
    unit : str
        What a step counts.
    description : str
        Text before the bar.
    every : float
        Seconds between two updates.
    """

    def __init__(self, unit: str = "steps", description: str = "", every: float = 0.25):
        import ipywidgets as w

        self.unit = unit
        self.every = every
        self.bar = w.IntProgress(value=0, min=0, max=1, description=description)
        self.label = w.Label("")
        self.widget = w.HBox([self.bar, self.label])
        self.widget.add_class("cnnviz-progress")
        self._rate = _Rate()
        self._shown = 0.0

    def on_begin(self, total: int) -> None:
        self._rate.restart()
        self.bar.max = max(int(total), 1)
        self.bar.value = 0
        self.bar.bar_style = ""

    def __call__(self, step: int, total: int, value: float) -> None:
        now = time.perf_counter()
        if step < total and now - self._shown < self.every:
            return
        self._shown = now
        with self.widget.hold_sync():
            self.bar.max = max(int(total), 1)
            self.bar.value = min(int(step), self.bar.max)
            self.label.value = self._rate.describe(step, total, self.unit)

    def on_end(self) -> None:
        self.bar.bar_style = "success" if self.bar.value >= self.bar.max else "warning"


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:  # noqa: BLE001 - no IPython shell means no notebook
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def default_progress(unit: str = "steps", description: str = "") -> Callback:
    """The display ``progress=True`` asks for: a bar in a notebook, text in a terminal.

    In a notebook the bar is displayed at once (``IPython.display``); elsewhere a
    :class:`TextProgress` writes to standard error.
    """
    if _in_notebook():
        try:
            from IPython.display import display

            progress = NotebookProgress(unit, description)
            display(progress.widget)
            return progress
        except ImportError:
            pass
    return TextProgress(unit)


#: What ``progress=`` accepts: None, a Callback, a function ``f(step, total)``, a widget
#: with ``value`` and ``max`` (ipywidgets.IntProgress), or a list of these.
ProgressLike = Callback | Callable[[int, int], Any] | Sequence[Any] | Any | None


def _is_bar(obj: Any) -> bool:
    return not callable(obj) and hasattr(obj, "value") and hasattr(obj, "max")


def as_callback(progress: ProgressLike, unit: str = "steps") -> Callback:
    """Turn a ``progress=`` argument into one :class:`Callback`.

    Parameters
    ----------
    progress : None, bool, Callback, callable, widget or sequence of these
        ``None`` or ``False``: no reporting; ``True``: :func:`default_progress`; a
        :class:`Callback` is used as it is; a widget with ``value`` and ``max``
        (``ipywidgets.IntProgress``) is driven by :class:`WidgetProgress`; any other
        callable is called as ``f(step, total)``; a list or tuple combines its items.
    unit : str
        What a step counts, for the display ``True`` picks.

    Returns
    -------
    Callback

    Raises
    ------
    TypeError
        For anything else.
    """
    if progress is None or progress is False:
        return Callback()
    if progress is True:
        return default_progress(unit)
    if isinstance(progress, Callback):
        return progress
    if isinstance(progress, (list, tuple)):
        return CallbackList([as_callback(item, unit) for item in progress])
    if _is_bar(progress):
        return WidgetProgress(progress)
    if callable(progress):
        return FunctionProgress(progress)
    raise ArgumentTypeError(
        "progress must be True, a Callback, a function progress(step, total), a progress bar "
        f"widget with 'value' and 'max' (ipywidgets.IntProgress) or a list of these; got "
        f"{type(progress).__name__}."
    )


@contextlib.contextmanager
def reporting(progress: ProgressLike, total: int, unit: str = "steps") -> Iterator[Callback]:
    """Wrap ``progress`` once, call ``on_begin(total)``, yield it, and always ``on_end()``.

    Examples
    --------
    >>> with reporting(lambda s, t: print(s, t), 2) as report:
    ...     for step in (1, 2):
    ...         report(step, 2, float("nan"))
    1 2
    2 2
    """
    callback = as_callback(progress, unit)
    callback.on_begin(total)
    try:
        yield callback
    finally:
        callback.on_end()
