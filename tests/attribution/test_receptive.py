"""effective_receptive_field: model or engine, then image, then layer; the old order warns."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import effective_receptive_field
from cnnviz_widgets.errors import SelectionOutOfRangeError
from cnnviz_widgets.testing import skip_connection_model


@pytest.fixture(scope="module")
def engine():
    return ActivationEngine(skip_connection_model())


def test_the_image_comes_before_the_layer_and_the_old_order_warns(engine):
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), np.uint8)
    layer = engine.layers[1].name
    new = effective_receptive_field(engine, image, layer, 1, 2, channel=0)
    assert new.shape == (16, 16) and new.max() > 0
    with pytest.warns(DeprecationWarning, match="image, layer, row, col"):
        old = effective_receptive_field(engine, layer, 1, 2, image, channel=0)
    np.testing.assert_array_equal(old, new)
    by_name = effective_receptive_field(engine, image=image, layer=layer, row=1, col=2,
                                        channel=0)
    np.testing.assert_array_equal(by_name, new)


def test_a_position_outside_the_layer_is_refused(engine):
    image = np.zeros((16, 16, 3), np.uint8)
    layer = engine.layers[1].name
    with pytest.raises(SelectionOutOfRangeError, match="There is no row 99"):
        effective_receptive_field(engine, image, layer, 99, 0)
