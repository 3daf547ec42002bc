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


def untied(values: np.ndarray, rtol: float = 1e-5, atol: float = 1e-6) -> np.ndarray:
    """Mask of the entries of ``values`` (one row) that no other entry equals within tolerance."""
    values = np.asarray(values, dtype=np.float64).ravel()
    close = np.isclose(values[:, None], values[None, :], rtol=rtol, atol=atol)
    return close.sum(axis=1) == 1


def assert_order_agrees(indices, values, start: int = 0, rtol: float = 1e-5,
                        atol: float = 1e-6) -> None:
    """``indices`` are places ``start``, ``start + 1``, ... of ``values`` sorted from the
    largest (equal values by index), ``values`` being computed another way (another batch,
    process or backend), so equal only up to float32 rounding.

    Every place holds a value equal to the expected one within tolerance; the index itself
    is compared wherever that value ties with no other (a near tie may swap).
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    indices = np.asarray(indices, dtype=np.int64).ravel()
    order = np.argsort(-values, kind="stable")[start:start + len(indices)]
    assert len(order) == len(indices), (indices, len(values))
    np.testing.assert_allclose(values[indices], values[order], rtol=rtol, atol=atol)
    clear = untied(values, rtol, atol)[order]
    np.testing.assert_array_equal(indices[clear], order[clear])


def assert_at_maximum(position, values, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """``position`` (an index into ``values``) is where ``values``, computed another way,
    are largest: its value equals the maximum up to float32 rounding."""
    values = np.asarray(values, dtype=np.float64)
    np.testing.assert_allclose(values[position], values.max(), rtol=rtol, atol=atol)


def _at_most(counts: np.ndarray, edges: np.ndarray, where: np.ndarray) -> np.ndarray:
    """How many of a histogram's values lie in bins that end at or below each of ``where``."""
    return np.array([counts[edges[1:] <= x].sum() for x in where])


def assert_scans_agree(ours, reference, layers=None, rtol: float = 1e-5,
                       atol: float = 1e-6) -> None:
    """Two scans of the same images found the same statistics, up to float32 rounding.

    Scans batched differently (other batch sizes, another process, another CPU) add up
    convolutions in another order, so their floats differ in the last bits: see
    :func:`assert_channels_agree`.
    """
    assert ours.layers == reference.layers
    assert ours.spans == reference.spans and ours.count == reference.count
    for layer in layers or ours.layers:
        assert_channels_agree(ours[layer], reference[layer], rtol, atol)


def assert_channels_agree(a, b, rtol: float = 1e-5, atol: float = 1e-6,
                          labels: bool = True) -> None:
    """Two layers' channel statistics over the same images agree up to float32 rounding.

    Values are compared with a tolerance, the images and positions of the top-k where their
    values do not tie, and counts that depend on a comparison (``> 0``, a histogram bin) to
    within the few values that lie within rounding of the boundary. ``labels=False``: one
    of the two was scanned without labels.
    """
    assert a.count == b.count and a.channels == b.channels
    np.testing.assert_allclose(a.max, b.max, rtol=rtol, atol=atol)
    np.testing.assert_allclose(a.top_values, b.top_values, rtol=rtol, atol=atol)
    np.testing.assert_allclose(a.mean, b.mean, rtol=rtol, atol=atol)
    for c in range(a.channels):
        # the last place may tie with an image just outside the list: not compared
        clear = untied(b.top_values[c], rtol, atol)
        clear[-1] = False
        np.testing.assert_array_equal(a.top_indices[c, clear], b.top_indices[c, clear])
        if labels:
            np.testing.assert_array_equal(a.top_labels[c, clear], b.top_labels[c, clear])
        # where in the map: the same unless two positions of one map nearly tie
        placed = clear & (np.abs(b.top_values[c]) > atol)
        np.testing.assert_array_equal(a.top_positions[c, placed], b.top_positions[c, placed])
    if labels:  # class means: sums of float32 means, added up in another order
        assert (a.class_means is None) == (b.class_means is None)
        if a.class_means is not None:
            np.testing.assert_allclose(a.class_means, b.class_means, rtol=rtol, atol=atol)
            np.testing.assert_allclose(a.class_selectivity, b.class_selectivity,
                                       rtol=1e-4, atol=1e-5)
    slack = max(2, int(1e-4 * max(a.count, 1)))
    np.testing.assert_allclose(a.firing, b.firing, atol=slack)
    np.testing.assert_allclose(a.positive_fraction, b.positive_fraction, atol=1e-4)
    for c in range(a.channels):
        (ca, ea), (cb, eb) = a.histogram(c), b.histogram(c)
        assert ca.sum() == cb.sum()
        where = np.union1d(ea, eb)
        np.testing.assert_allclose(_at_most(ca, ea, where), _at_most(cb, eb, where), atol=slack)
