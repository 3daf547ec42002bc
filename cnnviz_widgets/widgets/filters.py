"""FilterExplorer: the learned kernels of a convolution layer, paged, with dead filters."""

from __future__ import annotations

import html
import os
from typing import Any

import ipywidgets as w
import numpy as np
from traitlets import observe, validate

from .._deprecation import renamed_argument, renamed_property, reordered
from ..colour.colormaps import apply_colormap
from ..engine.coerce import image_list
from ..errors import CnnvizError, InvalidSettingError, LayerNotViewableError
from ..layout.paging import page_count, page_of
from ..render.encode import encode_png
from ..render.filters import filter_mosaic, rgb_mosaic
from ..weights.dead import dead_filters
from ..weights.filters import conv_filters, filter_grid, kernel_layers, rgb_filters
from .panel import Choice, Flag, Panel, Text, Whole, check_index

__all__ = ["FilterExplorer"]


def _old_order(args: tuple[Any, ...], kwargs: dict[str, Any],
               ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """``FilterExplorer(model, layer, images=...)``: a layer name where the images go.

    A string there is the layer of the old order when the images are also given by
    keyword, or when it is not the path of a file (an image).
    """
    if len(args) != 3 or not isinstance(args[2], str) or "layer" in kwargs:
        return None
    if "images" not in kwargs and os.path.isfile(args[2]):
        return None
    return args[:2], {**kwargs, "layer": args[2]}


class FilterExplorer(Panel):
    """Panel that shows the learned filters of a convolution layer.

    Each row is one filter; its input channels sit side by side, normalised to 0-1
    per filter or over the whole layer. A first layer with 3 input channels can also
    be shown as RGB colour patches. Large layers are paged. ``filter`` selects one
    filter; with a linked :class:`FeatureMapExplorer` the "feature map" button shows
    that filter's channel there, and picking a channel there (slider or a click on a
    tile) selects its filter here while "Follow the feature-map channel" is ticked.

    Parameters
    ----------
    model_or_engine : keras.Model, ActivationEngine or FeatureMapExplorer
        Where the filters come from. A FeatureMapExplorer is linked (same engine).
        (``model=`` is the deprecated name of this argument.)
    images : sequence, optional
        Images scanned for dead filters (default: the linked explorer's images).
    layer : str, optional
        The convolution layer to show first (default: the first one). The old order
        ``FilterExplorer(model, layer, images=...)`` still works, with a warning.
    per_page : int
        Filters per page (rows).
    channels_shown : int
        Input channels shown per filter (columns), e.g. 6 as in "first 6 filters x 3 channels".
    colormap : str
        Colour map of the channel view.

    Attributes
    ----------
    layer : str
        The convolution layer shown.
    filter : int
        The selected filter.
    page : int
        The page of filters shown.
    normalization : str
        ``"filter"`` (each filter 0-1) or ``"layer"`` (one scale for the layer).
    view : str
        ``"channels"`` (one tile per input channel) or ``"rgb"`` (colour patches).
    hide_dead : bool
        Leave out the filters found dead by :meth:`scan_dead_filters`.
    """

    layer = Text("")
    filter = Whole(0)
    page = Whole(0)
    normalization = Choice(("filter", "layer"), "filter", what="filter normalization")
    view = Choice(("channels", "rgb"), "channels", what="filter view")
    hide_dead = Flag(False)

    @renamed_argument("model", "model_or_engine")
    @reordered("FilterExplorer(model, layer, images=...)",
               "FilterExplorer(model_or_engine, images, layer)", _old_order)
    def __init__(self, model_or_engine: Any, images: Any = None, layer: str | None = None, *,
                 per_page: int = 16, channels_shown: int = 8, colormap: str = "gray") -> None:
        explorer = model_or_engine if hasattr(model_or_engine, "engine") and hasattr(
            model_or_engine, "picker") else None
        Panel.__init__(self, explorer.engine if explorer is not None else model_or_engine)
        self.add_class("cnnviz-filters")
        self.explorer = explorer
        if explorer is not None and images is None:
            self.images = explorer.images
        else:
            self.images = image_list(images, self.engine.input_shape)
        self.per_page = int(per_page)
        self.channels_shown = int(channels_shown)
        self.colormap = colormap
        self.render_count = 0
        self.dead: dict[str, Any] = {}
        self._bank = None
        self._view2d: np.ndarray | None = None
        self._conv_layers = kernel_layers(self.engine)
        if not self._conv_layers:
            raise LayerNotViewableError(
                "This model has no convolution layers, so there are no filters to show.")
        with self.batch():
            self.layer = layer or self._conv_layers[0]
            self._build()
            self._update_controls()
            self.request_draw()
        if self.explorer is not None:
            self.explorer.observe(self._on_explorer, names=["layer", "channel"])

    # -- public ------------------------------------------------------------------------
    @property
    def bank(self):
        """The :class:`~cnnviz_widgets.weights.filters.FilterBank` of the current layer."""
        return self._bank

    mode = renamed_property("normalization")

    @property
    def controls(self) -> dict[str, w.Widget]:
        """The panel's controls by the trait or action they drive."""
        return {"layer": self._layer_dd, "page": self._page_slider,
                "filter": self._filter_slider, "normalization": self._norm_tb,
                "view": self._view_tb, "hide_dead": self._hide, "follow": self._follow,
                "scan": self._scan, "jump": self._jump}

    def current_view(self) -> np.ndarray:
        """The array on screen: (rows, cols) floats in [0, 1] with NaN gaps, or RGB uint8."""
        return self._view2d

    def visible_filters(self) -> list[int]:
        """All filters of the layer that can be shown (dead ones left out if ``hide_dead``)."""
        filters = range(self._bank.n_filters)
        report = self.dead.get(self.layer)
        if self.hide_dead and report is not None:
            dead = set(int(i) for i in report.indices)
            return [f for f in filters if f not in dead]
        return list(filters)

    def filters_on_page(self) -> list[int]:
        """Indices of the filters shown on the current page."""
        visible = self.visible_filters()
        if not visible:
            return []
        return page_of(visible, self.page, self.per_page).tolist()

    def scan_dead_filters(self) -> Any:
        """Find dead filters of the current layer over ``images`` (progress shown)."""
        if not self.images:
            self.report("No images to scan: pass images=[...] to find dead filters "
                        "from activations (weights are checked anyway).")
        self.progress.layout.display = None

        def progress(done: int, total: int) -> None:
            with self.progress.hold_sync():
                self.progress.max = max(total, 1)
                self.progress.value = done

        try:
            report = dead_filters(self.engine, self.images, self.layer, progress=progress)
        except CnnvizError as error:
            self.report(error)
            return None
        self.dead[self.layer] = report
        self.request_draw()
        return report

    def show_feature_map(self) -> None:
        """Show the selected filter's output channel in the linked feature-map explorer."""
        if self.explorer is None:
            self.report("No feature-map explorer is linked: create this panel with "
                        "FilterExplorer(explorer) to jump between them.")
            return
        with self.explorer.batch():
            self.explorer.layer = self.layer
            self.explorer.channel = self.filter

    def follow_explorer(self) -> None:
        """Select the filter behind the linked explorer's current layer and channel."""
        if self.explorer is None or self.explorer.channel is None:
            return
        if self.explorer.layer in self._conv_layers:
            with self.batch():
                self.layer = self.explorer.layer
                self.filter = self.explorer.channel

    # -- validation and reactions ------------------------------------------------------
    def _on_explorer(self, change: dict) -> None:
        if self._follow.value:
            self.follow_explorer()

    @validate("layer")
    def _valid_layer(self, proposal: dict) -> str:
        name = proposal["value"]
        if name not in self._conv_layers:
            raise self.report(InvalidSettingError(
                f"{name!r} has no convolution kernel. Layers with filters: "
                + ", ".join(self._conv_layers[:12])
                + ("..." if len(self._conv_layers) > 12 else "")))
        return name

    @validate("filter")
    def _valid_filter(self, proposal: dict) -> int:
        n = self._bank.n_filters if self._bank is not None else 1
        return check_index(self, proposal["value"], n, "filter", f"layer {self.layer!r}")

    @validate("page")
    def _valid_page(self, proposal: dict) -> int:
        return check_index(self, proposal["value"], self._pages(), "page", "this layer")

    @observe("layer", "filter", "page", "normalization", "view", "hide_dead")
    def _on_change(self, change: dict) -> None:
        name = change["name"]
        with self.batch():
            if name == "layer":
                self._bank = conv_filters(self.engine, self.layer)
                self.filter = min(self.filter, self._bank.n_filters - 1)
                if self._bank.n_channels != 3 and self.view == "rgb":
                    self.view = "channels"
            if name in ("layer", "hide_dead") and self.page >= self._pages():
                self.page = 0
            if name in ("layer", "filter"):
                visible = self.visible_filters()
                position = visible.index(self.filter) if self.filter in visible else 0
                self.page = min(position // self.per_page, self._pages() - 1)
            self._update_controls()
            self.request_draw()

    def _pages(self) -> int:
        if self._bank is None:
            return 1
        return page_count(len(self.visible_filters()), self.per_page)

    # -- drawing -----------------------------------------------------------------------
    def _draw(self) -> None:
        if self._bank is None:
            return
        self.render_count += 1
        try:
            filters = self.filters_on_page()
            if not filters:
                self.report(f"Every filter of {self.layer!r} is dead on these images; "
                            "untick 'Hide dead filters' to see them.")
                return
            if self.view == "rgb" and self._bank.n_channels == 3:
                patches = rgb_filters(self._bank, filters=filters,
                                      normalization=self.normalization)
                rgb = rgb_mosaic(patches, columns=8, cell=48)
                self._view2d = rgb
            else:
                channels = range(min(self.channels_shown, self._bank.n_channels))
                grid = filter_grid(self._bank, filters=filters, channels=channels,
                                   normalization=self.normalization)
                view = filter_mosaic(grid)
                self._view2d = view
                rgb = apply_colormap(view, self.colormap)
            self._image.value = encode_png(rgb)
            self.caption.value = self._caption_html(filters)
            self.clear_error()
        except CnnvizError as error:
            self.report(error)

    def _caption_html(self, filters: list[int]) -> str:
        bank = self._bank
        kh, kw = bank.kernel_size
        dead = self.dead.get(self.layer)
        dead_set = set(int(i) for i in dead.indices) if dead is not None else set()
        rows = []
        for f in filters:
            bias = "" if bank.biases is None else f"{bank.biases[f]:+.3f}"
            mark = ' style="color:#c0392b;font-weight:bold"' if f in dead_set else ""
            chosen = " &larr;" if f == self.filter else ""
            rows.append(f"<tr{mark}><td>{f}</td><td>{bias}</td>"
                        f"<td>{'dead' if f in dead_set else ''}{chosen}</td></tr>")
        shown_c = min(self.channels_shown, bank.n_channels)
        summary = (f"{html.escape(self.layer)}: {bank.n_filters} filters of "
                   f"{kh}x{kw}x{bank.n_channels}; page {self.page + 1} of {self._pages()}; "
                   f"rows = filters {filters[0]}-{filters[-1]}, columns = input channels "
                   f"0-{shown_c - 1}")
        if dead is not None:
            summary += f"; dead: {len(dead_set)} of {bank.n_filters} ({dead.fraction:.0%})"
        return (f'<div class="cnnviz-filter-caption">{summary}</div>'
                '<table style="font-size:11px"><tr><th>filter</th><th>bias</th><th></th></tr>'
                + "".join(rows) + "</table>")

    # -- controls ----------------------------------------------------------------------
    def _build(self) -> None:
        self._layer_dd = w.Dropdown(options=self._conv_layers, description="Layer")
        self._layer_dd.add_class("cnnviz-filter-layer")
        self._page_slider = w.IntSlider(min=0, max=0, description="Page",
                                        continuous_update=False)
        self._filter_slider = w.IntSlider(min=0, max=0, description="Filter")
        self._filter_slider.add_class("cnnviz-filter-index")
        self._norm_tb = w.ToggleButtons(options=[("per filter", "filter"),
                                                 ("per layer", "layer")], description="Scale")
        self._view_tb = w.ToggleButtons(options=[("channels", "channels"), ("RGB", "rgb")],
                                        description="Show")
        self._scan = w.Button(description="Find dead filters", icon="search")
        self.progress = w.IntProgress(min=0, max=1, layout=w.Layout(display="none"))
        self._jump = w.Button(description="Show its feature map", icon="arrow-right")
        self._hide = w.Checkbox(description="Hide dead filters", value=False, indent=False)
        self._follow = w.Checkbox(description="Follow the feature-map channel", value=True,
                                  indent=False)
        self._image = w.Image(format="png")
        self._image.add_class("cnnviz-filter-view")
        self.caption = w.HTML()
        self.bind(self._layer_dd, "layer")
        self.bind(self._page_slider, "page")
        self.bind(self._filter_slider, "filter")
        self.bind(self._norm_tb, "normalization")
        self.bind(self._view_tb, "view")
        self.bind(self._hide, "hide_dead")
        self._scan.on_click(lambda _: self.scan_dead_filters())
        self._jump.on_click(lambda _: self.show_feature_map())
        linked = self.explorer is not None
        self._jump.layout.display = None if linked else "none"
        self._follow.layout.display = None if linked else "none"
        self.children = [
            w.HBox([self._layer_dd, self._norm_tb]),
            w.HBox([self._page_slider, self._filter_slider, self._view_tb]),
            w.HBox([self._scan, self.progress, self._hide, self._jump, self._follow]),
            self.errors,
            self._image,
            self.caption,
        ]

    def _update_controls(self) -> None:
        """Ranges and visibility that follow the state (values follow by binding)."""
        if self._bank is None or not hasattr(self, "_image"):
            return  # not built yet
        with self.updating_controls():
            with self._page_slider.hold_sync():
                self._page_slider.max = self._pages() - 1
            with self._filter_slider.hold_sync():
                self._filter_slider.max = self._bank.n_filters - 1
        self._view_tb.layout.display = None if self._bank.n_channels == 3 else "none"
