"""Feature visualisation: the Fourier image, lucid's transforms, objectives, ReLU redirection."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import (
    ActivationMaximization,
    Blur,
    ChannelScore,
    FourierImage,
    Jitter,
    Pad,
    PixelImage,
    RandomCrop,
    RandomRotate,
    RandomScale,
    TotalVariation,
    channel,
    class_logit,
    direction,
    diversity,
    neuron,
    redirected_relu,
    standard_transforms,
)
from cnnviz_widgets.attribution.transforms import rotate
from cnnviz_widgets.testing import digits_like_cnn

from .helpers import backend_gradient, numpy, tensor

keras = pytest.importorskip("keras")

# lucid's color_correlation_svd_sqrt, written out here as the oracle
LUCID_SVD_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
DEAD = 5  # the channel of conv2 that is off everywhere on a grey image


def _freq(k: int, n: int) -> float:
    return k / n if k < (n + 1) // 2 else (k - n) / n


@pytest.fixture(scope="module")
def small():
    """conv1 (relu) -> conv2 (relu, channel DEAD off on grey) -> pooled logits (softmax).

    Channel DEAD of conv2 has positive weights and a bias 0.3 below its value on a grey
    image: raising conv1's outputs turns it on, but on the start image its ReLU passes
    no gradient.
    """
    keras.utils.set_random_seed(3)
    inputs = keras.Input((None, None, 3))
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv2")(h)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    out = keras.layers.Dense(4, activation="softmax", name="probs")(h)
    model = keras.Model(inputs, out)
    conv2 = model.get_layer("conv2")
    kernel, bias = conv2.get_weights()
    kernel[..., DEAD] = np.abs(kernel[..., DEAD])  # it rises with conv1's channels
    grey = np.full((1, 8, 8, 3), 0.5, np.float32)  # the engine divides 0-255 by 255
    c1 = numpy(_probe(model, "conv1")(grey))[0, 0, 0]  # constant over a grey image
    bias[DEAD] = -(float(np.sum(kernel[..., DEAD] * c1)) + 0.3)
    conv2.set_weights([kernel, bias])
    return model


def _probe(model, name):
    return keras.Model(model.inputs[0], model.get_layer(name).output)


# -- the Fourier image -------------------------------------------------------------------
def test_spectrum_is_scaled_by_one_over_frequency():
    h, w = 12, 10
    param = FourierImage(2, h, w, 3, decorrelate=False)
    params = param.initial(np.random.default_rng(0)) * 50
    scale = np.empty((h, w // 2 + 1))
    for i in range(h):
        for j in range(w // 2 + 1):
            f = np.hypot(_freq(i, h), j / w)
            scale[i, j] = np.sqrt(h * w) / max(f, 1.0 / max(h, w))
    spectrum = (params[..., 0] + 1j * params[..., 1]) * scale
    want = np.transpose(np.fft.irfft2(spectrum, s=(h, w)), (0, 2, 3, 1)) / 4.0
    np.testing.assert_allclose(numpy(param.spatial(params)), want, atol=1e-4)
    # twice the frequency, half the factor (decay_power 1); a quarter with decay_power 2
    assert np.isclose(param.scale[0, 2] / param.scale[0, 4], 2.0)
    square = FourierImage(1, h, w, 3, decay_power=2.0, decorrelate=False)
    assert np.isclose(square.scale[0, 2] / square.scale[0, 4], 4.0)


def test_colour_decorrelation_is_the_lucid_matrix_then_a_sigmoid():
    param = FourierImage(2, 8, 8, 3)
    params = param.initial(np.random.default_rng(1)) * 100
    t = numpy(param.spatial(params))
    matrix = LUCID_SVD_SQRT / np.linalg.norm(LUCID_SVD_SQRT, axis=0).max()
    want = 1.0 / (1.0 + np.exp(-(t @ matrix.T)))
    got = numpy(param(params))
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert got.shape == (2, 8, 8, 3) and got.min() > 0 and got.max() < 1


def test_fourier_image_reaches_any_image():
    rng = np.random.default_rng(2)
    for channels in (3, 1, 4):
        param = FourierImage(2, 9, 12, channels)
        assert param.decorrelate == (channels == 3)
        target = rng.uniform(0.02, 0.98, param.shape)
        np.testing.assert_allclose(numpy(param(param.from_images(target))), target,
                                   atol=1e-4)
    with pytest.raises(ValueError, match="3 channels"):
        FourierImage(1, 8, 8, 1, decorrelate=True)
    start = FourierImage(1, 16, 16, 3).initial(np.random.default_rng(0))
    image = numpy(FourierImage(1, 16, 16, 3)(start))
    assert abs(image.mean() - 0.5) < 0.05  # a nearly grey start, as lucid's sd=0.01


def test_pixel_image_is_the_clipped_pixels():
    param = PixelImage(2, 5, 5, 1)
    start = param.initial(np.random.default_rng(0))
    assert start.shape == (2, 5, 5, 1) and 0 <= start.min() and start.max() <= 1
    assert param.after_step(start + 2).max() == 1.0


# -- transforms --------------------------------------------------------------------------
def _batch(shape=(2, 10, 12, 3), seed=0):
    return np.random.default_rng(seed).uniform(size=shape).astype(np.float32)


def test_pad_and_random_crop_against_numpy():
    x = _batch()
    padded = numpy(Pad(3, 0.25)(tensor(x), np.random.default_rng(0)))
    np.testing.assert_array_equal(
        padded, np.pad(x, [(0, 0), (3, 3), (3, 3), (0, 0)], constant_values=0.25))
    cropped = numpy(RandomCrop(4)(tensor(padded), np.random.default_rng(7)))
    dy, dx = np.random.default_rng(7).integers(0, 5, size=2)
    np.testing.assert_array_equal(cropped, padded[:, dy:dy + 12, dx:dx + 14])
    assert cropped.shape == (2, 12, 14, 3)  # pad 3 then crop 4: 2 more than the input


def test_random_scale_size_and_bilinear_against_pil():
    from PIL import Image

    x = _batch((1, 8, 8, 1))
    same = RandomScale((1.0,))(tensor(x), np.random.default_rng(0))
    np.testing.assert_array_equal(np.asarray(same), x)
    big = numpy(RandomScale((2.0,))(tensor(x), np.random.default_rng(0)))
    assert big.shape == (1, 16, 16, 1)
    pil = np.asarray(Image.fromarray(x[0, ..., 0]).resize((16, 16), Image.BILINEAR))
    np.testing.assert_allclose(big[0, 1:-1, 1:-1, 0], pil[1:-1, 1:-1], atol=1e-5)
    small = RandomScale((0.95,))(tensor(_batch((1, 30, 41, 2))), np.random.default_rng(0))
    assert small.shape == (1, 28, 38, 2)  # floor(30 * 0.95), floor(41 * 0.95)


def test_a_scale_that_keeps_the_size_zooms_about_the_centre_as_scipy_does():
    from scipy import ndimage

    x = _batch((2, 21, 17, 3))
    for factor in (1.05, 0.95, 1.5):
        scale = RandomScale((factor,), keep_size=True, fill=0.5)
        assert not scale.shaping and RandomScale((factor,)).shaping
        got = numpy(scale(tensor(x), np.random.default_rng(0)))
        assert got.shape == x.shape
        # output pixel p samples the input at c + (p - c) / factor
        centre = (np.asarray(x.shape[1:3]) - 1) / 2.0
        want = np.stack([np.stack([ndimage.affine_transform(
            image[..., c], np.full(2, 1 / factor), offset=centre - centre / factor, order=1,
            mode="constant", cval=0.5) for c in range(3)], axis=-1) for image in x])
        np.testing.assert_allclose(got[:, 2:-2, 2:-2], want[:, 2:-2, 2:-2], atol=1e-4)
    same = RandomScale((1.0,), keep_size=True)(tensor(x), np.random.default_rng(0))
    np.testing.assert_array_equal(numpy(same), x)


def test_under_jax_the_standard_scale_keeps_the_size():
    scale = standard_transforms()[2]
    assert scale.keep_size == (keras.backend.backend() == "jax")
    assert standard_transforms(keep_size=True)[2].keep_size


def test_rotation_against_rot90_and_scipy():
    from scipy import ndimage

    x = _batch((2, 9, 9, 3))
    np.testing.assert_array_equal(rotate(tensor(x), 0.0), x)
    np.testing.assert_allclose(numpy(rotate(tensor(x), 90.0)),
                               np.rot90(x, k=1, axes=(1, 2)), atol=1e-5)
    got = numpy(rotate(tensor(x), 20.0, fill=0.5))
    want = ndimage.rotate(x, 20.0, axes=(2, 1), reshape=False, order=1, mode="constant",
                          cval=0.5)
    np.testing.assert_allclose(got[:, 2:-2, 2:-2], want[:, 2:-2, 2:-2], atol=1e-4)


def test_standard_transforms_are_seeded_and_differentiable():
    transforms = standard_transforms()
    assert transforms == (Pad(12), RandomCrop(8),
                          RandomScale((1, 0.975, 1.025, 0.95, 1.05),
                                      keras.backend.backend() == "jax"),
                          RandomRotate(tuple(range(-5, 6))), RandomCrop(4))
    assert standard_transforms(32)[:2] == (Pad(3), RandomCrop(2))

    def transformed(x, rng):
        for transform in transforms:
            x = transform(x, rng)
        return x

    def run(seed):
        return numpy(transformed(tensor(_batch((1, 40, 40, 3))), np.random.default_rng(seed)))

    a, b = run(5), run(5)
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(5)
    grad = backend_gradient(lambda x: transformed(x, rng) ** 2, _batch((1, 40, 40, 3)))
    assert np.abs(grad).sum() > 0
    outcomes = {run(seed)[0].shape for seed in range(6)}
    if transforms[2].keep_size:  # one size for every draw, the content still differs
        assert len(outcomes) == 1
        assert len({run(seed).tobytes() for seed in range(6)}) == 6
    else:
        assert len(outcomes) > 1  # the random scale changes the size from draw to draw


# -- objectives --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def values(small):
    engine = ActivationEngine(small)
    batch = _batch((3, 14, 14, 3), seed=4)
    out, found = engine.forward(tensor(batch), layers=["conv1", "conv2"])
    found[None] = out
    return batch, found


def test_objectives_against_the_layer_outputs(small, values):
    batch, found = values
    conv2 = numpy(_probe(small, "conv2")(batch))
    # the engine's pass and a plain sub-model: equal up to float32 rounding
    np.testing.assert_allclose(channel("conv2", 3)(found), conv2[..., 3].mean(axis=(1, 2)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(neuron("conv2", 3)(found), conv2[:, 5, 5, 3], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(neuron("conv2", 3, y=1, x=7)(found), conv2[:, 1, 7, 3],
                               rtol=1e-5, atol=1e-6)
    vec = np.random.default_rng(0).normal(size=8)
    np.testing.assert_allclose(direction("conv2", vec)(found),
                               (conv2 @ vec).mean(axis=(1, 2)), rtol=1e-4, atol=1e-6)
    probs = numpy(small(batch))
    np.testing.assert_allclose(class_logit(2)(found), probs[:, 2], rtol=1e-5, atol=1e-7)
    with pytest.raises(IndexError, match="There is no channel 8"):
        channel("conv2", 8)(found)


def test_objective_arithmetic(values):
    _, found = values
    a, b = channel("conv2", 1), neuron("conv1", 4)
    va, vb = np.asarray(a(found)), np.asarray(b(found))
    combined = 2 * a - b / 4 + 1.5 - (-a)
    np.testing.assert_allclose(combined(found), 3 * va - vb / 4 + 1.5, rtol=1e-5)
    assert set(combined.layers) == {"conv1", "conv2"} and not combined.reads_output
    assert (a + class_logit(0)).reads_output


def test_diversity_against_numpy(values):
    batch, found = values
    acts = np.asarray(found["conv1"], dtype=np.float64)
    n = acts.shape[0]
    grams = []
    for a in acts:
        flat = a.reshape(-1, a.shape[-1])
        g = flat.T @ flat
        grams.append(g / np.linalg.norm(g))
    want = [-sum(np.sum(grams[i] * grams[j]) for j in range(n) if j != i) / n
            for i in range(n)]
    np.testing.assert_allclose(diversity("conv1")(found), want, rtol=1e-4)
    single = {"conv1": found["conv1"][:1]}
    np.testing.assert_array_equal(diversity("conv1")(single), [0.0])


# -- redirected ReLU gradient ------------------------------------------------------------
@pytest.mark.parametrize("enabled", [None, True, False])
def test_redirected_relu_gradient_is_lucids_definition(enabled):
    """Redirected when on (always, or by a boolean tensor); the plain ReLU gradient when a
    tensor switches it off."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 4, 2)).astype(np.float32)
    x[0] = -np.abs(x[0])  # image 0: off everywhere
    x[2] = -np.abs(x[2])
    weight = rng.normal(size=x.shape).astype(np.float32)
    weight[2] = np.where(x[2] < 0, 0.0, weight[2])  # image 2 gets no upstream gradient
    switch = None if enabled is None else tensor(np.asarray(enabled))
    got = backend_gradient(lambda t: redirected_relu(t, switch) * weight, x)
    np.testing.assert_array_equal(numpy(redirected_relu(tensor(x), switch)), np.maximum(x, 0))
    want = np.empty_like(x)
    for i in range(3):
        ordinary = np.where(x[i] > 0, weight[i], 0.0)
        if np.any(ordinary != 0) or enabled is False:
            want[i] = ordinary
        else:
            want[i] = np.where((x[i] < 0) & (weight[i] < 0), 0.0, weight[i])
    np.testing.assert_allclose(got, want)
    if enabled is False:
        assert np.all(got[0] == 0)
    else:
        assert np.any(got[0] != 0) and np.all(got[0][weight[0] < 0] == 0)


# -- the optimiser -----------------------------------------------------------------------
@pytest.mark.tensorflow_weights
def test_a_channel_dead_on_the_start_image_rises(small):
    am = ActivationMaximization(small)
    kwargs = {"steps": 40, "size": 24}
    stuck = am("conv2", channel=DEAD, relu_redirect=0, **kwargs)
    assert stuck.initial == 0 and stuck.final == 0  # without redirection: no gradient
    res = am("conv2", channel=DEAD, **kwargs)
    assert res.initial == 0
    probe = _probe(small, "conv2")
    assert numpy(probe(res.image[None] / 255.0))[..., DEAD].mean() > 0.01


@pytest.mark.tensorflow_weights
def test_the_optimised_channel_beats_random_images(small):
    am = ActivationMaximization(small)
    res = am("conv2", channel=2, steps=48, size=32)
    assert res.extra["param"] == "fourier" and res.image.shape == (32, 32, 3)
    probe = _probe(small, "conv2")
    ours = numpy(probe(res.image[None] / 255.0))[..., 2].mean()
    assert np.isclose(ours, res.final, rtol=0.05)  # the reported value is the image's
    noise = np.random.default_rng(0).uniform(size=(20, 32, 32, 3)).astype(np.float32)
    best_noise = numpy(probe(noise))[..., 2].mean(axis=(1, 2)).max()
    assert ours > 3 * best_noise, (ours, best_noise)
    # a score object as target gives the same objective
    same = am("conv2", target=ChannelScore(2), steps=48, size=32)
    np.testing.assert_array_equal(same.image, res.image)


def test_n_images_are_distinct_and_all_returned():
    am = ActivationMaximization(digits_like_cnn())  # fixed 28 x 28 grayscale input
    res = am("conv2", channel=3, steps=12, images=3)
    assert res.images.shape == (3, 28, 28, 1) and res.images.dtype == np.uint8
    np.testing.assert_array_equal(res.image, res.images[0])
    for i in range(3):
        for j in range(i):
            assert np.abs(res.images[i].astype(int) - res.images[j]).mean() > 2
    assert res.extra["finals"].shape == (3,)
    assert np.isclose(res.final, res.extra["finals"].mean())
    objective = channel("conv2", 3) - 0.5 * channel("conv2", 4)
    composed = am(target=objective, steps=12)
    assert composed.final > composed.initial


def test_parameterisation_choice_and_errors(small):
    from cnnviz_widgets.errors import InvalidSettingError

    am = ActivationMaximization(small)
    assert am.param == "fourier"
    pixels = am("conv2", channel=1, steps=4, size=(16, 20), param="pixels")
    assert pixels.extra["param"] == "pixels" and pixels.image.shape == (16, 20, 3)
    # explicit pixel strategies without a param: the pixel method, as before
    assert am("conv2", channel=1, steps=2, size=16,
              transforms=[Jitter(1)]).extra["param"] == "pixels"
    assert ActivationMaximization(small, transforms=[]).param == "pixels"
    for bad in ({"param": "wavelet"}, {"images": 0}, {"size": 4}):
        with pytest.raises(InvalidSettingError):
            am("conv2", channel=1, steps=1, **bad)
    with pytest.raises(InvalidSettingError, match="Objective"):
        am("conv2", target=channel("conv2", 1), steps=1)
    panel = ActivationMaximization.from_settings(small, param="fourier", total_variation=0.1)
    assert panel.param == "fourier" and panel.transforms == standard_transforms()
    assert panel.regularizers == (TotalVariation(0.1),)


def test_a_blur_applies_to_the_fourier_image(small):
    am = ActivationMaximization(small, param="fourier")
    plain = am("conv2", channel=2, steps=10, size=24, regularizers=[])
    blurred = am("conv2", channel=2, steps=10, size=24, regularizers=[Blur(1, 1.0)])

    def roughness(image):
        return np.abs(np.diff(image.astype(float), axis=0)).mean()

    assert roughness(blurred.image) < 0.7 * roughness(plain.image)


@pytest.mark.slow
def test_hed_vgg16_dead_channel_rises():
    from cnnviz_widgets import zoo

    model = zoo.vgg16(weights="hed", input_shape=(None, None, 3))
    res = ActivationMaximization(model)("block5_conv1", channel=7, steps=24, size=96)
    assert res.initial == 0
    probe = _probe(model, "block5_conv1")
    x = keras.applications.vgg16.preprocess_input(res.image[None].astype(np.float32))
    assert numpy(probe(x))[..., 7].mean() > 0


def test_adam_steps_follow_kingma_and_ba():
    """Two ascent steps of the optimiser against Adam's published update, in numpy."""
    from cnnviz_widgets.attribution.optimizers import Adam

    rng = np.random.default_rng(0)
    params = rng.standard_normal((3, 4)).astype(np.float32)
    grads = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(2)]
    lr, b1, b2, eps = 0.05, 0.9, 0.999, 1e-8
    expected, m, v = params.astype(np.float64), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        expected = expected + lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    ascend = Adam(lr)
    got = params
    for g in grads:
        got = ascend(got, g)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
