"""Channel contributions equal the mean of gradient x activation computed by hand."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import ChannelContributions
from cnnviz_widgets.errors import LayerNotFoundError
from cnnviz_widgets.testing import digits_like_cnn

from .helpers import backend_gradient, numpy


@pytest.fixture(scope="module")
def model():
    return digits_like_cnn()


def _oracle(model, layer: str, batch: np.ndarray, cls: int) -> np.ndarray:
    """mean_ij(d logit_cls / dA * A): A from a plain sub-model, the head rebuilt from the
    layers after ``layer`` of a copy whose softmax is the identity."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.layers[-1].activation = keras.activations.linear
    feature = numpy(keras.Model(copy.inputs, copy.get_layer(layer).output)(batch))
    names = [lay.name for lay in copy.layers]
    head_in = keras.Input(feature.shape[1:])
    h = head_in
    for lay in copy.layers[names.index(layer) + 1:]:
        h = lay(h)
    head = keras.Model(head_in, h)
    grads = backend_gradient(lambda f: head(f, training=False)[:, cls], feature)
    product = (feature[0] * grads[0]).astype(np.float64)
    return product.mean(axis=tuple(range(product.ndim - 1)))


@pytest.mark.parametrize("layer", ["conv2", "conv3", "dense1"])
def test_contributions_equal_the_hand_computation(model, layer):
    engine = ActivationEngine(model)
    image = np.random.default_rng(2).integers(0, 256, (28, 28), dtype=np.uint8)
    batch = engine.prepare(image)
    method = ChannelContributions(engine, layer)
    for cls in (0, 7):
        got = method(image, target=cls)
        want = _oracle(model, layer, batch, cls)
        assert got.shape == want.shape == (engine.layer(layer).channels,)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * np.abs(want).max())
    top = int(np.argmax(numpy(model(batch))))
    np.testing.assert_array_equal(method(image), method(image, target=top))


def test_an_unknown_layer_is_refused_with_close_names(model):
    with pytest.raises(LayerNotFoundError, match="conv2"):
        ChannelContributions(model, "conv22")
