"""Interactive bqplot views, updated in place.

:class:`BqImageView` is a widget that shows a
:class:`~cnnviz_widgets.render.image.RenderedView` as a bqplot ``Image`` mark (its ``image``
is an ``ipywidgets.Image``). An update replaces the image bytes and, only when the shape
changed, the extents; the figure, marks and scales are created once. Clicks on a tile reach
the callbacks registered with :meth:`BqImageView.on_element_click`, the way bqplot's own
marks register theirs (a ``CallbackDispatcher``).

What bqplot 0.13 offers, and how it is used here:

* **Click.** The ``Image`` mark sends ``{"event": "element_click", "data": {"click_x",
  "click_y"}}`` (scale coordinates) to ``on_element_click`` callbacks.
* **Hover.** Neither the ``Image`` mark nor the ``Figure`` reports mouse moves (bqplot
  issue #472 is still open). A transparent ``GridHeatMap`` laid over the image does:
  entering a cell sends ``{"event": "hover", "data": {"rowNum", "columnNum", ...}}`` to
  ``on_hover``, and a click sends the same cell to ``on_element_click``. The cells follow
  the mosaic (never straddling two tiles) and are one view pixel each for small views; at
  most ``max_hover_cells`` cells keep the SVG light, so on a large view the read-out
  shows the pixel at the centre of the cell under the mouse.
* **Pan and zoom.** ``bqplot.interacts.PanZoom`` draws an event rectangle *above* the
  marks, so while it is the figure's interaction no click or hover reaches them. The
  "Pan / zoom" toggle switches between the two; "Reset" restores the full view.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import bqplot
import ipywidgets as widgets
import numpy as np
from bqplot.interacts import PanZoom
from ipywidgets import CallbackDispatcher

from ..errors import InvalidSettingError
from ..layout.mosaic import MosaicLayout
from .maps import RenderedView

__all__ = ["BqBarView", "BqImageView", "BqLineView", "bar_view"]

ClickCallback = Callable[["BqImageView", dict], Any]

_CSS_CLASS = "cnnviz-bq-view"


def _axis_edges(n_tiles: int, tile: int, pad: int, budget: int) -> np.ndarray:
    """Cell edges along one axis: each tile split into <= budget-ish parts, gaps own cells."""
    gaps = (n_tiles - 1) if pad > 0 else 0
    parts = max(1, min(tile, (budget - gaps) // max(n_tiles, 1)))
    edges: list[float] = []
    for i in range(n_tiles):
        start = i * (tile + pad)
        inner = np.unique(np.round(np.linspace(start, start + tile, parts + 1)))
        edges.extend(inner.tolist())
        if pad > 0 and i < n_tiles - 1:
            edges.append(float(start + tile + pad))
    out = np.unique(np.asarray(edges, dtype=np.float64))
    if out.size < 3:  # bqplot squeezes a 1-cell axis away; keep at least two cells
        out = np.array([out[0], 0.5 * (out[0] + out[-1]), out[-1]])
    return out


def hover_grid(layout: MosaicLayout, max_cells: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Row and column cell edges of the hover overlay for a mosaic layout.

    Parameters
    ----------
    layout : MosaicLayout
    max_cells : int
        Rough cap on rows x columns of cells.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Increasing edges in view pixels, from 0 to the layout's height / width; a cell
        never straddles a tile border.
    """
    per_axis = max(1, math.isqrt(max(1, max_cells)))
    rows = _axis_edges(layout.rows, layout.tile_height, layout.pad, per_axis)
    cols = _axis_edges(layout.columns, layout.tile_width, layout.pad, per_axis)
    return rows, cols


class BqImageView(widgets.VBox):
    """A bqplot view of rendered feature maps with click, hover read-out and pan/zoom.

    The view is a widget (toolbar, figure, read-out); display it or put it in a box.

    Parameters
    ----------
    view : RenderedView, optional
        Shown at once if given.
    hover : bool
        Lay the transparent hover grid over the image (see the module notes).
    max_hover_cells : int
        Cap on the number of hover cells.
    height : str
        CSS height of the figure.

    Attributes
    ----------
    figure : bqplot.Figure
    mark : bqplot.Image
    image : ipywidgets.Image
        The mark's image now. :meth:`update` fills the other of two fixed image
        widgets and hands it to the mark, which is what makes the front end redraw.
    overlay : bqplot.GridHeatMap or None
    readout : ipywidgets.HTML
        Channel, position and value under the mouse (or of the last click).
    pan_zoom : bqplot.interacts.PanZoom
    pan_toggle : ipywidgets.ToggleButton
    """

    def __init__(
        self,
        view: RenderedView | None = None,
        *,
        hover: bool = True,
        max_hover_cells: int = 4096,
        height: str = "480px",
    ) -> None:
        self._click_handlers = CallbackDispatcher()
        self._height_px = int(str(height).removesuffix("px")) if str(height).endswith(
            "px") else 480
        self._max_hover_cells = int(max_hover_cells)
        self._view: RenderedView | None = None
        self._shape: tuple[int, int] = (1, 1)
        self._aspect = 1.0
        self._geometry: tuple | None = None
        self._row_edges = np.array([0.0, 0.5, 1.0])
        self._col_edges = np.array([0.0, 0.5, 1.0])

        self.x_scale = bqplot.LinearScale(min=0.0, max=1.0, allow_padding=False)
        # reversed: y grows downwards like image rows, so scale values are (row, col)
        self.y_scale = bqplot.LinearScale(min=0.0, max=1.0, reverse=True, allow_padding=False)
        # two image widgets used in turn: bqplot's front end redraws an Image mark when
        # its ``image`` trait changes, not when the bytes inside that widget change
        self._buffers = (widgets.Image(value=b"", format="png"),
                         widgets.Image(value=b"", format="png"))
        self.image = self._buffers[0]
        self.mark = bqplot.Image(image=self.image, x=[0.0, 1.0], y=[1.0, 0.0],
                                 scales={"x": self.x_scale, "y": self.y_scale})
        self.mark.on_element_click(self._handle_image_click)
        marks: list[Any] = [self.mark]
        self.overlay: bqplot.GridHeatMap | None = None
        if hover:
            self.overlay = bqplot.GridHeatMap(
                color=np.zeros((2, 2)), row=self._row_edges, column=self._col_edges,
                scales={"row": self.y_scale, "column": self.x_scale,
                        "color": bqplot.ColorScale(colors=["transparent", "transparent"])},
                stroke=None, null_color="transparent", interactions={},
            )
            self.overlay.on_hover(self._handle_cell_hover)
            self.overlay.on_element_click(self._handle_cell_click)
            marks.append(self.overlay)
        self.figure = bqplot.Figure(
            marks=marks, axes=[], padding_x=0.0, padding_y=0.0,
            fig_margin={"top": 5, "bottom": 5, "left": 5, "right": 5},
            layout=widgets.Layout(height=height, width="100%"),
        )
        self.pan_zoom = PanZoom(scales={"x": [self.x_scale], "y": [self.y_scale]})
        self.pan_toggle = widgets.ToggleButton(
            value=False, description="Pan / zoom", icon="arrows",
            tooltip="Drag to pan, scroll to zoom (click and hover are off meanwhile)")
        self.pan_toggle.observe(self._toggle_pan, names="value")
        self.reset_button = widgets.Button(description="Reset view", icon="refresh")
        self.reset_button.on_click(lambda _button: self.reset_zoom())
        self.readout = widgets.HTML(value="&nbsp;")
        self.readout.add_class("cnnviz-bq-readout")
        super().__init__(
            [widgets.HBox([self.pan_toggle, self.reset_button]), self.figure, self.readout])
        self.add_class(_CSS_CLASS)
        if view is not None:
            self.update(view)

    def on_element_click(self, callback: ClickCallback, remove: bool = False) -> None:
        """Register (or with ``remove=True`` unregister) a callback for clicks on a tile.

        The callback receives this view and ``{"channel", "row", "col"}``: the channel
        under the mouse and the position in that channel's original (not downsampled)
        map. Clicks in the gaps call nothing.
        """
        self._click_handlers.register_callback(callback, remove=remove)

    # -- updates -----------------------------------------------------------------------
    @property
    def view(self) -> RenderedView | None:
        """The view shown now."""
        return self._view

    @property
    def image_bytes(self) -> bytes:
        """The encoded image the mark shows now (``image.value``)."""
        return bytes(self.image.value)

    def simulate_click(self, y: float, x: float) -> None:
        """Act as if the user clicked view position (y, x) (for tests and scripts).

        The message is the one bqplot's ``Image`` mark sends: ``{"event":
        "element_click", "data": {"click_x": x, "click_y": y}}``.
        """
        self.mark._handle_custom_msgs(
            self.mark, {"event": "element_click", "data": {"click_x": x, "click_y": y}})

    def update(self, view: RenderedView) -> None:
        """Show another rendered view, in place.

        Only the image bytes change (swapped between two fixed image widgets), plus the
        extents and the hover grid when the shape or the tiling changed. The figure,
        marks and scales stay the same objects.
        """
        self._view = view
        spare = self._buffers[1] if self.image is self._buffers[0] else self._buffers[0]
        with spare.hold_sync():
            if spare.format != view.format:
                spare.format = view.format
            spare.value = view.data
        self.mark.image = spare
        self.image = spare
        shape = view.shape
        if (shape, view.aspect) != (self._shape, self._aspect):
            self._shape, self._aspect = shape, view.aspect
            h, w = shape
            with self.mark.hold_sync():
                self.mark.x = [0.0, float(w)]
                self.mark.y = [float(h), 0.0]
            self.reset_zoom()
            ratio = view.aspect  # of the picture: a heat strip's rows are drawn taller
            with self.figure.hold_sync():
                self.figure.max_aspect_ratio = max(ratio, self.figure.min_aspect_ratio)
                self.figure.min_aspect_ratio = ratio
                self.figure.max_aspect_ratio = ratio
                # a fixed width too: inside a flex box the figure would otherwise shrink
                # to its content and stretch the tiles
                self.figure.layout.width = f"{round(self._height_px * min(ratio, 3.0)) + 10}px"
        lay = view.layout
        geometry = (lay.rows, lay.columns, lay.tile_height, lay.tile_width, lay.pad)
        if self.overlay is not None and geometry != self._geometry:
            self._geometry = geometry
            rows, cols = hover_grid(lay, self._max_hover_cells)
            self._row_edges, self._col_edges = rows, cols
            with self.overlay.hold_sync():
                # colour first: the row/column validators check against its shape
                self.overlay.color = np.zeros((rows.size - 1, cols.size - 1))
                self.overlay.row = rows
                self.overlay.column = cols

    def reset_zoom(self) -> None:
        """Show the whole image again."""
        h, w = self._shape
        with self.x_scale.hold_sync():
            self.x_scale.min, self.x_scale.max = 0.0, float(w)
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = 0.0, float(h)

    def _toggle_pan(self, change: dict) -> None:
        self.figure.interaction = self.pan_zoom if change["new"] else None

    # -- events --------------------------------------------------------------------------
    def describe(self, y: float, x: float) -> str:
        """HTML read-out for view position (y, x): channel, map position and value."""
        if self._view is None:
            return "&nbsp;"
        info = self._view.value_at(y, x)
        if info is None:
            return "&nbsp;"
        if self._view.layout.source_height == 1:  # a heat strip: x is time (or tokens)
            return (f"channel <b>{info['channel']}</b> &middot; step {info['col']} "
                    f"&middot; value <b>{info['value']:.4g}</b> "
                    f"(normalised {info['normalized']:.3f})")
        return (f"channel <b>{info['channel']}</b> &middot; row {info['row']}, "
                f"col {info['col']} &middot; value <b>{info['value']:.4g}</b> "
                f"(normalised {info['normalized']:.3f})")

    def _select(self, y: float, x: float) -> None:
        if self._view is None:
            return
        self.readout.value = self.describe(y, x)
        hit = self._view.layout.locate(y, x)
        if hit is None:
            return
        channel, row, col = hit
        self._click_handlers(self, {"channel": int(channel), "row": int(row), "col": int(col)})

    def _cell_centre(self, data: dict) -> tuple[float, float] | None:
        try:
            r, c = int(data["rowNum"]), int(data["columnNum"])
        except (KeyError, TypeError, ValueError):
            return None
        if not (0 <= r < self._row_edges.size - 1 and 0 <= c < self._col_edges.size - 1):
            return None
        y = 0.5 * (self._row_edges[r] + self._row_edges[r + 1])
        x = 0.5 * (self._col_edges[c] + self._col_edges[c + 1])
        return y, x

    def _handle_image_click(self, _mark: Any, content: dict) -> None:
        data = content.get("data") or {}
        try:
            x, y = float(data["click_x"]), float(data["click_y"])
        except (KeyError, TypeError, ValueError):
            return
        self._select(y, x)

    def _handle_cell_click(self, _mark: Any, content: dict) -> None:
        centre = self._cell_centre(content.get("data") or {})
        if centre is not None:
            self._select(*centre)

    def _handle_cell_hover(self, _mark: Any, content: dict) -> None:
        centre = self._cell_centre(content.get("data") or {})
        if centre is not None:
            self.readout.value = self.describe(*centre)


class BqBarView(widgets.VBox):
    """Bars of a vector activation (dense units, class scores), updated in place.

    The view is a widget holding its figure; display it or put it in a box.

    Without labels every entry is drawn, x being the unit index; with labels (class
    names) the ``top_k`` largest entries are drawn, largest first, named on the x axis.

    Parameters
    ----------
    values : array_like, optional
        Shown at once if given.
    labels : sequence of str, optional
    top_k : int
    title : str, optional
    height : str

    Attributes
    ----------
    figure : bqplot.Figure
    mark : bqplot.Bars
    """

    def __init__(
        self,
        values: np.ndarray | Sequence[float] | None = None,
        labels: Sequence[str] | None = None,
        *,
        top_k: int = 10,
        title: str | None = None,
        height: str = "360px",
    ) -> None:
        self.top_k = int(top_k)
        self.x_scale = bqplot.OrdinalScale()
        self.y_scale = bqplot.LinearScale()
        self.mark = bqplot.Bars(x=["0"], y=[0.0], scales={"x": self.x_scale, "y": self.y_scale},
                                tooltip=bqplot.Tooltip(fields=["x", "y"], formats=["", ".4g"]),
                                padding=0.1)
        self.x_axis = bqplot.Axis(scale=self.x_scale, label="unit")
        self.y_axis = bqplot.Axis(scale=self.y_scale, side="left",
                                  label="activation", tick_format=".3g")
        self.figure = bqplot.Figure(marks=[self.mark], axes=[self.x_axis, self.y_axis],
                                    title=title or "",
                                    fig_margin={"top": 40, "bottom": 60, "left": 60,
                                                "right": 10},
                                    layout=widgets.Layout(height=height, width="100%"))
        self.figure.add_class(_CSS_CLASS)
        super().__init__([self.figure])
        if values is not None:
            self.update(values, labels)

    def update(self, values: np.ndarray | Sequence[float],
               labels: Sequence[str] | None = None) -> None:
        """Replace the bars' data in place (the mark and figure stay the same objects)."""
        v = np.asarray(values, dtype=np.float64).ravel()
        v = np.where(np.isfinite(v), v, 0.0)
        if labels is not None and len(labels) != v.size:
            raise InvalidSettingError(f"Got {len(labels)} labels for {v.size} values.")
        if labels is not None:
            top = np.argsort(-v, kind="stable")[:max(1, self.top_k)]
            names = [str(labels[i]) for i in top]
            # ordinal x values must be unique: disambiguate repeated names
            seen: dict[str, int] = {}
            xs = []
            for name, i in zip(names, top, strict=True):
                xs.append(name if name not in seen else f"{name} ({i})")
                seen[name] = 1
            ys = v[top]
            tick_values = xs
            label = "class"
        else:
            xs = [str(i) for i in range(v.size)]
            ys = v
            step = max(1, math.ceil(v.size / 16))
            tick_values = xs[::step]
            label = "unit"
        with self.mark.hold_sync():
            self.mark.x = xs
            self.mark.y = ys
        with self.x_axis.hold_sync():
            self.x_axis.tick_values = tick_values
            self.x_axis.label = label


def bar_view(values: np.ndarray | Sequence[float], labels: Sequence[str] | None = None,
             *, top_k: int = 10, title: str | None = None) -> BqBarView:
    """Create a :class:`BqBarView` showing ``values``; call ``.update`` to change them."""
    return BqBarView(values, labels, top_k=top_k, title=title)



class BqLineView(widgets.VBox):
    """Values over time as bqplot lines (one channel of a sequence, or a signal's
    channels), updated in place.

    Parameters
    ----------
    values : array_like, optional
        Shown at once if given (see :meth:`update`).
    height, width : str
        CSS size of the figure (a fixed width: inside a flex box it would shrink).

    Attributes
    ----------
    figure : bqplot.Figure
    mark : bqplot.Lines
        Its ``x`` is the step index, its ``y`` the values (one row per line).
    points : bqplot.Scatter
        One dot per step of a single line: clicking one calls the callbacks registered
        with :meth:`on_element_click` (empty for several lines).
    """

    def __init__(self, values: np.ndarray | Sequence[float] | None = None, *,
                 height: str = "300px", width: str = "640px") -> None:
        self.x_scale = bqplot.LinearScale()
        self.y_scale = bqplot.LinearScale()
        self._click_handlers = CallbackDispatcher()
        self.mark = bqplot.Lines(x=[0.0, 1.0], y=[0.0, 0.0],
                                 scales={"x": self.x_scale, "y": self.y_scale},
                                 stroke_width=1.5)
        self.points = bqplot.Scatter(x=[], y=[], scales={"x": self.x_scale, "y": self.y_scale},
                                     default_size=14, colors=["#1f77b4"],
                                     default_opacities=[0.35],
                                     tooltip=bqplot.Tooltip(fields=["x", "y"],
                                                            formats=["", ".4g"],
                                                            labels=["step", "value"]))
        self.points.on_element_click(self._handle_point_click)
        self.x_axis = bqplot.Axis(scale=self.x_scale, label="time step")
        self.y_axis = bqplot.Axis(scale=self.y_scale, side="left", label="activation",
                                  tick_format=".3g", label_offset="48px")
        self.figure = bqplot.Figure(marks=[self.mark, self.points],
                                    axes=[self.x_axis, self.y_axis],
                                    fig_margin={"top": 30, "bottom": 50, "left": 70,
                                                "right": 10},
                                    layout=widgets.Layout(height=height, width=width,
                                                          max_width="100%"))
        self.figure.add_class(_CSS_CLASS)
        super().__init__([self.figure])
        if values is not None:
            self.update(values)

    def update(self, values: np.ndarray | Sequence[float], *, x_label: str = "time step",
               y_label: str = "activation", title: str = "",
               y_range: tuple[float, float] | None = None) -> None:
        """Replace the lines' data in place (the mark and figure stay the same objects).

        Parameters
        ----------
        values : array_like
            (T,) for one line, or (T, C) for C lines.
        x_label, y_label, title : str
        y_range : (float, float), optional
            Fix the y axis to this range (e.g. a scale shared by the layer); default the
            values' own.
        """
        v = np.asarray(values, dtype=np.float64)
        y = v.T if v.ndim == 2 else v.ravel()
        y = np.where(np.isfinite(y), y, np.nan)
        steps = np.arange(y.shape[-1], dtype=np.float64)
        with self.mark.hold_sync():
            self.mark.x = steps
            self.mark.y = y
        with self.points.hold_sync():  # dots to click on, for one line
            one = y.ndim == 1
            self.points.x = steps if one else np.zeros(0)
            self.points.y = np.nan_to_num(y) if one else np.zeros(0)
        with self.y_scale.hold_sync():
            lo, hi = (None, None) if y_range is None else (float(y_range[0]),
                                                           float(y_range[1]))
            if lo is not None and hi is not None and hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            self.y_scale.min, self.y_scale.max = lo, hi
        self.x_axis.label = x_label
        self.y_axis.label = y_label
        self.figure.title = title

    def on_element_click(self, callback: Callable[[BqLineView, dict], Any],
                         remove: bool = False) -> None:
        """Register (or with ``remove=True`` unregister) a callback for clicks on a step.

        The callback receives this view and ``{"step": i}``.
        """
        self._click_handlers.register_callback(callback, remove=remove)

    def simulate_click(self, step: int) -> None:
        """Act as if the user clicked the dot of ``step`` (for tests and scripts): the
        message bqplot's ``Scatter`` sends."""
        self.points._handle_custom_msgs(self.points, {
            "event": "element_click",
            "data": {"index": int(step), "x": float(step), "y": 0.0}})

    def _handle_point_click(self, _mark: Any, content: dict) -> None:
        data = content.get("data") or {}
        index = data.get("index", content.get("index"))
        try:
            step = int(index)
        except (TypeError, ValueError):
            return
        if 0 <= step < len(self.points.x):
            self._click_handlers(self, {"step": step})
