"""Heat strips of sequences, line plots of channels and signals, line thumbnails."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.render.maps import render_strip
from cnnviz_widgets.render.signal import series_figure, signal_figure, signal_thumbnail


def _expected(seq: np.ndarray, mode: str) -> np.ndarray:
    """The four normalisations of a (T, C) sequence, written out per channel (axis 0)."""
    a = seq.astype(np.float64)
    if mode == "channel":
        lo, hi = a.min(axis=0), a.max(axis=0)
        return (a - lo) / (hi - lo)
    if mode == "layer":
        return (a - a.min()) / (a.max() - a.min())
    if mode == "signed":
        return 0.5 + a / (2 * np.abs(a).max())
    z = (a - a.mean(axis=0)) / a.std(axis=0)
    return np.clip(z * 64 + 128, 0, 255) / 255


@pytest.fixture
def seq():
    return np.random.default_rng(1).normal(size=(40, 6)).astype(np.float32)


@pytest.mark.parametrize("mode", ["channel", "layer", "standardize", "signed"])
def test_strip_rows_are_the_channels_normalised(seq, mode):
    order = [4, 0, 2]
    view = render_strip(seq, order, mode)
    assert view.view.shape == (3, 40)
    expected = _expected(seq, mode)  # "layer" and "signed": over all six channels
    for row, channel in enumerate(order):
        np.testing.assert_allclose(view.view[row], expected[:, channel], atol=2e-5)
    assert view.layout.channels == tuple(order)


def test_strip_accepts_maps_of_height_one_and_locates_time(seq):
    view = render_strip(seq[None], None, "channel")
    assert view.view.shape == (6, 40)
    assert view.layout.locate(3.5, 17.2) == (3, 0, 17)
    assert view.value_at(3.5, 17.2)["value"] == pytest.approx(float(seq[17, 3]))


def test_strip_picture_is_taller_per_row_than_per_step(seq):
    view = render_strip(seq, [0, 1], "channel", width=400, height=64)
    assert view.rgb.shape == (2 * view.upscale_rows, 40 * view.upscale, 3)
    assert view.upscale == 10 and view.upscale_rows == 32
    assert view.aspect == pytest.approx(400 / 64)
    assert view.data[:4] == b"\x89PNG"


def test_long_strip_is_block_averaged_along_time():
    seq = np.arange(3000, dtype=np.float32).reshape(1500, 2)
    view = render_strip(seq, [1], "channel", max_width=500)
    assert view.view.shape == (1, 500)
    assert view.layout.scale == 3
    np.testing.assert_allclose(view.tiles[0, :2, 0], [seq[:3, 1].mean(), seq[3:6, 1].mean()])


def test_strip_refuses_maps_taller_than_one():
    from cnnviz_widgets.errors import InvalidSettingError

    with pytest.raises(InvalidSettingError, match="height 1"):
        render_strip(np.zeros((3, 4, 2)), None)


def test_series_figure_draws_the_values_and_the_strip(seq):
    strip = render_strip(seq, [2], "layer")
    fig = series_figure(seq[:, 2], strip=strip, scale_labels=("-1", "1"))
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), seq[:, 2])
    shown = fig.axes[1].images[0].get_array()
    np.testing.assert_allclose(np.asarray(shown)[0], strip.view[0])
    assert [t.get_text() for t in fig.axes[2].get_yticklabels()] == ["-1", "1"]


def test_signal_figure_one_line_per_channel_and_the_heat_under_it(seq):
    heat = np.linspace(0.0, 2.0, 40)
    fig = signal_figure(seq[:, :3], heat=heat)
    assert len(fig.axes[0].lines) == 3
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), seq[:, 1])
    np.testing.assert_allclose(np.asarray(fig.axes[1].images[0].get_array())[0], heat / 2.0,
                               atol=1e-6)


def test_signal_thumbnail_is_a_line_plot():
    ramp = np.linspace(0.0, 1.0, 100)
    picture = signal_thumbnail(ramp, side=32)
    assert picture.shape == (32, 32, 3) and picture.dtype == np.uint8
    drawn = (picture != 255).any(axis=2)
    assert drawn[31, 0] and drawn[0, 31]  # bottom left to top right
    assert not drawn[0, 0] and not drawn[31, 31]
    assert drawn.any(axis=0).all()  # a pixel in every column: the line is joined


def test_bq_line_view_updates_in_place(seq):
    from cnnviz_widgets.render.bq import BqLineView

    view = BqLineView(seq[:, 0])
    mark, figure = view.mark, view.figure
    view.update(seq[:, 3], y_range=(-2.0, 2.0), title="channel 3")
    assert view.mark is mark and view.figure is figure
    np.testing.assert_allclose(view.mark.y, seq[:, 3])
    np.testing.assert_array_equal(view.mark.x, np.arange(40))
    assert (view.y_scale.min, view.y_scale.max) == (-2.0, 2.0)
    view.update(seq[:, :2])
    assert np.asarray(view.mark.y).shape == (2, 40)
    assert view.y_scale.min is None


def test_strip_picture_parts_the_channels_with_background_rows(seq):
    view = render_strip(seq, [0, 1, 2], "channel", background=(255, 255, 255))
    ky = view.upscale_rows
    for row in range(2):  # between channels: one line of background
        assert (view.rgb[row * ky + ky - 1] == 255).all()
    assert not (view.rgb[3 * ky - 1] == 255).all()  # none under the last
    top = view.rgb[0, ::view.upscale]  # the first picture row is channel 0's colours
    from cnnviz_widgets.colour.colormaps import apply_colormap

    np.testing.assert_array_equal(top, apply_colormap(view.view[:1], "viridis")[0])


def test_a_saved_strip_names_its_channel_rows(seq):
    from cnnviz_widgets.render.mpl import feature_figure

    view = render_strip(seq, [5, 1, 3], "layer")
    fig = feature_figure(view, title="strip")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["5", "1", "3"]
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "channel"
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), view.view)


def test_a_signal_crop_is_lines_with_its_steps_outlined():
    from cnnviz_widgets.render.crops import MARKER_COLOUR, Crop, crop_picture

    ramp = np.linspace(0.0, 1.0, 20)[:, None]
    crop = Crop(ramp, (5, 0, 10, 1), "max 1", signal=True)
    picture = crop_picture(crop, side=40)
    assert picture.shape == (40, 40, 3)
    red = (picture == MARKER_COLOUR).all(axis=2)
    assert red[:, 10].all() and red[:, 19].all()  # steps 5 to 10 of 20: columns 10 to 19
    assert not red[:, 25].any()
    plain = crop_picture(crop, side=40, marked=False)
    assert not (plain == MARKER_COLOUR).all(axis=2).any()


def test_signal_figure_shades_a_window(seq):
    fig = signal_figure(seq[:, 0], window=(5, 12))
    (patch,) = fig.axes[0].patches
    left, right = patch.get_x(), patch.get_x() + patch.get_width()  # a Rectangle
    assert left == pytest.approx(4.5) and right == pytest.approx(11.5)


def test_bq_line_view_reports_a_click_on_a_step(seq):
    from cnnviz_widgets.render.bq import BqLineView

    view = BqLineView(seq[:, 0])
    clicks = []
    view.on_element_click(lambda v, where: clicks.append((v, where)))
    np.testing.assert_array_equal(view.points.x, np.arange(40))
    view.simulate_click(7)
    view.simulate_click(99)  # no such step: nothing
    assert clicks == [(view, {"step": 7})]
    view.update(seq[:, :2])  # several lines: no dots to click
    assert len(view.points.x) == 0
