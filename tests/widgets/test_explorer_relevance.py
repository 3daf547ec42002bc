"""The explorer's "relevance" channel order: CRP scores of the current image for a class."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import explore
from cnnviz_widgets.attribution import ChannelRelevance
from cnnviz_widgets.attribution.relevance import crp
from cnnviz_widgets.testing import digits_like_cnn


@pytest.fixture(scope="module")
def model():
    return digits_like_cnn(seed=1)


@pytest.fixture(scope="module")
def digits():
    return np.random.default_rng(3).uniform(0, 255, (3, 28, 28)).astype(np.float32)


def test_the_relevance_order_ranks_channels_by_crp_scores_once(model, digits, monkeypatch):
    ex = explore(model, list(digits), include_samples=False)
    ex.layer = "conv2"
    ex.image_index = 1
    ex.target = 4
    calls = []
    original = crp.ChannelRelevance.layer_relevance
    monkeypatch.setattr(crp.ChannelRelevance, "layer_relevance",
                        lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    ex.channel_order = "relevance"
    scores = ChannelRelevance(model, "conv2").scores(digits[1], target=4)
    np.testing.assert_array_equal(ex.channel_ranking(), np.argsort(-scores, kind="stable"))
    assert "relevance for the class 4" in ex._caption.value
    assert ex.controls["target"].layout.display is None

    seen = len(calls)
    evaluations = ex.engine.stats.layer_evaluations
    ex.normalization = "layer"
    ex.channel = 5
    ex.channel = None
    ex.page = 0
    assert len(calls) == seen  # no relevance pass on slider moves
    assert ex.engine.stats.layer_evaluations == evaluations

    ex.target = None  # the predicted class
    predicted = int(np.argmax(ex.engine.activation(ex.engine.output, digits[1])))
    scores = ChannelRelevance(model, "conv2").scores(digits[1], target=predicted)
    np.testing.assert_array_equal(ex.channel_ranking(), np.argsort(-scores, kind="stable"))
    assert f"predicted class {predicted}" in ex._caption.value
    seen = len(calls)
    ex.target = 4  # back to a class already computed: from the memo
    ex.image_index = 1
    assert len(calls) == seen


def test_explain_channel_shows_where_the_channel_is_relevant(model, digits):
    ex = explore(model, list(digits), include_samples=False)
    ex.layer, ex.image_index, ex.channel = "conv2", 2, 7
    ex.explain_channel(steps=2)
    predicted = int(np.argmax(ex.engine.activation(ex.engine.output, digits[2])))
    want = ChannelRelevance(model, "conv2")(digits[2], channels=[7], target=predicted)[0]
    np.testing.assert_allclose(ex.explainer.relevance_map, want, rtol=1e-4, atol=1e-5)
    assert ex.explainer.relevance.value[:4] == b"\x89PNG"
    assert "relevant for the predicted class" in ex.explainer.caption.value
