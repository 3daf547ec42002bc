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

__all__ = ["Axis", "Field", "has_positions", "plan_of", "receptive_box", "receptive_fields"]

_ONE = Fraction(1)


@dataclass(frozen=True)
class Axis:
    """Receptive field of one layer's output along one spatial axis, in input pixels.

    Attributes
    ----------
    size : Fraction
        Width of the window of input pixels one position sees.
    jump : Fraction
        Distance between the windows of neighbouring positions.
    start : Fraction or None
        First input pixel of the window of position 0 (negative when it overhangs into
        padding); None when it depends on an input size that is not known.
    length : int or None
        Number of positions of the layer's output along the axis; None when unknown.
    seen : (int, int) or None
        The input pixels ``[first, end)`` that the layer's positions depend on at all:
        windows are cut to them, which drops the image's padding and the rows or columns
        that a "valid" window or a crop leaves out. None when a length is unknown.
    """

    size: Fraction
    jump: Fraction
    start: Fraction | None
    length: int | None
    seen: tuple[int, int] | None = None

    def window(self, position: int) -> tuple[int, int] | None:
        """Return ``(first, end)``, the window of ``position`` in input pixels, uncut.

        ``end`` is exclusive. Fractional bounds (after an upsampling) are widened to whole
        pixels. None when :attr:`start` is unknown.
        """
        if self.start is None:
            return None
        low = self.start + position * self.jump
        return math.floor(low), math.ceil(low + self.size)

    def span(self, position: int) -> tuple[int, int] | None:
        """Return ``(first, end)``: :meth:`window` cut to :attr:`seen`, empty as ``(x, x)``.

        None when :attr:`start` or :attr:`seen` is unknown.
        """
        window = self.window(position)
        if window is None or self.seen is None:
            return None
        first = max(window[0], self.seen[0])
        return first, max(min(window[1], self.seen[1]), first)


@dataclass(frozen=True)
class Field:
    """Receptive field of one layer's output: an :class:`Axis` for the rows and the columns.

    ``spatial`` is False once the spatial axes are gone (dense, flatten, global pooling);
    ``rows`` and ``cols`` then keep the values of the last spatial layer.
    """

    rows: Axis
    cols: Axis
    spatial: bool = True

    @property
    def size(self) -> Fraction | None:
        """The larger of the two window sizes; None once the spatial axes are gone."""
        return max(self.rows.size, self.cols.size) if self.spatial else None

    @property
    def jump(self) -> Fraction:
        """The larger of the two jumps (the product of the strides so far)."""
        return max(self.rows.jump, self.cols.jump)

    @property
    def size_int(self) -> int | None:
        """The size as an int (rounded up when a transposed conv made it fractional)."""
        if self.size is None:
            return None
        return math.ceil(self.size)


def plan_of(model_or_engine: Any) -> Any:
    """Return the flattened plan behind a model or an :class:`ActivationEngine`."""
    return as_engine(model_or_engine).plan


# -- one axis ----------------------------------------------------------------------------
# Each rule returns the new axis without ``seen`` and the first and last input positions
# that any output position reads (None when unknown); :func:`_step_axis` turns those into
# the new ``seen``.
_Rule = tuple[Axis, "tuple[int, int] | None"]


def _per_axis(value: Any, default: int = 1) -> tuple[Any, Any]:
    """``(rows, cols)`` of a Keras size argument; a 1-D layer's single value is the rows'."""
    if value is None:
        return default, default
    if isinstance(value, int):
        return value, value
    value = tuple(value)
    if len(value) == 1:
        return value[0], None
    return value[0], value[1]


def _same_padding(n: int | None, k_eff: int, s: int) -> int | None:
    """Padding TensorFlow puts before the first pixel for ``"same"``; None if ``n`` is needed."""
    if s == 1:
        return (k_eff - 1) // 2
    if n is None:
        return None
    return max((-(-n // s) - 1) * s + k_eff - n, 0) // 2


def _all_read(n: int | None) -> tuple[int, int] | None:
    return None if n is None else (0, n - 1)


def _taps(n_in: int | None, n_out: int | None, k: int, s: int, d: int,
          pad: int | None) -> tuple[int, int] | None:
    """First and last input position that any output of a window layer reads."""
    if n_in is None or n_out is None or pad is None:
        return None
    firsts, lasts = [], []
    for t in range(k):
        offset = t * d - pad  # output p reads input p * s + offset
        p = max(0, -(offset // s))
        if p < n_out and p * s + offset < n_in:
            firsts.append(p * s + offset)
        p = min(n_out - 1, (n_in - 1 - offset) // s)
        if p >= 0 and p * s + offset >= 0:
            lasts.append(p * s + offset)
    return (min(firsts), max(lasts)) if firsts else (1, 0)


def _window(axis: Axis, k: int, s: int, d: int, padding: str, length: int | None) -> _Rule:
    k_eff = d * (k - 1) + 1
    n = axis.length
    if padding == "same":
        pad = _same_padding(n, k_eff, s)
        computed = None if n is None else -(-n // s)
    else:
        pad = k_eff - 1 if padding == "causal" else 0
        computed = None if n is None else (n + pad - k_eff) // s + 1
    length = length if length is not None else computed
    start = None if axis.start is None or pad is None else axis.start - pad * axis.jump
    return (Axis(axis.size + (k_eff - 1) * axis.jump, axis.jump * s, start, length),
            _taps(n, length, k, s, d, pad))


def _transposed(axis: Axis, k: int, s: int, d: int, padding: str, length: int | None) -> _Rule:
    # Output q gets input i when q = i * s + t - pad, 0 <= t < k_eff: a window of
    # (k_eff - 1) / s + 1 input positions starting at (q + pad - k_eff + 1) / s.
    k_eff = d * (k - 1) + 1
    n = axis.length
    if length is None and n is not None:
        length = n * s if padding == "same" else n * s + max(k_eff - s, 0)
    pad: int | None = 0
    if padding == "same":
        pad = None if length is None else _same_padding(length, k_eff, s)
    jump = axis.jump / s
    start = None
    if pad is not None and axis.start is not None:
        start = axis.start + Fraction(pad - k_eff + 1, s) * axis.jump
    return Axis(axis.size + (k_eff - 1) * jump, jump, start, length), _all_read(n)


def _upsampled(axis: Axis, s: int, nearest: bool, length: int | None) -> _Rule:
    # Nearest: q reads floor(q / s), between (q - s + 1) / s and q / s. Bilinear: the
    # neighbours of (q + 1/2) / s - 1/2, between that minus one and that plus one.
    if nearest:
        offset, extra = Fraction(1 - s, s), Fraction(s - 1, s)
    else:
        offset, extra = Fraction(1, 2 * s) - Fraction(3, 2), Fraction(2)
    start = None if axis.start is None else axis.start + offset * axis.jump
    if length is None and axis.length is not None:
        length = axis.length * s
    return (Axis(axis.size + extra * axis.jump, axis.jump / s, start, length),
            _all_read(axis.length))


def _moved(axis: Axis, before: int, after: int, sign: int, length: int | None) -> _Rule:
    """ZeroPadding (``sign`` +1) or Cropping (``sign`` -1) of ``before``/``after`` pixels."""
    n = axis.length
    if length is None and n is not None:
        length = n + sign * (before + after)
    start = None if axis.start is None else axis.start - sign * before * axis.jump
    read = _all_read(n) if sign > 0 or n is None else (before, n - 1 - after)
    return Axis(axis.size, axis.jump, start, length), read


def _whole(axis: Axis, length: int | None) -> _Rule:
    """Global pooling that keeps its axes: one position that reads every input."""
    n = axis.length
    if n is None:
        return Axis(axis.size, axis.jump, None, length), None
    return Axis(axis.size + (n - 1) * axis.jump, axis.jump * n, axis.start, 1), _all_read(n)


def _step_axis(axis: Axis, rule: _Rule) -> Axis:
    """The new axis of a rule, with ``seen`` cut from the input's by the positions read."""
    new, read = rule
    seen = None
    if read is not None and axis.seen is not None:
        if read[0] > read[1]:  # nothing but padding is read
            seen = (axis.seen[0], axis.seen[0])
        else:
            first, end = axis.window(read[0]), axis.window(read[1])
            if first is not None and end is not None:
                low = max(first[0], axis.seen[0])
                seen = (low, max(min(end[1], axis.seen[1]), low))
    return replace(new, seen=seen)


def _union(axes: list[Axis]) -> Axis:
    """The window that covers the windows of several inputs of a merge layer."""
    widest = max(axes, key=lambda a: (a.size, a.jump))
    if len(axes) == 1:
        return widest
    seens = [a.seen for a in axes]
    seen = None
    if all(s is not None for s in seens):
        seen = (min(s[0] for s in seens), max(s[1] for s in seens))
    if len({a.jump for a in axes}) > 1 or any(a.start is None for a in axes):
        return replace(widest, seen=seen)
    first = min(a.start for a in axes)
    end = max(a.start + a.size for a in axes)
    return Axis(end - first, widest.jump, first, widest.length, seen)


# -- one layer ---------------------------------------------------------------------------
def _layer_axes(layer: Any, cls: str, rows: Axis, cols: Axis,
                lengths: tuple[int | None, int | None]) -> tuple[Axis, Axis]:
    """The rows and columns of a spatial layer's output from those of its input."""
    window = None
    if getattr(layer, "pool_size", None) is not None:
        window = (layer.pool_size, getattr(layer, "strides", None) or layer.pool_size, None)
    elif getattr(layer, "kernel_size", None) is not None:
        window = (layer.kernel_size, getattr(layer, "strides", 1),
                  getattr(layer, "dilation_rate", 1))
    out = []
    for i, axis in enumerate((rows, cols)):
        length = lengths[i]
        rule: _Rule = (replace(axis, length=length if length is not None else axis.length),
                       _all_read(axis.length))
        if cls.startswith("Global"):  # keepdims=True
            rule = _whole(axis, length)
        elif window is not None:
            k, s, d = (_per_axis(v)[i] for v in window)
            if k is not None:
                apply = _transposed if "Transpose" in cls else _window
                rule = apply(axis, k, s or 1, d or 1, layer.padding, length)
        elif cls.startswith("UpSampling"):
            s = _per_axis(layer.size)[i]
            if s is not None:
                nearest = getattr(layer, "interpolation", None) in (None, "nearest")
                rule = _upsampled(axis, s, nearest, length)
        elif cls.startswith(("ZeroPadding", "Cropping")):
            raw = layer.padding if cls.startswith("ZeroPadding") else layer.cropping
            pair = _per_axis((raw,) if isinstance(raw[0], int) else tuple(raw))[i]
            before, after = _per_axis(pair, 0) if pair is not None else (0, 0)
            rule = _moved(axis, before, after, 1 if cls.startswith("ZeroPadding") else -1,
                          length)
        out.append(_step_axis(axis, rule))
    return out[0], out[1]


def has_positions(plan: Any, info: Any) -> bool:
    """True for a layer whose positions have receptive fields: (H, W[, C]) maps, and the
    (T, C) sequences of a model whose input is a signal (T is then the rows, one column).

    Parameters
    ----------
    plan : Plan
        The model's plan.
    info : LayerInfo
        One of its layers.
    """
    return info.is_spatial or (info.layout == "sequence"
                               and getattr(plan, "input_axes", "") == "sequence")


def _lengths(shape: tuple[int | None, ...], sequence: bool = False
             ) -> tuple[int | None, int | None]:
    if sequence:
        return (shape[0] if shape else None), 1
    if len(shape) >= 2:
        return shape[0], shape[1]
    return (shape[0] if shape else None), None


def _compute(plan: Any, size: tuple[int | None, int | None]) -> dict[str, Field]:
    start = tuple(Axis(_ONE, _ONE, Fraction(0), n, None if n is None else (0, n))
                  for n in size)
    state: dict[int, Field] = {plan.input_key: Field(*start)}
    for other in plan.other_inputs:  # inputs held fixed have no field in the image
        state[other.key] = Field(*start, spatial=False)
    fields: dict[str, Field] = {}
    for step in plan.steps:
        ins = [state[k] for k in step.inputs if k in state]
        spatial_ins = [f for f in ins if f.spatial]
        infos = step.output_infos or (step.info,)
        for k, info in zip(step.outputs, infos, strict=True):
            field = ins[0] if ins else Field(*start)
            if spatial_ins:
                rows = _union([f.rows for f in spatial_ins])
                cols = _union([f.cols for f in spatial_ins])
                field = Field(rows, cols, spatial=False)
                if has_positions(plan, info):
                    field = Field(*_layer_axes(step.layer, info.class_name, rows, cols,
                                               _lengths(info.output_shape,
                                                        info.layout == "sequence")))
            elif ins:
                field = replace(ins[0], spatial=False)
            state[k] = field
            fields[info.name] = field
        fields.setdefault(step.info.name, state[step.outputs[0]])
    return fields


# -- memo: the fields of a plan are computed once per plan and input size ------------------
_MEMO: dict[int, dict[tuple[int | None, int | None], dict[str, Field]]] = {}
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


def _input_size(plan: Any, image_size: Any) -> tuple[int | None, int | None]:
    """The model's input height and width, completed by ``image_size`` where it has none.

    A signal (T, C) is T rows of one column.
    """
    shape = _lengths(plan.input_shape, getattr(plan, "input_axes", "") == "sequence")
    if image_size is None:
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
    plan = plan_of(model_or_engine)
    view, step = plan.view(layer), plan.by_name.get(layer)
    if view is None and step is None:
        raise LayerNotFoundError(layer, plan.views)
    info = view.info if view is not None else step.info
    field = _fields(plan, image_size)[info.name]
    if not (has_positions(plan, info) and field.spatial):
        raise LayerNotViewableError(
            f"The layer {layer!r} has output shape {info.output_shape} without spatial "
            "axes (an image's rows and columns, or a signal's time steps), so its outputs "
            "have no receptive box. Pick a convolution or pooling layer."
        )
    box = []
    for name, value, axis in (("row", row, field.rows), ("col", col, field.cols)):
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
                "depends on it: pass image_size=(height, width)."
            )
        if not 0 <= position < axis.length:
            raise SelectionOutOfRangeError(
                f"{name} {position} is outside the layer {layer!r}, whose output has "
                f"{axis.length} {name}s: use 0 to {axis.length - 1}."
            )
        box.append(span)
    (top, bottom), (left, right) = box
    return top, left, bottom, right

