"""Activation maximisation: synthesise an input that excites a filter or a class."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..colour.scale import unit_scale
from ..engine.coerce import as_engine
from ..errors import InvalidSettingError, LayerNotViewableError, SelectionOutOfRangeError
from ._common import logits_of
from .callbacks import ProgressLike, reporting
from .regularizers import Blur, Regularizer, TotalVariation
from .scores import ChannelScore, resolve_score
from .transforms import InputTransform, Jitter

__all__ = [
    "DEFAULT_REGULARIZERS",
    "DEFAULT_TRANSFORMS",
    "ActivationMaximization",
    "MaximizationResult",
]

#: Transforms used when none are given: a jitter of up to 2 pixels.
DEFAULT_TRANSFORMS: tuple[InputTransform, ...] = (Jitter(2),)
#: Regularisers used when none are given: a light blur every 4 steps.
DEFAULT_REGULARIZERS: tuple[Regularizer, ...] = (Blur(4, 0.5),)


@dataclass
class MaximizationResult:
    """What :class:`ActivationMaximization` returns.

    Attributes
    ----------
    image : numpy.ndarray
        uint8 array (H, W, C) of pixel values 0-255 (C = 1 for grayscale models).
    history : numpy.ndarray
        The objective at each step, as the model saw it (transformed), shape (steps,).
    initial : float
        The objective on the starting noise image.
    final : float
        The objective on the returned image (before conversion to uint8).
    steps : int
        Steps run.
    """

    image: np.ndarray
    history: np.ndarray
    initial: float
    final: float
    steps: int
    layer: str | None = None
    channel: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def gain(self) -> float:
        """``final / initial``; inf if the start was not positive but the end is, else nan."""
        if self.initial > 0:
            return self.final / self.initial
        return math.inf if self.final > 0 else math.nan


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
    RGB->BGR, ...), it is fitted as ``x @ M + b`` and applied with TensorFlow so that the
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

    def to_model(self, tf: Any, u: Any) -> Any:
        x = tf.tensordot(u, tf.constant(self.matrix), axes=[[3], [0]]) + self.bias
        return x[..., 0] if self.squeeze else x


class ActivationMaximization:
    """Gradient ascent on the input to maximise a filter's mean activation or a class score.

    Starts from seeded noise around mid-grey, takes Adam steps on the pixels (0-1
    scale, kept in range) and returns the image and the objective's history. At each
    step the model sees the image through the input transforms (:mod:`.transforms`),
    the regularisers' penalties are subtracted from the objective and their updates are
    applied to the image (:mod:`.regularizers`). Layers inside nested backbones work
    (``"backbone/conv2"``).

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine already built around it (its preprocessing is used).
    logits : bool, default True
        For class targets, maximise the logit instead of a softmax/sigmoid probability.
    transforms : sequence of InputTransform, optional
        Default transforms of every call; :data:`DEFAULT_TRANSFORMS` (``Jitter(2)``).
    regularizers : sequence of Regularizer, optional
        Default regularisers of every call; :data:`DEFAULT_REGULARIZERS`
        (``Blur(4, 0.5)``).

    Examples
    --------
    >>> am = ActivationMaximization(model)
    >>> res = am("conv2", channel=5, steps=200, transforms=[Jitter(2)],
    ...          regularizers=[TotalVariation(0.1), Blur(4, 0.5)])
    >>> res.image.shape, res.gain
    """

    def __init__(self, model_or_engine: Any, logits: bool = True, *,
                 transforms: Sequence[InputTransform] | None = None,
                 regularizers: Sequence[Regularizer] | None = None):
        self.engine = as_engine(model_or_engine)
        self.logits = logits
        self.transforms = _checked(transforms, InputTransform, "transform(s)",
                                   DEFAULT_TRANSFORMS)
        self.regularizers = _checked(regularizers, Regularizer, "regularizer(s)",
                                     DEFAULT_REGULARIZERS)

    @classmethod
    def from_settings(cls, model_or_engine: Any, *, jitter: int = 2,
                      total_variation: float = 0.0, blur_every: int = 4,
                      blur_sigma: float = 0.5, logits: bool = True) -> ActivationMaximization:
        """Build from plain numbers, as a panel's controls give them.

        Parameters
        ----------
        model_or_engine : keras.Model or ActivationEngine
            The model, or an engine around it.
        jitter : int, default 2
            :class:`~.transforms.Jitter` pixels (0: none).
        total_variation : float, default 0.0
            :class:`~.regularizers.TotalVariation` weight (0: none).
        blur_every, blur_sigma : int, float
            :class:`~.regularizers.Blur` period and sigma (either 0: no blur).
        logits : bool, default True
            As for the constructor.

        Returns
        -------
        ActivationMaximization
        """
        transforms = [Jitter(int(jitter))] if jitter else []
        regularizers: list[Regularizer] = []
        if total_variation:
            regularizers.append(TotalVariation(float(total_variation)))
        if blur_every and blur_sigma:
            regularizers.append(Blur(int(blur_every), float(blur_sigma)))
        return cls(model_or_engine, logits, transforms=transforms, regularizers=regularizers)

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
        size: tuple[int, int] = (128, 128),
        transforms: Sequence[InputTransform] | None = None,
    ) -> MaximizationResult:
        """Synthesise an input that maximises the objective.

        Parameters
        ----------
        layer : str, optional
            Layer whose ``channel`` to maximise, or to which a callable ``target`` is
            applied. ``None`` means the model's output (a class target).
        channel : int, optional
            Maximise the spatial mean of this channel of ``layer``.
        target : int or callable, optional
            With ``layer=None``: a class index, or a score on the output (e.g.
            ``ClassScore(3)``). With a ``layer``: a callable score on that layer's output.
        steps : int, default 200
            Number of gradient steps.
        regularizers : sequence of Regularizer, optional
            Penalties and image updates (:class:`~.regularizers.TotalVariation`,
            :class:`~.regularizers.Blur`); default: the object's own. An input transform
            given here is deprecated; it is used as one of ``transforms``.
        learning_rate : float, default 0.05
            Adam step size, on the 0-1 pixel scale.
        seed : int or None, default 0
            Seed of the starting noise and of the random transforms.
        progress : callback, function, widget or list, optional
            A :class:`~.callbacks.Callback`, a function ``progress(step, total)``, an
            ``ipywidgets.IntProgress`` or a list of these; told after each step.
        size : (int, int), default (128, 128)
            Image height and width, used only when the model's input size is flexible.
        transforms : sequence of InputTransform, optional
            What the model sees the image through at each step
            (:class:`~.transforms.Jitter`); default: the object's own.

        Returns
        -------
        MaximizationResult
            ``.image`` (uint8, (H, W, C)), ``.history``, ``.initial``, ``.final``, ``.gain``.

        Raises
        ------
        InvalidSettingError
            (a ``ValueError``) if neither ``channel`` nor ``target`` is given, they
            conflict, or ``steps`` or ``learning_rate`` is out of range.
        SelectionOutOfRangeError
            (an ``IndexError``) if ``channel`` does not exist.
        LayerNotFoundError
            If ``layer`` does not exist.
        """
        import tensorflow as tf

        score, on_output = self._objective(layer, channel, target)
        transforms, regularizers = self._strategies(transforms, regularizers)
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
            raise InvalidSettingError(f"steps must be an integer >= 0, not {steps!r}.")
        total = int(steps)
        if not learning_rate > 0:
            raise InvalidSettingError(f"learning_rate must be positive, not {learning_rate}.")

        shape = self.engine.input_shape
        height = shape[0] or size[0]
        width = shape[1] or size[1]
        channels = shape[2] if len(shape) == 3 else None
        pix = _PixelMap(self.engine, height, width, channels)
        rng = np.random.default_rng(seed)
        to_model = (lambda x: pix.to_model(tf, x)) if pix.affine else (
            (lambda x: x[..., 0]) if pix.squeeze else (lambda x: x))

        def evaluate(x: Any) -> Any:
            out, values = self.engine.forward(to_model(x), layers=[] if layer is None else
                                              [layer], stop_at_layers=layer is not None)
            return tf.reduce_sum(score(out if layer is None else values[layer]))

        def start(amplitude: float) -> np.ndarray:
            noise = 0.5 + amplitude * rng.standard_normal(pix.shape)
            u0 = np.clip(noise, 0.0, 1.0).astype(np.float32)
            return u0 if pix.affine else pix._pre(u0).astype(np.float32)

        # a ReLU channel that is off everywhere on the first noise has no gradient:
        # draw stronger noise (at most three more times) until the objective responds
        restarts = 0
        u = start(0.1)
        with logits_of(self.engine, self.logits and on_output):
            while restarts < 3 and total > 0 and not self._responds(tf, evaluate, u):
                restarts += 1
                u = start(0.1 * 2**restarts)

        history = np.zeros(total, dtype=np.float64)
        m = np.zeros_like(u)
        v = np.zeros_like(u)
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        lr = learning_rate if pix.affine else learning_rate * pix.span()
        with logits_of(self.engine, self.logits and on_output), \
                reporting(progress, total) as report:
            initial = float(evaluate(tf.constant(u)))
            for step in range(1, total + 1):
                x = tf.constant(u)
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    seen = x
                    for transform in transforms:
                        seen = transform(seen, rng)
                    objective = evaluate(seen)
                    loss = objective
                    for regularizer in regularizers:
                        penalty = regularizer.penalty(x)
                        if penalty is not None:
                            loss = loss - penalty
                grad = tape.gradient(loss, x)
                if grad is None:
                    raise LayerNotViewableError(
                        "The objective does not depend on the input; nothing to maximise."
                    )
                g = grad.numpy()
                m = beta1 * m + (1 - beta1) * g
                v = beta2 * v + (1 - beta2) * g * g
                m_hat = m / (1 - beta1**step)
                v_hat = v / (1 - beta2**step)
                u = u + lr * m_hat / (np.sqrt(v_hat) + eps)
                if pix.affine:
                    u = np.clip(u, 0.0, 1.0)
                for regularizer in regularizers:
                    u = regularizer.update(u, step)
                u = u.astype(np.float32)
                history[step - 1] = float(objective)
                report(step, total, history[step - 1])
            final = float(evaluate(tf.constant(u)))

        pixels = (u[0] if pix.affine else unit_scale(u[0])) * 255.0
        image = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
        return MaximizationResult(
            image=image, history=history, initial=initial, final=final, steps=total,
            layer=layer, channel=channel,
            extra={"pixel_space": pix.affine, "target": target, "restarts": restarts},
        )

    def _strategies(
        self, transforms: Sequence[InputTransform] | None,
        regularizers: Sequence[Any] | None,
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
        return (_checked(transforms, InputTransform, "transform(s)", self.transforms),
                _checked(regularizers, Regularizer, "regularizer(s)", self.regularizers))

    @staticmethod
    def _responds(tf: Any, evaluate: Callable[[Any], Any], u: np.ndarray) -> bool:
        x = tf.constant(u)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = evaluate(x)
        grad = tape.gradient(value, x)
        return grad is not None and bool(np.any(grad.numpy() != 0))

    def _objective(self, layer: str | None, channel: int | None,
                   target: Any) -> tuple[Callable[[Any], Any], bool]:
        """Return (score, applies_to_model_output)."""
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
                return ChannelScore(int(channel)), False
            if callable(target) and not isinstance(target, (int, np.integer)):
                return target, False
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
        return resolve_score(target), True
