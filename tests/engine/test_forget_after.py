"""Dropping only the cached activations that depend on a layer whose weights changed."""

from __future__ import annotations

import numpy as np

from cnnviz_widgets import ActivationEngine, zoo
from cnnviz_widgets._keras import keras


def test_forget_after_drops_the_layer_and_what_follows_only():
    model = zoo.digits_cnn()
    images, _ = zoo.digit_samples(1)
    engine = ActivationEngine(model)
    names = ["conv1", "conv2", "conv3"]
    engine.activations(names, images[0])
    kernel = model.get_layer("conv2").kernel
    kernel.assign(np.asarray(kernel.numpy()) * 2.0)

    stale = engine.activation("conv2", images[0])  # cached before the change
    dropped = engine.forget_after("conv2")
    assert dropped >= 2  # conv2, conv3 and the layers between them

    hits = engine.stats.cache_hits
    engine.activation("conv1", images[0])
    assert engine.stats.cache_hits == hits + 1  # before the layer: still cached
    batch = np.asarray(engine.prepare(images[0]))
    for name in ("conv2", "conv3"):
        oracle = keras.Model(model.inputs, model.get_layer(name).output)
        np.testing.assert_allclose(engine.activation(name, images[0]),
                                   np.asarray(oracle(batch))[0], rtol=1e-5, atol=1e-5)
    assert not np.allclose(stale, engine.activation("conv2", images[0]))
