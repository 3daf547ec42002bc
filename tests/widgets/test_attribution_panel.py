"""The attribution panel: controls come from the registry; results match the classes."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.attribution import METHODS, GradCAM
from cnnviz_widgets.attribution.registry import MethodSpec, ParamSpec, register_method
from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.testing import tiny_cnn
from cnnviz_widgets.widgets.attribution import AttributionPanel
from cnnviz_widgets.zoo.labels import top_classes


@pytest.fixture(scope="module")
def model():
    return tiny_cnn()


@pytest.fixture
def images():
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, (8, 8), np.uint8) for _ in range(3)]


def test_controls_are_built_from_the_registry(model, images):
    panel = AttributionPanel(model, images, class_names=["cat", "dog", "owl"], auto_run=False)
    assert [v for _, v in panel.method_control.options] == list(METHODS)
    for name, spec in METHODS.items():
        panel.method = name
        labels = [c.description for c in panel.params_box.children]
        assert labels == [p.label for p in spec.params]
    panel.method = "gradcam"
    classes = panel.controls["target"].options
    assert ("1: dog", 1) in classes


def test_gradcam_result_matches_the_compute_class(model, images):
    panel = AttributionPanel(model, images, method="gradcam")
    panel.image_index = 2
    expected = GradCAM(panel.engine)(images[2])
    np.testing.assert_allclose(panel.result, expected, atol=1e-6)
    assert panel.picture.value[:4] == b"\x89PNG"
    assert "Top classes" in panel.predictions.value


def test_choosing_a_class_recomputes_for_that_class(model, images):
    panel = AttributionPanel(model, images, method="saliency")
    runs = panel.run_count
    panel.controls["target"].value = 2
    assert panel.run_count == runs + 1
    from cnnviz_widgets.attribution import Saliency

    np.testing.assert_allclose(panel.result, Saliency(panel.engine)(images[0], target=2),
                               atol=1e-6)


def test_lrp_runs_with_the_chosen_composite(model, images):
    from cnnviz_widgets.attribution import LRP

    panel = AttributionPanel(model, images, method="lrp")
    assert panel.controls["composite"].value == "epsilon_plus_flat"
    panel.controls["composite"].value = "epsilon_gamma_box"
    panel.run()
    np.testing.assert_allclose(
        panel.result, LRP(panel.engine, composite="epsilon_gamma_box")(images[0]), atol=1e-6)
    assert panel.errors.message == ""


def test_crp_shows_where_the_chosen_channel_is_relevant(model, images):
    from cnnviz_widgets.attribution import ChannelRelevance

    panel = AttributionPanel(model, images, method="crp")
    panel.controls["layer"].value = "conv_b"
    panel.controls["channel"].value = 4
    panel.controls["target"].value = 2
    panel.run()
    assert panel.errors.message == ""
    want = ChannelRelevance(panel.engine, "conv_b")(images[0], channels=[4], target=2)[0]
    np.testing.assert_allclose(panel.result, want, atol=1e-6)
    panel.controls["channel"].value = 99  # the layer has 6: our error, in the panel
    panel.run()
    assert "channel 99" in panel.errors.message


def test_activation_maximisation_runs_with_progress(model, images):
    panel = AttributionPanel(model, images, method="activation_maximization")
    assert panel.result is None  # slow methods wait for "Run"
    panel.controls["layer"].value = "conv_a"
    panel.controls["channel"].value = 1
    panel.controls["steps"].value = 5
    result = panel.run()
    assert result.steps == 5
    assert panel.progress.value == panel.progress.max == 5


def test_a_registered_method_appears_without_new_ui_code(model, images):
    class MeanInput:
        def __init__(self, engine):
            self.engine = engine

        def __call__(self, image, power=1.0):
            x = self.engine.prepare(image)[0, ..., 0]
            return (x ** power) / max(float((x ** power).max()), 1e-9)

    spec = register_method(MethodSpec(
        "mean_input", "Input intensity", MeanInput,
        (ParamSpec("power", "Power", "float", 2.0, min=0.5, max=4.0),)))
    try:
        panel = AttributionPanel(model, images, method="mean_input")
        assert [c.description for c in panel.params_box.children] == ["Power"]
        x = panel.engine.prepare(images[0])[0, ..., 0] ** 2
        np.testing.assert_allclose(panel.result, x / x.max(), rtol=1e-6)
    finally:
        METHODS.pop(spec.name)


def test_bad_settings_show_in_the_panel(model, images):
    panel = AttributionPanel(model, images, auto_run=False)
    with pytest.raises(InvalidSettingError):
        panel.method = "lime"
    assert "lime" in panel.errors.message
    panel.controls["layer"].value = "conv_b"
    panel.run()
    assert panel.errors.message == ""


def test_top_classes_orders_and_names():
    assert top_classes(np.array([0.1, 0.7, 0.2]), ["a", "b", "c"], k=2) == [
        (1, "b", pytest.approx(0.7)), (2, "c", pytest.approx(0.2))]


def test_methods_side_by_side_with_their_faithfulness(model, images):
    """Every map on screen equals its class called directly, scored by faithfulness()."""
    from cnnviz_widgets.attribution import LayerCAM, Saliency, faithfulness

    panel = AttributionPanel(model, images, method="gradcam")
    runs = panel.run_count
    panel.compare_control.value = ("layercam", "saliency")  # the control, as a click
    assert panel.side_by_side == ["layercam", "saliency"]
    assert panel.run_count == runs + 1
    panel.controls["layer"].value = "conv_a"
    panel.controls["target"].value = 2
    image = images[0]
    assert list(panel.heatmaps) == ["gradcam", "layercam", "saliency"]
    np.testing.assert_allclose(panel.heatmaps["gradcam"],
                               GradCAM(panel.engine, "conv_a")(image, target=2), atol=1e-6)
    np.testing.assert_allclose(panel.heatmaps["layercam"],
                               LayerCAM(panel.engine, "conv_a")(image, target=2), atol=1e-6)
    np.testing.assert_allclose(panel.heatmaps["saliency"],
                               Saliency(panel.engine)(image, target=2), atol=1e-6)
    want = faithfulness(model, image, panel.heatmaps["layercam"], target=2)
    got = panel.scores["layercam"]
    # the panel scores its maps together, in batches of other images
    np.testing.assert_allclose(got.deletion, want.deletion, rtol=1e-5, atol=1e-7)
    assert got.insertion_auc == pytest.approx(want.insertion_auc, rel=1e-5)
    cells = panel.others.children
    assert [c.children[0].value for c in cells] == ["<b>LayerCAM</b>", "<b>Saliency (gradient)</b>"]
    assert f"{got.deletion_auc:.3f}" in cells[0].children[2].value
    assert cells[0].children[3].value[:4] == b"\x89PNG"  # the curves
    assert f"{panel.scores['gradcam'].insertion_auc:.3f}" in panel.score_note.value

    panel.show_faithfulness = False
    assert panel.scores == {} and panel.score_note.value == ""
    panel.compare_control.value = ()
    assert panel.others.children == ()


def test_a_wrong_side_by_side_method_is_refused_in_words(model, images):
    panel = AttributionPanel(model, images, auto_run=False)
    with pytest.raises(InvalidSettingError, match="heatmap methods"):
        panel.side_by_side = ["activation_maximization"]
    assert "activation_maximization" in panel.errors.message
    assert panel.side_by_side == []


def test_several_feature_visualisations_are_shown_in_one_row(model, images):
    import io

    from PIL import Image

    panel = AttributionPanel(model, images, method="activation_maximization")
    panel.controls["layer"].value = "conv_b"
    panel.controls["images"].value = 3
    panel.controls["steps"].value = 4
    result = panel.run()
    assert result.images.shape == (3, 8, 8, 1)
    shown = np.asarray(Image.open(io.BytesIO(panel.picture.value)).convert("RGB"))
    scale = shown.shape[0] // 8
    assert shown.shape[1] == scale * (3 * 8 + 2 * 2)  # three images, two 2-px gaps
    np.testing.assert_array_equal(shown[0, ::scale][:8, 0], result.images[0, 0, :, 0])
    np.testing.assert_array_equal(shown[0, ::scale][10:18, 0], result.images[1, 0, :, 0])
