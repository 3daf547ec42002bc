"""How much each channel of a layer contributes to a class: gradient times activation."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import GradientMethod

__all__ = ["ChannelContributions"]


class ChannelContributions(GradientMethod):
    """Each channel's contribution to a class score: the mean over positions of
    gradient x activation.

    For channel ``k`` of a layer with output ``A``, the contribution is
    ``mean_ij(dy/dA_k[i, j] * A_k[i, j])``: the first-order share of channel ``k`` in the
    score ``y`` (for a head that is linear in ``A`` the contributions add up to ``y``
    minus the bias, divided by the number of positions). It orders channels by what
    matters for one decision, as Grad-CAM's weighted maps do per position. The layer's
    activation comes from the engine's cache and only the layers after it run (see
    :meth:`~.base.GradientMethod.gradients_at`), so an explored image costs the head's
    forward and backward pass. A vector layer (a dense layer) has one position per unit.
    The constructor's ``model_or_engine`` and ``logits`` are those of
    :class:`~.base.GradientMethod`.

    Parameters
    ----------
    layer : str
        The layer whose channels are scored.

    Raises
    ------
    LayerNotFoundError
        If ``layer`` does not exist.

    Examples
    --------
    >>> scores = ChannelContributions(model, "conv2")(image, target=3)   # (C,)
    >>> order = np.argsort(-scores, kind="stable")                       # most first
    """

    def __init__(self, model_or_engine: Any, layer: str, logits: bool = True):
        super().__init__(model_or_engine, logits)
        self.layer = layer
        self.engine.layer(layer)  # raises LayerNotFoundError with close names

    def __call__(self, image: Any, target: Any = None) -> np.ndarray:
        """The contribution of each channel of the layer for ``image``.

        Parameters
        ----------
        image : path, bytes, PIL image or numpy array
            The image, prepared by the engine.
        target : None, int or callable, optional
            The class whose score the channels contribute to: ``None`` for the predicted
            class, an int for a class index, or a score callable.

        Returns
        -------
        numpy.ndarray
            float64 array (C,), one value per channel (per unit for a vector layer).
        """
        return self.attribute(self.prepare(image), target)[0]

    def _attribute(self, batch: np.ndarray, score: Any) -> np.ndarray:
        value, grads = self.gradients_at(self.layer, batch, score)
        product = value.astype(np.float64) * grads.astype(np.float64)
        if self.engine.layer(self.layer).layout == "plane":
            product = product[..., None]  # (N, h, w): one channel without its axis
        positions = tuple(range(1, product.ndim - 1))
        return product.mean(axis=positions) if positions else product
