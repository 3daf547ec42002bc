"""The widget tests' oracle: a layer's output from a plain Keras sub-model, and the
min-max scale written out, independent of the engine's layer plan and the colour layer.

Only the input batch comes from the panel (``engine.prepare``): the engine's own
preparation is tested against an independent one in ``tests/engine/oracle.py``.
"""

from __future__ import annotations

import keras
import numpy as np


def layer_output(model, name: str, panel) -> np.ndarray:
    """``keras.Model(model.inputs, layer.output)`` of layer ``name`` on the batch the
    panel's engine prepared for its current image, without the batch axis."""
    batch = panel.engine.prepare(panel.images[panel.image_index])
    return keras.Model(model.inputs, model.get_layer(name).output)(batch).numpy()[0]


def minmax(a: np.ndarray) -> np.ndarray:
    """``a`` scaled to [0, 1] by its own minimum and maximum (zeros when constant)."""
    lo, hi = a.min(), a.max()
    return np.zeros_like(a) if hi == lo else (a - lo) / (hi - lo)
