"""The base of the gradient attribution methods: built once around a model, called per image.

Every gradient method computes maps for a *batch* of prepared model inputs with
:meth:`GradientMethod.attribute`; that is what :class:`~.smooth.SmoothGrad` runs on its
noisy copies. Calling the method on one image prepares it, attributes it and applies
the method's own finishing steps (Grad-CAM's upsampling, a scaling to [0, 1]).

Methods that need the gradient of the score with respect to the prepared input
(saliency, integrated gradients) take it from :meth:`GradientMethod.input_gradients`,
which runs a compiled forward and backward pass for the package's class scores
(:class:`~.scores.ClassScore`, the class index being an input of the program, and
:class:`~.scores.TopClassScore`), traced once per input size and cached on the engine;
any other score callable runs eagerly. Gradients come from :mod:`.autodiff`, so every
method runs under the TensorFlow, JAX and PyTorch backends of Keras. Under TensorFlow
the compiled pass is a ``tf.function``: it fuses each convolution with its bias and
activation and drops the gradients of the weights, which an eager ``GradientTape``
computes and discards (on VGG16 this roughly halves the time of a batch). Under JAX it
is a ``jax.jit``; under PyTorch the pass runs eagerly. A model the compiled pass fails
on falls back to the eager pass.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..engine.coerce import as_engine
from ..errors import LayerNotViewableError
from . import autodiff
from ._common import logits_of, quiet_tracing, reaches_output
from .scores import ClassScore, TopClassScore, class_values, fixed_by_output, resolve_score

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
        """The top class of the first image of a prepared ``batch`` (for a per-pixel
        output, the class predicted at the most pixels)."""
        score = self.image_score(batch)
        return int(score.index if isinstance(score, ClassScore) else score.class_index)

    def image_score(self, batch: np.ndarray, target: Any = None) -> Any:
        """The score of ``target`` fixed for the first image of a prepared ``batch``.

        ``None`` becomes the image's predicted class (for a per-pixel output, the class
        predicted at the most pixels over its predicted region) and a
        :class:`~.scores.SegmentationTarget` without a mask gets the image's predicted
        region, so that changed copies of the image (noisy, on a path) are scored the
        same way. Other targets are returned as :func:`~.scores.resolve_score` gives them.
        """
        if not fixed_by_output(target):
            return resolve_score(target)
        with autodiff.no_gradient():
            output, _ = self.engine.forward(np.asarray(batch[:1], dtype=np.float32))
        return resolve_score(target, autodiff.to_numpy(output))

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
            float64 array (N, h, w): one map per image, at the method's resolution
            ((N, T) for a sequence).
        """
        score = resolve_score(target)
        batch = np.asarray(batch, dtype=np.float32)
        with logits_of(self.engine, self.logits):
            return self._attribute(batch, score)

    def _attribute(self, batch: np.ndarray, score: Any) -> np.ndarray:
        raise NotImplementedError

    def input_gradients(self, batch: np.ndarray, score: Any) -> np.ndarray:
        """The gradient of ``score`` with respect to each image of a prepared batch.

        Parameters
        ----------
        batch : numpy.ndarray
            Prepared model inputs, batch first.
        score : callable
            A score mapping the output batch to shape (batch,), e.g. ``ClassScore(3)``.

        Returns
        -------
        numpy.ndarray
            float32 array with the shape of ``batch``: ``d score_i / d batch[i]``
            (of the logits when ``logits`` is set and the model ends in a softmax).
        """
        with logits_of(self.engine, self.logits):
            return self._input_gradients(np.asarray(batch, dtype=np.float32), score)

    def _input_gradients(self, batch: np.ndarray, score: Any) -> np.ndarray:
        """:meth:`input_gradients` inside an active :func:`logits_of` (compiled when it can)."""
        return self.compiled_gradients("input", (autodiff.to_tensor(batch),), score,
                                       self._input_gradient)

    def value_at(self, layer: str, batch: np.ndarray) -> np.ndarray:
        """A layer's output for a prepared batch, without a gradient tape.

        A batch of one goes through the engine's cache
        (:meth:`~cnnviz_widgets.ActivationEngine.prepared_activation`): for an image the
        user has explored, nothing runs; otherwise only the layers up to this one run,
        and their outputs are cached. Larger batches (SmoothGrad's noisy copies) run the
        same prefix without caching.

        Returns
        -------
        numpy.ndarray
            The layer's output, batch first.
        """
        batch = np.asarray(batch, dtype=np.float32)
        with autodiff.no_gradient():
            if len(batch) == 1:
                return self.engine.prepared_activation(layer, batch)
            _, values = self.engine.forward(batch, layers=[layer], stop_at_layers=True)
            return autodiff.to_numpy(values[layer])

    def gradients_at(self, layer: str, batch: np.ndarray,
                     score: Any) -> tuple[np.ndarray, np.ndarray]:
        """A layer's output and the score's gradient with respect to it.

        The output comes from :meth:`value_at` (the cache for an explored image); only the
        layers after ``layer`` then run forward and backward, compiled for the package's
        class scores (:meth:`compiled_gradients`). Call it inside :meth:`attribute` (or
        with :func:`~._common.logits_of` active) for logits.

        Parameters
        ----------
        layer : str
            A layer name of the engine.
        batch : numpy.ndarray
            Prepared model inputs, batch first.
        score : callable
            The score to differentiate, e.g. ``ClassScore(3)``.

        Returns
        -------
        value, gradient : numpy.ndarray
            The layer's output and ``d sum(score) / d value``, of the same shape.

        Raises
        ------
        LayerNotViewableError
            If the score does not depend on the layer.
        """
        if not reaches_output(self.engine, layer):
            raise self._independent(layer)
        value = np.asarray(self.value_at(layer, batch))
        tensors = (autodiff.to_tensor(np.asarray(batch, dtype=np.float32)),
                   autodiff.to_tensor(value))
        grads = self.compiled_gradients(
            f"layer:{layer}", tensors, score,
            lambda x, v, s: self._gradients_after(layer, x, v, s))
        return value, grads

    @staticmethod
    def _independent(layer: str) -> LayerNotViewableError:
        return LayerNotViewableError(
            f"The score does not depend on layer {layer!r}: nothing after it leads to "
            "the output. Pick an earlier layer.")

    def _gradients_after(self, layer: str, x: Any, value: Any, score: Any) -> Any:
        """``d sum(score) / d value``, running only the layers after ``layer``."""

        def total(v: Any) -> Any:
            output, _ = self.engine.forward(x, given={layer: v})
            return score(output)

        _, (grads,) = autodiff.value_and_gradient(total, value)
        if grads is None:
            raise self._independent(layer)
        return grads

    def compiled_gradients(self, name: str, tensors: tuple[Any, ...], score: Any,
                           function: Any) -> np.ndarray:
        """``function(*tensors, score)`` (a gradient), compiled for the package's class scores.

        The one mechanism behind every compiled gradient of the attribution methods: for
        :class:`~.scores.ClassScore` and :class:`~.scores.TopClassScore` the function is
        compiled (:func:`.autodiff.compiled`: a ``tf.function`` under TensorFlow, a
        ``jax.jit`` under JAX) once per ``name``, score kind, ``logits`` setting, dtypes
        and tensor shapes (the class index is an input of the program) and cached on the
        engine, for every method object of the same class built around it; any other
        score runs ``function`` eagerly, and so does a model the compiled program fails
        on (from then on), and every score under a backend without compilation.

        Parameters
        ----------
        name : str
            What is differentiated, e.g. ``"input"`` or a layer name (part of the key).
        tensors : tuple of tensors
            The arguments of ``function``, batch first.
        score : callable
            The score to differentiate.
        function : callable
            ``function(*tensors, score) -> gradient tensor``, written with
            :func:`.autodiff.value_and_gradient` and ``keras.ops``.

        Returns
        -------
        numpy.ndarray
            The gradient, as ``function`` returns it.
        """
        if isinstance(score, TopClassScore):
            kind, index = "top", 0
        elif isinstance(score, ClassScore) and 0 <= score.index < self._classes():
            kind, index = "class", score.index
        else:  # any other score callable (or a class out of range, to be told): eagerly
            return autodiff.to_numpy(function(*tensors, score))
        # kept on the engine: every method object built around it (a panel builds one per
        # run) reuses the programs traced before, instead of tracing its own
        functions = self.engine.__dict__.setdefault("_gradient_functions", {})
        key = (type(self), name, kind, self.logits, autodiff.backend(),
               *((str(t.dtype), tuple(t.shape[1:])) for t in tensors))
        if key not in functions:
            functions[key] = self._compile(kind, tensors, function)
        program = functions[key]
        if program is not None:
            try:
                with quiet_tracing():
                    return autodiff.to_numpy(program(*tensors, index))
            except Exception:  # noqa: BLE001 - the eager pass below decides
                pass
        grads = autodiff.to_numpy(function(*tensors, score))  # raises if the input is at fault
        functions[key] = None  # the eager pass works where the compiled one failed
        return grads

    def _classes(self) -> float:
        """How many classes the model's output has per image (inf when not known): its
        values, or for a per-pixel output (height, width, classes) its last axis."""
        try:
            shape = tuple(self.engine.model.outputs[0].shape[1:])
        except (AttributeError, IndexError, TypeError):
            return math.inf
        if len(shape) == 3:
            shape = shape[-1:]
        return math.inf if any(s is None for s in shape) else math.prod(shape)

    def _compile(self, kind: str, tensors: tuple[Any, ...], function: Any) -> Any:
        """The compiled ``function`` for one kind of score; the class index is an input."""
        def gradients(*args: Any) -> Any:
            *inputs, index = args
            if kind == "top":
                return function(*inputs, TopClassScore())

            def class_score(output: Any) -> Any:  # ClassScore with a tensor index
                return class_values(output, index)

            return function(*inputs, class_score)

        return autodiff.compiled(gradients, tensors, self.engine.model.variables)

    def _input_gradient(self, x: Any, score: Any) -> Any:
        """``d sum(score(model(x))) / d x``, recording no weight."""

        def total(inputs: Any) -> Any:
            output, _ = self.engine.forward(inputs)
            return score(output)

        _, (grads,) = autodiff.value_and_gradient(total, x)
        return grads
