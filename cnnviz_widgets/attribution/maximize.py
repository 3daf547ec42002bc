"""Activation maximisation: synthesise an input that excites a filter or a class.

By default the image is optimised as lucid does it (Olah et al., "Feature
Visualization", Distill 2017): a 1/f-scaled Fourier parameterisation in a decorrelated
colour space (:mod:`.param`), lucid's transformation robustness
(:func:`~.transforms.standard_transforms`) and, for the first steps, lucid's redirected
ReLU gradient (``lucid/misc/redirected_relu_grad.py``, :func:`redirected_relu`) so a
channel that is off everywhere on the start image still receives a gradient. The
classic pixel-space ascent (``param="pixels"``, a jitter and a blur) remains.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..checks import index_in, is_whole, whole_number
from ..colour.scale import unit_scale
from ..engine.coerce import as_engine
from ..errors import ArgumentTypeError, InvalidSettingError
from . import autodiff
from ._common import logits_of
from .ascent import Ascent, Steps
from .callbacks import ProgressLike, reporting
from .objectives import Objective, as_objective
from .objectives import channel as channel_objective
from .optimizers import Adam
from .param import ImageParam, InputSpace, PixelMap
from .regularizers import Blur, Regularizer, TotalVariation
from .relu import redirected_relu, redirected_relus
from .transforms import InputTransform, Jitter, standard_transforms

__all__ = [
    "DEFAULT_REGULARIZERS",
    "DEFAULT_TRANSFORMS",
    "PARAMS",
    "ActivationMaximization",
    "MaximizationResult",
    "redirected_relu",
    "redirected_relus",
]

#: Transforms of the pixel-space method when none are given: a jitter of up to 2 pixels.
DEFAULT_TRANSFORMS: tuple[InputTransform, ...] = (Jitter(2),)
#: Regularisers of the pixel-space method when none are given: a light blur every 4 steps.
DEFAULT_REGULARIZERS: tuple[Regularizer, ...] = (Blur(4, 0.5),)
#: The image parameterisations: ``"fourier"`` (:class:`~.param.FourierImage`, the
#: default) and ``"pixels"`` (:class:`~.param.PixelImage`).
PARAMS: tuple[str, ...] = ("fourier", "pixels")

_PixelMap = PixelMap  # the name this module gave the pixel map before it moved to .param


@dataclass
class MaximizationResult:
    """What :class:`ActivationMaximization` returns.

    Attributes
    ----------
    image : numpy.ndarray
        uint8 array (H, W, C) of pixel values 0-255 (C = 1 for grayscale models); the
        first of ``images``.
    history : numpy.ndarray
        The objective at each step, as the model saw it (transformed), shape (steps,);
        the mean over the images when there are several.
    initial : float
        The objective on the starting image (mean over the images).
    final : float
        The objective on the returned image, before conversion to uint8 (mean over the
        images; each image's own value is in ``extra["finals"]``).
    steps : int
        Steps run.
    images : numpy.ndarray
        uint8 array (N, H, W, C) of all ``images=N`` images.
    """

    image: np.ndarray
    history: np.ndarray
    initial: float
    final: float
    steps: int
    layer: str | None = None
    channel: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    images: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.images is None:
            self.images = self.image[None]

    @property
    def gain(self) -> float:
        """``final / initial``; inf if the start was not positive but the end is, else nan."""
        if self.initial > 0:
            return self.final / self.initial
        return math.inf if self.final > 0 else math.nan


def _checked(items: Sequence[Any] | None, kind: type, what: str,
             default: tuple[Any, ...]) -> tuple[Any, ...]:
    """``items`` as a tuple of ``kind`` objects (``default`` when None)."""
    if items is None:
        return default
    items = tuple(items)
    wrong = [item for item in items if not isinstance(item, kind)]
    if wrong:
        raise ArgumentTypeError(
            f"Unknown {what} {wrong!r}: give {kind.__name__} objects such as "
            + ("Jitter(2)." if kind is InputTransform else "TotalVariation(0.1) or Blur(4, 0.5).")
        )
    return items


class ActivationMaximization:
    """Gradient ascent on an image to maximise a filter, a neuron, a direction or a class.

    Each call starts from a seeded image and takes Adam steps on its parameters. With
    ``param="fourier"`` (the default) the image is lucid's 1/f Fourier image in a
    decorrelated colour space (:class:`~.param.FourierImage`) seen through lucid's
    standard transforms (:func:`~.transforms.standard_transforms`); with
    ``param="pixels"`` the pixels themselves are optimised (0-1 scale, kept in range)
    with a small jitter and a blur every few steps. At each step the model sees the
    image through the input transforms (:mod:`.transforms`), the regularisers'
    penalties are subtracted from the objective and their updates are applied to the
    image (:mod:`.regularizers`). ReLU gradients are redirected during the first steps
    (:func:`redirected_relu`). Layers inside nested backbones work
    (``"backbone/conv2"``).

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine already built around it (its preprocessing is used).
    logits : bool, default True
        For class targets, maximise the logit instead of a softmax/sigmoid probability.
    transforms : sequence of InputTransform, optional
        Default transforms of every call; by default lucid's standard transforms for
        ``param="fourier"`` and :data:`DEFAULT_TRANSFORMS` (``Jitter(2)``) for
        ``"pixels"``.
    regularizers : sequence of Regularizer, optional
        Default regularisers of every call; by default none for ``"fourier"`` and
        :data:`DEFAULT_REGULARIZERS` (``Blur(4, 0.5)``) for ``"pixels"``.
    param : {"fourier", "pixels"}, optional
        Default image parameterisation of every call: ``"fourier"``, unless
        ``transforms`` or ``regularizers`` are given (strategies of the pixel-space
        method, as before the Fourier default), then ``"pixels"``.

    Examples
    --------
    >>> am = ActivationMaximization(model)
    >>> res = am("conv2", channel=5, steps=256)
    >>> res.image.shape, res.gain
    >>> from cnnviz_widgets.attribution import objectives as obj
    >>> res = am(target=obj.channel("conv2", 5) - obj.channel("conv2", 6), images=4)
    >>> res.images.shape  # (4, H, W, C)
    """

    def __init__(self, model_or_engine: Any, logits: bool = True, *,
                 transforms: Sequence[InputTransform] | None = None,
                 regularizers: Sequence[Regularizer] | None = None,
                 param: str | None = None):
        self.engine = as_engine(model_or_engine)
        self.logits = logits
        self._own_transforms = transforms is not None
        self._own_regularizers = regularizers is not None
        self._own_param = param is not None
        if param is None:
            param = "pixels" if self._own_transforms or self._own_regularizers else "fourier"
        self.param = self._param_name(param)
        fourier = self.param == "fourier"
        self.transforms = _checked(transforms, InputTransform, "transform(s)",
                                   standard_transforms() if fourier else DEFAULT_TRANSFORMS)
        self.regularizers = _checked(regularizers, Regularizer, "regularizer(s)",
                                     () if fourier else DEFAULT_REGULARIZERS)

    @classmethod
    def from_settings(cls, model_or_engine: Any, *, jitter: int = 2,
                      total_variation: float = 0.0, blur_every: int = 4,
                      blur_sigma: float = 0.5, logits: bool = True,
                      param: str = "pixels") -> ActivationMaximization:
        """Build from plain numbers, as a panel's controls give them.

        Parameters
        ----------
        model_or_engine : keras.Model or ActivationEngine
            The model, or an engine around it.
        jitter : int, default 2
            :class:`~.transforms.Jitter` pixels (0: none); ``param="pixels"`` only.
        total_variation : float, default 0.0
            :class:`~.regularizers.TotalVariation` weight (0: none).
        blur_every, blur_sigma : int, float
            :class:`~.regularizers.Blur` period and sigma (either 0: no blur);
            ``param="pixels"`` only.
        logits : bool, default True
            As for the constructor.
        param : {"pixels", "fourier"}, default "pixels"
            ``"fourier"`` uses lucid's parameterisation and standard transforms; the
            jitter and blur settings are then not used.

        Returns
        -------
        ActivationMaximization
        """
        regularizers: list[Regularizer] = []
        if total_variation:
            regularizers.append(TotalVariation(float(total_variation)))
        if cls._param_name(param) == "fourier":
            return cls(model_or_engine, logits, regularizers=regularizers, param="fourier")
        transforms = [Jitter(int(jitter))] if jitter else []
        if blur_every and blur_sigma:
            regularizers.append(Blur(int(blur_every), float(blur_sigma)))
        return cls(model_or_engine, logits, transforms=transforms, regularizers=regularizers,
                   param="pixels")

    def __call__(
        self,
        layer: str | None = None,
        channel: int | None = None,
        target: Any = None,
        steps: int = 200,
        regularizers: Sequence[Regularizer] | None = None,
        learning_rate: float = 0.05,
        seed: int | None = 0,
        progress: ProgressLike = None,
        size: int | tuple[int, int] = 128,
        transforms: Sequence[InputTransform] | None = None,
        *,
        images: int = 1,
        param: str | None = None,
        diversity: float = 1.0,
        relu_redirect: int = 16,
    ) -> MaximizationResult:
        """Synthesise images that maximise the objective.

        Parameters
        ----------
        layer : str, optional
            Layer whose ``channel`` to maximise, or to which a callable ``target`` is
            applied. ``None`` means the model's output (a class target).
        channel : int, optional
            Maximise the spatial mean of this channel of ``layer``.
        target : int, callable or Objective, optional
            An :class:`~.objectives.Objective` (e.g. ``neuron("conv2", 3) +
            0.5 * channel("conv2", 4)``), with ``layer`` left None. With ``layer=None``:
            a class index, or a score on the output (e.g. ``ClassScore(3)``). With a
            ``layer``: a callable score on that layer's output (``ChannelScore(2)``).
        steps : int, default 200
            Number of gradient steps.
        regularizers : sequence of Regularizer, optional
            Penalties and image updates (:class:`~.regularizers.TotalVariation`,
            :class:`~.regularizers.Blur`); default: the object's own (for another
            ``param`` than the object's: that parameterisation's defaults). An input
            transform given here is deprecated; it is used as one of ``transforms``.
        learning_rate : float, default 0.05
            Adam step size (on the 0-1 pixel scale, or on the Fourier coefficients).
        seed : int or None, default 0
            Seed of the starting image and of the random transforms.
        progress : callback, function, widget or list, optional
            A :class:`~.callbacks.Callback`, a function ``progress(step, total)``, an
            ``ipywidgets.IntProgress`` or a list of these; told after each step.
        size : int or (int, int), default 128
            Image height and width, used only when the model's input size is flexible;
            a model with a fixed input size gets images of that size (the transformed
            images are resized back to it before the model sees them).
        transforms : sequence of InputTransform, optional
            What the model sees the image through at each step; default: the object's
            own (see ``regularizers``).
        images : int, default 1
            How many images to optimise together (a batch). Each starts from its own
            noise; with more than one, a diversity term pushes them apart.
        param : {"fourier", "pixels"}, optional
            Image parameterisation; default: the object's (``"fourier"``), or
            ``"pixels"`` when ``transforms`` or ``regularizers`` are given here and the
            object was not built with an explicit ``param``. A model whose
            preprocessing is not affine is optimised in its input space
            (``"pixels"`` without clipping) whatever is asked.
        diversity : float, default 1.0
            With ``images > 1``: weight of :func:`~.objectives.diversity` on the
            objective's first layer, relative to the size of the objective (the term is
            ``diversity * |mean objective| * diversity(layer)``, the factor held fixed
            in the gradient), so it is independent of the layer's scale. 0: none.
        relu_redirect : int, default 16
            Steps during which ReLU gradients are redirected (:func:`redirected_relu`),
            as lucid does; they stay redirected after that while the objective has not
            yet been positive. 0: ordinary ReLU gradients.

        Returns
        -------
        MaximizationResult
            ``.image`` (uint8, (H, W, C)), ``.images`` (N, H, W, C), ``.history``,
            ``.initial``, ``.final``, ``.gain``.

        Raises
        ------
        InvalidSettingError
            (a ``ValueError``) if neither ``channel`` nor ``target`` is given, they
            conflict, or ``steps``, ``learning_rate``, ``images``, ``size`` or ``param``
            is out of range.
        SelectionOutOfRangeError
            (an ``IndexError``) if ``channel`` does not exist.
        LayerNotFoundError
            If ``layer`` does not exist.
        """
        objective = self._objective(layer, channel, target)
        total = whole_number(steps, "steps", minimum=0)
        if not learning_rate > 0:
            raise InvalidSettingError(f"learning_rate must be positive, not {learning_rate}.")
        n = whole_number(images, "images")
        kind = self._kind(param, transforms, regularizers)
        pix, fixed = self._pixel_map(size)
        if not pix.affine:
            kind = "input"  # the preprocessing cannot be undone: optimise the model input
        transforms, regularizers = self._strategies(transforms, regularizers, kind,
                                                    min(pix.shape[1:3]))
        updates = [r for r in regularizers if type(r).update is not Regularizer.update]
        ascent = Ascent(self.engine, objective, pix, fixed, n, diversity)
        ascend = Adam(learning_rate if kind != "input" else learning_rate * pix.span())
        rng = np.random.default_rng(seed)
        history = np.zeros(total, dtype=np.float64)
        with logits_of(self.engine, self.logits and objective.reads_output), \
                redirected_relus(self.engine, relu_redirect > 0) as switch:
            if kind != "fourier":
                switch.on = False
            # without redirection, a ReLU channel that is off everywhere on the first noise
            # has no gradient: draw stronger noise (at most three more times)
            retries = 3 if kind != "fourier" and total > 0 and relu_redirect <= 0 else 0
            image_param, params, restarts = ascent.start(kind, rng, retries)
            initials = ascent.per_image(image_param(autodiff.to_tensor(params)))
            positive = bool(np.any(initials > 0))
            steps = Steps(ascent, image_param, transforms, regularizers, ascend, switch)
            zeros = np.zeros_like(params)
            state = tuple(autodiff.to_tensor(a) for a in (params, zeros, zeros))
            with reporting(progress, total) as report:
                for step in range(1, total + 1):
                    redirect = relu_redirect > 0 and (step <= relu_redirect or not positive)
                    state, scores = steps(state, step, rng, redirect)
                    if updates:
                        before = autodiff.to_numpy(state[0])
                        after = self._updated(image_param, before, updates, step)
                        if after is not before:
                            state = (autodiff.to_tensor(after), *state[1:])
                    history[step - 1] = float(np.mean(autodiff.to_numpy(scores)))
                    positive = positive or history[step - 1] > 0
                    report(step, total, history[step - 1])
            switch.on = False
            result = image_param(state[0])
            finals = ascent.per_image(result)

        pixels = autodiff.to_numpy(result)
        if kind == "input":
            pixels = np.stack([unit_scale(p) for p in pixels])
        batch = np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)
        return MaximizationResult(
            image=batch[0], history=history, initial=float(np.mean(initials)),
            final=float(np.mean(finals)), steps=total, layer=layer, channel=channel,
            images=batch,
            extra={"pixel_space": pix.affine, "param": kind, "target": target,
                   "restarts": restarts, "objective": objective, "traces": steps.traces,
                   "compiled": steps.compiled,
                   "initials": initials, "finals": finals},
        )

    def _kind(self, param: str | None, transforms: Any, regularizers: Any) -> str:
        """The call's parameterisation: ``param``, else the object's (``"pixels"`` when
        the call gives strategies and the object was not built with a ``param``)."""
        if param is not None:
            return self._param_name(param)
        if not self._own_param and (transforms is not None or regularizers is not None):
            return "pixels"  # strategies given without a param: the pixel-space method
        return self.param

    def _pixel_map(self, size: int | Sequence[int]) -> tuple[PixelMap, tuple[int, int] | None]:
        """The images' pixel map (the model's input size, else ``size``) and the fixed
        input size the model needs (None when it is flexible)."""
        shape = self.engine.input_shape
        side = self._size(size)
        height = shape[0] or side[0]
        width = shape[1] or side[1]
        fixed = (shape[0], shape[1]) if shape[0] and shape[1] else None
        channels = shape[2] if len(shape) == 3 else None
        return PixelMap(self.engine, height, width, channels), fixed

    @staticmethod
    def _updated(image_param: ImageParam, params: np.ndarray,
                 updates: Sequence[Regularizer], step: int) -> np.ndarray:
        """``params`` after the regularisers' image updates of step ``step``.

        For a parameterisation that is not the pixels (Fourier), the update is applied to
        the image and the parameters of the updated image are solved for.
        """
        if not updates:
            return params
        if image_param.pixel_space or isinstance(image_param, InputSpace):
            for regularizer in updates:
                params = regularizer.update(params, step)
            return params.astype(np.float32)
        image = np.asarray(image_param(params))
        changed = image
        for regularizer in updates:
            changed = regularizer.update(changed, step)
        return params if changed is image else image_param.from_images(changed)

    @staticmethod
    def _param_name(param: str) -> str:
        if param not in PARAMS:
            raise InvalidSettingError(
                f"param must be one of {', '.join(map(repr, PARAMS))}, not {param!r}.")
        return param

    @staticmethod
    def _size(size: int | Sequence[int]) -> tuple[int, int]:
        pair = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
        if len(pair) != 2 or not all(is_whole(s) and s >= 8 for s in pair):
            raise InvalidSettingError(
                f"size must be an int or (height, width) of ints >= 8, not {size!r}.")
        return int(pair[0]), int(pair[1])

    def _strategies(
        self, transforms: Sequence[InputTransform] | None,
        regularizers: Sequence[Any] | None, kind: str = "pixels", side: int = 128,
    ) -> tuple[tuple[InputTransform, ...], tuple[Regularizer, ...]]:
        """The transforms and regularisers of one call (the object's by default)."""
        moved: list[InputTransform] = []
        if regularizers is not None:
            moved = [r for r in regularizers if isinstance(r, InputTransform)]
            if moved:
                warnings.warn(
                    f"Passing {moved!r} in regularizers= is deprecated; input transforms "
                    "go in transforms=, e.g. transforms=[Jitter(2)].",
                    DeprecationWarning, stacklevel=3,
                )
                regularizers = [r for r in regularizers if not isinstance(r, InputTransform)]
                transforms = [*(transforms or ()), *moved]
        fourier = kind == "fourier"
        own_transforms = self.transforms if self._own_transforms else (
            standard_transforms(side) if fourier else DEFAULT_TRANSFORMS)
        own_regularizers = self.regularizers if self._own_regularizers else (
            () if fourier else DEFAULT_REGULARIZERS)
        return (_checked(transforms, InputTransform, "transform(s)", own_transforms),
                _checked(regularizers, Regularizer, "regularizer(s)", own_regularizers))

    def _objective(self, layer: str | None, channel: int | None, target: Any) -> Objective:
        """The call's objective (checked against the model)."""
        if isinstance(target, Objective):
            if layer is not None or channel is not None:
                raise InvalidSettingError(
                    "An Objective names its own layers; leave layer= and channel= empty.")
            for name in target.layers:
                if name is not None:
                    self.engine.layer(name)  # raises LayerNotFoundError
            return target
        if layer is not None:
            info = self.engine.layer(layer)  # raises LayerNotFoundError
            if channel is not None and target is not None:
                raise InvalidSettingError(
                    "Give either channel= or target= for a layer, not both.")
            if channel is not None:
                if info.channels is not None:
                    index_in(channel, info.channels, "channel", f"layer {layer!r}",
                             from_end=True)
                return channel_objective(layer, int(channel))
            if callable(target) and not isinstance(target, (int, np.integer)):
                return as_objective(target, layer)
            raise InvalidSettingError(
                f"Say what to maximise in layer {layer!r}: channel=<index>, or target=<a "
                "callable score on the layer's output>. For a class, leave layer=None and "
                "give target=<class index>."
            )
        if channel is not None:
            raise InvalidSettingError(
                "channel= needs a layer=; for a class use target=<class index>.")
        if target is None:
            raise InvalidSettingError(
                "Nothing to maximise: give layer= and channel= for a filter, or target=<class "
                "index> for a class."
            )
        return as_objective(target, None)
