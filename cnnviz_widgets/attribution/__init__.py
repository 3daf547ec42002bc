"""Compute-only attribution methods: saliency, SmoothGrad, Grad-CAM, relevance (LRP, CRP),
activation maximisation.

Each method is a class built once around a model (or an
:class:`~cnnviz_widgets.ActivationEngine`) and called per image; it returns numpy arrays
and never draws. :class:`SmoothGrad` wraps any gradient method; activation maximisation
takes small strategy objects (:mod:`.transforms`, :mod:`.regularizers`) and reports
progress to callbacks (:mod:`.callbacks`). :func:`overlay` blends any heatmap over the
input image, and :data:`METHODS` declares the methods and their parameters for panels.
"""

from .base import GradientMethod
from .callbacks import Callback, CallbackList, FunctionProgress, WidgetProgress, as_callback
from .cam import (
    AblationCAM,
    EigenCAM,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
)
from .contributions import ChannelContributions
from .faithfulness import FaithfulnessResult, faithfulness
from .gradcam import GradCAM, default_gradcam_layer, upsample_heatmap
from .integrated import IntegratedGradients
from .maximize import ActivationMaximization, MaximizationResult
from .metrics import (
    SANITY_THRESHOLD,
    ComparisonResult,
    RoadResult,
    SanityResult,
    compare_methods,
    complexity,
    mu_fidelity,
    road,
    sanity_check,
    sparseness,
    stability,
)
from .objectives import Objective, channel, class_logit, direction, diversity, neuron
from .overlay import activation_heatmap, overlay
from .param import FourierImage, PixelImage
from .recent_cams import FEM, KPCACAM, FinerCAM, ShapleyCAM
from .receptive import effective_receptive_field
from .registry import METHODS, MethodSpec, ParamSpec, get_method, register_method
from .regularizers import Blur, Regularizer, TotalVariation
from .relevance import LRP, ChannelRelevance
from .relu import redirected_relu
from .saliency import Saliency
from .scores import (
    ChannelScore,
    ClassScore,
    ClassTarget,
    RegressionTarget,
    SegmentationTarget,
    TopClassScore,
)
from .smooth import SmoothGrad
from .transforms import (
    InputTransform,
    Jitter,
    Pad,
    RandomCrop,
    RandomRotate,
    RandomScale,
    standard_transforms,
)

__all__ = [
    "METHODS",
    "SANITY_THRESHOLD",
    "AblationCAM",
    "ActivationMaximization",
    "Blur",
    "Callback",
    "CallbackList",
    "ChannelContributions",
    "ChannelRelevance",
    "ChannelScore",
    "ClassScore",
    "ComparisonResult",
    "EigenCAM",
    "FEM",
    "FaithfulnessResult",
    "FinerCAM",
    "FourierImage",
    "FunctionProgress",
    "GradCAM",
    "GradCAMPlusPlus",
    "GradientMethod",
    "HiResCAM",
    "InputTransform",
    "KPCACAM",
    "IntegratedGradients",
    "Jitter",
    "LRP",
    "LayerCAM",
    "MaximizationResult",
    "MethodSpec",
    "Objective",
    "Pad",
    "ParamSpec",
    "PixelImage",
    "RandomCrop",
    "RandomRotate",
    "RandomScale",
    "Regularizer",
    "RoadResult",
    "Saliency",
    "SanityResult",
    "ScoreCAM",
    "ShapleyCAM",
    "SmoothGrad",
    "TopClassScore",
    "TotalVariation",
    "WidgetProgress",
    "XGradCAM",
    "activation_heatmap",
    "as_callback",
    "channel",
    "class_logit",
    "compare_methods",
    "complexity",
    "default_gradcam_layer",
    "effective_receptive_field",
    "direction",
    "diversity",
    "faithfulness",
    "get_method",
    "mu_fidelity",
    "neuron",
    "overlay",
    "redirected_relu",
    "road",
    "sanity_check",
    "sparseness",
    "stability",
    "register_method",
    "standard_transforms",
    "upsample_heatmap",
    "ClassTarget",
    "RegressionTarget",
    "SegmentationTarget",
]
