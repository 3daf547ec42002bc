"""What the engine knows about one layer: its kind, its output's axes, its description.

:class:`LayerInfo` describes one viewable layer (name, kind, output shape, what the
output's axes mean); :func:`layer_kind` sorts Keras layer classes into families;
:class:`InputShape` is a model input's shape that also says what its axes mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cnnviz_widgets._keras import keras

__all__ = ["AXES", "InputShape", "LayerInfo", "ModelInput", "layer_kind", "token_grid"]

#: What the axes of a layer's output (without the batch axis) mean, see :attr:`LayerInfo.axes`.
AXES = ("image", "plane", "sequence", "tokens", "vector", "volume", "other")

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
        Position of the layer's call in the flattened, topologically ordered plan (the
        entries of the outputs of one layer share it).
    class_name : str
        The Keras class of the layer (``Conv2D``, ``MaxPooling2D``, ...).
    parent : str
        Path of the nested model that holds the layer, ``""`` at the top level.
    depth : int
        How deeply the layer is nested (0 at the top level).
    n_outputs : int
        How many tensors the layer returns. Each output of a layer with several is shown
        as its own entry, named ``name[i]``, with its own ``output_shape`` (the step's
        own entry, named ``name``, has the first output's shape).
    axes : str
        What the output's axes mean: ``"image"`` (H, W, C) maps, ``"plane"`` one (H, W)
        map, ``"sequence"`` (T, C): C channels over time (1-D convolutions),
        ``"tokens"`` (T, D): T tokens of D features (transformers), ``"vector"`` (C,),
        ``"volume"`` (D, H, W, C): C channels over depth (or frames), height and width
        (3-D convolutions), or ``"other"``. ``""`` (the default) derives it from the
        rank alone, a rank-2 output being a plane; the engine sets it for every layer of a
        model.
    output_index : int
        Which output of the layer this entry is (0 for a layer with one output).
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
    output_index: int = 0

    @property
    def layout(self) -> str:
        """:attr:`axes`, derived from the rank when it was not set."""
        if self.axes:
            return self.axes
        return {4: "volume", 3: "image", 2: "plane", 1: "vector"}.get(len(self.output_shape),
                                                                      "other")

    @property
    def is_spatial(self) -> bool:
        """True for outputs with a height and width axis: (H, W, C) or (H, W)."""
        return self.layout in ("image", "plane")

    @property
    def channels(self) -> int | None:
        """Number of channels: 1 for an (H, W) map, C for (H, W, C), a volume (D, H, W, C), a
        sequence (T, C) and a vector (C,), D for tokens (T, D).

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
        return {4: "volume", 3: "image", 1: "vector"}.get(rank, "other")
    if signal or info.class_name.endswith("1D"):
        return "sequence"
    if info.output_shape == input_shape[:2]:  # the image itself, e.g. its channels squeezed
        return "plane"
    return "tokens"



def _input_axes(input_shape: tuple[int | None, ...], steps: list[Any]) -> str:
    """``"image"`` (H, W, C), ``"plane"`` (H, W), ``"sequence"`` (T, C), ``"volume"``
    (D, H, W, C) or ``"other"``.

    A rank-2 input is a signal (T, C) when the model has a 1-D layer (``Conv1D``,
    ``MaxPooling1D``, ...), and a greyscale image otherwise.
    """
    rank = len(input_shape)
    if rank == 4:
        return "volume"
    if rank == 3:
        return "image"
    if rank == 2:
        signal = any(step.info.class_name.endswith("1D") for step in steps)
        return "sequence" if signal else "plane"
    return "other"


class InputShape(tuple):
    """A model input's shape without the batch axis, a tuple that also says what its axes mean.

    It compares and slices like the plain tuple; :attr:`axes` is ``"image"`` (H, W, C),
    ``"plane"`` (H, W), ``"sequence"`` (T, C), ``"volume"`` (D, H, W, C) or ``"other"``
    (see :attr:`Plan.input_axes`), so that a function given ``engine.input_shape`` knows
    whether (N, T, C) is a stack of signals or (H, W, C) one image.
    """

    axes: str

    def __new__(cls, shape: Any, axes: str = "image") -> InputShape:
        self = super().__new__(cls, shape)
        self.axes = axes
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (InputShape, (tuple(self), self.axes))


@dataclass(frozen=True)
class ModelInput:
    """One input of the model: its name, shape without the batch axis, dtype and key."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str
    key: int

    @property
    def label(self) -> str:
        """``'meta' (4,) float32``: how messages show it."""
        return f"{self.name!r} {self.shape} {self.dtype}"

