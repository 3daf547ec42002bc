"""Models with several inputs: one is the image, the others are held fixed.

The oracle is ``keras.Model(model.inputs, layer.output)([image[None], meta[None]])``.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine, scan
from cnnviz_widgets.engine.coerce import as_engine
from cnnviz_widgets.errors import InvalidSettingError, UnsupportedModelError
from cnnviz_widgets.testing import image_and_metadata_cnn, tiny_cnn, two_image_cnn

from .oracle import assert_order_agrees

META = np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32)


@pytest.fixture(scope="module")
def model():
    return image_and_metadata_cnn()


@pytest.fixture()
def engine(model):
    return ActivationEngine(model, image_input="photo", other_inputs={"meta": META})


def photos(n: int, seed: int = 0, shape=(16, 16, 3)) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *shape)).astype(np.float32)


def oracle(model, layer: str, x: np.ndarray, meta: np.ndarray = META) -> np.ndarray:
    """``keras.Model(model.inputs, layer.output)`` on images in 0-1 and ``meta`` repeated."""
    sub = keras.Model(model.inputs, model.get_layer(layer).output)
    return np.asarray(sub([x, np.repeat(meta[None], len(x), axis=0)]))


def test_every_layer_matches_the_oracle(model, engine):
    x = photos(1, seed=1)
    assert engine.plan.input_name == "photo" and engine.input_shape == (16, 16, 3)
    assert [i.name for i in engine.plan.other_inputs] == ["meta"]
    for name in engine.layer_names:
        np.testing.assert_allclose(engine.activation(name, x[0]), oracle(model, name, x)[0],
                                   rtol=1e-5, atol=1e-6)
    # a batch axis of one, a list, an index for the image input: the same values
    again = ActivationEngine(model, image_input=0, other_inputs={"meta": [list(META)]})
    np.testing.assert_allclose(again.activation("probs", x[0]), oracle(model, "probs", x)[0],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(again.other_inputs["meta"], META)


def test_features_prepared_activation_forward_and_scan(model, engine):
    x = photos(9, seed=2)
    np.testing.assert_allclose(engine.features("probs", x, batch_size=4),
                               oracle(model, "probs", x), rtol=1e-5, atol=1e-6)
    batch = engine.prepare(x[0])
    np.testing.assert_allclose(engine.prepared_activation("joined", batch),
                               oracle(model, "joined", x[:1]), rtol=1e-5, atol=1e-6)
    out, found = engine.forward(batch, layers=["meta_dense"])
    np.testing.assert_allclose(np.asarray(out), oracle(model, "probs", x[:1]), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(found["meta_dense"]),
                               oracle(model, "meta_dense", x[:1]), rtol=1e-5, atol=1e-6)
    # from a given layer: the fixed input still reaches the layers that need it
    gap = engine.prepared_activation("gap", batch)
    out, _ = engine.forward(None, given={"gap": gap})
    np.testing.assert_allclose(np.asarray(out), oracle(model, "probs", x[:1]), rtol=1e-5)
    result = scan(engine, x * 255, ["conv_b", "probs"], top_k=3, batch_size=4, progress=False)
    probs = oracle(model, "probs", x)
    np.testing.assert_allclose(result["probs"].max, probs.max(axis=0), rtol=1e-5)
    for c in range(probs.shape[1]):  # scanned in batches of 4, the oracle in one of 9
        assert_order_agrees(result["probs"].top_indices[c], probs[:, c])
    np.testing.assert_allclose(result["conv_b"].max,
                               oracle(model, "conv_b", x).max(axis=(0, 1, 2)), rtol=1e-5)


def test_the_fixed_values_are_part_of_the_cache_identity(model, engine):
    x = photos(4, seed=3)
    before = engine.activation("probs", x[0])
    scan(engine, x, ["probs"], progress=False)  # compiles a batch function with the values
    other = np.array([-1.0, 4.0, 2.0, 0.0], dtype=np.float32)
    engine.other_inputs = {"meta": other}
    after = engine.activation("probs", x[0])
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, oracle(model, "probs", x[:1], other)[0],
                               rtol=1e-5, atol=1e-6)
    rescanned = scan(engine, x, ["probs"], progress=False)
    np.testing.assert_allclose(rescanned["probs"].max,
                               oracle(model, "probs", x, other).max(axis=0), rtol=1e-5)
    # the engine keeps its own copy: changing the caller's array changes nothing
    mine = other.copy()
    engine.other_inputs = {"meta": mine}
    mine[:] = 100.0
    engine.clear_cache()
    np.testing.assert_allclose(engine.activation("probs", x[0]), after, rtol=1e-6)
    assert not engine.other_inputs["meta"].flags.writeable


def test_two_images_with_a_shared_layer():
    model = two_image_cnn()
    right = photos(1, seed=4, shape=(12, 12, 1))[0]
    engine = ActivationEngine(model, image_input="left", other_inputs={"right": right})
    left = photos(1, seed=5, shape=(12, 12, 1))
    sub = keras.Model(model.inputs, model.get_layer("same").output)
    np.testing.assert_allclose(engine.activation("same", left[0]),
                               np.asarray(sub([left, right[None]]))[0], rtol=1e-5, atol=1e-6)
    conv = model.get_layer("conv")
    # the shared conv: one call (named in the graph's order) reads the image, one the fixed
    on_image = [n for n in ("conv", "conv:2")
                if engine.plan.by_name[n].inputs == (engine.plan.input_key,)]
    assert len(on_image) == 1
    on_fixed = ({"conv", "conv:2"} - set(on_image)).pop()
    np.testing.assert_allclose(engine.activation(on_image[0], left[0]),
                               np.asarray(conv(left))[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(engine.activation(on_fixed, left[0]),
                               np.asarray(conv(right[None]))[0], rtol=1e-5, atol=1e-6)
    diff = keras.Model(model.inputs, model.get_layer("difference").output)
    np.testing.assert_allclose(engine.features("difference", photos(3, 6, (12, 12, 1))),
                               np.asarray(diff([photos(3, 6, (12, 12, 1)),
                                                np.repeat(right[None], 3, axis=0)])),
                               rtol=1e-5, atol=1e-6)


def test_a_fixed_input_that_goes_straight_into_a_merge():
    layers = keras.layers
    keras.utils.set_random_seed(1)
    image = keras.Input((8, 8, 1), name="image")
    extra = keras.Input((3,), name="extra")
    pooled = layers.GlobalAveragePooling2D(name="gap")(
        layers.Conv2D(2, 3, activation="relu", name="conv")(image))
    joined = layers.Concatenate(name="joined")([pooled, extra])
    model = keras.Model([image, extra], layers.Dense(2, name="out")(joined))
    values = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    engine = ActivationEngine(model, image_input="image", other_inputs={"extra": values})
    x = photos(5, seed=8, shape=(8, 8, 1))
    sub = keras.Model(model.inputs, model.get_layer("joined").output)
    expected = np.asarray(sub([x, np.repeat(values[None], 5, axis=0)]))
    np.testing.assert_allclose(engine.activation("joined", x[0]), expected[0], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(engine.features("joined", x), expected, rtol=1e-5, atol=1e-6)
    result = scan(engine, x, ["joined"], top_k=2, progress=False)
    np.testing.assert_allclose(result["joined"].max, expected.max(axis=0), rtol=1e-5)


def test_the_call_suggested_for_a_model_with_two_inputs_works(model):
    with pytest.raises(UnsupportedModelError, match=r"2 inputs: 'photo' \(16, 16, 3\) float32, "
                                                    r"'meta' \(4,\) float32.*image_input=") as e:
        ActivationEngine(model)
    call = str(e.value).split("e.g. ", 1)[1].split(" (with the values", 1)[0]
    engine = eval(call, {"ActivationEngine": ActivationEngine, "model": model, "np": np})
    assert engine.other_inputs["meta"].shape == (4,)


@pytest.mark.parametrize("kwargs, words", [
    ({"image_input": "image"}, r"image_input='image' is not an input.*'photo'.*'meta'"),
    ({"image_input": 2}, "image_input=2 is not an input"),
    ({"image_input": "photo"}, r"got no other_inputs.*other_inputs=\{'meta': np.zeros"),
    ({"image_input": "photo", "other_inputs": META}, "other_inputs of type ndarray"),
    ({"image_input": "photo", "other_inputs": {"metadata": META}},
     r"not other inputs of the model: \['metadata'\]; missing: \['meta'\]"),
    ({"image_input": "photo", "other_inputs": {"meta": META, "photo": META}},
     "it is the image input"),
    ({"image_input": "photo", "other_inputs": {"meta": META[:3]}},
     r"'meta' has shape \(3,\); the model takes \(4,\)"),
    ({"image_input": "photo", "other_inputs": {"meta": np.zeros((2, 4))}},
     r"'meta' has shape \(2, 4\)"),
    ({"image_input": "photo", "other_inputs": {"meta": np.full(4, np.nan)}}, "NaN"),
    ({"image_input": "photo", "other_inputs": {"meta": ["a", "b", "c", "d"]}},
     "cannot be read as float32"),
])
def test_wrong_inputs_are_refused_clearly(model, kwargs, words):
    with pytest.raises(UnsupportedModelError, match=words):
        ActivationEngine(model, **kwargs)


def test_a_model_with_one_input_takes_no_other_inputs():
    with pytest.raises(UnsupportedModelError, match="only the input"):
        ActivationEngine(tiny_cnn(), other_inputs={"meta": META})
    assert ActivationEngine(tiny_cnn(), other_inputs={}).other_inputs == {}


def test_as_engine_and_the_panel_pass_the_inputs_on(model, engine):
    built = as_engine(model, image_input="photo", other_inputs={"meta": META})
    np.testing.assert_array_equal(built.other_inputs["meta"], META)
    assert as_engine(engine, other_inputs={"meta": META}) is engine
    with pytest.raises(InvalidSettingError, match="other_inputs"):
        as_engine(engine, other_inputs={"meta": META + 1})
    with pytest.raises(InvalidSettingError, match="image_input='meta'"):
        as_engine(engine, image_input="meta")
    from cnnviz_widgets.widgets.panel import Panel

    panel = Panel(model, image_input="photo", other_inputs={"meta": META})
    np.testing.assert_array_equal(panel.engine.other_inputs["meta"], META)
    panel.close()


def test_a_worker_of_a_cluster_scan_builds_the_same_engine(model, engine):
    from cnnviz_widgets.engine.scan import distributed
    from cnnviz_widgets.engine.scan.sources import SequenceSource

    x = photos(5, seed=7)
    data = distributed._model_bytes(model)
    inputs = {"image_input": "photo", "other_inputs": engine.other_inputs}
    key = "test-" + distributed._inputs_token(inputs)
    assert key != "test-" + distributed._inputs_token(
        {"image_input": "photo", "other_inputs": {"meta": META + 1}})
    part = distributed._scan_partition(data, key, engine.preprocess, ["probs"],
                                       SequenceSource(x * 255), top_k=2, batch_size=2,
                                       threshold=0.0, inputs=inputs)
    np.testing.assert_allclose(part["probs"].max, oracle(model, "probs", x).max(axis=0),
                               rtol=1e-5)


def test_a_gradient_through_forward_sees_the_fixed_input(model, engine):
    from tests.attribution.helpers import backend_gradient

    batch = np.asarray(engine.prepare(photos(1, seed=9)[0]))
    meta = keras.ops.convert_to_tensor(META[None])
    score = keras.ops.convert_to_numpy(engine.forward(batch)[0])[0, 1]
    expected = keras.ops.convert_to_numpy(model([keras.ops.convert_to_tensor(batch), meta]))[0, 1]
    np.testing.assert_allclose(score, expected, rtol=1e-5, atol=1e-6)
    ours = backend_gradient(lambda x: engine.forward(x)[0][:, 1], batch)
    np.testing.assert_allclose(ours, backend_gradient(lambda x: model([x, meta])[:, 1], batch),
                               rtol=1e-5, atol=1e-7)
