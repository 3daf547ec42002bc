"""The receptive-field view: where one position of a layer looks in the input.

For a map, the theoretical box (the anatomy's arithmetic) drawn on the input and, beside
it, the effective receptive field (the position's gradient with respect to the input) as
an overlay; for a time step of a model of signals, the signal drawn as lines with the
steps the position sees shaded, and its gradient over time under them.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import numpy as np

from ...engine.activations import ActivationEngine
from ...errors import CnnvizError
from ...render.crops import draw_outline
from ...render.encode import encode_png
from ...render.upscale import upscale_nearest

__all__ = ["ReceptiveFieldView"]

Box = tuple[int, int, int, int]


class ReceptiveFieldView(w.VBox):
    """A caption and two pictures: the box on the input, and the effective receptive field.

    Hidden until a field is shown; the explorer hides it again when the layer, image or
    channel changes (the field belonged to another map).

    Attributes
    ----------
    caption : ipywidgets.HTML
        What the position sees, in words.
    box_image : ipywidgets.Image
        The input with the box outlined (a signal: its lines with the steps shaded).
    gradient : ipywidgets.Image
        The effective receptive field over the input, the box outlined (hidden for a
        signal, whose gradient is drawn under its lines).
    field : tuple or None
        The last field shown: ``(row, col, (top, left, bottom, right))``, or None.
    """

    def __init__(self) -> None:
        self.caption = w.HTML()
        self.box_image = w.Image(format="png")
        self.gradient = w.Image(format="png")
        self.field: tuple[int, int, Box] | None = None
        super().__init__([self.caption, w.HBox([self.box_image, self.gradient])],
                         layout=w.Layout(display="none"))
        self.add_class("cnnviz-receptive-field")

    def show(self, engine: ActivationEngine, layer: str, row: int, col: int, image: Any,
             channel: int | None, *, over_time: bool = False) -> Box:
        """:meth:`show_steps` of step ``row`` when ``over_time`` (a sequence layer of a model
        of signals), else :meth:`show_box` of position (``row``, ``col``)."""
        if over_time:
            return self.show_steps(engine, layer, int(row), image, channel)
        return self.show_box(engine, layer, row, col, image, channel)

    def show_box(self, engine: ActivationEngine, layer: str, row: int, col: int, image: Any,
                 channel: int | None) -> Box:
        """Show where position (``row``, ``col``) of ``layer``'s maps looks in ``image``:
        the box and the gradient of that position (of ``channel``, or of all channels).

        Returns the box (top, left, bottom, right) in input pixels; raises the engine's
        :class:`~cnnviz_widgets.errors.CnnvizError` for a layer without maps or a position
        outside them.
        """
        from ...attribution.overlay import overlay
        from ...attribution.receptive import effective_receptive_field
        from ...engine.receptive import receptive_box

        pixels = engine.pixels(image)
        size = tuple(pixels.shape[:2]) if None in engine.input_shape[:2] else None
        box = receptive_box(engine, layer, row, col, image_size=size)
        field = effective_receptive_field(engine, image, layer, row, col, channel=channel)
        rgb = np.clip(pixels, 0, 255).astype(np.uint8)
        rgb = rgb if rgb.ndim == 3 and rgb.shape[-1] == 3 else np.repeat(
            rgb.reshape(*rgb.shape[:2], 1), 3, axis=2)
        peak = float(field.max())
        heat = overlay(pixels, field / peak if peak > 0 else field, alpha=0.6)
        thickness = max(1, max(rgb.shape[:2]) // 112)
        self.box_image.value = encode_png(upscale_nearest(
            draw_outline(rgb, box, thickness=thickness), min_side=224))
        self.gradient.value = encode_png(upscale_nearest(
            draw_outline(heat, box, thickness=thickness), min_side=224))
        self.gradient.layout.display = None
        top, left, bottom, right = box
        of = "all channels" if channel is None else f"channel {channel}"
        self._shown(
            f"{layer} position (row {row}, col {col}) sees input rows {top}-{bottom - 1} "
            f"and columns {left}-{right - 1} ({bottom - top} x {right - left} pixels, "
            f"outlined); right: how much each pixel moves it ({of}), the effective "
            f"receptive field.", (int(row), int(col), box))
        return box

    def show_steps(self, engine: ActivationEngine, layer: str, step: int, image: Any,
                   channel: int | None) -> Box:
        """Show which input steps time step ``step`` of a sequence layer sees: the signal
        drawn as lines with those steps shaded, and under it the position's gradient over
        time when the attribution methods can compute it.

        Returns the box (top, 0, bottom, 1 or the width) of the steps; raises the engine's
        :class:`~cnnviz_widgets.errors.CnnvizError` for a step outside the layer.
        """
        from ...attribution.receptive import effective_receptive_field
        from ...engine.receptive import receptive_box
        from ...render.mpl import figure_to_png
        from ...render.signal import signal_figure

        box = receptive_box(engine, layer, step, 0)
        signal = engine.pixels(image)
        top, _, bottom, _ = box
        try:
            field = np.abs(np.asarray(effective_receptive_field(
                engine, image, layer, step, 0, channel=channel)))
            heat = field.reshape(signal.shape[0], -1).max(axis=1)
            gradient = ("; the strip under it: how much each step moves it, the effective "
                        "receptive field")
        except CnnvizError:  # no gradient over time for this layer: the box alone
            heat, gradient = None, ""
        fig = signal_figure(signal, heat=heat, window=(top, bottom), heat_label="gradient",
                            title=f"{layer} step {step}", figsize=(7.0, 2.6))
        self.box_image.value = figure_to_png(fig)
        self.gradient.layout.display = "none"
        self._shown(f"{layer} step {step} sees input steps {top}-{bottom - 1} "
                    f"({bottom - top} steps, shaded){gradient}.", (int(step), 0, box))
        return box

    def _shown(self, caption: str, field: tuple[int, int, Box]) -> None:
        self.caption.value = html.escape(caption)
        self.layout.display = None
        self.field = field

    def hide(self) -> None:
        """Forget the field shown and hide the view."""
        self.field = None
        self.layout.display = "none"
