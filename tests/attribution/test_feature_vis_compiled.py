"""Activation maximisation compiles one step for every scale of lucid's transforms, under
TensorFlow (dynamic shapes) and under JAX (a scale that keeps the size): in the Makefile's
``JAX_TESTS``."""

from __future__ import annotations

import keras
import numpy as np

from cnnviz_widgets.attribution import ActivationMaximization, standard_transforms
from cnnviz_widgets.attribution.transforms import InputTransform


class _Eager(InputTransform):
    """A transform that only has ``__call__`` (not compilable): it forces eager steps."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, x, rng):
        return self.inner(x, rng)


def _model() -> keras.Model:
    keras.utils.set_random_seed(5)
    inputs = keras.Input((None, None, 3))
    h = keras.layers.Conv2D(6, 3, activation="relu", name="conv1")(inputs)
    h = keras.layers.Conv2D(6, 3, activation="relu", name="conv2")(h)
    out = keras.layers.Dense(3, activation="softmax", name="probs")(
        keras.layers.GlobalAveragePooling2D()(h))
    return keras.Model(inputs, out)


def test_a_compiled_run_is_traced_once_and_equals_the_eager_steps():
    """The compiled step (one program for every scale of lucid's transforms: dynamic
    shapes under TensorFlow, a scale that keeps the size under JAX) runs the same ascent
    as the eager step it replaces: the same random draws, so the same histories and
    images, to float32 precision."""
    am = ActivationMaximization(_model())
    compiled = am("conv2", channel=1, steps=6, size=24)
    eager = am("conv2", channel=1, steps=6, size=24,
               transforms=[_Eager(t) for t in standard_transforms(24)], param="fourier")
    assert compiled.extra["compiled"] and not eager.extra["compiled"]
    assert eager.extra["traces"] == 0
    assert compiled.extra["traces"] == 1  # one trace for five scales
    np.testing.assert_allclose(compiled.history, eager.history, rtol=1e-4, atol=1e-5)
    assert np.abs(compiled.images.astype(int) - eager.images.astype(int)).max() <= 1
