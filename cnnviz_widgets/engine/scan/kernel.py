"""The kernel of a scan: one compiled function from a batch to each layer's numbers.

:func:`batch_reducer` runs a prepared batch once through only the part of the model the
requested layers need (:meth:`~cnnviz_widgets.ActivationEngine.batch_activations`) and
reduces every layer's maps to a few numbers per image and channel inside the same
compiled function (:func:`compile_batch_function`), so whole maps never reach numpy
except for the few positions a top-k list needs. :func:`map_layout` says how a layer's
output is read as maps of channels, and which layers cannot be scanned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..._keras import keras
from ...errors import LayerNotViewableError

__all__ = ["batch_reducer", "compile_batch_function", "map_layout", "map_shape"]


def map_layout(info: Any) -> str:
    """How a layer's output is read: "hwc" (H, W, C), "hw" (H, W), "tc" (positions along a
    sequence or over tokens, then channels: (T, C)), "dhwc" (a volume (D, H, W, C)) or "c"
    (C,), from :attr:`LayerInfo.layout`.
    """
    layout = {"image": "hwc", "plane": "hw", "sequence": "tc", "tokens": "tc",
              "vector": "c", "volume": "dhwc"}.get(info.layout)
    shape, name = info.output_shape, info.name
    if layout is None:
        raise LayerNotViewableError(
            f"The layer {name!r} has output shape {shape}; a scan needs maps (H, W, C), "
            "(H, W), a volume (D, H, W, C), a sequence (T, C) or a vector of channels (C,). "
            "Pick a convolution, "
            "pooling or dense layer."
        )
    if layout != "hw" and shape[-1] is None:
        raise LayerNotViewableError(f"The layer {name!r} has no fixed number of channels to "
                                    "scan.")
    return layout


def compile_batch_function(function: Callable[[Any], Any], input_shape: tuple[int | None, ...],
                           variables: Sequence[Any] = ()) -> Callable[[Any], Any]:
    """Compile ``function`` of one float32 batch for the active Keras backend.

    TensorFlow: a ``tf.function`` traced once for every batch size (it reads the model's
    variables as they are at each call). JAX: a ``jax.jit`` that takes ``variables`` (the
    model's) as arguments at each call, so a change of weights is seen, where a closure
    would keep the values of the first trace as constants. Other backends (PyTorch): the
    function as it is.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        spec = tf.TensorSpec((None, *input_shape), tf.float32)
        return tf.function(function, input_signature=[spec])  # one trace for every batch
    if backend == "jax":
        import jax

        variables = list(variables)

        def stateless(values: list[Any], x: Any) -> Any:
            with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
                return function(x)

        program = jax.jit(stateless)
        return lambda x: program([v.value for v in variables], x)
    return function


def batch_reducer(engine: Any, layers: Sequence[str]) -> Callable[[np.ndarray], list[Any]]:
    """Return a compiled function from a prepared batch to each layer's per-image numbers.

    The function runs only the steps the layers need (all layers in one pass) and returns,
    per layer, ``(maxima, sums, positives, maps, width, plane)``: (B, C) maxima, sums and
    counts of positions above 0, the (B, P, C) maps with positions flattened (where a
    maximum is looked up there only for the few that enter a top-k list), the map's width
    and, for a volume, the positions of one slice (H * W; 0 for other layers).
    It is built once per engine and list of layers.

    Parameters
    ----------
    engine : ActivationEngine
        The engine whose plan is run.
    layers : sequence of str
        Layer names.
    """
    # kept on the engine (a new compiled function per scan would be traced each time)
    known = engine.__dict__.setdefault("_scan_reducers", {})
    key = tuple(layers)
    if key not in known:
        known[key] = _build_reducer(engine, key)
    return known[key]


def _build_reducer(engine: Any, layers: Sequence[str]) -> Callable[[np.ndarray], list[Any]]:
    ops = keras.ops
    layers = list(layers)
    layouts = [map_layout(engine.viewable(name)) for name in layers]

    def reduce(x: Any) -> list[Any]:
        values = engine.batch_activations(x, layers)
        out = []
        for name, layout in zip(layers, layouts, strict=True):
            v = values[name]
            shape = ops.shape(v)
            plane = 0
            if layout == "dhwc":
                width, plane = shape[3], shape[2] * shape[3]
                flat = ops.reshape(v, (shape[0], -1, shape[4]))
            elif layout == "hwc":
                width = shape[2]
                flat = ops.reshape(v, (shape[0], -1, shape[3]))
            elif layout == "hw":
                width = shape[2]
                flat = ops.reshape(v, (shape[0], -1, 1))
            elif layout == "tc":  # positions along T are the rows of a one-column map
                width = 1
                flat = v
            else:
                width = 1
                flat = ops.reshape(v, (shape[0], 1, shape[1]))
            flat = ops.cast(flat, "float32")
            out.append((ops.max(flat, axis=1), ops.sum(flat, axis=1),
                        ops.sum(ops.cast(flat > 0, "int32"), axis=1), flat, width, plane))
        return out

    return compile_batch_function(reduce, engine.input_shape, engine.model.variables)


def map_shape(shape: tuple[int | None, ...], layout: str) -> tuple[int, ...]:
    """``(rows, columns)`` of a layer's maps read as ``layout`` (see :func:`map_layout`);
    ``(depth, rows, columns)`` for a volume."""
    if layout == "dhwc":
        return tuple(int(s or 0) for s in shape[:3])
    if layout == "c":
        return (1, 1)
    if layout == "tc":
        return (int(shape[0] or 0), 1)
    return (int(shape[0] or 0), int(shape[1] or 0))

