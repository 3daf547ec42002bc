"""Keras' own layers run through their ``call`` directly, with the values of ``__call__``.

The direct path skips ``Layer.__call__`` (input checks, masks, mixed precision) where it
adds nothing; these tests prove it gives the oracle's values on a model of many layer
kinds, that a walk takes it, and that every layer it does not fit (layers written
elsewhere, mixed precision, masks, other backends) still goes through ``__call__``.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.engine.layers import direct as plan_layers
from cnnviz_widgets.errors import LayerComputeError
from cnnviz_widgets.testing import counting_cnn, nested_backbone_model, shared_layer_model

from .oracle import assert_matches, oracle_activation, oracle_prepare

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="direct calls are made with the TensorFlow backend only")


def _many_kinds(seed: int = 0):
    """Convolutions of every kind, batch norm, pooling, padding, merges, dense, dropout."""
    keras.utils.set_random_seed(seed)
    L = keras.layers
    inputs = keras.Input((16, 16, 3))
    x = L.ZeroPadding2D(1, name="pad")(inputs)
    x = L.Conv2D(8, 3, name="conv")(x)
    x = L.BatchNormalization(name="bn")(x)
    x = L.Activation("relu", name="relu")(x)
    a = L.SeparableConv2D(8, 3, padding="same", name="sep")(x)
    b = L.DepthwiseConv2D(3, padding="same", name="depth")(x)
    s = L.Add(name="add")([a, b, x])
    c = L.Concatenate(name="cat")([s, x])
    c = L.AveragePooling2D(2, name="avg")(c)
    c = L.MaxPooling2D(2, padding="same", name="max")(c)
    c = L.Cropping2D(1, name="crop")(c)
    c = L.Dropout(0.5, name="drop")(c)
    v = L.GlobalAveragePooling2D(name="gap")(c)
    v = L.Dense(5, activation="softmax", name="probs")(v)
    model = keras.Model(inputs, v)
    # batch norm statistics that differ from the initial ones, so inference mode shows
    bn = model.get_layer("bn")
    rng = np.random.default_rng(seed)
    bn.moving_mean.assign(rng.normal(size=8).astype("float32"))
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, size=8).astype("float32"))
    return model


def _image(seed: int, shape=(16, 16, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _steps_through_call(monkeypatch) -> list[str]:
    """Record the layers that go through ``Layer.__call__``."""
    seen: list[str] = []
    real = plan_layers._call_layer
    monkeypatch.setattr(plan_layers, "_call_layer",
                        lambda layer, args, kwargs: seen.append(layer.name)
                        or real(layer, args, kwargs))
    return seen


def test_every_layer_kind_is_called_directly_and_matches_the_oracle(monkeypatch):
    model = _many_kinds()
    engine = ActivationEngine(model)
    assert all(step.direct for step in engine.plan.steps)
    through_call = _steps_through_call(monkeypatch)
    image = _image(0)
    x = oracle_prepare(image, (16, 16))
    for name in engine.layer_names:
        assert_matches(engine.activation(name, image), oracle_activation(model, name, x))
    # only the first layer, fed the prepared numpy batch, takes Layer.__call__
    assert through_call == ["pad"]
    assert engine.stats.layer_evaluations == len(engine.layer_names)


def test_direct_and_keras_calls_give_the_same_values(monkeypatch):
    model = _many_kinds(seed=1)
    direct = ActivationEngine(model)
    monkeypatch.setattr(plan_layers, "_calls_directly", lambda layer, symbolic: False)
    keras_way = ActivationEngine(model)
    assert not any(step.direct for step in keras_way.plan.steps)
    image = _image(1)
    for name in direct.layer_names:
        np.testing.assert_allclose(direct.activation(name, image),
                                   keras_way.activation(name, image), rtol=1e-5, atol=1e-6)


def test_nested_and_shared_layers_are_called_directly_with_the_same_values():
    for model, image_shape in ((nested_backbone_model(), (32, 32, 3)),
                               (shared_layer_model(), (12, 12, 3))):
        engine = ActivationEngine(model)
        assert sum(step.direct for step in engine.plan.steps) > len(engine.plan.steps) // 2
        image = _image(2, image_shape)
        x = engine.prepare(image)
        _, values = engine.forward(x, engine.layer_names[-1:])
        np.testing.assert_allclose(engine.activation(engine.layer_names[-1], image),
                                   np.asarray(values[engine.layer_names[-1]])[0],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(engine.activation(engine.layer_names[-1], image),
                                   np.asarray(model(x, training=False))[0], rtol=1e-5, atol=1e-6)


def test_layers_written_elsewhere_go_through_keras_call():
    model, counter = counting_cnn()
    engine = ActivationEngine(model)
    assert not any(step.direct for step in engine.plan.steps)
    engine.activation(engine.layer_names[-1], _image(3, (16, 16)))
    assert all(counter[name] == 1 for name in engine.layer_names)


def test_mixed_precision_and_masked_layers_go_through_keras_call():
    L = keras.layers
    inputs = keras.Input((8, 8, 3))
    half = L.Conv2D(4, 3, dtype="mixed_float16", name="half")(inputs)
    after = L.Conv2D(4, 3, name="after")(half)  # fed float16 values: Keras casts them
    model = keras.Model(inputs, after)
    by_name = {s.info.name: s for s in ActivationEngine(model).plan.steps}
    assert not by_name["half"].direct and not by_name["after"].direct
    engine = ActivationEngine(model)
    x = engine.prepare(_image(4, (8, 8, 3)))
    assert_matches(engine.activation("after", _image(4, (8, 8, 3))),
                   oracle_activation(model, "after", x), rtol=1e-2)

    seq = keras.Input((5, 3))
    masked = L.Masking(0.0, name="masking")(seq)
    pooled = L.GlobalAveragePooling1D(name="pool")(masked)
    by_name = {s.info.name: s for s in ActivationEngine(keras.Model(seq, pooled)).plan.steps}
    assert not by_name["pool"].direct  # it would lose the mask


def test_other_backends_use_keras_call(monkeypatch):
    monkeypatch.setattr(plan_layers, "_EAGER_TENSOR", [None])
    engine = ActivationEngine(_many_kinds())
    assert not any(step.direct for step in engine.plan.steps)
    assert engine.activation("probs", _image(5)).shape == (5,)


def test_an_error_in_a_direct_call_is_reported_as_keras_reports_it():
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.Conv2D(4, 5, name="wide")(x)
    engine = ActivationEngine(keras.Model(inputs, x))
    assert engine.plan.by_name["wide"].direct
    with pytest.raises(LayerComputeError, match="'wide' \\(Conv2D\\) failed"):
        engine.activation("wide", np.zeros((5, 5, 3), np.uint8))
