"""The dataset view's ranking by relevance beside the ranking by activation."""

from __future__ import annotations

import numpy as np

from cnnviz_widgets.attribution import ChannelRelevance
from tests.engine.oracle import assert_order_agrees
from tests.widgets.test_dataset_view import _explorer, data, model  # noqa: F401


def test_relevance_ranking_is_computed_on_request_and_kept(model, data):  # noqa: F811
    images, _ = data
    ex = _explorer(model, data)
    ex.layer, ex.channel = "c1", 2
    view = ex.dataset_view.relevance_view
    assert view.crops == [] and view.scan_count == 0  # nothing until asked
    view.button.click()
    assert view.scan_count == 1 and not ex.dataset_view.errors.value
    cr = ChannelRelevance(ex.engine, "c1")
    brute = np.stack([cr.scores(image) for image in images])  # each image's own class
    for channel in (2, 0):
        ex.channel = channel
        got = [crop.index for crop in view.crops]
        assert len(got) == ex.dataset_view.scans.top_k
        assert_order_agrees(got, brute[:, channel], rtol=1e-4,
                            atol=1e-6 * np.abs(brute).max())
        assert all("relevance" in crop.caption for crop in view.crops)
    assert view.scan_count == 1  # moving the channel draws the kept ranking
    # the activation ranking stays beside it
    assert ex.dataset_view.crops and "max" in ex.dataset_view.crops[0].caption


def test_a_bad_class_is_reported_in_the_panel(model, data):  # noqa: F811
    ex = _explorer(model, data)
    ex.layer, ex.channel = "c1", 0
    view = ex.dataset_view.relevance_view
    view.target.value = "a giraffe"
    view.button.click()
    assert "giraffe" in ex.dataset_view.errors.value and view.scan_count == 0
    view.target.value = "7"  # out of the model's 3 classes
    view.button.click()
    assert "7" in ex.dataset_view.errors.value and view.crops == []


def test_a_failure_inside_the_ranking_is_a_message_in_the_panel(model, data, monkeypatch):  # noqa: F811
    from cnnviz_widgets.widgets.explorer import relmax

    def broken(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'shape'")

    monkeypatch.setattr(relmax, "relevance_scan", broken)
    ex = _explorer(model, data)
    ex.layer, ex.channel = "c1", 0
    ex.dataset_view.relevance_view.button.click()
    assert "Could not rank" in ex.dataset_view.errors.value
    assert "AttributeError" in ex.dataset_view.errors.value
