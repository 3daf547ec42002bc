"""The explorer on models with several inputs or outputs: image_input, other_inputs and
output reach the engine, and the class controls follow the chosen output."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz_widgets import explore
from cnnviz_widgets.errors import SelectionOutOfRangeError
from cnnviz_widgets.testing import image_and_metadata_cnn, two_head_cnn
from tests.engine.oracle import assert_at_maximum


@pytest.fixture(scope="module")
def pictures():
    return np.random.default_rng(8).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)


def test_the_other_input_is_held_fixed(pictures):
    model = image_and_metadata_cnn()
    meta = np.array([0.5, -1.0, 2.0, 0.0], np.float32)
    ex = explore(model, pictures, include_samples=False, image_input="photo",
                 other_inputs={"meta": meta}, layer="probs")
    batch = ex.engine.prepare(ex.image)
    expected = model([batch, meta[None]]).numpy()[0]
    np.testing.assert_allclose(ex.value.values, expected, rtol=1e-5, atol=1e-6)
    ex.layer = "meta_dense"
    dense = keras.Model(model.inputs, model.get_layer("meta_dense").output)
    np.testing.assert_allclose(ex.current_activation(), dense([batch, meta[None]]).numpy()[0],
                               rtol=1e-5, atol=1e-6)


def test_the_class_controls_follow_the_chosen_output(pictures):
    model = two_head_cnn()
    kind = explore(model, pictures, include_samples=False, output="kind")
    assert [v for _, v in kind.controls["target"].options] == [-1, 0, 1, 2]
    kind.target = 2
    colour = explore(model, pictures, include_samples=False, output="colour")
    assert [v for _, v in colour.controls["target"].options] == [-1, 0, 1]
    with pytest.raises(SelectionOutOfRangeError):
        colour.target = 2
    batch = colour.engine.prepare(colour.image)
    scores = keras.Model(model.inputs, model.get_layer("colour").output)(batch).numpy()[0]
    # the predicted class: the engine's scores are the oracle's up to float32 rounding
    assert_at_maximum(colour.ranked_class(), scores)


def test_the_attribution_panel_takes_the_same_keywords(pictures):
    from cnnviz_widgets import AttributionPanel
    from cnnviz_widgets.attribution import GradCAM

    model = image_and_metadata_cnn()
    meta = np.array([0.5, -1.0, 2.0, 0.0], np.float32)
    panel = AttributionPanel(model, pictures, image_input="photo", other_inputs={"meta": meta},
                             show_faithfulness=False)
    assert panel.engine.plan.input_name == "photo"
    np.testing.assert_array_equal(panel.engine.other_inputs["meta"], meta)
    assert panel.result is not None and panel.result.shape == (16, 16)
    same = GradCAM(panel.engine)(pictures[0])
    np.testing.assert_allclose(panel.result, same, rtol=1e-6)
    heads = AttributionPanel(two_head_cnn(), pictures, output="colour", show_faithfulness=False)
    assert heads.engine.output == "colour"
    panel.close()
    heads.close()
