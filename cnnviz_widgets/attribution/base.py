"""The base of the gradient attribution methods: built once around a model, called per image.

Every gradient method computes maps for a *batch* of prepared model inputs with
:meth:`GradientMethod.attribute`; that is what :class:`~.smooth.SmoothGrad` runs on its
noisy copies. Calling the method on one image prepares it, attributes it and applies
the method's own finishing steps (Grad-CAM's upsampling, a scaling to [0, 1]).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.coerce import as_engine
from ._common import logits_of
from .scores import resolve_score

__all__ = ["GradientMethod"]


class GradientMethod:
    """Base class of the gradient attribution methods.

    Subclasses implement :meth:`_attribute`, which maps a prepared batch and a score to
    one map per image.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine already built around it (its preprocessing is used).
    logits : bool, default True
        When the model ends in a softmax (or sigmoid), differentiate the logits
        instead of the probabilities, as tf-keras-vis's ``ReplaceToLinear`` does;
        saturated probabilities have vanishing gradients.
    """

    def __init__(self, model_or_engine: Any, logits: bool = True):
        self.engine = as_engine(model_or_engine)
        self.logits = logits

    def prepare(self, image: Any) -> np.ndarray:
        """The batch of one the model receives for ``image``, float32."""
        return np.asarray(self.engine.prepare(image), dtype=np.float32)

    def predicted_class(self, batch: np.ndarray) -> int:
        """The top class of the first image of a prepared ``batch``."""
        output, _ = self.engine.forward(batch[:1])
        flat = np.asarray(output).reshape(1, -1)
        return int(np.argmax(flat[0]))

    def attribute(self, batch: np.ndarray, target: Any = None) -> np.ndarray:
        """Maps of every image of a prepared batch.

        Parameters
        ----------
        batch : numpy.ndarray
            Prepared model inputs, batch first (e.g. :meth:`prepare`'s output, or noisy
            copies of it).
        target : None, int or callable, optional
            ``None``: each image's own predicted class; an int: that class index for
            every image; or a score callable mapping the output batch to shape (batch,).

        Returns
        -------
        numpy.ndarray
            float64 array (N, h, w): one map per image, at the method's resolution.
        """
        import tensorflow as tf

        score = resolve_score(target)
        batch = np.asarray(batch, dtype=np.float32)
        with logits_of(self.engine, self.logits):
            return self._attribute(tf, batch, score)

    def _attribute(self, tf: Any, batch: np.ndarray, score: Any) -> np.ndarray:
        raise NotImplementedError
