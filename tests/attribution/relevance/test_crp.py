"""Concept relevance (CRP): channel heatmaps and scores are complete."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import LRP, ChannelRelevance
from cnnviz_widgets.errors import LayerNotFoundError, SelectionOutOfRangeError

TARGET = 1


@pytest.fixture(scope="module")
def residual():
    """A small residual network with biases and batch normalisation; "block" (the ReLU
    after the sum) is a layer every path from the input to the output goes through."""
    import keras

    keras.utils.set_random_seed(4)
    layers = keras.layers
    x = inputs = keras.Input((12, 12, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(x)
    y = layers.Conv2D(8, 3, padding="same", name="c1")(x)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(8, 3, padding="same", name="c2")(y)
    x = layers.ReLU(name="block")(layers.Add()([x, y]))
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(6, 3, activation="relu", name="c3")(x)
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(3, name="out")(x))
    image = np.random.default_rng(2).uniform(0, 255, (12, 12, 3)).astype(np.float32)
    return ActivationEngine(model, preprocess=lambda p: p / 127.5 - 1.0), image


@pytest.mark.parametrize("layer", ["block", "c3"])
def test_channel_heatmaps_add_up_to_the_lrp_heatmap(residual, layer):
    engine, image = residual
    whole = LRP(engine, composite="epsilon_plus")(image, target=TARGET, normalize=False)
    cr = ChannelRelevance(engine, layer, composite="epsilon_plus")
    maps = cr(image, target=TARGET, normalize=False)  # every channel, one pass
    assert maps.shape == (cr.channels, 12, 12)
    np.testing.assert_allclose(maps.sum(axis=0), whole, rtol=1e-4,
                               atol=1e-5 * np.abs(whole).max())


def test_scores_add_up_to_the_relevance_entering_the_layer(residual):
    """Under the epsilon rule the dense layer passes down its logit minus its bias's
    share, and the average pooling all of it: that is what enters c3."""
    import keras

    engine, image = residual
    cr = ChannelRelevance(engine, "c3", composite="epsilon")
    scores = cr.scores(image, target=TARGET)
    assert scores.shape == (6,)
    pooled = np.asarray(keras.Model(engine.model.inputs, engine.model.get_layer("out").input)(
        engine.prepare(image)))[0]
    kernel = engine.model.get_layer("out").get_weights()[0]
    np.testing.assert_allclose(scores.sum(), pooled @ kernel[:, TARGET], rtol=1e-4)


def test_channels_are_picked_in_the_order_given_and_normalized_together(residual):
    engine, image = residual
    cr = ChannelRelevance(engine, "block")
    raw = cr(image, channels=[5, -1, 0], target=TARGET, normalize=False)
    each = [cr(image, channels=c, target=TARGET, normalize=False)[0] for c in (5, 7, 0)]
    np.testing.assert_allclose(raw, np.stack(each), rtol=1e-4, atol=1e-9)
    unit = cr(image, channels=[5, 7, 0], target=TARGET)
    assert np.isclose(np.abs(unit).max(), 1.0)
    np.testing.assert_allclose(unit * np.abs(raw).max(), raw, rtol=1e-4, atol=1e-9)


def test_bad_channels_and_layers_get_our_errors(residual):
    engine, image = residual
    with pytest.raises(SelectionOutOfRangeError, match="no channel 8"):
        ChannelRelevance(engine, "block")(image, channels=[8])
    with pytest.raises(LayerNotFoundError):
        ChannelRelevance(engine, "blok")


def test_lrp_and_crp_run_compiled(residual):
    """A program that fails to compile falls back to eager passes, silently and several
    times slower: under TensorFlow and JAX every relevance program must compile."""
    import keras

    if keras.backend.backend() not in ("tensorflow", "jax"):
        pytest.skip("only TensorFlow and JAX compile the passes")
    engine, image = residual
    cr = ChannelRelevance(engine, "c3", composite="epsilon_gamma_box")
    cr(image, channels=[0, 1, 2], target=TARGET)
    cr.scores(image, target=TARGET)
    LRP(engine, composite="epsilon_gamma_box")(image, target=TARGET)
    programs = {key[1].split(":")[0]: program
                for key, program in engine.__dict__["_gradient_functions"].items()
                if "epsilon_gamma_box" in key[1]}
    assert set(programs) == {"lrp", "crp", "crp-layer", "crp-scores"}
    assert all(program is not None for program in programs.values())


@pytest.mark.parametrize("composite", ["epsilon_plus_flat", "epsilon_gamma_box",
                                       "epsilon_alpha2_beta1"])
def test_grouped_step_below_the_layer_equals_masked_copies(residual, composite):
    """One-hot conditions take the conditioned layer's own step for all channels at once
    (a grouped pass); conditions given as general masks take it once per masked copy.
    Both are the same relevance: on the first layer (z-box, flat), inner convolutions
    (with and without a ReLU of their own) and the dense output."""
    import keras

    from cnnviz_widgets.attribution.relevance.propagate import Condition

    engine, image = residual
    x = keras.ops.convert_to_tensor(engine.prepare(image))
    for layer in ("stem", "c2", "c3", "out"):
        cr = ChannelRelevance(engine, layer, composite=composite)
        masks = np.eye(cr.channels, dtype=np.float32)[[2, 0, 1]]
        masks[1] = 0.0  # a row that keeps nothing (as a pass's padding rows)
        values = cr.graph.forward(x)
        logits = cr.graph.output(values)
        start = keras.ops.convert_to_numpy(logits) * np.eye(3, dtype=np.float32)[TARGET]
        start = keras.ops.convert_to_tensor(start)
        got, want = (keras.ops.convert_to_numpy(cr.graph.backward(
            values, start, cr.composite, condition=Condition(cr._key, masks, one_hot=flag))[0])
            for flag in (True, False))
        assert got.shape == (3, 12, 12, 3)
        assert np.abs(want).max() > 0
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


def test_a_layer_with_a_folded_batch_normalisation_is_conditioned_after_it():
    """The convolution's batch normalisation is folded into it, so its relevance is that
    of the normalised output; every path goes through it: the maps add up to LRP's."""
    import keras

    keras.utils.set_random_seed(5)
    layers = keras.layers
    x = inputs = keras.Input((10, 10, 3))
    x = layers.Conv2D(4, 3, padding="same", name="conv")(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(3)(x))
    model.layers[2].set_weights([w + 0.3 for w in model.layers[2].get_weights()])
    engine = ActivationEngine(model)
    image = np.random.default_rng(5).uniform(0, 255, (10, 10, 3)).astype(np.float32)
    whole = LRP(engine, composite="epsilon_plus")(image, target=TARGET, normalize=False)
    maps = ChannelRelevance(engine, "conv", composite="epsilon_plus")(
        image, target=TARGET, normalize=False)
    assert maps.shape == (4, 10, 10) and np.abs(whole).max() > 0
    np.testing.assert_allclose(maps.sum(axis=0), whole, rtol=1e-4,
                               atol=1e-5 * np.abs(whole).max())
