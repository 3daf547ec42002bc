"""A declarative registry of attribution methods and their parameters.

A panel builds its controls from these specs (captum Insights style): each
:class:`MethodSpec` names a method, the class that computes it and its parameters
(:class:`ParamSpec`: kind, default, range, choices). Adding a method is one entry
in :data:`METHODS`; no new UI code is needed.

Every entry works the same way: :meth:`MethodSpec.build` makes the method object from
the ``init`` parameters, :meth:`MethodSpec.call` calls it with the ``call`` parameters
(``method(image, **call)``, or ``method(**call)`` for a method that needs no image), and
:meth:`MethodSpec.run` does both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..checks import is_whole
from ..errors import ArgumentTypeError, InvalidSettingError, UnknownNameError
from . import cam, recent_cams
from .callbacks import ProgressLike
from .gradcam import GradCAM, default_gradcam_layer
from .integrated import IntegratedGradients
from .maximize import ActivationMaximization
from .relevance import COMPOSITES, LRP, ChannelRelevance
from .saliency import Saliency
from .smooth import SmoothGrad

__all__ = ["METHODS", "MethodSpec", "ParamSpec", "get_method", "register_method"]

ParamKind = Literal["int", "float", "choice", "bool", "layer", "class"]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a method, with what a control needs to offer it.

    Attributes
    ----------
    name : str
        Keyword name used when building (``stage="init"``) or calling the method.
    label : str
        Human label for the control.
    kind : {"int", "float", "choice", "bool", "layer", "class"}
        ``layer``: a layer name of the model (None = the method's default);
        ``class``: a class index (None = the predicted class).
    default : Any
        Default value.
    min, max, step : float, optional
        Range and increment of numeric kinds.
    choices : tuple
        Allowed values of ``choice`` parameters.
    stage : {"init", "call"}
        Whether the value goes to the constructor or to the call.
    help : str
        One-line description (a tooltip).
    when : callable, optional
        ``when(values) -> bool`` over all parameter values: the parameter is passed to
        the method only when it is true (a panel may hide the control otherwise). By
        default it is always passed.
    """

    name: str
    label: str
    kind: ParamKind
    default: Any = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = ()
    stage: Literal["init", "call"] = "call"
    help: str = ""
    when: Callable[[Mapping[str, Any]], bool] | None = None

    def applies(self, values: Mapping[str, Any]) -> bool:
        """Whether this parameter is passed to the method, given every parameter's value."""
        return self.when is None or bool(self.when(values))

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type.

        Raises
        ------
        InvalidSettingError
            (a ``ValueError``) if the value has the wrong type or lies out of range.
        """
        if value is None and self.kind in ("layer", "class"):
            return None
        if self.kind == "class" and callable(value):
            return value  # a target (SegmentationTarget, RegressionTarget, ...) or a score
        if self.kind == "int" or self.kind == "class":
            if isinstance(value, (float, np.floating)) and float(value).is_integer():
                value = int(value)  # a slider's 3.0
            if not is_whole(value):
                raise InvalidSettingError(f"{self.name} must be an integer, not {value!r}.")
            value = int(value)
        elif self.kind == "float":
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise InvalidSettingError(f"{self.name} must be a number, not {value!r}.") \
                    from None
        elif self.kind == "bool":
            value = bool(value)
        elif self.kind == "choice":
            if value not in self.choices:
                raise InvalidSettingError(
                    f"{self.name} must be one of {self.choices}, not {value!r}.")
        elif self.kind == "layer":
            value = str(value)
        if self.kind in ("int", "float", "class"):
            if self.min is not None and value < self.min:
                raise InvalidSettingError(f"{self.name} must be >= {self.min}, not {value}.")
            if self.max is not None and value > self.max:
                raise InvalidSettingError(f"{self.name} must be <= {self.max}, not {value}.")
        return value


@dataclass(frozen=True)
class MethodSpec:
    """An attribution method as a panel sees it.

    Attributes
    ----------
    name : str
        Registry key.
    label : str
        Human label.
    cls : type
        The compute class (what :meth:`build` returns an instance of).
    params : tuple of ParamSpec
        The user-facing parameters.
    output : {"heatmap", "image"}
        ``heatmap``: a 2-D map over the input (overlay it); ``image``: a synthesised
        image (``MaximizationResult``).
    needs_image : bool
        Whether the method explains a given image: it is called as
        ``method(image, **call)``, else as ``method(**call)``.
    fixed : mapping
        Call keywords that are fixed for this entry (e.g. ``upsample=True``).
    factory : callable, optional
        ``factory(model_or_engine, **init_params)`` builds the method; by default
        ``cls`` itself.
    reports_progress : bool
        Whether the method takes ``progress=`` (a callback, a function
        ``f(step, total)`` or an ``ipywidgets.IntProgress``, see :mod:`.callbacks`).
    description : str
        One-line description.
    """

    name: str
    label: str
    cls: type
    params: tuple[ParamSpec, ...] = ()
    output: Literal["heatmap", "image"] = "heatmap"
    needs_image: bool = True
    fixed: Mapping[str, Any] = field(default_factory=dict)
    factory: Callable[..., Any] | None = None
    reports_progress: bool = False
    description: str = ""

    def param(self, name: str) -> ParamSpec:
        """The :class:`ParamSpec` called ``name``."""
        for p in self.params:
            if p.name == name:
                return p
        raise UnknownNameError(f"{self.name} has no parameter {name!r}; it has "
                       f"{[p.name for p in self.params]}")

    def defaults(self) -> dict[str, Any]:
        """``{name: default}`` of every parameter."""
        return {p.name: p.default for p in self.params}

    def _split(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        known = {p.name for p in self.params}
        unknown = set(values) - known
        if unknown:
            raise ArgumentTypeError(f"{self.name} has no parameter(s) {sorted(unknown)}; it has "
                            f"{sorted(known)}")
        merged = {**self.defaults(), **values}
        merged = {p.name: p.validate(merged[p.name]) for p in self.params}
        init: dict[str, Any] = {}
        call: dict[str, Any] = dict(self.fixed)
        for p in self.params:
            if p.applies(merged):
                (init if p.stage == "init" else call)[p.name] = merged[p.name]
        return init, call

    def build(self, model_or_engine: Any, **values: Any) -> Any:
        """Build the method object with the ``init`` parameters among ``values``.

        ``values`` may hold every parameter; the ``call`` ones are checked and ignored.
        """
        init, _ = self._split(values)
        return (self.factory or self.cls)(model_or_engine, **init)

    def call(self, method: Any, image: Any = None, *, progress: ProgressLike = None,
             **values: Any) -> Any:
        """Call a method built by :meth:`build` with the ``call`` parameters among ``values``.

        ``progress`` is passed on when the method reports progress
        (``reports_progress``) and ignored otherwise.
        """
        _, call = self._split(values)
        if self.needs_image and image is None:
            raise InvalidSettingError(f"The method {self.name!r} needs an image to explain.")
        if progress is not None and self.reports_progress:
            call["progress"] = progress
        return method(image, **call) if self.needs_image else method(**call)

    def run(self, model_or_engine: Any, image: Any = None, *, progress: ProgressLike = None,
            **values: Any) -> Any:
        """Build the method and compute it on ``image`` with ``values`` (defaults elsewhere).

        Returns
        -------
        numpy.ndarray or MaximizationResult
            A heatmap (H, W) for ``output == "heatmap"``, a result for ``"image"``.
        """
        method = self.build(model_or_engine, **values)
        return self.call(method, image, progress=progress, **values)


_TARGET = ParamSpec("target", "Class", "class", None, min=0,
                    help="Class to explain; empty = the predicted class.")
_SEED = ParamSpec("seed", "Seed", "int", 0, min=0, max=2**31 - 1)

METHODS: dict[str, MethodSpec] = {}


def register_method(spec: MethodSpec) -> MethodSpec:
    """Add ``spec`` to :data:`METHODS` (replacing an entry of the same name) and return it."""
    METHODS[spec.name] = spec
    return spec


register_method(MethodSpec(
    "saliency", "Saliency (gradient)", Saliency, (_TARGET,),
    description="|d score / d input|, max over colour channels.",
))
register_method(MethodSpec(
    "smoothgrad", "SmoothGrad", SmoothGrad, (
        _TARGET,
        ParamSpec("samples", "Samples", "int", 20, min=1, max=200, step=1, stage="init"),
        ParamSpec("noise", "Noise level", "float", 0.15, min=0.0, max=1.0, step=0.01,
                  stage="init",
                  help="Noise standard deviation as a fraction of the input's range."),
        ParamSpec("seed", "Seed", "int", 0, min=0, max=2**31 - 1, stage="init"),
    ),
    reports_progress=True,
    description="Saliency averaged over noisy copies of the input.",
))
register_method(MethodSpec(
    "integrated_gradients", "Integrated gradients", IntegratedGradients, (
        _TARGET,
        ParamSpec("baseline", "Baseline", "choice", "black", choices=("black", "blur", "noise"),
                  stage="init",
                  help="The input the path starts from: a black image, the image blurred, "
                       "or noise."),
        ParamSpec("steps", "Steps", "int", 32, min=1, max=512, step=1, stage="init",
                  help="Points on the path from the baseline to the image."),
    ),
    description="Gradients averaged on the path from a baseline to the image, times the "
                "difference; they add up to the change of the score.",
))

register_method(MethodSpec(
    "lrp", "LRP (relevance)", LRP, (
        _TARGET,
        ParamSpec("composite", "Composite", "choice", "epsilon_plus_flat",
                  choices=tuple(COMPOSITES), stage="init",
                  help="Which rule each layer gets (Zennit's composites): epsilon_plus_flat "
                       "for sharp maps, epsilon_gamma_box for inputs in a known range."),
        ParamSpec("epsilon", "Epsilon", "choice", 1e-6,
                  choices=(1e-9, 1e-6, 1e-3, 0.01, 0.1, 0.25, 1.0), stage="init",
                  help="Stabiliser of the epsilon rule (dense layers); larger values keep "
                       "only the strongest evidence."),
    ),
    description="Layer-wise relevance propagation: the class score divided among the "
                "pixels, layer by layer; positive for evidence, negative against; it adds "
                "up to the score.",
))



class _OneChannel:
    """A :class:`ChannelRelevance` called like the other heatmap methods, for one channel:
    ``method(image, target=None, channel=0)`` gives its (H, W) map in [-1, 1]."""

    def __init__(self, model_or_engine: Any, layer: str | None = None,
                 composite: str = "epsilon_plus_flat") -> None:
        layer = default_gradcam_layer(model_or_engine) if layer is None else layer
        self.relevance = ChannelRelevance(model_or_engine, layer, composite=composite)

    def __call__(self, image: Any, target: Any = None, channel: int = 0) -> np.ndarray:
        return self.relevance(image, channels=[channel], target=target)[0]


register_method(MethodSpec(
    "crp", "CRP (channel relevance)", ChannelRelevance, (
        ParamSpec("layer", "Layer", "layer", None, stage="init",
                  help="Layer of the channel; empty = the last convolution."),
        ParamSpec("channel", "Channel", "int", 0, min=0,
                  help="The channel whose share of the relevance is shown."),
        _TARGET,
        ParamSpec("composite", "Composite", "choice", "epsilon_plus_flat",
                  choices=tuple(COMPOSITES), stage="init",
                  help="Which rule each layer gets (Zennit's composites)."),
    ),
    factory=_OneChannel,
    description="Concept relevance: the part of the LRP heatmap that flows through one "
                "channel of a layer, i.e. where that channel is relevant for the class.",
))

_CAM_LAYER = ParamSpec("layer", "Layer", "layer", None, stage="init",
                       help="Spatial layer to explain; empty = the last convolution.")


def _cam_method(name: str, label: str, cls: type, description: str, *extra: ParamSpec,
                targeted: bool = True, reports_progress: bool = False) -> MethodSpec:
    """The entry of a method of the CAM family: a layer, a class (when ``targeted``) and
    the method's own parameters."""
    params = (_CAM_LAYER, _TARGET, *extra) if targeted else (_CAM_LAYER, *extra)
    return register_method(MethodSpec(name, label, cls, params, fixed={"upsample": True},
                                      reports_progress=reports_progress,
                                      description=description))


_cam_method("gradcam", "Grad-CAM", GradCAM,
            "Feature maps weighted by their mean gradient, ReLU, upsampled to the input.")
_cam_method("gradcam_plus_plus", "Grad-CAM++", cam.GradCAMPlusPlus,
            "Feature maps weighted by their positive gradients, each position weighted "
            "by higher-order terms; better with several objects.")
_cam_method("xgradcam", "XGrad-CAM", cam.XGradCAM,
            "Feature maps weighted by gradient times activation, normalised per map.")
_cam_method("layercam", "LayerCAM", cam.LayerCAM,
            "Each position of each map weighted by its own positive gradient; sharp on "
            "early layers.")
_cam_method("hirescam", "HiResCAM", cam.HiResCAM,
            "Gradient times activation, position by position, summed over the maps.")
_cam_method("eigencam", "Eigen-CAM", cam.EigenCAM,
            "The first principal component of the feature maps; no gradient, no class.",
            targeted=False)
_cam_method("kpcacam", "KPCA-CAM", recent_cams.KPCACAM,
            "The first kernel principal component of the feature maps (no gradient, no "
            "class).", ParamSpec("kernel", "Kernel", "choice", "sigmoid",
                                 choices=("sigmoid", "rbf"), stage="init"),
            targeted=False)
_cam_method("fem", "FEM", recent_cams.FEM,
            "Feature maps weighted by how often they exceed their mean by k standard "
            "deviations (no gradient, no class).",
            ParamSpec("k", "k (std)", "float", 2.0, min=0.0, max=5.0, step=0.1, stage="init"),
            targeted=False)
_cam_method("shapleycam", "Shapley-CAM", recent_cams.ShapleyCAM,
            "Feature maps weighted by the gradient minus half the Hessian times the maps: "
            "a second-order estimate of each map's Shapley value.")
_cam_method("finercam", "Finer-CAM", recent_cams.FinerCAM,
            "Grad-CAM of the class against its closest rival classes: what tells them apart.",
            ParamSpec("alpha", "Comparison strength", "float", 1.0, min=0.0, max=2.0,
                      step=0.1, stage="init"))
_cam_method("scorecam", "Score-CAM", cam.ScoreCAM,
            "Each feature map weighted by the class score of the input it masks; no "
            "gradient, one forward pass per map.",
            ParamSpec("max_channels", "Maps", "int", 64, min=1, max=4096, step=1,
                      stage="init",
                      help="Score only this many maps, those of largest spread "
                           "(one forward pass each)."),
            reports_progress=True)
_cam_method("ablationcam", "Ablation-CAM", cam.AblationCAM,
            "Each feature map weighted by the score lost when it is removed; no gradient.",
            reports_progress=True)


def _has_layer(values: Mapping[str, Any]) -> bool:
    return values.get("layer") is not None


def _no_layer(values: Mapping[str, Any]) -> bool:
    return values.get("layer") is None


def _pixels(values: Mapping[str, Any]) -> bool:
    return values.get("param") == "pixels"


register_method(MethodSpec(
    "activation_maximization", "Activation maximisation", ActivationMaximization, (
        ParamSpec("layer", "Layer", "layer", None,
                  help="Layer of the filter; empty = the output (a class)."),
        ParamSpec("channel", "Filter", "int", 0, min=0, when=_has_layer,
                  help="Filter of the layer to excite (with a layer)."),
        ParamSpec("target", "Class", "class", None, min=0, when=_no_layer,
                  help="Class to maximise when no layer is chosen."),
        ParamSpec("param", "Image", "choice", "fourier", choices=("fourier", "pixels"),
                  stage="init",
                  help="fourier: a 1/f image in decorrelated colours seen through lucid's "
                       "transforms; pixels: raw pixels with jitter and blur."),
        ParamSpec("images", "Images", "int", 1, min=1, max=6, step=1,
                  help="How many different images (a diversity term keeps them apart)."),
        ParamSpec("steps", "Steps", "int", 200, min=1, max=2000, step=10),
        ParamSpec("learning_rate", "Learning rate", "float", 0.05, min=1e-4, max=1.0,
                  step=0.01),
        ParamSpec("size", "Size (px)", "int", 128, min=32, max=512, step=16,
                  help="Image size for a model that takes any size."),
        ParamSpec("jitter", "Jitter (px)", "int", 2, min=0, max=32, stage="init",
                  when=_pixels),
        ParamSpec("total_variation", "Total variation", "float", 0.0, min=0.0, max=100.0,
                  stage="init"),
        ParamSpec("blur_every", "Blur every (steps)", "int", 4, min=0, max=100, stage="init",
                  when=_pixels),
        ParamSpec("blur_sigma", "Blur sigma (px)", "float", 0.5, min=0.0, max=5.0, step=0.1,
                  stage="init", when=_pixels),
        _SEED,
    ),
    output="image",
    needs_image=False,
    factory=ActivationMaximization.from_settings,
    reports_progress=True,
    description="Gradient ascent on the input to excite a filter or a class.",
))


def get_method(name: str) -> MethodSpec:
    """Return the :class:`MethodSpec` called ``name``.

    Raises
    ------
    KeyError
        If there is no such method; the message lists the known ones.
    """
    try:
        return METHODS[name]
    except KeyError:
        raise UnknownNameError(
            f"Unknown attribution method {name!r}; known: {sorted(METHODS)}") from None
