"""The explorer's mask view for a per-pixel output, and every other feature with such a model."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets import explore
from cnnviz_widgets.attribution._common import output_kind
from cnnviz_widgets.colour import label_colours
from cnnviz_widgets.errors import UnsupportedModelError
from cnnviz_widgets.testing import tiny_cnn, tiny_segmentation_cnn
from cnnviz_widgets.widgets.explorer.mask import MASK_ALPHA, mask_picture


@pytest.fixture(scope="module")
def segmenter():
    from cnnviz_widgets.zoo import digits_segmenter

    return digits_segmenter()


@pytest.fixture(scope="module")
def scenes():
    from cnnviz_widgets.zoo import digit_scenes

    return digit_scenes(n=4)


@pytest.fixture
def ex(segmenter, scenes):
    panel = explore(segmenter, scenes[0], include_samples=False)
    yield panel
    panel.close()


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_mask_is_the_argmax_of_a_plain_keras_forward_pass(ex, segmenter, scenes):
    import keras

    plain = keras.Model(segmenter.inputs, segmenter.get_layer("probs").output)
    images, masks = scenes
    expected = plain.predict(images[..., None] / 255.0, verbose=0).argmax(axis=-1)
    view = ex.mask_view
    assert view.active and view.layout.display is None
    for index in range(len(images)):
        ex.image_index = index
        np.testing.assert_array_equal(view.labels, expected[index])
        assert np.mean(view.labels == masks[index]) > 0.92  # a trained segmenter
    # the legend names the classes present, with the colour of each
    present = np.unique(view.labels)
    for k in present:
        assert ex.class_names[k] in view.legend.value
    r, g, b = label_colours(11)[present[-1]]
    assert f"rgb({r},{g},{b})" in view.legend.value
    assert view.legend.value.count("cnnviz-mask-class") == len(present)


def test_mask_picture_tints_the_classes_and_leaves_the_background(ex, scenes):
    images, _ = scenes
    ex.image_index = 2
    labels = ex.mask_view.labels
    picture = mask_picture(images[2].astype(np.float32), labels, 11)
    table = label_colours(11).astype(np.float64)
    for (row, col) in [(r, c) for r in range(0, 48, 3) for c in range(0, 48, 3)]:
        gray = float(images[2, row, col])
        k = labels[row, col]
        want = (gray if k == 0 else (1 - MASK_ALPHA) * gray + MASK_ALPHA * table[k])
        np.testing.assert_allclose(picture[row, col], np.broadcast_to(want, 3), atol=0.51)
    shown = _png(ex.mask_view.picture.value)
    factor = shown.shape[0] // 48
    assert shown.shape == (48 * factor, 48 * factor, 3)
    np.testing.assert_array_equal(shown[::factor, ::factor], picture)


def test_layer_and_channel_moves_never_call_the_model_for_the_mask(ex, scenes):
    view, stats = ex.mask_view, ex.engine.stats
    assert view.compute_count == 1
    evaluations = stats.layer_evaluations  # the image's forward pass reached the output
    for layer in ("conv2", "conv4", "dec1", "probs", "conv1"):
        ex.layer = layer
        for channel in (0, 3, None):
            ex.channel = channel
    assert stats.layer_evaluations == evaluations
    assert view.compute_count == 1
    ex.image_index = 1
    assert view.compute_count == 2
    ex.image_index = 0  # kept per image
    ex.layer = "conv3"
    assert view.compute_count == 2
    ex.refresh()  # new weights may give a new mask
    assert view.compute_count == 3


def test_class_orders_say_they_need_a_classifier(ex):
    for order in ("class", "relevance"):
        ex.channel_order = order
        with pytest.raises(UnsupportedModelError, match="needs a classifier"):
            ex.current_view()
        assert "class for every pixel" in ex.errors.message
        ex.channel_order = "index"  # the panel keeps working
        assert ex.current_view().size and ex.errors.message == ""


def test_explain_receptive_field_compare_dataset_and_export_work(ex, scenes, tmp_path):
    images, _ = scenes
    ex.layer, ex.channel = "conv3", 5
    heat, result = ex.explain_channel(steps=3)
    assert heat.shape[:2] == (48, 48) and np.isfinite(result.final)
    assert "needs a classifier" in ex.explainer.caption.value
    top, left, bottom, right = ex.receptive_field(2, 2)
    assert 0 <= top < bottom <= 48 and 0 <= left < right <= 48
    ex.compare, ex.compare_index = "image", 1
    assert ex.current_view().size and ex.errors.message == ""
    ex.compare = None
    ex.dataset = images
    assert ex.dataset_view is not None and ex.errors.message == ""
    assert ex.dataset_view.relevance_view.compute() is None
    assert "needs a classifier" in ex.dataset_view.errors.message
    report = ex.export_html(tmp_path / "page.html", layers=["conv1"])
    assert report.bytes > 0 and report.layers == ("conv1",)
    ex.backend = "bqplot"
    assert ex.current_view().size and ex.errors.message == ""


def test_no_mask_view_for_a_classifier():
    panel = explore(tiny_cnn(), include_samples=False, images=[np.zeros((32, 32, 3))])
    try:
        assert output_kind(panel.engine) != "pixels"
        assert panel.mask_view.layout.display == "none"
        assert panel.mask_view.compute_count == 0
    finally:
        panel.close()


def test_an_untrained_per_pixel_model_gets_a_mask_too():
    model = tiny_segmentation_cnn()
    image = np.random.default_rng(0).random((16, 16, 1)).astype("float32")
    panel = explore(model, [image], include_samples=False)
    try:
        assert output_kind(panel.engine) == "pixels"
        assert panel.mask_view.labels.shape == (16, 16)
        assert set(np.unique(panel.mask_view.labels)) <= {0, 1, 2}
    finally:
        panel.close()


def test_a_trunk_of_feature_maps_is_not_a_segmentation():
    # a convolutional trunk without its head (as VGG16's): maps smaller than the input, no
    # softmax over channels, so no predicted mask; the same maps at the input's size are one
    import keras

    trunk = keras.Sequential([keras.Input((16, 16, 3)),
                              keras.layers.Conv2D(8, 3, activation="relu", name="c"),
                              keras.layers.MaxPooling2D(2, name="p")])
    same = keras.Sequential([keras.Input((16, 16, 3)),
                             keras.layers.Conv2D(4, 3, padding="same", name="c")])
    image = np.random.default_rng(0).random((16, 16, 3)).astype("float32")
    for model, expected in ((trunk, False), (same, True)):
        panel = explore(model, [image], include_samples=False)
        try:
            assert (output_kind(panel.engine) == "pixels") is expected
            assert (panel.mask_view.layout.display == "none") is not expected
            assert panel.errors.message == ""
        finally:
            panel.close()
