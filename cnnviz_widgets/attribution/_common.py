"""Helpers shared by the attribution methods (internal)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

_SWAP_LOCK = threading.RLock()
_SQUASHING = ("softmax", "sigmoid")


def output_layer(engine: Any) -> Any | None:
    """The Keras layer that produces the output the engine explains, or None if unknown.

    That is the model's first output, or the one chosen with ``ActivationEngine(output=...)``.
    """
    plan = engine.plan
    try:
        return plan.steps[plan.producer[plan.output_key]].layer
    except (AttributeError, IndexError, KeyError):
        layers = getattr(engine.model, "layers", None)
        return layers[-1] if layers else None


def reaches_output(engine: Any, layer: str) -> bool:
    """True when the model's output is computed from ``layer``'s output (in its plan).

    The answer is kept on the engine, per layer.
    """
    known = engine.__dict__.setdefault("_reaches_output", {})
    if layer not in known:
        known[layer] = _reaches_output(engine, layer)
    return known[layer]


def _reaches_output(engine: Any, layer: str) -> bool:
    plan = engine.plan
    view = plan.view(layer)
    if view is None:
        engine.layer(layer)  # raises LayerNotFoundError with close names
        return True
    target = view.key
    seen: set[int] = set()
    todo = [plan.output_key]
    while todo:
        key = todo.pop()
        if key == target:
            return True
        if key in seen or key not in plan.producer:
            continue
        seen.add(key)
        todo.extend(plan.steps[plan.producer[key]].inputs)
    return False


def squashing_activation(engine: Any) -> str | None:
    """Name of the final softmax/sigmoid activation of the model, or None.

    That is the activation of the output layer (``Dense(..., activation="softmax")``,
    ``Activation("sigmoid")``), or ``"softmax"`` when the output layer is a ``Softmax``
    layer of one input (a segmentation model's per-pixel softmax).
    """
    layer = output_layer(engine)
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", None)
    if name in _SQUASHING:
        return name
    return "softmax" if _softmax_step(engine) is not None else None


def output_kind(engine: Any) -> str:
    """What the model's output is, for the targets that fit it.

    ``"pixels"``: a class score per pixel, (height, width, classes), from a final softmax
    or sigmoid over the classes, or at the input's own height and width (a segmentation);
    a stack of feature maps at another size, such as a convolutional trunk without its
    head, is not. ``"value"``: a single value (a regression). ``"classes"``: anything
    else (a vector of class scores).
    """
    shape = tuple(engine.layer(engine.output).output_shape)
    if len(shape) == 3 and engine.plan.input_axes != "sequence":
        inputs = tuple(engine.input_shape)[:2]
        full_size = None not in shape[:2] and tuple(shape[:2]) == inputs
        if full_size or squashing_activation(engine) is not None:
            return "pixels"
    if shape == (1,):
        return "value"
    return "classes"


def _softmax_step(engine: Any) -> Any | None:
    """The plan step of a final ``Softmax`` layer of one input, or None."""
    from cnnviz_widgets._keras import keras

    plan = engine.plan
    try:
        step = plan.steps[plan.producer[plan.output_key]]
    except (AttributeError, IndexError, KeyError):
        return None
    if isinstance(step.layer, keras.layers.Softmax) and len(step.inputs) == 1 \
            and len(step.outputs) == 1:
        return step
    return None


@contextlib.contextmanager
def _skipped_step(step: Any) -> Iterator[None]:
    """While active, ``step`` passes its input through unchanged (under the swap lock)."""
    (key,) = step.inputs
    with _SWAP_LOCK:
        original = step.call
        step.call = lambda values: [values[key]]
        try:
            yield
        finally:
            step.call = original


@contextlib.contextmanager
def swapped_activations(layers: Iterable[Any], activation: Any) -> Iterator[None]:
    """While active, each of ``layers`` applies ``activation`` instead of its own.

    The one way the attribution methods change a model's activations in place (the
    logits of :func:`logits_of`, the redirected ReLUs of activation maximisation), under
    one lock; every original activation is restored on exit, even after an error.
    """
    unique = list({id(layer): layer for layer in layers}.values())
    with _SWAP_LOCK:
        originals = [layer.activation for layer in unique]
        try:
            for layer in unique:
                layer.activation = activation
            yield
        finally:
            for layer, original in zip(unique, originals, strict=True):
                layer.activation = original


@contextlib.contextmanager
def logits_of(engine: Any, enabled: bool) -> Iterator[None]:
    """While active, the model's final softmax/sigmoid activation is the identity.

    This is tf-keras-vis's ``ReplaceToLinear`` without cloning the model: gradients of a
    saturated softmax vanish, those of the logits do not. A final ``Softmax`` layer (a
    per-pixel softmax) is skipped in the engine's forward pass, so the output is the
    layer before it. The original activation is restored on exit, even after an error.
    """
    if not enabled or squashing_activation(engine) is None:
        yield
        return
    from cnnviz_widgets._keras import keras

    step = _softmax_step(engine)
    if step is not None and not hasattr(step.layer, "activation"):
        with _skipped_step(step):
            yield
        return

    with swapped_activations([output_layer(engine)], keras.activations.linear):
        yield


class _NoRetracingWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def quiet_tracing() -> Iterator[None]:
    """While active, TensorFlow does not warn that a function was traced again.

    Each method class traces its own graph once per engine and input size; TensorFlow
    counts those traces together (they come from one Python function) and warns about
    "retracing" after five, which would tell the user of a problem that is not there.
    """
    logger = logging.getLogger("tensorflow")
    quiet = _NoRetracingWarning()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)
