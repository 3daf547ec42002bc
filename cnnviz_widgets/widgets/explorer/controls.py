"""The explorer's controls, built group by group and bound to its traits.

Groups: the layer and the view's backend; the channel (all, or one); the scale and
colours; the grid's order, class and page; compare mode. Each control drives the trait of
the same key in :attr:`ExplorerControls.widgets` (``mode`` drives ``channel`` too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as w

from ...colour.normalize import NORMALIZATIONS
from ...engine.activations import ActivationEngine
from ...layout.order import CHANNEL_ORDERS
from ...render.view import NORMALIZATION_LABELS
from ..controls import layer_options
from ..panel import Panel
from .canvas import browser_view_available
from .state import BACKENDS, COLORMAPS

__all__ = ["ExplorerControls", "class_options", "image_options"]

Options = list[tuple[str, int]]


def image_options(names: Sequence[str]) -> Options:
    """The images by name, for the "compare with" dropdown."""
    return [(name, i) for i, name in enumerate(names)]


def class_options(engine: ActivationEngine, class_names: Sequence[str] | None) -> Options:
    """The class dropdown: the predicted class (-1), then every class of the output."""
    n = int(engine.layer(engine.output).channels or 1)
    names = class_names if class_names and len(class_names) == n else None
    return [("(predicted)", -1)] + [(f"{i}: {names[i]}" if names else str(i), i)
                                    for i in range(n)]


def _styled(control: w.Widget, css: str) -> w.Widget:
    control.add_class(css)
    return control


class ExplorerControls:
    """The explorer's controls by the trait they drive.

    Parameters
    ----------
    engine : ActivationEngine
        For the layer and class menus.
    class_names : sequence of str or None
        Names of the output's classes.
    image_names : sequence of str
        For the "compare with" menu.

    Attributes
    ----------
    widgets : dict of str to ipywidgets.Widget
        ``layer``, ``mode``, ``channel``, ``normalization``, ``colormap``,
        ``channel_order``, ``target``, ``compare``, ``compare_index``, ``page``,
        ``backend``.
    """

    def __init__(self, engine: ActivationEngine, class_names: Sequence[str] | None,
                 image_names: Sequence[str]) -> None:
        self.widgets: dict[str, w.Widget] = {}
        self._layer_group(engine)
        self._channel_group()
        self._scale_group()
        self._order_group(class_options(engine, class_names))
        self._compare_group(image_options(image_names))

    # -- groups ------------------------------------------------------------------------
    def _layer_group(self, engine: ActivationEngine) -> None:
        self.widgets["layer"] = _styled(w.Dropdown(
            options=layer_options(engine.layers), description="Layer",
            layout=w.Layout(width="360px")), "cnnviz-layer")
        self.widgets["backend"] = _styled(w.ToggleButtons(
            options=[b for b in BACKENDS if b != "browser" or browser_view_available()],
            description="View", style={"button_width": "90px"}),
            "cnnviz-backend")

    def _channel_group(self) -> None:
        self.widgets["mode"] = _styled(w.ToggleButtons(
            options=[("All channels", "all"), ("One channel", "one")], value="all",
            style={"button_width": "110px"}), "cnnviz-mode")
        self.widgets["channel"] = _styled(w.IntSlider(
            min=0, max=0, description="Channel", continuous_update=True), "cnnviz-channel")

    def _scale_group(self) -> None:
        self.widgets["normalization"] = _styled(w.ToggleButtons(
            options=[(NORMALIZATION_LABELS[n], n) for n in NORMALIZATIONS],
            description="Scale", style={"button_width": "100px"}), "cnnviz-normalization")
        self.widgets["colormap"] = _styled(w.Dropdown(
            options=list(COLORMAPS), description="Colours", layout=w.Layout(width="200px")),
            "cnnviz-colormap")

    def _order_group(self, classes: Options) -> None:
        self.widgets["channel_order"] = _styled(w.Dropdown(
            options=list(CHANNEL_ORDERS), description="Order",
            layout=w.Layout(width="200px")), "cnnviz-order")
        self.widgets["target"] = _styled(w.Dropdown(
            options=classes, description="Class", layout=w.Layout(width="260px")),
            "cnnviz-target")
        self.widgets["page"] = _styled(w.IntSlider(
            min=0, max=0, description="Page", continuous_update=False), "cnnviz-page")

    def _compare_group(self, images: Options) -> None:
        self.widgets["compare"] = _styled(w.Dropdown(
            options=[("nothing", ""), ("another image", "image"), ("another model", "model")],
            description="Compare", layout=w.Layout(width="220px")), "cnnviz-compare-mode")
        self.widgets["compare_index"] = _styled(w.Dropdown(
            options=images, description="with", layout=w.Layout(width="220px")),
            "cnnviz-compare-index")

    # -- wiring ------------------------------------------------------------------------
    def bind(self, panel: Panel) -> None:
        """Bind every control to ``panel``'s trait of the same name, both ways."""
        c = self.widgets
        slider = c["channel"]
        panel.bind(c["layer"], "layer")
        panel.bind(slider, "channel", to_owner=int,
                   to_control=lambda ch: slider.value if ch is None else ch)
        panel.bind(c["mode"], "channel",
                   to_owner=lambda mode: None if mode == "all" else int(slider.value),
                   to_control=lambda ch: "all" if ch is None else "one")
        for name in ("normalization", "colormap", "channel_order"):
            panel.bind(c[name], name)
        panel.bind(c["target"], "target", to_owner=lambda v: None if v < 0 else int(v),
                   to_control=lambda t: -1 if t is None else t)
        panel.bind(c["compare"], "compare", to_owner=lambda v: v or None,
                   to_control=lambda mode: mode or "")
        for name in ("compare_index", "page", "backend"):
            panel.bind(c[name], name)

    def rows(self, explain: w.Widget) -> list[w.Widget]:
        """The controls in rows, the "Explain channel" button beside the channel."""
        c = self.widgets
        return [w.HBox([c["layer"], c["backend"]]),
                w.HBox([c["mode"], c["channel"], explain]),
                c["normalization"],
                w.HBox([c["colormap"], c["channel_order"], c["target"], c["page"]]),
                w.HBox([c["compare"], c["compare_index"]])]

    def follow(self, state: Any) -> None:
        """Ranges, options and visibility that follow ``state`` (an explorer; values follow
        by binding). Call inside ``state.updating_controls()`` for the ranges."""
        c = self.widgets
        pages = state.page_count()
        with c["channel"].hold_sync():
            c["channel"].max = max(0, state.channel_count() - 1)
        with c["page"].hold_sync():
            c["page"].max = pages - 1
            c["page"].layout.display = None if pages > 1 else "none"
        if state.colormap not in c["colormap"].options:
            c["colormap"].options = [*c["colormap"].options, state.colormap]

    def show_for(self, state: Any) -> None:
        """Show the controls that apply to ``state``'s view: the order in the grid, the
        class for the "class" and "relevance" orders, the image compared with in image
        compare mode."""
        c = self.widgets
        grid = state.channel is None
        c["channel_order"].layout.display = None if grid else "none"
        ranked = grid and state.channel_order in ("class", "relevance")
        c["target"].layout.display = None if ranked else "none"
        c["compare_index"].layout.display = None if state.compare == "image" else "none"
