"""The relevance ranking beside the dataset view's activation ranking (RelMax).

:class:`RelevanceTopView` shows the top images of the selected channel ranked by the
channel's relevance (:func:`~cnnviz_widgets.meaning.relevance_scan`) for a class, or for
each image's predicted class: computed when asked (a button: each image costs a forward
and a backward pass), then kept per layer and class, so moving the channel only draws.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ...engine.scan.cache import DatasetScans
from ...engine.scan.summary import ChannelStats
from ...errors import CnnvizError, InvalidSettingError, ScanError
from ...meaning import relevance_scan
from ...progress import NotebookProgress
from ...render.crops import Crop, crop_picture
from ...render.encode import encode_png
from ..panel import close_widgets
from .mask import needs_classifier

__all__ = ["RelevanceTopView"]


class RelevanceTopView(w.VBox):
    """The selected channel's top images by relevance, computed on request.

    Parameters
    ----------
    scans : DatasetScans
        The set whose images are ranked (the dataset view's, with its crops).
    report : callable
        Where errors go (the dataset view's error box).
    side : int
        Pixels of a crop's longer side.

    Attributes
    ----------
    target : widgets.Text
        The class the relevance is for (empty: each image's predicted class).
    crops : list of Crop
        The crops on screen (best first).
    scan_count : int
        Relevance scans run so far.
    """

    def __init__(self, scans: DatasetScans, report: Callable[[CnnvizError], Any], *,
                 side: int = 96) -> None:
        super().__init__()
        self.add_class("cnnviz-relmax")
        self.scans, self._report, self.side = scans, report, int(side)
        self.layer: str | None = None
        self.channel: int | None = None
        self.crops: list[Crop] = []
        self.scan_count = 0
        self._results: dict[tuple[str, int | None], ChannelStats] = {}
        self.target = w.Text(value="", placeholder="predicted class", description="Class",
                             layout=w.Layout(width="200px"))
        self.button = w.Button(description="Rank by relevance", icon="sort-amount-desc",
                               tooltip="rank the set's images by the channel's relevance "
                                       "for the class (one backward pass per image)")
        self.button.on_click(lambda _b: self.compute())
        self.progress = NotebookProgress("images", "Relevance")
        self.progress.widget.layout.display = "none"
        self._head = w.HTML()
        self._pictures = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.children = [w.HBox([self.target, self.button]), self.progress.widget,
                         self._head, self._pictures]

    def target_class(self) -> int | None:
        """The class in the box (None when empty).

        Raises
        ------
        InvalidSettingError
            If the box holds neither a whole number nor a class name of the set.
        """
        text = self.target.value.strip()
        if not text:
            return None
        names = self.scans.class_names or []
        if text in names:
            return names.index(text)
        try:
            return int(text)
        except ValueError:
            raise InvalidSettingError(
                f"The class {text!r} is neither a class index nor one of the set's class "
                "names; leave the box empty for each image's predicted class.") from None

    def show(self, layer: str, channel: int | None) -> None:
        """Follow the layer and channel on screen (draws a ranking already computed)."""
        self.layer, self.channel = layer, channel
        try:
            stats = self._results.get((layer, self.target_class()))
        except CnnvizError:
            stats = None
        if stats is None or channel is None:
            self._clear(f"Top images of {layer} by relevance: press Rank by relevance.")
            return
        self._draw(stats, layer, channel)

    def compute(self) -> ChannelStats | None:
        """Rank the set by relevance for the layer on screen; errors go to the error box."""
        if self.layer is None:
            return None
        layer = self.layer
        try:
            needs_classifier(self.scans.engine, "Ranking images by relevance")
            target = self.target_class()
            if self.scans.source is None:
                raise ScanError("The saved scan has no images to rank by relevance; give "
                                "them with result.attach(images, engine.input_shape).")
            stats = self._results.get((layer, target))
            if stats is None:
                self.progress.widget.layout.display = None
                try:
                    self.scan_count += 1
                    stats = relevance_scan(self.scans.engine, self.scans.source, layer, target,
                                           top_k=self.scans.top_k, progress=self.progress)[layer]
                finally:
                    self.progress.widget.layout.display = "none"
                if stats.class_names is None:
                    stats.class_names = self.scans.class_names
                self._results[(layer, target)] = stats
            if self.channel is not None:
                self._draw(stats, layer, self.channel)
        except CnnvizError as error:
            self._report(error)
            return None
        except Exception as error:  # noqa: BLE001 - a failed ranking must not break the panel
            self._report(ScanError(f"Could not rank {self.scans.description} by relevance "
                                   f"for {layer!r}: {type(error).__name__}: {error}"))
            return None
        return stats

    def _clear(self, text: str) -> None:
        self.crops = []
        self._pictures.children = []
        self._head.value = html.escape(text)

    def _draw(self, stats: ChannelStats, layer: str, channel: int) -> None:
        crops = self.scans.crops(layer, channel, stats=stats, value_name="relevance")
        target = self.target_class()
        what = ("each image's predicted class" if target is None
                else f"class {self.scans.label_name(target) or target}")
        self._head.value = html.escape(
            f"By relevance for {what}: the {len(crops)} images where channel {channel} "
            "adds most to the decision")
        old = list(self._pictures.children)
        self._pictures.children = [
            w.VBox([w.Image(value=encode_png(crop_picture(crop, self.side)), format="png"),
                    w.HTML(f'<span style="font-size:11px">{html.escape(crop.caption)}</span>')],
                   layout=w.Layout(margin="0 6px 6px 0", align_items="center"))
            for crop in crops]
        close_widgets(old)
        self.crops = crops
