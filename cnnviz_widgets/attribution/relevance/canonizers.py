"""Canonizers: a model's layers as the linear maps the relevance rules work on.

Each convolution or dense layer becomes one :class:`~.rules.Linear` (a separable
convolution two: its depthwise and its pointwise stage), and a BatchNormalization that
directly follows one of them is folded into it, as Zennit's ``SequentialMergeBatchNorm``
does (``zennit/canonizers.py``): with ``a = gamma / sqrt(var + eps)``,

.. math:: w' = w\\,a, \\qquad b' = (b - \\mu)\\,a + \\beta .

The folded kernel and bias are new tensors computed from the layers' variables at each
pass: the model itself is never changed. Batch normalisation is only folded when the
linear layer has no activation of its own, its output feeds nothing but the batch
normalisation, and the normalised axis is the channel axis.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..._keras import keras
from .rules import Linear

__all__ = ["LINEAR_LAYERS", "can_fold", "fold_batch_norm", "is_linear", "linear_maps"]


def _conv_classes() -> tuple[type, ...]:
    layers = keras.layers
    return tuple(getattr(layers, n) for n in ("Conv1D", "Conv2D", "Conv3D") if hasattr(layers, n))


def _depthwise_classes() -> tuple[type, ...]:
    layers = keras.layers
    return tuple(getattr(layers, n) for n in ("DepthwiseConv1D", "DepthwiseConv2D")
                 if hasattr(layers, n))


def _separable_classes() -> tuple[type, ...]:
    layers = keras.layers
    return tuple(getattr(layers, n) for n in ("SeparableConv1D", "SeparableConv2D")
                 if hasattr(layers, n))


#: Names of the layer classes the rules apply to.
LINEAR_LAYERS = ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D",
                 "SeparableConv1D", "SeparableConv2D", "Dense")


def is_linear(layer: Any) -> bool:
    """Whether the rules apply to ``layer`` (a convolution of a supported kind, a dense layer)."""
    if isinstance(layer, _conv_classes()):
        return getattr(layer, "padding", "") != "causal"
    return isinstance(layer, (*_depthwise_classes(), *_separable_classes(), keras.layers.Dense))


def _bias_add(z: Any, bias: Any, channels_first: bool) -> Any:
    if bias is None:
        return z
    if channels_first:
        rank = len(z.shape)
        bias = keras.ops.reshape(bias, (1, -1) + (1,) * (rank - 2))
    return z + bias


def _channels_first(layer: Any) -> bool:
    return getattr(layer, "data_format", "channels_last") == "channels_first"


def _depthwise_forward(layer: Any) -> Any:
    first = _channels_first(layer)

    def forward(x: Any, kernel: Any, bias: Any) -> Any:
        z = keras.ops.depthwise_conv(x, kernel, strides=layer.strides, padding=layer.padding,
                                     data_format=layer.data_format,
                                     dilation_rate=layer.dilation_rate)
        return _bias_add(z, bias, first)

    return forward


def _pointwise_forward(layer: Any) -> Any:
    first = _channels_first(layer)

    def forward(x: Any, kernel: Any, bias: Any) -> Any:
        z = keras.ops.conv(x, kernel, strides=1, padding="valid", data_format=layer.data_format)
        return _bias_add(z, bias, first)

    return forward


def _grouped_conv(layer: Any) -> Any:
    """``Linear.grouped`` of a convolution (1D or 2D, channels last, one group): a
    depthwise convolution over the G inputs side by side, each group's outputs summed."""
    if len(layer.kernel.shape) > 4 or _channels_first(layer) or \
            getattr(layer, "groups", 1) != 1:
        return None
    ops = keras.ops

    def grouped(x: Any, kernel: Any) -> Any:
        *window, inputs, count = kernel.shape
        rank = len(kernel.shape)
        order = (*range(rank - 2), rank - 1, rank - 2)  # (..., G, in): channel g * in + i
        depthwise = ops.reshape(ops.transpose(kernel, order), (*window, count * inputs, 1))
        z = ops.depthwise_conv(x, depthwise, strides=layer.strides, padding=layer.padding,
                               data_format="channels_last", dilation_rate=layer.dilation_rate)
        return ops.sum(ops.reshape(z, (-1, *z.shape[1:-1], count, inputs)), axis=-1)

    return grouped


def _grouped_dense(x: Any, kernel: Any) -> Any:
    """``Linear.grouped`` of a dense layer."""
    ops = keras.ops
    inputs, count = kernel.shape
    x = ops.reshape(x, (-1, *x.shape[1:-1], count, inputs))
    return ops.sum(x * ops.transpose(kernel), axis=-1)


def linear_maps(layer: Any) -> list[Linear]:
    """``layer`` as linear maps, in the order they apply (one, or two for a separable one).

    Parameters
    ----------
    layer : keras.layers.Layer
        A layer for which :func:`is_linear` holds.

    Returns
    -------
    list of Linear
        The maps without the layer's activation, reading the layer's current weights.
    """
    ops = keras.ops
    bias = layer.bias if getattr(layer, "use_bias", False) else None
    bias = None if bias is None else ops.convert_to_tensor(bias)
    if isinstance(layer, keras.layers.Dense):
        def dense(x: Any, kernel: Any, b: Any) -> Any:
            z = ops.matmul(x, kernel)
            return z if b is None else z + b

        return [Linear(layer.name, "dense", ops.convert_to_tensor(layer.kernel), bias, dense,
                       grouped=_grouped_dense)]
    if isinstance(layer, _separable_classes()):
        depthwise = Linear(layer.name, "conv", ops.convert_to_tensor(layer.depthwise_kernel),
                           None, _depthwise_forward(layer), depthwise=True)
        pointwise = Linear(layer.name, "conv", ops.convert_to_tensor(layer.pointwise_kernel),
                           bias, _pointwise_forward(layer))
        return [depthwise, pointwise]
    if isinstance(layer, _depthwise_classes()):
        return [Linear(layer.name, "conv", ops.convert_to_tensor(layer.kernel), bias,
                       _depthwise_forward(layer), depthwise=True)]
    first = _channels_first(layer)

    def conv(x: Any, kernel: Any, b: Any) -> Any:
        return _bias_add(layer.convolution_op(x, kernel), b, first)

    return [Linear(layer.name, "conv", ops.convert_to_tensor(layer.kernel), bias, conv,
                   grouped=_grouped_conv(layer))]


def can_fold(linear: Any, batch_norm: Any) -> bool:
    """Whether ``batch_norm`` (right after ``linear``) can be folded into it."""
    if not isinstance(batch_norm, keras.layers.BatchNormalization) or not is_linear(linear):
        return False
    activation = getattr(linear, "activation", None)
    if activation not in (None, keras.activations.linear):
        return False
    axis = batch_norm.axis
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if isinstance(axis, (list, tuple)):
        return False
    rank = len(batch_norm.input.shape) if hasattr(batch_norm, "input") else None
    last = axis == -1 or (rank is not None and axis == rank - 1)
    first = rank is not None and axis == 1
    return (last and not _channels_first(linear)) or (first and _channels_first(linear)
                                                       and not isinstance(linear,
                                                                          keras.layers.Dense))


def fold_batch_norm(maps: list[Linear], batch_norm: Any) -> list[Linear]:
    """``maps`` (a layer's linear maps) with ``batch_norm`` folded into the last of them.

    Parameters
    ----------
    maps : list of Linear
        From :func:`linear_maps` of a layer for which :func:`can_fold` holds.
    batch_norm : keras.layers.BatchNormalization
        The layer that follows it.

    Returns
    -------
    list of Linear
        New maps: the last one's kernel and bias absorb the normalisation.
    """
    ops = keras.ops
    last = maps[-1]
    variance = ops.convert_to_tensor(batch_norm.moving_variance)
    scale = 1.0 / ops.sqrt(variance + batch_norm.epsilon)
    if batch_norm.scale:
        scale = scale * ops.convert_to_tensor(batch_norm.gamma)
    shift = -ops.convert_to_tensor(batch_norm.moving_mean) * scale
    if batch_norm.center:
        shift = shift + ops.convert_to_tensor(batch_norm.beta)
    kernel = last.weight
    if last.depthwise:  # (..., in, multiplier): output channel c * multiplier + m
        in_channels, multiplier = kernel.shape[-2], kernel.shape[-1]
        kernel = kernel * ops.reshape(scale, (in_channels, multiplier))
    else:
        kernel = kernel * scale
    bias = shift if last.bias is None else last.bias * scale + shift
    folded = dataclasses.replace(last, name=f"{last.name}+{batch_norm.name}", weight=kernel,
                                 bias=bias)
    return [*maps[:-1], folded]
