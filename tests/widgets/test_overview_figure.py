"""The block overview figure: one row per stage, the normalised maps in its tiles."""

from __future__ import annotations

import numpy as np

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.render.overview import overview_figure
from cnnviz_widgets.testing import nested_backbone_model
from cnnviz_widgets.weights import block_overview


def test_one_row_per_stage_with_the_engine_maps():
    engine = ActivationEngine(nested_backbone_model())
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8)
    rows = block_overview(engine, image, channels=4)
    fig = overview_figure(rows)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == sum(maps.shape[-1] for _, maps in rows)
    name, maps = rows[0]
    first = visible[0].images[0].get_array()
    m = engine.activation(name, image)[..., 0]
    expected = (m - m.min()) / (m.max() - m.min()) if m.max() > m.min() else np.zeros_like(m)
    np.testing.assert_allclose(np.asarray(first), expected, atol=1e-6)
    assert visible[0].get_ylabel().startswith(name)
