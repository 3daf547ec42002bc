"""Compute-only part of cnnviz_widgets: model introspection, inputs and activations."""

from .activations import ActivationEngine
from .cache import CacheStats
from .layers import LayerInfo

__all__ = ["ActivationEngine", "CacheStats", "LayerInfo"]
