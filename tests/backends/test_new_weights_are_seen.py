"""Compiled programs read the model's current weights, under every backend.

TensorFlow's ``tf.function`` reads variables at each call; a ``jax.jit`` would keep the
values of its first trace as constants unless they are passed in, which the gradient
methods and the scan do. A model trained further (or given other weights) between two
calls must give the new numbers, as a fresh engine does.
"""

from __future__ import annotations

import numpy as np

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import GradCAM, Saliency
from cnnviz_widgets.engine.scan import scan
from cnnviz_widgets.testing import tiny_cnn


def _images():
    return np.random.default_rng(0).uniform(0, 255, (6, 8, 8, 1)).astype(np.float32)


def test_gradient_methods_see_new_weights():
    model = tiny_cnn()
    engine = ActivationEngine(model)
    image = _images()[0]
    before = Saliency(engine)(image, target=1), GradCAM(engine)(image, target=1, upsample=False)
    model.set_weights([w * 1.5 for w in model.get_weights()])
    engine.clear_cache()  # the cached activations are the old weights'
    after = Saliency(engine)(image, target=1), GradCAM(engine)(image, target=1, upsample=False)
    fresh = ActivationEngine(model)
    want = Saliency(fresh)(image, target=1), GradCAM(fresh)(image, target=1, upsample=False)
    for old, got, new in zip(before, after, want, strict=True):
        assert not np.allclose(old, new)
        np.testing.assert_allclose(got, new, rtol=1e-5, atol=1e-7 * np.abs(new).max())


def test_a_scan_sees_new_weights():
    model = tiny_cnn()
    engine = ActivationEngine(model)
    first = np.asarray(scan(engine, _images(), layers=["conv_a"]).get("conv_a").max)
    model.set_weights([w * 2 for w in model.get_weights()])
    engine.clear_cache()
    second = np.asarray(scan(engine, _images(), layers=["conv_a"]).get("conv_a").max)
    assert first.max() > 0
    np.testing.assert_allclose(second, 2 * first, rtol=1e-5)  # conv + ReLU: homogeneous
