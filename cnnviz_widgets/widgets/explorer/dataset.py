"""The dataset view: what excites the selected channel over a whole data set.

- :class:`DatasetScans` is the state (no widgets): the set, one scan per layer, run when
  a layer is first needed and kept (moving the channel never scans again), and the
  crops of a channel's top images (each cut to the receptive box of its maximum).
- :class:`DatasetView` is a small panel inside the explorer: a progress bar while a
  layer is scanned, an error box, the top-k crops with their labels and values, the
  histogram of the channel's per-image maximum, and the layer's dead channels as
  buttons that select them.

The set is anything :func:`~cnnviz_widgets.engine.scan.scan` reads (an array, a list of
images or paths, a folder, a ``tf.data`` set of images or (image, label) pairs), or a
:class:`~cnnviz_widgets.engine.summary.ScanResult` computed earlier (for example
``ScanResult.load(path).attach(images, engine.input_shape)``): its layers are shown
without scanning, and other layers are scanned from the images it is attached to.
"""

from __future__ import annotations

import html
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import ipywidgets as w
import numpy as np

from ...checks import whole_number
from ...engine.scan import scan
from ...engine.sources import image_source
from ...engine.stages import plan_of, receptive_box, receptive_fields
from ...engine.summary import ChannelStats, ScanResult
from ...errors import CnnvizError, InvalidSettingError, ScanError, SelectionOutOfRangeError
from ...progress import NotebookProgress, ProgressLike
from ...render.crops import Crop, crop_picture
from ...render.encode import encode_png
from ...render.mpl import figure_to_png, histogram_figure
from ..panel import Panel, close_widgets
from ..picker import reads_signals

__all__ = ["DatasetScans", "DatasetView"]

#: Decoded images kept for the crops (the top images of a few channels).
_PIXEL_MEMO = 256
#: Dead channels shown as buttons; the rest are counted.
_MAX_DEAD_BUTTONS = 64


def _unreadable(description: str, skipped: Sequence[tuple[Any, str]], partial: bool) -> str:
    if partial:
        return ("The scan of the data set was stopped before any image was read; select "
                "the layer again to scan it.")
    if not skipped:
        return f"{description[:1].upper()}{description[1:]} holds no image to scan."
    first, reason = skipped[0]
    return (f"None of the {len(skipped):,} items of {description} could be read as an image, "
            f"so there is nothing to show. The first one ({first}): {reason} Give images "
            "the model can take: arrays, image files, bytes or PIL images.")


class DatasetScans:
    """The dataset view's state: a set, its scans (one per layer, cached) and crops.

    Parameters
    ----------
    engine : ActivationEngine
        The explorer's engine (its preprocessing is the scan's).
    dataset : set of images or ScanResult
        See the module docstring.
    labels : sequence of int, optional
        One label per image of an array or list (a ``tf.data`` set and a scan carry
        their own).
    class_names : sequence of str, optional
        Names of the label classes, used when the set has none.
    top_k : int
        Top images kept per channel (a scan given as ``dataset`` keeps its own).
    batch_size : int
        Images per batch of a scan.

    Attributes
    ----------
    scan_count : int
        Scans run so far (each scans the layers it was asked for in one pass).
    source : ImageSource or None
        The images (None for a saved scan that was not given its images again).
    """

    def __init__(self, engine: Any, dataset: Any, *, labels: Any = None,
                 class_names: Sequence[str] | None = None, top_k: int = 9,
                 batch_size: int = 64) -> None:
        for value, what in ((top_k, "top_k"), (batch_size, "batch_size")):
            whole_number(value, f"The dataset view's {what}")
        self.engine = engine
        self.top_k = int(top_k)
        self.batch_size = int(batch_size)
        self.scan_count = 0
        self._stats: dict[str, ChannelStats] = {}
        self._notes: dict[str, str] = {}
        self._failed: dict[str, CnnvizError] = {}
        self._pixels: OrderedDict[int, np.ndarray] = OrderedDict()
        if isinstance(dataset, ScanResult):
            if labels is not None:
                raise InvalidSettingError(
                    "A scan result carries the labels it was scanned with; give "
                    "dataset_labels only with a set of images.")
            self.source = dataset.source
            names = dataset.class_names
            for name, stats in dataset.items():
                self.engine.layer(name)  # a scan of another model: LayerNotFoundError
                self._stats[name] = stats
                self._notes[name] = self._note(dataset)
            if dataset.layers:
                self.top_k = dataset[dataset.layers[0]].top_k
        else:
            self.source = image_source(dataset, engine.input_shape, labels, class_names)
            names = self.source.class_names
        given = names or class_names
        self.class_names = list(given) if given else None

    @property
    def description(self) -> str:
        """Words for the set ("the array of 1,000 images")."""
        return self.source.description if self.source is not None else "the saved scan"

    # -- scans -------------------------------------------------------------------------
    @staticmethod
    def _note(result: ScanResult) -> str:
        parts = []
        if result.skipped:
            parts.append(f"{len(result.skipped):,} item(s) could not be read and were skipped")
        if result.partial:
            parts.append("the scan was stopped early, so this is part of the set")
        return "; ".join(parts)

    def has(self, layer: str) -> bool:
        """True when ``layer`` was scanned (showing it needs no scan)."""
        return layer in self._stats

    def ensure(self, layers: Sequence[str], progress: ProgressLike = None) -> None:
        """Scan, in one pass, the layers of ``layers`` that were not scanned yet.

        Raises
        ------
        CnnvizError
            Why a layer cannot be shown (no readable image, a layer the scan cannot
            summarise...). A failure is remembered: asking again does not scan again.
        """
        wanted = list(dict.fromkeys(layers))
        for name in wanted:
            if name in self._failed:
                raise self._failed[name]
        missing = [name for name in wanted if name not in self._stats]
        if not missing:
            return
        if self.source is None:
            raise ScanError(
                f"The saved scan has no statistics of {', '.join(map(repr, missing))} and no "
                "images to scan them from. Give it the images with result.attach(images, "
                "engine.input_shape), or pick one of its layers: "
                + ", ".join(map(repr, self._stats)) + ".")
        try:
            result = scan(self.engine, self.source, missing, top_k=self.top_k,
                          batch_size=self.batch_size,
                          progress=progress if progress is not None else False)
        except CnnvizError as error:
            self._remember(missing, error)
            raise
        except Exception as exc:  # noqa: BLE001 - a broken set must not break the panel
            error = ScanError(f"Could not scan {self.description}: {type(exc).__name__}: "
                              f"{exc}")
            self._remember(missing, error)
            raise error from exc
        finally:
            self.scan_count += 1
        if result.count == 0:
            error = ScanError(_unreadable(self.description, result.skipped, result.partial))
            if not result.partial:
                self._remember(missing, error)
            raise error
        for name in missing:
            self._stats[name] = result[name]
            self._notes[name] = self._note(result)

    def _remember(self, layers: Sequence[str], error: CnnvizError) -> None:
        for name in layers:
            self._failed[name] = error

    def stats(self, layer: str, progress: ProgressLike = None) -> ChannelStats:
        """The statistics of ``layer`` over the set, scanning it the first time."""
        self.ensure([layer], progress)
        return self._stats[layer]

    def note(self, layer: str) -> str:
        """What the scan of ``layer`` left out ("" when it read every item)."""
        return self._notes.get(layer, "")

    def label_name(self, label: int) -> str | None:
        """The class name of a label; None when unknown."""
        return ScanResult({}, class_names=self.class_names).label_name(label)

    # -- crops -------------------------------------------------------------------------
    def _pixels_of(self, indices: Sequence[int]) -> dict[int, np.ndarray]:
        """0-255 pixels (model input size) of some images of the set, memoised."""
        missing = [i for i in indices if i not in self._pixels]
        if missing:
            items = self.source.fetch(missing)
            for index in missing:
                if index not in items:
                    raise ScanError(f"Image {index} of {self.description} is no longer there; "
                                    "was the set changed after the scan? Set the data set "
                                    "again to scan it again.")
                self._pixels[index] = self.engine.pixels(items[index])
        out = {}
        for index in indices:
            self._pixels.move_to_end(index)
            out[index] = self._pixels[index]
        while len(self._pixels) > _PIXEL_MEMO:
            self._pixels.popitem(last=False)
        return out

    def _marker(self, layer: str, row: int, col: int, box: tuple[int, int, int, int],
                image_size: tuple[int, int] | None) -> tuple[int, int, int, int]:
        """Where position (row, col) sits inside its box: one step of the layer's grid
        (``jump`` pixels) around the centre of its receptive field."""
        top, left, bottom, right = box
        try:
            field = receptive_fields(plan_of(self.engine), image_size)[layer]
            bounds = []
            for axis, position, first, extent in ((field.rows, row, top, bottom - top),
                                                  (field.cols, col, left, right - left)):
                first_px, end_px = axis.span(position)
                centre = Fraction(first_px + end_px, 2)
                half = max(Fraction(axis.jump), Fraction(1)) / 2
                lo = max(math.floor(centre - half) - first, 0)
                hi = min(math.ceil(centre + half) - first, extent)
                bounds.append((lo, max(hi, lo + 1)))
            (r0, r1), (c0, c1) = bounds
            return r0, c0, r1, c1
        except Exception:  # noqa: BLE001 - the marker is a hint; the centre of the box will do
            r, c = (bottom - top) // 2, (right - left) // 2
            return r, c, r + 1, c + 1

    def crops(self, layer: str, channel: int) -> list[Crop]:
        """The top images of ``channel`` of ``layer``, each cropped to the receptive box of
        its maximum (whole images for a layer without spatial maps), best first.

        Raises
        ------
        CnnvizError
            When the layer cannot be scanned, the channel does not exist, or the images
            are not at hand (a saved scan without them).
        """
        stats = self.stats(layer)
        if not 0 <= channel < stats.channels:
            raise SelectionOutOfRangeError(
                f"There is no channel {channel}: layer {layer!r} has {stats.channels} "
                f"channel(s), numbered 0 to {stats.channels - 1}.")
        if self.source is None:
            return []
        columns = [j for j in range(stats.top_k) if stats.top_indices[channel, j] >= 0]
        indices = [int(stats.top_indices[channel, j]) for j in columns]
        pixels = self._pixels_of(indices)
        spatial = self.engine.layer(layer).is_spatial
        signal = reads_signals(self.engine)
        over_time = signal and self.engine.layer(layer).layout == "sequence"
        flexible = None in tuple(self.engine.input_shape)[:2]
        out = []
        for j, index in zip(columns, indices, strict=True):
            image = pixels[index]
            value = float(stats.top_values[channel, j])
            if over_time:  # a window of the signal: its time steps are the box's rows
                step = int(stats.top_positions[channel, j][0])
                top, _, bottom, _ = receptive_box(self.engine, layer, step, 0)
                r0, _, r1, _ = self._marker(layer, step, 0, (top, 0, bottom, 1), None)
                box, marker = (top, 0, bottom, image.shape[1]), (r0, 0, r1, image.shape[1])
            elif spatial:
                row, col = (int(v) for v in stats.top_positions[channel, j])
                size = tuple(image.shape[:2]) if flexible else None
                box = receptive_box(self.engine, layer, row, col, image_size=size)
                marker = self._marker(layer, row, col, box, size)
            else:
                box, marker = (0, 0, image.shape[0], image.shape[1]), None
            top, left, bottom, right = box
            label = self.label_name(int(stats.top_labels[channel, j]))
            caption = " | ".join(part for part in (label, f"max {value:.3g}", f"#{index}")
                                 if part)
            out.append(Crop(np.asarray(image[top:bottom, left:right]), marker, caption,
                            index, value, signal))
        return out

    def top_images(self, layers: Sequence[str], progress: ProgressLike = None
                   ) -> dict[str, list[list[Crop]]]:
        """``{layer: [crops of channel 0, crops of channel 1, ...]}``, scanning what is
        missing in one pass (for the exported page)."""
        self.ensure(layers, progress)
        return {name: [self.crops(name, c) for c in range(self._stats[name].channels)]
                for name in dict.fromkeys(layers)}


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
        self._dead_label = w.HTML()
        self._dead_box = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self._dead_box.add_class("cnnviz-dataset-dead")
        self.children = [self._title, self.progress.widget, self.errors, self._crop_box,
                         w.HBox([self._histogram, w.VBox([self._dead_label, self._dead_box])])]

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
        self.render_count += 1
        try:
            stats = self._stats(layer)
        except CnnvizError as error:
            self._blank(html.escape(f"Data set: {self.scans.description} | layer {layer}"))
            self._show_dead(np.zeros(0, dtype=np.int64), layer)
            self.report(error)
            return
        if new_layer:
            self._show_dead(stats.dead, layer)
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
        self.crops, self.histogram = [], None
        for cell in self._cells:
            cell.layout.display = "none"
        self._histogram.layout.display = "none"
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
        self._title.value = html.escape(
            f"{head} | channel {channel}: the {len(crops)} images where it is highest, "
            f"{what}")
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
