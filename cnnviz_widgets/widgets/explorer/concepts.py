"""The concept view, beside the dataset view: the concepts of a layer over the data set.

:class:`ConceptView` runs :func:`~cnnviz_widgets.meaning.find_concepts` on the dataset
view's set for the layer on screen when asked (a button: the factorisation takes a few
seconds), then shows one row per concept: its preferred class and selectivity (with
labels) and its top images, each cropped to what the concept's strongest position sees.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ...engine.scan.cache import DatasetScans
from ...errors import CnnvizError, InvalidSettingError
from ...meaning import Concepts, find_concepts
from ...render.crops import crop_picture
from ...render.encode import encode_png
from ..panel import close_widgets

__all__ = ["ConceptView"]


class ConceptView(w.VBox):
    """Concepts of the layer on screen: a button finds them, a row shows each.

    Parameters
    ----------
    scans : DatasetScans
        The dataset view's set (its images, labels and class names).
    report : callable
        Shows an error in the dataset view's error box.
    side : int
        Longer side of a crop on screen, in pixels.

    Attributes
    ----------
    concepts : Concepts or None
        The concepts on screen.
    """

    def __init__(self, scans: DatasetScans, report: Callable[[CnnvizError], Any], *,
                 side: int = 64) -> None:
        super().__init__()
        self.add_class("cnnviz-concepts")
        self.scans, self._report, self.side = scans, report, int(side)
        self.layer: str | None = None
        self.concepts: Concepts | None = None
        self.count = w.BoundedIntText(value=6, min=1, max=32, description="Concepts",
                                      layout=w.Layout(width="150px"))
        self.button = w.Button(description="Find concepts", icon="search",
                               tooltip="factorise the layer's activations over the data set")
        self.button.on_click(lambda _b: self.find())
        self._head = w.HTML()
        self._rows = w.VBox()
        self.children = [w.HBox([self.count, self.button]), self._head, self._rows]

    def show(self, layer: str) -> None:
        """Follow the layer on screen (concepts of another layer are cleared)."""
        if layer == self.layer:
            return
        self.layer, self.concepts = layer, None
        close_widgets(list(self._rows.children))
        self._rows.children = []
        self._head.value = html.escape(
            f"Concepts of {layer}: directions of its activation space that occur together "
            "over the data set (non-negative matrix factorisation). Press Find concepts.")

    def find(self) -> Concepts | None:
        """Find and show the concepts of the layer on screen; errors go to the error box."""
        if self.layer is None:
            return None
        try:
            if self.scans.source is None:
                raise InvalidSettingError("The saved scan has no images to find concepts in; "
                                          "give them with result.attach(images, input_shape).")
            self.concepts = find_concepts(self.scans.engine, self.scans.source, self.layer,
                                          int(self.count.value),
                                          class_names=self.scans.class_names, top_k=6)
        except CnnvizError as error:
            self._report(error)
            return None
        self._draw(self.concepts)
        return self.concepts

    def _draw(self, concepts: Concepts) -> None:
        close_widgets(list(self._rows.children))
        rows = []
        for i in range(concepts.n):
            label = concepts.label(i)
            caption = w.HTML(html.escape(f"concept {i}" + (f": {label}" if label else "")),
                             layout=w.Layout(width="220px"))
            pictures = [w.Image(value=encode_png(crop_picture(crop, self.side)), format="png")
                        for crop in concepts.crops(i)]
            rows.append(w.HBox([caption, *pictures]))
        self._rows.children = rows
        self._head.value = html.escape(
            f"{concepts.n} concepts of {concepts.layer} over {concepts.stats.count:,} images "
            f"(reconstruction error {concepts.reconstruction_error:.2f}), each with the "
            "images where it is strongest:")
