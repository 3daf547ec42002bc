"""ImageNet class names, shipped with the package, and an offline ``decode_predictions``.

``data/imagenet_class_index.json`` is byte-identical to Keras'
``imagenet_class_index.json`` (its MD5 is the ``file_hash`` Keras checks,
``c2c37ea517e94d9795004a39431a14cb``), so indices, WordNet IDs and names match
``keras.applications.imagenet_utils.decode_predictions`` exactly, without a download.
See ``data/PROVENANCE.md``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from cnnviz_widgets.checks import whole_number
from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.zoo._data import data_file
from cnnviz_widgets.zoo.digits import DIGIT_LABELS
from cnnviz_widgets.zoo.fashion import FASHION_MNIST_CLASSES
from cnnviz_widgets.zoo.segmenter import SCENE_CLASSES

__all__ = [
    "CLASS_INDEX_FILE",
    "CLASS_INDEX_MD5",
    "DIGIT_LABELS",
    "FASHION_MNIST_CLASSES",
    "class_names_for",
    "decode_predictions",
    "imagenet_class_index",
    "imagenet_labels",
]

CLASS_INDEX_FILE = "imagenet_class_index.json"
#: The MD5 Keras checks on its own copy of the file; ours has the same bytes.
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"


@lru_cache(maxsize=1)
def _index() -> tuple[tuple[str, str], ...]:
    raw = json.loads(data_file(CLASS_INDEX_FILE).read_text(encoding="utf-8"))
    return tuple((raw[str(i)][0], raw[str(i)][1]) for i in range(len(raw)))


def imagenet_class_index() -> list[tuple[str, str]]:
    """Return the 1,000 ImageNet classes as ``(wordnet_id, name)`` pairs.

    Returns
    -------
    list of tuple of str
        In the Keras output order: item ``i`` describes output unit ``i`` of
        ``keras.applications`` ImageNet classifiers, e.g. ``("n01440764", "tench")``.
    """
    return list(_index())


def imagenet_labels() -> list[str]:
    """Return the 1,000 human-readable ImageNet class names in Keras' index order.

    Returns
    -------
    list of str
        ``labels[i]`` names output unit ``i`` (``labels[0] == "tench"``,
        ``labels[285] == "Egyptian_cat"``, ``labels[999] == "toilet_tissue"``), spelled
        as Keras' ``decode_predictions`` spells them (words joined by ``_``).
    """
    return [name for _, name in _index()]


def decode_predictions(
    preds: np.ndarray | Sequence[Sequence[float]],
    top: int = 5,
    labels: Sequence[str] | None = None,
) -> list[list[tuple[str, str, float]]]:
    """Turn class scores into the top-``top`` ``(id, name, score)`` triples, offline.

    Works like ``keras.applications.imagenet_utils.decode_predictions`` but reads the
    class names shipped with the package instead of downloading them, and accepts any
    list of class names (e.g. :data:`DIGIT_LABELS` or :data:`FASHION_MNIST_CLASSES`).

    Parameters
    ----------
    preds : array_like
        Scores of shape ``(batch, classes)``, or ``(classes,)`` for one image.
    top : int, default 5
        How many classes to return per image (at most ``classes``).
    labels : sequence of str, optional
        Class names, one per column of ``preds``. ``None`` means the ImageNet classes:
        then ``preds`` must have 1,000 columns and the ids are WordNet IDs; with
        ``labels`` given, the id of a class is its index as a string.

    Returns
    -------
    list of list of tuple
        One list per image, best first, of ``(class_id, class_name, score)``.

    Raises
    ------
    InvalidSettingError
        If ``preds`` is not 1-D or 2-D, its number of columns does not match the
        labels, or ``top`` is less than 1.
    """
    scores = np.asarray(preds, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[None, :]
    if scores.ndim != 2:
        raise InvalidSettingError(f"preds must have shape (batch, classes); got {scores.shape}")
    if labels is None:
        entries = list(_index())
    else:
        entries = [(str(i), str(name)) for i, name in enumerate(labels)]
    if scores.shape[1] != len(entries):
        raise InvalidSettingError(
            f"preds has {scores.shape[1]} columns but there are {len(entries)} class labels"
            + ("" if labels is not None else " (ImageNet); pass labels= for other models")
        )
    top = min(whole_number(top, "top"), len(entries))
    results = []
    for row in scores:
        order = np.argsort(-row, kind="stable")[:top]
        results.append([(*entries[i], float(row[i])) for i in order])
    return results


def top_classes(scores: np.ndarray | Sequence[float], names: Sequence[str] | None = None,
                k: int = 5) -> list[tuple[int, str, float]]:
    """The ``k`` highest scores of one output vector as ``(index, name, score)``, best first.

    Parameters
    ----------
    scores : array_like
        One score per class, shape (classes,).
    names : sequence of str, optional
        Class names; where missing, the index is used as the name.
    k : int
        How many classes to return (at most ``classes``).
    """
    values = np.asarray(scores, dtype=np.float64).ravel()
    order = np.argsort(values)[::-1][:k]
    return [(int(i), names[i] if names is not None and i < len(names) else str(int(i)),
             float(values[i])) for i in order]


def class_names_for(model_or_engine: Any) -> list[str] | None:
    """The class names of a model this package knows, or None.

    The digits models (10 outputs, named ``digits...``) get :data:`DIGIT_LABELS`, the
    Fashion-MNIST model its :data:`FASHION_MNIST_CLASSES`, the digit-scene segmenter (11
    classes per pixel) its :data:`SCENE_CLASSES`, and any model whose output
    has 1000 classes the ImageNet names (:func:`imagenet_labels`). For an engine, the output
    is the one it explains (``ActivationEngine(output=...)``).

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model.
    """
    try:
        model = getattr(model_or_engine, "model", model_or_engine)
        plan = getattr(model_or_engine, "plan", None)
        index = getattr(plan, "output_index", 0)
        width = tuple(model.outputs[index].shape[1:])
        name = str(model.name)
        if width == (10,) and name.startswith("digits"):
            return list(DIGIT_LABELS)
        if width == (10,) and name.startswith("fashion"):
            return list(FASHION_MNIST_CLASSES)
        if width == (1000,):
            return imagenet_labels()
        if width[-1:] == (len(SCENE_CLASSES),) and name.startswith("digits_segmenter"):
            return list(SCENE_CLASSES)
    except Exception:  # noqa: BLE001 - names are optional
        return None
    return None
