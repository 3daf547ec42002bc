"""Dead filters planted by hand are found, from weights and from activations."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.errors import LayerNotFoundError
from cnnviz_widgets.weights import dead_filters


def _planted_engine(activation: str | None = "relu") -> ActivationEngine:
    """conv (3x3, valid) with 4 filters on a (6, 6, 1) input.

    0: all +1, bias 0 -> fires on any non-black image;
    1: all -1, bias -0.5 -> never positive on non-negative input (dead by activation);
    2: zero kernel, bias +0.5 -> constant 0.5 (dead by weights only);
    3: +1 centre, -1 around, bias 0 -> fires only on a bright isolated dot.
    """
    model = keras.Sequential([
        keras.Input((6, 6, 1)),
        keras.layers.Conv2D(4, 3, activation=activation, name="conv"),
        keras.layers.ReLU(name="relu"),
    ])
    k = np.zeros((3, 3, 1, 4), np.float32)
    k[..., 0] = 1
    k[..., 1] = -1
    k[..., 3] = -1
    k[1, 1, 0, 3] = 1
    model.get_layer("conv").set_weights([k, np.array([0, -0.5, 0.5, 0], np.float32)])
    return ActivationEngine(model, preprocess=lambda x: x / 255.0)


def _images() -> list[np.ndarray]:
    dot = np.zeros((6, 6, 1), np.float32)
    dot[2, 2] = 255
    flat = np.full((6, 6, 1), 128, np.float32)
    black = np.zeros((6, 6, 1), np.float32)
    return [dot, flat, black, flat]


def test_planted_dead_filters_found():
    calls: list[tuple[int, int]] = []
    report = dead_filters(_planted_engine(), _images(), "conv",
                          progress=lambda d, t: calls.append((d, t)))
    assert report.n_channels == 4 and report.n_images == 4
    np.testing.assert_array_equal(report.dead_by_weights, [2])
    np.testing.assert_array_equal(report.dead_by_activation, [1])
    np.testing.assert_array_equal(report.indices, [1, 2])
    np.testing.assert_array_equal(report.alive, [0, 3])
    assert report.fraction == 0.5
    np.testing.assert_allclose(report.fraction_active, [0.75, 0, 1, 0.25])
    np.testing.assert_allclose(report.kernel_norms, [3, 3, 0, 3])
    np.testing.assert_allclose(report.max_activation, [9 * 128 / 255, 0, 0.5, 1], atol=1e-6)
    assert calls == [(0, 4), (4, 4)]


def test_batched_scan_agrees_and_reports_progress():
    engine = _planted_engine()
    images = np.stack(_images() * 5)  # 20 images in batches of 8
    calls: list[tuple[int, int]] = []
    report = dead_filters(engine, images, "conv", batch_size=8,
                          progress=lambda d, t: calls.append((d, t)))
    np.testing.assert_array_equal(report.indices, [1, 2])
    np.testing.assert_allclose(report.fraction_active, [0.75, 0, 1, 0.25])
    assert calls == [(0, 20), (8, 20), (16, 20), (20, 20)]


def test_a_scan_result_is_used_without_computing_again():
    from cnnviz_widgets import scan

    engine = _planted_engine()
    result = scan(engine, _images(), ["conv"], progress=False)
    evaluations = engine.stats.layer_evaluations
    report = dead_filters(engine, result, "conv")
    assert engine.stats.layer_evaluations == evaluations
    np.testing.assert_array_equal(report.indices, [1, 2])
    np.testing.assert_allclose(report.fraction_active, [0.75, 0, 1, 0.25])
    with pytest.raises(ValueError, match="threshold"):
        dead_filters(engine, result, "conv", threshold=0.5)


def test_linear_conv_then_relu_layer_gives_same_verdict():
    engine = _planted_engine(activation=None)
    pre = dead_filters(engine, _images(), "conv")
    post = dead_filters(engine, _images(), "relu")
    np.testing.assert_array_equal(pre.dead_by_activation, [1])
    np.testing.assert_array_equal(post.dead_by_activation, [1])
    np.testing.assert_array_equal(pre.dead_by_weights, [2])
    assert post.kernel_norms is None and post.dead_by_weights.size == 0
    np.testing.assert_array_equal(post.indices, [1])


def test_weight_tolerance_and_empty_scan():
    engine = _planted_engine()
    report = dead_filters(engine, [], "conv", weight_tol=5.0)
    np.testing.assert_array_equal(report.dead_by_weights, [0, 1, 2, 3])
    assert report.dead_by_activation.size == 0 and report.n_images == 0
    assert report.fraction == 1.0
    with pytest.raises(LayerNotFoundError):
        dead_filters(engine, [], "conv9")
    with pytest.raises(ValueError, match="batch_size"):
        dead_filters(engine, [], "conv", batch_size=0)


def test_a_model_and_a_stack_work_like_an_engine_and_a_list():
    engine = _planted_engine()
    expected = dead_filters(engine, _images(), "conv")
    # a bare model gets the default preprocessing (/ 255 for a model Keras does not know)
    from_model = dead_filters(engine.model, _images(), "conv")
    stack = np.stack([im[..., 0] for im in _images()])  # (4, 6, 6): four images
    from_stack = dead_filters(engine, stack, "conv")
    for report in (from_model, from_stack):
        assert report.n_images == 4
        np.testing.assert_array_equal(report.indices, expected.indices)
        np.testing.assert_allclose(report.fraction_active, expected.fraction_active)
        np.testing.assert_allclose(report.max_activation, expected.max_activation, atol=1e-6)
    one = dead_filters(engine, _images()[0], "conv")  # one (6, 6, 1) image, not 6 rows
    assert one.n_images == 1
    np.testing.assert_allclose(one.fraction_active, [1, 0, 1, 1])


def test_the_old_argument_order_still_works_with_a_warning():
    engine = _planted_engine()
    expected = dead_filters(engine, _images(), "conv")
    with pytest.warns(DeprecationWarning, match="images, layer"):
        old = dead_filters(engine, "conv", _images())
    np.testing.assert_array_equal(old.indices, expected.indices)
