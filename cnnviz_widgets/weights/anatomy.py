"""Model anatomy: one row per layer with its shape, parameters and receptive field."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from .._deprecation import renamed_argument
from ..engine.activations import ActivationEngine
from ..engine.layers import build_plan
from ..engine.receptive import receptive_fields

__all__ = ["Anatomy", "LayerRecord", "anatomy", "kernel_shape_string"]


@dataclass(frozen=True)
class LayerRecord:
    """One row of the anatomy table.

    Attributes
    ----------
    index : int
        Position in the flattened layer list (as in ``ActivationEngine.layers``).
    name : str
        Layer name; layers of nested models are named by path (``vgg16/block1_conv1``),
        exactly as in ``ActivationEngine(model).layer_names``.
    type : str
        Keras class name (``Conv2D``, ``MaxPooling2D``, ...).
    kind : str
        Family of the layer (``conv``, ``pool``, ``dense``, ...).
    output_shape : tuple
        Output shape without the batch axis; None marks a size that depends on the input.
    params : int
        Number of parameters of the layer (trainable and not).
    trainable_params : int
        Number of trainable parameters of the layer.
    kernel_shape : str or None
        For layers with a convolution kernel: its shape as ``"3x3x3x64"``
        (height x width x input channels x output channels); depthwise-separable
        layers show ``"depthwise + pointwise"``.
    strides : tuple of int or None
        Strides of convolutions and pooling layers.
    padding : str or None
        Padding of convolutions and pooling layers (``"valid"`` or ``"same"``).
    receptive_field : int or None
        Width in input pixels of the window one output position sees, along the main
        path from the input (nested models included); None once the spatial axes are gone.
    jump : float or None
        Distance in input pixels between neighbouring output positions (product of
        the strides so far); None once the spatial axes are gone.
    """

    index: int
    name: str
    type: str
    kind: str
    output_shape: tuple[int | None, ...]
    params: int
    trainable_params: int
    kernel_shape: str | None = None
    strides: tuple[int, ...] | None = None
    padding: str | None = None
    receptive_field: int | None = None
    jump: float | None = None


def _n(weights: Any) -> int:
    return int(sum(int(np.prod(tuple(w.shape))) for w in weights))


def kernel_shape_string(layer: Any) -> str | None:
    """Return the convolution kernel shape of ``layer`` as ``"3x3x3x64"``, or None."""

    def fmt(w: Any) -> str:
        return "x".join(str(int(d)) for d in tuple(w.shape))

    depthwise = getattr(layer, "depthwise_kernel", None)
    pointwise = getattr(layer, "pointwise_kernel", None)
    if depthwise is not None and pointwise is not None:
        return f"{fmt(depthwise)} + {fmt(pointwise)}"
    kernel = getattr(layer, "kernel", None)
    if kernel is None or not hasattr(layer, "kernel_size"):
        return None
    return fmt(kernel)


@dataclass
class Anatomy:
    """The anatomy of a model: one :class:`LayerRecord` per layer and the totals.

    Attributes
    ----------
    records : list of LayerRecord
        One row per layer, in the order of ``ActivationEngine.layers``.
    total_params : int
        All parameters of the model (equals ``model.count_params()``).
    trainable_params : int
        Trainable parameters of the model.
    non_trainable_params : int
        ``total_params - trainable_params`` (e.g. batch-norm moving statistics).
    model_name : str
        Name of the model.
    """

    records: list[LayerRecord]
    total_params: int
    trainable_params: int
    non_trainable_params: int
    model_name: str = ""

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, name: str) -> LayerRecord:
        """Return the record of the layer called ``name``."""
        for record in self.records:
            if record.name == name:
                return record
        from ..errors import LayerNotFoundError

        raise LayerNotFoundError(name, [r.name for r in self.records])

    def to_records(self) -> list[dict[str, Any]]:
        """Return the rows as a list of plain dicts (e.g. for ``pandas.DataFrame``)."""
        return [asdict(r) for r in self.records]

    def _repr_html_(self) -> str:
        def fmt_shape(shape: tuple[int | None, ...]) -> str:
            return " x ".join("?" if s is None else str(s) for s in shape)

        def cell(value: Any, right: bool = False) -> str:
            style = ' style="text-align:right"' if right else ""
            return f"<td{style}>{html.escape('' if value is None else str(value))}</td>"

        heads = ["#", "layer", "type", "output shape", "params", "kernel", "strides",
                 "padding", "receptive field"]
        rows = []
        for r in self.records:
            strides = "x".join(str(s) for s in r.strides) if r.strides else None
            rf = f"{r.receptive_field}x{r.receptive_field}" if r.receptive_field else None
            rows.append(
                "<tr>" + cell(r.index, True) + cell(r.name) + cell(r.type)
                + cell(fmt_shape(r.output_shape)) + cell(f"{r.params:,}", True)
                + cell(r.kernel_shape) + cell(strides) + cell(r.padding) + cell(rf, True)
                + "</tr>"
            )
        head = "".join(f"<th>{h}</th>" for h in heads)
        foot = (
            f"<p>Total params: {self.total_params:,} &middot; trainable: "
            f"{self.trainable_params:,} &middot; non-trainable: "
            f"{self.non_trainable_params:,}</p>"
        )
        title = f"<p><b>{html.escape(self.model_name)}</b></p>" if self.model_name else ""
        return (
            f'{title}<table class="cnnviz-anatomy"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>{foot}"
        )

    @staticmethod
    def columns() -> list[str]:
        """Names of the record fields, in order."""
        return [f.name for f in fields(LayerRecord)]


@renamed_argument("model", "model_or_engine")
def anatomy(model_or_engine: Any) -> Anatomy:
    """Describe every layer of a model: shapes, parameters, kernels, receptive fields.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        A built model with one input; an engine is accepted too (its model is used).
        Nested models are expanded into their layers, named by path. (``model=`` is
        the deprecated name of this argument.)

    Returns
    -------
    Anatomy
        ``records`` (one :class:`LayerRecord` per layer), ``total_params`` and
        ``trainable_params``.

    Examples
    --------
    >>> from cnnviz_widgets.testing import digits_like_cnn
    >>> a = anatomy(digits_like_cnn())
    >>> a.total_params, a["conv2"].params, a["conv2"].kernel_shape
    (110474, 18496, '3x3x32x64')
    """
    if isinstance(model_or_engine, ActivationEngine):
        plan = model_or_engine.plan
        model = model_or_engine.model
    else:
        model = model_or_engine
        plan = build_plan(model)
    rf = receptive_fields(plan)
    records = []
    for step in plan.steps:
        layer, info = step.layer, step.info
        windowed = info.kind in ("conv", "pool") and not info.class_name.startswith("Global")
        strides = padding = None
        if windowed:
            raw = getattr(layer, "strides", None)
            strides = tuple(int(s) for s in raw) if raw is not None else None
            padding = getattr(layer, "padding", None)
        field = rf[info.name]
        jump = None
        if field.size is not None:
            jump = int(field.jump) if field.jump.denominator == 1 else float(field.jump)
        records.append(
            LayerRecord(
                index=info.index,
                name=info.name,
                type=info.class_name,
                kind=info.kind,
                output_shape=tuple(info.output_shape),
                params=_n(layer.weights),
                trainable_params=_n(layer.trainable_weights),
                kernel_shape=kernel_shape_string(layer),
                strides=strides,
                padding=padding,
                receptive_field=field.size_int,
                jump=jump,
            )
        )
    total = int(model.count_params())
    trainable = _n(model.trainable_weights)
    return Anatomy(records, total, trainable, total - trainable, str(model.name))
