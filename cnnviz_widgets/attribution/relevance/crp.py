"""Concept relevance propagation (CRP): where one channel of a layer is relevant for a class.

Achtibat et al. (2023), as zennit-crp's ``CondAttribution`` does it
(``crp/attribution.py``): the relevance of the class is propagated down to a layer, kept
there for the chosen channels only (a *condition*), and propagated on to the input. Every
channel of a call is one condition of the same backward pass: the relevance that
reaches the layer is computed once, and from the layer down the images are repeated once
per channel, so K channels cost one pass over a batch K times as large from that layer
down (in passes of ``batch_size`` channels). The layer's own step back to its input is
the exception: each channel's relevance goes back along that channel's kernel alone, so
it runs for all the channels of a pass at once, at about the cost of one image's
(:meth:`.rules.Rule.propagate_channels`).

Relevance is linear in what a layer receives, so the heatmaps of all channels add up to
the relevance that flows through the layer; for a layer every path from the input to
the output goes through (any layer of a plain chain, a residual block's output), that is
the whole LRP heatmap. Relevance that goes around the layer (a skip connection past it)
is in no channel's heatmap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._keras import keras
from ...checks import indices_in, whole_number
from ...errors import LayerNotViewableError
from .. import autodiff
from .._common import logits_of, reaches_output
from ..scores import resolve_score
from .composites import Composite
from .lrp import LRP, output_relevance, signed_unit
from .propagate import Condition

__all__ = ["ChannelRelevance"]


class ChannelRelevance(LRP):
    """Where each channel of a layer is relevant for a class, and how much (CRP).

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine built around it.
    layer : str
        A layer name of the engine (``engine.layer_names``), with channels (its last axis).
    composite, epsilon, gamma, logits
        As for :class:`~.lrp.LRP`.
    batch_size : int, default 16
        How many channels one backward pass carries (each is a copy of the image from the
        layer down): more channels are computed in passes of this many.

    Raises
    ------
    LayerNotFoundError
        If the model has no such layer.
    LayerNotViewableError
        If the layer has no channels, or the output does not depend on it.

    Examples
    --------
    >>> cr = ChannelRelevance(model, "block4_conv3")
    >>> scores = cr.scores(image)              # (C,): relevance of each channel
    >>> top = np.argsort(scores)[::-1][:6]
    >>> maps = cr(image, channels=top)         # (6, H, W)
    """

    def __init__(self, model_or_engine: Any, layer: str,
                 composite: str | Composite = "epsilon_plus_flat", epsilon: float = 1e-6,
                 gamma: float = 0.25, logits: bool = True, batch_size: int = 16):
        super().__init__(model_or_engine, composite, epsilon, gamma, logits)
        self.batch_size = whole_number(batch_size, "batch_size")
        info = self.engine.viewable(layer)
        shape = tuple(info.output_shape)
        if len(shape) < 1 or shape[-1] is None or info.axes in ("plane", "other"):
            raise LayerNotViewableError(
                f"The layer {layer!r} (output shape {shape}) has no channels to condition on; "
                "pick a convolution or dense layer.")
        if not reaches_output(self.engine, layer):
            raise self._independent(layer)
        self.layer = layer
        self.channels = int(shape[-1])
        self._key = self.graph.key_of(layer)

    def _indices(self, channels: Any) -> np.ndarray:
        return indices_in(channels, self.channels, "channel", f"layer {self.layer!r}",
                          from_end=True) % self.channels

    # -- batches ---------------------------------------------------------------------
    def channel_relevance(self, batch: np.ndarray, channels: Any,
                          target: Any = None) -> np.ndarray:
        """The input relevance through each of ``channels``, for each image of a batch.

        Parameters
        ----------
        batch : numpy.ndarray
            Prepared model inputs, batch first.
        channels : int or sequence of int
            Channels of the layer (negative ones count from the end).
        target : None, int or callable, optional
            As for :meth:`~.lrp.LRP.relevance`.

        Returns
        -------
        numpy.ndarray
            float32 (N, K, ...input shape): one input relevance per image and channel.
        """
        picked = self._indices(channels)
        batch = np.asarray(batch, dtype=np.float32)
        if not len(picked):
            return np.zeros((len(batch), 0, *batch.shape[1:]), dtype=np.float32)
        score = resolve_score(target)
        size = min(self.batch_size, len(picked))
        tensor = autodiff.to_tensor(batch)
        with logits_of(self.engine, self.logits):
            # the relevance that reaches the layer, once: every pass below starts from it
            at_layer = autodiff.to_tensor(self.compiled_gradients(
                f"crp-layer:{self.layer}:{self.composite.key}", (tensor,), score,
                self._relevance_at))
            parts = []
            for start in range(0, len(picked), size):
                chunk = picked[start:start + size]
                # always ``size`` rows (zero rows past the end): one compiled program
                masks = np.zeros((size, self.channels), dtype=np.float32)
                masks[np.arange(len(chunk)), chunk] = 1.0
                relevance = self.compiled_gradients(
                    f"crp:{self.layer}:{self.composite.key}",
                    # masks behind an axis of one: compiled programs leave the first
                    # axis free, and the number of conditions must be known
                    (tensor, at_layer, autodiff.to_tensor(masks[None])), score,
                    self._conditioned)
                parts.append(relevance.reshape(len(batch), size,
                                               *batch.shape[1:])[:, :len(chunk)])
        return np.concatenate(parts, axis=1)

    def _relevance_at(self, x: Any, score: Any) -> Any:
        """The relevance of the layer's output (before any condition), per image."""
        values = self.graph.forward(x)
        start = output_relevance(self.graph.output(values), score)
        return self.graph.backward(values, start, self.composite, at=self._key)[1]

    def _conditioned(self, x: Any, at_layer: Any, masks: Any, score: Any) -> Any:
        # only the layers below need their values: the relevance above is given
        values = self.graph.forward(x, upto=self._key)
        return self.graph.backward(values, at_layer, self.composite, start=self._key,
                                   condition=Condition(self._key, masks[0], one_hot=True))[0]

    def layer_relevance(self, batch: np.ndarray, target: Any = None) -> np.ndarray:
        """The relevance of each channel of the layer, for each image of a batch.

        Returns
        -------
        numpy.ndarray
            float32 (N, C): the relevance of the layer's output, summed over positions.
            It adds up to the relevance that enters the layer.
        """
        batch = np.asarray(batch, dtype=np.float32)
        score = resolve_score(target)
        with logits_of(self.engine, self.logits):
            return self.compiled_gradients(
                f"crp-scores:{self.layer}:{self.composite.key}",
                (autodiff.to_tensor(batch),), score, self._at_layer)

    def _at_layer(self, x: Any, score: Any) -> Any:
        found = self._relevance_at(x, score)
        axes = tuple(range(1, len(found.shape) - 1))
        return keras.ops.sum(found, axis=axes) if axes else found

    # -- one image -------------------------------------------------------------------
    def scores(self, image: Any, target: Any = None) -> np.ndarray:
        """How much relevance each channel of the layer carries for ``target`` in ``image``.

        Parameters
        ----------
        image : path, bytes, PIL image or numpy array
            The image, prepared by the engine.
        target : None, int or callable, optional
            By default the predicted class.

        Returns
        -------
        numpy.ndarray
            float32 (C,): they add up to the relevance that enters the layer.
        """
        return self.layer_relevance(self.prepare(image), target)[0]

    def __call__(self, image: Any, channels: Any = None, target: Any = None,
                 normalize: bool = True) -> np.ndarray:
        """One heatmap per channel: where that channel is relevant for the class.

        Parameters
        ----------
        image : path, bytes, PIL image or numpy array
            The image, prepared by the engine.
        channels : int or sequence of int, optional
            The channels (all of the layer's when None), computed in one batched pass.
        target : None, int or callable, optional
            By default the predicted class.
        normalize : bool, default True
            Divide all the maps by the largest absolute value among them (one scale, so
            that channels compare): [-1, 1]. False: raw relevance; the maps of all the
            channels then add up to the LRP heatmap (see the module's text).

        Returns
        -------
        numpy.ndarray
            float32 (K, H, W): one map per channel, in the order given.
        """
        if channels is None:
            channels = np.arange(self.channels)
        relevance = self.channel_relevance(self.prepare(image), channels, target)[0]
        heat = relevance.astype(np.float64)
        heat = heat.sum(axis=-1) if heat.ndim >= 3 else heat
        return signed_unit(heat) if normalize else heat.astype(np.float32)
