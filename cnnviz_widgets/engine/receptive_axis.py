"""Receptive-field geometry along one axis, and the rule of each kind of layer for it.

An :class:`Axis` keeps, along one spatial axis of a layer's output, the window of input
pixels a position sees (its size, the jump between neighbouring positions, the start of
position 0) and the input pixels read at all; :func:`layer_axes` steps the axes of a layer's
input to those of its output (windows, transposed windows, upsampling, padding, cropping,
global pooling), :func:`union` joins the inputs of a merge. The formulas are in
:mod:`cnnviz_widgets.engine.receptive`, which composes them over a model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

__all__ = ["Axis", "layer_axes", "union"]


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


# -- one axis ----------------------------------------------------------------------------
# Each rule returns the new axis without ``seen`` and the first and last input positions
# that any output position reads (None when unknown); :func:`_step_axis` turns those into
# the new ``seen``.
_Rule = tuple[Axis, "tuple[int, int] | None"]


def _per_axis(value: Any, default: int = 1, n: int = 2) -> tuple[Any, ...]:
    """The value along each of ``n`` axes of a Keras size argument: ``(rows, cols)``, or
    ``(depth, rows, cols)`` for a 3-D layer; a 1-D layer's single value is the rows'."""
    if value is None:
        return (default,) * n
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    if len(value) == 1:
        return (value[0],) + (None,) * (n - 1)
    return tuple(value[:n]) + (None,) * (n - len(value))


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


def union(axes: list[Axis]) -> Axis:
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
def layer_axes(layer: Any, cls: str, axes: Sequence[Axis],
               lengths: Sequence[int | None]) -> tuple[Axis, ...]:
    """The axes of a spatial layer's output from those of its input: ``(rows, cols)``, or
    ``(depth, rows, cols)`` for a volume; ``lengths`` are the output's along each."""
    n = len(axes)
    window = None
    if getattr(layer, "pool_size", None) is not None:
        window = (layer.pool_size, getattr(layer, "strides", None) or layer.pool_size, None)
    elif getattr(layer, "kernel_size", None) is not None:
        window = (layer.kernel_size, getattr(layer, "strides", 1),
                  getattr(layer, "dilation_rate", 1))
    out = []
    for i, axis in enumerate(axes):
        length = lengths[i]
        rule: _Rule = (replace(axis, length=length if length is not None else axis.length),
                       _all_read(axis.length))
        if cls.startswith("Global"):  # keepdims=True
            rule = _whole(axis, length)
        elif window is not None:
            k, s, d = (_per_axis(v, 1, n)[i] for v in window)
            if k is not None:
                apply = _transposed if "Transpose" in cls else _window
                rule = apply(axis, k, s or 1, d or 1, layer.padding, length)
        elif cls.startswith("UpSampling"):
            s = _per_axis(layer.size, 1, n)[i]
            if s is not None:
                nearest = getattr(layer, "interpolation", None) in (None, "nearest")
                rule = _upsampled(axis, s, nearest, length)
        elif cls.startswith(("ZeroPadding", "Cropping")):
            raw = layer.padding if cls.startswith("ZeroPadding") else layer.cropping
            pair = _per_axis((raw,) if isinstance(raw[0], int) else tuple(raw), 1, n)[i]
            before, after = _per_axis(pair, 0) if pair is not None else (0, 0)
            rule = _moved(axis, before, after, 1 if cls.startswith("ZeroPadding") else -1,
                          length)
        out.append(_step_axis(axis, rule))
    return tuple(out)
