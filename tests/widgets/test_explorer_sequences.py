"""The explorer on a 1-D convolution model, without a browser: heat strips, line plots,
signal thumbnails, the input drawn as lines, errors and what slider moves cost."""

from __future__ import annotations

import base64
import io

import keras
import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets import explore
from cnnviz_widgets.errors import CnnvizError, SelectionOutOfRangeError
from cnnviz_widgets.render.view import ErrorValue, MapValue, SeriesValue, VectorValue
from cnnviz_widgets.testing import tiny_conv1d
from tests.engine.oracle import assert_order_agrees
from tests.widgets.oracle import layer_output
from tests.widgets.signal_figures import record_signal_figures


@pytest.fixture(scope="module")
def model():
    return tiny_conv1d()


@pytest.fixture(scope="module")
def signals():
    rng = np.random.default_rng(3)
    t = np.linspace(0, 4 * np.pi, 64)
    clean = np.stack([np.sin(t), np.cos(2 * t)], axis=-1)
    return (clean[None] + 0.3 * rng.normal(size=(3, 64, 2))).astype(np.float32)


@pytest.fixture
def ex(model, signals):
    return explore(model, signals)


def _normalised(a: np.ndarray, mode: str) -> np.ndarray:
    """(T, C) -> the four normalisations per channel (axis 0), written out."""
    a = a.astype(np.float64)
    if mode == "channel":
        lo, hi = a.min(axis=0), a.max(axis=0)
        return np.where(hi > lo, (a - lo) / np.where(hi > lo, hi - lo, 1), 0.0)
    if mode == "layer":
        return (a - a.min()) / (a.max() - a.min())
    if mode == "signed":
        return 0.5 + a / (2 * np.abs(a).max())
    std = a.std(axis=0)
    z = (a - a.mean(axis=0)) / np.where(std > 0, std, 1)
    return np.where(std > 0, np.clip(z * 64 + 128, 0, 255) / 255, 0.5)


def test_signals_are_split_and_no_sample_images_are_added(ex, signals):
    assert len(ex.images) == 3
    assert ex.image_names == ["signal 0", "signal 1", "signal 2"]
    np.testing.assert_array_equal(ex.images[1], signals[1])
    assert ex.layer == "conv1d_a"  # the first convolution


def test_no_signals_is_a_message_about_signals(model):
    with pytest.raises(CnnvizError, match="signals"):
        explore(model)


@pytest.mark.parametrize("backend", ["matplotlib", "bqplot"])
def test_every_layer_draws_as_a_strip_a_line_or_bars(ex, backend):
    ex.backend = backend
    kinds = {}
    for name in ex.engine.layer_names:
        ex.layer = name
        ex.channel = None
        grid = ex.value
        ex.channel = 1
        one = ex.value
        kinds[name] = (type(grid), type(one))
        assert not isinstance(grid, ErrorValue) and not isinstance(one, ErrorValue)
        assert ex.errors.message == ""
    assert kinds["conv1d_a"] == (MapValue, SeriesValue)
    assert kinds["pool1d"] == (MapValue, SeriesValue)
    assert kinds["conv1d_b"] == (MapValue, SeriesValue)
    assert kinds["probs"] == (VectorValue, VectorValue)


@pytest.mark.parametrize("mode", ["channel", "layer", "standardize", "signed"])
def test_strip_rows_are_the_normalised_oracle_activations(model, ex, mode):
    ex.layer = "conv1d_b"
    ex.image_index = 2
    ex.normalization = mode
    oracle = layer_output(model, "conv1d_b", ex)  # (32, 16)
    np.testing.assert_allclose(ex.current_activation(), oracle, rtol=1e-5, atol=1e-6)
    view = ex.current_view()
    assert view.shape == (16, 32)
    expected = _normalised(oracle, mode)
    for row, channel in enumerate(ex.shown_channels()):
        np.testing.assert_allclose(view[row], expected[:, channel], atol=1e-4)
    assert "one row per channel, time along x" in ex.value.caption


def test_strip_rows_follow_the_channel_order_and_pages(model, signals):
    ex = explore(model, signals, per_page=5)
    ex.layer = "conv1d_b"
    ex.channel_order = "max"
    oracle = layer_output(model, "conv1d_b", ex)
    assert ex.page_count() == 4
    ex.page = 1
    # places 5 to 9 of the channels by their maximum (channels whose maxima tie to float32
    # rounding may swap: the engine and the oracle run the layer each in their own way)
    assert_order_agrees(ex.shown_channels(), oracle.max(axis=0), start=5)
    view = ex.current_view()
    assert view.shape == (5, 32)
    expected = _normalised(oracle, "channel")
    for row, channel in enumerate(ex.shown_channels()):
        np.testing.assert_allclose(view[row], expected[:, channel], atol=1e-4)


def test_one_channel_is_a_line_of_its_activation(model, ex):
    ex.layer = "conv1d_a"
    ex.image_index = 1
    ex.channel = 5
    oracle = layer_output(model, "conv1d_a", ex)
    value = ex.value
    assert isinstance(value, SeriesValue) and value.channel == 5
    assert "| channel 5 | a line over 64 time steps |" in value.caption
    np.testing.assert_allclose(value.values, oracle[:, 5], rtol=1e-5, atol=1e-6)
    fig = ex.save()
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), oracle[:, 5],
                               rtol=1e-5, atol=1e-6)
    picture = Image.open(io.BytesIO(ex.canvas.image.value))
    assert picture.format == "PNG" and picture.width > picture.height
    lo, hi = oracle[:, 5].min(), oracle[:, 5].max()
    assert value.scale_labels == (f"{lo:.3g}", f"{hi:.3g}")
    assert f"{hi:.3g}" in ex._colorbar.value


def test_one_channel_in_bqplot_is_a_lines_mark_updated_in_place(model, ex):
    ex.backend = "bqplot"
    ex.layer = "conv1d_b"
    ex.normalization = "layer"
    ex.channel = 3
    lines = ex.canvas.lines
    mark = lines.mark
    assert ex.canvas.children == (lines,)
    oracle = layer_output(model, "conv1d_b", ex)
    np.testing.assert_allclose(mark.y, oracle[:, 3], rtol=1e-5, atol=1e-6)
    # the layer's scale: every channel on the same axis
    assert lines.y_scale.min == pytest.approx(float(oracle.min()), rel=1e-5, abs=1e-6)
    assert lines.y_scale.max == pytest.approx(float(oracle.max()), rel=1e-5, abs=1e-6)
    ex.channel = 7
    assert lines.mark is mark
    np.testing.assert_allclose(mark.y, oracle[:, 7], rtol=1e-5, atol=1e-6)
    ex.channel = None
    assert ex.canvas.children == (ex.canvas.maps,)
    assert ex.canvas.maps.describe(2.5, 10.5).startswith("channel <b>2</b> &middot; step 10")


def test_moving_sliders_never_runs_the_model(ex):
    ex.layer = "conv1d_b"
    ex.value  # noqa: B018 - drawn once
    stats = ex.engine.stats
    evaluations = stats.layer_evaluations
    requests = stats.cache_hits + stats.cache_misses
    for channel in (0, 3, 15, None):
        ex.channel = channel
    for mode in ("layer", "standardize", "signed", "channel"):
        ex.normalization = mode
    ex.colormap = "magma"
    ex.channel_order = "mean"
    ex.backend = "bqplot"
    ex.channel = 2
    assert stats.layer_evaluations == evaluations
    assert stats.cache_hits + stats.cache_misses == requests


def test_thumbnails_are_line_plots_and_the_input_is_drawn_as_lines(ex, signals):
    urls = [part.split('"')[0] for part in ex.picker.strip.value.split('src="')[1:]]
    assert len(urls) == 3
    for url in urls:
        assert url.startswith("data:image/png;base64,")
        thumb = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
        assert thumb.shape[:2] == (48, 48)
        drawn = (thumb[..., :3] != 255).any(axis=2)
        assert drawn.any(axis=0).all()  # a line across the whole width
    assert ex.input_view.layout.display is None
    first = ex.input_view.value
    assert Image.open(io.BytesIO(first)).format == "PNG"
    ex.image_index = 2
    assert ex.input_view.value != first
    assert ex.picker.upload.layout.display == "none"  # no picture upload for signals


def test_compare_two_signals_side_by_side(model, ex):
    ex.layer = "conv1d_a"
    ex.compare_index = 1
    ex.compare = "image"
    view = ex.current_view()
    assert view.shape[0] == 8 and view.shape[1] > 2 * 64
    mine = _normalised(np.concatenate([layer_output(model, "conv1d_a", ex),
                                       ex.engine.activation("conv1d_a", ex.images[1])]),
                       "channel")
    np.testing.assert_allclose(view[:, :64], mine[:64].T, atol=1e-4)
    assert ex.comparison.difference is not None and ex.comparison.difference.view.shape == (8, 64)


def test_bad_input_is_a_message_and_the_panel_keeps_working(ex):
    with pytest.raises(CnnvizError):
        ex.add_image(np.zeros((64, 5), np.float32))  # five channels for a two-channel model
    assert "5" in ex.errors.message or "channel" in ex.errors.message
    assert len(ex.images) == 3
    with pytest.raises(SelectionOutOfRangeError):
        ex.channel = 99
    assert "no channel 99" in ex.errors.message
    ex.layer = "conv1d_b"
    ex.channel = 4
    assert isinstance(ex.value, SeriesValue)
    assert ex.errors.message == ""
    index = ex.add_image(np.ones((64, 2), np.float32), name="flat")
    assert ex.image_index == index and ex.image_names[-1] == "flat"
    assert isinstance(ex.value, SeriesValue)


def test_dataset_view_cuts_each_top_signal_to_the_steps_its_maximum_sees(model, signals):
    rng = np.random.default_rng(11)
    dataset = (signals[rng.integers(0, 3, 10)]
               + 0.5 * rng.normal(size=(10, 64, 2))).astype(np.float32)
    ex = explore(model, signals, layer="conv1d_b", channel=2)
    ex.dataset = dataset
    crops = ex.dataset_view.crops
    oracle = keras.Model(model.inputs, model.get_layer("conv1d_b").output)(dataset).numpy()
    peaks = oracle[..., 2].max(axis=1)
    assert len(crops) > 0
    assert_order_agrees([c.index for c in crops], peaks)  # the view scans in its own batches
    for crop in crops:
        # the step of the maximum (or one whose value ties with it to float32 rounding)
        channel = oracle[crop.index, :, 2]
        steps = np.flatnonzero(np.isclose(channel, channel.max(), rtol=1e-5, atol=1e-6))
        # conv1d_b (kernel 3) after a pooling by 2 after conv1d_a (kernel 5): input steps
        # 2t - 4 to 2t + 5
        windows = [(max(0, 2 * step - 4), min(64, 2 * step + 6)) for step in steps]
        assert crop.signal
        matching = [(top, bottom) for top, bottom in windows
                    if np.array_equal(crop.pixels, dataset[crop.index, top:bottom])]
        assert matching, (crop.index, windows)
        top, bottom = matching[0]
        assert crop.value == pytest.approx(float(peaks[crop.index]), rel=1e-5, abs=1e-6)
        r0, _, r1, _ = crop.marker
        assert 0 <= r0 < r1 <= bottom - top
    picture = Image.open(io.BytesIO(ex.dataset_view._images[0].value))
    assert picture.format == "PNG"
    assert "time steps its maximum sees" in ex.dataset_view._title.value


def test_explain_is_not_offered_for_a_signal_and_says_why(ex):
    from cnnviz_widgets.errors import LayerNotViewableError

    ex.channel = 1
    assert ex.explainer.button.layout.display == "none"
    with pytest.raises(LayerNotViewableError, match="no spatial maps"):
        ex.explain_channel(steps=2)
    assert "no spatial maps" in ex.errors.message
    ex.channel = 2
    assert isinstance(ex.value, SeriesValue) and ex.errors.message == ""


def test_the_static_picture_of_one_channel_is_its_line(ex):
    ex.channel = 2
    bundle = ex._repr_mimebundle_()
    picture = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))
    assert picture.format == "PNG"
    assert picture.size == Image.open(io.BytesIO(ex.canvas.image.value)).size
    assert ex.picker.buttons.description == "Signal"


def test_receptive_field_of_a_time_step_shades_the_steps_it_sees(ex, monkeypatch):
    drawn = record_signal_figures(monkeypatch)
    ex.layer = "conv1d_b"
    ex.channel = 3
    box = ex.receptive_field(10, 0)
    # conv1d_b (kernel 3) after a pooling by 2 after conv1d_a (kernel 5): steps 16 to 25
    assert box == (16, 0, 26, 1)
    signal, drawing = drawn[-1]
    assert drawing["window"] == (16, 26)
    np.testing.assert_array_equal(signal, ex.images[0])
    assert "conv1d_b step 10 sees input steps 16-25 (10 steps, shaded)" in (
        ex.field_view.caption.value)
    assert ex.field_view.layout.display is None and ex.field == (10, 0, box)
    assert Image.open(io.BytesIO(ex.field_view.box_image.value)).format == "PNG"
    with pytest.raises(SelectionOutOfRangeError):
        ex.receptive_field(40, 0)  # conv1d_b has 32 steps
    assert ex.errors.message
    ex.image_index = 1  # the field belonged to the other signal
    assert ex.field is None and ex.field_view.layout.display == "none"


def test_close_frees_the_strip_line_and_input_widgets(model, signals):
    import ipywidgets.widgets.widget as widget_module

    ex = explore(model, signals, backend="bqplot", channel=1)
    ex.backend = "matplotlib"
    lines = ex._canvases["bqplot"].lines
    ids = [ex.input_view.model_id, lines.model_id, lines.figure.model_id,
           lines.mark.model_id, ex.picker.model_id]
    assert all(i in widget_module._instances for i in ids)
    ex.close()
    assert not any(i in widget_module._instances for i in ids)


def test_a_click_on_a_step_of_the_bqplot_line_shows_its_receptive_field(ex):
    ex.backend = "bqplot"
    ex.layer = "pool1d"
    ex.channel = 0
    ex.canvas.lines.simulate_click(5)
    # pool1d step 5 reads conv1d_a steps 10-11, which read input steps 8 to 13
    assert ex.field == (5, 0, (8, 0, 14, 1))
    assert "pool1d step 5 sees input steps 8-13" in ex.field_view.caption.value
