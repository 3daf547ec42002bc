"""The one value a canvas draws: a map, a series, a vector or an error, with what it was
drawn with.

The colour bar, the caption, a saved figure and the static PNG fallback all derive from
the same value, so they can never disagree with the picture: a single channel scaled over
its layer shows the layer's range on its colour bar, and after a failed draw there is no
picture to reuse, only the error. :func:`figure_of`, :func:`picture_of` and
:func:`png_of` are the one dispatch from a value to a figure, to the bytes a canvas shows
and to a PNG.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..colour.colormaps import lut
from ..errors import CnnvizError
from .maps import RenderedView

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["NORMALIZATION_LABELS", "CanvasValue", "ErrorValue", "MapValue", "SeriesValue",
           "VectorValue", "colorbar_html", "figure_of", "nonfinite_note", "picture_of",
           "png_of"]

#: How the colour bar names the ends of a per-channel scale (each tile has its own numbers).
_PER_CHANNEL_ENDS = {
    "channel": ("channel min", "channel max"),
    "layer": ("layer min", "layer max"),
    "standardize": ("mean - 2 std", "mean + 1.98 std"),
    "signed": ("-max |a|", "+max |a|"),
}
NORMALIZATION_LABELS = {
    "channel": "per channel",
    "layer": "per layer",
    "standardize": "standardize",
    "signed": "signed",
}


@dataclass(frozen=True, eq=False)
class MapValue:
    """Feature maps on screen: the rendered view and the words around it.

    Attributes
    ----------
    rendered : RenderedView
        Numbers, layout, colours and bytes (its ``stats`` hold the scale).
    title : str
        What is shown (layer, image, channels, scale).
    note : str
        A warning to append to the caption (non-finite values), or "".
    """

    rendered: RenderedView
    title: str
    note: str = ""

    @property
    def normalization(self) -> str:
        """The normalisation the picture was drawn with."""
        return self.rendered.normalization

    @property
    def colormap(self) -> str:
        """The colour map the picture was drawn with."""
        return self.rendered.colormap

    @property
    def scale(self) -> tuple[float, float] | None:
        """Activation values at the two ends of the colour bar, when every shown channel
        shares them (one channel, or a scale over the layer); None for per-channel scales
        of several channels."""
        lo, hi = self.rendered.stats.value_range()
        if lo.size == 0:
            return None
        if lo.size == 1 or (np.allclose(lo, lo[0]) and np.allclose(hi, hi[0])):
            return float(lo[0]), float(hi[0])
        return None

    @property
    def scale_labels(self) -> tuple[str, str]:
        """The two ends of the colour bar in words: numbers when shared, else names."""
        scale = self.scale
        if scale is None:
            return _PER_CHANNEL_ENDS[self.normalization]
        return f"{scale[0]:.3g}", f"{scale[1]:.3g}"

    @property
    def caption(self) -> str:
        """The plain-text caption."""
        return self.title + self.note


@dataclass(frozen=True, eq=False)
class SeriesValue(MapValue):
    """One channel of a sequence (or of tokens) on screen: its values as a line over time.

    It is a :class:`MapValue` whose ``rendered`` is the channel's heat strip (one row,
    :func:`~cnnviz_widgets.render.maps.render_strip`, drawn with the layer's scale), so
    the colour bar, the caption and a static picture follow the same scale as the grid.

    Attributes
    ----------
    values : numpy.ndarray
        Float32 (T,): the channel's activation at every step.
    x_label : str
        What the steps are (``"time step"``, ``"token"``).
    """

    values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    x_label: str = "time step"

    @property
    def channel(self) -> int:
        """The channel shown."""
        return int(self.rendered.layout.channels[0])

    @property
    def y_range(self) -> tuple[float, float] | None:
        """The y axis of the line: the layer's range for the scales shared by the layer
        (``"layer"``, ``"signed"``: every channel on the same axis), else None (the
        channel's own values)."""
        if self.normalization not in ("layer", "signed") or self.scale is None:
            return None
        lo, hi = self.scale
        return (lo, hi) if hi > lo else None


@dataclass(frozen=True, eq=False)
class VectorValue:
    """A vector layer on screen (dense units, class scores) as bars.

    Attributes
    ----------
    values : numpy.ndarray
        Float32 (N,).
    title : str
    labels : list of str or None
        Class names when they match the vector's length.
    top : list of (int, str, float)
        The largest entries with their names (empty without labels).
    """

    values: np.ndarray
    title: str
    labels: Sequence[str] | None = None
    top: Sequence[tuple[int, str, float]] = field(default_factory=list)

    @property
    def caption(self) -> str:
        """The plain-text caption."""
        return self.title


@dataclass(frozen=True, eq=False)
class ErrorValue:
    """A draw that failed: the error to show instead of any picture.

    Attributes
    ----------
    error : CnnvizError
    title : str
    """

    error: CnnvizError
    title: str = ""

    @property
    def caption(self) -> str:
        """The plain-text caption (empty: the error box says what happened)."""
        return ""


CanvasValue = MapValue | SeriesValue | VectorValue | ErrorValue


def colorbar_html(value: CanvasValue) -> str:
    """HTML for the strip under a canvas: a colour bar for maps, the top classes for a
    vector, nothing for an error."""
    if isinstance(value, MapValue):
        colours = lut(value.colormap)[::32]
        stops = ",".join(f"rgb({r},{g},{b})" for r, g, b in colours)
        left, right = (html.escape(s) for s in value.scale_labels)
        return (
            '<div class="cnnviz-colorbar" style="display:flex;align-items:center;gap:6px;'
            f'font-size:11px"><span>{left}</span><span style="display:inline-block;'
            f'width:200px;height:10px;background:linear-gradient(to right,{stops})"></span>'
            f"<span>{right}</span></div>"
        )
    if isinstance(value, VectorValue) and value.top:
        items = "".join(f"<li>{html.escape(name)}: {score:.3f}</li>"
                        for _, name, score in value.top)
        return f'<ol class="cnnviz-top-classes" style="margin:2px 0">{items}</ol>'
    return ""


def nonfinite_note(activation: np.ndarray) -> str:
    """A caption suffix that says how many values are NaN or infinite (blank on screen);
    "" when every value is finite."""
    if activation.dtype.kind != "f" or np.isfinite(activation).all():
        return ""
    nan = int(np.isnan(activation).sum())
    inf = int(np.isinf(activation).sum())
    parts = [f"{n} {what}" for n, what in ((nan, "NaN"), (inf, "infinite")) if n]
    return (f" | warning: {' and '.join(parts)} value(s) of {activation.size}, shown blank "
            "and left out of the colour scale; check the layer's weights and inputs")


def figure_of(value: CanvasValue, *, titled: bool = True) -> Figure:
    """``value`` as a matplotlib figure: maps with their colour bar and channel numbers, one
    channel of a sequence as its line over its heat strip, a vector as bars.

    Parameters
    ----------
    value : CanvasValue
        What a canvas shows.
    titled : bool
        Put the value's title above the picture (a series on screen has its caption
        instead).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    CnnvizError
        The value's error, for an :class:`ErrorValue` (there is no picture to draw).
    """
    from .mpl import feature_figure, vector_figure

    if isinstance(value, ErrorValue):
        raise value.error
    title = value.title if titled else None
    if isinstance(value, VectorValue):
        return vector_figure(value.values, title=title, labels=value.labels)
    if isinstance(value, SeriesValue):
        from .signal import series_figure

        return series_figure(value.values, strip=value.rendered, title=title,
                             scale_labels=value.scale_labels, x_label=value.x_label,
                             y_range=value.y_range)
    return feature_figure(value.rendered, title=title, scale_labels=value.scale_labels)


def picture_of(value: CanvasValue) -> tuple[bytes, str]:
    """The encoded picture a static canvas shows for ``value`` and its format: maps as the
    render layer encoded them (PNG, or JPEG within the byte budget), a series' line
    (:func:`figure_of`, untitled) and a vector's bars (titled) as PNG.

    Raises
    ------
    CnnvizError
        The value's error, for an :class:`ErrorValue`.
    """
    if isinstance(value, ErrorValue):
        raise value.error
    if isinstance(value, MapValue) and not isinstance(value, SeriesValue):
        return value.rendered.encoded()
    from .mpl import figure_to_png

    return figure_to_png(figure_of(value, titled=not isinstance(value, SeriesValue))), "png"


def png_of(value: CanvasValue) -> bytes:
    """:func:`picture_of` as PNG bytes (maps encoded as JPEG, or smaller than they are
    shown, are encoded again as PNG at their shown size): the static picture of a
    notebook viewed without a kernel.

    Raises
    ------
    CnnvizError
        The value's error, for an :class:`ErrorValue`.
    """
    data, format = picture_of(value)
    scaled = isinstance(value, MapValue) and value.rendered.display_scale > 1
    if format == "png" and not scaled:
        return data
    from .encode import encode_png

    return encode_png(value.rendered.display_rgb() if scaled else value.rendered.rgb)
