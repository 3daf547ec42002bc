"""The explorer's state on its own (no widgets), and the explorer's messages to the front end."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine, explore
from cnnviz_widgets.errors import LayerNotFoundError, SelectionOutOfRangeError
from cnnviz_widgets.testing import digits_like_cnn
from cnnviz_widgets.widgets.explorer import ExplorerState


@pytest.fixture(scope="module")
def engine():
    return ActivationEngine(digits_like_cnn())


@pytest.fixture(scope="module")
def digits():
    return list(np.random.default_rng(1).integers(0, 256, (4, 28, 28), dtype=np.uint8))


def test_the_state_validates_and_derives_without_any_widget(engine, digits):
    state = ExplorerState(engine, digits, per_page=16)
    assert state.layer == "conv1" and state.channel is None
    assert state.channel_count() == 32 and state.page_count() == 2
    with pytest.raises(LayerNotFoundError):
        state.layer = "conv9"
    with pytest.raises(SelectionOutOfRangeError):
        state.channel = 32
    with pytest.raises(SelectionOutOfRangeError):
        state.page = 2
    state.page = 1
    np.testing.assert_array_equal(state.page_channels(), np.arange(16, 32))
    state.channel_order = "max"
    maxima = state.current_activation().max(axis=(0, 1))
    ranking = state.channel_ranking()
    assert sorted(ranking.tolist()) == list(range(32))
    assert np.all(np.diff(maxima[ranking]) <= 0)
    assert not any(hasattr(value, "comm") for value in vars(state).values())


def test_the_state_keeps_its_selection_consistent(engine, digits):
    state = ExplorerState(engine, digits, per_page=16)
    state.layer = "conv3"  # 128 channels, 8 pages
    state.channel = 100
    state.page = 7
    state.layer = "conv1"
    state.keep_consistent("layer")
    assert state.channel is None and state.page == 0


def test_only_a_layer_or_image_change_asks_the_engine(engine, digits):
    state = ExplorerState(engine, digits)
    state.current_activation()
    requests = engine.stats.cache_hits + engine.stats.cache_misses
    for order in ("mean", "max", "sparsity", "index"):
        state.channel_order = order
        state.channel_ranking()
    state.channel = 3
    assert engine.stats.cache_hits + engine.stats.cache_misses == requests
    state.image_index = 2
    state.current_activation()
    assert engine.stats.cache_hits + engine.stats.cache_misses == requests + 1


# -- messages to the front end -----------------------------------------------------------
def _panel_widgets(ex):
    from cnnviz_widgets.widgets.panel import _widget_tree

    return {w.model_id: w for w in _widget_tree([ex])}


@pytest.mark.parametrize(("name", "value"), [("channel", 5), ("normalization", "layer"),
                                             ("colormap", "magma"), ("image_index", 1),
                                             ("layer", "conv2")])
def test_one_change_sends_one_batch_of_messages(comm_log, engine, digits, name, value):
    ex = explore(engine, digits, include_samples=False, channel=2)
    comm_log.mark()
    setattr(ex, name, value)
    updates = comm_log.updates()
    assert updates, "the change reached the front end"
    assert max(updates.values()) == 1, {k: v for k, v in updates.items() if v > 1}
    mine = _panel_widgets(ex)
    assert set(updates) <= set(mine)  # nothing outside the panel was touched
    picture = ex.canvas.image
    sent = comm_log.updated(picture)
    assert len(sent) == 1 and "value" in sent[0]


def test_a_refused_value_from_the_front_end_snaps_the_control_back(comm_log, engine, digits):
    ex = explore(engine, digits, include_samples=False)
    slider = ex.controls["page"]
    ex.layer = "conv3"
    comm_log.mark()
    slider.set_state({"value": 1})
    assert ex.page == 1
    ex.channel = 4
    assert ex.controls["channel"].value == 4 and ex.controls["mode"].value == "one"
