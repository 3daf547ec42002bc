"""Layers and models with several outputs: each output is a layer of its own.

The oracle is ``keras.Model(model.inputs, layer.output)``; for a layer with several
outputs its i-th tensor.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine, scan
from cnnviz_widgets.errors import InvalidSettingError, LayerNotFoundError, LayerNotViewableError
from cnnviz_widgets.testing import SplitChannels, multi_output_layer_model, two_head_cnn


def images(n: int, shape=(16, 16, 3), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *shape)).astype(np.float32)


def oracle(model, name: str, x: np.ndarray) -> np.ndarray:
    """Output of ``name`` (``layer`` or ``layer[i]``) for a prepared batch ``x``."""
    layer, _, index = name.partition("[")
    sub = keras.Model(model.inputs, model.get_layer(layer).output)
    out = sub([x])
    if index:
        out = out[int(index.rstrip("]"))]
    return np.asarray(out)


@pytest.fixture(scope="module")
def model():
    return two_head_cnn()


@pytest.fixture(scope="module")
def engine(model):
    return ActivationEngine(model)


def test_each_output_is_listed_with_its_own_shape(engine):
    assert engine.layer_names == ["conv", "split[0]", "split[1]", "conv_kind", "conv_colour",
                                  "gap_kind", "gap_colour", "kind", "colour"]
    first, second = engine.layer("split[0]"), engine.layer("split[1]")
    assert (first.output_shape, second.output_shape) == ((16, 16, 3), (16, 16, 3))
    assert (first.n_outputs, first.output_index, second.output_index) == (2, 0, 1)
    assert first.layout == "image" and first.class_name == "SplitChannels"
    assert engine.layer("split").n_outputs == 2  # the layer itself is still described
    assert engine.keras_layer("split[1]") is engine.keras_layer("split")
    assert engine.output_names == ["kind", "colour"] and engine.output == "kind"


def test_every_layer_and_output_matches_the_oracle(model, engine):
    x = images(1, seed=1)
    for name in engine.layer_names:
        np.testing.assert_allclose(engine.activation(name, x[0]), oracle(model, name, x)[0],
                                   rtol=1e-5, atol=1e-6)
    # name:i stands for name[i]
    np.testing.assert_array_equal(engine.activation("split:1", x[0]),
                                  engine.activation("split[1]", x[0]))
    assert engine.layer("split:0").name == "split[0]"
    both = engine.activations(["split[0]", "split[1]"], x[0])
    assert not np.allclose(both["split[0]"], both["split[1]"])


def test_the_layer_itself_is_refused_with_its_outputs_named(engine):
    with pytest.raises(LayerNotViewableError, match=r"'split' has 2 outputs.*'split\[0\]' or "
                                                    r"'split\[1\]'"):
        engine.activation("split", images(1)[0])
    with pytest.raises(LayerNotFoundError):
        engine.activation("split[2]", images(1)[0])
    with pytest.raises(LayerNotFoundError):
        engine.activation("conv[0]", images(1)[0])


def test_features_prepared_activation_forward_and_scan(model, engine):
    x = images(6, seed=2)
    np.testing.assert_allclose(engine.features("split[1]", x, batch_size=4),
                               oracle(model, "split[1]", x), rtol=1e-5, atol=1e-6)
    batch = engine.prepare(x[0])
    np.testing.assert_allclose(engine.prepared_activation("split[0]", batch),
                               oracle(model, "split[0]", x[:1]), rtol=1e-5, atol=1e-6)
    _, found = engine.forward(batch, layers=["split[1]"], stop_at_layers=True)
    np.testing.assert_allclose(np.asarray(found["split[1]"]), oracle(model, "split[1]", x[:1]),
                               rtol=1e-5, atol=1e-6)
    result = scan(engine, x * 255, ["split[1]", "split:0"], top_k=2, progress=False)
    np.testing.assert_allclose(result["split[1]"].max,
                               oracle(model, "split[1]", x).max(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(result["split:0"].max,
                               oracle(model, "split[0]", x).max(axis=(0, 1, 2)), rtol=1e-5)


@pytest.mark.parametrize("output", ["colour", 1])
def test_forward_returns_the_chosen_output(model, output):
    engine = ActivationEngine(model, output=output)
    assert engine.output == "colour"
    batch = engine.prepare(images(1, seed=3)[0])
    out, _ = engine.forward(batch)
    expected_kind, expected_colour = model(batch)
    np.testing.assert_allclose(np.asarray(out), np.asarray(expected_colour), rtol=1e-5,
                               atol=1e-6)
    # a pass from a given output of the split runs only what the chosen output needs
    given = engine.prepared_activation("split[1]", batch)
    before = engine.stats.layer_evaluations
    out2, _ = engine.forward(None, given={"split[1]": given})
    np.testing.assert_allclose(np.asarray(out2), np.asarray(expected_colour), rtol=1e-5,
                               atol=1e-6)
    assert engine.stats.layer_evaluations - before == 3  # conv_colour, gap_colour, colour
    default, _ = ActivationEngine(model).forward(batch)
    np.testing.assert_allclose(np.asarray(default), np.asarray(expected_kind), rtol=1e-5,
                               atol=1e-6)


def test_an_unknown_output_is_refused_with_the_outputs_listed(model):
    with pytest.raises(InvalidSettingError, match=r"0: 'kind', 1: 'colour'"):
        ActivationEngine(model, output="color")
    with pytest.raises(InvalidSettingError, match="output=2"):
        ActivationEngine(model, output=2)


def test_a_second_call_of_a_layer_with_outputs_wins_its_name():
    layers = keras.layers
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 5), name="image")
    split = SplitChannels(2, name="split")
    a, b = split(inp)
    c, d = split(layers.Conv2D(5, 1, name="mix")(inp))
    out = layers.Concatenate(name="sum")([a, b, c, d])
    model = keras.Model(inp, out)
    engine = ActivationEngine(model)
    assert sorted(engine.layer_names) == ["mix", "split:2[0]", "split:2[1]", "split[0]",
                                          "split[1]", "sum"]
    with pytest.raises(LayerNotViewableError, match="'split:2' has 2 outputs"):
        engine.activation("split:2", np.zeros((6, 6, 5)))
    x = images(1, (6, 6, 5), seed=4)
    mixed = keras.Model(model.inputs, model.get_layer("mix").output)([x])
    np.testing.assert_allclose(engine.activation("split:2[1]", x[0]),
                               np.asarray(mixed)[0, ..., 2:], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(engine.activation("split:1", x[0]), x[0, ..., 2:], rtol=1e-6)


def test_the_multi_output_layer_model_matches_the_oracle():
    model = multi_output_layer_model()
    engine = ActivationEngine(model)
    x = images(1, (10, 10, 3), seed=5)
    for name in engine.layer_names:
        np.testing.assert_allclose(engine.activation(name, x[0]), oracle(model, name, x)[0],
                                   rtol=1e-5, atol=1e-6)


def test_a_structure_of_tensors_in_a_sequential_model_is_refused_clearly():
    model = keras.Sequential([keras.Input((6, 6, 5)), keras.layers.Conv2D(5, 1, name="mix"),
                              SplitChannels(2, name="split")])
    engine = ActivationEngine(model)
    assert engine.layer_names == ["mix"] and engine.output_names == ["split"]
    assert engine.layer("split").n_outputs == 2
    with pytest.raises(LayerNotViewableError, match="returns 2 tensors as one structure"):
        engine.activation("split", images(1, (6, 6, 5))[0])
    x = images(1, (6, 6, 5), seed=6)
    expected = keras.Model(model.inputs, model.get_layer("mix").output)([x])
    np.testing.assert_allclose(engine.activation("mix", x[0]), np.asarray(expected)[0],
                               rtol=1e-5, atol=1e-6)
