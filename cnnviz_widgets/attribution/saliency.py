"""Vanilla gradient saliency."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..colour.scale import unit_scale
from .base import GradientMethod
from .noise import checked_noise, noisy_mean

__all__ = ["Saliency"]


class Saliency(GradientMethod):
    """Saliency map: how much each input pixel changes the score, ``|d score / d input|``.

    Built once per model, then called per image. The gradient is taken with respect
    to the *prepared* model input (after the engine's preprocessing, e.g. pixel values
    divided by 255); for the usual per-pixel affine preprocessing this only rescales
    the map. The map is the absolute gradient, maximised over the colour channels.
    For SmoothGrad wrap it: ``SmoothGrad(Saliency(model), samples=20, noise=0.15)``.
    The constructor's parameters (``model_or_engine``, ``logits=True``) are those of
    :class:`~.base.GradientMethod`.

    Examples
    --------
    >>> sal = Saliency(model)
    >>> heat = sal(image)                       # (H, W), top class
    >>> heat3 = sal(image, target=3, normalize=True)
    """

    def __call__(
        self,
        image: Any,
        target: Any = None,
        smooth_samples: int | None = None,
        noise: float = 0.15,
        seed: int | None = 0,
        normalize: bool = False,
        batch_size: int = 16,
    ) -> np.ndarray:
        """Compute the saliency map of ``image``.

        Parameters
        ----------
        image : path, bytes, PIL image or numpy array
            The image, prepared by the engine as in the feature-map explorer.
        target : None, int or callable, optional
            ``None``: the predicted (top) class; an int: that class index; a callable
            score such as ``ClassScore(3)`` mapping the output batch to shape (batch,).
        smooth_samples, noise, seed, batch_size
            Deprecated: use ``SmoothGrad(saliency, samples=..., noise=..., seed=...,
            batch_size=...)``. ``smooth_samples > 0`` computes exactly that (and warns).
        normalize : bool, default False
            Divide the map by its maximum so that it lies in [0, 1].

        Returns
        -------
        numpy.ndarray
            float32 array of shape (H, W): the model's input height and width.
        """
        if smooth_samples is not None:
            warnings.warn(
                "Saliency(...)(image, smooth_samples=...) is deprecated; use "
                "SmoothGrad(Saliency(model), samples=..., noise=..., seed=...)(image).",
                DeprecationWarning, stacklevel=2,
            )
        batch = self.prepare(image)
        if smooth_samples:
            samples, noise, batch_size = checked_noise(smooth_samples, noise, batch_size)
            saliency = noisy_mean(self, batch, target, samples=samples, noise=noise, seed=seed,
                                  batch_size=batch_size)
        else:
            saliency = self.attribute(batch, target)[0]
        return unit_scale(saliency, lo=0.0) if normalize else saliency.astype(np.float32)

    def _attribute(self, batch: np.ndarray, score: Any) -> np.ndarray:
        grads = np.abs(self._input_gradients(batch, score).astype(np.float64))
        # (N, H, W, C) -> (N, H, W) and a volume's (N, D, H, W, C) -> (N, D, H, W) by the
        # max over colour channels; (N, H, W) stays
        return grads.max(axis=-1) if grads.ndim >= 4 else grads
