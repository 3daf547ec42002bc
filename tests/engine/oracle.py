"""The independent oracle: its own preparation of the input and plain Keras sub-models.

Nothing here calls the engine: the input is resized with Pillow and preprocessed with
the model's own function (or a division by 255) written out in the test, and every
activation comes from ``keras.Model(model.inputs, layer.output)``.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
from PIL import Image


def unit(x: np.ndarray) -> np.ndarray:
    """The default preprocessing of models the engine does not know: 0-255 -> 0-1."""
    return x / 255.0


def oracle_prepare(image: np.ndarray, size: tuple[int, int],
                   preprocess: Callable[[np.ndarray], np.ndarray] = unit) -> np.ndarray:
    """A batch of one: channels last, each channel resized by Pillow (bilinear, float
    mode "F") to ``size`` = (height, width) when it differs, then ``preprocess``."""
    x = np.asarray(image, dtype=np.float32)
    if x.ndim == 2:
        x = x[..., None]
    height, width = size
    if x.shape[:2] != (height, width):
        x = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(x[..., c]))
                                 .resize((width, height), Image.Resampling.BILINEAR))
                      for c in range(x.shape[-1])], axis=-1)
    return np.asarray(preprocess(x[None].copy()), dtype=np.float32)


def oracle_activation(model, name: str, x: np.ndarray, feeders: dict[str, str] | None = None):
    """Return ``keras.Model(model.inputs, layer.output)(x)`` for the engine layer ``name``.

    Nested layers (``outer/inner``) are computed by feeding the nested model's own
    sub-model with the oracle value of the layer that feeds it (``feeders`` maps a
    nested model's path to that layer's name).
    """
    feeders = feeders or {}
    parts = name.split("/")
    if len(parts) == 1:
        layer = model.get_layer(name)
        return keras.ops.convert_to_numpy(keras.Model(model.inputs, layer.output)(x))[0]
    outer = model.get_layer(parts[0])
    fed = oracle_activation(model, feeders[parts[0]], x, feeders)[None]
    inner_name = "/".join(parts[1:])
    inner_feeders = {k.split("/", 1)[1]: v.split("/", 1)[1] for k, v in feeders.items() if "/" in k}
    if len(parts) == 2:
        return keras.ops.convert_to_numpy(
            keras.Model(outer.inputs, outer.get_layer(parts[1]).output)(fed))[0]
    return oracle_activation(outer, inner_name, fed, inner_feeders)


def flat_layer_names(model) -> list[str]:
    """``[l.name for l in model.layers]`` without the input layers."""
    return [layer.name for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer)]


def assert_matches(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-5) -> None:
    """Equal within ``rtol`` relative to the largest magnitude of ``expected``."""
    expected = np.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(float(np.abs(expected).max()), 1e-12)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)
