"""LRP against Zennit on identical weights: a VGG-style and a ResNet-style network.

``tests/attribution/relevance/data/zennit_reference.npz`` was made by
``scripts/zennit_reference.py`` with PyTorch and Zennit 0.5.1: the weights (in Keras'
layout), uint8 images, and Zennit's input relevance under three composites, batch
normalisation folded by ``SequentialMergeBatchNorm``, sums of branches under the ``Norm``
rule. The networks are rebuilt here in Keras, layer for layer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import LRP

DATA = Path(__file__).parent / "data" / "zennit_reference.npz"
COMPOSITES = ("epsilon_plus_flat", "epsilon_gamma_box", "epsilon_alpha2_beta1")


def prepare(pixels: np.ndarray) -> np.ndarray:
    return (np.asarray(pixels, np.float32) / 255.0 - 0.5) / 0.25


def _vgg(keras):
    layers = keras.layers
    x = inputs = keras.Input((16, 16, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(x)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(16, 3, padding="same", name="c3_0")(x)
    x = layers.BatchNormalization(epsilon=1e-5, name="c3_1")(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(12, activation="relu", name="fc1")(x)
    return keras.Model(inputs, layers.Dense(5, name="fc2")(x))


def _conv_bn(keras, x, filters, kernel, stride, pad, name):
    if pad:
        x = keras.layers.ZeroPadding2D(pad)(x)
    x = keras.layers.Conv2D(filters, kernel, strides=stride, name=f"{name}_0")(x)
    return keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_1")(x)


def _block(keras, x, filters, stride, name):
    out = _conv_bn(keras, x, filters, 3, stride, 1, f"{name}_a")
    out = keras.layers.ReLU()(out)
    out = _conv_bn(keras, out, filters, 3, 1, 1, f"{name}_b")
    short = x if stride == 1 and x.shape[-1] == filters else \
        _conv_bn(keras, x, filters, 1, stride, 0, f"{name}_short")
    return keras.layers.ReLU()(keras.layers.Add()([out, short]))


def _resnet(keras):
    x = inputs = keras.Input((16, 16, 3))
    x = keras.layers.ReLU()(_conv_bn(keras, x, 8, 3, 1, 1, "stem"))
    # the blocks in a nested model: relevance goes through models inside models
    inner_in = keras.Input((16, 16, 8))
    inner = keras.Model(inner_in, _block(keras, _block(keras, inner_in, 8, 1, "block1"), 16, 2,
                                         "block2"), name="blocks")
    x = keras.layers.GlobalAveragePooling2D()(inner(x))
    return keras.Model(inputs, keras.layers.Dense(5, name="fc")(x))


def _load(model, data, prefix):
    layers = {layer.name: layer for layer in model.layers}
    for layer in model.layers:
        if hasattr(layer, "layers"):
            layers.update({sub.name: sub for sub in layer.layers})
    for name, layer in layers.items():
        if hasattr(layer, "layers"):
            continue
        names = [w.path.rsplit("/", 1)[-1] for w in layer.weights]
        if names:
            layer.set_weights([data[f"{prefix}/{name}/{n}"] for n in names])


@pytest.fixture(scope="module")
def reference():
    import keras

    data = dict(np.load(DATA))
    models = {"vgg": _vgg(keras), "resnet": _resnet(keras)}
    for prefix, model in models.items():
        _load(model, data, prefix)
    return data, models


@pytest.mark.parametrize("name", ["vgg", "resnet"])
def test_the_keras_networks_are_zennits(reference, name):
    data, models = reference
    logits = np.asarray(models[name](prepare(data[f"{name}/pixels"])))
    np.testing.assert_allclose(logits, data[f"{name}/logits"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("composite", COMPOSITES)
@pytest.mark.parametrize("name", ["vgg", "resnet"])
def test_lrp_matches_zennit(reference, name, composite):
    data, models = reference
    engine = ActivationEngine(models[name], preprocess=prepare)
    lrp = LRP(engine, composite=composite)
    ours = np.stack([lrp.relevance(engine.prepare(p), target=int(t))[0]
                     for p, t in zip(data[f"{name}/pixels"], data["targets"], strict=True)])
    theirs = data[f"{name}/{composite}"]
    scale = np.abs(theirs).max(axis=(1, 2, 3), keepdims=True)
    assert np.abs(ours - theirs).max() / scale.min() < 1e-4
    np.testing.assert_allclose(ours.sum(axis=(1, 2, 3)), theirs.sum(axis=(1, 2, 3)), rtol=1e-4)
