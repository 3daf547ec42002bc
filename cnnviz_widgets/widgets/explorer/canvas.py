"""Where the explorer draws: one protocol, ``show(value)`` and ``close()``, three canvases.

:class:`ImageCanvas` shows encoded image bytes (the matplotlib colours of the render
layer, with the vector bars and a sequence's line drawn by matplotlib); :class:`BqCanvas`
shows the same values in bqplot (pan, zoom, hover read-out, click a tile);
:class:`BrowserCanvas` has the browser colour the maps (a new normalisation or colour map
sends a few numbers, not a picture). All take a
:data:`~cnnviz_widgets.render.view.CanvasValue` and never touch the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ...errors import CnnvizError, InvalidSettingError
from ...render.view import (
    CanvasValue,
    ErrorValue,
    MapValue,
    SeriesValue,
    VectorValue,
    picture_of,
)

__all__ = ["BqCanvas", "BrowserCanvas", "Canvases", "ImageCanvas", "SignalInputView",
           "browser_view_available", "make_canvas"]

#: Nearest-neighbour enlargement of the explorer's pictures in the browser.
PIXELATED_STYLE = "<style>img.cnnviz-view { image-rendering: pixelated; }</style>"


class ImageCanvas(w.VBox):
    """A static picture: PNG or JPEG bytes in an ``ipywidgets.Image``.

    Attributes
    ----------
    image : ipywidgets.Image
        Has the CSS class ``cnnviz-view``.
    value : CanvasValue or None
        What is shown.
    """

    def __init__(self) -> None:
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.image.add_class("cnnviz-view")
        # a picture sent smaller than it is shown is enlarged crisply by the browser
        self.style = w.HTML(PIXELATED_STYLE, layout=w.Layout(display="none"))
        self.value: CanvasValue | None = None
        self._vector_png: tuple[Any, bytes] | None = None
        super().__init__([self.image, self.style])

    def show(self, value: CanvasValue) -> None:
        """Draw ``value`` (:func:`~cnnviz_widgets.render.view.picture_of`); an error hides
        the picture (never a stale one)."""
        self.value = value
        if isinstance(value, ErrorValue):
            self.image.layout.display = "none"
            return
        width = ""
        if isinstance(value, VectorValue):
            data, fmt = self._vector_bytes(value), "png"
        else:
            data, fmt = picture_of(value)
            if isinstance(value, MapValue) and value.rendered.display_scale > 1:
                width = str(value.rendered.rgb.shape[1] * value.rendered.display_scale)
        with self.image.hold_sync():
            self.image.format = fmt
            self.image.value = data
            if self.image.width != width:
                self.image.width = width
            self.image.layout.display = None

    def _vector_bytes(self, value: VectorValue) -> bytes:
        # bars do not depend on channel, scale or colours: draw them once per vector
        key = (id(value.values), value.title)
        if self._vector_png is None or self._vector_png[0] != key:
            self._vector_png = (key, picture_of(value)[0])
        return self._vector_png[1]


class BqCanvas(w.VBox):
    """The bqplot canvas: maps in a :class:`~cnnviz_widgets.render.bq.BqImageView`,
    vectors as :class:`~cnnviz_widgets.render.bq.BqBarView` bars, one channel of a
    sequence as :class:`~cnnviz_widgets.render.bq.BqLineView` lines.

    Attributes
    ----------
    maps : BqImageView
        Register tile clicks with ``canvas.maps.on_element_click(callback)``.
    lines : BqLineView
    value : CanvasValue or None
    """

    def __init__(self) -> None:
        from ...render.bq import BqBarView, BqImageView, BqLineView

        self.maps = BqImageView()
        self.bars = BqBarView()
        self.lines = BqLineView()
        self.value: CanvasValue | None = None
        super().__init__([self.maps])

    def show(self, value: CanvasValue) -> None:
        """Draw ``value`` in place (marks and figures are reused)."""
        _show_in(self, value, self._draw)

    def _draw(self, value: CanvasValue) -> w.Widget:
        if isinstance(value, SeriesValue):
            self.lines.update(value.values, x_label=value.x_label,
                              title=f"channel {value.channel}", y_range=value.y_range)
            return self.lines
        if isinstance(value, MapValue):
            self.maps.update(value.rendered)
            return self.maps
        self.bars.update(value.values, value.labels)
        return self.bars


def _show_in(box: Any, value: CanvasValue, draw: Callable[[CanvasValue], w.Widget]) -> None:
    """Keep ``value`` on ``box``; hide the box for an error (never a stale view), else make
    the child that ``draw(value)`` drew its only child, in one message."""
    box.value = value
    if isinstance(value, ErrorValue):
        box.layout.display = "none"
        return
    shown = draw(value)
    with box.hold_sync():
        if box.children != (shown,):
            box.children = [shown]
        box.layout.display = None


def browser_view_available() -> bool:
    """Whether the ``"browser"`` view can be used here (the anywidget package is installed)."""
    from importlib.util import find_spec

    return find_spec("anywidget") is not None


class BrowserCanvas(w.VBox):
    """Maps coloured in the browser (:class:`~cnnviz_widgets.widgets.coded_image.CodedImage`);
    any other value (bars, a sequence's line, a heat strip) as :class:`ImageCanvas` draws it.

    Attributes
    ----------
    maps : CodedImage
        Has the CSS class ``cnnviz-view``; its ``<canvas>`` too.
    pictures : ImageCanvas
    value : CanvasValue or None

    Raises
    ------
    InvalidSettingError
        Without the anywidget package.
    """

    def __init__(self) -> None:
        if not browser_view_available():
            raise InvalidSettingError(
                "The 'browser' view needs the anywidget package: pip install anywidget "
                "(it is in the notebook extra), or choose the 'matplotlib' view.")
        from ..coded_image import CodedImage

        self.maps = CodedImage()
        self.maps.add_class("cnnviz-coded-view")
        self.pictures = ImageCanvas()
        self.value: CanvasValue | None = None
        super().__init__([self.maps])

    def show(self, value: CanvasValue) -> None:
        """Draw ``value``; an error hides the view (never a stale one)."""
        _show_in(self, value, self._draw)

    def _draw(self, value: CanvasValue) -> w.Widget:
        from ...render.codes import codable

        if (isinstance(value, MapValue) and not isinstance(value, SeriesValue)
                and codable(value.rendered)):
            self.maps.show(value.rendered)
            return self.maps
        self.pictures.show(value)
        return self.pictures


def make_canvas(backend: str) -> ImageCanvas | BqCanvas | BrowserCanvas:
    """A new canvas for ``backend`` (``"matplotlib"``, ``"bqplot"`` or ``"browser"``)."""
    if backend == "browser":
        return BrowserCanvas()
    return BqCanvas() if backend == "bqplot" else ImageCanvas()


class Canvases(dict):
    """One canvas per backend (a dict, so closing a panel reaches every canvas), built on
    first use; bqplot's clicks go to ``on_tile`` (a tile or a position) and ``on_step``
    (a step of a line).

    Parameters
    ----------
    on_tile, on_step : callable
        ``callback(view, where)`` as bqplot calls it.
    """

    def __init__(self, on_tile: Callable[[Any, dict], Any],
                 on_step: Callable[[Any, dict], Any]) -> None:
        super().__init__()
        self._on_tile, self._on_step = on_tile, on_step

    def __missing__(self, backend: str) -> ImageCanvas | BqCanvas | BrowserCanvas:
        canvas = self[backend] = make_canvas(backend)
        if isinstance(canvas, BqCanvas):
            canvas.maps.on_element_click(self._on_tile)
            canvas.lines.on_element_click(self._on_step)
        return canvas


class SignalInputView(w.Image):
    """A model of signals' current input drawn as lines (PNG), above the view; hidden for
    a model of images, or when the signal cannot be read (the view says why)."""

    def __init__(self, shown: bool) -> None:
        super().__init__(format="png", layout=w.Layout(
            width="560px", max_width="100%", display=None if shown else "none"))
        self.add_class("cnnviz-input-signal")
        self._key: Any = None

    def show(self, engine: Any, image: Any, name: str, key: Any) -> None:
        """Draw ``image`` (a signal (T, C) as ``engine`` reads it), once per ``key``."""
        if key == self._key:
            return
        from ...render.mpl import figure_to_png
        from ...render.signal import signal_figure

        try:
            fig = signal_figure(engine.pixels(image), title=f"input: {name}",
                                figsize=(7.0, 2.2))
            self.value = figure_to_png(fig)
            self.layout.display = None
        except CnnvizError:  # the view below says what is wrong
            self.layout.display = "none"
        self._key = key
