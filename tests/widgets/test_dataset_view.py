"""The explorer's dataset view without a browser: crops, histogram, dead channels, caching."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets import explore
from cnnviz_widgets.engine.scan import ScanResult, scan
from cnnviz_widgets.engine.scan import cache as scans_module
from cnnviz_widgets.errors import CnnvizError
from cnnviz_widgets.render.crops import MARKER_COLOUR
from cnnviz_widgets.widgets.panel import _widget_tree
from tests.engine.oracle import assert_order_agrees

CLASSES = ["zero", "one", "two"]
DEAD = (1, 3)


def valid_stack(dead: tuple[int, ...] = ()):
    """Two valid 3x3 convolutions: position (r, c) of ``c2`` sees input rows r..r+4 and
    columns c..c+4. Channels of ``c2`` in ``dead`` have a zero kernel and a negative bias."""
    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
        keras.layers.Conv2D(5, 3, name="c2"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(3, name="out"),
    ], name="valid_stack")
    if dead:
        kernel, bias = model.get_layer("c2").get_weights()
        for c in dead:
            kernel[..., c] = 0.0
            bias[c] = -1.0
        model.get_layer("c2").set_weights([kernel, bias])
    return model


@pytest.fixture(scope="module")
def model():
    return valid_stack()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    images = rng.integers(0, 256, (30, 12, 12), dtype=np.uint8)
    labels = rng.integers(0, 3, 30)
    return images, labels


@pytest.fixture
def scans(monkeypatch):
    """Every call of scan() by the dataset view, with the layers it scanned."""
    calls: list[list[str]] = []
    real = scans_module.scan

    def counting(*args, **kwargs):
        calls.append(list(args[2]))
        return real(*args, **kwargs)

    monkeypatch.setattr(scans_module, "scan", counting)
    return calls


def _explorer(model, data, **kwargs):
    images, labels = data
    kwargs.setdefault("dataset", images)
    kwargs.setdefault("dataset_labels", labels)
    return explore(model, images[:3], include_samples=False, class_names=CLASSES,
                   dataset_top_k=4, **kwargs)


def _oracle_maps(model, engine, images, layer, channel):
    """A channel's maps of every image, (N, h, w), from Keras alone, in one batch.

    The view scans the set in batches of its own, so the two agree up to float32 rounding:
    its top images are compared with :func:`tests.engine.oracle.assert_order_agrees`.
    """
    x = np.concatenate([engine.prepare(image) for image in images])
    return keras.Model(model.inputs[0], model.get_layer(layer).output)(x).numpy()[..., channel]


def _crops_at_the_maximum(pixels, channel_map, side):
    """The ``side`` x ``side`` crops of ``pixels`` at each position of ``channel_map`` whose
    value is its maximum up to float32 rounding (one, unless two positions nearly tie)."""
    near = np.isclose(channel_map, channel_map.max(), rtol=1e-5, atol=1e-6)
    return [pixels[r:r + side, c:c + side] for r, c in zip(*np.nonzero(near), strict=True)]


def test_the_view_shows_the_top_k_crops_of_the_oracle(model, data, scans):
    images, labels = data
    ex = _explorer(model, data)
    view = ex.dataset_view
    ex.layer = "c2"
    ex.channel = 2
    maps = _oracle_maps(model, ex.engine, images, "c2", 2)
    peaks = maps.reshape(len(images), -1).max(axis=1)
    indices = [crop.index for crop in view.crops]
    assert len(indices) == 4
    assert_order_agrees(indices, peaks)
    np.testing.assert_allclose([crop.value for crop in view.crops], peaks[indices], rtol=1e-4,
                               atol=1e-6)
    for crop in view.crops:
        pixels = ex.engine.pixels(images[crop.index])
        assert any(np.array_equal(crop.pixels, expected)
                   for expected in _crops_at_the_maximum(pixels, maps[crop.index], 5))
        assert crop.marker == (2, 2, 3, 3)  # the centre pixel of a 5x5 field
        assert CLASSES[labels[crop.index]] in crop.caption
    shown = [i for i, cell in enumerate(view._cells) if cell.layout.display != "none"]
    assert shown == [0, 1, 2, 3]
    picture = np.asarray(Image.open(io.BytesIO(view._images[0].value)))
    assert picture.shape[0] % 5 == 0 and picture.shape[0] > 5  # enlarged, crisp
    assert picture[0, 0, 0] == round(float(view.crops[0].pixels[0, 0, 0]))
    f = picture.shape[0] // 5
    assert tuple(picture[2 * f, 2 * f + f // 2]) == MARKER_COLOUR  # top edge of the outline
    assert tuple(picture[2 * f + f // 2, 2 * f + f // 2]) != MARKER_COLOUR  # inside: the image
    assert "c2" in view._title.value and "channel 2" in view._title.value


def test_explain_channel_shows_the_data_sets_top_images_beside_the_visualisation(
        model, data, scans):
    """The explainer shows the same top crops as the dataset view, from the same scan."""
    images, _ = data
    ex = _explorer(model, data)
    ex.layer = "c2"
    ex.channel = 1
    scanned = list(scans)
    heat, result = ex.explain_channel(steps=3)
    assert scans == scanned  # no new scan
    maps = _oracle_maps(model, ex.engine, images, "c2", 1)
    best = [crop.index for crop in ex.explainer.crops]
    assert len(best) == 4
    assert_order_agrees(best, maps.reshape(len(images), -1).max(axis=1))
    cells = ex.explainer.top.children
    assert len(cells) == 4 and cells[0].children[0].value[:4] == b"\x89PNG"
    assert CLASSES[data[1][best[0]]] in cells[0].children[1].value
    assert "data set" in ex.explainer.caption.value
    assert ex.explainer.maximum.value[:4] == b"\x89PNG"

    plain = explore(model, images[:3], include_samples=False, layer="c2", channel=1)
    plain.explain_channel(steps=2)
    assert plain.explainer.crops == [] and plain.explainer.top.children == ()


def test_the_histogram_counts_every_image(model, data):
    images, _ = data
    ex = _explorer(model, data)
    ex.layer = "c2"
    ex.channel = 0
    counts, edges = ex.dataset_view.histogram
    assert counts.sum() == len(images)
    assert len(edges) == len(counts) + 1
    assert bytes(ex.dataset_view._histogram.value).startswith(b"\x89PNG")


def test_dead_channels_are_listed_and_a_click_selects_one(data):
    ex = _explorer(valid_stack(dead=DEAD), data, layer="c2")
    view = ex.dataset_view
    assert view.dead.tolist() == list(DEAD)
    buttons = view.dead_buttons
    assert [b.description for b in buttons] == [str(c) for c in DEAD]
    buttons[1].click()
    assert ex.channel == DEAD[1]
    assert view.channel == DEAD[1]
    assert ex.controls["channel"].value == DEAD[1]
    assert "Dead channels of c2" in view._dead_label.value


def test_moving_the_channel_never_scans_again(model, data, scans):
    ex = _explorer(model, data, layer="c2")
    assert scans == [["c2"]]
    evaluations = ex.engine.stats.layer_evaluations
    slider = ex.controls["channel"]
    for channel in range(5):
        slider.value = channel  # as the front end would
        ex.channel = channel
        assert len(ex.dataset_view.crops) == 4
    assert scans == [["c2"]]
    assert ex.dataset_view.scans.scan_count == 1
    assert ex.engine.stats.layer_evaluations == evaluations


def test_each_layer_is_scanned_once_and_alone(model, data, scans):
    ex = _explorer(model, data)
    for layer in ("c1", "c2", "c1", "c2", "out", "c1"):
        ex.layer = layer
        ex.channel = 1
    assert scans == [["c1"], ["c2"], ["out"]]
    assert len(ex.dataset_view.crops) == 4
    ex.layer = "out"
    ex.channel = 0
    crops = ex.dataset_view.crops
    assert all(crop.marker is None and crop.pixels.shape == (12, 12, 1) for crop in crops)


def test_the_scan_reports_progress_inside_the_view(model, data):
    images, _ = data
    ex = _explorer(model, data)
    bar = ex.dataset_view.progress.bar
    assert bar.max == len(images) and bar.value == len(images)
    assert ex.dataset_view.progress.widget.layout.display == "none"  # hidden once done


def test_a_dataset_with_no_readable_image_is_reported_and_the_explorer_works(model, data,
                                                                              scans):
    ex = _explorer(model, data, dataset=[b"not an image", b"nor this"], dataset_labels=None)
    view = ex.dataset_view
    assert "None of the 2 items" in view.errors.message
    assert view.crops == [] and view.histogram is None
    ex.layer = "c2"
    ex.channel = 3
    assert ex.current_view().shape == (8, 8)
    assert ex.errors.message == ""
    ex.channel = 4
    assert "None of the 2 items" in view.errors.message
    assert scans == [["c1"], ["c2"]]  # a failure is remembered, not scanned again
    ex.dataset = data[0]  # a good set replaces it
    assert ex.dataset_view.errors.message == ""
    assert len(ex.dataset_view.crops) == 4


def test_a_wrong_dataset_is_refused_in_words(model, data):
    ex = _explorer(model, data)
    before = ex.dataset
    with pytest.raises(CnnvizError):
        ex.dataset = 5
    assert ex.dataset is before
    assert ex.errors.message
    ex.channel = 1
    assert len(ex.dataset_view.crops) == 4


def test_some_unreadable_items_are_skipped_and_said(model, data):
    images, _ = data
    items = [*images[:10], b"broken"]
    ex = explore(model, images[:2], include_samples=False, dataset=items, channel=0)
    view = ex.dataset_view
    assert view.histogram[0].sum() == 10
    assert "1 item(s) could not be read" in view._title.value


def test_dataset_none_removes_the_view_and_close_closes_it(model, data):
    ex = _explorer(model, data, channel=0)
    view = ex.dataset_view
    widgets = _widget_tree([view])
    assert len(widgets) > 10
    ex.dataset = None
    assert ex.dataset_view is None
    assert ex._dataset_box.layout.display == "none" and ex._dataset_box.children == ()
    assert all(widget.comm is None for widget in widgets)
    ex.dataset = data[0]
    widgets = _widget_tree([ex.dataset_view])
    ex.close()
    assert all(widget.comm is None for widget in widgets)


def test_without_a_dataset_nothing_is_scanned(model, data, scans):
    ex = explore(model, data[0][:3], include_samples=False)
    ex.layer = "c2"
    ex.channel = 1
    assert scans == []
    assert ex.dataset_view is None
    assert ex._dataset_box.layout.display == "none" and ex._dataset_box.children == ()


def test_a_saved_scan_gives_the_same_view_without_scanning(model, data, scans, tmp_path):
    images, labels = data
    fresh = _explorer(model, data, layer="c2", channel=2)
    result = scan(fresh.engine, images, ["c2"], top_k=4, labels=labels, class_names=CLASSES,
                  progress=False)
    result.save(tmp_path / "scan.npz")
    loaded = ScanResult.load(tmp_path / "scan.npz").attach(images, fresh.engine.input_shape)
    scans.clear()
    again = explore(model, images[:3], include_samples=False, dataset=loaded, layer="c2",
                    channel=2)
    assert scans == []
    view, other = again.dataset_view, fresh.dataset_view
    assert [c.caption for c in view.crops] == [c.caption for c in other.crops]
    for a, b in zip(view.crops, other.crops, strict=True):
        np.testing.assert_array_equal(a.pixels, b.pixels)
        assert a.marker == b.marker
    np.testing.assert_array_equal(view.histogram[0], other.histogram[0])
    assert view.dead.tolist() == other.dead.tolist()
    again.layer = "c1"  # not in the saved scan: scanned from the attached images
    assert scans == [["c1"]]
    assert again.channel == 2 and len(view.crops) == 4


def test_a_saved_scan_without_its_images_still_shows_its_statistics(model, data, tmp_path):
    images, _ = data
    engine_model = explore(model, images[:2], include_samples=False)
    result = scan(engine_model.engine, images, ["c2"], top_k=4, progress=False)
    result.save(tmp_path / "scan.npz")
    ex = explore(model, images[:2], include_samples=False,
                 dataset=ScanResult.load(tmp_path / "scan.npz"), layer="c2", channel=1)
    view = ex.dataset_view
    assert view.histogram[0].sum() == len(images)
    assert view.crops == []
    assert "result.attach" in view._title.value
    ex.layer = "c1"
    assert "result.attach" in view.errors.message


def test_a_tf_data_set_carries_its_labels(model, data):
    import tensorflow as tf

    images, labels = data
    ds = tf.data.Dataset.from_tensor_slices((images[..., None], labels)).batch(8)
    ex = explore(model, images[:2], include_samples=False, class_names=CLASSES,
                 dataset=ds, layer="c2", channel=0)
    crops = ex.dataset_view.crops
    assert len(crops) == 9
    for crop in crops:
        assert CLASSES[labels[crop.index]] in crop.caption
        np.testing.assert_array_equal(
            ex.engine.pixels(images[crop.index]).shape, (12, 12, 1))
