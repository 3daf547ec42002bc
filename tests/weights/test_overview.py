"""Stage layers and the block overview."""

from __future__ import annotations

import keras
import numpy as np

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.testing import skip_connection_model, tiny_cnn
from cnnviz_widgets.weights import block_overview, stage_layers

VGG_STAGES = ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"]


def test_vgg16_stage_ends(vgg16):
    assert stage_layers(ActivationEngine(vgg16)) == VGG_STAGES


def test_stage_ends_of_small_models(digits, nested):
    assert stage_layers(ActivationEngine(digits)) == ["conv1", "conv2", "conv3"]
    assert stage_layers(ActivationEngine(nested)) == [
        "backbone/conv1", "backbone/block/conv", "backbone/conv2"]
    assert stage_layers(ActivationEngine(skip_connection_model())) == ["merge"]


def test_strided_conv_ends_a_stage_and_vgg_with_head():
    model = keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(4, 3, padding="same", name="a"),
        keras.layers.Conv2D(4, 3, name="b"),  # valid: smaller, same resolution
        keras.layers.Conv2D(4, 3, strides=2, name="down"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.ReLU(name="act"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
    ])
    assert stage_layers(ActivationEngine(model)) == ["b", "act"]


def test_block_overview_on_vgg16(vgg16):
    engine = ActivationEngine(vgg16)
    image = np.random.default_rng(0).uniform(0, 255, (32, 32, 3)).astype(np.float32)
    overview = block_overview(engine, image, channels=4)
    assert [name for name, _ in overview] == VGG_STAGES
    assert [maps.shape for _, maps in overview] == [
        (32, 32, 4), (16, 16, 4), (8, 8, 4), (4, 4, 4), (2, 2, 4)]
    np.testing.assert_array_equal(overview[2][1], engine.activation("block3_conv3", image)[..., :4])


def test_block_overview_orders_channels():
    engine = ActivationEngine(tiny_cnn())
    image = np.random.default_rng(1).uniform(0, 255, (8, 8, 1)).astype(np.float32)
    [(name, maps)] = block_overview(engine, image, channels=10, order="max", layers=["conv_a"])
    act = engine.activation("conv_a", image)
    order = np.argsort(-act.reshape(-1, 4).max(axis=0), kind="stable")
    assert name == "conv_a" and maps.shape == (8, 8, 4)
    np.testing.assert_array_equal(maps, act[..., order])


def test_block_overview_takes_a_model_and_the_top_of_the_order():
    model = tiny_cnn()
    image = np.random.default_rng(2).uniform(0, 255, (8, 8, 1)).astype(np.float32)
    [(_, maps)] = block_overview(model, image, channels=2, order="mean", layers=["conv_a"])
    act = ActivationEngine(model).activation("conv_a", image)
    means = act.reshape(-1, act.shape[-1]).mean(axis=0)
    top = sorted(range(act.shape[-1]), key=lambda k: (-means[k], k))[:2]
    np.testing.assert_allclose(maps, act[..., top], rtol=1e-6)
    assert stage_layers(model) == stage_layers(ActivationEngine(model))
