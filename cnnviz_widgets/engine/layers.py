"""Model introspection: the viewable layers of a Keras model and a flat plan to run them.

A Keras model is turned into a :class:`Plan`: a list of :class:`Step` objects in an
order where every step comes after the steps that produce its inputs. Models used
as layers inside another model (a backbone in transfer learning) are expanded into
their own layers, named by path (``vgg16/block3_conv1``), so that each of them can
be computed and shown like any other layer.

A layer (or nested model) called more than once is one step per call: the first call
keeps the layer's name, the n-th is named ``name:n`` (``shared:2``, ``siamese:2/conv1``).
A layer with several outputs is a step of its own (its consumers need it) but cannot be
shown as one array; its :attr:`LayerInfo.n_outputs` says so.

This is the only module that reads the structure of a Keras graph.
"""

from __future__ import annotations

import dataclasses
import heapq
import inspect
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cnnviz_widgets._keras import keras

from ..errors import UnsupportedModelError

__all__ = ["AXES", "InputShape", "LayerInfo", "Plan", "Step", "build_plan", "layer_kind",
           "token_grid"]

#: What the axes of a layer's output (without the batch axis) mean, see :attr:`LayerInfo.axes`.
AXES = ("image", "plane", "sequence", "tokens", "vector", "other")

_KIND_BY_CLASS_PREFIX: tuple[tuple[str, str], ...] = (
    ("InputLayer", "input"),
    ("Conv", "conv"),
    ("DepthwiseConv", "conv"),
    ("SeparableConv", "conv"),
    ("Global", "pool"),
    ("MaxPooling", "pool"),
    ("AveragePooling", "pool"),
    ("Dense", "dense"),
    ("EinsumDense", "dense"),
    ("BatchNormalization", "normalization"),
    ("LayerNormalization", "normalization"),
    ("GroupNormalization", "normalization"),
    ("Normalization", "normalization"),
    ("Rescaling", "preprocessing"),
    ("Resizing", "preprocessing"),
    ("Dropout", "dropout"),
    ("SpatialDropout", "dropout"),
    ("GaussianNoise", "dropout"),
    ("Flatten", "reshape"),
    ("Reshape", "reshape"),
    ("Permute", "reshape"),
    ("ZeroPadding", "reshape"),
    ("Cropping", "reshape"),
    ("UpSampling", "reshape"),
    ("Add", "merge"),
    ("Concatenate", "merge"),
    ("Multiply", "merge"),
    ("Average", "merge"),
    ("Maximum", "merge"),
    ("Minimum", "merge"),
    ("Subtract", "merge"),
    ("Activation", "activation"),
    ("ReLU", "activation"),
    ("LeakyReLU", "activation"),
    ("PReLU", "activation"),
    ("ELU", "activation"),
    ("Softmax", "activation"),
)


def layer_kind(layer: Any) -> str:
    """Return a short family name for a layer: conv, pool, dense, activation, ...

    Parameters
    ----------
    layer : keras.Layer
        Any Keras layer.

    Returns
    -------
    str
        One of ``input``, ``conv``, ``pool``, ``dense``, ``normalization``,
        ``preprocessing``, ``dropout``, ``reshape``, ``merge``, ``activation``,
        ``model`` or ``other``.
    """
    if isinstance(layer, keras.Model):
        return "model"
    name = type(layer).__name__
    for prefix, kind in _KIND_BY_CLASS_PREFIX:
        if name.startswith(prefix):
            return kind
    return "other"


@dataclass(frozen=True)
class LayerInfo:
    """What the engine knows about one viewable layer.

    Attributes
    ----------
    name : str
        Unique name; layers of nested models are named by path (``vgg16/block1_conv1``).
    kind : str
        Family of the layer, see :func:`layer_kind`.
    output_shape : tuple of int or None
        Output shape without the batch axis; None marks a size that depends on the input.
    index : int
        Position in the flattened, topologically ordered list of layers.
    class_name : str
        The Keras class of the layer (``Conv2D``, ``MaxPooling2D``, ...).
    parent : str
        Path of the nested model that holds the layer, ``""`` at the top level.
    depth : int
        How deeply the layer is nested (0 at the top level).
    n_outputs : int
        How many tensors the layer returns; only layers with one output can be shown, and
        ``output_shape`` is then that of the first.
    axes : str
        What the output's axes mean: ``"image"`` (H, W, C) maps, ``"plane"`` one (H, W)
        map, ``"sequence"`` (T, C): C channels over time (1-D convolutions),
        ``"tokens"`` (T, D): T tokens of D features (transformers), ``"vector"`` (C,), or
        ``"other"``. ``""`` (the default) derives it from the rank alone, a rank-2
        output being a plane; the engine sets it for every layer of a model.
    """

    name: str
    kind: str
    output_shape: tuple[int | None, ...]
    index: int
    class_name: str
    parent: str = ""
    depth: int = 0
    n_outputs: int = 1
    axes: str = ""

    @property
    def layout(self) -> str:
        """:attr:`axes`, derived from the rank when it was not set."""
        if self.axes:
            return self.axes
        return {3: "image", 2: "plane", 1: "vector"}.get(len(self.output_shape), "other")

    @property
    def is_spatial(self) -> bool:
        """True for outputs with a height and width axis: (H, W, C) or (H, W)."""
        return self.layout in ("image", "plane")

    @property
    def channels(self) -> int | None:
        """Number of channels: 1 for an (H, W) map, C for (H, W, C), a sequence (T, C) and a
        vector (C,), D for tokens (T, D).

        None when the output has no axes or the channel axis has no fixed size.
        """
        if self.layout == "plane":
            return 1
        return self.output_shape[-1] if self.output_shape else None

    @property
    def token_grid(self) -> tuple[int, int, int] | None:
        """``(rows, cols, skip)`` when the tokens after the first ``skip`` form a square grid.

        A vision transformer's tokens are its image patches in row-major order, after an
        optional class token; see :func:`token_grid`. None for other layers.
        """
        if self.layout != "tokens":
            return None
        return token_grid(self.output_shape[0])

    @property
    def label(self) -> str:
        """Name followed by the output shape, e.g. ``block3_conv1 56x56x256``."""
        shape = "x".join("?" if s is None else str(s) for s in self.output_shape)
        return f"{self.name} {shape}"


def token_grid(tokens: int | None) -> tuple[int, int, int] | None:
    """``(rows, cols, skip)`` for ``tokens`` that are a square patch grid after ``skip`` leading
    tokens (0, or 1 for a class token), None otherwise.

    Examples
    --------
    >>> token_grid(196), token_grid(197), token_grid(50), token_grid(12)
    ((14, 14, 0), (14, 14, 1), (7, 7, 1), None)
    """
    if tokens is None:
        return None
    for skip in (0, 1):
        side = math.isqrt(max(tokens - skip, 0))
        if side >= 2 and side * side == tokens - skip:
            return side, side, skip
    return None


def _axes_of(info: LayerInfo, input_shape: tuple[int | None, ...], signal: bool) -> str:
    """What the axes of one layer's output mean, in a model with ``input_shape``."""
    rank = len(info.output_shape)
    if rank != 2:
        return {3: "image", 1: "vector"}.get(rank, "other")
    if signal or info.class_name.endswith("1D"):
        return "sequence"
    if info.output_shape == input_shape[:2]:  # the image itself, e.g. its channels squeezed
        return "plane"
    return "tokens"


def _input_axes(input_shape: tuple[int | None, ...], steps: list[Step]) -> str:
    """``"image"`` (H, W, C), ``"plane"`` (H, W), ``"sequence"`` (T, C) or ``"other"``.

    A rank-2 input is a signal (T, C) when the model has a 1-D layer (``Conv1D``,
    ``MaxPooling1D``, ...), and a greyscale image otherwise.
    """
    rank = len(input_shape)
    if rank == 3:
        return "image"
    if rank == 2:
        signal = any(step.info.class_name.endswith("1D") for step in steps)
        return "sequence" if signal else "plane"
    return "other"


class InputShape(tuple):
    """A model input's shape without the batch axis, a tuple that also says what its axes mean.

    It compares and slices like the plain tuple; :attr:`axes` is ``"image"`` (H, W, C),
    ``"plane"`` (H, W), ``"sequence"`` (T, C) or ``"other"`` (see :attr:`Plan.input_axes`),
    so that a function given ``engine.input_shape`` knows whether (N, T, C) is a stack of
    signals or (H, W, C) one image.
    """

    axes: str

    def __new__(cls, shape: Any, axes: str = "image") -> InputShape:
        self = super().__new__(cls, shape)
        self.axes = axes
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (InputShape, (tuple(self), self.axes))


@dataclass
class Step:
    """One layer call in the flattened plan.

    ``call`` maps the values of ``inputs`` (keys of the plan's tensors) to the
    values of ``outputs``. ``direct`` is True when it runs the layer's own ``call`` on
    eager tensors rather than ``Layer.__call__`` (see :class:`_LayerCaller`).
    """

    info: LayerInfo
    layer: Any
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    call: Callable[[dict[int, Any]], list[Any]] = field(repr=False)
    direct: bool = field(default=False, repr=False)


@dataclass
class Plan:
    """A flattened, topologically ordered list of steps with one image input."""

    input_key: int
    input_shape: tuple[int | None, ...]
    input_name: str
    steps: list[Step]
    output_keys: tuple[int, ...]
    producer: dict[int, int]  # tensor key -> index of the step that produces it
    by_name: dict[str, Step]
    input_axes: str = "image"

    @property
    def layers(self) -> list[LayerInfo]:
        """The viewable layers, in plan order."""
        return [step.info for step in self.steps]


def _shape_of(tensor: Any) -> tuple[int | None, ...]:
    return tuple(None if d is None else int(d) for d in tuple(tensor.shape)[1:])


class _PlanBuilder:
    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.alias: dict[int, int] = {}
        self.used_names: set[str] = set()
        self.calls: dict[tuple[str, int], int] = {}  # (path, id(layer)) -> calls so far
        self.keepalive: list[Any] = []
        self.fresh_keys = itertools.count(-1, -1)  # never equal to an id()

    def key(self, tensor: Any) -> int:
        k = id(tensor)
        self.keepalive.append(tensor)
        return self.alias.get(k, k)

    def call_name(self, layer: Any, prefix: str) -> str:
        """``prefix + name`` for a layer's first call under ``prefix``, then ``name:n``."""
        slot = (prefix, id(layer))
        count = self.calls.get(slot, 0) + 1
        self.calls[slot] = count
        self.keepalive.append(layer)
        return prefix + (layer.name if count == 1 else f"{layer.name}:{count}")

    def unique_name(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self.used_names:  # only for names Keras itself let clash
            n += 1
            candidate = f"{name}:{n}"
        self.used_names.add(candidate)
        return candidate

    def add_step(self, layer: Any, prefix: str, depth: int, in_tensors: list[Any],
                 out_tensors: list[Any], call: Callable[[dict[int, Any]], list[Any]],
                 direct: bool = False) -> None:
        name = self.unique_name(self.call_name(layer, prefix))
        info = LayerInfo(
            name=name,
            kind=layer_kind(layer),
            output_shape=_shape_of(out_tensors[0]),
            index=len(self.steps),
            class_name=type(layer).__name__,
            parent=prefix.rstrip("/"),
            depth=depth,
            n_outputs=len(out_tensors),
        )
        step = Step(
            info=info,
            layer=layer,
            inputs=tuple(self.key(t) for t in in_tensors),
            outputs=tuple(self.key(t) for t in out_tensors),
            call=call,
            direct=direct,
        )
        self.steps.append(step)

    # -- expansion ---------------------------------------------------------------
    def expand_sequential(self, model: Any, prefix: str, depth: int, in_key: int) -> int:
        current = in_key
        for layer in model.layers:
            if isinstance(layer, keras.Model):
                current = self.expand_model_call(layer, prefix, depth, [current])[0]
                continue
            out_key = next(self.fresh_keys)  # a value with no symbolic tensor of its own
            self._add_chain_step(layer, prefix, depth, current, out_key)
            current = out_key
        return current

    def _add_chain_step(self, layer: Any, prefix: str, depth: int, in_key: int,
                        out_key: int) -> None:
        name = self.unique_name(self.call_name(layer, prefix))
        out_shape = _shape_of(layer.output) if _has_single_output(layer) else ()
        info = LayerInfo(name, layer_kind(layer), out_shape, len(self.steps),
                         type(layer).__name__, prefix.rstrip("/"), depth)

        try:
            symbolic = [layer.input, layer.output]
        except (AttributeError, ValueError):  # a layer shared between models: no one input
            symbolic = []
        caller = _LayerCaller(layer, symbolic, flat=False)

        def call(values: dict[int, Any], caller: Any = caller, in_key: int = in_key) -> list[Any]:
            return caller((values[in_key],), {})

        self.steps.append(Step(info, layer, (in_key,), (out_key,), call,
                               caller.direct is not None))

    def expand_model_call(self, model: Any, prefix: str, depth: int,
                          in_keys: list[int]) -> list[int]:
        """Expand a nested model called on tensors with keys ``in_keys``; return output keys."""
        path = self.unique_name(self.call_name(model, prefix)) + "/"
        if isinstance(model, keras.Sequential):
            return [self.expand_sequential(model, path, depth + 1, in_keys[0])]
        inner_inputs = keras.tree.flatten(model.inputs)
        if len(inner_inputs) != len(in_keys):
            raise UnsupportedModelError(
                f"The nested model {model.name!r} is called with {len(in_keys)} inputs but "
                f"defines {len(inner_inputs)}; such models cannot be expanded."
            )
        for tensor, outer in zip(inner_inputs, in_keys, strict=True):
            self.keepalive.append(tensor)
            self.alias[id(tensor)] = outer
        self.expand_functional(model, path, depth + 1)
        return [self.key(t) for t in keras.tree.flatten(model.outputs)]

    def expand_functional(self, model: Any, prefix: str, depth: int) -> None:
        for node in _nodes_in_layer_order(model):
            layer = node.operation
            in_tensors = list(node.arguments.keras_tensors)
            out_tensors = keras.tree.flatten(node.outputs)
            if isinstance(layer, keras.Model) and (
                isinstance(layer, keras.Sequential) or hasattr(layer, "_nodes_by_depth")
            ):
                outer_keys = [self.key(t) for t in in_tensors]
                inner_out = self.expand_model_call(layer, prefix, depth, outer_keys)
                for tensor, inner in zip(out_tensors, inner_out, strict=True):
                    self.keepalive.append(tensor)
                    self.alias[id(tensor)] = inner
                continue
            self.add_step(layer, prefix, depth, in_tensors, out_tensors,
                          *self._node_call(node))

    def _node_call(self, node: Any) -> tuple[Callable[[dict[int, Any]], list[Any]], bool]:
        """The step's call for one node of a functional graph, and whether it is direct."""
        arguments = node.arguments
        key_of = {id(t): self.key(t) for t in arguments.keras_tensors}
        caller = _LayerCaller(node.operation, [*arguments.keras_tensors,
                                               *keras.tree.flatten(node.outputs)])
        single = _single_argument(arguments)
        if single is not None:  # the common case: one tensor, or one list of tensors
            keys, as_list = [key_of[id(t)] for t in single[0]], single[1]

            def call_single(values: dict[int, Any]) -> list[Any]:
                if as_list:
                    return caller(([values[k] for k in keys],), {})
                return caller((values[keys[0]],), {})

            return call_single, caller.direct is not None

        def call(values: dict[int, Any]) -> list[Any]:
            tensor_dict = {raw: values[k] for raw, k in key_of.items()}
            args, kwargs = arguments.fill_in(tensor_dict)
            return caller(args, kwargs)

        return call, caller.direct is not None


def _nodes_in_layer_order(model: Any) -> list[Any]:
    """The layer calls of a functional ``model`` in the order of ``model.layers``.

    Keras lists a model's layers in an order where each comes after those it depends
    on (the order of ``model.summary()``); the graph's calls are sorted to follow it, so
    that the engine lists the layers as the model itself does. A layer called several
    times keeps its calls in the order the graph computes them.
    """
    nodes_by_depth = model._nodes_by_depth  # Keras 3 functional graph, read-only use
    nodes = [node for level in sorted(nodes_by_depth, reverse=True)
             for node in nodes_by_depth[level] if not node.is_input]
    producer = {id(t): n for n, node in enumerate(nodes) for t in keras.tree.flatten(node.outputs)}
    rank = {id(layer): i for i, layer in enumerate(model.layers)}
    waiting = [0] * len(nodes)
    users: list[list[int]] = [[] for _ in nodes]
    for n, node in enumerate(nodes):
        for before in {producer[id(t)] for t in node.arguments.keras_tensors if id(t) in producer}:
            waiting[n] += 1
            users[before].append(n)
    ready = [(rank.get(id(node.operation), len(rank)), n)
             for n, node in enumerate(nodes) if waiting[n] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, n = heapq.heappop(ready)
        order.append(nodes[n])
        for user in users[n]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, (rank.get(id(nodes[user].operation), len(rank)), user))
    return order


def _has_single_output(layer: Any) -> bool:
    try:
        return not isinstance(layer.output, (list, tuple, dict))
    except (AttributeError, ValueError):
        return False


#: Call arguments the engine sets itself: no masks, and ``training=False``.
_IGNORED_KWARGS = frozenset({"mask", "training"})


def _single_argument(arguments: Any) -> tuple[list[Any], bool] | None:
    """``([tensor], False)`` for a call ``layer(tensor)``, ``(tensors, True)`` for
    ``layer([t1, t2, ...])`` (merges), None for any other call (kwargs, constants).

    ``mask=None`` and ``training=...``, which Keras records for the layers that take
    them, count as no argument: the engine passes no masks and ``training=False`` (see
    :func:`_call_layer`).
    """
    args, kwargs = getattr(arguments, "args", None), getattr(arguments, "kwargs", None)
    if not isinstance(args, tuple) or len(args) != 1 or not isinstance(kwargs, dict):
        return None
    if not kwargs.keys() <= _IGNORED_KWARGS or any(
            v is not None and not isinstance(v, bool) for v in kwargs.values()):
        return None
    tensor_class = keras.KerasTensor
    if isinstance(args[0], tensor_class):
        return [args[0]], False
    if (type(args[0]) is list and args[0]
            and all(isinstance(t, tensor_class) for t in args[0])):
        return list(args[0]), True
    return None


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


class _LayerCaller:
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
        if direct is not None and kwargs.keys() <= _IGNORED_KWARGS and self._plain(args):
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


def build_plan(model: Any) -> Plan:
    """Flatten ``model`` into a :class:`Plan`.

    Parameters
    ----------
    model : keras.Model
        A built Sequential or Functional model with exactly one input.

    Returns
    -------
    Plan

    Raises
    ------
    UnsupportedModelError
        If the model is not a built Keras model or has more than one input.
    """
    if not isinstance(model, keras.Model):
        raise UnsupportedModelError(
            f"Expected a Keras model, got {type(model).__name__}. Pass a keras.Model "
            "(Sequential or Functional), for example one from keras.applications."
        )
    try:
        inputs = keras.tree.flatten(model.inputs)
    except (AttributeError, ValueError) as exc:
        raise UnsupportedModelError(
            "The model has no defined input yet. Build it first, e.g. start a Sequential model "
            "with keras.Input(shape=(28, 28, 1)) or call model.build((None, 28, 28, 1))."
        ) from exc
    if len(inputs) != 1:
        raise UnsupportedModelError(
            f"The model has {len(inputs)} inputs; only models with a single image input can be "
            "explored. Build a sub-model that takes just the image input."
        )
    builder = _PlanBuilder()
    input_tensor = inputs[0]
    input_key = builder.key(input_tensor)
    input_name = getattr(getattr(input_tensor, "_keras_history", None), "operation", None)
    input_name = getattr(input_name, "name", "input")
    if isinstance(model, keras.Sequential):
        output_keys = (builder.expand_sequential(model, "", 0, input_key),)
    else:
        builder.expand_functional(model, "", 0)
        output_keys = tuple(builder.key(t) for t in keras.tree.flatten(model.outputs))
    input_shape = _shape_of(input_tensor)
    input_axes = _input_axes(input_shape, builder.steps)
    input_shape = InputShape(input_shape, input_axes)
    for step in builder.steps:
        step.info = dataclasses.replace(
            step.info, axes=_axes_of(step.info, input_shape, input_axes == "sequence"))
    producer: dict[int, int] = {}
    for i, step in enumerate(builder.steps):
        for k in step.outputs:
            producer[k] = i
    by_name = {step.info.name: step for step in builder.steps}
    plan = Plan(input_key, input_shape, input_name, builder.steps, output_keys,
                producer, by_name, input_axes)
    plan._keepalive = builder.keepalive  # type: ignore[attr-defined]
    return plan
