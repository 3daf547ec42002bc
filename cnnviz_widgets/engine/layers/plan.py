"""The flat plan of a Keras model: every layer call in an order that can run.

A Keras model is turned into a :class:`Plan`: a list of :class:`Step` objects in an
order where every step comes after the steps that produce its inputs. Models used
as layers inside another model (a backbone in transfer learning) are expanded into
their own layers, named by path (``vgg16/block3_conv1``), so that each of them can
be computed and shown like any other layer.

A layer (or nested model) called more than once is one step per call: the first call
keeps the layer's name, the n-th is named ``name:n`` (``shared:2``, ``siamese:2/conv1``).
A layer with several outputs is one step, and each of its outputs is a viewable layer of
its own, named ``name[i]`` (``split[0]``, ``split[1]``); :attr:`Plan.views` lists what can
be shown. ``name:i`` is accepted for ``name[i]`` when no layer call has that name (a
second call of a layer is ``name:2``, and that call wins).

This is the only module that reads the structure of a Keras graph; each
step calls its layer through :class:`~.direct.LayerCaller`.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cnnviz_widgets._keras import keras

from ...errors import InvalidSettingError, UnsupportedModelError
from .direct import IGNORED_KWARGS, LayerCaller
from .kinds import InputShape, LayerInfo, ModelInput, _axes_of, _input_axes, layer_kind

__all__ = ["Plan", "Step", "View", "build_plan", "inputs_call"]

#: Lists of targets whose run order :meth:`Plan.needed` keeps.
_KEPT_ORDERS = 64


@dataclass
class Step:
    """One layer call in the flattened plan.

    ``call`` maps the values of ``inputs`` (keys of the plan's tensors) to the
    values of ``outputs``. ``direct`` is True when it runs the layer's own ``call`` on
    eager tensors rather than ``Layer.__call__`` (see :class:`LayerCaller`).
    """

    info: LayerInfo
    layer: Any
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    call: Callable[[dict[int, Any]], list[Any]] = field(repr=False)
    direct: bool = field(default=False, repr=False)
    #: One entry per output, ``name[i]``, for a step with several outputs (else empty).
    output_infos: tuple[LayerInfo, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class View:
    """One viewable layer output: its description, the step that computes it and its key."""

    info: LayerInfo
    step: Step
    key: int


@dataclass
class Plan:
    """A flattened, topologically ordered list of steps with one image input.

    A model with several inputs has one of them as the image (:attr:`input_key`,
    :attr:`input_shape`, :attr:`input_name`); :attr:`inputs` lists them all, and the
    others (:attr:`other_inputs`) are given fixed values by the engine.
    """

    input_key: int
    input_shape: tuple[int | None, ...]
    input_name: str
    steps: list[Step]
    output_keys: tuple[int, ...]
    producer: dict[int, int]  # tensor key -> index of the step that produces it
    by_name: dict[str, Step]
    input_axes: str = "image"
    views: dict[str, View] = field(default_factory=dict)
    #: Names of the model's outputs (the views that produce them), in the model's order.
    output_names: tuple[str, ...] = ()
    #: Which of the model's outputs :attr:`output_key` is.
    output_index: int = 0
    #: Every input of the model, in the model's order (the image input among them).
    inputs: tuple[ModelInput, ...] = ()

    def __post_init__(self) -> None:
        #: Keys of every input: where a walk back through the plan stops.
        self.input_keys = frozenset([self.input_key, *(i.key for i in self.inputs)])
        self._orders: dict[tuple[int, ...], list[int]] = {}

    @property
    def other_inputs(self) -> tuple[ModelInput, ...]:
        """The inputs other than the image input."""
        return tuple(i for i in self.inputs if i.key != self.input_key)

    @property
    def output_key(self) -> int:
        """Key of the model output that is *the* output (``ActivationEngine(output=...)``)."""
        return self.output_keys[self.output_index]

    @property
    def layers(self) -> list[LayerInfo]:
        """The viewable layers, in plan order: one entry per output of each step."""
        return [view.info for view in self.views.values()]

    def needed(self, targets: list[int],
               is_available: Callable[[int], bool] | None = None) -> list[int]:
        """Indices of the steps to run, in plan order, to produce the tensors ``targets``.

        ``is_available(key)`` says which values are at hand already (the walk back stops
        at them); without it nothing is, and the answer is kept for the next call.
        """
        if is_available is None:
            known = self._orders.get(tuple(targets))
            if known is None:
                if len(self._orders) >= _KEPT_ORDERS:
                    self._orders.clear()
                known = self._orders[tuple(targets)] = self.needed(targets, lambda k: False)
            return known
        needed: set[int] = set()
        stack = [k for k in targets if not is_available(k)]
        seen: set[int] = set()
        while stack:
            key = stack.pop()
            if key in seen or key in self.input_keys:
                continue
            seen.add(key)
            index = self.producer[key]
            if index in needed:
                continue
            needed.add(index)
            for k in self.steps[index].inputs:
                if not is_available(k):
                    stack.append(k)
        return sorted(needed)

    def view(self, name: str) -> View | None:
        """The :class:`View` called ``name`` (``name:i`` stands for ``name[i]`` when no step
        has that name), or None."""
        found = self.views.get(name)
        if found is None and name not in self.by_name:
            base, sep, index = name.rpartition(":")
            if sep and index.isdigit():
                found = self.views.get(f"{base}[{int(index)}]")
        return found


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
        output_infos = ()
        if len(out_tensors) > 1:
            output_infos = tuple(
                dataclasses.replace(info, name=f"{name}[{i}]", output_shape=_shape_of(t),
                                    output_index=i)
                for i, t in enumerate(out_tensors))
        step = Step(
            info=info,
            layer=layer,
            inputs=tuple(self.key(t) for t in in_tensors),
            outputs=tuple(self.key(t) for t in out_tensors),
            call=call,
            direct=direct,
            output_infos=output_infos,
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
                         type(layer).__name__, prefix.rstrip("/"), depth,
                         n_outputs=_structure_size(layer))

        try:
            symbolic = [layer.input, layer.output]
        except (AttributeError, ValueError):  # a layer shared between models: no one input
            symbolic = []
        caller = LayerCaller(layer, symbolic, flat=False)

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
        caller = LayerCaller(node.operation, [*arguments.keras_tensors,
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


def _structure_size(layer: Any) -> int:
    """How many tensors a layer of a Sequential model returns as one structure (1 when
    it returns one tensor or its output is not known)."""
    try:
        output = layer.output
    except (AttributeError, ValueError):
        return 1
    return len(keras.tree.flatten(output)) if isinstance(output, (list, tuple, dict)) else 1


def _has_single_output(layer: Any) -> bool:
    try:
        return not isinstance(layer.output, (list, tuple, dict))
    except (AttributeError, ValueError):
        return False


def _single_argument(arguments: Any) -> tuple[list[Any], bool] | None:
    """``([tensor], False)`` for a call ``layer(tensor)``, ``(tensors, True)`` for
    ``layer([t1, t2, ...])`` (merges), None for any other call (kwargs, constants).

    ``mask=None`` and ``training=...``, which Keras records for the layers that take
    them, count as no argument: the engine passes no masks and ``training=False`` (see
    :class:`~.direct.LayerCaller`).
    """
    args, kwargs = getattr(arguments, "args", None), getattr(arguments, "kwargs", None)
    if not isinstance(args, tuple) or len(args) != 1 or not isinstance(kwargs, dict):
        return None
    if not kwargs.keys() <= IGNORED_KWARGS or any(
            v is not None and not isinstance(v, bool) for v in kwargs.values()):
        return None
    tensor_class = keras.KerasTensor
    if isinstance(args[0], tensor_class):
        return [args[0]], False
    if (type(args[0]) is list and args[0]
            and all(isinstance(t, tensor_class) for t in args[0])):
        return list(args[0]), True
    return None


def build_plan(model: Any, output: int | str = 0, image_input: int | str | None = None) -> Plan:
    """Flatten ``model`` into a :class:`Plan`.

    Parameters
    ----------
    model : keras.Model
        A built Sequential or Functional model.
    image_input : int or str, optional
        For a model with several inputs, the one that takes the image (or signal): its
        name or index. Required then; a model with one input needs none.
    output : int or str
        For a model with several outputs, the one that is :attr:`Plan.output_key`: its
        index, or its name (see :attr:`Plan.output_names`; Keras' own output names are
        accepted too).

    Returns
    -------
    Plan

    Raises
    ------
    UnsupportedModelError
        If the model is not a built Keras model, or has several inputs and
        ``image_input`` does not name one of them.
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
    builder = _PlanBuilder()
    model_inputs = tuple(ModelInput(_input_name(t, i), _shape_of(t),
                                    str(getattr(t, "dtype", "float32")), builder.key(t))
                         for i, t in enumerate(inputs))
    chosen = _image_input(model_inputs, image_input)
    input_tensor = inputs[chosen]
    input_key = model_inputs[chosen].key
    input_name = model_inputs[chosen].name
    if isinstance(model, keras.Sequential):
        output_keys = (builder.expand_sequential(model, "", 0, input_key),)
    else:
        builder.expand_functional(model, "", 0)
        output_keys = tuple(builder.key(t) for t in keras.tree.flatten(model.outputs))
    input_shape = _shape_of(input_tensor)
    input_axes = _input_axes(input_shape, builder.steps)
    input_shape = InputShape(input_shape, input_axes)
    signal = input_axes == "sequence"
    views: dict[str, View] = {}
    for step in builder.steps:
        step.info = dataclasses.replace(step.info,
                                        axes=_axes_of(step.info, input_shape, signal))
        step.output_infos = tuple(dataclasses.replace(info, axes=_axes_of(info, input_shape,
                                                                          signal))
                                  for info in step.output_infos)
        if step.output_infos:
            for info, key in zip(step.output_infos, step.outputs, strict=True):
                views[info.name] = View(info, step, key)
        elif step.info.n_outputs == 1:  # not a structure of tensors in one value
            views[step.info.name] = View(step.info, step, step.outputs[0])
    producer: dict[int, int] = {}
    for i, step in enumerate(builder.steps):
        for k in step.outputs:
            producer[k] = i
    by_name = {step.info.name: step for step in builder.steps}
    names_by_key = {view.key: name for name, view in views.items()}
    for step in builder.steps:  # a structure of tensors: the layer's own name
        names_by_key.setdefault(step.outputs[0], step.info.name)
    output_names = tuple(names_by_key.get(k, input_name) for k in output_keys)
    output_index = _output_index(output, output_names, model)
    plan = Plan(input_key, input_shape, input_name, builder.steps, output_keys,
                producer, by_name, input_axes, views, output_names, output_index,
                model_inputs)
    plan._keepalive = builder.keepalive  # type: ignore[attr-defined]
    return plan


def _input_name(tensor: Any, index: int) -> str:
    """The name of a model input: that of its ``Input`` layer."""
    layer = getattr(getattr(tensor, "_keras_history", None), "operation", None)
    return str(getattr(layer, "name", None) or f"input_{index}")


def inputs_call(inputs: tuple[ModelInput, ...], image: str) -> str:
    """The engine call that takes ``image`` as the image and the others as fixed values."""
    others = ", ".join(f"{i.name!r}: np.zeros({i.shape}, dtype={i.dtype!r})"
                       for i in inputs if i.name != image)
    return f"ActivationEngine(model, image_input={image!r}, other_inputs={{{others}}})"


def _image_input(inputs: tuple[ModelInput, ...], image_input: int | str | None) -> int:
    """The index of the image input among ``inputs`` (see :func:`build_plan`)."""
    names = [i.name for i in inputs]
    if image_input is None and len(inputs) == 1:
        return 0
    if isinstance(image_input, str) and image_input in names:
        return names.index(image_input)
    if (isinstance(image_input, int) and not isinstance(image_input, bool)
            and 0 <= image_input < len(inputs)):
        return image_input
    listed = ", ".join(i.label for i in inputs)
    likely = next((i.name for i in inputs if len(i.shape) == 3), names[0])
    if image_input is None:
        what = (f"The model has {len(inputs)} inputs: {listed}. The engine shows one of them "
                "as an image (or a signal) and holds the others fixed: pass image_input= "
                "and other_inputs=")
    else:
        what = (f"image_input={image_input!r} is not an input of the model, whose inputs "
                f"are {listed}. Pass one of their names or indices")
    raise UnsupportedModelError(
        f"{what}, e.g. {inputs_call(inputs, likely)} (with the values to hold fixed "
        "instead of zeros; the explorer and the panels take the same keywords), or build "
        "a sub-model that takes just the image input."
    )


def _output_index(output: int | str, names: tuple[str, ...], model: Any) -> int:
    """The index of ``output`` (an index, a name of :attr:`Plan.output_names`, or one of
    Keras' ``model.output_names``) among the model's outputs."""
    keras_names = list(getattr(model, "output_names", None) or [])
    if isinstance(output, str):
        if output in names:
            return names.index(output)
        if output in keras_names and len(keras_names) == len(names):
            return keras_names.index(output)
    elif isinstance(output, int) and not isinstance(output, bool) and 0 <= output < len(names):
        return output
    shown = ", ".join(f"{i}: {n!r}" for i, n in enumerate(names))
    raise InvalidSettingError(
        f"output={output!r} is not one of the model's outputs ({shown}). Pass the name or "
        f"the index of one, e.g. ActivationEngine(model, output={names[-1]!r})."
    )


