"""Access to the data files shipped in ``cnnviz_widgets/zoo/data``."""

from __future__ import annotations

from importlib import resources
from typing import Any


def data_file(name: str) -> Any:
    """Return an :mod:`importlib.resources` traversable for ``zoo/data/<name>``.

    Parameters
    ----------
    name : str
        File name inside ``cnnviz_widgets/zoo/data``.

    Returns
    -------
    importlib.resources.abc.Traversable
        Use ``.is_file()``, ``.read_text()``, or ``importlib.resources.as_file`` on it.
    """
    return resources.files("cnnviz_widgets.zoo").joinpath("data", name)
