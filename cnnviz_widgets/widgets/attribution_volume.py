"""The attribution panel on a model of volumes and videos (D, H, W, C): which methods
explain a volume, a method's answer as one (D, H, W) map, and its display slice by slice
(one slice of the input under its heat, chosen with a depth slider) or as a montage of
every slice in a row (:func:`~cnnviz_widgets.layout.volume.slice_row`).

The overlays of all slices are coloured once per result, on one scale for the whole
volume, so that moving the slider or switching the view only picks pixels: the model is
not called.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import numpy as np

from ..attribution.gradcam import upsample_heatmap
from ..attribution.overlay import overlay
from ..attribution.registry import METHODS
from ..errors import InvalidSettingError, LayerNotViewableError
from ..layout.volume import slice_row
from ..render.encode import encode_png
from ..render.upscale import upscale_nearest

__all__ = ["VolumeHeatView", "unsupported_for_volumes", "volume_heat", "volume_hint",
           "volume_methods", "volume_overlays"]

#: Registry keys of the methods that cannot explain a volume, and why.
VOLUME_UNSUPPORTED: dict[str, str] = {
    "activation_maximization": "feature visualisation paints 2-D images",
}


def volume_methods() -> list[str]:
    """Registry keys of the methods that explain a volume, in the registry's order."""
    return [name for name in METHODS if name not in VOLUME_UNSUPPORTED]


def volume_hint() -> str:
    """One sentence naming the methods that support volumes."""
    labels = [METHODS[name].label for name in volume_methods()]
    return f"These methods support volumes: {', '.join(labels)}."


def unsupported_for_volumes(name: str) -> InvalidSettingError:
    """The error for method ``name`` on a model of volumes: why, and what works."""
    why = VOLUME_UNSUPPORTED.get(name, "it does not support volumes")
    return InvalidSettingError(
        f"{METHODS[name].label} cannot explain a volume ({why}); pick another method. "
        + volume_hint())


def volume_heat(method: str, heatmap: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A method's map of one volume as (D, H, W), the size of the input ``shape``
    (D, H, W[, C]).

    Gradient maps come with the channels reduced by the method (as for an image's
    colours); a map at another resolution is upsampled trilinearly.

    Raises
    ------
    LayerNotViewableError
        For a map that is not a volume.
    """
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.ndim != 3:
        raise LayerNotViewableError(
            f"{METHODS[method].label} gave a map of shape {heat.shape}, not a volume "
            "(depth, height, width). " + volume_hint())
    depth, height, width = (int(n) for n in shape[:3])
    if heat.shape != (depth, height, width):
        heat = upsample_heatmap(heat, height, width, depth=depth)
    return heat


def volume_overlays(pixels: np.ndarray, heat: np.ndarray, alpha: float) -> np.ndarray:
    """Every slice of ``pixels`` (D, H, W, C), 0-255, under its slice of ``heat``
    (D, H, W), as uint8 RGB (D, H, W, 3). One colour scale for the whole volume: the
    slices are overlaid as one tall picture, so a slice's colour means the same as in
    every other slice."""
    depth, height, width = heat.shape
    tall = np.asarray(pixels, dtype=np.float32).reshape(depth * height, width, -1)
    rgb = overlay(tall, heat.reshape(depth * height, width), alpha=alpha)
    return rgb.reshape(depth, height, width, 3)


class VolumeHeatView:
    """The depth slider and the view choice of a volume's heatmap, and its picture.

    Parameters
    ----------
    target : ipywidgets.Image
        Where the picture is drawn.
    caption : ipywidgets.HTML
        Where :attr:`label` and the slice shown are written.

    Attributes
    ----------
    depth : ipywidgets.IntSlider
        The slice shown (CSS class ``cnnviz-depth``).
    view : ipywidgets.ToggleButtons
        ``"slice"`` (one slice) or ``"montage"`` (every slice in a row), CSS class
        ``cnnviz-volume-view``.
    row : ipywidgets.HBox
        Both (hidden until a volume is shown).
    overlays : numpy.ndarray or None
        The coloured slices (D, H, W, 3) of the map on screen.
    draw_count : int
        How many times the picture was drawn.
    label : str
        The caption's words before the slice (set by the panel).
    """

    def __init__(self, target: w.Image, caption: w.HTML) -> None:
        self.target, self.caption_box, self.label = target, caption, ""
        self.overlays: np.ndarray | None = None
        self.draw_count = 0
        self.depth = w.IntSlider(min=0, max=0, description="Slice", continuous_update=True)
        self.depth.add_class("cnnviz-depth")
        self.view = w.ToggleButtons(options=[("One slice", "slice"), ("All slices", "montage")],
                                    value="slice", style={"button_width": "90px"})
        self.view.add_class("cnnviz-volume-view")
        self.row = w.HBox([self.view, self.depth], layout=w.Layout(display="none"))
        self.depth.observe(lambda _: self.draw(), names="value")
        self.view.observe(lambda _: self.draw(), names="value")

    def show(self, pixels: np.ndarray, heat: np.ndarray, alpha: float) -> bytes:
        """Colour the slices of ``heat`` over ``pixels`` and draw the current view; the
        slider keeps its slice when the depth allows (else the middle slice)."""
        self.overlays = volume_overlays(pixels, heat, alpha)
        count = len(self.overlays)
        with self.depth.hold_sync():
            keep = self.depth.value if self.depth.max == count - 1 else count // 2
            self.depth.max = count - 1
            self.depth.value = min(keep, count - 1)
        self.row.layout.display = None
        self.depth.layout.display = None if self.view.value == "slice" else "none"
        return self.draw()

    def picture(self, overlays: np.ndarray | None = None, min_side: int = 224) -> bytes:
        """PNG of the current view of ``overlays`` (default: the map on screen)."""
        rgb = self.overlays if overlays is None else overlays
        if self.view.value == "montage":
            row = np.nan_to_num(slice_row(rgb, gap=2), nan=255.0).astype(np.uint8)
            return encode_png(upscale_nearest(row, min_side=min_side // 2, max_side=1200))
        return encode_png(upscale_nearest(rgb[self.depth.value], min_side=min_side))

    def caption(self) -> str:
        """Words for the caption: which slice, or that every slice is shown."""
        count = 0 if self.overlays is None else len(self.overlays)
        if self.view.value == "montage":
            return f", all {count} slices (slice 0 first)"
        return f", slice {self.depth.value} of 0-{count - 1}"

    def draw(self) -> bytes:
        """Draw the current view into the target (nothing before a map is shown)."""
        self.depth.layout.display = None if self.view.value == "slice" else "none"
        if self.overlays is None:
            return b""
        data = self.picture()
        self.target.value = data
        self.caption_box.value = html.escape(self.label + self.caption())
        self.draw_count += 1
        return data

    def hide(self) -> None:
        """Forget the map and hide the controls."""
        self.overlays = None
        self.row.layout.display = "none"
