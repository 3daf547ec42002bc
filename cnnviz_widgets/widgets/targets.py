"""What the attribution panel explains, for a model whose output is not a class vector.

A segmentation model's per-pixel output (height, width, classes) is explained for a class
and a region: the predicted mask is shown in the colours of
:func:`~cnnviz_widgets.colour.colour_labels`, with the region explained in full colour
and the rest dimmed; a class is picked from the dropdown or by clicking its colour in the
legend, the region from "predicted region" (the pixels predicted as the class), "whole
image" or "box" (two range sliders). A regression model's single output is explained as
"raise output i". Moving a control never runs the model: the predicted mask comes from the
engine's cached output of the image, read once per image by :meth:`TargetPicker.show_image`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import numpy as np
from traitlets import Any as AnyTrait

from ..attribution.scores import ClassTarget, RegressionTarget, SegmentationTarget
from ..colour import colour_labels, label_colours, predicted_labels
from ..render.encode import encode_png
from ..render.upscale import upscale_nearest

__all__ = ["REGIONS", "TargetPicker", "target_kind"]

#: The regions a class of a per-pixel output is explained over.
REGIONS = ("predicted region", "whole image", "box")


def target_kind(engine: Any) -> str:
    """``"pixels"`` for a per-pixel output (height, width, classes), ``"value"`` for a
    single value (a regression), ``"classes"`` for anything else (a class vector)."""
    shape = tuple(engine.layer(engine.output).output_shape)
    if len(shape) == 3 and None not in shape:
        return "pixels"
    if shape == (1,):
        return "value"
    return "classes"


def _hex(rgb: Sequence[int]) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in rgb)


class TargetPicker(w.VBox):
    """Controls whose :attr:`value` is the target of the attribution methods.

    Parameters
    ----------
    engine : ActivationEngine
        The panel's engine; its output is per-pixel or a single value
        (:func:`target_kind`).
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
        self.kind = target_kind(engine)
        self.description = description
        self._report = report
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
        self.mask_picture = w.Image(format="png")
        self.mask_picture.add_class("cnnviz-predicted-mask")
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
        self.view = w.VBox([w.HTML("<b>Predicted mask</b> (click a class to explain it)"),
                            self.mask_picture, w.HBox(self.legend), self.note],
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

    # -- internals ---------------------------------------------------------------------
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
        if self.kind == "pixels":
            self.rows.layout.display = self.cols.layout.display = \
                None if self.region_control.value == "box" else "none"
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
        self.mask_picture.value = encode_png(upscale_nearest(rgb.astype(np.uint8),
                                                             min_side=160))
