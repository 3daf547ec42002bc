"""Fashion-MNIST read offline, and a small CNN trained on it, shipped with the package.

The data set (Zalando Research, MIT licence) is *not* shipped: :func:`fashion_mnist`
reads the four ``*-ubyte.gz`` files that Debian's package ``dataset-fashion-mnist``
installs in ``/usr/share/datasets/fashion-mnist`` (or the copy Keras keeps after
``keras.datasets.fashion_mnist.load_data()``). The model, :func:`fashion_cnn`, is a
``.keras`` file in ``data/`` beside this module, written by ``scripts/train_fashion.py``;
see ``data/PROVENANCE.md``.
"""

from __future__ import annotations

import gzip
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cnnviz_widgets.errors import (
    DatasetUnavailableError,
    InvalidSettingError,
    WeightsUnavailableError,
)
from cnnviz_widgets.zoo._data import data_file

if TYPE_CHECKING:  # pragma: no cover
    from cnnviz_widgets._keras import keras

__all__ = [
    "DEBIAN_DIR",
    "ENV_VAR",
    "FASHION_MNIST_CLASSES",
    "FASHION_MODEL_FILE",
    "DatasetUnavailableError",
    "build_fashion_cnn",
    "fashion_cnn",
    "fashion_mnist",
    "fashion_mnist_dir",
]

#: Class names of Fashion-MNIST labels 0-9 (and of :func:`fashion_cnn`'s outputs), in order.
FASHION_MNIST_CLASSES: list[str] = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip

#: Where Debian's ``dataset-fashion-mnist`` package puts the files.
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Environment variable naming a folder that holds the four files (takes precedence).
ENV_VAR = "CNNVIZ_FASHION_MNIST_DIR"
#: File name (inside ``cnnviz_widgets/zoo/data``) of the shipped model.
FASHION_MODEL_FILE = "fashion_cnn.keras"

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049  # IDX headers: uint8 data, 3 and 1 dimensions


def _candidates() -> list[Path]:
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return [Path(env).expanduser()]
    keras_home = os.environ.get("KERAS_HOME", "").strip() or os.path.join("~", ".keras")
    return [DEBIAN_DIR, Path(keras_home).expanduser() / "datasets" / "fashion-mnist"]


def fashion_mnist_dir() -> Path:
    """Return the folder :func:`fashion_mnist` reads.

    The first folder that holds all four files, of: ``$CNNVIZ_FASHION_MNIST_DIR`` when it
    is set (then only that one), else ``/usr/share/datasets/fashion-mnist`` (Debian's
    ``dataset-fashion-mnist``), else ``$KERAS_HOME/datasets/fashion-mnist`` (``KERAS_HOME``
    defaults to ``~/.keras``; Keras' ``fashion_mnist.load_data()`` caches the files there).

    Raises
    ------
    DatasetUnavailableError
        If no such folder holds the four files; the message says how to get them.
    """
    names = [name for pair in _FILES.values() for name in pair]
    tried = _candidates()
    for folder in tried:
        if all((folder / name).is_file() for name in names):
            return folder
    where = ", ".join(repr(str(f)) for f in tried)
    raise DatasetUnavailableError(
        f"The Fashion-MNIST files ({', '.join(names)}) are not in {where}. On Debian or "
        "Ubuntu, install them with `apt-get install dataset-fashion-mnist`; or put the four "
        f"files in a folder and point the environment variable {ENV_VAR} at it; or download "
        "them once, online, with keras.datasets.fashion_mnist.load_data()."
    )


def _read_idx(path: Path, magic: int, tail: tuple[int, ...]) -> np.ndarray:
    """Read a gzipped IDX file of uint8 data shaped ``(N, *tail)``; check its header."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:  # not gzip, or cut short
        raise DatasetUnavailableError(
            f"{str(path)!r} could not be read ({type(exc).__name__}: {exc}). Reinstall "
            "dataset-fashion-mnist or fetch the files again."
        ) from exc
    header = 4 * (2 + len(tail))  # magic number, then one big-endian uint32 per dimension
    fields = np.frombuffer(raw, ">u4", count=2 + len(tail)) if len(raw) >= header else None
    dims = () if fields is None else tuple(int(d) for d in fields[1:])
    if fields is None or int(fields[0]) != magic or dims[1:] != tail \
            or len(raw) != header + int(np.prod(dims)):
        raise DatasetUnavailableError(
            f"{str(path)!r} is not a Fashion-MNIST IDX file of shape "
            f"(N{''.join(f', {d}' for d in tail)}) (wrong header, or truncated). Reinstall "
            "dataset-fashion-mnist or fetch the files again."
        )
    # a writable array of its own, as keras.datasets gives (frombuffer alone is read-only)
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims).copy()


def fashion_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read the Fashion-MNIST training or test images and labels, offline.

    Parameters
    ----------
    split : {"train", "test"}, default "train"
        ``"train"``: the 60,000 training images; ``"test"``: the 10,000 test images.

    Returns
    -------
    images : numpy.ndarray
        ``uint8`` array of shape ``(N, 28, 28)``, 0-255, light garments on black.
    labels : numpy.ndarray
        ``uint8`` array of shape ``(N,)``, class indices 0-9 into
        :data:`FASHION_MNIST_CLASSES`.

    Raises
    ------
    InvalidSettingError
        If ``split`` is neither ``"train"`` nor ``"test"``.
    DatasetUnavailableError
        If the files are not on this machine (see :func:`fashion_mnist_dir`) or are damaged.

    Notes
    -----
    Nothing is cached: each call reads the files again (about 47 MB for ``"train"``).
    """
    if split not in _FILES:
        raise InvalidSettingError(f"split must be 'train' or 'test', not {split!r}")
    folder = fashion_mnist_dir()
    images_name, labels_name = _FILES[split]
    images = _read_idx(folder / images_name, _IMAGES_MAGIC, (28, 28))
    labels = _read_idx(folder / labels_name, _LABELS_MAGIC, ())
    if len(images) != len(labels):
        raise DatasetUnavailableError(
            f"{images_name} holds {len(images)} images but {labels_name} {len(labels)} labels "
            f"in {str(folder)!r}. Reinstall dataset-fashion-mnist or fetch the files again."
        )
    return images, labels


def build_fashion_cnn() -> keras.Model:
    """Build the (untrained) Fashion-MNIST CNN that ``scripts/train_fashion.py`` trains.

    Returns
    -------
    keras.Model
        A Sequential model named ``"fashion_cnn"``: ``(28, 28, 1)`` input in 0-1, layers
        ``conv1`` (16 filters, 3x3, same padding) ``pool1 conv2`` (32) ``pool2 conv3``
        (64) ``pool3 flatten dense1`` (64) ``predictions`` (10, softmax); 60,874 parameters.
    """
    from cnnviz_widgets._keras import keras

    layers = keras.layers
    conv = {"kernel_size": (3, 3), "padding": "same", "activation": "relu"}
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="garment"),
            layers.Conv2D(16, name="conv1", **conv),
            layers.MaxPooling2D((2, 2), name="pool1"),
            layers.Conv2D(32, name="conv2", **conv),
            layers.MaxPooling2D((2, 2), name="pool2"),
            layers.Conv2D(64, name="conv3", **conv),
            layers.MaxPooling2D((2, 2), name="pool3"),
            layers.Flatten(name="flatten"),
            layers.Dense(64, activation="relu", name="dense1"),
            layers.Dense(10, activation="softmax", name="predictions"),
        ],
        name="fashion_cnn",
    )


def fashion_cnn(weights: str | None = "trained") -> keras.Model:
    """The small Fashion-MNIST CNN, trained (shipped with the package) or with random weights.

    Parameters
    ----------
    weights : {"trained", None}, default "trained"
        ``"trained"`` loads ``data/fashion_cnn.keras`` (trained by
        ``scripts/train_fashion.py`` on the 60,000 training images; its test accuracy is
        in ``data/PROVENANCE.md``); ``None`` builds the same layers with Keras' random
        initialisation (see :func:`build_fashion_cnn`).

    Returns
    -------
    keras.Model
        Named ``"fashion_cnn"``, taking ``(28, 28, 1)`` float inputs in 0-1 (pixel values
        divided by 255, as :func:`fashion_mnist` gives them) and giving 10 softmax
        probabilities (classes :data:`FASHION_MNIST_CLASSES`). It holds no rescaling layer:
        the engine's default preprocessing (division by 255) fits it.

    Raises
    ------
    InvalidSettingError
        If ``weights`` is neither ``"trained"`` nor ``None``.
    WeightsUnavailableError
        If the shipped model file is missing from the installation.
    """
    if weights not in ("trained", None):
        raise InvalidSettingError(f"weights must be 'trained' or None, not {weights!r}")
    if weights is None:
        return build_fashion_cnn()
    ref = data_file(FASHION_MODEL_FILE)
    if not ref.is_file():
        raise WeightsUnavailableError(
            f"The shipped Fashion-MNIST model ({FASHION_MODEL_FILE}) is missing from this "
            "installation; reinstall cnnviz_widgets, or use weights=None."
        )
    from cnnviz_widgets.io import load_model

    with resources.as_file(ref) as path:
        return load_model(path)
