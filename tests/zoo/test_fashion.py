"""Fashion-MNIST read offline, and the shipped Fashion-MNIST CNN: shapes, errors, accuracy."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnviz_widgets import zoo
from cnnviz_widgets.errors import CnnvizError
from cnnviz_widgets.zoo import FASHION_MNIST_CLASSES, DatasetUnavailableError, fashion_cnn
from cnnviz_widgets.zoo import fashion as fashion_module
from cnnviz_widgets.zoo._data import data_file
from cnnviz_widgets.zoo.fashion import (
    ENV_VAR,
    FASHION_MODEL_FILE,
    build_fashion_cnn,
    fashion_mnist,
    fashion_mnist_dir,
)
from tests.conftest import missing

LAYER_NAMES = [
    "conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "flatten", "dense1", "predictions",
]  # fmt: skip
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


@pytest.fixture(scope="module")
def fashion_dir() -> Path:
    """The folder of the real Fashion-MNIST files (skip, or fail in CI, when absent)."""
    try:
        return fashion_mnist_dir()
    except DatasetUnavailableError as exc:
        missing(str(exc))


@pytest.fixture(scope="module")
def test_split(fashion_dir):
    return fashion_mnist("test")


@pytest.fixture(scope="module")
def trained_fashion():
    return fashion_cnn()


def write_idx(folder: Path, split: str, images: np.ndarray, labels: np.ndarray,
              image_magic: int = 2051) -> None:
    """Write a small IDX data set in Fashion-MNIST's file layout."""
    images_name, labels_name = FILES[split]
    head = np.array([image_magic, *images.shape], ">u4").tobytes()
    (folder / images_name).write_bytes(gzip.compress(head + images.astype(np.uint8).tobytes()))
    head = np.array([2049, len(labels)], ">u4").tobytes()
    (folder / labels_name).write_bytes(gzip.compress(head + labels.astype(np.uint8).tobytes()))


def small_set(folder: Path, n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10
    for split in FILES:
        write_idx(folder, split, images, labels)
    return images, labels


# -- class names ---------------------------------------------------------------------
def test_class_names():
    assert FASHION_MNIST_CLASSES == [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]  # fmt: skip
    from cnnviz_widgets.zoo import labels

    assert labels.FASHION_MNIST_CLASSES is FASHION_MNIST_CLASSES
    assert zoo.FASHION_MNIST_CLASSES is FASHION_MNIST_CLASSES
    decoded = zoo.decode_predictions(np.eye(10)[7], top=1, labels=FASHION_MNIST_CLASSES)
    assert decoded == [[("7", "Sneaker", 1.0)]]


# -- the real data set ---------------------------------------------------------------
@pytest.mark.parametrize(("split", "count"), [("train", 60_000), ("test", 10_000)])
def test_loader_shapes_dtypes_and_labels(fashion_dir, split, count):
    images, labels = fashion_mnist(split)
    assert images.shape == (count, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (count,) and labels.dtype == np.uint8
    # Fashion-MNIST is balanced: 6,000 / 1,000 images of each of the 10 classes
    assert np.bincount(labels, minlength=10).tolist() == [count // 10] * 10
    assert labels.min() == 0 and labels.max() == 9
    assert images.min() == 0 and images.max() == 255
    assert images.flags.writeable and labels.flags.writeable


def test_loader_matches_the_raw_files(fashion_dir):
    images, labels = fashion_mnist("test")
    raw_images = gzip.open(fashion_dir / "t10k-images-idx3-ubyte.gz").read()
    raw_labels = gzip.open(fashion_dir / "t10k-labels-idx1-ubyte.gz").read()
    np.testing.assert_array_equal(
        images, np.frombuffer(raw_images, np.uint8, offset=16).reshape(-1, 28, 28)
    )
    np.testing.assert_array_equal(labels, np.frombuffer(raw_labels, np.uint8, offset=8))


def test_unknown_split_rejected():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        fashion_mnist("validation")


# -- where the files are looked for, and the errors ----------------------------------
def test_missing_directory_error_is_clear(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(DatasetUnavailableError) as info:
        fashion_mnist("test")
    assert isinstance(info.value, CnnvizError) and isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "keras.datasets.fashion_mnist.load_data()" in message
    assert str(tmp_path) in message and ENV_VAR in message
    assert "t10k-images-idx3-ubyte.gz" in message


def test_env_var_folder_is_read(tmp_path, monkeypatch):
    images, labels = small_set(tmp_path)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert fashion_mnist_dir() == tmp_path
    got_images, got_labels = fashion_mnist("train")
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_keras_home_is_the_fallback(tmp_path, monkeypatch):
    folder = tmp_path / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    images, _ = small_set(folder, n=5)
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(fashion_module, "DEBIAN_DIR", tmp_path / "not-installed")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert fashion_mnist_dir() == folder
    np.testing.assert_array_equal(fashion_mnist("test")[0], images)


def test_damaged_files_are_reported(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    small_set(tmp_path)
    rng = np.random.default_rng(1)
    write_idx(tmp_path, "test", rng.integers(0, 255, (2, 28, 28)), np.zeros(2), image_magic=7)
    with pytest.raises(DatasetUnavailableError, match="wrong header"):
        fashion_mnist("test")
    (tmp_path / FILES["train"][0]).write_bytes(b"not gzip at all")
    with pytest.raises(DatasetUnavailableError, match="could not be read"):
        fashion_mnist("train")


def test_images_and_labels_must_agree(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    small_set(tmp_path)
    write_idx(tmp_path, "test", np.zeros((4, 28, 28)), np.zeros(3))
    with pytest.raises(DatasetUnavailableError, match="4 images but .* 3 labels"):
        fashion_mnist("test")


# -- the shipped model ---------------------------------------------------------------
def test_shipped_file_is_small_and_in_the_package():
    ref = data_file(FASHION_MODEL_FILE)
    assert ref.is_file()
    assert len(ref.read_bytes()) < 1_000_000
    provenance = data_file("PROVENANCE.md").read_text(encoding="utf-8")
    assert f"`{FASHION_MODEL_FILE}`" in provenance and "Zalando" in provenance


def test_trained_model_architecture(trained_fashion):
    import keras

    model = trained_fashion
    assert model.name == "fashion_cnn"
    assert [layer.name for layer in model.layers] == LAYER_NAMES
    assert tuple(model.input_shape) == (None, 28, 28, 1)
    assert tuple(model.output_shape) == (None, 10)
    assert model.count_params() == 60_874
    assert [model.get_layer(f"conv{i}").filters for i in (1, 2, 3)] == [16, 32, 64]
    assert not any(isinstance(layer, keras.layers.Rescaling) for layer in model.layers)
    # the same layers as the builder the training script uses
    fresh = build_fashion_cnn()
    assert [type(layer) for layer in fresh.layers] == [type(layer) for layer in model.layers]
    assert [w.shape for w in fresh.get_weights()] == [w.shape for w in model.get_weights()]


def test_random_weights_and_unknown_weights():
    model = fashion_cnn(weights=None)
    assert model.name == "fashion_cnn" and [layer.name for layer in model.layers] == LAYER_NAMES
    with pytest.raises(ValueError, match="trained"):
        fashion_cnn(weights="imagenet")


def test_model_loads_offline(no_network):
    assert fashion_cnn().name == "fashion_cnn"


def test_trained_accuracy_on_test_images(trained_fashion, test_split):
    images, labels = test_split[0][:2000], test_split[1][:2000]
    probs = trained_fashion.predict(images[..., None] / 255.0, batch_size=500, verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    accuracy = float(np.mean(probs.argmax(axis=1) == labels))
    assert accuracy >= 0.85, accuracy


def test_random_weights_do_not_reach_it(test_split):
    import keras

    keras.utils.set_random_seed(1)
    probs = fashion_cnn(weights=None).predict(test_split[0][:500, :, :, None] / 255.0, verbose=0)
    assert float(np.mean(probs.argmax(axis=1) == test_split[1][:500])) < 0.5


def test_engine_feeds_the_model_as_it_was_trained(trained_fashion, test_split):
    from cnnviz_widgets.engine import ActivationEngine
    from cnnviz_widgets.engine.inputs import default_preprocess, scale_to_unit

    assert default_preprocess(trained_fashion) is scale_to_unit
    engine = ActivationEngine(trained_fashion)
    images = test_split[0][:4]
    expected = trained_fashion.predict(images[..., None] / 255.0, verbose=0)
    for image, want in zip(images, expected, strict=True):
        np.testing.assert_allclose(engine.activation("predictions", image), want, atol=1e-5)
    assert engine.activation("conv1", images[0]).shape == (28, 28, 16)


@pytest.mark.slow
def test_training_script_runs(tmp_path, fashion_dir):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, str(root / "scripts" / "train_fashion.py"), "--epochs", "1",
         "--train-limit", "6000", "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("test accuracy"))
    assert float(line.split(":")[1].split()[0]) > 0.6
    assert not list(tmp_path.iterdir())  # --dry-run writes nothing
