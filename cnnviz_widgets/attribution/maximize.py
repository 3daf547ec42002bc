"""Activation maximisation: synthesise an input that excites a filter or a class."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import LayerNotViewableError
from ._common import Progress, as_engine, logits_of
from .scores import ChannelScore, resolve_score

__all__ = [
    "MAX_STEPS_ENV",
    "ActivationMaximization",
    "Blur",
    "Jitter",
    "MaximizationResult",
    "TotalVariation",
]

#: Environment variable that caps the number of optimisation steps (used by tests).
MAX_STEPS_ENV = "CNNVIZ_MAX_STEPS"


@dataclass(frozen=True)
class Jitter:
    """Shift the image by a random offset of up to ``px`` pixels before each step.

    The model sees a rolled copy; the gradient flows back to the unshifted image, which
    discourages high-frequency patterns tied to exact pixel positions.
    """

    px: int = 2


@dataclass(frozen=True)
class TotalVariation:
    """Subtract ``weight`` times the mean absolute difference of neighbouring pixels.

    Pixels are on the 0-1 scale here; ``weight`` is in the units of the objective.
    """

    weight: float = 1.0


@dataclass(frozen=True)
class Blur:
    """Gaussian-blur the image (standard deviation ``sigma`` pixels) every ``every`` steps."""

    every: int = 4
    sigma: float = 0.5


Regularizer = Jitter | TotalVariation | Blur


@dataclass
class MaximizationResult:
    """What :class:`ActivationMaximization` returns.

    Attributes
    ----------
    image : numpy.ndarray
        uint8 array (H, W, C) of pixel values 0-255 (C = 1 for grayscale models).
    history : numpy.ndarray
        The objective at each step, as the model saw it (jittered), shape (steps,).
    initial : float
        The objective on the starting noise image.
    final : float
        The objective on the returned image (before conversion to uint8).
    steps : int
        Steps actually run (after the ``CNNVIZ_MAX_STEPS`` cap).
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


def capped_steps(steps: int) -> int:
    """``steps``, capped by the ``CNNVIZ_MAX_STEPS`` environment variable when set."""
    if steps < 0:
        raise ValueError(f"steps must be >= 0, not {steps}")
    cap = os.environ.get(MAX_STEPS_ENV, "").strip()
    if cap:
        try:
            steps = min(steps, max(0, int(cap)))
        except ValueError as exc:
            raise ValueError(f"{MAX_STEPS_ENV} must be an integer, not {cap!r}") from exc
    return steps


def _gaussian_blur(u: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of (1, H, W, C) over H and W, reflecting at the borders."""
    if sigma <= 0:
        return u
    radius = max(1, int(math.ceil(3.0 * sigma)))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    kernel /= kernel.sum()
    out = u.astype(np.float64)
    for axis in (1, 2):
        if out.shape[axis] <= radius:
            continue
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect")
        acc = np.zeros_like(out)
        for i, k in enumerate(kernel):
            acc += k * np.take(padded, range(i, i + out.shape[axis]), axis=axis)
        out = acc
    return out.astype(u.dtype)


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
    scale, kept in range), with optional regularisers, and returns the image and the
    objective's history. Layers inside nested backbones work (``"backbone/conv2"``).

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine already built around it (its preprocessing is used).
    logits : bool, default True
        For class targets, maximise the logit instead of a softmax/sigmoid probability.

    Examples
    --------
    >>> am = ActivationMaximization(model)
    >>> res = am("conv2", channel=5, steps=200, regularizers=[Jitter(2), Blur(4, 0.5)])
    >>> res.image.shape, res.gain
    """

    def __init__(self, model_or_engine: Any, logits: bool = True):
        self.engine = as_engine(model_or_engine)
        self.logits = logits

    def __call__(
        self,
        layer: str | None = None,
        channel: int | None = None,
        target: Any = None,
        steps: int = 200,
        regularizers: Sequence[Regularizer] = (Jitter(2), Blur(4, 0.5)),
        learning_rate: float = 0.05,
        seed: int | None = 0,
        progress: Callable[[int, int], Any] | Any | None = None,
        size: tuple[int, int] = (128, 128),
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
            Number of gradient steps; capped by the environment variable
            ``CNNVIZ_MAX_STEPS`` when it is set.
        regularizers : sequence of Jitter, TotalVariation, Blur
            Applied in every step (Jitter, TotalVariation) or every ``Blur.every`` steps.
        learning_rate : float, default 0.05
            Adam step size, on the 0-1 pixel scale.
        seed : int or None, default 0
            Seed of the starting noise and of the jitter.
        progress : callable or IntProgress, optional
            Called as ``progress(step, total)`` after each step, or a widget with
            ``value`` and ``max`` that is updated.
        size : (int, int), default (128, 128)
            Image height and width, used only when the model's input size is flexible.

        Returns
        -------
        MaximizationResult
            ``.image`` (uint8, (H, W, C)), ``.history``, ``.initial``, ``.final``, ``.gain``.

        Raises
        ------
        ValueError
            If neither ``channel`` nor ``target`` is given, or they conflict.
        LayerNotFoundError
            If ``layer`` does not exist.
        """
        import tensorflow as tf

        score, on_output = self._objective(layer, channel, target)
        total = capped_steps(steps)
        jitter = max((r.px for r in regularizers if isinstance(r, Jitter)), default=0)
        tv = sum(r.weight for r in regularizers if isinstance(r, TotalVariation))
        blurs = [r for r in regularizers if isinstance(r, Blur)]
        unknown = [r for r in regularizers if not isinstance(r, (Jitter, TotalVariation, Blur))]
        if unknown:
            raise TypeError(
                f"Unknown regularizer(s) {unknown!r}; use Jitter, TotalVariation or Blur."
            )
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, not {learning_rate}")

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

        report = Progress(progress, total)
        history = np.zeros(total, dtype=np.float64)
        m = np.zeros_like(u)
        v = np.zeros_like(u)
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        lr = learning_rate if pix.affine else learning_rate * pix.span()
        with logits_of(self.engine, self.logits and on_output):
            initial = float(evaluate(tf.constant(u)))
            for step in range(1, total + 1):
                x = tf.constant(u)
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    seen = x
                    if jitter:
                        dy, dx = (int(s) for s in rng.integers(-jitter, jitter + 1, size=2))
                        seen = tf.roll(x, shift=[dy, dx], axis=[1, 2])
                    objective = evaluate(seen)
                    loss = objective
                    if tv:
                        loss = loss - tv * (
                            tf.reduce_mean(tf.abs(x[:, 1:] - x[:, :-1]))
                            + tf.reduce_mean(tf.abs(x[:, :, 1:] - x[:, :, :-1])))
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
                for blur in blurs:
                    if blur.every > 0 and step % blur.every == 0:
                        u = _gaussian_blur(u, blur.sigma)
                u = u.astype(np.float32)
                history[step - 1] = float(objective)
                report(step)
            final = float(evaluate(tf.constant(u)))

        if pix.affine:
            pixels = u[0] * 255.0
        else:
            lo, hi = float(u.min()), float(u.max())
            pixels = (u[0] - lo) / (hi - lo if hi > lo else 1.0) * 255.0
        image = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
        return MaximizationResult(
            image=image, history=history, initial=initial, final=final, steps=total,
            layer=layer, channel=channel,
            extra={"pixel_space": pix.affine, "target": target, "restarts": restarts},
        )

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
                raise ValueError("Give either channel= or target= for a layer, not both.")
            if channel is not None:
                channels = info.channels
                if channels is not None and not -channels <= channel < channels:
                    raise IndexError(
                        f"Channel {channel} is out of range: layer {layer!r} has {channels} "
                        f"channels (0 to {channels - 1})."
                    )
                return ChannelScore(int(channel)), False
            if callable(target) and not isinstance(target, (int, np.integer)):
                return target, False
            raise ValueError(
                f"Say what to maximise in layer {layer!r}: channel=<index>, or target=<a "
                "callable score on the layer's output>. For a class, leave layer=None and "
                "give target=<class index>."
            )
        if channel is not None:
            raise ValueError("channel= needs a layer=; for a class use target=<class index>.")
        if target is None:
            raise ValueError(
                "Nothing to maximise: give layer= and channel= for a filter, or target=<class "
                "index> for a class."
            )
        return resolve_score(target), True
