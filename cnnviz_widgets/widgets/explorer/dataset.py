"""The dataset view: what excites the selected channel over a whole data set.

- :class:`DatasetScans` is the state (no widgets): the set, one scan per layer, run when
  a layer is first needed and kept (moving the channel never scans again), and the
  crops of a channel's top images (each cut to the receptive box of its maximum).
- :class:`DatasetView` is a small panel inside the explorer: a progress bar while a
  layer is scanned, an error box, the top-k crops with their labels and values, the
  histogram of the channel's per-image maximum, with labels the channel's preferred class
  and a bar chart of its class means, the layer's table of channels by the class they
  prefer (:class:`~.units.LayerTable`, a row opens its channel), and the layer's dead
  channels as buttons that select them. Beside the top images by activation, the top
  images by relevance (:class:`~.relmax.RelevanceTopView`), ranked when asked.

The set is anything :func:`~cnnviz_widgets.engine.scan.scan` reads (an array, a list of
images or paths, a folder, a ``tf.data`` set of images or (image, label) pairs), or a
:class:`~cnnviz_widgets.engine.scan.ScanResult` computed earlier (for example
``ScanResult.load(path).attach(images, engine.input_shape)``): its layers are shown
without scanning, and other layers are scanned from the images it is attached to.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import numpy as np

from ...engine.scan.cache import DatasetScans
from ...engine.scan.summary import ChannelStats
from ...errors import CnnvizError
from ...progress import NotebookProgress
from ...render.crops import Crop, crop_picture
from ...render.encode import encode_png
from ...render.mpl import class_means_figure, figure_to_png, histogram_figure
from ..panel import Panel, close_widgets
from ..picker import reads_signals
from .concepts import ConceptView
from .relmax import RelevanceTopView
from .units import LayerTable

__all__ = ["DatasetScans", "DatasetView"]

#: Dead channels shown as buttons; the rest are counted.
_MAX_DEAD_BUTTONS = 64


class DatasetView(Panel):
    """The dataset view of one channel: top-k crops, histogram, dead channels.

    Parameters
    ----------
    engine : ActivationEngine
        The explorer's engine (shared, never cleared by :meth:`close`).
    scans : DatasetScans
        The set and its scans.
    on_select : callable, optional
        Called with a channel number when a dead channel is clicked.
    side : int
        Longer side of a crop on screen, in pixels.

    Attributes
    ----------
    crops : list of Crop
        The crops on screen (best first).
    histogram : (counts, edges) or None
        The histogram on screen.
    class_means : numpy.ndarray or None
        The class means on screen (None without labels).
    table : LayerTable
        The layer's channels by the class they prefer.
    concept_view : ConceptView
        The layer's concepts over the set, found on request.
    relevance_view : RelevanceTopView
        The channel's top images by relevance, beside those by activation, on request.
    dead : numpy.ndarray
        The dead channels of the layer on screen.
    progress : NotebookProgress
        The bar shown while a layer is scanned.
    """

    def __init__(self, engine: Any, scans: DatasetScans, *,
                 on_select: Callable[[int], Any] | None = None, side: int = 96) -> None:
        Panel.__init__(self, engine)
        self.add_class("cnnviz-dataset")
        self.scans = scans
        self.on_select = on_select
        self.side = int(side)
        self.layer: str | None = None
        self.channel: int | None = None
        self.render_count = 0
        self.crops: list[Crop] = []
        self.histogram: tuple[np.ndarray, np.ndarray] | None = None
        self.class_means: np.ndarray | None = None
        self.dead = np.zeros(0, dtype=np.int64)
        self.progress = NotebookProgress("images", "Scanning")
        self.progress.widget.layout.display = "none"
        self._title = w.HTML()
        self._title.add_class("cnnviz-dataset-title")
        self._images = [w.Image(format="png") for _ in range(scans.top_k)]
        self._captions = [w.HTML() for _ in range(scans.top_k)]
        self._cells = []
        for image, caption in zip(self._images, self._captions, strict=True):
            image.add_class("cnnviz-dataset-crop")
            cell = w.VBox([image, caption], layout=w.Layout(display="none", margin="0 6px 6px 0",
                                                            align_items="center"))
            self._cells.append(cell)
        self._crop_box = w.HBox(self._cells, layout=w.Layout(flex_flow="row wrap"))
        self._histogram = w.Image(format="png", layout=w.Layout(display="none"))
        self._histogram.add_class("cnnviz-dataset-histogram")
        self._classes = w.Image(format="png", layout=w.Layout(display="none"))
        self._classes.add_class("cnnviz-dataset-classes")
        self.table = LayerTable(self.select)
        self.concept_view = ConceptView(scans, self.report)
        self.relevance_view = RelevanceTopView(scans, self.report, side=side)
        self._dead_label = w.HTML()
        self._dead_box = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self._dead_box.add_class("cnnviz-dataset-dead")
        half = w.Layout(width="50%")
        self.children = [self._title, self.progress.widget, self.errors,
                         w.HBox([w.VBox([w.HTML("<b>By activation</b>"), self._crop_box],
                                        layout=half),
                                 w.VBox([w.HTML("<b>By relevance</b>"), self.relevance_view],
                                        layout=half)]),
                         w.HBox([self._histogram, self._classes]),
                         w.HBox([self.table, w.VBox([self._dead_label, self._dead_box])]),
                         self.concept_view]

    # -- showing -----------------------------------------------------------------------
    def show(self, layer: str, channel: int | None) -> None:
        """Show ``channel`` of ``layer`` (None: only the layer's dead channels).

        The layer is scanned the first time (with the progress bar); afterwards this only
        draws. Problems are shown in the view's error box.
        """
        if (layer, channel) == (self.layer, self.channel):
            return
        new_layer = layer != self.layer
        self.layer, self.channel = layer, channel
        self.concept_view.show(layer)
        self.relevance_view.show(layer, channel)
        self.render_count += 1
        try:
            stats = self._stats(layer)
        except CnnvizError as error:
            self._blank(html.escape(f"Data set: {self.scans.description} | layer {layer}"))
            self._show_dead(np.zeros(0, dtype=np.int64), layer)
            self.table.show(layer, None)
            self.report(error)
            return
        if new_layer:
            self._show_dead(stats.dead, layer)
            self.table.show(layer, stats)
        try:
            self._show_channel(stats, layer, channel)
            self.clear_error()
        except CnnvizError as error:
            self._blank(self._title.value)
            self.report(error)

    def _stats(self, layer: str) -> ChannelStats:
        if self.scans.has(layer):
            return self.scans.stats(layer)
        self.progress.widget.layout.display = None
        try:
            return self.scans.stats(layer, self.progress)
        finally:
            self.progress.widget.layout.display = "none"

    def _blank(self, title: str) -> None:
        self.crops, self.histogram, self.class_means = [], None, None
        for cell in self._cells:
            cell.layout.display = "none"
        self._histogram.layout.display = "none"
        self._classes.layout.display = "none"
        self._title.value = title

    def _show_channel(self, stats: ChannelStats, layer: str, channel: int | None) -> None:
        note = self.scans.note(layer)
        head = (f"Data set: {stats.count:,} images{' (' + note + ')' if note else ''} | "
                f"layer {layer}")
        if channel is None:
            self._blank(html.escape(head + " | pick one channel to see the images that "
                                           "excite it most"))
            return
        info = self.scans.engine.layer(layer)
        if reads_signals(self.scans.engine):
            what = ("each cut to the time steps its maximum sees (outlined: the position)"
                    if info.layout == "sequence" else "whole signals")
        else:
            what = ("each cropped to what its maximum sees (outlined: the position)"
                    if info.is_spatial else "whole images")
        crops = self.scans.crops(layer, channel)
        if self.scans.source is None:
            what = ("the images are not at hand: give them with result.attach(images, "
                    "engine.input_shape)")
        label = stats.label(channel)
        self._title.value = html.escape(
            f"{head} | channel {channel}{' (' + label + ')' if label else ''}: the "
            f"{len(crops)} images where it is highest, {what}")
        with self._crop_box.hold_sync():
            for i, cell in enumerate(self._cells):
                if i < len(crops):
                    self._images[i].value = encode_png(crop_picture(crops[i], self.side))
                    self._captions[i].value = (f'<span style="font-size:11px">'
                                               f"{html.escape(crops[i].caption)}</span>")
                    cell.layout.display = None
                else:
                    cell.layout.display = "none"
        self.crops = crops
        counts, edges = stats.histogram(channel)
        self.histogram = (counts, edges)
        figure = histogram_figure(counts, edges,
                                  title=f"{layer} channel {channel} over {stats.count:,} images")
        self._histogram.value = figure_to_png(figure)
        self._histogram.layout.display = None
        self._show_classes(stats, layer, channel)

    def _show_classes(self, stats: ChannelStats, layer: str, channel: int) -> None:
        means = stats.class_means
        self.class_means = None if means is None else means[channel]
        if means is None:
            self._classes.layout.display = "none"
            return
        figure = class_means_figure(means[channel], stats.class_names,
                                    title=f"{layer} channel {channel}: {stats.label(channel)}")
        self._classes.value = figure_to_png(figure)
        self._classes.layout.display = None

    def _show_dead(self, dead: np.ndarray, layer: str) -> None:
        close_widgets(list(self._dead_box.children))
        self.dead = np.asarray(dead, dtype=np.int64)
        buttons = []
        for channel in self.dead[:_MAX_DEAD_BUTTONS].tolist():
            button = w.Button(description=str(channel), layout=w.Layout(width="auto"),
                              tooltip=f"channel {channel} is never above 0 on the data set; "
                                      "click to show it")
            button.on_click(lambda _b, c=channel: self.select(c))
            buttons.append(button)
        self._dead_box.children = buttons
        n = len(self.dead)
        more = f" (the first {_MAX_DEAD_BUTTONS} shown)" if n > _MAX_DEAD_BUTTONS else ""
        self._dead_label.value = html.escape(
            f"Dead channels of {layer} (never above 0 on the data set): {n}{more}"
            if n else f"No dead channel in {layer}: every channel fires on some image.")

    @property
    def dead_buttons(self) -> list[w.Button]:
        """The buttons of the dead channels (a click selects the channel)."""
        return list(self._dead_box.children)

    def select(self, channel: int) -> None:
        """Select ``channel`` in the explorer (what a dead channel's button does)."""
        if self.on_select is not None:
            self.on_select(int(channel))
