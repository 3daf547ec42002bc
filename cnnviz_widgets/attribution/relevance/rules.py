"""Relevance rules: how one linear layer sends the relevance of its outputs to its inputs.

A rule follows Zennit's ``BasicHook`` (``zennit/rules.py``, ``zennit/core.py``): it runs
the layer forward on modified inputs with modified parameters, maps the relevance of
the outputs to one vector per modified pass (the *gradient mapper*), pulls each vector
back through its pass (a vector-Jacobian product) and combines the results with the
inputs (the *reducer*). For the epsilon rule that is

.. math:: R_i = x_i \\sum_j w_{ij} \\frac{R_j}{z_j + \\epsilon\\,\\mathrm{sign}(z_j)},
          \\qquad z_j = \\sum_i x_i w_{ij} + b_j .

Rules see a layer as a :class:`Linear`: its weight, its bias and its forward function
``z = forward(x, weight, bias)``; the propagation (:mod:`.propagate`) builds one for each
convolution and dense layer, with the batch normalisation after it folded in
(:mod:`.canonizers`). Everything is written with ``keras.ops`` and runs under the
TensorFlow, JAX and PyTorch backends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..._keras import keras
from ...errors import InvalidSettingError
from .. import autodiff

__all__ = ["AlphaBeta", "Epsilon", "Flat", "Gamma", "Linear", "Rule", "WSquare", "ZBox",
           "ZPlus", "norm_relevance", "stabilize"]

#: Maps ``(weight, bias)`` to modified ``(weight, bias)``; the bias may be None.
ParamModifier = Callable[[Any, Any], tuple[Any, Any]]


def stabilize(z: Any, epsilon: float = 1e-6) -> Any:
    """``z`` moved away from zero by ``epsilon`` in the direction of its sign (+ for 0).

    Zennit's ``stabilize``: ``z + ((z == 0) + sign(z)) * epsilon``.
    """
    ops = keras.ops
    sign = ops.sign(z) + ops.cast(ops.equal(z, 0.0), z.dtype)
    return z + sign * epsilon


@dataclass(frozen=True)
class Linear:
    """A linear layer as a rule sees it: ``z = forward(x, weight, bias)``.

    Attributes
    ----------
    name : str
        The layer's name (in messages).
    kind : {"conv", "dense"}
        Which entry of a composite applies (a convolution of any kind, or a dense layer).
    weight : tensor
        The kernel, in the layer's own layout (batch normalisation folded in).
    bias : tensor or None
        The bias per output channel.
    forward : callable
        ``forward(x, weight, bias)``: the layer's linear map (no activation).
    depthwise : bool
        The kernel is a depthwise one, (..., in, multiplier): output channel
        ``c * multiplier + m`` comes from input channel ``c``.
    grouped : callable or None
        ``grouped(x, kernel)``: the map without bias, for G kernels at once, each reading
        its own input: ``x`` (N, ..., G * in) holds G inputs side by side and ``kernel``
        (..., in, G) one output channel's kernel each; the result (N, ..., G) is output
        ``g`` of input ``g`` under kernel ``g`` (a depthwise convolution, summed over each
        group). None where the layer has none (depthwise and separable convolutions).
    """

    name: str
    kind: str
    weight: Any
    bias: Any
    forward: Callable[[Any, Any, Any], Any] = field(repr=False)
    depthwise: bool = False
    grouped: Callable[[Any, Any], Any] | None = field(default=None, repr=False)


def _keep(weight: Any, bias: Any) -> tuple[Any, Any]:
    return weight, bias


def _clamp(low: float | None = None, high: float | None = None, *,
           bias: bool = True) -> ParamModifier:
    """Zennit's ``ClampMod``: both parameters clamped; without ``bias`` the bias is zero."""
    ops = keras.ops

    def clamp(t: Any) -> Any:
        if low is not None:
            t = ops.maximum(t, low)
        if high is not None:
            t = ops.minimum(t, high)
        return t

    def modify(weight: Any, b: Any) -> tuple[Any, Any]:
        return clamp(weight), (None if b is None or not bias else clamp(b))

    return modify


def _gamma_mod(gamma: float, positive: bool, *, bias: bool = True) -> ParamModifier:
    """Zennit's ``GammaMod``: ``p + gamma * clamp(p)``, the positive or the negative part."""
    ops = keras.ops

    def add_part(t: Any) -> Any:
        return t + gamma * (ops.maximum(t, 0.0) if positive else ops.minimum(t, 0.0))

    def modify(weight: Any, b: Any) -> tuple[Any, Any]:
        return add_part(weight), (None if b is None or not bias else add_part(b))

    return modify


def _ones(weight: Any, bias: Any) -> tuple[Any, Any]:
    return keras.ops.ones_like(weight), None


def _square(weight: Any, bias: Any) -> tuple[Any, Any]:
    return weight * weight, None


def _terms(inputs: Sequence[Any], gradients: Sequence[Any]) -> list[Any]:
    """``x * g`` for each pass (0 for a pass that was not run)."""
    return [0.0 if x is None else x * g for x, g in zip(inputs, gradients, strict=True)]


def _same(x: Any) -> Any:
    return x


def _ones_like(x: Any) -> Any:
    return keras.ops.ones_like(x)


def _parts(x: Any, nonnegative: bool) -> tuple[Any, Any]:
    """The positive and negative parts of ``x`` (None for a part known to be zero)."""
    if nonnegative:
        return x, None
    return keras.ops.maximum(x, 0.0), keras.ops.minimum(x, 0.0)


class Rule:
    """A relevance rule for linear layers (Zennit's ``BasicHook``).

    Subclasses give the modified inputs and parameters, the gradient mapper and the
    reducer; :meth:`propagate` runs them.
    """

    #: What the rule is called in messages and compiled-program keys.
    name = "rule"

    def passes(self, x: Any, nonnegative: bool = False) -> list[tuple[Any, ParamModifier]]:
        """The modified forward passes: (modified input, parameter modifier) pairs.

        An input of None is one known to be zero (the negative part of a non-negative
        input, with no bias): its output is zero and it contributes nothing, so the pass
        is not run.
        """
        raise NotImplementedError

    def mapper(self, relevance: Any, outputs: Sequence[Any]) -> list[Any]:
        """One vector per pass, sent back through it."""
        raise NotImplementedError

    def reducer(self, inputs: Sequence[Any], gradients: Sequence[Any]) -> Any:
        """The input relevance from the modified inputs and the pulled-back vectors."""
        return sum(_terms(inputs, gradients))

    def propagate(self, layer: Linear, x: Any, relevance: Any,
                  nonnegative: bool = False, copies: int = 1) -> Any:
        """The relevance of ``layer``'s input ``x`` given the relevance of its output.

        Parameters
        ----------
        layer : Linear
            The layer, weights (folded) and forward function.
        x : tensor
            The layer's input, batch first.
        relevance : tensor
            The relevance of the layer's linear output ``z``, shaped like it.
        nonnegative : bool, default False
            ``x`` is known to be >= 0 (it comes from a ReLU): the passes over its
            negative part are skipped (they contribute nothing).
        copies : int, default 1
            ``relevance`` holds this many conditions per image of ``x`` (image-major, as
            CRP makes them): the modified outputs are computed once per image and the
            relevance of every copy sent back (the pullback of a linear map does not
            depend on where it is taken; compiled, its forward pass is dropped).

        Returns
        -------
        tensor
            Shaped like ``x``, ``copies`` times the batch.
        """
        ops = keras.ops
        inputs, outputs, pullbacks = [], [], []
        for value, modifier in self.passes(x, nonnegative):
            if value is None:
                inputs.append(None)
                outputs.append(0.0)
                pullbacks.append(None)
                continue
            weight, bias = modifier(layer.weight, layer.bias)

            def forward(v: Any, w: Any = weight, b: Any = bias) -> Any:
                return layer.forward(v, w, b)

            if copies == 1:
                output, pullback = autodiff.vector_jacobian(forward, value)
            else:
                output = ops.repeat(forward(value), copies, axis=0)
                value = ops.repeat(value, copies, axis=0)
                _, pullback = autodiff.vector_jacobian(forward, value)
            inputs.append(value)
            outputs.append(output)
            pullbacks.append(pullback)
        vectors = self.mapper(relevance, outputs)
        gradients = [None if pullback is None else pullback(vector)[0]
                     for pullback, vector in zip(pullbacks, vectors, strict=True)]
        return self.reducer(inputs, gradients)

    def propagate_channels(self, layer: Linear, x: Any, relevance: Any, masks: Any,
                           nonnegative: bool = False) -> Any:
        """:meth:`propagate` of ``relevance`` kept to one output channel per row of ``masks``.

        The result equals :meth:`propagate` of the relevance repeated once per row and
        multiplied by it (``copies`` = K), for masks whose rows keep at most one channel
        each; ``layer.grouped`` must exist. Every mapper is linear in the relevance, so
        the vectors of all rows are the vectors of the whole relevance, masked; and output
        channel ``c``'s vector goes back along that channel's kernel alone. The K
        pullbacks then run as one grouped one (K kernels side by side), about the cost of
        one pullback instead of K.

        Parameters
        ----------
        layer, x, nonnegative
            As for :meth:`propagate` (``x`` once per image).
        relevance : tensor
            The relevance of the layer's output, once per image (not masked).
        masks : tensor
            (K, C_out): one row per condition, a single 1 (or none).

        Returns
        -------
        tensor
            (N * K, ...): the relevance of ``x`` for each image and row (image-major).
        """
        ops = keras.ops
        picks = ops.transpose(ops.cast(masks, relevance.dtype))  # (C_out, K)
        count, rank = int(masks.shape[0]), len(x.shape)
        inputs, outputs, kernels = [], [], []
        for value, modifier in self.passes(x, nonnegative):
            if value is None:
                inputs.append(None)
                outputs.append(0.0)
                kernels.append(None)
                continue
            weight, bias = modifier(layer.weight, layer.bias)
            inputs.append(ops.expand_dims(value, 1))  # (N, 1, ...): broadcast over rows
            outputs.append(layer.forward(value, weight, bias))
            kernels.append(ops.tensordot(weight, picks, axes=1))  # (..., C_in, K)
        vectors = self.mapper(relevance, outputs)
        zeros = None
        gradients = []
        for kernel, vector in zip(kernels, vectors, strict=True):
            if kernel is None:
                gradients.append(None)
                continue
            if zeros is None:  # the point the linear map's pullback is taken at
                zeros = ops.zeros((ops.shape(x)[0], *x.shape[1:-1], count * x.shape[-1]),
                                  x.dtype)
            _, pullback = autodiff.vector_jacobian(
                lambda v, k=kernel: layer.grouped(v, k), zeros)
            g = pullback(ops.tensordot(vector, picks, axes=1))[0]  # (N, ..., K * C_in)
            g = ops.reshape(g, (-1, *x.shape[1:-1], count, x.shape[-1]))
            gradients.append(ops.moveaxis(g, rank - 1, 1))  # (N, K, ..., C_in)
        result = self.reducer(inputs, gradients)
        return ops.reshape(result, (-1, *x.shape[1:]))

    def __repr__(self) -> str:
        return self.name


class Epsilon(Rule):
    """LRP-epsilon: ``R_i = x_i sum_j w_ij R_j / (z_j + eps sign(z_j))``.

    Parameters
    ----------
    epsilon : float, default 1e-6
        The stabiliser; near 0 it is LRP-0 (gradient times input on a ReLU network).
    """

    def __init__(self, epsilon: float = 1e-6):
        self.epsilon = float(epsilon)
        self.name = f"epsilon({self.epsilon:g})"

    def passes(self, x: Any, nonnegative: bool = False) -> list[tuple[Any, ParamModifier]]:
        return [(x, _keep)]

    def mapper(self, relevance: Any, outputs: Sequence[Any]) -> list[Any]:
        return [relevance / stabilize(outputs[0], self.epsilon)]


class ZPlus(Rule):
    """LRP-z+ (alpha 1, beta 0): positive contributions only.

    ``R_i = sum_j (x_i^+ w_ij^+ + x_i^- w_ij^-) R_j / z_j^+``, the positive bias in
    ``z_j^+``, as Zennit's ``ZPlus``.
    """

    name = "z_plus"

    def __init__(self, stabilizer: float = 1e-6):
        self.stabilizer = float(stabilizer)

    def passes(self, x: Any, nonnegative: bool = False) -> list[tuple[Any, ParamModifier]]:
        pos, neg = _parts(x, nonnegative)
        return [(pos, _clamp(low=0.0)), (neg, _clamp(high=0.0, bias=False))]

    def mapper(self, relevance: Any, outputs: Sequence[Any]) -> list[Any]:
        vector = relevance / stabilize(outputs[0] + outputs[1], self.stabilizer)
        return [vector, vector]


class AlphaBeta(Rule):
    """LRP-alpha-beta: ``alpha`` times the positive share minus ``beta`` times the negative.

    Parameters
    ----------
    alpha, beta : float, default 2 and 1
        Non-negative, ``alpha - beta == 1`` (relevance is conserved).
    """

    def __init__(self, alpha: float = 2.0, beta: float = 1.0, stabilizer: float = 1e-6):
        if alpha < 0 or beta < 0 or abs(alpha - beta - 1.0) > 1e-9:
            raise InvalidSettingError(
                f"alpha and beta must be non-negative with alpha - beta = 1; got alpha={alpha}, "
                f"beta={beta}.")
        self.alpha, self.beta, self.stabilizer = float(alpha), float(beta), float(stabilizer)
        self.name = f"alpha{self.alpha:g}_beta{self.beta:g}"

    def passes(self, x: Any, nonnegative: bool = False) -> list[tuple[Any, ParamModifier]]:
        pos, neg = _parts(x, nonnegative)
        return [(pos, _clamp(low=0.0)), (neg, _clamp(high=0.0, bias=False)),
                (pos, _clamp(high=0.0)), (neg, _clamp(low=0.0, bias=False))]

    def mapper(self, relevance: Any, outputs: Sequence[Any]) -> list[Any]:
        up = relevance / stabilize(outputs[0] + outputs[1], self.stabilizer)
        down = relevance / stabilize(outputs[2] + outputs[3], self.stabilizer)
        return [up, up, down, down]

    def reducer(self, inputs: Sequence[Any], gradients: Sequence[Any]) -> Any:
        terms = _terms(inputs, gradients)
        return self.alpha * (terms[0] + terms[1]) - self.beta * (terms[2] + terms[3])


class Gamma(Rule):
    """LRP-gamma, generalised to inputs of both signs (Zennit's ``Gamma``).

    Where the output is positive, relevance goes back along ``w + gamma w^+`` (on
    positive inputs) and ``w + gamma w^-`` (on negative ones); where it is negative,
    the other way round.

    Parameters
    ----------
    gamma : float, default 0.25
        How much the positive (sign-matching) contributions are favoured.
    """

    def __init__(self, gamma: float = 0.25, stabilizer: float = 1e-6):
        self.gamma, self.stabilizer = float(gamma), float(stabilizer)
        self.name = f"gamma({self.gamma:g})"

    def passes(self, x: Any, nonnegative: bool = False) -> list[tuple[Any, ParamModifier]]:
        (pos, neg), g = _parts(x, nonnegative), self.gamma
        return [(pos, _gamma_mod(g, True)), (neg, _gamma_mod(g, False, bias=False)),
                (pos, _gamma_mod(g, False)), (neg, _gamma_mod(g, True, bias=False)),
                (x, _keep)]

    def mapper(self, relevance: Any, outputs: Sequence[Any]) -> list[Any]:
        ops = keras.ops
        z = outputs[4]
        up = ops.cast(ops.greater(z, 0.0), z.dtype) * relevance / stabilize(
            outputs[0] + outputs[1], self.stabilizer)
        down = ops.cast(ops.less(z, 0.0), z.dtype) * relevance / stabilize(
            outputs[2] + outputs[3], self.stabilizer)
        return [up, up, down, down, ops.zeros_like(relevance)]

    def reducer(self, inputs: Sequence[Any], gradients: Sequence[Any]) -> Any:
        return sum(_terms(inputs[:4], gradients[:4]))


class _Uniform(Rule):
    """Rules that ignore the input's values (flat, w-square).

    ``R_i = sum_j v_ij R_j / sum_i v_ij``, with ``v`` the modified weights.
    """

    modifier: ParamModifier = staticmethod(_ones)

    def __init__(self, stabilizer: float = 1e-6):
        self.stabilizer = float(stabilizer)

    def passes(self, x: Any, nonnegative: bool = False) -> list[tuple[Any, ParamModifier]]:
        return [(_ones_like(x), self.modifier)]

    def mapper(self, relevance: Any, outputs: Sequence[Any]) -> list[Any]:
        return [relevance / stabilize(outputs[0], self.stabilizer)]

    def reducer(self, inputs: Sequence[Any], gradients: Sequence[Any]) -> Any:
        return gradients[0]


class Flat(_Uniform):
    """LRP-flat: the relevance of an output spread evenly over its receptive field.

    With all weights one, every input channel of a position gets the same share: the
    vector is summed over the output channels and pulled back along a kernel of ones
    with one input and one output channel, then given to every input channel (the same
    numbers as the full pullback, at a fraction of its cost).
    """

    name = "flat"
    modifier = staticmethod(_ones)

    def propagate(self, layer: Linear, x: Any, relevance: Any,
                  nonnegative: bool = False, copies: int = 1) -> Any:
        if layer.grouped is None:  # depthwise, grouped or channels-first: the full pullback
            return super().propagate(layer, x, relevance, nonnegative, copies)
        ops = keras.ops
        ones = ops.ones_like(layer.weight)
        output = layer.forward(ops.ones_like(x), ones, None)
        if copies > 1:
            output = ops.repeat(output, copies, axis=0)
        vector = ops.sum(relevance / stabilize(output, self.stabilizer), axis=-1,
                         keepdims=True)
        single = ops.ones((*layer.weight.shape[:-2], 1, 1), layer.weight.dtype)
        point = ops.repeat(ops.ones_like(x[..., :1]), copies, axis=0)
        _, pullback = autodiff.vector_jacobian(
            lambda v: layer.forward(v, single, None), point)
        share = pullback(vector)[0]  # (N * copies, ..., 1)
        return ops.repeat(share, x.shape[-1], axis=-1)


class WSquare(_Uniform):
    """LRP-w²: the relevance of an output spread in proportion to the squared weights.

    As published (Montavon et al. 2017), without the bias; Zennit's ``WSquare`` also adds
    the squared bias to the denominator (and so does not conserve relevance).
    """

    name = "w_square"
    modifier = staticmethod(_square)


class ZBox(Rule):
    """LRP-z^B for a first layer whose inputs lie in a box ``[low, high]``.

    ``R_i = sum_j (x_i w_ij - l_i w_ij^+ - h_i w_ij^-) R_j / z^B_j`` (Montavon et al.
    2017), as Zennit's ``ZBox``.

    Parameters
    ----------
    low, high : array_like
        The lowest and highest value of each input, broadcast against it (per channel,
        e.g. shape (1, 1, 1, 3)).
    """

    name = "z_box"

    def __init__(self, low: Any, high: Any, stabilizer: float = 1e-6):
        self.low, self.high = low, high
        self.stabilizer = float(stabilizer)

    def passes(self, x: Any, nonnegative: bool = False) -> list[tuple[Any, ParamModifier]]:
        ops = keras.ops
        shape = ops.shape(x)
        low = ops.broadcast_to(ops.cast(self.low, x.dtype), shape)
        high = ops.broadcast_to(ops.cast(self.high, x.dtype), shape)
        return [(x, _keep), (low, _clamp(low=0.0)), (high, _clamp(high=0.0))]

    def mapper(self, relevance: Any, outputs: Sequence[Any]) -> list[Any]:
        vector = relevance / stabilize(outputs[0] - outputs[1] - outputs[2], self.stabilizer)
        return [vector] * 3

    def reducer(self, inputs: Sequence[Any], gradients: Sequence[Any]) -> Any:
        terms = _terms(inputs, gradients)
        return terms[0] - terms[1] - terms[2]


def norm_relevance(function: Callable[..., Any], inputs: Sequence[Any], relevance: Any,
                   stabilizer: float = 1e-6) -> list[Any]:
    """Zennit's ``Norm`` rule for a layer without weights (a sum, an average pooling).

    Each input gets its share of the relevance of every output it contributes to:
    ``R_i = x_i d(sum_j s_j f_j)/dx_i`` with ``s_j = R_j / f_j(x)`` (stabilised). For a sum
    of branches that splits each output's relevance in proportion to the branches' values.

    Parameters
    ----------
    function : callable
        The layer's computation, ``function(*inputs)``.
    inputs : sequence of tensors
        Its inputs.
    relevance : tensor
        The relevance of its output.

    Returns
    -------
    list of tensors
        The relevance of each input.
    """
    output, pullback = autodiff.vector_jacobian(function, *inputs)
    gradients = pullback(relevance / stabilize(output, stabilizer))
    return [x * g for x, g in zip(inputs, gradients, strict=True)]
