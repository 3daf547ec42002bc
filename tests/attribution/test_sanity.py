"""The model-parameter randomisation test (Adebayo et al. 2018) and its similarity measures."""

from __future__ import annotations

import gc
import hashlib

import numpy as np
import pytest

from cnnviz_widgets import zoo
from cnnviz_widgets.attribution import SanityResult, sanity_check
from cnnviz_widgets.attribution.metrics.similarity import average_ranks, pearson, spearman, ssim
from cnnviz_widgets.attribution.registry import MethodSpec, ParamSpec
from cnnviz_widgets.engine.coerce import as_engine
from cnnviz_widgets.errors import InvalidSettingError
from tests.conftest import require


class EdgeDetector:
    """A "method" that ignores the model: the Sobel gradient magnitude of the image."""

    def __init__(self, model_or_engine):
        self.engine = as_engine(model_or_engine)

    def __call__(self, image, target=None, upsample=True):
        pixels = np.asarray(self.engine.pixels(image), dtype=np.float64)
        grey = pixels.mean(axis=-1) if pixels.ndim == 3 else pixels
        padded = np.pad(grey, 1, mode="edge")
        gx = padded[1:-1, 2:] - padded[1:-1, :-2]
        gy = padded[2:, 1:-1] - padded[:-2, 1:-1]
        return np.hypot(gx, gy)


EDGES = MethodSpec("edges", "Edges", EdgeDetector,
                   (ParamSpec("target", "Class", "class", None, min=0),),
                   fixed={"upsample": True})


def weight_hashes(model) -> list[str]:
    return [hashlib.sha256(np.asarray(w.numpy()).tobytes()).hexdigest() for w in model.weights]


@pytest.fixture(scope="module")
def digits():
    model = zoo.digits_cnn()
    images, _ = zoo.digit_samples(2)
    return model, images


@pytest.fixture(scope="module")
def gradcam_check(digits):
    model, images = digits
    before = weight_hashes(model)
    result = sanity_check(model, images[0], "gradcam")
    return result, before


def test_gradcam_forgets_the_image_once_every_layer_is_random(digits, gradcam_check):
    model, _ = digits
    result, _ = gradcam_check
    assert isinstance(result, SanityResult)
    assert result.layers == ("predictions", "dense1", "conv3", "conv2", "conv1")
    assert result.maps.shape == (6, 28, 28)
    assert abs(result.similarity[-1]) < 0.5 and result.ssim[-1] < 0.5
    assert result.passed


def test_the_users_weights_are_byte_identical_after(digits, gradcam_check):
    model, _ = digits
    result, before = gradcam_check
    assert weight_hashes(model) == before
    assert result.maps.shape[0] == len(result.layers) + 1


def test_the_copy_is_freed(digits):
    import keras

    model, images = digits
    sanity_check(model, images[1], "gradcam", layers=["predictions"])
    gc.collect()
    before = sum(isinstance(o, keras.Model) for o in gc.get_objects())
    sanity_check(model, images[1], "gradcam", layers=["predictions"])
    gc.collect()
    assert sum(isinstance(o, keras.Model) for o in gc.get_objects()) == before


def test_a_method_that_ignores_the_model_fails(digits):
    model, images = digits
    before = weight_hashes(model)
    result = sanity_check(model, images[0], EDGES)
    np.testing.assert_allclose(result.similarity, 1.0)
    np.testing.assert_allclose(result.ssim, 1.0)
    assert not result.passed and "fails" in result.summary()
    assert weight_hashes(model) == before


def test_layers_are_randomised_from_the_output_down_whatever_their_order(digits):
    model, images = digits
    result = sanity_check(model, images[0], "saliency", layers=["conv1", "predictions"])
    assert result.layers == ("predictions", "conv1")
    with pytest.raises(InvalidSettingError, match="no trainable weights"):
        sanity_check(model, images[0], "saliency", layers=["pool1"])


def test_the_figure_has_a_map_per_step_and_the_curves(gradcam_check):
    result, _ = gradcam_check
    fig = result.figure()
    assert len(fig.axes) == len(result.layers) + 2
    curves = fig.axes[-1].lines
    np.testing.assert_allclose(curves[0].get_ydata(), result.similarity)


def test_spearman_equals_scipy_with_ties():
    stats = require("scipy.stats")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, size=(9, 7)).astype(float)  # many ties
    b = a + rng.integers(0, 3, size=a.shape)
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a.ravel(), b.ravel())[0], abs=1e-12)
    np.testing.assert_allclose(average_ranks([3, 1, 3, 2]), [2.5, 0, 2.5, 1])
    assert spearman(np.zeros(4), np.arange(4)) == 0.0
    assert spearman(np.ones(4), np.ones(4)) == 1.0


def test_pearson_equals_numpy_and_is_zero_for_a_constant():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=50), rng.normal(size=50)
    assert pearson(a, a + b) == pytest.approx(np.corrcoef(a, a + b)[0, 1], abs=1e-12)
    assert pearson(a, -2 * a) == pytest.approx(-1.0, abs=1e-12)
    assert pearson(np.ones(5), np.arange(5)) == 0.0


def test_ssim_equals_scikit_image():
    metrics = require("skimage.metrics", "samples")
    rng = np.random.default_rng(1)
    a = rng.random((20, 17))
    b = np.clip(a + rng.normal(0, 0.2, a.shape), 0, 1)
    expected = metrics.structural_similarity(a, b, data_range=1.0)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-9)
    assert ssim(a, a) == pytest.approx(1.0)
