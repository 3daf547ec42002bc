"""The effective receptive field: where in the input one map position really looks."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._deprecation import reordered
from ..checks import index_in, is_whole
from ..engine.coerce import as_engine
from ..errors import LayerNotViewableError
from . import autodiff

__all__ = ["effective_receptive_field"]


def _old_order(args: tuple[Any, ...], kwargs: dict[str, Any],
               ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """``(model, layer, row, col, image)``: a row number where the new order has the layer."""
    if len(args) < 3 or isinstance(args[2], str) or not is_whole(args[2]):
        return None
    names = ("model_or_engine", "layer", "row", "col", "image", "channel")
    return (), {**dict(zip(names, args, strict=False)), **kwargs}


@reordered("effective_receptive_field(model, layer, row, col, image)",
           "effective_receptive_field(model_or_engine, image, layer, row, col)", _old_order)
def effective_receptive_field(model_or_engine: Any, image: Any, layer: str, row: int,
                              col: int, channel: int | None = None) -> np.ndarray:
    """The gradient of one position of a layer with respect to the input pixels.

    Luo et al. (2016), "Understanding the effective receptive field": the box that a
    position can see (:func:`~cnnviz_widgets.engine.receptive.receptive_box`) is the
    theoretical field; how much each pixel of it actually moves the position is the
    gradient ``|d A[row, col, channel] / d x|`` (summed over the channels when
    ``channel`` is None), here maximised over the colour channels. It is zero outside
    the theoretical box and usually concentrated near its centre. Only the layers up to
    ``layer`` run.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine built on it (its preprocessing is used).
    image : path, bytes, PIL image or numpy array
        The input image.
    layer : str
        A layer with spatial output.
    row, col : int
        The position in the layer's output. The old order ``(model, layer, row, col,
        image)`` still works, with a warning.
    channel : int, optional
        One channel of the position; None sums them all.

    Returns
    -------
    numpy.ndarray
        float32 array (H, W), the model input's height and width, non-negative.

    Raises
    ------
    LayerNotFoundError
        If there is no such layer.
    LayerNotViewableError
        If the layer has no spatial output.
    SelectionOutOfRangeError
        If the position or the channel is outside the layer's output.
    """
    engine = as_engine(model_or_engine)
    info = engine.layer(layer)
    if not info.is_spatial:
        raise LayerNotViewableError(
            f"The layer {layer!r} has no spatial maps (output {info.output_shape}); a "
            "receptive field belongs to a position of a convolution or pooling layer.")
    height, width = info.output_shape[:2]
    for what, value, size in (("row", row, height), ("column", col, width)):
        if size is not None:
            index_in(value, size, what, f"layer {layer!r}")
    if channel is not None:
        index_in(channel, info.channels or 1, "channel", f"layer {layer!r}")
    x = np.asarray(engine.prepare(image), dtype=np.float32)

    def position(inputs: Any) -> Any:
        _, values = engine.forward(inputs, layers=[layer], stop_at_layers=True)
        value = values[layer][0, int(row), int(col)]
        if channel is not None and len(info.output_shape) == 3:
            value = value[..., int(channel)]
        return value

    _, (grads,) = autodiff.value_and_gradient(position, x)
    grads = np.abs(autodiff.to_numpy(grads).astype(np.float32)[0])
    return grads.max(axis=-1) if grads.ndim == 3 else grads
