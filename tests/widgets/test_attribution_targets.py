"""The attribution panel offers the targets that fit the model's output."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets.attribution import (
    ClassTarget,
    RegressionTarget,
    Saliency,
    SegmentationTarget,
)
from cnnviz_widgets.colour import colour_labels
from cnnviz_widgets.testing import tiny_regression_cnn, tiny_segmentation_cnn
from cnnviz_widgets.widgets.attribution import AttributionPanel
from cnnviz_widgets.widgets.targets import REGIONS, TargetPicker


@pytest.fixture(scope="module")
def seg():
    return tiny_segmentation_cnn()


@pytest.fixture
def images():
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, (16, 16), np.uint8) for _ in range(2)]


def _decoded(png: bytes, size: tuple[int, int]) -> np.ndarray:
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    step = picture.size[0] // size[1]
    return np.asarray(picture)[::step, ::step]


def _labels(model, image):
    x = np.asarray(image, np.float32)[None, ..., None] / 255.0
    return np.asarray(model(x, training=False))[0].argmax(axis=-1)


def test_a_per_pixel_model_offers_a_class_and_a_region_beside_its_predicted_mask(seg, images):
    panel = AttributionPanel(seg, images, method="saliency", show_faithfulness=False)
    picker = panel.controls["target"]
    assert isinstance(picker, TargetPicker)
    assert list(picker.region_control.options) == list(REGIONS)
    assert [v for _, v in picker.class_control.options] == [-1, 0, 1, 2]
    assert picker.view in panel.target_view.children  # the mask is shown beside the maps
    picker.region_control.value = "whole image"  # nothing dimmed: the mask as predicted
    labels = _labels(seg, images[0])
    np.testing.assert_array_equal(picker.labels, labels)
    shown = _decoded(picker.mask_picture.value, labels.shape)
    np.testing.assert_array_equal(shown, colour_labels(labels, classes=3))
    top = int(np.bincount(labels.ravel(), minlength=3).argmax())
    assert picker.value == ClassTarget(top)
    np.testing.assert_allclose(panel.result,
                               Saliency(panel.engine)(images[0], target=ClassTarget(top)),
                               atol=1e-6)
    panel.close()


def test_clicking_a_class_explains_its_predicted_region(seg, images):
    panel = AttributionPanel(seg, images, method="gradcam", show_faithfulness=False)
    picker = panel.controls["target"]
    runs = panel.run_count
    picker.legend[2].click()
    assert panel.run_count == runs + 1
    assert isinstance(picker.value, SegmentationTarget) and picker.value.class_index == 2
    region = picker.region()
    np.testing.assert_array_equal(region, _labels(seg, images[0]) == 2)
    shown = _decoded(picker.mask_picture.value, region.shape).astype(int)
    full = colour_labels(picker.labels, classes=3).astype(int)
    assert np.array_equal(shown[region], full[region])  # the region in full colour
    assert not np.array_equal(shown[~region], full[~region])  # the rest dimmed
    from cnnviz_widgets.attribution import GradCAM

    np.testing.assert_allclose(
        panel.result, GradCAM(panel.engine)(images[0], target=SegmentationTarget(2)), atol=1e-6)
    panel.close()


def test_clicking_a_pixel_of_the_mask_explains_its_class_and_a_drawn_box_is_the_box(seg,
                                                                                   images):
    panel = AttributionPanel(seg, images, method="saliency", show_faithfulness=False)
    picker = panel.controls["target"]
    labels = picker.labels
    row, col = map(int, np.argwhere(labels == labels.max())[0])
    runs = panel.run_count
    picker.click(row, col)
    assert picker.value.class_index == labels[row, col] and panel.run_count == runs + 1
    picker.region_control.value = "box"
    assert picker.mask_figure.interaction is picker.brush  # drawing needs the brush
    runs = panel.run_count
    picker.brush.brushing = True  # the front end: mouse down, drag, mouse up
    picker.brush.selected_x, picker.brush.selected_y = [2.4, 9.6], [1.2, 5.0]
    picker.brush.brushing = False
    assert (picker.rows.value, picker.cols.value) == ((1, 5), (2, 10))
    assert panel.run_count == runs + 1  # one run for the drawn box
    mask = np.zeros((16, 16), bool)
    mask[1:5, 2:10] = True
    np.testing.assert_array_equal(picker.value.mask, mask)
    picker.region_control.value = "whole image"
    assert picker.mask_figure.interaction is None  # clicks reach the mask again
    panel.close()


def test_a_box_region_and_an_empty_box_told_in_the_panel(seg, images):
    panel = AttributionPanel(seg, images, method="saliency", show_faithfulness=False)
    picker = panel.controls["target"]
    picker.class_control.value = 1
    picker.region_control.value = "box"
    picker.rows.value, picker.cols.value = (2, 6), (3, 10)
    mask = np.zeros((16, 16), bool)
    mask[2:6, 3:10] = True
    np.testing.assert_array_equal(picker.value.mask, mask)
    want = Saliency(panel.engine)(images[0], target=SegmentationTarget(1, mask))
    np.testing.assert_allclose(panel.result, want, atol=1e-6)
    runs = panel.run_count
    picker.rows.value = (4, 4)
    assert "box is empty" in panel.errors.message and panel.run_count == runs
    picker.rows.value = (0, 16)
    assert panel.errors.message == "" and panel.run_count == runs + 1
    panel.method = "finercam"  # a method that compares classes of a vector: told why not
    assert "GradCAM" in panel.errors.message
    panel.method = "saliency"
    assert panel.errors.message == "" and panel.result.shape == (16, 16)
    panel.close()


def test_a_regression_model_is_explained_as_raise_output_0():
    model = tiny_regression_cnn()
    image = np.random.default_rng(2).integers(0, 256, (12, 12), np.uint8)
    panel = AttributionPanel(model, [image], method="saliency", show_faithfulness=False)
    picker = panel.controls["target"]
    assert picker.output_control.options == (("raise output 0", 0),)
    assert picker.value == RegressionTarget(0)
    np.testing.assert_allclose(
        panel.result, Saliency(panel.engine)(image, target=RegressionTarget(0)), atol=1e-6)
    panel.close()
