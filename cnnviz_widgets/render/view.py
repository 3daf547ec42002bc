"""The one value a canvas draws: a map, a series, a vector or an error, with what it was
drawn with.

The colour bar, the caption, a saved figure and the static PNG fallback all derive from
the same value, so they can never disagree with the picture: a single channel scaled over
its layer shows the layer's range on its colour bar, and after a failed draw there is no
picture to reuse, only the error.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..colour.colormaps import lut
from ..errors import CnnvizError
from .maps import RenderedView

__all__ = ["CanvasValue", "ErrorValue", "MapValue", "SeriesValue", "VectorValue",
           "colorbar_html"]

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
