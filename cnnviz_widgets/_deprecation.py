"""The one way an old name or order keeps working: a DeprecationWarning naming the new one."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import ArgumentTypeError

__all__ = ["renamed", "renamed_argument", "renamed_property", "reordered"]

F = TypeVar("F", bound=Callable[..., Any])


def renamed(old_value: Any, new_value: Any, old: str, new: str, where: str) -> Any:
    """The value of a renamed keyword: ``old_value`` (with a warning) when it was given.

    Parameters
    ----------
    old_value, new_value
        What the caller passed under the old and the new keyword (None: not given).
    old, new : str
        The keywords' names.
    where : str
        The function, as the message names it (``"overlay"``).
    """
    if old_value is None:
        return new_value
    warnings.warn(f"{where}({old}=...) is deprecated; use {new}=... instead.",
                  DeprecationWarning, stacklevel=3)
    return old_value


class renamed_property:  # noqa: N801 - used like ``property``
    """An attribute under its old name that reads and writes ``new``, with a warning.

    Examples
    --------
    >>> class View:
    ...     colormap = "viridis"
    ...     cmap = renamed_property("colormap")
    """

    def __init__(self, new: str) -> None:
        self.new = new
        self.old = "?"
        self.__doc__ = f"Deprecated name of :attr:`{new}`."

    def __set_name__(self, owner: type, name: str) -> None:
        self.old = name

    def _warn(self, obj: Any) -> None:
        cls = type(obj).__name__
        warnings.warn(f"{cls}.{self.old} is deprecated; use {cls}.{self.new} instead.",
                      DeprecationWarning, stacklevel=3)

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        self._warn(obj)
        return getattr(obj, self.new)

    def __set__(self, obj: Any, value: Any) -> None:
        self._warn(obj)
        setattr(obj, self.new, value)


def renamed_argument(old: str, new: str) -> Callable[[F], F]:
    """Decorate a function whose argument ``new`` was called ``old``: ``old=...`` still works.

    The value given as ``old=`` is passed as ``new=`` with :func:`renamed`'s warning.
    Giving both is an error, as giving one argument twice is.

    Examples
    --------
    >>> @renamed_argument("model", "model_or_engine")
    ... def anatomy(model_or_engine): ...
    """
    def decorate(function: F) -> F:
        where = _name_of(function)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                if new in kwargs:
                    raise ArgumentTypeError(f"{where}() got both {old}= and {new}=; "
                                            f"give only {new}=.")
                kwargs[new] = renamed(kwargs.pop(old), None, old, new, where)
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def reordered(old: str, new: str,
              rewrite: Callable[[tuple[Any, ...], dict[str, Any]],
                                tuple[tuple[Any, ...], dict[str, Any]] | None],
              ) -> Callable[[F], F]:
    """Decorate a function whose arguments changed order: calls in the old order still work.

    Parameters
    ----------
    old, new : str
        The two orders as the warning shows them (``"export_html(model, path,
        images=...)"``).
    rewrite : callable
        ``rewrite(args, kwargs)`` returns the arguments of a call in the old order
        rearranged into the new one, or None for a call in the new order. It is given
        the call's own arguments before Python binds them, so an old call that would
        not bind any more (an argument now positional also given by keyword) is seen.
    """
    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            moved = rewrite(args, kwargs)
            if moved is not None:
                warnings.warn(f"{old} is deprecated; the order is {new} (model or engine, "
                              "then image(s), then layer).", DeprecationWarning, stacklevel=2)
                args, kwargs = moved
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _name_of(function: Callable[..., Any]) -> str:
    name = function.__qualname__
    return name[:-len(".__init__")] if name.endswith(".__init__") else name
