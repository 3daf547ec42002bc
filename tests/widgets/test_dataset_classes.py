"""The dataset view's class statistics: label, bar chart of class means, the layer table."""

from __future__ import annotations

import io

import keras
import numpy as np
from PIL import Image

from cnnviz_widgets import explore
from tests.widgets.test_dataset_view import CLASSES, _explorer, data, model  # noqa: F401


def _oracle_class_means(net, engine, images, labels, layer):
    """(C, K) class means of each channel's spatial mean, from a plain Keras sub-model."""
    x = np.concatenate([engine.prepare(image) for image in images])
    acts = keras.Model(net.inputs[0], net.get_layer(layer).output)(x).numpy()
    per_image = acts.reshape(len(images), -1, acts.shape[-1]).mean(axis=1)
    return np.stack([per_image[labels == k].mean(axis=0) for k in range(len(CLASSES))], axis=1)


def _selectivity(means):
    top = means.max(axis=1)
    rest = (means.sum(axis=1) - top) / (means.shape[1] - 1)
    return np.where(top + rest != 0, (top - rest) / np.where(top + rest != 0, top + rest, 1), 0)


def test_the_view_shows_the_label_and_the_class_means_of_the_channel(model, data):  # noqa: F811
    images, labels = data
    ex = _explorer(model, data)
    ex.layer, ex.channel = "c1", 1
    view = ex.dataset_view
    means = _oracle_class_means(model, ex.engine, images, labels, "c1")
    np.testing.assert_allclose(view.class_means, means[1], rtol=1e-4, atol=1e-6)
    preferred = CLASSES[int(means[1].argmax())]
    assert f"{preferred}, selectivity {_selectivity(means)[1]:.2f}" in view._title.value
    chart = np.asarray(Image.open(io.BytesIO(view._classes.value)))
    assert chart.ndim == 3 and view._classes.layout.display != "none"


def test_the_layer_table_sorts_by_selectivity_and_a_row_opens_its_channel(model, data):  # noqa: F811
    images, labels = data
    ex = _explorer(model, data)
    ex.layer, ex.channel = "c1", 0
    table = ex.dataset_view.table
    selectivity = _selectivity(_oracle_class_means(model, ex.engine, images, labels, "c1"))
    assert len(table.rows) == 4
    np.testing.assert_allclose(selectivity[table.order], np.sort(selectivity)[::-1],
                               rtol=1e-4, atol=1e-6)
    assert table.rows[0].description.startswith(f"{table.order[0]}: ")
    table.sort.value = "channel"
    assert table.order.tolist() == [0, 1, 2, 3]
    table.sort.value = "class"
    preferred = _oracle_class_means(model, ex.engine, images, labels, "c1").argmax(axis=1)
    assert (np.diff(preferred[table.order]) >= 0).all()
    table.rows[3].click()
    assert ex.channel == int(table.order[3])
    assert f"channel {ex.channel} (" in ex.dataset_view._title.value


def test_without_labels_the_table_says_how_to_get_them(model, data):  # noqa: F811
    images, _ = data
    ex = explore(model, images[:3], include_samples=False, dataset=images, dataset_top_k=4)
    ex.layer, ex.channel = "c1", 0
    view = ex.dataset_view
    assert view.class_means is None and view._classes.layout.display == "none"
    assert view.table.rows == [] and "dataset_labels" in view.table._head.value


def test_the_concept_view_finds_the_concepts_of_the_layer_on_screen(model, data):  # noqa: F811
    from cnnviz_widgets import find_concepts
    from tests.conftest import require

    require("sklearn", "concepts")
    images, labels = data
    ex = _explorer(model, data)
    ex.layer, ex.channel = "c1", 0
    view = ex.dataset_view.concept_view
    view.count.value = 2
    view.button.click()
    direct = find_concepts(ex.engine, images, "c1", 2, labels=labels, top_k=6)
    np.testing.assert_allclose(view.concepts.components, direct.components, rtol=1e-4,
                               atol=1e-6)
    assert len(view._rows.children) == 2
    assert view.concepts.label(0) in view._rows.children[0].children[0].value
    ex.layer = "c2"  # a layer without a ReLU: refused in words, in the view's error box
    assert view.concepts is None
    view.button.click()
    assert view.concepts is None and "ReLU" in ex.dataset_view.errors.value
