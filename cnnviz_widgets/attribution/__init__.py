"""Compute-only attribution methods: saliency, SmoothGrad, Grad-CAM, activation maximisation.

Each method is a class built once around a model (or an
:class:`~cnnviz_widgets.ActivationEngine`) and called per image; it returns numpy arrays
and never draws. :func:`overlay` blends any heatmap over the input image, and
:data:`METHODS` declares the methods and their parameters for panels.
"""

from .gradcam import GradCAM, default_gradcam_layer, upsample_heatmap
from .maximize import (
    ActivationMaximization,
    Blur,
    Jitter,
    MaximizationResult,
    TotalVariation,
)
from .overlay import activation_heatmap, overlay
from .registry import METHODS, MethodSpec, ParamSpec, get_method, register_method
from .saliency import Saliency
from .scores import ChannelScore, ClassScore

__all__ = [
    "METHODS",
    "ActivationMaximization",
    "Blur",
    "ChannelScore",
    "ClassScore",
    "GradCAM",
    "Jitter",
    "MaximizationResult",
    "MethodSpec",
    "ParamSpec",
    "Saliency",
    "TotalVariation",
    "activation_heatmap",
    "default_gradcam_layer",
    "get_method",
    "overlay",
    "register_method",
    "upsample_heatmap",
]
