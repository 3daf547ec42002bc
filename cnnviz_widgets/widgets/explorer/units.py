"""The layer table of the dataset view: every channel's preferred class and selectivity.

:class:`LayerTable` lists the channels of a layer scanned with labels, one row each (its
number, its label such as "Sneaker, selectivity 0.71"), sorted by channel, by selectivity
or by class; a click on a row opens that channel. Without labels it says how to get them.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import numpy as np

from ...engine.scan.summary import ChannelStats
from ..panel import close_widgets

__all__ = ["LayerTable", "table_order"]

#: Rows on screen at a time (the rest are counted).
MAX_ROWS = 64
SORTS = ("selectivity", "channel", "class")


def table_order(stats: ChannelStats, by: str) -> np.ndarray:
    """The channels in the order of the table: most selective first, by number, or grouped
    by preferred class (most selective first within a class)."""
    channels = np.arange(stats.channels)
    if by == "channel" or stats.class_means is None:
        return channels
    selectivity = stats.class_selectivity
    if by == "selectivity":
        return np.lexsort((channels, -selectivity))
    means = np.where(np.isnan(stats.class_means), -np.inf, stats.class_means)
    return np.lexsort((channels, -selectivity, means.argmax(axis=1)))


class LayerTable(w.VBox):
    """Every channel of a layer with its label; a row's button opens the channel.

    Parameters
    ----------
    on_select : callable
        Called with a channel number when a row is clicked.

    Attributes
    ----------
    order : numpy.ndarray
        The channels of the rows on screen, top first.
    """

    def __init__(self, on_select: Callable[[int], Any]) -> None:
        super().__init__()
        self.add_class("cnnviz-layer-table")
        self.on_select = on_select
        self.order = np.zeros(0, dtype=np.int64)
        self._stats: ChannelStats | None = None
        self._layer = ""
        self.sort = w.ToggleButtons(options=SORTS, value="selectivity",
                                    description="Sort by", style={"button_width": "80px"})
        self.sort.observe(lambda _c: self._fill(), names="value")
        self._head = w.HTML()
        self._rows = w.VBox(layout=w.Layout(max_height="260px", overflow="auto"))
        self.children = [self._head, self.sort, self._rows]

    @property
    def rows(self) -> list[w.Button]:
        """The row buttons on screen (a click opens the row's channel)."""
        return list(self._rows.children)

    def show(self, layer: str, stats: ChannelStats) -> None:
        """List the channels of ``layer``."""
        self._layer, self._stats = layer, stats
        self._fill()

    def _fill(self) -> None:
        stats = self._stats
        close_widgets(list(self._rows.children))
        if stats is None or stats.class_means is None:
            self.order = np.zeros(0, dtype=np.int64)
            self._rows.children = []
            self.sort.layout.display = "none"
            self._head.value = html.escape(
                f"Channels of {self._layer}: give the data set's labels (dataset_labels=, or "
                "a tf.data set of (image, label) pairs) to see the class each one prefers.")
            return
        self.sort.layout.display = None
        self.order = table_order(stats, self.sort.value)
        shown = self.order[:MAX_ROWS]
        more = (f" (the first {MAX_ROWS} of {stats.channels})"
                if stats.channels > MAX_ROWS else "")
        self._head.value = html.escape(
            f"Channels of {self._layer} by the class they prefer{more}: selectivity is "
            "(mean of the preferred class - mean of the others) / (their sum); click a row "
            "to open the channel.")
        buttons = []
        for channel in shown.tolist():
            button = w.Button(description=f"{channel}: {stats.label(channel)}",
                              layout=w.Layout(width="auto", height="24px"),
                              tooltip=f"open channel {channel}")
            button.add_class("cnnviz-layer-row")
            button.on_click(lambda _b, c=channel: self.on_select(c))
            buttons.append(button)
        self._rows.children = buttons
