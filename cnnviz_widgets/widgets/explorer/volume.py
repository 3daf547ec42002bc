"""The explorer's room for volumes and videos (D, H, W, C): the slice slider, the choice of
one slice of every channel or every slice of one channel, and the latter's view.

The slicing is :func:`~cnnviz_widgets.layout.volume.volume_maps`'s; the state holds
``depth`` and ``volume_view`` (:class:`~.state.ExplorerState`). Moving the slider slices the
activation already on screen again: the model is not called.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import numpy as np

from ...layout.tokens import LayerMaps
from ...render.maps import RenderMemo, render_selection
from ...render.view import NORMALIZATION_LABELS, MapValue
from ..panel import Panel

__all__ = ["VolumeControls", "slices_value"]


def slices_value(state: Any, laid: LayerMaps, memo: RenderMemo | None = None,
                 note: str = "") -> MapValue:
    """Every slice of one channel of a volume layer as a grid, slice 0 first: what the
    canvas shows when ``state.volume_view`` is ``"slices"`` (``laid`` from
    ``state.current_maps()``, one map per slice)."""
    slices = laid.maps.shape[-1]
    rendered = render_selection(laid.maps, None, np.arange(slices), state.normalization,
                                state.colormap, memo=memo)
    info = state.engine.layer(state.layer)
    title = (f"{info.label} | {state.image_names[state.image_index]} | {laid.note} | "
             f"{NORMALIZATION_LABELS[state.normalization]}")
    return MapValue(rendered, title, note)


class VolumeControls:
    """The slice slider and the view choice of a volume layer, shown only for one.

    Attributes
    ----------
    depth : ipywidgets.IntSlider
        Drives ``depth`` (CSS class ``cnnviz-depth``).
    view : ipywidgets.ToggleButtons
        Drives ``volume_view`` (CSS class ``cnnviz-volume-view``).
    row : ipywidgets.HBox
        Both, in a row (hidden for layers that are not volumes).
    """

    def __init__(self) -> None:
        self.depth = w.IntSlider(min=0, max=0, description="Slice", continuous_update=True)
        self.depth.add_class("cnnviz-depth")
        self.view = w.ToggleButtons(
            options=[("One slice, all channels", "slice"), ("All slices, one channel", "slices")],
            value="slice", style={"button_width": "170px"})
        self.view.add_class("cnnviz-volume-view")
        self.row = w.HBox([self.view, self.depth], layout=w.Layout(display="none"))

    def bind(self, panel: Panel) -> VolumeControls:
        """Bind the controls to ``panel``'s ``depth`` and ``volume_view``, both ways."""
        panel.bind(self.depth, "depth")
        panel.bind(self.view, "volume_view")
        return self

    def follow(self, state: Any) -> None:
        """The slider's range and what is visible, for ``state``'s layer; call inside
        ``state.updating_controls()``."""
        with self.depth.hold_sync():
            self.depth.max = max(0, state.depth_count() - 1)
        self.row.layout.display = None if state.is_volume else "none"
        self.depth.layout.display = None if state.volume_view == "slice" else "none"
