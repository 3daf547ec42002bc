"""Helpers shared by the attribution methods (internal)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

_SWAP_LOCK = threading.RLock()
_SQUASHING = ("softmax", "sigmoid")


def as_engine(model_or_engine: Any) -> Any:
    """Return ``model_or_engine`` if it is an ActivationEngine, else an engine around it."""
    from ..engine import ActivationEngine

    if isinstance(model_or_engine, ActivationEngine):
        return model_or_engine
    return ActivationEngine(model_or_engine)


def output_layer(engine: Any) -> Any | None:
    """The Keras layer that produces the model's (first) output, or None if unknown."""
    plan = engine.plan
    try:
        return plan.steps[plan.producer[plan.output_keys[0]]].layer
    except (AttributeError, IndexError, KeyError):
        layers = getattr(engine.model, "layers", None)
        return layers[-1] if layers else None


def squashing_activation(engine: Any) -> str | None:
    """Name of the final softmax/sigmoid activation of the model, or None."""
    layer = output_layer(engine)
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", None)
    return name if name in _SQUASHING else None


@contextlib.contextmanager
def logits_of(engine: Any, enabled: bool) -> Iterator[None]:
    """While active, the model's final softmax/sigmoid activation is the identity.

    This is tf-keras-vis's ``ReplaceToLinear`` without cloning the model: gradients of a
    saturated softmax vanish, those of the logits do not. The original activation is
    restored on exit, even after an error.
    """
    if not enabled or squashing_activation(engine) is None:
        yield
        return
    from cnnviz_widgets._keras import keras

    layer = output_layer(engine)
    with _SWAP_LOCK:
        original = layer.activation
        layer.activation = keras.activations.linear
        try:
            yield
        finally:
            layer.activation = original


def model_input_batch(engine: Any, image: Any) -> np.ndarray:
    """The prepared batch of one for ``image``, as a float32 numpy array."""
    return np.asarray(engine.prepare(image), dtype=np.float32)


class Progress:
    """Report progress to a callable ``(step, total)`` and/or an IntProgress-like widget."""

    def __init__(self, progress: Any, total: int):
        self.total = total
        self.callback: Callable[[int, int], Any] | None = None
        self.bar: Any = None
        if progress is None:
            return
        if hasattr(progress, "value") and hasattr(progress, "max"):
            self.bar = progress
            progress.max = total
            progress.value = 0
        elif callable(progress):
            self.callback = progress
        else:
            raise TypeError(
                "progress must be a callable progress(step, total) or a widget with "
                f"'value' and 'max' (ipywidgets.IntProgress); got {type(progress).__name__}."
            )

    def __call__(self, step: int) -> None:
        if self.callback is not None:
            self.callback(step, self.total)
        if self.bar is not None:
            self.bar.value = step
