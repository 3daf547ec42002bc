"""The direct-call fast path: Keras' own layers run through their ``call`` on eager tensors.

``Layer.__call__`` converts and checks its inputs, resolves ``training``, handles masks,
mixed precision and distribution, and opens name scopes. For the built-in layers where
none of it applies (:func:`_calls_directly`), with the TensorFlow backend, the layer's own
``call`` gives the same result for a fraction of the cost. This is the only module that
reads private Keras state (the autocast scope, a layer's call-context arguments); with
another Keras or backend every layer goes through ``Layer.__call__``.
"""

from __future__ import annotations

import inspect
from typing import Any

from cnnviz_widgets._keras import keras

__all__ = ["IGNORED_KWARGS", "LayerCaller"]

#: Call arguments the engine sets itself: no masks, and ``training=False``.
IGNORED_KWARGS = frozenset({"mask", "training"})

try:  # the scope a mixed-precision layer opens around the layers it calls
    from keras.src.backend import get_autocast_scope as _autocast_scope
except ImportError:  # another Keras: every layer is called through Layer.__call__
    _autocast_scope = None

_EAGER_TENSOR: list[type | None] = []  # the backend's eager tensor class, found once


def _eager_tensor_class() -> type | None:
    """TensorFlow's eager tensor class, or None with another backend (no direct calls)."""
    if not _EAGER_TENSOR:
        direct = keras.backend.backend() == "tensorflow" and _autocast_scope is not None
        _EAGER_TENSOR.append(type(keras.ops.convert_to_tensor(0.0)) if direct else None)
    return _EAGER_TENSOR[0]


def _calls_directly(layer: Any, symbolic: list[Any]) -> bool:
    """True when ``Layer.__call__`` adds nothing to ``layer.call`` at inference.

    That is a layer of Keras itself (not a subclass written elsewhere, not a model) that
    keeps Keras' own ``__call__``, is built, float32 throughout (inputs, outputs,
    computation, variables), not quantized, without activity regulariser or
    rematerialisation, whose inputs and outputs carry no mask (``symbolic`` are its
    graph tensors) and whose only context argument is ``training``.
    """
    cls = type(layer)
    if (not cls.__module__.startswith(("keras.src.layers.", "keras.src.applications."))
            or isinstance(layer, keras.Model)
            or cls.__call__ is not keras.layers.Layer.__call__ or not symbolic):
        return False
    if (not getattr(layer, "built", False)
            or getattr(layer, "quantization_mode", None) is not None
            or getattr(layer, "activity_regularizer", None) is not None
            or getattr(layer, "_remat_mode", None)
            or set(getattr(layer, "_call_context_args", {"training"})) != {"training"}):
        return False
    policy = layer.dtype_policy
    if policy.compute_dtype != "float32" or policy.variable_dtype != "float32":
        return False
    return all(getattr(t, "dtype", None) == "float32" and getattr(t, "_keras_mask", None) is None
               for t in keras.tree.flatten(symbolic))


class LayerCaller:
    """Calls one layer in inference mode on a list of values; returns its flat outputs.

    Keras' ``Layer.__call__`` converts and checks its inputs, resolves ``training``,
    handles masks, mixed precision and distribution, and opens name scopes: about
    100 microseconds per call, a third of a forward pass of a deep model of small
    layers. For the built-in layers where none of it applies (see
    :func:`_calls_directly`), and with the TensorFlow backend on eager tensors, the
    layer's own ``call`` runs instead, with the same result. Any other layer or value,
    or any error in the direct call, goes through ``Layer.__call__``, which gives
    Keras' own error message. ``flat=False`` returns the layer's output as the one value
    of the list, whatever its structure.
    """

    __slots__ = ("layer", "direct", "training", "tensor_class", "flat")

    def __init__(self, layer: Any, symbolic: list[Any], flat: bool = True) -> None:
        self.layer = layer
        self.flat = flat
        self.tensor_class = _eager_tensor_class()
        self.direct = None
        self.training = False
        if self.tensor_class is not None and _calls_directly(layer, symbolic):
            try:
                params = inspect.signature(layer.call).parameters
            except (TypeError, ValueError):
                return
            self.direct = layer.call
            self.training = "training" in params

    def __call__(self, args: tuple, kwargs: dict) -> list[Any]:
        direct = self.direct
        if direct is not None and kwargs.keys() <= IGNORED_KWARGS and self._plain(args):
            try:
                out = direct(*args, training=False) if self.training else direct(*args)
            except Exception:  # noqa: BLE001 - Layer.__call__ below says what is wrong
                out = None
            if out is not None:
                if not self.flat or type(out) is self.tensor_class:
                    return [out]
                return keras.tree.flatten(out)
        out = _call_layer(self.layer, args, kwargs)
        return keras.tree.flatten(out) if self.flat else [out]

    def _plain(self, args: tuple) -> bool:
        """Eager tensors without masks, outside any autocast scope or distribution."""
        cls = self.tensor_class
        for arg in args:
            for value in (arg if type(arg) is list else (arg,)):
                if type(value) is not cls or getattr(value, "_keras_mask", None) is not None:
                    return False
        return _autocast_scope() is None and keras.distribution.distribution() is None


def _call_layer(layer: Any, args: tuple, kwargs: dict) -> Any:
    """Call a layer in inference mode."""
    kwargs = dict(kwargs)
    kwargs.pop("mask", None)
    kwargs["training"] = False
    try:
        return layer(*args, **kwargs)
    except TypeError:
        kwargs.pop("training")
        return layer(*args, **kwargs)

