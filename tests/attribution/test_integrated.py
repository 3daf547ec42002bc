"""Integrated gradients against the published formula, written out with a plain GradientTape."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import ClassScore, IntegratedGradients, SmoothGrad
from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.testing import tiny_cnn

from .helpers import backend_gradient, copy_model

SHAPE = (12, 12, 3)


def _inception_style(x: np.ndarray) -> np.ndarray:
    """A preprocessing under which black pixels are not zeros of the model input."""
    return (np.asarray(x, dtype=np.float32) - 127.0) / 128.0


@pytest.fixture(scope="module")
def model():
    return tiny_cnn(SHAPE)


@pytest.fixture(scope="module")
def linear(model):
    """The same network with a linear last layer: the logits ``logits=True`` explains."""
    return copy_model(lambda: tiny_cnn(SHAPE), model, linear_head=True)


@pytest.fixture(scope="module")
def engine(model):
    return ActivationEngine(model, preprocess=_inception_style)


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, SHAPE).astype(np.float32)


def _gradient(model, x: np.ndarray, index: int) -> np.ndarray:
    grads = backend_gradient(lambda t: model(t, training=False)[0, index],
                             x[None].astype(np.float32))
    return grads[0].astype(np.float64)


def _brute_force(model, x: np.ndarray, baseline: np.ndarray, index: int,
                 steps: int) -> np.ndarray:
    """(x - x') * mean over midpoint alphas of grad f(x' + alpha (x - x')), one alpha at a time."""
    x, baseline = x.astype(np.float64), baseline.astype(np.float64)
    total = np.zeros_like(x)
    for k in range(steps):
        alpha = (k + 0.5) / steps
        total += _gradient(model, baseline + alpha * (x - baseline), index)
    return (x - baseline) * total / steps


def _logit(model, x: np.ndarray, index: int) -> float:
    return float(model(x[None].astype(np.float32), training=False)[0, index])


def test_it_equals_the_published_formula_one_alpha_at_a_time(engine, linear):
    ig = IntegratedGradients(engine, steps=7, batch_size=3)
    image = _image(0)
    x = ig.prepare(image)[0]
    baseline = _inception_style(np.zeros(SHAPE))
    want = _brute_force(linear, x, baseline, 2, steps=7)
    got, _ = ig.attributions(image, target=2)
    assert got.shape == SHAPE and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    heat = ig(image, target=2)
    assert heat.shape == SHAPE[:2] and heat.dtype == np.float32
    np.testing.assert_allclose(heat, want.sum(axis=-1), rtol=1e-4,
                               atol=1e-5 * np.abs(want).max())
    absolute = IntegratedGradients(engine, steps=7, absolute=True)(image, target=2)
    np.testing.assert_allclose(absolute, np.abs(want.sum(axis=-1)), rtol=1e-4,
                               atol=1e-5 * np.abs(want).max())


def _smooth_cnn():
    """A small CNN with smooth activations (tanh, softplus) and a softmax head.

    The integrand of a ReLU network jumps wherever a unit switches on along the path, so
    a Riemann sum converges only as 1 / steps there; with smooth activations the midpoint
    rule's error falls as 1 / steps**2 and completeness can be checked tightly.
    """
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input(SHAPE),
        keras.layers.Conv2D(4, 3, activation="tanh", name="conv"),
        keras.layers.Conv2D(6, 3, activation="softplus", name="conv_b"),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax", name="probs"),
    ])


def test_completeness_attributions_add_up_to_the_score_difference():
    smooth = _smooth_cnn()
    linear = copy_model(_smooth_cnn, smooth, linear_head=True)
    engine = ActivationEngine(smooth, preprocess=_inception_style)
    image = _image(1)
    x = engine.prepare(image)[0]
    baseline = _inception_style(np.zeros(SHAPE))
    gap = _logit(linear, x, 0) - _logit(linear, baseline, 0)
    assert abs(gap) > 1e-2  # a difference worth explaining
    attributions, delta = IntegratedGradients(engine, steps=64).attributions(image, target=0)
    assert abs(attributions.sum(dtype=np.float64) - gap) <= 1e-3 * abs(gap)
    # delta is captum's convergence_delta: the sum minus the score difference
    assert delta == pytest.approx(float(attributions.sum(dtype=np.float64)) - gap,
                                  abs=1e-5 * abs(gap))
    _, coarse = IntegratedGradients(engine, steps=2).attributions(image, target=0)
    assert abs(coarse) > 10 * abs(delta)  # two points are a much cruder sum


def test_the_black_baseline_is_black_pixels_preprocessed(engine):
    batch = engine.prepare(_image(2))
    baseline = IntegratedGradients(engine).baseline_for(batch)
    assert baseline.shape == batch.shape
    np.testing.assert_allclose(baseline, -127.0 / 128.0)  # not zeros of the model input


def test_the_blur_baseline_is_the_gaussian_blurred_input(engine):
    from scipy.ndimage import gaussian_filter

    batch = engine.prepare(_image(3))
    baseline = IntegratedGradients(engine, baseline="blur", blur_sigma=1.0).baseline_for(batch)
    # numpy's "reflect" padding is scipy's "mirror"; both truncate the kernel at 3 sigma
    want = gaussian_filter(batch.astype(np.float64), sigma=(0, 1.0, 1.0, 0), mode="mirror",
                           truncate=3.0)
    np.testing.assert_allclose(baseline, want, rtol=1e-5, atol=1e-5)
    assert baseline.std() < 0.5 * batch.std()  # really blurred
    # by default, an eighth of the image's larger side, as the faithfulness substrate
    default = IntegratedGradients(engine, baseline="blur").baseline_for(batch)
    sigma = max(batch.shape[1:3]) / 8
    want = gaussian_filter(batch.astype(np.float64), sigma=(0, sigma, sigma, 0), mode="mirror",
                           truncate=3.0)
    np.testing.assert_allclose(default, want, rtol=1e-5, atol=1e-5)


def test_the_noise_baseline_is_seeded_uniform_pixels(engine):
    batch = engine.prepare(_image(4))
    first = IntegratedGradients(engine, baseline="noise", seed=3).baseline_for(batch)
    again = IntegratedGradients(engine, baseline="noise", seed=3).baseline_for(batch)
    other = IntegratedGradients(engine, baseline="noise", seed=4).baseline_for(batch)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 0.5
    pixels = first * 128.0 + 127.0  # back to pixels through the preprocessing
    assert pixels.min() >= -1e-3 and pixels.max() <= 255.0 + 1e-3
    assert 0.2 < pixels.std() / 255.0 < 0.4  # uniform on [0, 255]: std 255 / sqrt(12)


def test_an_array_baseline_is_pixels(engine, linear):
    grey = np.full(SHAPE, 100.0, dtype=np.float32)
    ig = IntegratedGradients(engine, baseline=grey, steps=5)
    image = _image(5)
    np.testing.assert_allclose(ig.baseline_for(engine.prepare(image)),
                               _inception_style(grey)[None])
    want = _brute_force(linear, ig.prepare(image)[0], _inception_style(grey), 1, steps=5)
    got, _ = ig.attributions(image, target=1)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


def test_the_result_does_not_depend_on_the_batch_size(engine):
    image = _image(6)
    maps = [IntegratedGradients(engine, baseline="noise", steps=10, batch_size=b)(image, 1)
            for b in (1, 4, 10, 64)]
    for other in maps[1:]:
        np.testing.assert_allclose(other, maps[0], rtol=1e-5, atol=1e-6 * np.abs(maps[0]).max())


def test_targets_none_int_and_score(engine, model):
    ig = IntegratedGradients(engine, steps=6)
    images = [_image(7), _image(8), _image(11)]
    batch = np.concatenate([engine.prepare(im) for im in images])
    tops = np.argmax(model(batch, training=False), axis=-1)
    for image, top in zip(images, tops, strict=True):
        np.testing.assert_allclose(ig(image), ig(image, target=int(top)), rtol=1e-6)
        np.testing.assert_allclose(ig(image, target=ClassScore(int(top))),
                                   ig(image, target=int(top)), rtol=1e-6)
    # a batch: every image its own predicted class, all along its path
    maps = ig.attribute(batch)
    for i, top in enumerate(tops):
        # the path points of three images run batched together, here one image's alone
        alone = ig.attribute(batch[i:i + 1], int(top))[0]
        np.testing.assert_allclose(maps[i], alone, rtol=1e-5,
                                   atol=1e-6 * np.abs(alone).max())
    other = (int(tops[0]) + 1) % 3
    assert np.abs(ig(images[0], target=other) - ig(images[0])).max() > 0


def test_smoothgrad_wraps_it(engine):
    image = _image(9)
    ig = IntegratedGradients(engine, steps=4)
    np.testing.assert_allclose(SmoothGrad(ig, samples=2, noise=0.0)(image, target=1),
                               ig(image, target=1), rtol=1e-5,
                               atol=1e-6 * np.abs(ig(image, target=1)).max())
    noisy = SmoothGrad(ig, samples=3, noise=0.2, batch_size=2)(image, target=1)
    assert noisy.shape == SHAPE[:2] and np.all(np.isfinite(noisy))


@pytest.mark.parametrize("settings", [
    {"steps": 0}, {"steps": 2.5}, {"batch_size": 0}, {"baseline": "white"},
    {"baseline": np.zeros((5, 5, 3))}, {"blur_sigma": 0.0},
])
def test_bad_settings_raise(engine, settings):
    with pytest.raises(InvalidSettingError):
        IntegratedGradients(engine, **settings)


def test_a_blur_wider_than_the_image_raises(engine):
    ig = IntegratedGradients(engine, baseline="blur", blur_sigma=10.0)
    with pytest.raises(InvalidSettingError, match="blur_sigma"):
        ig(_image(10))
