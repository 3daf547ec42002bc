"""Grad-CAM equals a hand computation, finds nested layers and looks at the digit."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import GradCAM, default_gradcam_layer, upsample_heatmap
from cnnviz_widgets.errors import LayerNotFoundError, LayerNotViewableError
from cnnviz_widgets.testing import nested_backbone_model, skip_connection_model, tiny_cnn

from .helpers import backend_gradient, copy_model, gradcam_oracle, numpy, tensor


@pytest.fixture(scope="module")
def model():
    return tiny_cnn()


def _image(seed: int, shape=(8, 8)) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


def _one_conv_model(kernel: np.ndarray, bias: np.ndarray, dense: np.ndarray):
    """Input (4, 4, 1) -> linear Conv2D 2x2 (2 filters) -> Flatten -> linear Dense (2)."""
    import keras

    model = keras.Sequential([
        keras.Input((4, 4, 1)),
        keras.layers.Conv2D(2, 2, name="conv"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(2, name="out"),
    ])
    model.get_layer("conv").set_weights([kernel, bias])
    model.get_layer("out").set_weights([dense, np.zeros(2, np.float32)])
    return model


def test_layer_map_equals_the_numpy_formula_on_a_hand_made_model():
    """ReLU(sum_k mean_ij(dy/dA_k) A_k) with A and dy/dA written out in NumPy.

    The conv output A (3, 3, 2) is a plain 2x2 correlation; the output is linear in A,
    so dy_c/dA is the Dense kernel's column c reshaped to (3, 3, 2).
    """
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(2, 2, 1, 2)).astype(np.float32)
    bias = np.array([0.1, -0.2], np.float32)
    dense = rng.normal(size=(18, 2)).astype(np.float32)
    model = _one_conv_model(kernel, bias, dense)
    image = rng.uniform(20, 235, (4, 4)).astype(np.float32)
    x = image.astype(np.float64) / 255.0  # the default preprocessing of an unknown model
    a = np.zeros((3, 3, 2))
    for i in range(3):
        for j in range(3):
            a[i, j] = np.tensordot(x[i:i + 2, j:j + 2], kernel[:, :, 0, :], axes=2) + bias
    cam = GradCAM(model, "conv")
    seen = []
    for c in range(2):
        weights = dense[:, c].reshape(3, 3, 2).mean(axis=(0, 1))
        want = np.maximum((a * weights).sum(axis=-1), 0.0)
        got = cam(image, target=c, upsample=False)
        assert got.shape == (3, 3)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        seen.append(want.max() > 0)
        # the default call is the same map, upsampled as its own step, divided by its max
        up = cam(image, target=c)
        step = upsample_heatmap(got, 4, 4)
        np.testing.assert_allclose(up, step / step.max() if step.max() > 0 else step,
                                   rtol=1e-5, atol=1e-7)
    assert any(seen)


@pytest.mark.parametrize("layer", ["conv_a", "conv_b", "pool_a"])
@pytest.mark.parametrize("seed", [0, 1])
def test_gradcam_equals_hand_computation(model, layer, seed):
    cam = GradCAM(model, layer=layer, logits=False)
    image = _image(seed)
    batch = cam.engine.prepare(image)
    for target in range(3):
        want = gradcam_oracle(model, layer, batch, target)
        got = cam(image, target=target, upsample=False)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * max(want.max(), 1e-12))
    top = int(np.argmax(model(batch)))
    np.testing.assert_array_equal(cam(image, upsample=False), cam(image, top, upsample=False))


def test_gradcam_on_logits_equals_linear_head(model):
    linear = copy_model(tiny_cnn, model, linear_head=True)
    image = _image(5)
    batch = GradCAM(model).engine.prepare(image)
    want = gradcam_oracle(linear, "conv_b", batch, 1)
    got = GradCAM(model, "conv_b")(image, target=1, upsample=False)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * max(want.max(), 1e-12))
    assert model.layers[-1].activation.__name__ == "softmax"


def test_upsampled_map_is_the_resized_raw_map_in_unit_range(model):
    cam = GradCAM(model, "conv_b")
    image = _image(2)
    raw = cam(image, target=0, upsample=False)
    up = cam(image, target=0)
    assert up.shape == (8, 8)
    want = np.maximum(upsample_heatmap(raw, 8, 8), 0)
    np.testing.assert_allclose(up, want / want.max(), rtol=1e-5, atol=1e-7)
    assert up.max() == pytest.approx(1.0) and up.min() >= 0.0


def test_default_layers():
    assert default_gradcam_layer(ActivationEngine(tiny_cnn())) == "conv_b"
    assert default_gradcam_layer(tiny_cnn()) == "conv_b"  # a model works as well
    # the last conv (side_conv) feeds a Concatenate right after it: take the merged block
    assert default_gradcam_layer(ActivationEngine(skip_connection_model())) == "merge"


def test_nested_backbone_default_layer_works():
    import keras

    model = nested_backbone_model()
    cam = GradCAM(model)
    assert cam.layer == "backbone/conv2"
    image = _image(3, (32, 32, 3))
    heat = cam(image, target=2)
    assert heat.shape == (32, 32) and np.all(np.isfinite(heat))
    assert heat.max() == pytest.approx(1.0)
    # oracle: call the outer model's pieces by hand; backbone/conv2 is the backbone's output
    x = tensor(cam.engine.prepare(image))
    backbone = model.get_layer("backbone")
    a = backbone(model.get_layer("identity_scale")(x), training=False)
    last = model.get_layer("probs")

    def score(feature):
        h = model.get_layer("head")(model.get_layer("gap")(feature))
        return (keras.ops.matmul(h, last.kernel) + last.bias)[:, 2]

    g = backend_gradient(score, a)[0].astype(np.float64)
    a = numpy(a)[0].astype(np.float64)
    want = np.maximum((a * g.mean(axis=(0, 1))).sum(-1), 0)
    np.testing.assert_allclose(cam(image, target=2, upsample=False), want, rtol=1e-4,
                               atol=1e-6 * max(want.max(), 1e-12))
    # a layer two levels deep works as well
    inner = GradCAM(model, "backbone/block/conv")(image)
    assert inner.shape == (32, 32) and np.all(np.isfinite(inner))


def test_upsample_heatmap_is_a_separate_step():
    raw = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    up = upsample_heatmap(raw, 4, 6)
    assert up.shape == (4, 6) and up.dtype == np.float32
    from PIL import Image

    want = np.asarray(Image.fromarray(raw).resize((6, 4), Image.Resampling.BILINEAR))
    np.testing.assert_allclose(up, want, rtol=1e-6)
    with pytest.raises(LayerNotViewableError, match="2-D"):
        upsample_heatmap(np.zeros((2, 2, 3)), 4, 4)


def test_errors(model):
    with pytest.raises(LayerNotFoundError, match="conv_b"):
        GradCAM(model, "conv_bb")
    with pytest.raises(LayerNotViewableError, match="spatial"):
        GradCAM(model, "probs")
    import keras

    flat = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(2)])
    with pytest.raises(LayerNotViewableError):
        GradCAM(flat)


def test_digits_gradcam_looks_at_the_strokes():
    """Held-out digits: heatmap mass on stroke pixels over stroke area is clearly above 1."""
    from cnnviz_widgets import zoo

    model = zoo.digits_cnn()
    images, labels = zoo.digit_samples()
    cam = GradCAM(model)
    assert cam.layer == "conv3"
    ratios = []
    default = cam(images[0])  # what the README shows
    assert default.shape == (28, 28) and default.dtype == np.float32
    assert default.min() >= 0.0 and default.max() == pytest.approx(1.0)
    for image, label in zip(images, labels, strict=True):
        heat = cam(image, target=int(label))
        stroke = image > 0.3 * 255
        assert heat.sum() > 0
        ratios.append((heat[stroke].sum() / heat.sum()) / stroke.mean())
    assert len(ratios) >= 20
    # measured 1.42 over the 40 held-out digits (conv3, a 3x3 map upsampled to 28x28)
    assert np.mean(ratios) > 1.25
    assert np.median(ratios) > 1.2


def test_an_explored_image_runs_only_the_layers_after_the_target(model):
    """After the explorer computed the layer, Grad-CAM runs only the head, same map.

    The engine counts every layer it evaluates (a compiled head counts its layers once,
    when it is traced): a cold call runs the prefix once (and caches it) and the head; a
    call on an explored image never runs the prefix again. A score of the user's own
    runs eagerly: exactly the head at every call.
    """
    from cnnviz_widgets.attribution import ClassScore

    image = _image(7)
    layer = "conv_b"
    engine = ActivationEngine(model)
    batch = engine.prepare(image)
    oracle = gradcam_oracle(model, layer, batch, 2)
    engine.clear_cache()
    cam = GradCAM(engine, layer, logits=False)
    plan = engine.plan
    target = engine.plan.by_name[layer].outputs[0]
    head = engine._needed(list(plan.output_keys), lambda k: k == target)
    prefix = engine._needed([target], lambda k: False)
    assert len(head) == 2 and len(prefix) == 3

    def evaluations(call):
        before = engine.stats.layer_evaluations
        result = call()
        return engine.stats.layer_evaluations - before, result

    count, cold = evaluations(lambda: cam(image, target=2, upsample=False))
    assert count == len(prefix) + len(head)  # the head's layers once, in its trace
    count, warm = evaluations(lambda: cam(image, target=2, upsample=False))
    assert count == 0  # the compiled head; nothing before the layer
    np.testing.assert_allclose(cold, oracle, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(warm, cold)

    def own_score(output):
        return ClassScore(2)(output)

    for _ in range(2):
        count, eager = evaluations(lambda: cam(image, target=own_score, upsample=False))
        assert count == len(head)
        np.testing.assert_allclose(eager, cold, rtol=1e-5, atol=1e-7)

    explored = ActivationEngine(model)
    explored.activation(layer, image)  # what a layer dropdown does
    before = explored.stats.layer_evaluations
    again = GradCAM(explored, layer, logits=False)(image, target=2, upsample=False)
    np.testing.assert_allclose(again, cold, rtol=1e-6, atol=1e-8)
    assert explored.stats.layer_evaluations - before == len(head)


def test_forward_from_given_values_equals_the_whole_pass(model):
    """engine.forward(given=...) starts at the given layer and gives the model's output."""
    engine = ActivationEngine(model)
    batch = engine.prepare(_image(3))
    whole, values = engine.forward(batch, layers=["conv_b"])
    head, _ = engine.forward(None, given={"conv_b": values["conv_b"]})
    np.testing.assert_allclose(np.asarray(head), np.asarray(whole), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(whole), model(batch), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="needs the input batch"):
        engine.forward(None, given={"pool_a": values["conv_b"][..., :4]}, layers=["conv_a"],
                       stop_at_layers=True)


def test_method_objects_on_one_engine_share_the_compiled_head(model):
    """A panel builds a method object per run: the second one reuses the first's graph."""
    engine = ActivationEngine(model)
    image = _image(9)
    first = GradCAM(engine, "conv_b")(image, target=1)
    before = engine.stats.layer_evaluations
    second = GradCAM(engine, "conv_b")(image, target=0)  # another class: the same graph
    assert engine.stats.layer_evaluations == before
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(GradCAM(engine, "conv_b")(image, target=1), first)
