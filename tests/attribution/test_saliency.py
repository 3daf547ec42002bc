"""Saliency equals a float64 finite-difference gradient; SmoothGrad is seeded."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.attribution import ClassScore, Saliency, SmoothGrad
from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.testing import tiny_cnn

from .helpers import copy_model, float64


@pytest.fixture(scope="module")
def model():
    return tiny_cnn()


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(20, 235, (8, 8)).astype(np.float32)


def _fd_gradient(model64, x: np.ndarray, index: int, h: float) -> np.ndarray:
    """Central differences of output[index] with respect to every input value, float64."""
    base = x.astype(np.float64)
    n = base.size
    plus = np.repeat(base, n, axis=0).reshape(n, -1)
    minus = plus.copy()
    plus[np.arange(n), np.arange(n)] += h
    minus[np.arange(n), np.arange(n)] -= h
    shape = (n, *base.shape[1:])
    f_plus = np.asarray(model64(plus.reshape(shape), training=False))[:, index]
    f_minus = np.asarray(model64(minus.reshape(shape), training=False))[:, index]
    return ((f_plus - f_minus) / (2 * h)).reshape(base.shape[1:])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_saliency_equals_finite_difference(model, seed):
    sal = Saliency(model, logits=False)
    image = _image(seed)
    x = sal.engine.prepare(image)
    top = int(np.argmax(model(x)))
    with float64():
        model64 = copy_model(tiny_cnn, model, dtype="float64")
        fd = _fd_gradient(model64, x, top, 1e-5)
        fd_half = _fd_gradient(model64, x, top, 5e-6)
    # no ReLU / max-pool kink within the step: both step sizes agree to float64 precision
    np.testing.assert_allclose(fd, fd_half, rtol=1e-6, atol=1e-10)
    expected = np.abs(fd[..., 0])
    got = sal(image)
    assert got.shape == (8, 8) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=1e-7 * expected.max())
    # target=None is the top class, an int and a ClassScore give the same map
    np.testing.assert_array_equal(sal(image, target=top), got)
    np.testing.assert_array_equal(sal(image, target=ClassScore(top)), got)


def test_saliency_other_class_differs(model):
    sal = Saliency(model, logits=False)
    image = _image(0)
    assert not np.allclose(sal(image, target=0), sal(image, target=1))


def test_logits_equal_a_linear_head_copy(model):
    linear = copy_model(tiny_cnn, model, linear_head=True)
    image = _image(3)
    got = Saliency(model)(image, target=2)
    want = Saliency(linear, logits=False)(image, target=2)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * want.max())
    # the model's softmax is back in place afterwards
    assert model.layers[-1].activation.__name__ == "softmax"
    out = np.asarray(model(Saliency(model).engine.prepare(image)))
    assert np.isclose(out.sum(), 1.0, atol=1e-5)


def test_smooth_samples_is_a_deprecated_path_through_smoothgrad(model):
    sal = Saliency(model)
    image = _image(4)
    with pytest.warns(DeprecationWarning, match="SmoothGrad"):
        old = sal(image, smooth_samples=6, noise=0.2, seed=7)
    new = SmoothGrad(sal, samples=6, noise=0.2, seed=7)(image)
    np.testing.assert_array_equal(old, new)
    assert not np.allclose(new, sal(image))
    with pytest.warns(DeprecationWarning):
        np.testing.assert_array_equal(sal(image, smooth_samples=0), sal(image))


def test_normalize_divides_by_the_maximum(model):
    sal = Saliency(model)
    image = _image(4)
    raw = sal(image)
    norm = sal(image, normalize=True)
    np.testing.assert_allclose(norm, raw / raw.max(), rtol=1e-6)
    assert norm.max() == pytest.approx(1.0) and norm.min() >= 0


@pytest.mark.tensorflow_weights
def test_a_batch_gives_each_image_its_own_top_class(model):
    sal = Saliency(model, logits=False)
    images = [_image(seed) for seed in range(8)]
    batch = np.concatenate([sal.prepare(image) for image in images])
    tops = np.argmax(np.asarray(model(batch)), axis=-1)
    assert len(set(tops.tolist())) > 1  # the images disagree on their class
    maps = sal.attribute(batch)
    assert maps.shape == (8, 8, 8)
    for i, image in enumerate(images):
        # float32 kernels may round differently for a batch of 8 and a batch of 1
        want = sal(image, target=int(tops[i]))
        np.testing.assert_allclose(maps[i], want, rtol=1e-5, atol=1e-5 * want.max())


def test_bad_arguments(model):
    sal = Saliency(model)
    with pytest.raises(InvalidSettingError), pytest.warns(DeprecationWarning):
        sal(_image(0), smooth_samples=-1)
    with pytest.raises(TypeError):
        sal(_image(0), target=True)
    with pytest.raises(TypeError):
        sal(_image(0), target="cat")
