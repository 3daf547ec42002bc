"""SmoothGrad: any gradient method averaged over noisy copies of the input."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..colour.scale import unit_scale
from .base import GradientMethod
from .callbacks import ProgressLike
from .noise import checked_noise, noise_sigma, noisy_mean
from .saliency import Saliency

__all__ = ["SmoothGrad"]


class SmoothGrad:
    """SmoothGrad (Smilkov et al. 2017) around any gradient method, like captum's NoiseTunnel.

    The map is the mean of the wrapped method's maps over ``samples`` noisy copies of
    the prepared input, ``x + N(0, sigma^2)`` with ``sigma = noise * (max(x) - min(x))``.
    The copies run through the model in batches of ``batch_size``. The noise of copy
    ``i`` is the ``i``-th draw of ``numpy.random.default_rng(seed).normal(0, sigma,
    (samples, *x.shape[1:]))``, whatever the batch size.

    Parameters
    ----------
    method : GradientMethod, keras.Model or ActivationEngine
        The method to smooth (:class:`~.saliency.Saliency`, :class:`~.gradcam.GradCAM`,
        ...); a model or an engine stands for ``Saliency(model_or_engine)``.
    samples : int, default 20
        Number of noisy copies (at least 1).
    noise : float, default 0.15
        Noise standard deviation as a fraction of the prepared input's value range;
        0 gives the wrapped method's own map.
    seed : int or None, default 0
        Seed of the noise, drawn afresh at every call; None draws different noise each time.
    batch_size : int, default 16
        Noisy copies per forward and backward pass.

    Raises
    ------
    InvalidSettingError
        If ``samples`` or ``batch_size`` is below 1 or ``noise`` is negative.

    Examples
    --------
    >>> smooth = SmoothGrad(Saliency(model), samples=20, noise=0.15)
    >>> heat = smooth(image, target=3)            # (H, W)
    >>> cam = SmoothGrad(GradCAM(model), samples=8)(image)   # at the layer's resolution
    """

    def __init__(self, method: Any, samples: int = 20, noise: float = 0.15,
                 seed: int | None = 0, batch_size: int = 16):
        if not isinstance(method, GradientMethod):
            method = Saliency(method)
        samples, noise, batch_size = checked_noise(samples, noise, batch_size)
        self.method = method
        self.samples = int(samples)
        self.noise = float(noise)
        self.seed = seed
        self.batch_size = int(batch_size)

    @property
    def engine(self) -> Any:
        """The wrapped method's engine."""
        return self.method.engine

    def sigma(self, batch: np.ndarray) -> float:
        """The noise standard deviation for a prepared ``batch``: ``noise`` times its range."""
        return noise_sigma(batch, self.noise)

    def attribute(self, batch: np.ndarray, target: Any = None,
                  progress: ProgressLike = None) -> np.ndarray:
        """The mean map over the noisy copies of a prepared batch of one.

        Parameters
        ----------
        batch : numpy.ndarray
            The prepared input, shape (1, ...).
        target : None, int or callable, optional
            ``None``: the predicted class of the clean input (the same class for every
            copy); an int or a score callable as for the wrapped method.
        progress : callback, function, widget or list, optional
            Told after each batch of copies (see :mod:`.callbacks`); steps count copies.

        Returns
        -------
        numpy.ndarray
            float64 array (h, w) at the wrapped method's resolution.
        """
        return noisy_mean(self.method, batch, target, samples=self.samples, noise=self.noise,
                          seed=self.seed, batch_size=self.batch_size, progress=progress)

    def __call__(self, image: Any, target: Any = None, normalize: bool = False,
                 progress: ProgressLike = None) -> np.ndarray:
        """Compute the smoothed map of ``image``.

        Parameters
        ----------
        image : path, bytes, PIL image or numpy array
            The image, prepared by the engine.
        target : None, int or callable, optional
            ``None``: the predicted class of the clean image; an int: a class index; a
            score callable such as ``ClassScore(3)``.
        normalize : bool, default False
            Divide the map by its maximum so that it lies in [0, 1].
        progress : callback, function, widget or list, optional
            Told after each batch of noisy copies.

        Returns
        -------
        numpy.ndarray
            float32 array (h, w): the wrapped method's resolution (the input's for
            saliency, the layer's for Grad-CAM; upsample with
            :func:`~.gradcam.upsample_heatmap`).
        """
        smooth = self.attribute(self.method.prepare(image), target, progress)
        return unit_scale(smooth, lo=0.0) if normalize else smooth.astype(np.float32)
