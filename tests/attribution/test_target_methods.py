"""Every attribution method and metric with a region target and a regression target.

What a target means is checked against the hand gradient of its score in
``test_targets.py`` (under every backend); here each other method and metric takes the
targets and keeps its own properties: a region that covers the whole image is the class,
an empty region gives nothing, a check that changes the model or the image keeps the
trained model's region.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.attribution import (
    LRP,
    AblationCAM,
    ChannelContributions,
    ChannelRelevance,
    ClassTarget,
    GradCAMPlusPlus,
    HiResCAM,
    IntegratedGradients,
    LayerCAM,
    RegressionTarget,
    Saliency,
    ScoreCAM,
    SegmentationTarget,
    ShapleyCAM,
    SmoothGrad,
    XGradCAM,
    faithfulness,
    mu_fidelity,
    road,
    sanity_check,
    stability,
)

from .helpers import numpy, tensor
from .test_targets import _image, _labels, _region_score


def _methods(model, layer):
    return {
        "SmoothGrad": SmoothGrad(Saliency(model), samples=3, seed=0),
        "IntegratedGradients": IntegratedGradients(model, steps=8),
        "GradCAM++": GradCAMPlusPlus(model, layer),
        "XGradCAM": XGradCAM(model, layer),
        "LayerCAM": LayerCAM(model, layer),
        "HiResCAM": HiResCAM(model, layer),
        "ShapleyCAM": ShapleyCAM(model, layer),
        "ScoreCAM": ScoreCAM(model, layer),
        "AblationCAM": AblationCAM(model, layer),
        "ChannelContributions": ChannelContributions(model, layer),
        "LRP": LRP(model),
        "CRP": ChannelRelevance(model, layer),
    }


METHODS = ["SmoothGrad", "IntegratedGradients", "GradCAM++", "XGradCAM", "LayerCAM",
           "HiResCAM", "ShapleyCAM", "ScoreCAM", "AblationCAM", "ChannelContributions", "LRP",
           "CRP"]


@pytest.fixture(scope="module")
def seg_methods(seg):
    return _methods(seg, "conv_c")


@pytest.mark.parametrize("name", METHODS)
def test_every_method_takes_a_region_and_the_whole_image_is_the_class(seg, seg_methods, name):
    """A region covering every pixel scores what the class target does (same map); an
    empty region scores a constant 0, which nothing raises (a zero map)."""
    method = seg_methods[name]
    image = _image((16, 16, 1))
    spread = []
    for c in range(3):
        whole = method(image, target=SegmentationTarget(c, np.ones((16, 16), bool)))
        as_class = method(image, target=ClassTarget(c))
        assert np.all(np.isfinite(whole))
        np.testing.assert_allclose(whole, as_class, rtol=1e-4, atol=1e-6)
        spread.append(np.ptp(whole))
    assert max(spread) > 0  # not every map is flat (a ReLU'd CAM may be, for one class)
    empty = method(image, target=SegmentationTarget(1, np.zeros((16, 16), bool)))
    np.testing.assert_allclose(empty, 0.0, atol=1e-6)


@pytest.mark.parametrize("name", METHODS)
def test_every_method_takes_a_regression_target(reg, name):
    method = _methods(reg, "conv_b")[name]
    image = _image((12, 12, 1))
    first = np.asarray(method(image, target=RegressionTarget(0)))
    second = np.asarray(method(image, target=RegressionTarget(1)))
    assert np.all(np.isfinite(first)) and np.ptp(first) > 0
    assert not np.allclose(first, second)  # two outputs, two explanations


def test_deletion_scores_every_changed_image_on_the_clean_images_region(seg):
    image = _image((16, 16, 1))
    batch = Saliency(seg).prepare(image)
    labels = _labels(seg, batch)
    top = int(np.bincount(labels.ravel(), minlength=3).argmax())
    heat = Saliency(seg)(image, target=SegmentationTarget(top))
    result = faithfulness(seg, image, heat, SegmentationTarget(top), steps=4, substrate="black")
    score = _region_score(top, labels == top)
    black = Saliency(seg).prepare(np.zeros((16, 16, 1), np.float32))
    ends = numpy(score(seg(tensor(np.concatenate([batch, black])), training=False)))
    # the substrate is scored on the clean image's region, not on its own prediction
    np.testing.assert_allclose([result.clean_score, result.substrate_score], ends, rtol=1e-5)


@pytest.mark.tensorflow_weights
def test_the_black_substrates_own_region_differs_so_the_test_above_can_fail(seg):
    batch = Saliency(seg).prepare(_image((16, 16, 1)))
    labels = _labels(seg, batch)
    top = int(np.bincount(labels.ravel(), minlength=3).argmax())
    black = _labels(seg, Saliency(seg).prepare(np.zeros((16, 16, 1), np.float32)))
    assert not np.array_equal(black == top, labels == top)


def test_road_and_fidelity_take_region_and_regression_targets(seg, reg):
    image = _image((16, 16, 1))
    target = SegmentationTarget(2, np.ones((16, 16), bool))
    heat = Saliency(seg)(image, target=target)
    result = road(seg, image, heat, target, percentiles=(20, 60))
    assert np.all(np.isfinite(result.morf)) and np.all(np.isfinite(result.lerf))
    assert np.isfinite(mu_fidelity(seg, image, heat, target, samples=8))
    small = _image((12, 12, 1))
    value = faithfulness(reg, small, Saliency(reg)(small, RegressionTarget(0)),
                         RegressionTarget(0), steps=3)
    out = numpy(reg(tensor(Saliency(reg).prepare(small)), training=False))
    # a regression value is scored as it is, never through a softmax
    np.testing.assert_allclose(value.clean_score, out[0, 0], rtol=1e-5)


def test_checks_that_change_the_model_or_the_image_keep_the_trained_models_region(seg):
    image = _image((16, 16, 1))
    labels = _labels(seg, Saliency(seg).prepare(image))
    top = int(np.bincount(labels.ravel(), minlength=3).argmax())
    result = sanity_check(seg, image, "saliency", target=SegmentationTarget(top))
    np.testing.assert_array_equal(result.target.mask, labels == top)
    default = sanity_check(seg, image, "saliency")  # no target: the top class's region
    assert default.target.class_index == top
    np.testing.assert_array_equal(default.target.mask, labels == top)
    assert np.isfinite(stability(seg, image, "saliency", SegmentationTarget(top), samples=2))
