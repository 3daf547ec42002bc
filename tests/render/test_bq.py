"""bqplot view: in-place updates, clicks and hover as bqplot sends them."""

from __future__ import annotations

import numpy as np

from cnnviz_widgets.render.bq import BqImageView, bar_view, hover_grid
from cnnviz_widgets.render.maps import render_channel, render_grid


def layer():
    return np.random.default_rng(0).random((6, 6, 8), dtype=np.float32)


def send(mark, content):
    """Deliver a front-end custom message the way ipywidgets does."""
    mark._handle_custom_msgs(mark, content)


def test_update_is_in_place():
    view = BqImageView(render_grid(layer(), [0, 1, 2, 3], "channel"))
    figure, mark, image, overlay = view.figure, view.mark, view.image, view.overlay
    first = image.value
    assert list(mark.x) == [0, 13] and list(mark.y) == [13, 0]  # 2x2 tiles of 6, pad 1
    new = render_grid(layer(), [4, 5, 6, 7], "layer")
    view.update(new)
    assert view.figure is figure and view.mark is mark and view.overlay is overlay
    # the front end redraws on a change of the mark's image widget: it must change,
    # between two fixed widgets (no new widget per update)
    assert mark.image is view.image and view.image is not image
    assert view.image.value == new.data != first
    seen = {id(view.image), id(image)}
    for channels in ([0, 1], [2, 3], [1, 2]):
        view.update(render_grid(layer(), channels, "channel"))
        assert mark.image is view.image
        seen.add(id(view.image))
    assert len(seen) == 2
    assert list(mark.x) == [0, 13]
    view.update(render_channel(layer(), 2, "channel"))
    assert view.mark is mark and list(mark.x) == [0, 6] and list(mark.y) == [6, 0]
    assert view.x_scale.max == 6 and view.y_scale.max == 6
    assert view.figure.min_aspect_ratio == view.figure.max_aspect_ratio == 1.0
    assert "cnnviz-bq-view" in view._dom_classes  # the view is itself the widget


def test_image_click_maps_to_channel_and_position():
    got, second = [], []
    view = BqImageView(render_grid(layer(), [7, 3, 5], "channel"))
    view.on_element_click(lambda v, where: got.append((where["channel"], where["row"],
                                                        where["col"])))
    view.on_element_click(lambda v, where: second.append(v))
    # bqplot's Image mark sends the click in scale coordinates
    send(view.mark, {"event": "element_click", "data": {"click_x": 9.2, "click_y": 2.7}})
    assert got == [(3, 2, 2)] and second == [view]
    assert "channel <b>3</b>" in view.readout.value
    send(view.mark, {"event": "element_click", "data": {"click_x": 6.5, "click_y": 1.0}})
    assert got == [(3, 2, 2)]  # the gap column: no callback
    send(view.mark, {"event": "element_click", "data": {"click_x": 1.0, "click_y": 8.0}})
    assert got[-1] == (5, 1, 1)


def test_click_callbacks_register_and_unregister_like_bqplot_marks():
    got = []
    view = BqImageView(render_grid(layer(), [2, 4], "channel", columns=2))

    def callback(v, where):
        got.append(where["channel"])

    view.on_element_click(callback)
    view.simulate_click(1.5, 8.5)
    view.on_element_click(callback, remove=True)
    view.simulate_click(1.5, 8.5)
    assert got == [4]


def test_hover_cell_updates_readout():
    x = layer()
    view = BqImageView(render_grid(x, [0, 1], "layer", columns=2))
    rows, cols = hover_grid(view.view.layout, 4096)
    assert list(rows) == list(range(7)) and cols[-1] == 13 and 6 in cols and 7 in cols
    r, c = 3, int(np.searchsorted(cols, 9))  # view pixel (3, 9): channel 1, col 2
    send(view.overlay, {"event": "hover", "data": {"rowNum": r, "columnNum": c,
                                                    "row": 3.0, "column": 9.0,
                                                    "color": 0.0, "cellNum": 0}})
    assert "channel <b>1</b>" in view.readout.value
    assert "row 3, col 2" in view.readout.value
    assert f"{x[3, 2, 1]:.4g}" in view.readout.value


def test_overlay_click_selects():
    got = []
    view = BqImageView(render_grid(layer(), [4, 6], "channel", columns=2))
    view.on_element_click(lambda v, where: got.append(where["channel"]))
    c = int(np.searchsorted(view._col_edges, 8))
    send(view.overlay, {"event": "element_click", "data": {"rowNum": 0, "columnNum": c}})
    assert got == [6]


def test_hover_grid_is_capped_and_follows_tiles():
    view = render_grid(np.zeros((224, 224, 64), np.float32), None, "channel")
    rows, cols = hover_grid(view.layout, 4096)
    assert (rows.size - 1) * (cols.size - 1) <= 4096
    step = view.layout.tile_height + view.layout.pad
    for k in range(1, view.layout.rows):  # every tile border is an edge
        assert k * step - 1 in rows and k * step in rows


def test_pan_zoom_toggle():
    view = BqImageView(render_channel(layer(), 0, "channel"))
    assert view.figure.interaction is None
    view.pan_toggle.value = True
    assert view.figure.interaction is view.pan_zoom
    view.x_scale.min = 2.0
    view.reset_zoom()
    assert view.x_scale.min == 0.0
    view.pan_toggle.value = False
    assert view.figure.interaction is None


def test_bar_view_updates_in_place():
    bars = bar_view(np.array([1.0, 3.0, 2.0]))
    mark, fig = bars.mark, bars.figure
    assert list(bars.mark.x) == ["0", "1", "2"]
    bars.update(np.array([0.1, 0.9, 0.5, 0.2]), labels=["a", "b", "c", "d"])
    assert bars.mark is mark and bars.figure is fig
    assert list(mark.x)[:3] == ["b", "c", "d"] and list(mark.y)[:3] == [0.9, 0.5, 0.2]


def test_simulate_click_and_image_bytes():
    got = []
    view = BqImageView(render_grid(layer(), [2, 4], "channel", columns=2))
    view.on_element_click(lambda v, where: got.append(where["channel"]))
    assert view.image_bytes == view.image.value
    view.simulate_click(1.5, 8.5)
    assert got == [4]
