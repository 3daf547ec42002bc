import numpy as np
import pytest

from cnnviz_widgets.colour import colour_labels, label_colours, predicted_labels
from cnnviz_widgets.errors import InvalidSettingError


def test_each_class_gets_its_own_colour_and_background_is_black():
    table = label_colours(10, "tab10")
    assert table.shape == (10, 3) and table.dtype == np.uint8
    assert tuple(table[0]) == (0, 0, 0)
    assert len({tuple(c) for c in table}) == 10


def test_colour_labels_is_a_lookup_of_the_table():
    labels = np.array([[0, 1], [2, 1]])
    rgb = colour_labels(labels, classes=3)
    table = label_colours(3)
    assert rgb.shape == (2, 2, 3)
    for (y, x), c in np.ndenumerate(labels):
        assert tuple(rgb[y, x]) == tuple(table[c])


def test_predicted_labels_argmax_and_one_class_threshold():
    scores = np.zeros((2, 3, 4))
    scores[0, 1, 2] = 1.0
    scores[1, 2, 3] = 1.0
    labels = predicted_labels(scores)
    assert labels[0, 1] == 2 and labels[1, 2] == 3 and labels[0, 0] == 0
    single = predicted_labels(np.array([[[0.2], [0.9]]]))
    assert single.tolist() == [[0, 1]]


def test_bad_masks_say_what_is_wrong():
    with pytest.raises(InvalidSettingError, match="only 2 classes"):
        colour_labels(np.array([0, 3]), classes=2)
    with pytest.raises(InvalidSettingError, match="integers"):
        colour_labels(np.array([0.5]))
    with pytest.raises(InvalidSettingError, match="per-pixel"):
        predicted_labels(np.zeros((2, 3, 4, 5)))
