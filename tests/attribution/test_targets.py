"""Targets for every kind of output: a class, a region of a per-pixel output, a regression value.

Each target's maps are checked against the same score differentiated by hand on the plain
Keras model (``GradientTape`` / ``jax.grad`` through :func:`.helpers.backend_gradient`),
for saliency and Grad-CAM, on a per-pixel softmax model (``tiny_segmentation_cnn``), a
regression model and a classifier; the other methods are checked to take each target and
to keep a property the score guarantees.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import testing
from cnnviz_widgets.attribution import (
    ClassTarget,
    FinerCAM,
    GradCAM,
    IntegratedGradients,
    RegressionTarget,
    Saliency,
    SegmentationTarget,
    default_gradcam_layer,
)
from cnnviz_widgets.attribution.scores import resolve_score
from cnnviz_widgets.errors import (
    ArgumentTypeError,
    CnnvizError,
    InvalidSettingError,
    SelectionOutOfRangeError,
)

from .helpers import backend_gradient, feature_and_gradient, numpy, tensor

TOL = dict(rtol=2e-4, atol=1e-6)


@pytest.fixture(scope="module")
def clf():
    return testing.tiny_cnn()


def _image(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


def _logits_model(model):
    import keras

    return keras.Model(model.inputs, model.get_layer("logits").output)


def _labels(model, batch):
    """Each pixel's predicted class (numpy, from the plain model)."""
    return numpy(model(tensor(batch), training=False))[0].argmax(axis=-1)


def _region_score(c, mask):
    import keras

    m = np.asarray(mask, dtype=np.float32)[None]
    return lambda out: keras.ops.sum(out[..., c] * m, axis=(1, 2))


def _class_sum(c):
    import keras

    return lambda out: keras.ops.sum(out[..., c], axis=(1, 2))


def _run(model):
    """A Keras model as a plain function of its input (inference mode)."""
    return lambda x: model(x, training=False)


def _saliency_oracle(function, batch, score):
    """``max over channels |d score(function(x)) / d x|`` of image 0."""
    grads = backend_gradient(lambda x: score(function(x)), batch)
    return np.abs(grads[0]).max(axis=-1)


def _cases(seg, reg, clf):
    """(model, explained model of the oracle, target, oracle score) for each target kind."""
    import keras

    seg_batch = Saliency(seg).prepare(_image((16, 16, 1)))
    labels = _labels(seg, seg_batch)
    top = int(np.bincount(labels.ravel(), minlength=3).argmax())
    box = np.zeros((16, 16), bool)
    box[3:9, 5:12] = True
    linear_clf = keras.Model(clf.inputs, clf.get_layer("flatten").output)
    dense = clf.get_layer("probs")

    def clf_logits(x):
        return keras.ops.matmul(linear_clf(x), dense.kernel) + dense.bias

    return {
        "class over the image": (seg, _logits_model(seg), ClassTarget(2), _class_sum(2)),
        "region given as a mask": (seg, _logits_model(seg), SegmentationTarget(1, box),
                                   _region_score(1, box)),
        "predicted region": (seg, _logits_model(seg), SegmentationTarget(top),
                             _region_score(top, labels == top)),
        "regression value": (reg, reg, RegressionTarget(1), lambda out: out[:, 1]),
        "classifier class": (clf, clf_logits, ClassTarget(2), lambda out: out[:, 2]),
    }


CASES = ["class over the image", "region given as a mask", "predicted region",
         "regression value", "classifier class"]


@pytest.mark.parametrize("case", CASES)
def test_saliency_of_each_target_is_the_hand_gradient_of_its_score(seg, reg, clf, case):
    model, oracle_model, target, score = _cases(seg, reg, clf)[case]
    method = Saliency(model)
    image = _image(model.input_shape[1:], seed=1 if case == "classifier class" else 0)
    batch = method.prepare(image)
    got = method(image, target=target)

    explained = _run(oracle_model) if hasattr(oracle_model, "layers") else oracle_model
    want = _saliency_oracle(explained, batch, score)
    assert want.max() > 0
    np.testing.assert_allclose(got, want, **TOL)


@pytest.mark.parametrize("case", ["class over the image", "region given as a mask",
                                  "predicted region", "regression value"])
def test_gradcam_of_each_target_is_the_hand_computation(seg, reg, clf, case):
    model, _, target, score = _cases(seg, reg, clf)[case]
    layer = "conv_c" if model is seg else "conv_b"
    method = GradCAM(model, layer)
    image = _image(model.input_shape[1:])
    batch = method.prepare(image)
    if model is seg:  # the oracle's score on the logits: the model without its Softmax
        oracle = _logits_model(model)
    else:
        oracle = model
    feature, grads = feature_and_gradient(oracle, layer, batch, score)
    want = np.maximum((feature * grads.mean(axis=(0, 1))).sum(axis=-1), 0.0)
    got = method(image, target=target, upsample=False)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-6 * max(1.0, want.max()))


def test_gradcam_of_a_segmentation_model_defaults_to_the_features_before_its_classifier(seg):
    # the last convolution is the per-pixel classifier (1x1, then the softmax): the model's
    # output itself; Seg-Grad-CAM explains the layer of features before it
    assert default_gradcam_layer(seg) == "conv_c"
    assert default_gradcam_layer(testing.tiny_cnn()) == "conv_b"


def test_logits_false_differentiates_the_softmax_and_true_the_layer_before(seg):
    image = _image((16, 16, 1))
    box = np.zeros((16, 16), bool)
    box[4:12, 4:12] = True
    target = SegmentationTarget(1, box)
    batch = Saliency(seg).prepare(image)
    on_probs = _saliency_oracle(_run(seg), batch, _region_score(1, box))
    on_logits = _saliency_oracle(_run(_logits_model(seg)), batch, _region_score(1, box))
    np.testing.assert_allclose(Saliency(seg, logits=False)(image, target=target), on_probs,
                               **TOL)
    np.testing.assert_allclose(Saliency(seg, logits=True)(image, target=target), on_logits,
                               **TOL)
    assert not np.allclose(on_probs, on_logits, rtol=0.05)
    # the model itself is left as it was: its output is still the softmax
    out = numpy(seg(tensor(batch), training=False))
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)


def test_no_target_on_a_per_pixel_output_is_the_top_class_over_its_predicted_region(seg):
    images = np.stack([_image((16, 16, 1), seed=s) for s in (0, 3)])
    method = Saliency(seg)
    batch = np.concatenate([method.prepare(i) for i in images])
    got = method.attribute(batch)  # each image its own top class and region, in one pass
    for i in range(2):
        labels = _labels(seg, batch[i:i + 1])
        top = int(np.bincount(labels.ravel(), minlength=3).argmax())
        want = _saliency_oracle(_run(_logits_model(seg)), batch[i:i + 1],
                                _region_score(top, labels == top))
        np.testing.assert_allclose(got[i], want, **TOL)
    fixed = resolve_score(None, numpy(seg(tensor(batch[:1]), training=False)))
    assert isinstance(fixed, SegmentationTarget) and fixed.mask is not None


def test_integrated_gradients_of_a_region_add_up_to_its_score_difference(seg):
    image = _image((16, 16, 1))
    ig = IntegratedGradients(seg, steps=128, batch_size=64)
    batch = ig.prepare(image)
    labels = _labels(seg, batch)
    top = int(np.bincount(labels.ravel(), minlength=3).argmax())
    attributions, delta = ig.attributions(image, target=SegmentationTarget(top))
    # the region is fixed by the image itself, all along the path
    score = _region_score(top, labels == top)
    logits = _logits_model(seg)
    ends = numpy(score(logits(tensor(np.concatenate([batch, ig.baseline_for(batch)])))))
    difference = float(ends[0] - ends[1])
    assert abs(difference) > 0.1
    assert abs(float(attributions.sum()) - difference) < 0.02 * abs(difference)
    assert abs(delta) < 0.02 * abs(difference)


def test_misfits_say_what_fits(seg, reg, clf):
    image = _image((16, 16, 1))
    with pytest.raises(InvalidSettingError, match="ClassTarget"):
        Saliency(clf)(_image((8, 8, 1)), target=SegmentationTarget(0))
    with pytest.raises(InvalidSettingError, match="SegmentationTarget"):
        Saliency(seg)(image, target=RegressionTarget(0))
    with pytest.raises(InvalidSettingError, match=r"\(16, 16\)"):
        GradCAM(seg, "conv_c")(image, target=SegmentationTarget(1, np.ones((8, 8), bool)))
    with pytest.raises(SelectionOutOfRangeError, match="class 5"):
        Saliency(seg)(image, target=SegmentationTarget(5))
    with pytest.raises(SelectionOutOfRangeError, match="class 3"):
        Saliency(seg)(image, target=ClassTarget(3))
    with pytest.raises(SelectionOutOfRangeError):
        Saliency(reg)(_image((12, 12, 1)), target=RegressionTarget(2))
    with pytest.raises(InvalidSettingError, match="2-D"):
        SegmentationTarget(0, np.ones((2, 16, 16), bool))
    with pytest.raises(ArgumentTypeError):
        SegmentationTarget("road")
    with pytest.raises(CnnvizError, match="GradCAM"):
        FinerCAM(seg, "conv_c")(image)


@pytest.mark.slow
def test_grad_cam_of_a_digits_region_lies_on_that_digit_in_the_trained_segmenter():
    """On the shipped digit-scene segmenter, Grad-CAM (conv4, logits) of each digit's
    predicted region is stronger on that digit than on the other digit of the scene
    (measured: 45 of 48 maps on 20 held-out scenes)."""
    from cnnviz_widgets import zoo

    model = zoo.digits_segmenter()
    scenes, _ = zoo.digit_scenes("test", n=20)
    cam = GradCAM(model, layer="conv4")
    own = []
    for scene in scenes:
        labels = numpy(model(tensor(cam.prepare(scene)), training=False))[0].argmax(axis=-1)
        for c in np.unique(labels):
            others = (labels > 0) & (labels != c)
            if c == 0 or (labels == c).sum() < 20 or not others.any():
                continue
            heat = cam(scene, target=SegmentationTarget(int(c)))
            own.append(heat[labels == c].mean() > heat[others].mean())
    assert len(own) >= 30 and np.mean(own) >= 0.85
