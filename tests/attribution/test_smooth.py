"""SmoothGrad wraps any gradient method: the mean of its maps over seeded noisy copies."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.attribution import ClassScore, GradCAM, Saliency, SmoothGrad, get_method
from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.testing import tiny_cnn

from .helpers import backend_gradient, gradcam_oracle


@pytest.fixture(scope="module")
def model():
    return tiny_cnn()


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(20, 235, (8, 8)).astype(np.float32)


def _noisy_copies(batch: np.ndarray, samples: int, noise: float, seed: int) -> np.ndarray:
    """The documented noise: one stream of N(0, sigma), sigma = noise * input range."""
    sigma = noise * float(batch.max() - batch.min())
    draws = np.random.default_rng(seed).normal(0.0, sigma, (samples, *batch.shape[1:]))
    return (batch + draws).astype(np.float32)


def _saliency_oracle(model, x: np.ndarray, index: int) -> np.ndarray:
    """|d output[index] / d x| for one input, with a plain GradientTape."""
    grads = backend_gradient(lambda t: model(t, training=False)[:, index], x)
    return np.abs(grads[0, ..., 0]).astype(np.float64)


def test_without_noise_it_is_the_wrapped_method(model):
    image = _image(0)
    sal = Saliency(model)
    got = SmoothGrad(sal, samples=5, noise=0.0)(image, target=1)
    want = sal(image, target=1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * want.max())
    cam = GradCAM(model, "conv_a")
    got = SmoothGrad(cam, samples=3, noise=0.0)(image)
    want = cam(image, upsample=False)
    assert got.shape == want.shape == (8, 8)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * want.max())


def test_with_noise_it_is_the_mean_over_the_same_noisy_copies_one_by_one(model):
    sal = Saliency(model, logits=False)
    image = _image(1)
    batch = sal.prepare(image)
    top = int(np.argmax(model(batch)))
    copies = _noisy_copies(batch, 12, 0.2, seed=5)
    want = np.mean([_saliency_oracle(model, copies[i:i + 1], top) for i in range(12)], axis=0)
    got = SmoothGrad(sal, samples=12, noise=0.2, seed=5, batch_size=5)(image)
    assert got.shape == (8, 8) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * want.max())
    # the noise matters: the smoothed map is not the plain one
    assert np.abs(got - sal(image)).max() > 0.05 * want.max()


def test_it_wraps_gradcam_too(model):
    cam = GradCAM(model, "conv_b", logits=False)
    image = _image(2)
    batch = cam.prepare(image)
    copies = _noisy_copies(batch, 6, 0.3, seed=0)
    want = np.mean([gradcam_oracle(model, "conv_b", copies[i:i + 1], 2) for i in range(6)],
                   axis=0)
    got = SmoothGrad(cam, samples=6, noise=0.3, seed=0, batch_size=4)(image, target=2)
    assert got.shape == (4, 4)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(want.max(), 1e-12))


def test_copies_run_in_batches_and_the_batch_size_does_not_change_the_noise(model):
    sal = Saliency(model)
    sizes = []
    original = sal.attribute

    def spy(batch, target=None):
        sizes.append(len(batch))
        return original(batch, target)

    sal.attribute = spy
    steps = []
    image = _image(3)
    a = SmoothGrad(sal, samples=10, noise=0.15, seed=2, batch_size=4)(
        image, target=0, progress=lambda s, t: steps.append((s, t)))
    assert sizes == [4, 4, 2]
    assert steps == [(4, 10), (8, 10), (10, 10)]
    b = SmoothGrad(sal, samples=10, noise=0.15, seed=2, batch_size=1)(image, target=0)
    assert sizes[3:] == [1] * 10
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * b.max())


def test_seeded_normalised_and_shorthand(model):
    image = _image(4)
    smooth = SmoothGrad(Saliency(model), samples=6, noise=0.2, seed=7)
    np.testing.assert_array_equal(smooth(image), smooth(image))
    other = SmoothGrad(Saliency(model), samples=6, noise=0.2, seed=8)(image)
    assert not np.allclose(smooth(image), other)
    raw = smooth(image)
    norm = smooth(image, normalize=True)
    np.testing.assert_allclose(norm, raw / raw.max(), rtol=1e-6)
    # a model stands for Saliency around it
    np.testing.assert_array_equal(SmoothGrad(model, samples=6, noise=0.2, seed=7)(image), raw)


def test_registry_entry_is_the_wrapper(model):
    image = _image(5)
    got = get_method("smoothgrad").run(model, image, samples=4, noise=0.1, seed=3, target=2)
    want = SmoothGrad(Saliency(model), samples=4, noise=0.1, seed=3)(image, target=2)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kwargs", [{"samples": 0}, {"samples": 2.5}, {"noise": -0.1},
                                    {"batch_size": 0}])
def test_bad_settings(model, kwargs):
    with pytest.raises(InvalidSettingError):
        SmoothGrad(Saliency(model), **kwargs)


def test_the_compiled_gradient_equals_the_eager_tape(model):
    """Class scores run through a compiled graph, other callables on the eager tape."""
    sal = Saliency(model, logits=False)
    batch = _noisy_copies(sal.prepare(_image(3)), 4, 0.2, seed=1)
    for index in (0, 2, 1):  # one graph serves every class index
        compiled = sal.input_gradients(batch, ClassScore(index))
        eager = sal.input_gradients(batch, lambda output, i=index: output[:, i])
        want = np.stack([_saliency_oracle(model, batch[i:i + 1], index) for i in range(4)])
        np.testing.assert_allclose(np.abs(compiled[..., 0]), want, rtol=1e-5,
                                   atol=1e-6 * want.max())
        np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-6 * want.max())
    with pytest.raises(IndexError):
        sal.input_gradients(batch, ClassScore(7))
