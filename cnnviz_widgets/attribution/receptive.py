"""The effective receptive field: where in the input one map position really looks."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.coerce import as_engine
from ..errors import LayerNotViewableError, SelectionOutOfRangeError
from . import autodiff

__all__ = ["effective_receptive_field"]


def effective_receptive_field(model_or_engine: Any, layer: str, row: int, col: int,
                              image: Any, channel: int | None = None) -> np.ndarray:
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
    layer : str
        A layer with spatial output.
    row, col : int
        The position in the layer's output.
    image : path, bytes, PIL image or numpy array
        The input image.
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
        if size is not None and not 0 <= value < size:
            raise SelectionOutOfRangeError(
                f"There is no {what} {value} in layer {layer!r}: it has {size}, numbered 0 "
                f"to {size - 1}.")
    channels = info.channels or 1
    if channel is not None and not 0 <= channel < channels:
        raise SelectionOutOfRangeError(
            f"There is no channel {channel}: layer {layer!r} has {channels} channel(s), "
            f"numbered 0 to {channels - 1}.")
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
