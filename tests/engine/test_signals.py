"""Models whose input is a signal (T, C): read as numbers, never as pixels.

The oracle is a plain ``keras.Model(model.inputs, layer.output)`` fed the signal itself:
no division by 255, no resizing.
"""

from __future__ import annotations

import pickle

import keras
import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine, scan
from cnnviz_widgets.engine.coerce import image_list, image_names
from cnnviz_widgets.engine.receptive import receptive_box
from cnnviz_widgets.engine.stages import stage_layers
from cnnviz_widgets.errors import ImageShapeError, SignalShapeError
from cnnviz_widgets.testing import tiny_conv1d

from .oracle import assert_at_maximum, assert_order_agrees


@pytest.fixture(scope="module")
def model():
    return tiny_conv1d()


@pytest.fixture(scope="module")
def engine(model):
    return ActivationEngine(model)


def signals(n: int, length: int = 64, channels: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, length, channels)) * 3.0 + 1.0).astype(np.float32)


def oracle(model, layer: str, x: np.ndarray) -> np.ndarray:
    """``keras.Model(model.inputs, layer.output)`` on a batch of raw signals."""
    sub = keras.Model(model.inputs, model.get_layer(layer).output)
    return np.asarray(sub([np.asarray(x, dtype=np.float32)]))


def test_the_input_is_a_signal(engine):
    assert engine.plan.input_axes == "sequence"
    assert engine.input_shape == (64, 2) and engine.input_shape.axes == "sequence"
    copied = pickle.loads(pickle.dumps(engine.input_shape))  # it travels to workers as it is
    assert copied == (64, 2) and copied.axes == "sequence"
    assert [i.layout for i in engine.layers] == ["sequence"] * 3 + ["vector"] * 2


def test_every_layer_matches_the_oracle_on_raw_values(model, engine):
    signal = signals(1)[0]  # values far outside 0-1 and 0-255 alike, negative too
    for name in engine.layer_names:
        np.testing.assert_allclose(engine.activation(name, signal),
                                   oracle(model, name, signal[None])[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(engine.pixels(signal), signal)
    np.testing.assert_array_equal(engine.prepare(signal), signal[None])


def test_a_batch_axis_of_one_and_one_channel_without_axis():
    model = tiny_conv1d(length=32, channels=1)
    engine = ActivationEngine(model)
    signal = signals(1, 32, 1, seed=3)[0]
    expected = oracle(model, "conv1d_b", signal[None])[0]
    for given in (signal, signal[:, 0], signal[None], signal[:, 0].astype(np.float64)):
        np.testing.assert_allclose(engine.activation("conv1d_b", given), expected,
                                   rtol=1e-5, atol=1e-5)
    # one channel: (N, T) is N signals, (T,) and (T, 1) one
    shape = engine.input_shape
    assert len(image_list(np.zeros((5, 32)), shape)) == 5
    assert len(image_list(np.zeros(32), shape)) == 1
    assert len(image_list(np.zeros((32, 1)), shape)) == 1


def test_a_preprocess_given_is_used(model):
    engine = ActivationEngine(model, preprocess=lambda x: x * 2.0 - 1.0)
    signal = signals(1, seed=1)[0]
    np.testing.assert_allclose(engine.activation("conv1d_a", signal),
                               oracle(model, "conv1d_a", signal[None] * 2.0 - 1.0)[0],
                               rtol=1e-5, atol=1e-5)


def test_stacks_split_into_signals(engine):
    stack = signals(5)
    items = image_list(stack, engine.input_shape)
    assert len(items) == 5
    np.testing.assert_array_equal(items[3], stack[3])
    assert len(image_list(stack[0], engine.input_shape)) == 1
    assert image_names(stack[:2], engine.input_shape) == ["signal 0", "signal 1"]


def test_features_prepared_activation_and_forward(model, engine):
    stack = signals(7, seed=2)
    np.testing.assert_allclose(engine.features("conv1d_b", stack, batch_size=3),
                               oracle(model, "conv1d_b", stack), rtol=1e-5, atol=1e-5)
    batch = engine.prepare(stack[0])
    np.testing.assert_allclose(engine.prepared_activation("pool1d", batch),
                               oracle(model, "pool1d", stack[:1]), rtol=1e-5, atol=1e-5)
    out, found = engine.forward(batch, layers=["conv1d_a"])
    np.testing.assert_allclose(np.asarray(out), model(stack[:1]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(found["conv1d_a"]),
                               oracle(model, "conv1d_a", stack[:1]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bad, words", [
    (np.zeros((60, 2)), "exactly 64 time steps; this one has 60"),
    (np.zeros((64, 3)), r"shape \(64, 2\).*got shape \(64, 3\)"),
    (np.zeros((2, 64)), "channels first: pass signal.T"),
    (np.full((64, 2), np.nan), "NaN or infinite"),
    (np.array([[np.inf, 0.0]] * 64), "NaN or infinite"),
    (np.zeros((3, 64, 2)), "3 signals: pass one at a time"),
    ("signal.wav", "numpy array of shape"),
    (np.array([["a", "b"]] * 64), "must hold numbers"),
])
def test_bad_signals_are_refused_clearly(engine, bad, words):
    with pytest.raises(SignalShapeError, match=words) as info:
        engine.prepare(bad)
    assert isinstance(info.value, ImageShapeError)


def test_scan_of_a_sequence_layer_equals_brute_force(model, engine):
    stack = signals(23, seed=4)
    k = 4
    result = scan(engine, stack, ["conv1d_b", "gap1d"], top_k=k, batch_size=5, progress=False)
    acts = oracle(model, "conv1d_b", stack).astype(np.float64)  # (N, T, C)
    stats = result["conv1d_b"]
    assert stats.map_shape == (32, 1) and stats.count == 23
    np.testing.assert_allclose(stats.max, acts.max(axis=(0, 1)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats.mean, acts.mean(axis=(0, 1)), rtol=1e-4, atol=1e-5)
    # scanned in batches of 5, the oracle in one of 23: a value within float32 rounding of
    # 0 may fall on either side
    np.testing.assert_allclose(stats.positive_count, (acts > 0).sum(axis=(0, 1)), atol=2)
    per_image = acts.max(axis=1)  # (N, C)
    order = np.argsort(-per_image, axis=0, kind="stable")[:k].T
    np.testing.assert_allclose(stats.top_values, np.take_along_axis(per_image.T, order, 1),
                               rtol=1e-5, atol=1e-6)
    for c in range(acts.shape[2]):
        # the top images where their values do not tie; where: the time step of the
        # maximum (a step whose value ties with it may be chosen), column 0
        assert_order_agrees(stats.top_indices[c], per_image[:, c])
        for j, n in enumerate(stats.top_indices[c]):
            step, column = (int(v) for v in stats.top_positions[c, j])
            assert column == 0
            assert_at_maximum(step, acts[n, :, c])
    np.testing.assert_allclose(result["gap1d"].max, oracle(model, "gap1d", stack).max(axis=0),
                               rtol=1e-5, atol=1e-6)
    # a list of signals gives the same numbers as the stack
    listed = scan(engine, list(stack), ["conv1d_b"], top_k=k, batch_size=5, progress=False)
    np.testing.assert_allclose(listed["conv1d_b"].max, stats.max, rtol=1e-6)
    np.testing.assert_array_equal(listed["conv1d_b"].top_indices, stats.top_indices)


def test_a_bad_signal_in_a_scan_is_skipped(engine):
    items = list(signals(4, seed=5)) + [np.zeros((10, 2))]
    result = scan(engine, items, ["conv1d_a"], progress=False)
    assert result["conv1d_a"].count == 4
    assert result.skipped[0][0] == 4 and "64 time steps" in result.skipped[0][1]


def test_receptive_fields_along_time(engine):
    assert stage_layers(engine) == ["conv1d_a", "conv1d_b"]
    # conv1d_b position 5 reads pool positions 4..6, i.e. conv1d_a steps 8..13, i.e.
    # signal steps 6..15 (kernel 5, "same")
    assert receptive_box(engine, "conv1d_b", 5, 0) == (6, 0, 16, 1)
    assert receptive_box(engine, "conv1d_a", 0, 0) == (0, 0, 3, 1)
    assert scan(engine, signals(3), progress=False).layers == ["conv1d_a", "conv1d_b"]
