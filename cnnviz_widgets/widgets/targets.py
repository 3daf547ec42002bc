"""What the attribution panel explains, for a model whose output is not a class vector.

A segmentation model's per-pixel output (height, width, classes) is explained for a class
and a region: the predicted mask is shown in the colours of
:func:`~cnnviz_widgets.colour.colour_labels`, with the region explained in full colour
and the rest dimmed (a bqplot image); a class is picked from the dropdown, by clicking a
pixel of the mask or by clicking its colour in the legend, the region from "predicted
region" (the pixels predicted as the class), "whole image" or "box" (two range sliders, or
a rectangle drawn on the mask). A regression model's single output is explained as
"raise output i". Moving a control never runs the model: the predicted mask comes from the
engine's cached output of the image, read once per image by :meth:`TargetPicker.show_image`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import bqplot
import ipywidgets as w
import numpy as np
from bqplot.interacts import BrushSelector
from traitlets import Any as AnyTrait

from ..attribution._common import output_kind
from ..attribution.scores import ClassTarget, RegressionTarget, SegmentationTarget
from ..colour import colour_labels, label_colours, predicted_labels
from ..render.encode import encode_png
from ..render.upscale import upscale_nearest

__all__ = ["REGIONS", "TargetPicker"]

#: The regions a class of a per-pixel output is explained over.
REGIONS = ("predicted region", "whole image", "box")


def _hex(rgb: Sequence[int]) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in rgb)


class TargetPicker(w.VBox):
    """Controls whose :attr:`value` is the target of the attribution methods.

    Parameters
    ----------
    engine : ActivationEngine
        The panel's engine; its output is per-pixel or a single value
        (:func:`~cnnviz_widgets.attribution._common.output_kind`).
    class_names : sequence of str, optional
        Names of the classes of a per-pixel output.
    report : callable, optional
        ``report(message)``: where a setting that cannot be used is told (the panel's
        error box).
    description : str
        The label of the control (the method parameter's).

    Attributes
    ----------
    value : None, int or target
        ``None`` (the top class over its predicted region), a
        :class:`~cnnviz_widgets.attribution.ClassTarget`,
        :class:`~cnnviz_widgets.attribution.SegmentationTarget` or
        :class:`~cnnviz_widgets.attribution.RegressionTarget`.
    labels : numpy.ndarray or None
        The predicted class of each pixel of the image last shown.
    view : ipywidgets.VBox
        What the panel shows beside the maps: the predicted mask with the region explained,
        its legend (a button per class) and a sentence saying what is explained.
    """

    value = AnyTrait(None)

    def __init__(self, engine: Any, class_names: Sequence[str] | None = None,
                 report: Callable[[Any], Any] | None = None, description: str = "Class") -> None:
        super().__init__()
        self.add_class("cnnviz-target")
        self.engine = engine
        self.kind = output_kind(engine)
        self.description = description
        self._report = report
        self._holding = False
        self.labels: np.ndarray | None = None
        self.note = w.HTML()
        if self.kind == "value":
            self.output_control = w.Dropdown(options=[("raise output 0", 0)], value=0,
                                             description="Explain",
                                             style={"description_width": "110px"})
            self.output_control.observe(lambda _: self._refresh(), names="value")
            self.children = [self.output_control]
            self.view = w.VBox([self.note])
            self._refresh()
            return
        height, width, classes = (int(s) for s in engine.layer(engine.output).output_shape)
        self.shape, self.classes = (height, width), classes
        names = list(class_names) if class_names is not None and \
            len(class_names) == classes else [str(i) for i in range(classes)]
        self.names = names
        style = {"description_width": "110px"}
        self.class_control = w.Dropdown(
            options=[("(top class)", -1)] + [(f"{i}: {n}" if n != str(i) else n, i)
                                             for i, n in enumerate(names)],
            value=-1, description=description, style=style)
        self.region_control = w.ToggleButtons(options=list(REGIONS), value=REGIONS[0],
                                              description="Region", style=style)
        self.region_control.add_class("cnnviz-target-region")
        self.rows = w.IntRangeSlider(value=(height // 4, height - height // 4), min=0,
                                     max=height, description="Box rows", style=style,
                                     continuous_update=False)
        self.cols = w.IntRangeSlider(value=(width // 4, width - width // 4), min=0,
                                     max=width, description="Box columns", style=style,
                                     continuous_update=False)
        self._mask_figure(height, width)
        colours = label_colours(classes)
        self.legend = []
        for i, n in enumerate(names):
            button = w.Button(description=n, tooltip=f"Explain class {n} over its predicted "
                              "region", layout=w.Layout(width="auto"))
            button.style.button_color = _hex(colours[i])
            button.style.text_color = "white" if colours[i].mean() < 140 else "black"
            button.on_click(lambda _, i=i: self.pick_class(i))
            self.legend.append(button)
        for control in (self.class_control, self.region_control, self.rows, self.cols):
            control.observe(lambda _: self._refresh(), names="value")
        self.children = [self.class_control, self.region_control, self.rows, self.cols]
        self.view = w.VBox([w.HTML("<b>Predicted mask</b> (click a class to explain it; "
                                   "for a box, draw it)"),
                            self.mask_figure, w.HBox(self.legend), self.note],
                           layout=w.Layout(max_width="260px"))
        self.view.add_class("cnnviz-target-view")
        self._refresh()

    # -- public ------------------------------------------------------------------------
    def show_image(self, image: Any) -> None:
        """Read the predicted mask of ``image`` (the engine's cached output) and redraw."""
        if self.kind != "pixels":
            return
        self.labels = predicted_labels(self.engine.activation(self.engine.output, image))
        self._refresh()

    def pick_class(self, index: int) -> None:
        """Explain class ``index`` over its predicted region (a click on its colour)."""
        with self.hold_trait_notifications():
            self.region_control.value = "predicted region"
            self.class_control.value = int(index)

    def region(self) -> np.ndarray | None:
        """The (height, width) pixels explained, when known (None before an image)."""
        if self.kind != "pixels":
            return None
        choice = self.region_control.value
        if choice == "whole image":
            return np.ones(self.shape, bool)
        if choice == "box":
            return self._box()
        if self.labels is None:
            return None
        return self.labels == self._class()

    def click(self, row: int, col: int) -> None:
        """Act as if pixel (row, col) of the mask was clicked: the message bqplot's
        ``Image`` mark sends, in the mask's pixel coordinates."""
        self.mask_mark._handle_custom_msgs(self.mask_mark, {
            "event": "element_click", "data": {"click_x": col + 0.5, "click_y": row + 0.5}})

    # -- internals ---------------------------------------------------------------------
    def _mask_figure(self, height: int, width: int) -> None:
        """The predicted mask as a bqplot image: a click picks the class under the mouse,
        and while the region is "box" a drawn rectangle (a brush) sets the box."""
        x_scale = bqplot.LinearScale(min=0.0, max=float(width), allow_padding=False)
        y_scale = bqplot.LinearScale(min=0.0, max=float(height), reverse=True,
                                     allow_padding=False)
        # two image widgets used in turn: the front end redraws the mark when its image
        # widget changes, not when the bytes inside it do
        self._buffers = (w.Image(format="png"), w.Image(format="png"))
        self.mask_picture = self._buffers[0]
        self.mask_mark = bqplot.Image(image=self.mask_picture, x=[0.0, float(width)],
                                      y=[float(height), 0.0],
                                      scales={"x": x_scale, "y": y_scale})
        self.mask_mark.on_element_click(self._on_mask_click)
        self.brush = BrushSelector(x_scale=x_scale, y_scale=y_scale, color="white")
        self.brush.observe(self._on_brush, names="brushing")
        ratio = width / height
        self.mask_figure = bqplot.Figure(
            marks=[self.mask_mark], padding_x=0.0, padding_y=0.0,
            fig_margin={"top": 4, "bottom": 4, "left": 4, "right": 4},
            min_aspect_ratio=ratio, max_aspect_ratio=ratio,
            layout=w.Layout(width="220px", height=f"{round(220 / ratio)}px"))
        self.mask_figure.add_class("cnnviz-predicted-mask")

    def _on_mask_click(self, _mark: Any, content: dict) -> None:
        data = content.get("data") or {}
        try:
            row, col = int(float(data["click_y"])), int(float(data["click_x"]))
        except (KeyError, TypeError, ValueError):
            return
        if self.labels is not None and 0 <= row < self.shape[0] and 0 <= col < self.shape[1]:
            self.pick_class(int(self.labels[row, col]))

    def _on_brush(self, change: dict) -> None:
        """A drawn rectangle, once the mouse is released, becomes the box."""
        xs, ys = self.brush.selected_x, self.brush.selected_y
        if change["new"] or xs is None or ys is None or len(xs) < 2 or len(ys) < 2:
            return
        height, width = self.shape
        rows = (int(np.clip(np.floor(min(ys)), 0, height)),
                int(np.clip(np.ceil(max(ys)), 0, height)))
        cols = (int(np.clip(np.floor(min(xs)), 0, width)),
                int(np.clip(np.ceil(max(xs)), 0, width)))
        self._holding = True  # both sliders move, then one refresh (one run)
        try:
            self.rows.value, self.cols.value = rows, cols
        finally:
            self._holding = False
        self._refresh()

    def _class(self) -> int | None:
        chosen = int(self.class_control.value)
        if chosen >= 0:
            return chosen
        if self.labels is None:
            return None
        return int(np.bincount(self.labels.ravel(), minlength=self.classes).argmax())

    def _box(self) -> np.ndarray:
        mask = np.zeros(self.shape, bool)
        (top, bottom), (left, right) = self.rows.value, self.cols.value
        mask[top:bottom, left:right] = True
        return mask

    def _target(self) -> Any:
        if self.kind == "value":
            return RegressionTarget(int(self.output_control.value))
        choice, chosen = self.region_control.value, self._class()
        if choice == "predicted region":
            return None if int(self.class_control.value) < 0 else SegmentationTarget(chosen)
        if chosen is None:  # no image yet: nothing to explain
            return None
        if choice == "whole image":
            return ClassTarget(chosen)
        return SegmentationTarget(chosen, self._box())

    def _refresh(self) -> None:
        if self._holding:
            return
        if self.kind == "pixels":
            box = self.region_control.value == "box"
            self.rows.layout.display = self.cols.layout.display = None if box else "none"
            self.mask_figure.interaction = self.brush if box else None
            if self.region_control.value == "box" and not self._box().any():
                if self._report is not None:
                    self._report("The box is empty: widen the rows and columns sliders.")
                return
        target = self._target()
        self.note.value = html.escape(self._describe(target))
        self._draw()
        self.value = target

    def _describe(self, target: Any) -> str:
        if isinstance(target, RegressionTarget):
            return f"Explains what raises output {target.index}."
        chosen = self._class()
        name = "the top class" if chosen is None else f"class {self.names[chosen]}"
        region = self.region()
        where = {"predicted region": "the pixels predicted as it",
                 "whole image": "every pixel", "box": "the box"}[self.region_control.value]
        count = "" if region is None else f" ({int(region.sum())} pixels)"
        return f"Explains {name} summed over {where}{count}."

    def _draw(self) -> None:
        if self.kind != "pixels" or self.labels is None:
            return
        rgb = colour_labels(self.labels, classes=self.classes).astype(np.float32)
        region = self.region()
        if region is not None:
            rgb[~region] = rgb[~region] * 0.3 + 255 * 0.15  # the rest, dimmed
        spare = self._buffers[1] if self.mask_picture is self._buffers[0] else self._buffers[0]
        spare.value = encode_png(upscale_nearest(rgb.astype(np.uint8), min_side=160))
        self.mask_mark.image = self.mask_picture = spare
