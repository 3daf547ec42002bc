"""CRP at a convolution whose batch normalisation is folded into it."""

from __future__ import annotations

import numpy as np

from cnnviz_widgets.attribution import LRP, ChannelRelevance


def _model():
    import keras

    keras.utils.set_random_seed(0)
    layers = keras.layers
    x = inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, name="c")(x)
    x = layers.ReLU()(layers.BatchNormalization(name="bn")(x))
    model = keras.Model(inputs, layers.Dense(3)(layers.GlobalAveragePooling2D()(x)))
    bn = model.get_layer("bn")  # statistics that are not the identity
    rng = np.random.default_rng(1)
    bn.set_weights([rng.uniform(0.5, 2, 4), rng.normal(0, 0.1, 4), rng.normal(0, 0.5, 4),
                    rng.uniform(0.5, 2, 4)])
    return model


def test_a_convolution_followed_by_batch_normalisation_is_conditioned_after_the_fold():
    model = _model()
    image = np.random.default_rng(0).uniform(0, 255, (8, 8, 3)).astype(np.float32)
    at_conv = ChannelRelevance(model, "c", composite="epsilon")
    at_norm = ChannelRelevance(model, "bn", composite="epsilon")
    scores = at_conv.scores(image, target=0)
    # the folded pair is one linear map: the conv's channels are the normalisation's
    np.testing.assert_allclose(scores, at_norm.scores(image, target=0), rtol=1e-5, atol=1e-7)
    maps = at_conv(image, channels=[0, 1, 2, 3], target=0, normalize=False)
    whole = LRP(model, composite="epsilon")(image, target=0, normalize=False)
    np.testing.assert_allclose(maps.sum(axis=0), whole, rtol=1e-4,
                               atol=1e-5 * np.abs(whole).max())
    assert scores.shape == (4,) and np.isfinite(scores).all() and np.abs(scores).sum() > 0
