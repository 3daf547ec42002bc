"""Statistics taken from other maps give the view those maps' scale."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.colour.normalize import NORMALIZATIONS
from cnnviz_widgets.render.maps import render_channel, render_grid


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_stats_from_the_maps_without_a_gap_equal_the_stats_with_it(normalization):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 5, 4)), rng.normal(2.0, 3.0, size=(6, 5, 4))
    gap = np.full((6, 1, 4), np.nan)
    joined = np.concatenate([a, gap, b], axis=1)
    both = np.concatenate([a, b], axis=1)
    slow = render_grid(joined, [2, 0, 3], normalization)
    fast = render_grid(joined, [2, 0, 3], normalization, stats_from=both)
    np.testing.assert_allclose(fast.view, slow.view, rtol=1e-6, equal_nan=True)
    one = render_channel(joined, 1, normalization, stats_from=both)
    np.testing.assert_allclose(one.view, render_channel(joined, 1, normalization).view,
                               rtol=1e-6, equal_nan=True)
