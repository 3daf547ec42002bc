"""Channel ordering against hand-made layers and a brute-force ranking."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.layout import CHANNEL_ORDERS, order_channels


def three_channels():
    a = np.array([[0.0, 0.0], [0.0, 4.0]])  # mean 1, max 4, 3/4 zeros
    b = np.array([[2.0, 2.0], [2.0, 2.0]])  # mean 2, max 2, no zeros
    c = np.array([[0.0, 0.0], [0.0, 0.0]])  # dead
    return np.stack([a, b, c], axis=-1)


@pytest.mark.parametrize("order,expected", [("index", [0, 1, 2]), ("mean", [1, 0, 2]),
                                            ("max", [0, 1, 2]), ("sparsity", [1, 0, 2])])
def test_order_channels(order, expected):
    got = order_channels(three_channels(), order)
    assert got.dtype == np.intp
    assert got.tolist() == expected


def brute_force(x: np.ndarray, order: str) -> list[int]:
    """Rank by a per-channel score in plain Python; ties by index."""
    c = x.shape[-1]
    score = []
    for k in range(c):
        v = [float(t) for t in x[..., k].ravel()]
        if order == "index":
            score.append(k)
        elif order == "mean":
            score.append(-sum(v) / len(v))
        elif order == "max":
            score.append(-max(v))
        else:
            score.append(sum(1 for t in v if t == 0) / len(v))
    return sorted(range(c), key=lambda k: (score[k], k))


@pytest.mark.parametrize("order", [o for o in CHANNEL_ORDERS if o not in ("class", "relevance")])
def test_order_matches_brute_force(order):
    rng = np.random.default_rng(1)
    x = np.maximum(rng.normal(size=(5, 4, 12)), 0).round(1)  # ties and exact zeros
    assert order_channels(x, order).tolist() == brute_force(x, order)


def test_order_ties_are_stable_and_nan_channel_last():
    x = np.stack([np.ones((2, 2)), np.full((2, 2), np.nan), np.ones((2, 2))], axis=-1)
    assert order_channels(x, "mean").tolist() == [0, 2, 1]


def test_top_k_is_a_prefix_of_the_order():
    x = np.random.default_rng(2).normal(size=(3, 3, 9))
    full = order_channels(x, "max")
    assert set(full[:3].tolist()) == set(np.argsort(-x.max(axis=(0, 1)))[:3].tolist())


def test_order_unknown():
    with pytest.raises(InvalidSettingError, match="'index', 'mean', 'max', 'sparsity'"):
        order_channels(three_channels(), "variance")


def test_by_is_a_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="order="):
        got = order_channels(three_channels(), by="mean")
    assert got.tolist() == [1, 0, 2]


@pytest.mark.parametrize("order", ["class", "relevance"])
def test_score_orders_are_descending_scores_with_stable_ties_and_nan_last(order):
    x = np.zeros((2, 2, 5))
    scores = np.array([0.5, 2.0, np.nan, 2.0, -1.0])
    want = sorted(range(5), key=lambda k: (-scores[k] if np.isfinite(scores[k]) else np.inf, k))
    assert order_channels(x, order, scores=scores).tolist() == want == [1, 3, 0, 4, 2]
    with pytest.raises(InvalidSettingError, match="one score per channel"):
        order_channels(x, order)
    with pytest.raises(InvalidSettingError, match="shape"):
        order_channels(x, order, scores=np.ones(4))
