"""The one way an old name keeps working: a DeprecationWarning that names the new one."""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["renamed", "renamed_property"]


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
