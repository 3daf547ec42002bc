"""cnnviz_widgets: see what a convolutional network sees, inside the notebook.

The public API is small; heavy modules (TensorFlow, widgets) load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "ActivationEngine": "cnnviz_widgets.engine.activations",
    "LayerInfo": "cnnviz_widgets.engine.layers",
    "CacheStats": "cnnviz_widgets.engine.cache",
    "FeatureMapExplorer": "cnnviz_widgets.widgets.explorer",
    "explore": "cnnviz_widgets.widgets.explorer",
    "FilterExplorer": "cnnviz_widgets.widgets.filters",
    "AttributionPanel": "cnnviz_widgets.widgets.attribution",
    "LiveActivations": "cnnviz_widgets.widgets.live",
    "anatomy": "cnnviz_widgets.weights.anatomy",
    "dead_filters": "cnnviz_widgets.weights.dead",
    "load_model": "cnnviz_widgets.io",
    "scan": "cnnviz_widgets.engine.scan",
    "ScanResult": "cnnviz_widgets.engine.scan",
    "ChannelStats": "cnnviz_widgets.engine.scan",
    "show_versions": "cnnviz_widgets.versions",
    "find_concepts": "cnnviz_widgets.meaning",
    "Concepts": "cnnviz_widgets.meaning",
    "quiz": "cnnviz_widgets.widgets.quiz",
    "QuizPanel": "cnnviz_widgets.widgets.quiz",
}
_SUBMODULES = ("errors", "zoo", "testing", "attribution", "weights")

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The Jupyter server extension (``cnnviz_widgets.server``): kernel websockets send
    without Nagle's delay. Enabled on install; ``jupyter server extension disable
    cnnviz_widgets`` turns it off."""
    return [{"module": "cnnviz_widgets.server"}]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return import_module(f"cnnviz_widgets.{name}")
    raise AttributeError(f"module 'cnnviz_widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
