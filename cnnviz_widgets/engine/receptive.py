"""Receptive-field geometry: which input pixels each position of a layer sees.

For every layer the recursion keeps, along each spatial axis (rows and columns
separately) on the main path from the input, three numbers in input pixels:

- the *jump*: distance between neighbouring output positions (the product of all
  strides so far);
- the *size*: width of the window of input pixels that one output position sees;
- the *start*: the first (top or left) input pixel of the window of position 0. It is
  negative when the window overhangs the image into padding.

Position ``p`` then sees the input pixels ``[start + p * jump, start + p * jump + size)``
(half open), centred on ``start + (size - 1) / 2 + p * jump``. A window layer with
kernel ``k``, stride ``s``, dilation ``d`` and ``pad_before`` pixels of padding before
the first input pixel gives::

    k_eff     = d * (k - 1) + 1
    size_out  = size_in + (k_eff - 1) * jump_in
    jump_out  = jump_in * s
    start_out = start_in - pad_before * jump_in

``pad_before`` is 0 for ``"valid"``, ``k_eff - 1`` for ``"causal"`` and for ``"same"`` the
padding TensorFlow and Keras use: ``pad_total = max((ceil(n / s) - 1) * s + k_eff - n, 0)``
and ``pad_before = pad_total // 2``, where ``n`` is the length of the layer's input along
the axis (read from the plan's shapes; with ``s == 1`` it is ``(k_eff - 1) // 2`` for any
``n``). Convolutions, depthwise and separable convolutions and pooling layers are window
layers; ``ZeroPadding`` moves the start back by its leading padding and ``Cropping``
forward by its leading crop. Transposed convolutions and ``UpSampling`` divide the jump
by their factor; their windows are bounds that contain every pixel the position depends
on, each side wider by less than one jump of their input. Layers that mix inputs
(``Add``, ``Concatenate``) take the union of their inputs' windows; layers that do not
move pixels around (activations, batch norm, dropout) keep the values of their input.

Each axis also keeps the input pixels that the layer's positions read at all
(:attr:`Axis.seen`): the image, less what "valid" windows and crops leave out along the
way. A window is cut to them, so that a position near the border, whose window
overhangs into padding, gets the box of the pixels it really reads.

:func:`receptive_box` turns this into the box of input pixels that one position of a
layer sees. The *jump* is also the resolution of a layer, by which
:func:`~cnnviz_widgets.engine.stages.stage_layers` cuts a network into stages.
"""

from __future__ import annotations

import math
import operator
import weakref
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from ..errors import (
    InvalidSettingError,
    LayerNotFoundError,
    LayerNotViewableError,
    SelectionOutOfRangeError,
)
from .coerce import as_engine
from .receptive_axis import Axis, layer_axes, union

__all__ = ["Axis", "Field", "has_positions", "plan_of", "receptive_box", "receptive_fields",
           "volume_box"]

_ONE = Fraction(1)


@dataclass(frozen=True)
class Field:
    """Receptive field of one layer's output: an :class:`Axis` for the rows and the columns,
    and for the depth (slices or frames) of a volume.

    ``spatial`` is False once the spatial axes are gone (dense, flatten, global pooling);
    ``rows`` and ``cols`` (and ``depth``) then keep the values of the last spatial layer.
    ``depth`` is None for a model whose input is not a volume.
    """

    rows: Axis
    cols: Axis
    spatial: bool = True
    depth: Axis | None = None

    @property
    def axes(self) -> tuple[Axis, ...]:
        """``(rows, cols)``, or ``(depth, rows, cols)`` for a volume."""
        return (self.rows, self.cols) if self.depth is None else (
            self.depth, self.rows, self.cols)

    @classmethod
    def of(cls, axes: tuple[Axis, ...], spatial: bool = True) -> Field:
        """The field of ``(rows, cols)`` or ``(depth, rows, cols)``."""
        if len(axes) == 3:
            return cls(axes[1], axes[2], spatial, axes[0])
        return cls(axes[0], axes[1], spatial)

    @property
    def size(self) -> Fraction | None:
        """The largest window size of the axes; None once the spatial axes are gone."""
        return max(a.size for a in self.axes) if self.spatial else None

    @property
    def jump(self) -> Fraction:
        """The largest jump of the axes (the product of the strides so far)."""
        return max(a.jump for a in self.axes)

    @property
    def size_int(self) -> int | None:
        """The size as an int (rounded up when a transposed conv made it fractional)."""
        if self.size is None:
            return None
        return math.ceil(self.size)


def plan_of(model_or_engine: Any) -> Any:
    """Return the flattened plan behind a model or an :class:`ActivationEngine`."""
    return as_engine(model_or_engine).plan


def has_positions(plan: Any, info: Any) -> bool:
    """True for a layer whose positions have receptive fields: (H, W[, C]) maps, the
    (T, C) sequences of a model whose input is a signal (T is then the rows, one column),
    and the (D, H, W, C) volumes of a model whose input is a volume.

    Parameters
    ----------
    plan : Plan
        The model's plan.
    info : LayerInfo
        One of its layers.
    """
    axes = getattr(plan, "input_axes", "")
    if "volume" in (axes, info.layout):  # a volume's positions map only to a volume's
        return axes == info.layout
    return info.is_spatial or (info.layout == "sequence" and axes == "sequence")


def _lengths(shape: tuple[int | None, ...], sequence: bool = False, volume: bool = False
             ) -> tuple[int | None, ...]:
    if volume:
        return tuple(shape[:3])
    if sequence:
        return (shape[0] if shape else None), 1
    if len(shape) >= 2:
        return shape[0], shape[1]
    return (shape[0] if shape else None), None


def _compute(plan: Any, size: tuple[int | None, ...]) -> dict[str, Field]:
    start = tuple(Axis(_ONE, _ONE, Fraction(0), n, None if n is None else (0, n))
                  for n in size)
    state: dict[int, Field] = {plan.input_key: Field.of(start)}
    for other in plan.other_inputs:  # inputs held fixed have no field in the image
        state[other.key] = Field.of(start, spatial=False)
    fields: dict[str, Field] = {}
    for step in plan.steps:
        ins = [state[k] for k in step.inputs if k in state]
        spatial_ins = [f for f in ins if f.spatial]
        infos = step.output_infos or (step.info,)
        for k, info in zip(step.outputs, infos, strict=True):
            field = ins[0] if ins else Field.of(start)
            if spatial_ins:
                axes = tuple(union([f.axes[i] for f in spatial_ins])
                             for i in range(len(start)))
                field = Field.of(axes, spatial=False)
                if has_positions(plan, info):
                    field = Field.of(layer_axes(step.layer, info.class_name, axes,
                                                _lengths(info.output_shape,
                                                         info.layout == "sequence",
                                                         info.layout == "volume")))
            elif ins:
                field = replace(ins[0], spatial=False)
            state[k] = field
            fields[info.name] = field
        fields.setdefault(step.info.name, state[step.outputs[0]])
    return fields


# -- memo: the fields of a plan are computed once per plan and input size ------------------
_MEMO: dict[int, dict[tuple[int | None, ...], dict[str, Field]]] = {}
_MEMO_SIZES = 16  # input sizes remembered per plan (models that take any image size)


def _fields(plan: Any, image_size: Any = None) -> dict[str, Field]:
    size = _input_size(plan, image_size)
    per_plan = _MEMO.get(id(plan))
    if per_plan is None:
        per_plan = _MEMO[id(plan)] = {}
        weakref.finalize(plan, _MEMO.pop, id(plan), None)
    fields = per_plan.get(size)
    if fields is None:
        if len(per_plan) >= _MEMO_SIZES:
            del per_plan[next(iter(per_plan))]
        fields = per_plan[size] = _compute(plan, size)
    return fields


def _input_size(plan: Any, image_size: Any) -> tuple[int | None, ...]:
    """The model's input height and width, completed by ``image_size`` where it has none.

    A signal (T, C) is T rows of one column.
    """
    axes = getattr(plan, "input_axes", "")
    shape = _lengths(plan.input_shape, axes == "sequence", axes == "volume")
    if image_size is None or axes == "volume":
        return shape
    try:
        given = tuple(operator.index(v) for v in image_size)
    except TypeError:
        given = ()
    if len(given) != 2 or min(given) < 1:
        raise InvalidSettingError(
            f"image_size must be (height, width), two positive ints; got {image_size!r}."
        )
    for fixed, wanted, axis in zip(shape, given, ("height", "width"), strict=True):
        if fixed is not None and fixed != wanted:
            raise InvalidSettingError(
                f"image_size {given} does not fit the model, whose input {axis} is {fixed}. "
                "Images are resized to the model's input, so leave image_size out for "
                "this model."
            )
    return given


def receptive_fields(plan: Any, image_size: tuple[int, int] | None = None) -> dict[str, Field]:
    """Return ``{layer name: Field}`` for every step of ``plan``.

    Parameters
    ----------
    plan : cnnviz_widgets.engine.layers.Plan
        The flattened plan of a model (``build_plan(model)``).
    image_size : (int, int), optional
        Height and width of the input for a model that takes images of any size; they
        fix the ``"same"`` padding of strided layers and the lengths of the axes.

    Returns
    -------
    dict
        One :class:`Field` per layer name, computed along the main path. The fields are
        computed once per plan and input size; later calls reuse them.
    """
    return dict(_fields(plan, image_size))


def receptive_box(model_or_engine: Any, layer: str, row: int, col: int, *,
                  image_size: tuple[int, int] | None = None) -> tuple[int, int, int, int]:
    """Return the box of input pixels that position ``(row, col)`` of ``layer`` sees.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine built on it. Pass the engine when calling often: the
        fields are computed once per engine (per plan), a model builds a plan each call.
    layer : str
        Name of a layer with spatial output, (H, W) or (H, W, C), as the engine names it;
        or of a 1-D layer (T, C) of a model whose input is a signal: its time steps are
        the rows of a map of one column (``col`` 0), and so is the signal.
    row, col : int
        Position in the layer's output, ``0 <= row < H`` and ``0 <= col < W``.
    image_size : (int, int), optional
        Height and width of the image for a model that takes images of any size.

    Returns
    -------
    (top, left, bottom, right) : tuple of int
        Input pixel coordinates of the model's input (after resizing): rows
        ``top:bottom`` and columns ``left:right`` (bottom and right exclusive, so the
        box slices an image as ``image[top:bottom, left:right]``), cut to the pixels the
        layer reads (never outside the image; padding is left out). A position that
        reads only padding gets an empty box (``top == bottom`` or ``left == right``).
        The box is the smallest one holding every pixel the position depends on, for
        convolutions, pooling, padding, cropping and merges; it is wider when a dilated
        window overhangs padding (its taps may skip the first pixels) and after a
        transposed convolution or an upsampling (by less than one jump of its input on
        each side).

    Raises
    ------
    LayerNotFoundError
        If the model has no such layer.
    LayerNotViewableError
        If the layer's output has no spatial axes (dense, flatten, global pooling).
    SelectionOutOfRangeError
        If the position is outside the layer's output.
    InvalidSettingError
        If the model takes any image size and ``image_size`` is not given, or the
        position is not a pair of ints.

    Examples
    --------
    >>> from cnnviz_widgets.testing import digits_like_cnn
    >>> receptive_box(digits_like_cnn(), "conv2", 0, 1)
    (0, 2, 8, 10)
    """
    (top, bottom), (left, right) = _spans(model_or_engine, layer, image_size,
                                          (("row", row), ("col", col)))
    return top, left, bottom, right


def volume_box(model_or_engine: Any, layer: str, depth: int, row: int, col: int
               ) -> tuple[int, int, int, int, int, int]:
    """Return the 3-D box of input voxels that position ``(depth, row, col)`` of ``layer``
    of a model of volumes (or videos) sees.

    The geometry is :func:`receptive_box`'s along each of the three axes.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        A model whose input is a volume (D, H, W, C), or an engine built on it.
    layer : str
        Name of a layer with a volume output (D, H, W, C) (a 3-D convolution, pooling,
        upsampling or padding, ...).
    depth, row, col : int
        Position in the layer's output (slice or frame, row, column).

    Returns
    -------
    (front, top, left, back, bottom, right) : tuple of int
        Slices ``front:back``, rows ``top:bottom`` and columns ``left:right`` of the input
        (the ends exclusive, so the box slices a volume as
        ``volume[front:back, top:bottom, left:right]``), cut to the voxels the layer reads.

    Raises
    ------
    LayerNotFoundError, LayerNotViewableError, SelectionOutOfRangeError, InvalidSettingError
        As :func:`receptive_box`; LayerNotViewableError also for a model whose input is
        not a volume.
    """
    (front, back), (top, bottom), (left, right) = _spans(
        model_or_engine, layer, None, (("depth", depth), ("row", row), ("col", col)))
    return front, top, left, back, bottom, right


def _spans(model_or_engine: Any, layer: str, image_size: Any,
           positions: tuple[tuple[str, Any], ...]) -> list[tuple[int, int]]:
    """The input span of each named position of ``layer``, checked, one per axis."""
    plan = plan_of(model_or_engine)
    view, step = plan.view(layer), plan.by_name.get(layer)
    if view is None and step is None:
        raise LayerNotFoundError(layer, plan.views)
    info = view.info if view is not None else step.info
    field = _fields(plan, image_size)[info.name]
    if not (has_positions(plan, info) and field.spatial):
        raise LayerNotViewableError(
            f"The layer {layer!r} has output shape {info.output_shape} without spatial "
            "axes (an image's rows and columns, a volume's slices, rows and columns, or a "
            "signal's time steps), so its outputs have no receptive box. Pick a "
            "convolution or pooling layer."
        )
    if len(positions) != len(field.axes):
        call = ("receptive_box(engine, layer, row, col)" if field.depth is None
                else "volume_box(engine, layer, depth, row, col)")
        raise LayerNotViewableError(
            f"The layer {layer!r} has output shape {info.output_shape}: a position of it "
            f"has {len(field.axes)} coordinates, so its box is {call}."
        )
    box = []
    for (name, value), axis in zip(positions, field.axes, strict=True):
        try:
            position = operator.index(value)
        except TypeError:
            raise InvalidSettingError(
                f"{name} must be an int, got {type(value).__name__} {value!r}."
            ) from None
        span = axis.span(position)
        if span is None or axis.length is None:
            raise InvalidSettingError(
                f"The model takes images of any size, so the box of a position of {layer!r} "
                "depends on it: pass image_size=(height, width)." if field.depth is None else
                f"The model takes volumes of any size, so the box of a position of {layer!r} "
                "depends on it: build the model with a fixed input, e.g. keras.Input((D, H, "
                "W, C)) with numbers, and load the weights into it."
            )
        if not 0 <= position < axis.length:
            raise SelectionOutOfRangeError(
                f"{name} {position} is outside the layer {layer!r}, whose output has "
                f"{axis.length} {name}s: use 0 to {axis.length - 1}."
            )
        box.append(span)
    return box
