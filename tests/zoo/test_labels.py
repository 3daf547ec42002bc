"""ImageNet class names shipped with the package, and offline decoding."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from cnnviz_widgets.zoo import DIGIT_LABELS, decode_predictions, imagenet_labels
from cnnviz_widgets.zoo._data import data_file
from cnnviz_widgets.zoo.labels import CLASS_INDEX_FILE, CLASS_INDEX_MD5, imagenet_class_index

KNOWN = {
    0: ("n01440764", "tench"),
    1: ("n01443537", "goldfish"),
    281: ("n02123045", "tabby"),
    285: ("n02124075", "Egyptian_cat"),
    386: ("n02504458", "African_elephant"),
    999: ("n15075141", "toilet_tissue"),
}


def test_file_is_byte_identical_to_keras_class_index():
    # Keras checks its downloaded imagenet_class_index.json against this MD5.
    digest = hashlib.md5(data_file(CLASS_INDEX_FILE).read_bytes()).hexdigest()
    assert digest == CLASS_INDEX_MD5 == "c2c37ea517e94d9795004a39431a14cb"


def test_labels_known_indices():
    labels = imagenet_labels()
    assert len(labels) == 1000
    index = imagenet_class_index()
    for i, (wnid, name) in KNOWN.items():
        assert labels[i] == name
        assert index[i] == (wnid, name)
    assert len({wnid for wnid, _ in index}) == 1000
    assert index == sorted(index)  # Keras' order is the WordNet IDs' sorted order


def test_labels_returns_a_fresh_list():
    imagenet_labels().clear()
    assert len(imagenet_labels()) == 1000


def test_decode_known_indices():
    preds = np.zeros((len(KNOWN), 1000), dtype=np.float32)
    for row, i in enumerate(KNOWN):
        preds[row, i] = 0.9
        preds[row, (i + 1) % 1000] = 0.1
    decoded = decode_predictions(preds, top=2)
    assert len(decoded) == len(KNOWN)
    for row, (i, (wnid, name)) in enumerate(KNOWN.items()):
        assert decoded[row][0] == (wnid, name, pytest.approx(0.9))
        assert decoded[row][1][1] == imagenet_labels()[(i + 1) % 1000]
        assert decoded[row][1][2] == pytest.approx(0.1)


def test_decode_single_row_and_top_larger_than_classes():
    scores = np.arange(10, dtype=float)
    out = decode_predictions(scores, top=20, labels=DIGIT_LABELS)
    assert len(out) == 1 and len(out[0]) == 10
    assert [name for _, name, _ in out[0]] == [str(d) for d in range(9, -1, -1)]
    assert out[0][0] == ("9", "9", 9.0)


def test_decode_errors():
    with pytest.raises(ValueError, match="1000"):
        decode_predictions(np.zeros((1, 10)))
    with pytest.raises(ValueError, match="columns"):
        decode_predictions(np.zeros((1, 9)), labels=DIGIT_LABELS)
    with pytest.raises(ValueError, match="top"):
        decode_predictions(np.zeros((1, 10)), top=0, labels=DIGIT_LABELS)
    with pytest.raises(ValueError, match="shape"):
        decode_predictions(np.zeros((1, 2, 10)), labels=DIGIT_LABELS)


def test_decode_ties_are_stable():
    out = decode_predictions(np.ones(10), top=3, labels=DIGIT_LABELS)
    assert [name for _, name, _ in out[0]] == ["0", "1", "2"]
