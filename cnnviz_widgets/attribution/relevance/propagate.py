"""The relevance pass: a model's layers, walked backwards from the output to the input.

The engine's plan lists every layer call of the model in an order that can run, nested
models expanded into their layers; :class:`RelevanceGraph` sorts each call into what
relevance does there:

* **linear** layers (convolutions, depthwise and separable ones, dense) get the rule of
  the composite (:mod:`.rules`); a BatchNormalization right after one is folded into it
  (:mod:`.canonizers`), and so is a zero padding right before one (its zeros are then
  part of the layer, as a convolution's own padding is, and no input: the flat,
  w-square and z-box rules give them nothing, as Zennit does for PyTorch's padding);
* **sums** (``Add``, ``Average``) and **average poolings** (global too) split each
  output's relevance in proportion to what each input contributes (Zennit's ``Norm``);
* **routing** layers (max pooling, flatten, reshape, padding, cropping, concatenation,
  permutation, upsampling) send relevance back where the values came from (their
  vector-Jacobian product: max pooling gives it to the maximum);
* **element-wise** layers (activations, dropout and noise, a batch normalisation that is
  not folded, ``Rescaling``, ``Normalization``) pass it through unchanged, and so does a
  ``Softmax`` layer, as an ``Activation("softmax")`` does (a segmentation model's
  per-pixel softmax);
* **gates** (``Multiply``, as in squeeze-and-excitation blocks) give all of it to the
  signal and none to the gate, which is held constant.

Anything else is refused with :class:`~cnnviz_widgets.errors.UnsupportedModelError`
naming the layer. All of it is written with ``keras.ops``, batched, and runs inside the
compiled programs of :meth:`~..base.GradientMethod.compiled_gradients`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..._keras import keras
from ...errors import UnsupportedModelError
from .. import autodiff
from .canonizers import LINEAR_LAYERS, can_fold, fold_batch_norm, is_linear, linear_maps
from .composites import Composite
from .rules import Linear, norm_relevance

__all__ = ["Condition", "RelevanceGraph", "relevance_graph"]

_ELEMENTWISE = frozenset({
    "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "BatchNormalization", "Rescaling", "Normalization", "Identity",
    "InputLayer", "Softmax"})
_ROUTING = frozenset({
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
    "GlobalMaxPooling3D", "Flatten", "Reshape", "ZeroPadding1D", "ZeroPadding2D",
    "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D", "Concatenate", "Permute",
    "UpSampling1D", "UpSampling2D", "UpSampling3D"})
_SUMS = frozenset({
    "Add", "Average", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D"})
_GATES = frozenset({"Multiply"})
_SIGMOIDS = ("sigmoid", "hard_sigmoid", "hard_silu_gate")
_NONNEGATIVE = frozenset({"relu", "relu6", "sigmoid", "hard_sigmoid", "softmax", "softplus",
                          "exponential"})
_IDENTITIES = frozenset({"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                         "GaussianNoise", "GaussianDropout", "AlphaDropout",
                         "ActivityRegularization", "Identity"})

#: Every layer class the relevance pass goes through, by what it does there.
SUPPORTED = {"linear (rules)": LINEAR_LAYERS, "sums (Norm rule)": tuple(sorted(_SUMS)),
             "routing": tuple(sorted(_ROUTING)), "element-wise (passed)":
             tuple(sorted(_ELEMENTWISE)), "gates": tuple(sorted(_GATES))}


@dataclass(frozen=True)
class Condition:
    """Keep only the relevance that flows through some channels of one layer (CRP).

    Attributes
    ----------
    key : int
        The plan key of the layer's output.
    masks : tensor
        (K, C): one row per condition, 1 for the channels kept. Each image of the batch
        becomes K images (image-major) from this layer down.
    one_hot : bool, default False
        Every row keeps one channel at most: the first linear layer below (a convolution
        or dense layer, through element-wise layers) then sends the relevance of all the
        rows back in one grouped pass (:meth:`.rules.Rule.propagate_channels`).
    """

    key: int
    masks: Any
    one_hot: bool = False


def _kind_of(layer: Any) -> str | None:
    name = type(layer).__name__
    if not type(layer).__module__.startswith("keras."):
        return None
    if is_linear(layer):
        return "linear"
    for kind, names in (("pass", _ELEMENTWISE), ("route", _ROUTING), ("sum", _SUMS),
                        ("gate", _GATES)):
        if name in names:
            return kind
    return None


def _unsupported(step: Any) -> UnsupportedModelError:
    listed = "; ".join(f"{what}: {', '.join(names)}" for what, names in SUPPORTED.items())
    return UnsupportedModelError(
        f"Relevance cannot be propagated through the layer {step.info.name!r} "
        f"({step.info.class_name}). Supported layers are, {listed}; and models nested in the "
        "model. Explain this model with a gradient method (Saliency, IntegratedGradients).")


def _activation_name(layer: Any) -> str:
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", "") if act is not None else ""


class RelevanceGraph:
    """The model's layer calls as the relevance pass sees them (see the module's text).

    Build it with :func:`relevance_graph` (kept on the engine).

    Raises
    ------
    UnsupportedModelError
        If a layer on the way from the input to the output cannot be propagated through,
        a layer has several outputs, or the model has more than one input.
    """

    def __init__(self, engine: Any):
        plan = engine.plan
        if plan.other_inputs:
            raise UnsupportedModelError(
                "Relevance propagation needs a model with one input; this one has "
                f"{len(plan.inputs)}.")
        self.plan = plan
        self.order = plan.needed([plan.output_key])
        self.kinds: dict[int, str] = {}
        consumers: dict[int, list[int]] = {}
        for index in self.order:
            step = plan.steps[index]
            kind = _kind_of(step.layer)
            if kind is None or len(step.outputs) != 1:
                raise _unsupported(step)
            self.kinds[index] = kind
            for k in step.inputs:
                consumers.setdefault(k, []).append(index)
        #: batch normalisation step -> the linear step it is folded into
        self.folded: dict[int, int] = {}
        for index in self.order:
            step = plan.steps[index]
            if not isinstance(step.layer, keras.layers.BatchNormalization) or \
                    len(step.inputs) != 1 or step.inputs[0] not in plan.producer:
                continue
            before = plan.producer[step.inputs[0]]
            if self.kinds.get(before) == "linear" and consumers[step.inputs[0]] == [index] \
                    and can_fold(plan.steps[before].layer, step.layer):
                self.folded[index] = before
        #: linear step -> the zero padding before it, folded into its linear map (the padded
        #: zeros are then constants, not inputs: flat, w-square and z-box give them nothing)
        self.padded: dict[int, int] = {}
        for index in self.order:
            step = plan.steps[index]
            if self.kinds[index] != "linear" or len(step.inputs) != 1 or \
                    step.inputs[0] not in plan.producer:
                continue
            before = plan.producer[step.inputs[0]]
            if type(plan.steps[before].layer).__name__.startswith("ZeroPadding") and \
                    consumers[step.inputs[0]] == [index]:
                self.padded[index] = before
        self.first = self._first_linear()
        #: keys of values that are never negative (after a ReLU): z+, alpha-beta and gamma
        #: skip their passes over the negative part there
        self.nonnegative = self._nonnegative()

    def _first_linear(self) -> frozenset[int]:
        """The linear steps with no linear step between them and the input."""
        plan, found = self.plan, set()
        for index in self.order:
            if self.kinds[index] != "linear":
                continue
            todo, seen, alone = list(plan.steps[index].inputs), set(), True
            while todo and alone:
                key = todo.pop()
                if key in seen or key not in plan.producer:
                    continue
                seen.add(key)
                before = plan.producer[key]
                if self.kinds.get(before) == "linear":
                    alone = False
                todo.extend(plan.steps[before].inputs)
            if alone:
                found.add(index)
        return frozenset(found)

    def _nonnegative(self) -> frozenset[int]:
        found: set[int] = set()
        for index in self.order:
            step = self.plan.steps[index]
            layer, kind = step.layer, self.kinds[index]
            if kind == "linear" or isinstance(layer, keras.layers.Activation):
                known = _activation_name(layer) in _NONNEGATIVE
            elif isinstance(layer, keras.layers.ReLU):
                known = float(layer.negative_slope) == 0.0 and float(layer.threshold) >= 0.0
            elif kind in ("route", "sum", "gate") or type(layer).__name__ in _IDENTITIES:
                known = all(k in found for k in step.inputs)
            else:
                known = False
            if known:
                found.add(step.outputs[0])
        return frozenset(found)

    def first_input_chain(self) -> list[Any]:
        """The element-wise layers between the model input and the first linear layer.

        They are what the input bounds of the z-box rule pass through (``Rescaling``,
        ``Normalization``); routing layers (padding) leave the bounds as they are.
        """
        chain = []
        for index in self.order:
            if index in self.first:
                break
            if self.kinds[index] == "pass":
                chain.append(self.plan.steps[index].layer)
        return chain

    def key_of(self, name: str) -> int:
        """The plan key of the output of the layer called ``name``.

        A linear layer whose BatchNormalization is folded into it has no output of its own
        in the pass: its key is the batch normalisation's output, which has the same
        channels (the normalisation is one scale and shift a channel), as with Zennit's
        canonizers.
        """
        view = self.plan.view(name)
        if view is None:
            raise UnsupportedModelError(f"The model has no layer output called {name!r}.")
        for norm, linear in self.folded.items():
            if self.plan.steps[linear].outputs[0] == view.key:
                return self.plan.steps[norm].outputs[0]
        return view.key

    # -- the passes --------------------------------------------------------------------
    def forward(self, x: Any, upto: int | None = None) -> dict[int, Any]:
        """Every value of the model for the prepared batch ``x``, by plan key.

        With ``upto`` (a plan key), only the values that one is computed from.
        """
        values = {self.plan.input_key: x}
        for index in self.order if upto is None else self.plan.needed([upto]):
            step = self.plan.steps[index]
            values[step.outputs[0]] = step.call(values)[0]
        return values

    def output(self, values: dict[int, Any]) -> Any:
        """The model output among ``values``."""
        return values[self.plan.output_key]

    def backward(self, values: dict[int, Any], relevance: Any, composite: Composite,
                 condition: Condition | None = None, at: int | None = None,
                 start: int | None = None) -> tuple[Any, Any]:
        """The relevance of the input, given that of the output.

        Parameters
        ----------
        values : dict
            From :meth:`forward`.
        relevance : tensor
            The relevance of the model output, shaped like it (or of ``start``).
        composite : Composite
            The rule of each linear layer.
        condition : Condition, optional
            Keep only the relevance through some channels of a layer (each image becomes
            one per row of the masks); the relevance that goes around that layer is
            dropped.
        at : int, optional
            A plan key whose relevance (before the condition) is returned too; without a
            condition the pass stops there (and the input relevance is None).
        start : int, optional
            The plan key ``relevance`` belongs to, when not the model output: the pass
            starts there (``values`` need only hold what it is computed from).

        Returns
        -------
        input_relevance, relevance_at
            The relevance of the input (shaped like it; K times the batch under a
            condition) and that of ``at`` (or None).
        """
        plan = self.plan
        ops = keras.ops
        rel: dict[int, Any] = {plan.output_key if start is None else start: relevance}
        copies, repeated = 1, {}
        found = pending = None

        def value(k: int) -> Any:
            if copies == 1:
                return values[k]
            if k not in repeated:
                repeated[k] = ops.repeat(values[k], copies, axis=0)
            return repeated[k]

        skipped = set(self.folded.values())
        for index in reversed(self.order):
            step = plan.steps[index]
            key = step.outputs[0]
            if index in skipped or key not in rel:
                continue
            r = rel.pop(key)
            if key == at:
                found = r
                if condition is None:  # nothing below is asked for
                    return None, found
            masks = None
            if condition is not None and key == condition.key:
                rel, pending = {}, condition.masks
            if pending is not None and not (condition.one_hot and at is None and
                                            self.kinds[index] == "pass" and
                                            index not in self.folded):
                # the mask applies here; element-wise layers before it pass the relevance
                # unchanged (masked before or after, the same), so a grouped first
                # linear step below them still gets it once per image
                copies, pending = int(condition.masks.shape[0]), None
                if condition.one_hot:
                    masks = condition.masks
                else:
                    r = _masked(r, condition.masks)
            for k, r_in in self._through(index, step, r, value, composite, values.__getitem__,
                                         copies, masks):
                rel[k] = rel[k] + r_in if k in rel else r_in
        return rel.get(plan.input_key, ops.zeros_like(value(plan.input_key))), found

    def _through(self, index: int, step: Any, r: Any, value: Callable[[int], Any],
                 composite: Composite, base: Callable[[int], Any],
                 copies: int, masks: Any = None) -> list[tuple[int, Any]]:
        """(input key, relevance) for each input of ``step``, given its output's ``r``.

        ``value(key)`` is a value repeated once per condition (``copies``), ``base(key)``
        the value once per image. ``masks`` (one-hot rows): ``r`` is once per image and
        still to be masked, one copy per row.
        """
        kind = self.kinds[index]
        keys = list(dict.fromkeys(step.inputs))
        if kind == "pass" and index not in self.folded:
            return [(keys[0], r if masks is None else _masked(r, masks))]
        if kind == "linear" or index in self.folded:
            linear_index = self.folded.get(index, index)
            linear = self.plan.steps[linear_index]
            maps = linear_maps(linear.layer)
            if index in self.folded:
                maps = fold_batch_norm(maps, step.layer)
            source = linear.inputs[0]
            if linear_index in self.padded:
                padding = self.plan.steps[self.padded[linear_index]]
                source = padding.inputs[0]
                maps[0] = _padded(maps[0], padding)
            inputs = [base(source)]  # once per image: the rules repeat what they need
            if masks is not None and len(maps) == 1 and maps[0].grouped is not None:
                rule = composite.rule(maps[0].kind, linear_index in self.first)
                return [(source, rule.propagate_channels(
                    maps[0], inputs[0], r, masks, nonnegative=source in self.nonnegative))]
            if masks is not None:
                r = _masked(r, masks)
            for stage in maps[:-1]:  # a separable convolution's depthwise stage
                inputs.append(stage.forward(inputs[-1], stage.weight, stage.bias))
            for depth in range(len(maps) - 1, -1, -1):
                rule = composite.rule(maps[depth].kind,
                                      depth == 0 and linear_index in self.first)
                r = rule.propagate(maps[depth], inputs[depth], r,
                                   nonnegative=depth == 0 and source in self.nonnegative,
                                   copies=copies)
            return [(source, r)]

        def function(*xs: Any) -> Any:
            return step.call(dict(zip(keys, xs, strict=True)))[0]

        if masks is not None:
            r = _masked(r, masks)
        xs = [value(k) for k in keys]
        if kind == "sum":
            return list(zip(keys, norm_relevance(function, xs, r), strict=True))
        if kind == "route":
            _, pullback = autodiff.vector_jacobian(function, *xs)
            return list(zip(keys, pullback(r), strict=True))
        return [(keys[self._signal(step, keys, xs)], r)]

    def _signal(self, step: Any, keys: list[int], xs: list[Any]) -> int:
        """Which input of a gate is the signal (the other, the gate, gets no relevance)."""
        if len(xs) == 2:
            sizes = [_size(x) for x in xs]
            if sizes[0] != sizes[1]:
                return 0 if sizes[0] > sizes[1] else 1
            gates = [self._is_gate(k) for k in keys]
            if gates.count(True) == 1:
                return gates.index(False)
        raise UnsupportedModelError(
            f"The layer {step.info.name!r} (Multiply) multiplies values that are not a signal "
            "and a gate (a gate is broadcast over the signal, or comes from a sigmoid); "
            "relevance cannot be split between them.")

    def _is_gate(self, key: int) -> bool:
        producer = self.plan.producer.get(key)
        return producer is not None and \
            _activation_name(self.plan.steps[producer].layer) in _SIGMOIDS


def _padded(linear: Linear, padding: Any) -> Linear:
    """``linear`` reading its input through the zero ``padding`` step before it."""
    forward, key = linear.forward, padding.inputs[0]

    def padded(x: Any, weight: Any, bias: Any) -> Any:
        return forward(padding.call({key: x})[0], weight, bias)

    if linear.grouped is None:
        return dataclasses.replace(linear, forward=padded)
    grouped = linear.grouped

    def padded_grouped(x: Any, kernel: Any) -> Any:
        return grouped(padding.call({key: x})[0], kernel)

    return dataclasses.replace(linear, forward=padded, grouped=padded_grouped)


def _size(x: Any) -> int:
    size = 1
    for d in x.shape[1:]:
        size *= int(d)
    return size


def _masked(r: Any, masks: Any) -> Any:
    """``r`` (N, ..., C) once per row of ``masks`` (K, C), masked: (N * K, ..., C)."""
    ops = keras.ops
    middle = (1,) * (len(r.shape) - 2)
    shaped = ops.reshape(ops.cast(masks, r.dtype), (1, masks.shape[0], *middle, masks.shape[1]))
    return ops.reshape(ops.expand_dims(r, 1) * shaped, (-1, *r.shape[1:]))


def relevance_graph(engine: Any) -> RelevanceGraph:
    """The :class:`RelevanceGraph` of ``engine``'s model, built once and kept on the engine."""
    graph = engine.__dict__.get("_relevance_graph")
    if graph is None or graph.plan is not engine.plan:
        graph = RelevanceGraph(engine)
        engine.__dict__["_relevance_graph"] = graph
    return graph
