"""Layer-wise relevance propagation (LRP) with Zennit's composites, on Keras 3.

:class:`LRP` is built once around a model and called per image, like the gradient
methods. The relevance of the explained class starts at its logit and goes back layer
by layer (:mod:`.propagate`), each linear layer with the rule its composite gives it
(:mod:`.composites`, :mod:`.rules`), batch normalisation folded into the layer before it
(:mod:`.canonizers`). The pass is one compiled program per input size (a
``tf.function`` under TensorFlow, a ``jax.jit`` under JAX), as for the gradient methods.

What is conserved: on a ReLU network without biases the input relevance adds up to the
explained logit, under every composite (the epsilon rule with epsilon near 0 is then
gradient times input). A bias takes its share of every output it feeds (an input that
is not explained), and the epsilon stabiliser absorbs a little more. z+ and alpha-beta
conserve only the relevance of units with positive contributions (after a ReLU, every
unit that carries relevance); after leaky ReLU or swish, units with negative outputs
carry relevance that they lose (z+) or double (alpha-beta). Max pooling gives all of an
output's relevance to the input that won; a gate (squeeze-and-excitation) gives none to
its gate branch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import autodiff
from .._common import logits_of
from ..base import GradientMethod
from ..scores import resolve_score
from .composites import Composite, make_composite
from .propagate import relevance_graph

__all__ = ["LRP", "output_relevance", "signed_unit"]


def output_relevance(output: Any, score: Any) -> Any:
    """The relevance of the model output: each value times the score's gradient to it.

    For a class score that is the class's logit at its own position and zero elsewhere,
    so the explanation adds up to the logit.
    """
    _, (gradient,) = autodiff.value_and_gradient(score, output)
    return output * gradient


def signed_unit(maps: np.ndarray) -> np.ndarray:
    """``maps`` divided by their largest absolute value (into [-1, 1]), float32."""
    maps = np.asarray(maps, dtype=np.float64)
    peak = float(np.max(np.abs(maps))) if maps.size else 0.0
    return (maps / peak if np.isfinite(peak) and peak > 0 else maps).astype(np.float32)


class LRP(GradientMethod):
    """Layer-wise relevance propagation: what the score is built from, pixel by pixel.

    The relevance of the explained class (its logit) is sent back through the network,
    layer by layer, each linear layer dividing what it receives among its inputs by the
    rule its composite gives it; the input relevance adds up (nearly) to the logit.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine built around it (its preprocessing gives the input range
        of the z-box rule). Every layer on the way from the input to the output must be
        one the propagation supports (:data:`.propagate.SUPPORTED`, nested models too).
    composite : str or Composite, default "epsilon_plus_flat"
        Which rule each layer gets: ``"epsilon"``, ``"epsilon_plus"``,
        ``"epsilon_plus_flat"``, ``"epsilon_gamma_box"``, ``"epsilon_alpha2_beta1"``
        (Zennit's names), or a :class:`~.composites.Composite`.
    epsilon : float, default 1e-6
        The epsilon of the epsilon rule.
    gamma : float, default 0.25
        The gamma of ``epsilon_gamma_box``.
    logits : bool, default True
        Explain the logits when the model ends in a softmax or sigmoid.

    Raises
    ------
    UnsupportedModelError
        If a layer cannot be propagated through (the message names it and lists what
        can).

    Examples
    --------
    >>> lrp = LRP(model, composite="epsilon_gamma_box")
    >>> heat = lrp(image)                    # (H, W) in [-1, 1], the top class
    >>> per_channel = lrp.attributions(image, target=3)   # (H, W, C), raw relevance
    """

    def __init__(self, model_or_engine: Any, composite: str | Composite = "epsilon_plus_flat",
                 epsilon: float = 1e-6, gamma: float = 0.25, logits: bool = True):
        super().__init__(model_or_engine, logits)
        self.graph = relevance_graph(self.engine)
        self.composite = make_composite(composite, epsilon, gamma, bounds=self.input_bounds)

    def input_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The lowest and highest value each input of the first linear layer can take.

        Black (0) and white (255) pixels prepared by the engine's preprocessing, then
        passed through the element-wise layers before the first linear layer
        (``Rescaling``, ``Normalization``): per channel, shaped to broadcast against the
        layer's input.
        """
        shape = tuple(self.engine.plan.input_shape)
        channels = shape[-1] if shape and shape[-1] is not None else 1
        pixels = np.zeros((2, *([1] * (len(shape) - 1)), channels), dtype=np.float32)
        pixels[1] = 255.0
        values = np.asarray(self.engine.preprocess(pixels), dtype=np.float32)
        for layer in self.graph.first_input_chain():
            values = autodiff.to_numpy(layer(values))
        return values.min(axis=0, keepdims=True), values.max(axis=0, keepdims=True)

    # -- batches ---------------------------------------------------------------------
    def relevance(self, batch: np.ndarray, target: Any = None) -> np.ndarray:
        """The input relevance of each image of a prepared batch.

        Parameters
        ----------
        batch : numpy.ndarray
            Prepared model inputs, batch first (``engine.prepare``'s output, or several).
        target : None, int or callable, optional
            ``None``: each image's own predicted class; an int: that class; or a score
            callable, linear in the output (its gradient times the output starts the
            relevance).

        Returns
        -------
        numpy.ndarray
            float32, shaped like ``batch``.
        """
        score = resolve_score(target)
        with logits_of(self.engine, self.logits):
            return self._input_relevance(np.asarray(batch, dtype=np.float32), score)

    def _input_relevance(self, batch: np.ndarray, score: Any) -> np.ndarray:
        return self.compiled_gradients(f"lrp:{self.composite.key}",
                                       (autodiff.to_tensor(batch),), score, self._propagate)

    def _propagate(self, x: Any, score: Any) -> Any:
        values = self.graph.forward(x)
        start = output_relevance(self.graph.output(values), score)
        return self.graph.backward(values, start, self.composite)[0]

    def _attribute(self, batch: np.ndarray, score: Any) -> np.ndarray:
        relevance = self._input_relevance(batch, score).astype(np.float64)
        return relevance.sum(axis=-1) if relevance.ndim >= 3 else relevance

    # -- one image -------------------------------------------------------------------
    def attributions(self, image: Any, target: Any = None) -> np.ndarray:
        """The relevance of each input value of ``image``, per channel.

        Parameters
        ----------
        image : path, bytes, PIL image or numpy array
            The image, prepared by the engine.
        target : None, int or callable, optional
            As for :meth:`relevance`; by default the predicted class.

        Returns
        -------
        numpy.ndarray
            float32 (H, W, C) (for a signal (T, C)): raw relevance of the prepared input.
        """
        return self.relevance(self.prepare(image), target)[0]

    def __call__(self, image: Any, target: Any = None, normalize: bool = True) -> np.ndarray:
        """The relevance heatmap of ``image``: the relevance summed over colour channels.

        Parameters
        ----------
        image, target
            As for :meth:`attributions`.
        normalize : bool, default True
            Divide by the largest absolute value: [-1, 1], positive for evidence for the
            class, negative against it. False: raw relevance (it adds up to the logit).

        Returns
        -------
        numpy.ndarray
            float32 (H, W): the model's input height and width.
        """
        heat = self.attribute(self.prepare(image), target)[0]
        return signed_unit(heat) if normalize else heat.astype(np.float32)
