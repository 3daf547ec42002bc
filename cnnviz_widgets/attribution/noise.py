"""Noisy copies of a prepared input, each explained and averaged: SmoothGrad's core.

:class:`~.smooth.SmoothGrad` wraps a method around :func:`noisy_mean`; the deprecated
``Saliency(...)(image, smooth_samples=...)`` calls it directly, so that the saliency
module does not import the wrapper that defaults to it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..checks import whole_number
from ..errors import InvalidSettingError
from .callbacks import ProgressLike, reporting

__all__ = ["checked_noise", "noise_sigma", "noisy_mean"]


def checked_noise(samples: Any, noise: Any, batch_size: Any) -> tuple[int, float, int]:
    """``samples``, ``noise`` and ``batch_size`` when they are valid, else raise why.

    Raises
    ------
    InvalidSettingError
        If ``samples`` or ``batch_size`` is not a whole number of at least 1, or
        ``noise`` is negative.
    """
    samples = whole_number(samples, "samples")
    if not noise >= 0:
        raise InvalidSettingError(
            f"noise must be >= 0 (a fraction of the input's range), not {noise!r}.")
    return samples, float(noise), whole_number(batch_size, "batch_size")


def noise_sigma(batch: np.ndarray, noise: float) -> float:
    """The noise standard deviation for a prepared ``batch``: ``noise`` times its range."""
    span = float(np.max(batch) - np.min(batch))
    return noise * (span if span > 0 else 1.0)


def noisy_mean(method: Any, batch: np.ndarray, target: Any, *, samples: int, noise: float,
               seed: int | None, batch_size: int, progress: ProgressLike = None) -> np.ndarray:
    """The mean of ``method``'s maps over ``samples`` noisy copies of a prepared batch of one.

    Parameters
    ----------
    method : GradientMethod
        Explains each copy (its ``attribute``).
    batch : numpy.ndarray
        The prepared input, shape (1, ...).
    target : None, int or callable
        ``None``: the predicted class of the clean input (the same class for every copy);
        an int or a score callable as for ``method``.
    samples, noise, seed, batch_size
        As for :class:`~.smooth.SmoothGrad`: copy ``i`` gets the ``i``-th draw of
        ``numpy.random.default_rng(seed).normal(0, sigma, (samples, ...))``, whatever the
        batch size.
    progress : callback, function, widget or list, optional
        Told after each batch of copies; steps count copies.

    Returns
    -------
    numpy.ndarray
        float64 array (h, w) at ``method``'s resolution.
    """
    batch = np.asarray(batch, dtype=np.float32)
    score = method.image_score(batch, target)
    rng = np.random.default_rng(seed)
    sigma = noise_sigma(batch, noise)
    total: np.ndarray | None = None
    with reporting(progress, samples) as report:
        for start in range(0, samples, batch_size):
            n = min(batch_size, samples - start)
            # consecutive draws continue one stream: the same noise for any batch size
            noisy = batch + rng.normal(0.0, sigma, size=(n, *batch.shape[1:]))
            maps = method.attribute(noisy.astype(np.float32), score).sum(axis=0)
            total = maps if total is None else total + maps
            report(start + n, samples, math.nan)
    assert total is not None  # samples >= 1
    return total / samples
