"""Compute-only part of cnnviz_widgets: model introspection, inputs and activations."""

from .activations import ActivationEngine
from .cache import CacheStats
from .coerce import as_engine, image_list, image_names
from .layers import LayerInfo

__all__ = ["ActivationEngine", "CacheStats", "LayerInfo", "as_engine", "image_list",
           "image_names"]
