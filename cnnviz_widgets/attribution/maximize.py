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

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._keras import keras
from ..colour.scale import unit_scale
from ..engine.coerce import as_engine
from ..errors import InvalidSettingError, LayerNotViewableError, SelectionOutOfRangeError
from . import autodiff
from ._common import logits_of, swapped_activations
from .callbacks import ProgressLike, reporting
from .objectives import Objective, as_objective
from .objectives import channel as channel_objective
from .objectives import diversity as diversity_objective
from .param import FourierImage, ImageParam, PixelImage
from .regularizers import Blur, Regularizer, TotalVariation
from .transforms import InputTransform, Jitter, resize_images, standard_transforms

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


def redirected_relu(x: Any) -> Any:
    """``relu(x)`` whose gradient is redirected when it would be zero for a whole image.

    Lucid's ``redirected_relu_grad`` for gradient ascent: for each image of the batch,
    if the ordinary ReLU gradient (the incoming gradient where ``x > 0``) is zero
    everywhere, the incoming gradient passes instead, except where ``x < 0`` and it
    would push ``x`` lower (incoming gradient < 0). Images whose ReLU gradient is not
    all zero get the ordinary gradient.
    """
    ops = keras.ops

    @ops.custom_gradient
    def relu(t: Any) -> Any:
        def grad(*args: Any, upstream: Any = None) -> Any:
            g = args[0] if upstream is None else upstream
            zeros = ops.zeros_like(g)
            ordinary = ops.where(t > 0, g, zeros)
            redirected = ops.where(ops.logical_and(t < 0, g < 0), zeros, g)
            flat = ops.reshape(ordinary, (ops.shape(ordinary)[0], -1))
            blocked = ops.all(ops.equal(flat, 0), axis=1)
            blocked = ops.reshape(blocked, [-1] + [1] * (len(t.shape) - 1))
            return ops.where(blocked, redirected, ordinary)

        return ops.relu(t), grad

    return relu(x)


class _ReluSwitch:
    """The activation put in place of a layer's ReLU: redirected while ``on`` is set."""

    def __init__(self) -> None:
        self.on = True
        self.__name__ = "relu"

    def __call__(self, x: Any) -> Any:
        return redirected_relu(x) if self.on else keras.ops.relu(x)


@contextlib.contextmanager
def redirected_relus(engine: Any, enabled: bool = True) -> Iterator[_ReluSwitch]:
    """While active, every layer of ``engine``'s model with a ReLU activation uses
    :func:`redirected_relu` (as long as the yielded switch's ``on`` is True).

    Layers with ``activation="relu"`` (convolutions, dense layers, ``Activation``
    layers) are covered; ``keras.layers.ReLU`` layers keep their own gradient. The
    original activations are restored on exit, even after an error.
    """
    switch = _ReluSwitch()
    switch.on = enabled
    if not enabled:
        yield switch
        return
    layers = [step.layer for step in engine.plan.steps
              if getattr(getattr(step.layer, "activation", None), "__name__", None) == "relu"
              and not isinstance(step.layer.activation, _ReluSwitch)]
    with swapped_activations(layers, switch):
        yield switch


def _checked(items: Sequence[Any] | None, kind: type, what: str,
             default: tuple[Any, ...]) -> tuple[Any, ...]:
    if items is None:
        return default
    items = tuple(items)
    wrong = [item for item in items if not isinstance(item, kind)]
    if wrong:
        raise TypeError(
            f"Unknown {what} {wrong!r}: give {kind.__name__} objects such as "
            + ("Jitter(2)." if kind is InputTransform else "TotalVariation(0.1) or Blur(4, 0.5).")
        )
    return items


class _PixelMap:
    """Maps 0-1 pixels (1, H, W, C) to the model input, through the engine's preprocessing.

    When the preprocessing is per-pixel affine (division by 255, mean subtraction,
    RGB->BGR, ...), it is fitted as ``x @ M + b`` and applied with ``keras.ops`` so that the
    optimisation runs in pixel space and the result is a real image. Otherwise the
    optimisation runs on the model input itself (``affine`` is False).
    """

    def __init__(self, engine: Any, height: int, width: int, channels: int | None):
        self.engine = engine
        self.squeeze = channels is None
        self.c = 1 if channels is None else channels
        self.shape = (1, height, width, self.c)
        self.affine = self._fit()

    def _pre(self, pixels01: np.ndarray) -> np.ndarray:
        x = pixels01 * 255.0
        if self.squeeze:
            x = x[..., 0]
        out = np.asarray(self.engine.preprocess(x.astype(np.float32)), dtype=np.float64)
        return out[..., None] if self.squeeze else out

    def _fit(self) -> bool:
        try:
            base = self._pre(np.zeros(self.shape))
            rows = []
            for c in range(self.c):
                probe = np.zeros(self.shape)
                probe[..., c] = 1.0
                rows.append((self._pre(probe) - base)[0, 0, 0])
            self.matrix = np.stack(rows).astype(np.float32)  # (C, C) per 0-1 pixel
            self.bias = base[0, 0, 0].astype(np.float32)
            check = np.random.default_rng(12345).uniform(0, 1, self.shape)
            expected = check @ self.matrix + self.bias
            got = self._pre(check)
            scale = float(np.abs(self.matrix).max() + np.abs(self.bias).max() + 1e-12)
            return bool(np.allclose(got, expected, atol=1e-4 * scale, rtol=1e-4))
        except Exception:  # noqa: BLE001 - any odd preprocessing: optimise the input itself
            return False

    def span(self) -> float:
        """How far the model input moves between black and white pixels (its range)."""
        try:
            lo, hi = self._pre(np.zeros(self.shape)), self._pre(np.ones(self.shape))
            span = float(np.abs(hi - lo).max())
        except Exception:  # noqa: BLE001
            return 1.0
        return span if np.isfinite(span) and span > 0 else 1.0

    def to_model(self, u: Any) -> Any:
        ops = keras.ops
        x = ops.tensordot(u, ops.convert_to_tensor(self.matrix), axes=[[3], [0]]) \
            + ops.convert_to_tensor(self.bias)
        return x[..., 0] if self.squeeze else x


class _InputSpace(PixelImage):
    """Parameters that are the model input itself (for preprocessing that is not affine)."""

    def __init__(self, pix: _PixelMap, n: int, noise: float):
        super().__init__(n, pix.shape[1], pix.shape[2], pix.c, noise)
        self.pix = pix

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        return self.pix._pre(super().initial(rng)).astype(np.float32)

    def after_step(self, params: np.ndarray) -> np.ndarray:
        return params.astype(np.float32)

    @property
    def pixel_space(self) -> bool:
        return False


def _adam(beta1: float = 0.9, beta2: float = 0.999,
          eps: float = 1e-8) -> Callable[[np.ndarray, np.ndarray, int, float], np.ndarray]:
    """An Adam ascent step ``step(params, grad, t, lr) -> params`` keeping its moments."""
    moments: dict[str, np.ndarray] = {}

    def step(params: np.ndarray, grad: np.ndarray, t: int, lr: float) -> np.ndarray:
        m = moments.get("m", np.zeros_like(params))
        v = moments.get("v", np.zeros_like(params))
        moments["m"] = m = beta1 * m + (1 - beta1) * grad
        moments["v"] = v = beta2 * v + (1 - beta2) * grad * grad
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        return (params + lr * m_hat / (np.sqrt(v_hat) + eps)).astype(np.float32)

    return step


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
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
            raise InvalidSettingError(f"steps must be an integer >= 0, not {steps!r}.")
        total = int(steps)
        if not learning_rate > 0:
            raise InvalidSettingError(f"learning_rate must be positive, not {learning_rate}.")
        if isinstance(images, bool) or not isinstance(images, (int, np.integer)) or images < 1:
            raise InvalidSettingError(f"images must be an integer >= 1, not {images!r}.")
        n = int(images)
        if param is not None:
            kind = self._param_name(param)
        elif not self._own_param and (transforms is not None or regularizers is not None):
            kind = "pixels"  # strategies given without a param: the pixel-space method
        else:
            kind = self.param

        shape = self.engine.input_shape
        side = self._size(size)
        height = shape[0] or side[0]
        width = shape[1] or side[1]
        fixed = (shape[0], shape[1]) if shape[0] and shape[1] else None
        channels = shape[2] if len(shape) == 3 else None
        pix = _PixelMap(self.engine, height, width, channels)
        if not pix.affine:
            kind = "input"
        transforms, regularizers = self._strategies(transforms, regularizers, kind,
                                                    min(height, width))
        rng = np.random.default_rng(seed)

        def make_param(noise: float) -> ImageParam:
            if kind == "fourier":
                return FourierImage(n, height, width, pix.c)
            if kind == "pixels":
                return PixelImage(n, height, width, pix.c, noise)
            return _InputSpace(pix, n, noise)

        to_model = pix.to_model if pix.affine else (
            (lambda x: x[..., 0]) if pix.squeeze else (lambda x: x))
        div_layer = next((name for name in objective.layers if name is not None), None)
        div_weight = float(diversity) if n > 1 and div_layer is not None else 0.0
        div_objective = diversity_objective(div_layer) if div_weight else None
        inner = [name for name in objective.layers if name is not None]
        reads_output = objective.reads_output

        def values_of(x: Any) -> dict[str | None, Any]:
            if fixed is not None and tuple(x.shape[1:3]) != fixed:
                x = resize_images(x, fixed)
            out, found = self.engine.forward(to_model(x), layers=inner,
                                             stop_at_layers=not reads_output)
            found[None] = out
            return found

        def per_image(x: Any) -> np.ndarray:
            return autodiff.to_numpy(objective(values_of(x))).astype(np.float64).reshape(n)

        def responds(image_param: ImageParam, params: np.ndarray) -> bool:
            _, (grad,) = autodiff.value_and_gradient(
                lambda p: objective(values_of(image_param(p))), params)
            return grad is not None and bool(np.any(autodiff.to_numpy(grad) != 0))

        def ascent_loss(p: Any) -> Any:
            """What one step raises (summed over the images), and the objective per image."""
            ops = keras.ops
            x = image_param(p)
            seen = x
            for transform in transforms:
                seen = transform(seen, rng)
            values = values_of(seen)
            scores = objective(values)
            loss = ops.sum(scores)
            if div_objective is not None:
                size_of = ops.stop_gradient(ops.mean(ops.abs(scores)))
                loss = loss + div_weight * size_of * ops.sum(div_objective(values))
            for regularizer in regularizers:
                penalty = regularizer.penalty(x)
                if penalty is not None:
                    loss = loss - penalty
            return loss, scores

        restarts = 0
        image_param = make_param(0.1)
        params = image_param.initial(rng)
        updates = [r for r in regularizers
                   if type(r).update is not Regularizer.update]
        use_logits = self.logits and reads_output
        history = np.zeros(total, dtype=np.float64)
        ascend = _adam()
        lr = learning_rate if kind != "input" else learning_rate * pix.span()
        with logits_of(self.engine, use_logits), \
                redirected_relus(self.engine, relu_redirect > 0) as switch:
            if kind != "fourier":
                # a ReLU channel that is off everywhere on the first noise has no gradient
                # without redirection: draw stronger noise (at most three more times)
                switch.on = False
                while restarts < 3 and total > 0 and relu_redirect <= 0 and \
                        not responds(image_param, params):
                    restarts += 1
                    image_param = make_param(0.1 * 2**restarts)
                    params = image_param.initial(rng)
            initial_values = per_image(image_param(autodiff.to_tensor(params)))
            positive = bool(np.any(initial_values > 0))
            with reporting(progress, total) as report:
                for step in range(1, total + 1):
                    switch.on = relu_redirect > 0 and (step <= relu_redirect or not positive)
                    (_, scores), (grad,) = autodiff.value_and_gradient(
                        ascent_loss, params, has_aux=True)
                    if grad is None:
                        raise LayerNotViewableError(
                            "The objective does not depend on the input; nothing to "
                            "maximise.")
                    grad = autodiff.to_numpy(grad)
                    params = image_param.after_step(ascend(params, grad, step, lr))
                    params = self._updated(image_param, params, updates, step)
                    history[step - 1] = float(np.mean(autodiff.to_numpy(scores)))
                    positive = positive or history[step - 1] > 0
                    report(step, total, history[step - 1])
            switch.on = False
            result = image_param(autodiff.to_tensor(params))
            finals = per_image(result)

        pixels = autodiff.to_numpy(result)
        if kind == "input":
            pixels = np.stack([unit_scale(p) for p in pixels])
        batch = np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)
        return MaximizationResult(
            image=batch[0], history=history, initial=float(np.mean(initial_values)),
            final=float(np.mean(finals)), steps=total, layer=layer, channel=channel,
            images=batch,
            extra={"pixel_space": pix.affine, "param": kind, "target": target,
                   "restarts": restarts, "objective": objective,
                   "initials": initial_values, "finals": finals},
        )

    @staticmethod
    def _updated(image_param: ImageParam, params: np.ndarray,
                 updates: Sequence[Regularizer], step: int) -> np.ndarray:
        """``params`` after the regularisers' image updates of step ``step``.

        For a parameterisation that is not the pixels (Fourier), the update is applied to
        the image and the parameters of the updated image are solved for.
        """
        if not updates:
            return params
        if image_param.pixel_space or isinstance(image_param, _InputSpace):
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
        if len(pair) != 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer))
                                 or s < 8 for s in pair):
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
                channels = info.channels
                if channels is not None and not -channels <= channel < channels:
                    raise SelectionOutOfRangeError(
                        f"Channel {channel} is out of range: layer {layer!r} has {channels} "
                        f"channels (0 to {channels - 1})."
                    )
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
