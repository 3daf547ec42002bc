"""AttributionPanel: controls built from the method registry, overlay and top classes."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import numpy as np
from traitlets import Int, Unicode, observe, validate

from ..attribution.overlay import overlay
from ..attribution.registry import METHODS, MethodSpec, ParamSpec
from ..engine.activations import ActivationEngine
from ..errors import CnnvizError, InvalidSettingError, SelectionOutOfRangeError
from ..render.image import encode_png, upscale_nearest
from ..zoo.labels import top_classes
from .controls import ErrorBox

__all__ = ["AttributionPanel"]


class AttributionPanel(w.VBox):
    """Explain a prediction: saliency, SmoothGrad, Grad-CAM or activation maximisation.

    The method dropdown and every parameter control are built from
    :data:`cnnviz_widgets.attribution.METHODS`, so a registered method appears here
    without new UI code. The result is shown over the input (heatmaps) or as an
    image (activation maximisation), next to the model's top-5 classes.

    Parameters
    ----------
    model : keras.Model, ActivationEngine or FeatureMapExplorer
        The model to explain; a FeatureMapExplorer lends its engine, images and names.
    images : sequence, optional
        Images to choose from (default: the explorer's).
    class_names : sequence of str, optional
        Names of the output classes.
    method : str
        The method shown first.
    auto_run : bool
        Recompute when a control changes (heatmap methods only); otherwise use "Run".
    """

    method = Unicode("gradcam")
    image_index = Int(0)

    def __init__(self, model: Any, images: Any = None, *, class_names: Any = None,
                 method: str = "gradcam", auto_run: bool = True, alpha: float = 0.5) -> None:
        super().__init__()
        self.add_class("cnnviz-attribution")
        if hasattr(model, "engine") and hasattr(model, "current_activation"):
            self.engine = model.engine
            images = images if images is not None else model.images
            class_names = class_names if class_names is not None else model.class_names
        elif isinstance(model, ActivationEngine):
            self.engine = model
        else:
            self.engine = ActivationEngine(model)
        self.images = list(images) if images is not None else []
        if not self.images:
            raise CnnvizError("Give images=[...] to explain; attribution needs an input image.")
        self.class_names = list(class_names) if class_names is not None else None
        self.auto_run = auto_run
        self.alpha = alpha
        self.result: Any = None
        self.run_count = 0
        self._controls: dict[str, w.Widget] = {}
        self._building = False
        self._build()
        self.method = method
        self._sync_method()

    # -- public ------------------------------------------------------------------------
    @property
    def spec(self) -> MethodSpec:
        """The registry entry of the current method."""
        return METHODS[self.method]

    def values(self) -> dict[str, Any]:
        """The current parameter values, as the method receives them."""
        out = {}
        for p in self.spec.params:
            value = self._controls[p.name].value
            if p.kind in ("layer", "class") and value in ("", None, -1):
                value = None
            out[p.name] = value
        return out

    def run(self) -> Any:
        """Compute the current method on the current image and show it."""
        spec = self.spec
        image = self.images[self.image_index]
        self._errors.clear()
        progress = self._progress

        def on_progress(step: int, total: int) -> None:
            progress.max = max(total, 1)
            progress.value = step

        try:
            values = self.values()
            if spec.output == "image":
                self._progress.layout.display = None
                method = spec.build(self.engine, **{p.name: values[p.name] for p in spec.params
                                                    if p.stage == "init"})
                call = {p.name: values[p.name] for p in spec.params if p.stage == "call"}
                call = {**spec.fixed, **call}
                result = spec.runner(method, image, {**call, "progress": on_progress})
                picture = np.asarray(result.image)
                self._output.value = encode_png(upscale_nearest(
                    picture if picture.ndim == 3 and picture.shape[-1] == 3
                    else np.repeat(picture.reshape(*picture.shape[:2], 1), 3, axis=2),
                    min_side=224))
                self._caption.value = html.escape(
                    f"{spec.label}: objective {result.initial:.3g} -> {result.final:.3g} "
                    f"in {result.steps} steps")
            else:
                result = spec.run(self.engine, image, **values)
                pixels = self.engine.pixels(image)
                rgb = overlay(pixels, result, alpha=self.alpha)
                self._output.value = encode_png(upscale_nearest(rgb, min_side=224))
                self._caption.value = html.escape(f"{spec.label} over {self._image_name()}")
            self.result = result
            self.run_count += 1
            self._predictions.value = self._predictions_html(image)
        except CnnvizError as error:
            self._errors.show(str(error))
        except (ValueError, TypeError, KeyError) as error:
            self._errors.show(f"{spec.label} could not run with these settings: {error}")
        return self.result

    # -- traits ------------------------------------------------------------------------
    @validate("method")
    def _valid_method(self, proposal: dict) -> str:
        if proposal["value"] not in METHODS:
            error = InvalidSettingError(f"Unknown method {proposal['value']!r}; choose one of "
                                        + ", ".join(sorted(METHODS)) + ".")
            self._errors.show(str(error))
            raise error
        return proposal["value"]

    @validate("image_index")
    def _valid_image(self, proposal: dict) -> int:
        value = proposal["value"]
        if not 0 <= value < len(self.images):
            error = SelectionOutOfRangeError(
                f"There is no image {value}; there are {len(self.images)} (0 to "
                f"{len(self.images) - 1}).")
            self._errors.show(str(error))
            raise error
        return value

    @observe("method")
    def _on_method(self, change: dict) -> None:
        self._sync_method()

    @observe("image_index")
    def _on_image(self, change: dict) -> None:
        self._image_picker.value = self.image_index
        self._maybe_run()

    # -- helpers -----------------------------------------------------------------------
    def _image_name(self) -> str:
        return f"image {self.image_index}"

    def _predictions_html(self, image: Any) -> str:
        output = self.engine.activation(self.engine.layers[-1].name, image)
        if output.ndim != 1:
            return ""
        rows = "".join(
            f"<li>{html.escape(name)}: {value:.3f}</li>"
            for _, name, value in top_classes(output, self.class_names)
        )
        return f'<b>Top classes</b><ol class="cnnviz-top-classes">{rows}</ol>'

    def _control_for(self, p: ParamSpec) -> w.Widget:
        style = {"description_width": "110px"}
        if p.kind == "int":
            return w.IntSlider(value=p.default, min=int(p.min or 0), max=int(p.max or 100),
                               step=int(p.step or 1), description=p.label, style=style,
                               continuous_update=False, tooltip=p.help)
        if p.kind == "float":
            return w.FloatSlider(value=p.default, min=p.min or 0.0, max=p.max or 1.0,
                                 step=p.step or 0.01, description=p.label, style=style,
                                 continuous_update=False, tooltip=p.help)
        if p.kind == "bool":
            return w.Checkbox(value=bool(p.default), description=p.label)
        if p.kind == "choice":
            return w.Dropdown(options=list(p.choices), value=p.default, description=p.label,
                              style=style)
        if p.kind == "layer":
            names = [i.name for i in self.engine.layers if i.is_spatial]
            return w.Dropdown(options=[("(default)", "")] + [(n, n) for n in names], value="",
                              description=p.label, style=style)
        # class: a dropdown of names when known, else an index
        width = self.engine.layers[-1].output_shape
        n = int(width[-1]) if width and width[-1] else 0
        labels = self.class_names if self.class_names and len(self.class_names) == n else None
        options = [("(predicted)", -1)] + [
            (f"{i}: {labels[i]}" if labels else str(i), i) for i in range(n)
        ]
        return w.Dropdown(options=options, value=-1, description=p.label, style=style)

    def _sync_method(self) -> None:
        spec = self.spec
        self._building = True
        try:
            self._method_dd.value = spec.name
            self._controls = {p.name: self._control_for(p) for p in spec.params}
            for control in self._controls.values():
                control.observe(lambda change: self._maybe_run(), names="value")
            self._params_box.children = list(self._controls.values())
            self._description.value = html.escape(spec.description)
            self._progress.layout.display = "none"
        finally:
            self._building = False
        self._maybe_run()

    def _maybe_run(self) -> None:
        if self._building:
            return
        if self.auto_run and self.spec.output == "heatmap":
            self.run()

    def _build(self) -> None:
        self._errors = ErrorBox()
        self._method_dd = w.Dropdown(options=[(s.label, s.name) for s in METHODS.values()],
                                     description="Method")
        self._method_dd.add_class("cnnviz-method")
        self._method_dd.observe(self._from_method, names="value")
        self._image_picker = w.ToggleButtons(options=[(str(i), i) for i in range(
            len(self.images))] if len(self.images) <= 12 else [], description="Image")
        if len(self.images) > 12:
            self._image_picker = w.IntSlider(min=0, max=len(self.images) - 1,
                                             description="Image", continuous_update=False)
        self._image_picker.observe(self._from_image, names="value")
        self._params_box = w.VBox()
        self._run_button = w.Button(description="Run", icon="play", button_style="primary")
        self._run_button.add_class("cnnviz-run")
        self._run_button.on_click(lambda _: self.run())
        self._progress = w.IntProgress(min=0, max=1, layout=w.Layout(display="none"))
        self._output = w.Image(format="png")
        self._output.add_class("cnnviz-attribution-view")
        self._caption = w.HTML()
        self._description = w.HTML()
        self._predictions = w.HTML()
        self.children = [
            w.HBox([self._method_dd, self._run_button, self._progress]),
            self._description,
            self._image_picker,
            self._params_box,
            self._errors,
            self._caption,
            w.HBox([self._output, self._predictions]),
        ]

    def _from_method(self, change: dict) -> None:
        if not self._building:
            try:
                self.method = change["new"]
            except CnnvizError:
                pass

    def _from_image(self, change: dict) -> None:
        try:
            self.image_index = int(change["new"])
        except CnnvizError:
            pass
