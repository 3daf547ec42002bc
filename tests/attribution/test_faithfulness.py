"""Deletion and insertion curves (RISE) checked against a brute-force oracle.

The oracle builds every perturbed image on its own in NumPy, in the documented order
(most important pixel first, equal values in row-major order), divides the pixels by 255
(the engine's preprocessing of a model it does not know by name) and calls the model.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import ndimage
from scipy.special import softmax

from cnnviz_widgets._keras import keras
from cnnviz_widgets.attribution import (
    ClassScore,
    FaithfulnessResult,
    faithfulness,
    upsample_heatmap,
)
from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.testing import skip_connection_model, tiny_cnn


# -- the oracle -----------------------------------------------------------------------
def oracle_substrate(pixels: np.ndarray, name: str) -> np.ndarray:
    """The documented substrates, written with scipy and plain numpy."""
    if name == "black":
        return np.zeros_like(pixels)
    if name == "mean":
        return np.ones_like(pixels) * pixels.mean(axis=(0, 1))
    sigma = max(pixels.shape[:2]) / 8
    radius = math.ceil(3 * sigma)  # numpy's "reflect" padding is scipy's "mirror"
    return ndimage.gaussian_filter(pixels.astype(np.float64), sigma=(sigma, sigma, 0),
                                   mode="mirror", truncate=radius / sigma)


def oracle_curves(model, pixels, substrate, heatmap, steps, index, *,
                  squash=None) -> tuple[np.ndarray, np.ndarray]:
    """(deletion, insertion), one model call per perturbed image."""
    height, width = heatmap.shape
    order = sorted(range(height * width), key=lambda i: (-float(heatmap.flat[i]), i))
    deletion, insertion = [], []
    for k in range(steps + 1):
        changed = np.zeros(height * width, dtype=bool)
        changed[order[:k * height * width // steps]] = True
        changed = changed.reshape(height, width)
        deleted = pixels.astype(np.float64).copy()
        deleted[changed] = substrate[changed]
        inserted = substrate.astype(np.float64).copy()
        inserted[changed] = pixels[changed]
        for image, curve in ((deleted, deletion), (inserted, insertion)):
            out = np.asarray(model((image[None] / 255.0).astype(np.float32), training=False))
            out = out[0].astype(np.float64)
            curve.append((squash(out) if squash else out)[index])
    return np.array(deletion), np.array(insertion)


def _image(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


def _heatmap(shape, seed=1, levels=4) -> np.ndarray:
    """A map with few distinct values, so that ties and their order matter."""
    return np.random.default_rng(seed).integers(0, levels, shape).astype(np.float32)


@pytest.fixture(scope="module")
def tiny():
    return tiny_cnn(seed=3)


@pytest.fixture(scope="module")
def rgb():
    return skip_connection_model(seed=2)


def quarter_model(head: str | None = "softmax"):
    """Class 0's logit is 8 * (mean of the top-left quarter, in 0-1) - 4, class 1's the opposite.

    Nothing outside the top-left 4 x 4 pixels of the 8 x 8 input reaches the output.
    """
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Cropping2D(((0, 4), (0, 4)), name="top_left")(inp)
    x = keras.layers.GlobalAveragePooling2D(name="mean")(x)
    x = keras.layers.Dense(2, name="logits")(x)
    if head:
        x = keras.layers.Activation(head, name="head")(x)
    model = keras.Model(inp, x)
    model.get_layer("logits").set_weights([np.array([[8.0, -8.0]]), np.array([-4.0, 4.0])])
    return model


# -- agreement with the oracle ----------------------------------------------------------
@pytest.mark.parametrize("substrate", ["black", "mean", "blur"])
def test_curves_match_brute_force_oracle_on_colour_model(rgb, substrate):
    image = _image((16, 16, 3))
    heat = _heatmap((16, 16))
    result = faithfulness(rgb, image, heat, steps=8, batch_size=5, substrate=substrate)
    pixels = image.astype(np.float64)
    index = int(np.argmax(rgb(image[None] / 255.0)[0]))
    deletion, insertion = oracle_curves(rgb, pixels, oracle_substrate(pixels, substrate),
                                        heat, 8, index)
    assert result.target == index
    np.testing.assert_allclose(result.deletion, deletion, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.insertion, insertion, rtol=1e-5, atol=1e-6)


def test_curves_match_oracle_on_grey_model_for_a_given_class(tiny):
    image = _image((8, 8, 1), seed=4)
    heat = _heatmap((8, 8), seed=5, levels=3)
    result = faithfulness(tiny, image, heat, target=2, steps=5, substrate="black")
    pixels = image.astype(np.float64)
    deletion, insertion = oracle_curves(tiny, pixels, np.zeros_like(pixels), heat, 5, 2)
    np.testing.assert_allclose(result.deletion, deletion, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.insertion, insertion, rtol=1e-5, atol=1e-6)


def test_trained_digits_model_with_default_blur_matches_oracle():
    from cnnviz_widgets.attribution import GradCAM
    from cnnviz_widgets.zoo import digit_samples, digits_cnn

    model = digits_cnn()
    images, labels = digit_samples(2)
    heat = GradCAM(model)(images[1])
    result = faithfulness(model, images[1], heat)
    pixels = images[1].astype(np.float64)[..., None]
    deletion, insertion = oracle_curves(model, pixels, oracle_substrate(pixels, "blur"),
                                        heat, 20, int(labels[1]))
    assert result.target == labels[1]
    np.testing.assert_allclose(result.deletion, deletion, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.insertion, insertion, rtol=1e-4, atol=1e-5)


# -- the axis, the areas and the ends ---------------------------------------------------
def test_fractions_and_areas_follow_the_trapezoid_rule(tiny):
    image = _image((8, 8, 1))
    result = faithfulness(tiny, image, _heatmap((8, 8)), steps=16, substrate="black")
    np.testing.assert_allclose(result.fractions, np.linspace(0.0, 1.0, 17))
    assert result.deletion_auc == pytest.approx(
        np.trapezoid(result.deletion, np.linspace(0.0, 1.0, 17)), rel=1e-12)
    assert result.insertion_auc == pytest.approx(
        np.trapezoid(result.insertion, np.linspace(0.0, 1.0, 17)), rel=1e-12)
    assert result.overall == pytest.approx(result.insertion_auc - result.deletion_auc)


def test_uneven_steps_use_the_true_fraction_of_pixels(tiny):
    result = faithfulness(tiny, _image((8, 8, 1)), _heatmap((8, 8)), steps=5)
    np.testing.assert_array_equal(result.fractions * 64, [0, 12, 25, 38, 51, 64])
    assert result.deletion_auc == pytest.approx(
        np.trapezoid(result.deletion, np.array([0, 12, 25, 38, 51, 64]) / 64), rel=1e-12)


@pytest.mark.parametrize("substrate", ["black", "blur"])
def test_ends_are_the_clean_image_and_the_substrate(rgb, substrate):
    image = _image((16, 16, 3), seed=7)
    result = faithfulness(rgb, image, _heatmap((16, 16)), target=1, steps=3,
                          substrate=substrate)
    pixels = image.astype(np.float64)
    clean = np.asarray(rgb(pixels[None] / 255.0, training=False))[0, 1]
    background = oracle_substrate(pixels, substrate)
    alone = np.asarray(rgb(background[None] / 255.0, training=False))[0, 1]
    assert result.deletion[0] == pytest.approx(clean, rel=1e-5)
    assert result.insertion[-1] == pytest.approx(clean, rel=1e-5)
    assert result.deletion[-1] == pytest.approx(alone, rel=1e-5)
    assert result.insertion[0] == pytest.approx(alone, rel=1e-5)
    assert (result.clean_score, result.substrate_score) == (result.deletion[0],
                                                            result.deletion[-1])


def test_custom_substrate_array_is_used_as_given(tiny):
    image = _image((8, 8, 1), seed=8)
    grey = np.full((8, 8, 1), 128.0)
    heat = _heatmap((8, 8), seed=9)
    result = faithfulness(tiny, image, heat, target=0, steps=4, substrate=grey)
    deletion, insertion = oracle_curves(tiny, image.astype(np.float64), grey, heat, 4, 0)
    assert result.substrate == "custom"
    np.testing.assert_allclose(result.deletion, deletion, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.insertion, insertion, rtol=1e-5, atol=1e-6)


# -- the map of the true evidence wins ----------------------------------------------------
def test_map_of_the_region_the_model_reads_beats_a_map_elsewhere():
    model = quarter_model()
    image = np.full((8, 8, 1), 255, dtype=np.uint8)
    true_map = np.zeros((8, 8))
    true_map[:4, :4] = 1.0
    rows, cols = np.indices((8, 8))
    wrong_map = np.maximum(rows, cols).astype(float)  # the other three quarters first
    results = faithfulness(model, image, {"true": true_map, "wrong": wrong_map},
                           target=0, steps=8, substrate="black")
    true, wrong = results["true"], results["wrong"]
    assert true.deletion_auc < wrong.deletion_auc - 0.3
    assert true.insertion_auc > wrong.insertion_auc + 0.3
    # the wrong map changes nothing the model reads before its last quarter of pixels
    p_clean = softmax([4.0, -4.0])[0]
    np.testing.assert_allclose(wrong.deletion[:7], p_clean, rtol=1e-5)
    assert true.deletion[2] == pytest.approx(softmax([-4.0, 4.0])[0], rel=1e-5)


# -- batches, targets, scores -----------------------------------------------------------
def test_curves_do_not_depend_on_batch_size(rgb):
    image, heat = _image((16, 16, 3), seed=11), _heatmap((16, 16), seed=12)
    runs = [faithfulness(rgb, image, heat, steps=7, batch_size=b) for b in (1, 4, 100)]
    for run in runs[1:]:
        np.testing.assert_allclose(run.deletion, runs[0].deletion, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(run.insertion, runs[0].insertion, rtol=1e-5, atol=1e-7)


def test_target_none_is_the_clean_prediction_and_a_score_object_equals_its_index(tiny):
    image, heat = _image((8, 8, 1), seed=13), _heatmap((8, 8), seed=14)
    predicted = int(np.argmax(tiny(image[None] / 255.0)[0]))
    default = faithfulness(tiny, image, heat, steps=4)
    by_index = faithfulness(tiny, image, heat, target=predicted, steps=4)
    other = (predicted + 1) % 3
    by_score = faithfulness(tiny, image, heat, target=ClassScore(other), steps=4)
    by_other = faithfulness(tiny, image, heat, target=other, steps=4)
    assert default.target == predicted
    np.testing.assert_array_equal(default.deletion, by_index.deletion)
    assert by_score.target == other
    np.testing.assert_allclose(by_score.insertion, by_other.insertion)
    assert not np.allclose(by_other.insertion, default.insertion)
    with pytest.raises(IndexError, match="There is no class 3"):
        faithfulness(tiny, image, heat, target=3, steps=4)
    with pytest.raises(TypeError, match="target must be"):
        faithfulness(tiny, image, heat, target="cat", steps=4)


def test_logits_model_is_scored_by_its_softmax_and_logits_on_request():
    logits_model = quarter_model(head=None)
    image, heat = _image((8, 8, 1), seed=15), _heatmap((8, 8), seed=16)
    pixels = image.astype(np.float64)
    probs = faithfulness(logits_model, image, heat, target=1, steps=4, substrate="black")
    raw = faithfulness(logits_model, image, heat, target=1, steps=4, substrate="black",
                       probabilities=False)
    zeros = np.zeros_like(pixels)
    np.testing.assert_allclose(
        probs.deletion, oracle_curves(logits_model, pixels, zeros, heat, 4, 1,
                                      squash=softmax)[0], rtol=1e-5, atol=1e-7)
    # a logit may lie near 0: a tolerance on float32 rounding of its terms as well
    np.testing.assert_allclose(
        raw.deletion, oracle_curves(logits_model, pixels, zeros, heat, 4, 1)[0], rtol=1e-5,
        atol=1e-6)
    assert not raw.probabilities


def test_softmax_model_gives_its_logits_and_keeps_its_softmax():
    model = quarter_model()
    logits = keras.Model(model.input, model.get_layer("logits").output)
    image, heat = _image((8, 8, 1), seed=17), _heatmap((8, 8), seed=18)
    pixels = image.astype(np.float64)
    raw = faithfulness(model, image, heat, target=0, steps=4, substrate="black",
                       probabilities=False)
    np.testing.assert_allclose(
        raw.insertion, oracle_curves(logits, pixels, np.zeros_like(pixels), heat, 4, 0)[1],
        rtol=1e-5, atol=1e-6)
    assert float(np.sum(model(image[None] / 255.0))) == pytest.approx(1.0, rel=1e-6)


# -- several maps, smaller maps, progress -----------------------------------------------
def test_several_maps_equal_one_call_each_and_share_the_ends(rgb):
    image = _image((16, 16, 3), seed=19)
    maps = {"a": _heatmap((16, 16), seed=20), "b": _heatmap((16, 16), seed=21, levels=50)}
    seen: list[tuple[int, int]] = []
    results = faithfulness(rgb, image, maps, steps=6, batch_size=4,
                           progress=lambda step, total: seen.append((step, total)))
    assert list(results) == ["a", "b"]
    assert seen[-1] == (2 + 2 * 5 * 2, 22)  # the clean image and the substrate once
    for name, heat in maps.items():  # the images batched otherwise
        alone = faithfulness(rgb, image, heat, steps=6)
        np.testing.assert_allclose(results[name].deletion, alone.deletion, rtol=1e-5,
                                   atol=1e-7)
        np.testing.assert_allclose(results[name].insertion, alone.insertion, rtol=1e-5,
                                   atol=1e-7)
    assert results["a"].deletion[-1] == results["b"].deletion[-1]


def test_smaller_map_is_upsampled_to_the_input(rgb):
    image, small = _image((16, 16, 3), seed=22), _heatmap((4, 4), seed=23, levels=16)
    result = faithfulness(rgb, image, small, steps=4)
    upsampled = faithfulness(rgb, image, upsample_heatmap(small, 16, 16), steps=4)
    np.testing.assert_allclose(result.deletion, upsampled.deletion, rtol=1e-6)
    pixels = image.astype(np.float64)
    big = upsample_heatmap(small, 16, 16)
    oracle = oracle_curves(rgb, pixels, oracle_substrate(pixels, "blur"), big, 4,
                           result.target)
    np.testing.assert_allclose(result.insertion, oracle[1], rtol=1e-5, atol=1e-6)


# -- the result --------------------------------------------------------------------------
def test_result_is_frozen_read_only_and_prints_its_areas(tiny):
    result = faithfulness(tiny, _image((8, 8, 1)), _heatmap((8, 8)), steps=4)
    assert isinstance(result, FaithfulnessResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.deletion_auc = 0.0
    with pytest.raises(ValueError):
        result.deletion[0] = 0.0
    text = repr(result)
    assert f"deletion AUC {result.deletion_auc:.3f}" in text
    assert f"insertion AUC {result.insertion_auc:.3f}" in text
    assert f"target={result.target}" in text
    assert len(text) < 250


# -- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(("heatmap", "settings", "message"), [
    (np.zeros((8, 8, 3)), {}, "must be 2-D"),
    (np.zeros(8), {}, "must be 2-D"),
    (np.full((8, 8), np.nan), {}, "NaN"),
    (np.zeros((0, 8)), {}, "empty"),
    ({}, {}, "empty mapping"),
    ({"bad": np.zeros((2, 2, 2))}, {}, "'bad' must be 2-D"),
    (np.zeros((8, 8)), {"steps": 0}, "steps must be a whole number of at least 1"),
    (np.zeros((8, 8)), {"steps": 2.5}, "steps must be a whole number"),
    (np.zeros((8, 8)), {"steps": True}, "steps must be a whole number"),
    (np.zeros((8, 8)), {"steps": 65}, "at most the number of input pixels, 64"),
    (np.zeros((8, 8)), {"batch_size": 0}, "batch_size must be a whole number of at least 1"),
    (np.zeros((8, 8)), {"substrate": "noise"}, "Unknown substrate 'noise'"),
    (np.zeros((8, 8)), {"substrate": np.zeros((4, 4, 1))}, "shape of the image's pixels"),
    (np.zeros((8, 8)), {"substrate": np.full((8, 8, 1), np.nan)}, "NaN"),
])
def test_bad_settings_raise_invalid_setting_error(tiny, heatmap, settings, message):
    with pytest.raises(InvalidSettingError, match=message):
        faithfulness(tiny, _image((8, 8, 1)), heatmap, **settings)
