"""Top images by relevance (RelMax) equal a brute-force ranking of CRP scores."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import ChannelRelevance
from cnnviz_widgets.errors import ArgumentTypeError, LayerNotFoundError
from cnnviz_widgets.meaning import relevance_scan
from cnnviz_widgets.testing import tiny_cnn
from tests.engine.oracle import assert_order_agrees

LAYER = "conv_b"
K = 4


@pytest.fixture(scope="module")
def setup():
    engine = ActivationEngine(tiny_cnn(seed=3))
    images = np.random.default_rng(5).uniform(0, 255, (13, 8, 8)).astype(np.float32)
    cr = ChannelRelevance(engine, LAYER, composite="epsilon_plus")
    # the oracle: one image at a time through the public scores
    return engine, images, cr


@pytest.mark.parametrize("target", [None, 2])
def test_ranking_equals_brute_force(setup, target):
    engine, images, cr = setup
    brute = np.stack([cr.scores(image, target=target) for image in images])  # (N, C)
    stats = relevance_scan(engine, images, LAYER, target, top_k=K, batch_size=5,
                           progress=False, relevance=cr)[LAYER]
    assert stats.count == len(images)
    for channel in range(cr.channels):
        assert_order_agrees(stats.top_indices[channel], brute[:, channel], rtol=1e-4,
                            atol=1e-6 * np.abs(brute).max())
        np.testing.assert_allclose(stats.top_values[channel],
                                   brute[stats.top_indices[channel], channel],
                                   rtol=1e-4, atol=1e-6 * np.abs(brute).max())
    np.testing.assert_allclose(stats.mean, brute.mean(axis=0), rtol=1e-4,
                               atol=1e-6 * np.abs(brute).max())
    np.testing.assert_allclose(stats.positive_fraction, (brute > 0).mean(axis=0))


def test_predicted_class_is_each_images_own(setup):
    """With target None, each image's scores are those of its own top class."""
    engine, images, cr = setup
    predicted = engine.model.predict(images[..., None] / 255.0, verbose=0).argmax(axis=1)
    own = np.stack([cr.scores(image, target=int(c))
                    for image, c in zip(images, predicted, strict=True)])
    stats = relevance_scan(engine, images, LAYER, None, top_k=len(images), progress=False,
                           relevance=cr)[LAYER]
    for channel in range(cr.channels):
        assert_order_agrees(stats.top_indices[channel], own[:, channel], rtol=1e-4,
                            atol=1e-6 * np.abs(own).max())


def test_halves_merge_to_the_whole(setup):
    engine, images, cr = setup
    whole = relevance_scan(engine, images, LAYER, 1, top_k=K, progress=False,
                           relevance=cr)[LAYER]
    a = relevance_scan(engine, images[:6], LAYER, 1, top_k=K, progress=False, relevance=cr)
    b = relevance_scan(engine, images[6:], LAYER, 1, top_k=K, progress=False, relevance=cr,
                       first_index=6)
    merged = a.merge(b)[LAYER]
    np.testing.assert_array_equal(merged.top_indices, whole.top_indices)
    np.testing.assert_allclose(merged.top_values, whole.top_values, rtol=1e-5, atol=1e-7)


def test_bad_input_gets_our_errors(setup):
    engine, images, _ = setup
    with pytest.raises(LayerNotFoundError):
        relevance_scan(engine, images, "nope", progress=False)
    with pytest.raises(ArgumentTypeError):
        relevance_scan(engine, images, LAYER, "cat", progress=False)
