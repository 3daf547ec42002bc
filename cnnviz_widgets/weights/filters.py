"""Learned convolution filters as arrays: kernels, normalised grids, RGB first-layer tiles."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..checks import index_in
from ..colour.scale import unit_scale
from ..engine.coerce import as_engine
from ..errors import InvalidSettingError, LayerNotViewableError

__all__ = ["FilterBank", "conv_filters", "filter_grid", "kernel_layers", "rgb_filters"]

Selection = Iterable[int] | slice | int | None
NormMode = Literal["filter", "layer"]


@dataclass(frozen=True)
class FilterBank:
    """The kernels of one convolution layer.

    Attributes
    ----------
    layer : str
        Name of the layer (path for layers inside nested models).
    kernels : numpy.ndarray
        float32 array of shape (kh, kw, in_ch, out_ch). A ``Conv1D`` kernel is given
        as (1, k, in_ch, out_ch); a depthwise kernel (kh, kw, in_ch, multiplier) as
        (kh, kw, 1, in_ch * multiplier), since each of its filters sees one channel.
    biases : numpy.ndarray or None
        float32 array of shape (out_ch,), or None for a layer without bias.
    class_name : str
        The Keras class of the layer.
    """

    layer: str
    kernels: np.ndarray
    biases: np.ndarray | None
    class_name: str = ""

    @property
    def n_filters(self) -> int:
        """Number of filters (output channels)."""
        return int(self.kernels.shape[3])

    @property
    def n_channels(self) -> int:
        """Number of input channels each filter sees."""
        return int(self.kernels.shape[2])

    @property
    def kernel_size(self) -> tuple[int, int]:
        """(kh, kw)."""
        return int(self.kernels.shape[0]), int(self.kernels.shape[1])


def _kernel_arrays(layer: Any) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Return (kernel as (kh, kw, in, out), bias) for conv-like layers, else None."""
    if not hasattr(layer, "kernel_size"):
        return None
    cls = type(layer).__name__
    kernel = getattr(layer, "depthwise_kernel", None)
    if kernel is None:
        kernel = getattr(layer, "kernel", None)
    if kernel is None:
        return None
    k = np.asarray(kernel, dtype=np.float32)
    if "Transpose" in cls:
        if k.ndim != 4:
            return None
        k = k.transpose(0, 1, 3, 2)  # stored as (kh, kw, out, in)
    if k.ndim == 3:
        k = k[None, ...]
    if k.ndim != 4:
        return None
    if cls.startswith(("DepthwiseConv", "SeparableConv")):
        kh, kw, cin, mult = k.shape
        k = k.reshape(kh, kw, 1, cin * mult)
    bias = getattr(layer, "bias", None)
    b = None if bias is None else np.asarray(bias, dtype=np.float32)
    if cls.startswith("SeparableConv") or (b is not None and b.shape != (k.shape[3],)):
        b = None  # a separable layer's bias belongs to its pointwise part
    return k, b


def kernel_layers(model_or_engine: Any) -> list[str]:
    """Names of the layers that have a 2-D (or 1-D) convolution kernel, in order."""
    engine = as_engine(model_or_engine)
    return [
        name for name in engine.layer_names
        if _kernel_arrays(engine.keras_layer(name)) is not None
    ]


def conv_filters(model_or_engine: Any, layer: str) -> FilterBank:
    """Return the kernels and biases of the convolution layer ``layer``.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine built on it (cheaper when called repeatedly).
    layer : str
        A layer name as in ``engine.layer_names``; layers of nested models by path.

    Returns
    -------
    FilterBank
        ``kernels`` of shape (kh, kw, in_ch, out_ch) and ``biases`` of shape
        (out_ch,) or None.

    Raises
    ------
    LayerNotFoundError
        If there is no such layer.
    LayerNotViewableError
        If the layer has no convolution kernel; the message lists those that do.
    """
    engine = as_engine(model_or_engine)
    keras_layer = engine.keras_layer(layer)
    arrays = _kernel_arrays(keras_layer)
    if arrays is None:
        have = kernel_layers(engine)
        shown = ", ".join(repr(n) for n in have[:12]) + (" ..." if len(have) > 12 else "")
        hint = f"Layers with a kernel: {shown}." if have else "The model has no conv layer."
        raise LayerNotViewableError(
            f"The layer {layer!r} ({type(keras_layer).__name__}) has no convolution kernel, "
            f"so it has no filters to show. {hint}"
        )
    kernels, biases = arrays
    kernels.flags.writeable = False
    if biases is not None:
        biases.flags.writeable = False
    return FilterBank(layer, kernels, biases, type(keras_layer).__name__)


def _indices(selection: Selection, n: int, what: str) -> np.ndarray:
    if selection is None:
        return np.arange(n)
    if isinstance(selection, slice):
        return np.arange(n)[selection]
    if isinstance(selection, (int, np.integer)):
        selection = [int(selection)]
    idx = np.asarray(list(selection), dtype=np.int64).reshape(-1)
    for index in idx:
        index_in(int(index), n, what, "the layer", from_end=True)
    return idx % n if n else idx


def _normalization(normalization: str, mode: str | None) -> str:
    if mode is not None:
        warnings.warn("The mode= parameter of the filter functions is deprecated; use "
                      "normalization=... instead.", DeprecationWarning, stacklevel=3)
        normalization = mode
    if normalization not in ("filter", "layer"):
        raise InvalidSettingError(
            f"normalization must be 'filter' or 'layer'; got {normalization!r}.")
    return normalization


def filter_grid(
    bank: FilterBank,
    filters: Selection = None,
    channels: Selection = None,
    normalization: NormMode = "filter",
    *,
    mode: NormMode | None = None,
) -> np.ndarray:
    """Return the chosen kernel slices as a (F, C, kh, kw) float32 array in [0, 1].

    Parameters
    ----------
    bank : FilterBank
        From :func:`conv_filters`.
    filters, channels : range, sequence of int, slice, int or None
        Output filters and input channels to return (None: all).
    normalization : {"filter", "layer"}
        ``"filter"`` scales each filter, over all of its input channels, to 0-1
        ``(f - f.min()) / (f.max() - f.min())``, so channel pages stay comparable;
        ``"layer"`` uses one minimum and maximum for the whole layer. Both use
        :func:`~cnnviz_widgets.colour.scale.unit_scale`: a constant filter (e.g. all
        zeros) becomes 0 everywhere.
    mode : {"filter", "layer"}, optional
        Deprecated name of ``normalization``.

    Returns
    -------
    numpy.ndarray
        Shape (F, C, kh, kw), float32, values in [0, 1].
    """
    normalization = _normalization(normalization, mode)
    f = _indices(filters, bank.n_filters, "filter")
    c = _indices(channels, bank.n_channels, "channel")
    if f.size == 0 or c.size == 0:
        return np.zeros((f.size, c.size, *bank.kernel_size), dtype=np.float32)
    k = np.moveaxis(bank.kernels[..., f], (3, 2), (0, 1))  # (F, in, kh, kw)
    if normalization == "filter":
        unit = unit_scale(k, (1, 2, 3))
    else:  # the whole layer's range, not only the selected filters'
        unit = unit_scale(k, lo=np.min(bank.kernels), hi=np.max(bank.kernels))
    return np.ascontiguousarray(unit[:, c])


def rgb_filters(bank: FilterBank, filters: Selection = None,
                normalization: NormMode = "filter", *, mode: NormMode | None = None
                ) -> np.ndarray:
    """Return first-layer kernels as colour tiles, shape (F, kh, kw, 3), values in [0, 1].

    Parameters
    ----------
    bank : FilterBank
        The kernels of a layer with exactly three input channels (an RGB first layer).
    filters : range, sequence of int, slice, int or None
        Filters to return (None: all).
    normalization : {"filter", "layer"}
        Normalise each filter over its three channels (default) or the whole layer.
    mode : {"filter", "layer"}, optional
        Deprecated name of ``normalization``.

    Raises
    ------
    LayerNotViewableError
        If the layer does not take three input channels.
    """
    if bank.n_channels != 3:
        raise LayerNotViewableError(
            f"The layer {bank.layer!r} has {bank.n_channels} input channel(s); colour "
            "filters need exactly 3 (the first conv layer of an RGB model). "
            "Use filter_grid to show its kernels channel by channel."
        )
    normalization = _normalization(normalization, mode)
    grid = filter_grid(bank, filters, None, normalization)  # (F, 3, kh, kw)
    return np.ascontiguousarray(grid.transpose(0, 2, 3, 1))
