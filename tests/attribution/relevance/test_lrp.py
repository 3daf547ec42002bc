"""LRP: what theory guarantees, the canonizer, every kind of layer, real architectures."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import LRP, ClassScore, Saliency
from cnnviz_widgets.attribution.relevance import COMPOSITES
from cnnviz_widgets.errors import UnknownNameError, UnsupportedModelError

TARGET = 2


def _prepare(x):
    return np.asarray(x, np.float32) / 255.0


@pytest.fixture(scope="module")
def plain():
    """A bias-free ReLU network: convolutions, max pooling, flatten, dense."""
    import keras

    keras.utils.set_random_seed(1)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((10, 10, 3)),
        layers.Conv2D(6, 3, padding="same", activation="relu", use_bias=False, name="c1"),
        layers.MaxPooling2D(name="pool"),
        layers.Conv2D(8, 3, activation="relu", use_bias=False, name="c2"),
        layers.Flatten(),
        layers.Dense(4, use_bias=False, activation="softmax", name="out"),
    ])
    image = np.random.default_rng(0).uniform(0, 255, (10, 10, 3)).astype(np.float32)
    return ActivationEngine(model, preprocess=_prepare), image


@pytest.fixture(scope="module")
def every_layer():
    """A bias-free network with every kind of layer the propagation supports."""
    import keras

    keras.utils.set_random_seed(2)
    layers = keras.layers
    inner_in = keras.Input((7, 7, 6))
    h = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(inner_in)
    h = layers.BatchNormalization()(h)
    h = layers.ReLU(6.0)(h)
    inner = keras.Model(inner_in, layers.SeparableConv2D(6, 3, padding="same",
                                                         use_bias=False)(h), name="inner")
    x = inputs = keras.Input((12, 12, 3))
    x = layers.Rescaling(2.0)(x)
    x = layers.Cropping2D(1)(x)
    x = layers.ZeroPadding2D(1)(x)
    x = layers.Conv2D(6, 3, use_bias=False)(x)
    x = layers.LeakyReLU(0.1)(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.ZeroPadding2D(1)(x)
    branch = layers.Activation("swish")(inner(x))
    gate = layers.GlobalAveragePooling2D(keepdims=True)(branch)
    gate = layers.Conv2D(6, 1, activation="sigmoid", use_bias=False)(gate)
    branch = layers.Multiply()([branch, gate])
    x = layers.Add()([x, branch])
    signal = layers.Conv1D(2, 1, use_bias=False)(layers.Reshape((49, 6))(x))
    x = layers.Concatenate()([x, layers.Reshape((7, 7, 2))(signal)])
    x = layers.Dropout(0.5)(x)
    x = layers.GlobalMaxPooling2D()(x)
    x = layers.Dense(3, use_bias=False)(x)
    model = keras.Model(inputs, x)
    image = np.random.default_rng(1).uniform(0, 255, (12, 12, 3)).astype(np.float32)
    return ActivationEngine(model, preprocess=_prepare), image


def test_lrp_epsilon_on_a_bias_free_relu_network_is_gradient_times_input(plain):
    engine, image = plain
    batch = engine.prepare(image)
    relevance = LRP(engine, composite="epsilon", epsilon=1e-9).relevance(batch, TARGET)
    gradient = Saliency(engine).input_gradients(batch, ClassScore(TARGET))
    np.testing.assert_allclose(relevance, gradient * batch, rtol=1e-4,
                               atol=1e-5 * np.abs(gradient * batch).max())


@pytest.mark.parametrize("composite", sorted(COMPOSITES))
def test_relevance_is_conserved_without_biases(plain, composite):
    """Input relevance adds up to the logit (the softmax is taken off), every composite."""
    engine, image = plain
    batch = engine.prepare(image)
    lrp = LRP(engine, composite=composite)
    heat = lrp(image, target=TARGET, normalize=False)
    logit = _logit(engine, batch)
    assert heat.shape == (10, 10)
    np.testing.assert_allclose(heat.sum(), logit, rtol=1e-4)
    np.testing.assert_allclose(lrp.attributions(image, TARGET).sum(axis=-1), heat, rtol=1e-5,
                               atol=1e-7)


def _logit(engine, batch):
    """The target's logit: the output layer's value before its softmax."""
    import keras

    model = engine.model
    head = model.get_layer("out")
    flat = keras.Model(model.inputs, head.input)(batch)
    return float(np.asarray(flat @ head.get_weights()[0])[0, TARGET])


def test_normalized_maps_lie_in_minus_one_to_one(plain):
    engine, image = plain
    heat = LRP(engine)(image)
    assert np.isclose(np.abs(heat).max(), 1.0) and heat.dtype == np.float32


def test_every_supported_kind_of_layer_conserves_relevance(every_layer):
    """Nested model, depthwise and separable convolutions, folded batch normalisation,
    padding and cropping, rescaling, average and max pooling, a gate, a sum, a
    concatenation: the input relevance adds up to the output (no bias anywhere) under
    the epsilon rule. z+ and alpha-beta conserve only where the relevance sits on units
    with positive contributions, which leaky ReLU and swish do not guarantee: finite."""
    engine, image = every_layer
    batch = engine.prepare(image)
    output = np.asarray(engine.model(batch))[0]
    relevance = LRP(engine, composite="epsilon").relevance(batch, target=1)
    np.testing.assert_allclose(relevance.sum(), output[1], rtol=1e-4)
    for composite in ("epsilon_plus_flat", "epsilon_alpha2_beta1"):
        relevance = LRP(engine, composite=composite).relevance(batch, target=1)
        assert np.isfinite(relevance).all() and np.abs(relevance).max() > 0


def test_batch_normalization_is_folded_on_a_copy(every_layer):
    """The folded layer computes what the layer and its batch normalisation compute, and
    the model's weights are what they were."""
    import keras

    from cnnviz_widgets.attribution.relevance.canonizers import fold_batch_norm, linear_maps

    engine, image = every_layer
    inner = engine.model.get_layer("inner")
    depthwise, norm = inner.layers[1], inner.layers[2]
    rng = np.random.default_rng(5)
    norm.set_weights([rng.uniform(0.5, 1.5, 6), rng.normal(0, 0.1, 6), rng.normal(0, 0.1, 6),
                      rng.uniform(0.5, 1.5, 6)])
    before = [w.copy() for w in engine.model.get_weights()]
    x = rng.normal(size=(2, 7, 7, 6)).astype(np.float32)
    (folded,) = fold_batch_norm(linear_maps(depthwise), norm)
    expected = keras.Model(inner.inputs, norm.output)(x)
    ours = folded.forward(keras.ops.convert_to_tensor(x), folded.weight, folded.bias)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(expected), rtol=1e-5, atol=1e-5)
    LRP(engine).relevance(engine.prepare(image))
    for old, new in zip(before, engine.model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_an_unsupported_layer_is_named():
    import keras

    model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3),
                              keras.layers.LayerNormalization(name="norm"),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(UnsupportedModelError, match=r"'norm' \(LayerNormalization\).*Conv2D"):
        LRP(model)


def test_an_unknown_composite_lists_the_known_ones(plain):
    with pytest.raises(UnknownNameError, match="epsilon_plus_flat"):
        LRP(plain[0], composite="epsilon_minus")


def test_z_box_bounds_come_from_the_preprocessing(plain):
    engine, _ = plain
    low, high = LRP(engine, composite="epsilon_gamma_box").input_bounds()
    np.testing.assert_allclose(low.reshape(-1), [0, 0, 0])
    np.testing.assert_allclose(high.reshape(-1), [1, 1, 1])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["VGG16", "ResNet50", "MobileNetV2", "DenseNet121"])
def test_keras_applications_give_finite_maps(name):
    """Untrained (weights=None): MobileNetV2's activations nearly vanish on the way up
    (logits near 1e-12), so only where the logit is not tiny must the map be non-zero."""
    import keras

    model = getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3),
                                               classes=10)
    image = np.random.default_rng(0).uniform(0, 255, (32, 32, 3)).astype(np.float32)
    lrp = LRP(model)
    heat = lrp(image, normalize=False)
    assert heat.shape == (32, 32) and np.isfinite(heat).all()
    with_logits = keras.Model(model.inputs, model.layers[-1].input)(lrp.prepare(image))
    if np.abs(np.asarray(with_logits)).max() > 1e-3:
        assert np.abs(heat).max() > 0


@pytest.mark.slow
def test_a_trained_efficientnet_lite0_explains_the_cat():
    """Trained weights, depthwise convolutions, ReLU6, folded batch normalisations: the
    predicted class of the cat photo gets a finite map with positive evidence."""
    from skimage import data

    from cnnviz_widgets.zoo import efficientnet_lite0

    lrp = LRP(efficientnet_lite0(), composite="epsilon_plus_flat")
    heat = lrp(data.chelsea(), normalize=False)
    assert heat.shape == (224, 224) and np.isfinite(heat).all()
    assert heat.max() > 0 and heat.sum() > 0


def test_the_registry_entry_computes_lrp(plain):
    from cnnviz_widgets.attribution import METHODS

    engine, image = plain
    spec = METHODS["lrp"]
    assert set(spec.param("composite").choices) == set(COMPOSITES)
    got = spec.run(engine, image, target=TARGET, composite="epsilon_gamma_box")
    want = LRP(engine, composite="epsilon_gamma_box")(image, target=TARGET)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
