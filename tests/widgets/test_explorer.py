"""The feature-map explorer without a browser: traits, controls, views, errors, counters."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets import FeatureMapExplorer, explore
from cnnviz_widgets.errors import (
    CnnvizError,
    InvalidSettingError,
    LayerNotFoundError,
    SelectionOutOfRangeError,
)
from cnnviz_widgets.testing import digits_like_cnn, nested_backbone_model
from tests.widgets.oracle import layer_output, minmax


@pytest.fixture(scope="module")
def model():
    return digits_like_cnn()


@pytest.fixture(scope="module")
def digits():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)


@pytest.fixture
def ex(model, digits):
    return explore(model, digits, include_samples=False)


def test_the_stack_becomes_one_image_per_row(ex, digits):
    assert len(ex.images) == len(digits)
    assert ex.layer == "conv1"  # the first convolution by default


def test_single_channel_view_is_the_min_max_of_the_oracle_activation(model, ex):
    ex.layer = "conv2"
    ex.image_index = 3
    ex.channel = 7
    expected = layer_output(model, "conv2", ex)[..., 7]
    np.testing.assert_allclose(ex.current_activation(), layer_output(model, "conv2", ex),
                               rtol=1e-5, atol=1e-6)
    view = ex.current_view()
    assert view.shape == expected.shape
    np.testing.assert_allclose(view, minmax(expected), atol=1e-5)


def test_layer_normalization_shares_one_scale_over_channels(model, ex):
    ex.layer = "conv1"
    ex.normalization = "layer"
    ex.channel = 4
    act = layer_output(model, "conv1", ex)
    lo, hi = act.min(), act.max()
    np.testing.assert_allclose(ex.current_view(), (act[..., 4] - lo) / (hi - lo), atol=1e-5)


def test_grid_shows_every_channel_with_gaps(ex):
    ex.layer = "conv1"
    ex.channel = None
    view = ex.current_view()
    assert ex.shown_channels() == list(range(32))
    finite = np.isfinite(view)
    assert finite.sum() == 32 * 26 * 26  # every tile, nothing else
    assert np.nanmin(view) >= 0 and np.nanmax(view) <= 1


def test_grids_with_many_channels_are_paged(ex):
    ex.layer = "conv3"  # 128 channels, 64 per page
    ex.channel = None
    assert len(ex.shown_channels()) == 64
    ex.page = 1
    assert ex.shown_channels() == list(range(64, 128))
    ex.channel_order = "max"
    maxima = ex.current_activation().max(axis=(0, 1))
    shown = ex.shown_channels()
    assert np.all(np.diff(maxima[shown]) <= 1e-6)
    assert "page 2 of 2" in ex.value.caption


def test_channel_normalization_colormap_moves_never_call_the_model(ex):
    ex.layer = "conv2"
    evaluations = ex.engine.stats.layer_evaluations
    requests = ex.engine.stats.cache_hits + ex.engine.stats.cache_misses
    before = ex.render_count
    for channel in range(10):
        ex.channel = channel
    for mode in ("layer", "standardize", "signed", "channel"):
        ex.normalization = mode
    for cmap in ("magma", "gray", "viridis"):
        ex.colormap = cmap
    ex.channel = None
    ex.channel_order = "mean"
    assert ex.engine.stats.layer_evaluations == evaluations
    assert ex.engine.stats.cache_hits + ex.engine.stats.cache_misses == requests
    assert ex.render_count - before == 10 + 4 + 3 + 2  # one redraw per change


def test_a_layer_change_asks_the_engine_once_and_redraws_once(ex):
    ex.channel = 31
    before = ex.render_count
    misses = ex.engine.stats.cache_misses
    ex.layer = "pool3"  # 128 channels: channel 31 stays
    assert ex.render_count - before == 1
    assert ex.engine.stats.cache_misses - misses == 1
    ex.layer = "conv1"
    ex.channel = 31
    before = ex.render_count
    ex.layer = "dense1"
    assert ex.render_count - before == 1


def test_a_channel_beyond_the_new_layer_falls_back_to_the_grid(ex):
    ex.layer = "conv3"
    ex.channel = 100
    ex.layer = "conv1"  # 32 channels
    assert ex.channel is None


def test_front_end_messages_drive_the_traits(ex):
    names = [value for _, value in ex.controls["layer"].options]
    ex.controls["layer"].set_state({"index": names.index("conv2")})
    assert ex.layer == "conv2"
    ex.controls["channel"].set_state({"value": 9})
    assert ex.channel == 9
    ex.controls["mode"].set_state({"index": 0})
    assert ex.channel is None
    ex.controls["normalization"].set_state({"index": 1})
    assert ex.normalization == "layer"
    ex.picker.buttons.set_state({"index": 2})
    assert ex.image_index == 2


def test_traits_set_from_python_update_the_controls(ex):
    ex.layer = "conv3"
    ex.channel = 12
    ex.normalization = "signed"
    assert ex.controls["layer"].value == "conv3"
    assert ex.controls["channel"].value == 12 and ex.controls["channel"].max == 127
    assert ex.controls["normalization"].value == "signed"
    assert ex.controls["mode"].value == "one"


def test_vector_layers_show_bars_with_top_classes(model, digits):
    names = [f"digit {i}" for i in range(10)]
    ex = explore(model, digits, include_samples=False, class_names=names)
    ex.layer = "predictions"
    assert ex.current_view().shape == (1, 10)
    probs = ex.current_activation()
    best = int(np.argmax(probs))
    assert ex.value.top[0][1] == f"digit {best}"
    assert ex.canvas.image.value[:4] == b"\x89PNG"


def test_errors_show_in_the_panel_and_the_panel_keeps_working(ex):
    with pytest.raises(LayerNotFoundError, match="conv2"):
        ex.layer = "conv_2"
    assert "conv_2" in ex.errors.message and ex.errors.layout.display != "none"
    assert ex.layer == "conv1"
    ex.layer = "conv2"
    assert ex.errors.message == ""
    with pytest.raises(SelectionOutOfRangeError, match="0 to 63"):
        ex.channel = 64
    with pytest.raises(SelectionOutOfRangeError):
        ex.image_index = 99
    with pytest.raises(InvalidSettingError, match="standardize"):
        ex.normalization = "zscore"
    with pytest.raises(InvalidSettingError):
        ex.colormap = "not-a-map"
    ex.channel = 3
    assert ex.current_view().shape == (11, 11)


def test_a_bad_upload_is_reported_and_a_good_one_is_added(ex):
    junk = {"name": "notes.txt", "type": "text/plain", "size": 4, "last_modified": 0,
            "content": memoryview(b"junk")}
    ex.picker.upload.set_state({"value": [junk]})  # as the front end sends it
    assert "notes.txt" in ex.errors.message
    buffer = io.BytesIO()
    Image.new("L", (40, 40), 255).save(buffer, format="PNG")
    good = {"name": "white.png", "type": "image/png", "size": len(buffer.getvalue()),
            "last_modified": 0, "content": memoryview(buffer.getvalue())}
    count = len(ex.images)
    ex.picker.upload.set_state({"value": [good]})
    assert len(ex.images) == count + 1 and ex.image_index == count
    assert ex.errors.message == ""


def test_many_images_get_an_index_slider(model):
    stack = np.zeros((40, 28, 28), np.uint8)
    ex = explore(model, stack, include_samples=False)
    assert ex.picker.slider.layout.display is None
    ex.picker.slider.set_state({"value": 33})
    assert ex.image_index == 33


def test_samples_come_after_the_given_images(model, digits):
    ex = explore(model, digits[:2])
    assert len(ex.images) > 2
    assert ex.images[0] is not None and np.array_equal(ex.images[1], digits[1])


def test_nested_layers_are_indented_and_selectable():
    ex = explore(nested_backbone_model(), np.zeros((32, 32, 3), np.uint8), include_samples=False)
    labels = dict((v, k) for k, v in ex.controls["layer"].options)
    assert labels["backbone/block/conv"].startswith("\u00a0" * 6)
    assert "16x16x8" in labels["backbone/block/conv"]
    ex.layer = "backbone/block/conv"
    assert ex.current_view().shape[0] > 0


def test_save_writes_a_matplotlib_png_and_returns_the_figure(ex, tmp_path):
    ex.layer = "conv2"
    fig = ex.save(tmp_path / "view.png")
    image = Image.open(tmp_path / "view.png")
    assert image.size[0] > 200
    assert fig.axes and fig.axes[0].get_title().startswith("conv2")


def test_bqplot_backend_updates_in_place_and_a_click_selects_the_channel(ex):
    ex.backend = "bqplot"
    view = ex.canvas.maps
    figure = view.figure
    ex.layer = "conv2"
    first = view.image_bytes
    ex.normalization = "layer"
    assert view.figure is figure and view.image_bytes != first
    layout = ex.value.rendered.layout
    y, x = layout.cell_origin(layout.channels.index(5))
    view.simulate_click(y + 1, x + 1)
    assert ex.channel == 5
    ex.backend = "matplotlib"
    assert ex.canvas.image.value == ex.value.rendered.data


def test_an_empty_image_list_without_samples_is_a_clear_error(model):
    with pytest.raises(CnnvizError, match="no images"):
        FeatureMapExplorer(model, [], include_samples=False)


def test_explain_channel_overlays_the_channel_and_maximises_it(ex):
    ex.layer = "conv1"
    with pytest.raises(SelectionOutOfRangeError):
        ex.explain_channel()
    ex.channel = 3
    misses = ex.engine.stats.cache_misses
    evaluations = ex.engine.stats.layer_evaluations
    heat, result = ex.explain_channel(steps=4)
    assert heat.shape == (28, 28, 3) and heat.dtype == np.uint8
    assert result.channel == 3 and result.steps == 4
    assert ex.explainer.layout.display is None
    assert ex.explainer.maximum.value[:4] == b"\x89PNG"
    assert ex.engine.stats.cache_misses == misses  # the overlay reuses the cached activation
    # gradient ascent on conv1 runs only conv1: one evaluation per step (and start checks)
    assert ex.engine.stats.layer_evaluations - evaluations <= 4 + 8


def test_export_html_writes_one_self_contained_page(ex, tmp_path):
    report = ex.export_html(tmp_path / "page.html")
    text = (tmp_path / "page.html").read_text()
    assert report.bytes == len(text.encode())
    assert "conv1" in report.layers and len(report.images) == len(ex.images)
    assert "http://" not in text and "https://" not in text


@pytest.mark.parametrize("name, value", [("channel", 2.5), ("channel", "3"), ("channel", True),
                                         ("image_index", None), ("page", 1.0),
                                         ("layer", 3), ("normalization", None)])
def test_wrong_types_from_python_are_our_error_and_shown(ex, name, value):
    before = getattr(ex, name)
    with pytest.raises(InvalidSettingError, match=name):
        setattr(ex, name, value)
    assert getattr(ex, name) == before
    assert name in ex.errors.message
    ex.channel = np.int64(4)  # numpy integers are fine
    assert ex.channel == 4 and isinstance(ex.channel, int)


def test_bqplot_canvas_switches_between_maps_and_bars(ex):
    from cnnviz_widgets.render.bq import BqImageView

    ex.backend = "bqplot"
    canvas = ex.canvas
    assert canvas.children == (canvas.maps,) and isinstance(canvas.maps, BqImageView)
    ex.layer = "dense1"
    assert canvas.children == (canvas.bars,)
    assert list(canvas.bars.mark.y) == pytest.approx(ex.current_activation().tolist())
    ex.layer = "conv1"
    assert canvas.children == (canvas.maps,)


def test_the_class_order_ranks_channels_by_their_contribution_once(model, ex):
    """The grid's order is the descending mean of gradient x activation for the class,
    computed once per (layer, image, class): other changes never call the model."""
    from cnnviz_widgets.attribution import ChannelContributions

    ex.layer = "conv2"
    ex.image_index = 1
    ex.target = 4
    ex.channel_order = "class"
    scores = ChannelContributions(model, "conv2")(ex.images[1], target=4)
    want = np.argsort(-scores, kind="stable")
    np.testing.assert_array_equal(ex.channel_ranking(), want)
    np.testing.assert_array_equal(ex.page_channels(), want[:ex.per_page])
    assert "contribution to the class 4" in ex._caption.value
    assert "gradient x activation" in ex._caption.value
    assert ex.controls["target"].layout.display is None

    evaluations = ex.engine.stats.layer_evaluations
    renders = ex.render_count
    ex.normalization = "layer"
    ex.colormap = "magma"
    ex.channel = 5
    ex.channel = None
    assert ex.render_count > renders
    assert ex.engine.stats.layer_evaluations == evaluations  # no model call

    ex.target = None  # the predicted class
    predicted = int(np.argmax(ex.engine.activation("predictions", ex.images[1])))
    scores = ChannelContributions(model, "conv2")(ex.images[1], target=predicted)
    np.testing.assert_array_equal(ex.channel_ranking(), np.argsort(-scores, kind="stable"))
    assert f"predicted class {predicted}" in ex._caption.value
    ex.controls["target"].value = 2  # the dropdown
    assert ex.target == 2
    ex.channel_order = "mean"
    assert ex.controls["target"].layout.display == "none"


def test_a_wrong_class_is_refused_in_the_panel(ex):
    with pytest.raises(SelectionOutOfRangeError, match="class 10"):
        ex.target = 10
    assert "class 10" in ex.errors.message
    assert ex.target is None


def _stack_model():
    """Two valid 3x3 convolutions then a 2x2 pool: position (r, c) of ``pool`` sees input
    rows 2r..2r+5 and columns 2c..2c+5 (a 6 x 6 box)."""
    keras.utils.set_random_seed(3)
    return keras.Sequential([
        keras.Input((16, 16, 1)),
        keras.layers.Conv2D(4, 3, activation="tanh", name="c1"),
        keras.layers.Conv2D(4, 3, activation="tanh", name="c2"),
        keras.layers.MaxPooling2D(2, name="pool"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(3, name="out"),
    ])


def test_receptive_field_box_and_its_gradient_are_drawn_on_the_input():
    from cnnviz_widgets.attribution import effective_receptive_field
    from cnnviz_widgets.engine.receptive import receptive_box

    model = _stack_model()
    images = np.random.default_rng(4).integers(0, 256, (2, 16, 16), dtype=np.uint8)
    ex = explore(model, images, include_samples=False, layer="pool", channel=1)
    box = ex.receptive_field(2, 3)
    assert box == (4, 6, 10, 12)  # hand-computed: rows 2*2..2*2+5, columns 2*3..2*3+5
    assert ex.field == (2, 3, box)
    # the gradient oracle: zero outside the box, non-zero on each of its four sides
    import tensorflow as tf

    x = tf.constant(ex.engine.prepare(images[0]))
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = keras.Model(model.inputs, model.get_layer("pool").output)(x)[0, 2, 3, 1]
    want = np.abs(tape.gradient(value, x).numpy()[0, ..., 0])
    got = effective_receptive_field(ex.engine, images[0], "pool", 2, 3, channel=1)
    # a sum over paths through both convolutions: float32 rounding relative to the largest
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * want.max())
    outside = np.ones_like(got, dtype=bool)
    outside[4:10, 6:12] = False
    assert np.all(got[outside] == 0)
    # without a max pooling choosing one input per window, every pixel of the box counts
    c2 = effective_receptive_field(ex.engine, images[0], "c2", 3, 5)
    assert receptive_box(ex.engine, "c2", 3, 5) == (3, 5, 8, 10)
    outside[:] = True
    outside[3:8, 5:10] = False
    assert np.all(c2[3:8, 5:10] > 0) and np.all(c2[outside] == 0)
    from cnnviz_widgets.render.crops import MARKER_COLOUR

    picture = np.asarray(Image.open(io.BytesIO(ex.field_view.box_image.value)).convert("RGB"))
    f = picture.shape[0] // 16
    assert tuple(picture[4 * f, 8 * f]) == MARKER_COLOUR  # the box's top edge
    assert tuple(picture[7 * f, 9 * f]) != MARKER_COLOUR  # inside: the image
    assert ex.field_view.layout.display is None
    assert "rows 4-9 and columns 6-11" in ex.field_view.caption.value
    ex.image_index = 1  # another image: the old field goes away
    assert ex.field is None and ex.field_view.layout.display == "none"


def test_a_click_in_the_bqplot_one_channel_view_shows_the_receptive_field():
    model = _stack_model()
    images = np.random.default_rng(4).integers(0, 256, (2, 16, 16), dtype=np.uint8)
    ex = explore(model, images, include_samples=False, layer="pool", channel=0,
                 backend="bqplot")
    view = ex.canvas.maps
    lay = view.view.layout
    hits = [(yy, xx) for yy in np.arange(0, view.view.shape[0], 0.5)
            for xx in np.arange(0, view.view.shape[1], 0.5)
            if (lay.locate(yy, xx) or (None,))[1:] == (1, 4)]
    assert hits  # view pixels of map position (1, 4)
    view.simulate_click(*hits[len(hits) // 2])
    assert ex.field == (1, 4, (2, 8, 8, 14))


def test_a_receptive_field_outside_the_map_is_said_in_the_panel():
    ex = explore(_stack_model(), np.zeros((1, 16, 16), np.uint8), include_samples=False,
                 layer="pool")
    with pytest.raises(SelectionOutOfRangeError):
        ex.receptive_field(6, 0)
    assert "6" in ex.errors.message
    ex.layer = "out"
    with pytest.raises(CnnvizError):
        ex.receptive_field(0, 0)
    assert ex.errors.message


def _sharedminmax(a, b):
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    return (a - lo) / (hi - lo), (b - lo) / (hi - lo)


def test_compare_two_images_side_by_side_with_one_scale_and_their_difference(model, ex):
    ex.layer = "conv2"
    ex.channel = 7
    single = ex.current_view().copy()
    ex.compare_index = 3
    ex.compare = "image"
    a_all = layer_output(model, "conv2", ex)
    ex_b = ex.engine.prepare(ex.images[3])
    b_all = keras.Model(model.inputs, model.get_layer("conv2").output)(ex_b).numpy()[0]
    a, b = a_all[..., 7], b_all[..., 7]
    view = ex.current_view()
    h, w = a.shape
    gap = max(1, w // 8)
    want_a, want_b = _sharedminmax(a, b)
    np.testing.assert_allclose(view[:, :w], want_a, atol=1e-5)
    assert np.all(np.isnan(view[:, w:w + gap]))
    np.testing.assert_allclose(view[:, w + gap:2 * w + gap], want_b, atol=1e-5)
    # signed: 0 is white in the middle; one channel is scaled by its largest difference
    top = np.abs(a - b).max()
    np.testing.assert_allclose(view[:, 2 * w + 2 * gap:], 0.5 + 0.5 * (a - b) / top, atol=1e-5)
    assert "one scale for both" in ex._caption.value and "image 3" in ex._caption.value
    assert ex.comparison.layout.display is None
    assert ex.comparison.image.value[:4] == b"\x89PNG"

    evaluations = ex.engine.stats.layer_evaluations
    ex.normalization = "layer"  # a redraw, no model call
    ex.colormap = "gray"
    assert ex.engine.stats.layer_evaluations == evaluations
    ex.channel = None  # the grid: each tile holds both maps; one scale for the differences
    assert ex.current_view().shape[1] > ex.current_view().shape[0]
    difference = ex.comparison.difference.view
    first = int(ex.comparison.difference.layout.channels[0])
    tile = difference[:a.shape[0], :a.shape[1]]
    d_all = a_all - b_all
    np.testing.assert_allclose(tile, 0.5 + 0.5 * d_all[..., first] / np.abs(d_all).max(),
                               atol=1e-5)
    ex.compare = None
    ex.channel = 7
    ex.normalization = "channel"
    ex.colormap = "viridis"
    np.testing.assert_array_equal(ex.current_view(), single)
    assert ex.comparison.layout.display == "none"


def test_compare_two_checkpoints_and_mismatched_layers_are_said(model, digits):
    later = digits_like_cnn(seed=5)
    ex = explore(model, digits, include_samples=False, layer="conv1", channel=2,
                 compare_model=later)
    assert ex.compare == "model"
    x = ex.engine.prepare(digits[0])
    a = keras.Model(model.inputs, model.get_layer("conv1").output)(x).numpy()[0][..., 2]
    b = keras.Model(later.inputs, later.get_layer("conv1").output)(x).numpy()[0][..., 2]
    want_a, want_b = _sharedminmax(a, b)
    view = ex.current_view()
    w = a.shape[1]
    gap = max(1, w // 8)
    np.testing.assert_allclose(view[:, :w], want_a, atol=1e-5)
    np.testing.assert_allclose(view[:, w + gap:2 * w + gap], want_b, atol=1e-5)
    assert "compared model" in ex._caption.value

    def one_conv(name: str, filters: int):
        return keras.Sequential([keras.Input((28, 28, 1)),
                                 keras.layers.Conv2D(filters, 3, name=name),
                                 keras.layers.Flatten(), keras.layers.Dense(10)])

    ex.compare_model = one_conv("first", 4)
    assert "no layer 'conv1'" in ex.errors.message
    assert "same layer names" in ex.errors.message
    ex.compare_model = one_conv("conv1", 8)  # conv1 has 32 channels here
    assert "shape" in ex.errors.message
    ex.compare_model = None
    assert ex.compare is None and ex.errors.message == ""
    with pytest.raises(InvalidSettingError, match="compare_model"):
        ex.compare = "model"
    with pytest.raises(InvalidSettingError):
        ex.compare = "images"


def test_the_compare_controls_drive_the_state(ex):
    ex.layer = "conv1"
    ex.channel = 0
    ex.controls["compare"].value = "image"
    assert ex.compare == "image" and ex.controls["compare_index"].layout.display is None
    ex.controls["compare_index"].value = 2
    assert ex.compare_index == 2 and "image 2" in ex._caption.value
    ex.controls["compare"].value = "model"  # no other model: refused in words
    assert ex.compare == "image" and ex.controls["compare"].value == "image"
    assert "compare_model" in ex.errors.message
    ex.controls["compare"].value = ""
    assert ex.compare is None and ex.controls["compare_index"].layout.display == "none"
    index = ex.add_image(np.zeros((28, 28), np.uint8), name="blank", select=False)
    assert ("blank", index) in ex.controls["compare_index"].options


def test_compare_grids_of_wide_tiles_give_one_view(ex):
    ex.layer = "conv1"
    ex.channel = None
    ex.compare_index = 1
    ex.compare = "image"
    joined = ex.value.rendered.view
    view = ex.current_view()
    assert view.shape[0] == max(joined.shape[0], ex.comparison.difference.view.shape[0])
    np.testing.assert_array_equal(view[:joined.shape[0], :joined.shape[1]], joined)


def test_grid_after_refresh_follows_the_new_weights(digits):
    """Redraws reuse what was computed for a layer and image; after the weights change,
    ``refresh()`` draws the new activations: the grid is the per-channel min-max of the
    oracle's new output, not the old picture."""
    model = digits_like_cnn()
    ex = explore(model, digits, include_samples=False, layer="conv1")
    ex.colormap = "magma"
    ex.colormap = "viridis"  # a redraw from what was computed
    layer = model.get_layer("conv1")
    kernel, bias = layer.get_weights()
    layer.set_weights([-kernel, bias + 0.5])
    ex.refresh()
    ex.channel = 2
    expected = layer_output(model, "conv1", ex)[..., 2]
    np.testing.assert_allclose(ex.current_view(), minmax(expected), atol=1e-5)
    ex.channel = None
    grid = ex.current_view()
    tile = grid[:expected.shape[0], :expected.shape[1]]  # channel 0, top left
    np.testing.assert_allclose(tile, minmax(layer_output(model, "conv1", ex)[..., 0]),
                               atol=1e-5)
