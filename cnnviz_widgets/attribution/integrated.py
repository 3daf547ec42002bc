"""Integrated gradients: the gradient averaged along a straight path from a baseline."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..checks import whole_number
from ..colour.scale import unit_scale
from ..errors import InvalidSettingError
from . import autodiff
from ._common import logits_of
from .base import GradientMethod
from .regularizers import gaussian_blur, image_blur_sigma
from .scores import fixed_by_output, resolve_score

__all__ = ["IntegratedGradients"]

_BASELINES = ("black", "blur", "noise")


class IntegratedGradients(GradientMethod):
    """Integrated gradients (Sundararajan et al. 2017, "Axiomatic Attribution for Deep Networks").

    The attribution of input element ``j`` is ``(x - x')_j`` times the mean of
    ``d f / d x_j`` over the points ``x' + alpha (x - x')`` of the straight path from the
    baseline ``x'`` to the input ``x``, with ``f`` the score (the class logit when
    ``logits`` is set). The mean is the midpoint Riemann rule: ``alpha = (k + 1/2) /
    steps`` for ``k = 0 .. steps - 1`` (captum's ``"riemann_middle"``; captum's default is
    Gauss-Legendre), whose error falls as ``1 / steps**2``. The attributions then add up
    to ``f(x) - f(x')`` up to that error (completeness); :meth:`attributions` returns the
    gap as captum's ``convergence_delta``. Everything is computed on the *prepared*
    input (after the engine's preprocessing); the path points run through the model in
    batches of ``batch_size``.

    The map of an image is the sum of its attributions over the colour channels, signed
    (positive where the pixel raises the score); ``absolute=True`` returns its absolute
    value. The constructor's ``model_or_engine`` and ``logits`` are those of
    :class:`~.base.GradientMethod`.

    Parameters
    ----------
    baseline : {"black", "blur", "noise"} or array, default "black"
        ``"black"``: an all-zero-pixel image passed through the engine's preprocessing;
        ``"blur"``: the input blurred with a Gaussian of ``blur_sigma`` pixels (blurring
        the prepared input equals preprocessing the blurred pixels for a per-channel
        affine preprocessing, since the kernel sums to 1); ``"noise"``: uniform random
        pixels in [0, 255] drawn with ``seed``, then preprocessed; an array: *pixel*
        values (0-255) with the model's input shape (without the batch axis, e.g.
        (H, W, 3)), preprocessed like an image.
    steps : int, default 32
        Number of points on the path (at least 1).
    batch_size : int, default 16
        Path points per forward and backward pass.
    blur_sigma : float, optional
        Standard deviation in pixels of the ``"blur"`` baseline; its kernel reaches
        ``3 * blur_sigma`` pixels each side and must fit in the image. By default an
        eighth of the image's larger side (:func:`~.regularizers.image_blur_sigma`, the
        faithfulness substrate's blur): 28 pixels at 224, 3.5 at 28.
    seed : int, default 0
        Seed of the ``"noise"`` baseline: the same seed gives the same baseline.
    absolute : bool, default False
        Return the absolute value of the channel sum instead of the signed sum.

    Raises
    ------
    InvalidSettingError
        If ``steps`` or ``batch_size`` is below 1, ``blur_sigma`` is not positive, the
        baseline name is unknown, or (when called) the baseline array does not have the
        input's shape or the blur does not fit in the image.

    Examples
    --------
    >>> ig = IntegratedGradients(model, baseline="blur", steps=32)
    >>> heat = ig(image, target=3)                  # (H, W), signed
    >>> attributions, delta = ig.attributions(image, target=3)   # (H, W, C), float
    >>> smooth = SmoothGrad(IntegratedGradients(model, steps=16), samples=8)(image)
    """

    def __init__(self, model_or_engine: Any, baseline: Any = "black", steps: int = 32,
                 batch_size: int = 16, logits: bool = True, blur_sigma: float | None = None,
                 seed: int = 0, absolute: bool = False):
        super().__init__(model_or_engine, logits)
        self.steps = whole_number(steps, "steps")
        self.batch_size = whole_number(batch_size, "batch_size")
        if isinstance(baseline, str):
            if baseline not in _BASELINES:
                raise InvalidSettingError(
                    f"Unknown baseline {baseline!r}; use one of {', '.join(_BASELINES)} or "
                    "an array of pixel values with the model's input shape.")
        else:
            baseline = np.asarray(baseline, dtype=np.float32)
            self._check_baseline_shape(baseline, self.engine.input_shape)
        if blur_sigma is not None and not blur_sigma > 0:
            raise InvalidSettingError(f"blur_sigma must be > 0 pixels, not {blur_sigma!r}.")
        self.baseline = baseline
        self.blur_sigma = None if blur_sigma is None else float(blur_sigma)
        self.seed = seed
        self.absolute = absolute

    # -- baselines -------------------------------------------------------------------
    @staticmethod
    def _check_baseline_shape(baseline: np.ndarray, shape: tuple[int | None, ...]) -> None:
        fits = baseline.ndim == len(shape) and all(
            want is None or got == want for got, want in zip(baseline.shape, shape, strict=True))
        if not fits:
            wanted = "x".join("?" if s is None else str(s) for s in shape)
            raise InvalidSettingError(
                f"The baseline array has shape {baseline.shape}; it must be pixel values "
                f"with the model's input shape {wanted} (no batch axis).")

    def baseline_for(self, batch: np.ndarray) -> np.ndarray:
        """The prepared baseline of every image of a prepared ``batch`` (same shape).

        Parameters
        ----------
        batch : numpy.ndarray
            Prepared model inputs, batch first.

        Returns
        -------
        numpy.ndarray
            float32 array with the shape of ``batch``.
        """
        batch = np.asarray(batch, dtype=np.float32)
        n, shape = batch.shape[0], batch.shape[1:]
        if isinstance(self.baseline, np.ndarray):
            self._check_baseline_shape(self.baseline, shape)
            pixels = np.broadcast_to(self.baseline, (n, *shape))
        elif self.baseline == "black":
            pixels = np.zeros((n, *shape), dtype=np.float32)
        elif self.baseline == "noise":
            rng = np.random.default_rng(self.seed)
            pixels = rng.uniform(0.0, 255.0, (n, *shape)).astype(np.float32)
        else:
            return self._blurred(batch)
        prepared = self.engine.preprocess(np.array(pixels, dtype=np.float32))
        return np.asarray(prepared, dtype=np.float32).reshape(batch.shape)

    def _blurred(self, batch: np.ndarray) -> np.ndarray:
        height, width = batch.shape[1:3]
        sigma = (image_blur_sigma(height, width) if self.blur_sigma is None
                 else self.blur_sigma)
        radius = max(1, math.ceil(3.0 * sigma))
        if radius >= min(height, width):
            raise InvalidSettingError(
                f"blur_sigma={sigma:g} reaches {radius} pixels, too far for a "
                f"{height}x{width} input; use blur_sigma below {min(height, width) / 3:g}.")
        images = batch if batch.ndim == 4 else batch[..., None]
        return gaussian_blur(images, sigma).reshape(batch.shape)

    # -- attribution -----------------------------------------------------------------
    def _image_scores(self, batch: np.ndarray, score: Any) -> list[Any]:
        """One score per image, fixed by the image itself when ``score`` depends on its
        output (:meth:`~.base.GradientMethod.image_score`: the predicted class for
        :class:`~.scores.TopClassScore`, the predicted region of a
        :class:`~.scores.SegmentationTarget` without a mask), the same all along the path."""
        if not fixed_by_output(score):
            return [score] * len(batch)
        return [self.image_score(batch[i:i + 1], score) for i in range(len(batch))]

    def _integrate(self, x: np.ndarray, baseline: np.ndarray, score: Any) -> np.ndarray:
        """Attributions of one prepared image (1, ...) against its baseline (1, ...)."""
        alphas = (np.arange(self.steps, dtype=np.float64) + 0.5) / self.steps
        alphas = alphas.reshape(-1, *([1] * (x.ndim - 1)))
        total = np.zeros(x.shape[1:], dtype=np.float64)
        for start in range(0, self.steps, self.batch_size):
            chunk = alphas[start:start + self.batch_size]
            points = (baseline + chunk * (x - baseline)).astype(np.float32)
            total += self._input_gradients(points, score).sum(axis=0, dtype=np.float64)
        return (x[0] - baseline[0]).astype(np.float64) * total / self.steps

    def _all_attributions(self, batch: np.ndarray, score: Any) -> np.ndarray:
        """(N, ...) attributions of a prepared batch, inside an active logits swap."""
        baselines = self.baseline_for(batch)
        scores = self._image_scores(batch, score)
        return np.stack([self._integrate(batch[i:i + 1], baselines[i:i + 1], scores[i])
                         for i in range(len(batch))])

    def _attribute(self, batch: np.ndarray, score: Any) -> np.ndarray:
        attributions = self._all_attributions(batch, score)
        # the channel sum: (N, H, W, C) -> (N, H, W), a volume's (N, D, H, W, C) -> (N, D, H, W)
        maps = attributions.sum(axis=-1) if attributions.ndim >= 4 else attributions
        return np.abs(maps) if self.absolute else maps

    def attributions(self, image: Any, target: Any = None) -> tuple[np.ndarray, float]:
        """Per-element attributions of ``image`` and their completeness gap.

        Parameters
        ----------
        image : path, bytes, PIL image or numpy array
            The image, prepared by the engine.
        target : None, int or callable, optional
            ``None``: the predicted class of the image; an int: that class index; a
            score callable mapping the output batch to shape (batch,).

        Returns
        -------
        attributions : numpy.ndarray
            float32 array with the prepared input's shape without the batch axis, e.g.
            (H, W, C): signed, one value per pixel and channel.
        delta : float
            ``sum(attributions) - (f(x) - f(baseline))``, captum's ``convergence_delta``;
            it shrinks as ``steps`` grows.
        """
        batch = self.prepare(image)
        score = resolve_score(target)
        with logits_of(self.engine, self.logits):
            score = self._image_scores(batch, score)[0]
            attributions = self._all_attributions(batch, score)[0]
            both = np.concatenate([batch, self.baseline_for(batch)])
            with autodiff.no_gradient():
                output, _ = self.engine.forward(autodiff.to_tensor(both))
            values = autodiff.to_numpy(score(output)).astype(np.float64)
        delta = float(attributions.sum() - (values[0] - values[1]))
        return attributions.astype(np.float32), delta

    def __call__(self, image: Any, target: Any = None, normalize: bool = False) -> np.ndarray:
        """Compute the integrated-gradients map of ``image``.

        Parameters
        ----------
        image, target
            As for :meth:`attributions`: the image (prepared by the engine) and the class
            index or score to explain, by default the predicted class.
        normalize : bool, default False
            Divide the map by its largest absolute value: [-1, 1] for the signed map,
            [0, 1] with ``absolute=True``.

        Returns
        -------
        numpy.ndarray
            float32 array of shape (H, W): the model's input height and width.
        """
        heat = self.attribute(self.prepare(image), target)[0]
        if not normalize:
            return heat.astype(np.float32)
        if self.absolute:
            return unit_scale(heat, lo=0.0)
        peak = float(np.max(np.abs(heat)))
        return (heat / peak if peak > 0 else heat).astype(np.float32)
