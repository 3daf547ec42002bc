"""CRP at a convolution whose batch normalisation is folded into it (a known bug)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.attribution import ChannelRelevance
from cnnviz_widgets.errors import CnnvizError


@pytest.mark.xfail(raises=AttributeError, strict=True,
                   reason="the conv's output disappears when its BatchNormalization is "
                          "folded in, and the backward pass finds no relevance there (None)")
def test_a_convolution_followed_by_batch_normalisation_gets_scores_or_our_error():
    import keras

    keras.utils.set_random_seed(0)
    layers = keras.layers
    x = inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, name="c")(x)
    x = layers.ReLU()(layers.BatchNormalization(name="bn")(x))
    model = keras.Model(inputs, layers.Dense(3)(layers.GlobalAveragePooling2D()(x)))
    image = np.random.default_rng(0).uniform(0, 255, (8, 8, 3)).astype(np.float32)
    try:
        scores = ChannelRelevance(model, "c").scores(image)
    except CnnvizError:
        return
    assert scores.shape == (4,) and np.isfinite(scores).all()
