"""The versions of what cnnviz_widgets runs on, for bug reports (:func:`show_versions`).

Versions are read from the installed distributions' metadata (``importlib.metadata``), so
nothing heavy is imported: TensorFlow, JAX and Keras stay unloaded. The Keras backend is read
from ``KERAS_BACKEND`` or Keras' configuration file, as Keras itself would choose it.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import TextIO

__all__ = ["show_versions", "versions"]

#: Distributions shown, in order: (name printed, distribution name on PyPI).
PACKAGES: tuple[tuple[str, str], ...] = (
    ("cnnviz_widgets", "cnnviz_widgets"),
    ("keras", "keras"),
    ("tensorflow", "tensorflow"),
    ("jax", "jax"),
    ("numpy", "numpy"),
    ("ipywidgets", "ipywidgets"),
    ("bqplot", "bqplot"),
    ("matplotlib", "matplotlib"),
    ("pillow", "pillow"),
    ("jupyterlab", "jupyterlab"),
    ("notebook", "notebook"),
    ("voila", "voila"),
)

#: The widget front end: JupyterLab's extension and the classic notebook's.
FRONT_END: tuple[str, ...] = ("jupyterlab_widgets", "widgetsnbextension")

NOT_INSTALLED = "not installed"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


def _keras_backend() -> str:
    """The backend Keras will use: ``KERAS_BACKEND``, else its config file, else tensorflow."""
    backend = os.environ.get("KERAS_BACKEND")
    if backend:
        return backend
    home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    try:
        config = json.loads((Path(home) / "keras.json").read_text(encoding="utf-8"))
        return str(config.get("backend", "tensorflow"))
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def versions() -> dict[str, str]:
    """Return what :func:`show_versions` prints, as ``{name: version or description}``.

    Returns
    -------
    dict of str to str
        ``python``, ``platform``, each package of :data:`PACKAGES` (its version or
        ``"not installed"``), ``keras backend`` and ``widget front end`` (the versions of
        ``jupyterlab_widgets`` and ``widgetsnbextension``, or ``"not installed"``).
    """
    info = {
        "python": sys.version.replace("\n", " "),
        "platform": platform.platform(),
    }
    for name, distribution in PACKAGES:
        if name == "cnnviz_widgets":
            from cnnviz_widgets import __version__  # the copy running, installed or not

            info[name] = __version__
            continue
        info[name] = _version(distribution)
        if name == "keras":
            info["keras backend"] = _keras_backend()
    front = {name: _version(name) for name in FRONT_END}
    if all(value == NOT_INSTALLED for value in front.values()):
        info["widget front end"] = NOT_INSTALLED
    else:
        info["widget front end"] = ", ".join(f"{name} {value}" for name, value in front.items())
    return info


def show_versions(file: TextIO | None = None) -> None:
    """Print the versions of Python, the platform and the packages cnnviz_widgets uses.

    Paste its output into a bug report. Nothing heavy is imported: versions come from the
    installed packages' metadata.

    Parameters
    ----------
    file : text stream, optional
        Where to print; ``sys.stdout`` by default.

    Examples
    --------
    >>> import cnnviz_widgets
    >>> cnnviz_widgets.show_versions()  # doctest: +SKIP
    python           : 3.11.2 (main, ...) [GCC 12.2.0]
    platform         : Linux-6.1.0-x86_64-with-glibc2.36
    cnnviz_widgets   : 0.1.0
    keras            : 3.15.1
    keras backend    : tensorflow
    ...
    widget front end : jupyterlab_widgets 3.0.15, widgetsnbextension 4.0.14
    """
    info = versions()
    width = max(len(name) for name in info)
    out = sys.stdout if file is None else file
    print("cnnviz_widgets versions", file=out)
    print("-" * 23, file=out)
    for name, value in info.items():
        print(f"{name:<{width}} : {value}", file=out)
