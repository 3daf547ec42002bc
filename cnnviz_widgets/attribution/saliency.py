"""Vanilla gradient saliency and SmoothGrad."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import as_engine, logits_of, model_input_batch
from .scores import resolve_score

__all__ = ["Saliency"]


class Saliency:
    """Saliency map: how much each input pixel changes the score, ``|d score / d input|``.

    Built once per model, then called per image. The gradient is taken with respect
    to the *prepared* model input (after the engine's preprocessing, e.g. pixel values
    divided by 255); for the usual per-pixel affine preprocessing this only rescales
    the map. The map is the absolute gradient, maximised over the colour channels.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine already built around it (its preprocessing is used).
    logits : bool, default True
        When the model ends in a softmax (or sigmoid), differentiate the logits
        instead of the probabilities, as tf-keras-vis's ``ReplaceToLinear`` does;
        saturated probabilities have vanishing gradients.

    Examples
    --------
    >>> sal = Saliency(model)
    >>> heat = sal(image)                       # (H, W), top class
    >>> smooth = sal(image, target=3, smooth_samples=20, noise=0.15, seed=0)
    """

    def __init__(self, model_or_engine: Any, logits: bool = True):
        self.engine = as_engine(model_or_engine)
        self.logits = logits

    def __call__(
        self,
        image: Any,
        target: Any = None,
        smooth_samples: int = 0,
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
        smooth_samples : int, default 0
            0 gives the plain gradient; ``n > 0`` gives SmoothGrad: the mean of the
            absolute-gradient maps of ``n`` noisy copies of the input.
        noise : float, default 0.15
            SmoothGrad noise standard deviation, as a fraction of the input's value
            range (max - min of the prepared input).
        seed : int or None, default 0
            Seed of the SmoothGrad noise; None draws fresh noise.
        normalize : bool, default False
            Divide the map by its maximum so that it lies in [0, 1].
        batch_size : int, default 16
            Noisy copies per forward pass.

        Returns
        -------
        numpy.ndarray
            float32 array of shape (H, W): the model's input height and width.
        """
        import tensorflow as tf

        if smooth_samples < 0:
            raise ValueError(f"smooth_samples must be >= 0, not {smooth_samples}")
        if noise < 0:
            raise ValueError(f"noise must be >= 0, not {noise}")
        batch = model_input_batch(self.engine, image)
        with logits_of(self.engine, self.logits):
            if smooth_samples == 0:
                score = None if target is None else resolve_score(target)
                grads = self._gradients(tf, batch, score, target is None)
                saliency = self._reduce(np.abs(grads))[0]
            else:
                score = resolve_score(target, None if target is not None else
                                      np.asarray(self.engine.forward(batch)[0]))
                rng = np.random.default_rng(seed)
                sigma = float(noise) * float(batch.max() - batch.min() or 1.0)
                total = np.zeros(batch.shape[1:], dtype=np.float64)
                done = 0
                while done < smooth_samples:
                    n = min(batch_size, smooth_samples - done)
                    noisy = batch + rng.normal(0.0, sigma, size=(n, *batch.shape[1:]))
                    grads = self._gradients(tf, noisy.astype(np.float32), score, False)
                    total += np.abs(grads).sum(axis=0)
                    done += n
                saliency = self._reduce((total / smooth_samples)[None])[0]
        saliency = saliency.astype(np.float32)
        if normalize:
            top = float(saliency.max())
            saliency = saliency / top if top > 0 else saliency
        return saliency

    def _gradients(self, tf: Any, batch: np.ndarray, score: Any, pick_top: bool) -> np.ndarray:
        x = tf.convert_to_tensor(batch)
        with tf.GradientTape() as tape:
            tape.watch(x)
            output, _ = self.engine.forward(x)
            if pick_top:
                score = resolve_score(None, output.numpy())
            value = tf.reduce_sum(score(output))
        return tape.gradient(value, x).numpy()

    def _reduce(self, grads: np.ndarray) -> np.ndarray:
        """(N, H, W, C) -> (N, H, W) by max over channels; (N, H, W) stays."""
        return grads.max(axis=-1) if grads.ndim == 4 else grads
