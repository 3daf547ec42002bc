"""The independent oracle: a plain Keras sub-model on the same prepared input."""

from __future__ import annotations

import keras
import numpy as np


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
        return keras.Model(model.inputs, layer.output)(x).numpy()[0]
    outer = model.get_layer(parts[0])
    fed = oracle_activation(model, feeders[parts[0]], x, feeders)[None]
    inner_name = "/".join(parts[1:])
    inner_feeders = {k.split("/", 1)[1]: v.split("/", 1)[1] for k, v in feeders.items() if "/" in k}
    if len(parts) == 2:
        return keras.Model(outer.inputs, outer.get_layer(parts[1]).output)(fed).numpy()[0]
    return oracle_activation(outer, inner_name, fed, inner_feeders)



def assert_matches(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-5) -> None:
    """Equal within ``rtol`` relative to the largest magnitude of ``expected``."""
    assert actual.shape == expected.shape
    scale = max(float(np.abs(expected).max()), 1e-12)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)
