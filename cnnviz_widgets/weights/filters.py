"""Learned convolution filters as arrays: kernels, normalised grids, RGB first-layer tiles."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import LayerNotViewableError

__all__ = [
    "FilterBank",
    "conv_filters",
    "filter_grid",
    "kernel_layers",
    "n_pages",
    "page",
    "rgb_filters",
]

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


def _engine_of(model_or_engine: Any) -> Any:
    if hasattr(model_or_engine, "keras_layer") and hasattr(model_or_engine, "layers"):
        return model_or_engine
    from ..engine.activations import ActivationEngine

    return ActivationEngine(model_or_engine)


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
    engine = _engine_of(model_or_engine)
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
    engine = _engine_of(model_or_engine)
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
    bad = idx[(idx < -n) | (idx >= n)]
    if bad.size:
        raise IndexError(f"{what} index {int(bad[0])} is out of range; there are {n} {what}s.")
    return idx % n if n else idx


def _unit(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Min-max scale ``x`` to [0, 1] over ``axes``; constant blocks become 0.5."""
    lo = x.min(axis=axes, keepdims=True)
    hi = x.max(axis=axes, keepdims=True)
    span = hi - lo
    flat = span <= 0
    out = (x - lo) / np.where(flat, 1, span)
    out = np.where(flat, np.float32(0.5), out)
    return np.clip(out, 0, 1).astype(np.float32)


def filter_grid(
    bank: FilterBank,
    filters: Selection = None,
    channels: Selection = None,
    mode: NormMode = "filter",
) -> np.ndarray:
    """Return the chosen kernel slices as a (F, C, kh, kw) float32 array in [0, 1].

    Parameters
    ----------
    bank : FilterBank
        From :func:`conv_filters`.
    filters, channels : range, sequence of int, slice, int or None
        Output filters and input channels to return (None: all).
    mode : {"filter", "layer"}
        ``"filter"`` scales each filter, over all of its input channels, to 0-1
        ``(f - f.min()) / (f.max() - f.min())``, so channel pages stay comparable;
        ``"layer"`` uses one minimum and maximum for the whole layer.
        A constant filter (e.g. all zeros) becomes 0.5 everywhere.

    Returns
    -------
    numpy.ndarray
        Shape (F, C, kh, kw), float32, values in [0, 1].
    """
    if mode not in ("filter", "layer"):
        raise ValueError(f"mode must be 'filter' or 'layer', not {mode!r}")
    f = _indices(filters, bank.n_filters, "filter")
    c = _indices(channels, bank.n_channels, "channel")
    if f.size == 0 or c.size == 0:
        return np.zeros((f.size, c.size, *bank.kernel_size), dtype=np.float32)
    k = np.moveaxis(bank.kernels[..., f], (3, 2), (0, 1))  # (F, in, kh, kw)
    if mode == "filter":
        unit = _unit(k, (1, 2, 3))
    else:
        lo, hi = float(bank.kernels.min()), float(bank.kernels.max())
        if hi > lo:
            unit = np.clip((k - lo) / (hi - lo), 0, 1).astype(np.float32)
        else:
            unit = np.full(k.shape, 0.5, dtype=np.float32)
    return np.ascontiguousarray(unit[:, c])


def rgb_filters(bank: FilterBank, filters: Selection = None,
                mode: NormMode = "filter") -> np.ndarray:
    """Return first-layer kernels as colour tiles, shape (F, kh, kw, 3), values in [0, 1].

    Parameters
    ----------
    bank : FilterBank
        The kernels of a layer with exactly three input channels (an RGB first layer).
    filters : range, sequence of int, slice, int or None
        Filters to return (None: all).
    mode : {"filter", "layer"}
        Normalise each filter over its three channels (default) or the whole layer.

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
    grid = filter_grid(bank, filters, None, mode)  # (F, 3, kh, kw)
    return np.ascontiguousarray(grid.transpose(0, 2, 3, 1))


def n_pages(n_items: int, per_page: int) -> int:
    """Number of pages needed to show ``n_items`` items ``per_page`` at a time."""
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    return math.ceil(max(n_items, 0) / per_page)


def page(n_items: int, page: int, per_page: int) -> range:
    """Return the item indices on page ``page`` (0-based) as a range.

    Parameters
    ----------
    n_items : int
        How many items there are.
    page : int
        The page, 0-based; negative values count from the last page.
    per_page : int
        Items per page (>= 1).

    Raises
    ------
    IndexError
        If the page does not exist (page 0 of zero items is an empty range).

    Examples
    --------
    >>> page(10, 1, 4), page(10, 2, 4)
    (range(4, 8), range(8, 10))
    """
    pages = n_pages(n_items, per_page)
    if pages == 0 and page in (0, -1):
        return range(0, 0)
    if not -pages <= page < pages:
        raise IndexError(f"page {page} does not exist; there are {pages} pages (0-{pages - 1}).")
    page %= pages
    start = page * per_page
    return range(start, min(start + per_page, n_items))
