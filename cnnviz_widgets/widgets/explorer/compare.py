"""Compare mode: the current view beside another image's or another model's, on one
scale, and their difference below them.

The numbers are :mod:`cnnviz_widgets.layout.compare`'s (join, difference, beside); this
view keeps the compared maps between redraws and shows the difference.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import numpy as np

from ...layout.compare import beside, difference, join
from ...render.maps import RenderedView, render_selection

__all__ = ["CompareView"]


class CompareView(w.VBox):
    """The difference of two compared views (left minus right) in a diverging colour map
    centred on 0, with its caption; hidden outside compare mode.

    Attributes
    ----------
    caption : ipywidgets.HTML
    image : ipywidgets.Image
        The difference; has the CSS class ``cnnviz-difference``.
    difference : RenderedView or None
        The difference as last drawn (None outside compare mode).
    """

    def __init__(self) -> None:
        self.caption = w.HTML()
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.image.add_class("cnnviz-difference")
        self.difference: RenderedView | None = None
        self._memo: tuple[Any, tuple[np.ndarray, ...]] | None = None
        super().__init__([self.caption, w.HBox([self.image])], layout=w.Layout(display="none"))
        self.add_class("cnnviz-compare")

    def compared_maps(self, key: Any, maps: np.ndarray,
                      other: Callable[[], np.ndarray]) -> tuple[np.ndarray, ...]:
        """(both views with a gap, both without it, the difference) of ``maps`` and
        ``other()``, kept while ``key`` (layer, images, compared model) stays the same: a
        redraw only renders."""
        if self._memo is None or self._memo[0] != key:
            theirs = other()
            self._memo = (key, (*join(maps, theirs), difference(maps, theirs)))
        return self._memo[1]

    def forget(self) -> None:
        """Drop the kept maps (after the model's weights changed)."""
        self._memo = None

    def render(self, maps: tuple[np.ndarray, ...], channel: int | None,
               channels: Sequence[int] | np.ndarray | None, normalization: str,
               colormap: str, *, strip: bool = False) -> RenderedView:
        """Render the joined views on the scale of both, and the difference to show with
        :meth:`show`: one channel with its own largest change, or the grid (of
        ``channels``) on one scale for every tile, the layer's largest change."""
        joined, both, change = maps
        rendered = render_selection(joined, channel, channels, normalization, colormap,
                                    stats_from=both, strip=strip)
        if channel is not None:  # one channel: white at 0, its own largest change
            self.difference = render_selection(change[..., channel:channel + 1], 0, None,
                                               "signed", "RdBu_r", strip=strip)
        else:
            self.difference = render_selection(change, None, channels, "signed", "RdBu_r",
                                               strip=strip)
        return rendered

    def view(self, joined: np.ndarray) -> np.ndarray:
        """The 2-D array of compare mode: ``joined`` (the two views), then the difference
        (:func:`~cnnviz_widgets.layout.compare.beside`)."""
        return beside(joined, self.difference.view)

    def clear(self) -> None:
        """Outside compare mode: no difference (hidden at the next :meth:`show`)."""
        self.difference = None

    def show(self, what: str) -> None:
        """Show the difference rendered last, of ``what`` (``"the two images"``), or hide
        the view when there is none."""
        view = self.difference
        if view is None:
            self.layout.display = "none"
            return
        self.image.format = view.format
        self.image.value = view.data
        self.caption.value = html.escape(
            f"Difference of {what}, left minus right: red where the left is higher, blue "
            f"where the right is, white where they agree (0).")
        self.layout.display = None
