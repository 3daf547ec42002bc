"""Receptive-field arithmetic over the engine's flattened plan (internal).

For every layer the recursion keeps two numbers along the main path from the input:
the *jump* (distance in input pixels between neighbouring output positions, i.e. the
product of all strides so far) and the receptive-field *size* (width in input pixels
of the window that one output position sees)::

    size_out = size_in + (k_eff - 1) * jump_in,    k_eff = dilation * (k - 1) + 1
    jump_out = jump_in * stride

Layers that mix inputs (``Add``, ``Concatenate``) take the input with the largest
field; layers that do not move pixels around (activations, batch norm, dropout,
padding) keep the values of their input.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

__all__ = ["Field", "plan_of", "receptive_fields"]


@dataclass(frozen=True)
class Field:
    """Receptive field of one layer's output: ``size`` and ``jump`` in input pixels.

    ``size`` is None once the spatial axes are gone (dense, flatten, global pooling).
    """

    size: Fraction | None
    jump: Fraction

    @property
    def size_int(self) -> int | None:
        """The size as an int (rounded up when a transposed conv made it fractional)."""
        if self.size is None:
            return None
        return int(-(-self.size.numerator // self.size.denominator))


def _pair(value: Any, n: int = 2) -> tuple[int, ...]:
    if value is None:
        return (1,) * n
    if isinstance(value, int):
        return (value,) * n
    return tuple(int(v) for v in value)


def plan_of(engine: Any) -> Any:
    """Return the flattened plan behind an :class:`ActivationEngine`."""
    return engine.plan


def _spatial_kernel(layer: Any) -> tuple[int, int, int, int] | None:
    """Return (kernel, stride, dilation, transposed) along the width for windowed layers."""
    cls = type(layer).__name__
    if cls.startswith("Global"):
        return None
    if hasattr(layer, "pool_size") and getattr(layer, "pool_size", None) is not None:
        k = _pair(layer.pool_size)[-1]
        s = _pair(getattr(layer, "strides", None) or layer.pool_size)[-1]
        return k, s, 1, 0
    if hasattr(layer, "kernel_size"):
        k = _pair(layer.kernel_size)[-1]
        s = _pair(getattr(layer, "strides", 1))[-1]
        d = _pair(getattr(layer, "dilation_rate", 1))[-1]
        return k, s, d, int("Transpose" in cls)
    return None


def receptive_fields(plan: Any) -> dict[str, Field]:
    """Return ``{layer name: Field}`` for every step of ``plan``.

    Parameters
    ----------
    plan : cnnviz_widgets.engine.layers.Plan
        The flattened plan of a model (``build_plan(model)``).

    Returns
    -------
    dict
        One :class:`Field` per layer name, computed along the main path.
    """
    state: dict[int, Field] = {plan.input_key: Field(Fraction(1), Fraction(1))}
    fields: dict[str, Field] = {}
    for step in plan.steps:
        ins = [state[k] for k in step.inputs if k in state]
        spatial_ins = [f for f in ins if f.size is not None]
        if spatial_ins:
            base = max(spatial_ins, key=lambda f: (f.size, f.jump))
        elif ins:
            base = ins[0]
        else:
            base = Field(Fraction(1), Fraction(1))
        field = base
        if base.size is not None:
            if not step.info.is_spatial:
                field = Field(None, base.jump)
            else:
                window = _spatial_kernel(step.layer)
                cls = step.info.class_name
                if window is not None:
                    k, s, d, transposed = window
                    k_eff = d * (k - 1) + 1
                    if transposed:
                        jump = base.jump / s
                        field = Field(base.size + (k_eff - 1) * jump, jump)
                    else:
                        field = Field(base.size + (k_eff - 1) * base.jump, base.jump * s)
                elif cls.startswith("UpSampling"):
                    field = Field(base.size, base.jump / _pair(step.layer.size)[-1])
        for k in step.outputs:
            state[k] = field
        fields[step.info.name] = field
    return fields
