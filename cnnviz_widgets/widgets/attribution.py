"""AttributionPanel: controls built from the method registry, overlay and top classes."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import numpy as np
from traitlets import List, Unicode, observe, validate

from .._deprecation import renamed_argument
from ..attribution._common import output_kind
from ..attribution.faithfulness import FaithfulnessResult, faithfulness
from ..attribution.overlay import overlay
from ..attribution.registry import METHODS, MethodSpec, ParamSpec
from ..engine.coerce import image_list, image_names
from ..errors import CnnvizError, InvalidSettingError
from ..render.encode import encode_png
from ..render.mpl import faithfulness_figure, figure_to_png
from ..render.upscale import upscale_nearest
from ..zoo.labels import top_classes
from . import attribution_volume as vol
from .controls import has_positions
from .panel import Flag, Panel, Text, Whole, check_index, close_widgets
from .picker import picker_for, reads_signals
from .targets import TargetPicker
from .trust import TrustRow

__all__ = ["AttributionPanel"]


def _side_by_side_rgb(pictures: Any, gap: int = 2) -> np.ndarray:
    """Pictures (N, H, W[, C]) of 0-255 as one RGB uint8 row, white ``gap`` between them."""
    row = []
    for picture in np.asarray(pictures):
        rgb = (picture if picture.ndim == 3 and picture.shape[-1] == 3
               else np.repeat(picture.reshape(*picture.shape[:2], 1), 3, axis=2))
        if row:
            row.append(np.full((rgb.shape[0], gap, 3), 255, np.uint8))
        row.append(rgb.astype(np.uint8))
    return np.concatenate(row, axis=1)


def _heat_over_time(heatmap: np.ndarray, length: int) -> tuple[np.ndarray, str]:
    """A signal's heatmap as one value per time step, and how it was read.

    A CAM is already (T,); a gradient map (T, C) gives, at each step, its largest value
    over the channels.
    """
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.ndim == 2 and heat.shape[0] == length:
        return heat.max(axis=1), " (largest over the channels at each step)"
    return heat.reshape(-1), ""


class AttributionPanel(Panel):
    """Explain a prediction: gradients, the CAM family or activation maximisation.

    The method dropdown and every parameter control are built from
    :data:`cnnviz_widgets.attribution.METHODS`, so a registered method appears here
    without new UI code. The result is shown over the input (heatmaps) or as an
    image (activation maximisation), next to the model's top-5 classes.

    For a model of volumes or videos (D, H, W, C) the methods that support volumes are
    listed, a gradient map's channels are reduced as for an image, and the (D, H, W) map
    is shown slice by slice with a depth slider, or every slice in a row
    (:class:`~.attribution_volume.VolumeHeatView`; moving the slider never calls the model).

    For a segmentation model (a per-pixel output) the class control becomes a class and
    a region, with the predicted mask beside the maps; for a regression model (one output
    value) it reads "raise output 0" (see :class:`~.targets.TargetPicker`).

    Heatmaps can be compared: ``side_by_side`` lists other heatmap methods shown next to
    the current one for the same image, class and layer, and each map gets its
    faithfulness (:func:`~cnnviz_widgets.attribution.faithfulness`: the deletion and
    insertion curves and their areas), so methods are compared with a number.

    Parameters
    ----------
    model_or_engine : keras.Model, ActivationEngine or FeatureMapExplorer
        The model to explain; a FeatureMapExplorer lends its engine, images and names.
    images : sequence, optional
        Images to choose from (default: the explorer's).
    class_names : sequence of str, optional
        Names of the output classes.
    method : str
        The method shown first.
    auto_run : bool
        Recompute when a control changes (heatmap methods only); otherwise use "Run".
    alpha : float
        Opacity of the heatmap over the image.
    side_by_side : sequence of str
        Heatmap methods (registry keys) shown next to the current one.
    show_faithfulness : bool
        Score every heatmap with its deletion and insertion curves (costs about
        40 extra forward passes per map).
    image_input, other_inputs, output : optional
        For a model with several inputs or outputs: the input that takes the image, the
        values held fixed for the others, and the output to explain (see
        :class:`~cnnviz_widgets.engine.activations.ActivationEngine`).

    Attributes
    ----------
    method : str
        Registry key of the method shown.
    image_index : int
        The image explained.
    result : Any
        The last result (a heatmap array or a ``MaximizationResult``).
    heatmaps : dict of str to numpy.ndarray
        Every heatmap on screen by method key, the current method first.
    scores : dict of str to FaithfulnessResult
        Their faithfulness, when ``show_faithfulness`` is on.
    run_count : int
        How many times a method ran.
    """

    method = Text("gradcam")
    image_index = Whole(0)
    side_by_side = List(Unicode())
    show_faithfulness = Flag(True)

    @renamed_argument("model", "model_or_engine")
    def __init__(self, model_or_engine: Any, images: Any = None, *, class_names: Any = None,
                 method: str = "gradcam", auto_run: bool = True, alpha: float = 0.5,
                 side_by_side: Any = (), show_faithfulness: bool = True,
                 image_input: int | str | None = None, other_inputs: Any = None,
                 output: int | str | None = None) -> None:
        explorer = (model_or_engine if hasattr(model_or_engine, "engine")
                    and hasattr(model_or_engine, "picker") else None)
        Panel.__init__(self, explorer.engine if explorer is not None else model_or_engine,
                       image_input=image_input, other_inputs=other_inputs, output=output)
        self.add_class("cnnviz-attribution")
        shape = self.engine.input_shape
        if explorer is not None and images is None:
            self.images, names = explorer.images, explorer.image_names
        else:
            self.images, names = image_list(images, shape), image_names(images, shape)
        if explorer is not None and class_names is None:
            class_names = explorer.class_names
        if class_names is None:
            from ..zoo.labels import class_names_for

            class_names = class_names_for(self.engine)
        if not self.images:
            raise InvalidSettingError(
                "Give images=[...] to explain; attribution needs an input image.")
        self.class_names = list(class_names) if class_names is not None else None
        self.auto_run = auto_run
        self.alpha = alpha
        self.result: Any = None
        self.heatmaps: dict[str, np.ndarray] = {}
        self.scores: dict[str, FaithfulnessResult] = {}
        self.run_count = 0
        self.controls: dict[str, w.Widget] = {}
        self._building = True
        self._running = False
        self._build(names)
        self.show_faithfulness = show_faithfulness
        self.side_by_side = list(side_by_side)
        if method == self.method:
            self._rebuild_params()
        else:
            self.method = method  # validated, then its controls are built
        self._building = False
        self._maybe_run()

    # -- public ------------------------------------------------------------------------
    @property
    def spec(self) -> MethodSpec:
        """The registry entry of the current method."""
        return METHODS[self.method]

    def values(self) -> dict[str, Any]:
        """The current parameter values, as the method receives them."""
        out = {}
        for p in self.spec.params:
            value = self.controls[p.name].value
            if p.kind in ("layer", "class") and value in ("", None, -1):
                value = None
            out[p.name] = value
        return out

    def run(self) -> Any:
        """Compute the current method on the current image and show it.

        For a heatmap method, the methods of ``side_by_side`` are computed too (with
        their defaults, and the current layer and class where they take one), and every
        map is scored for faithfulness when ``show_faithfulness`` is on.
        """
        spec = self.spec
        image = self.images[self.image_index]
        self.clear_error()
        self.progress.layout.display = None if spec.reports_progress else "none"
        self._running = True
        try:
            self._show_target(image)
            values = self.values()
            result = spec.run(self.engine, image, progress=self._on_progress, **values)
            if spec.output == "image":
                rgb = _side_by_side_rgb(getattr(result, "images", [result.image]))
                picture = encode_png(upscale_nearest(rgb, min_side=224))
                caption = (f"{spec.label}: objective {result.initial:.3g} -> "
                           f"{result.final:.3g} in {result.steps} steps")
                self.heatmaps, self.scores = {}, {}
                self._show_others([])
                self.trust.show_for()
            else:
                label = f"{spec.label} over {self.picker.names[self.image_index]}"
                if self.is_volume:
                    pixels = self.engine.pixels(image)
                    result = vol.volume_heat(self.method, result, pixels.shape)
                    self.volume_view.label = label
                    picture = self.volume_view.show(pixels, result, self.alpha)
                    how = self.volume_view.caption()
                else:
                    picture, how = self._heat_picture(image, result, min_side=224)
                caption = f"{label}{how}"
                self.heatmaps = {self.method: result, **self._others(image, values)}
                self.scores = self._faithfulness(image, values.get("target"))
                self._show_others([name for name in self.heatmaps if name != self.method])
                self.trust.show_for(*(() if self.is_volume else (
                    image, result, self.method, values, self.scores.get(self.method))))
            self.picture.value = picture
            self.caption.value = html.escape(caption)
            self._show_score(self.method, self.score_note, self.score_plot)
            self.result = result
            self.run_count += 1
            self.predictions.value = self._predictions_html(image)
        except CnnvizError as error:
            self.report(f"{error} {vol.volume_hint()}" if self.is_volume else error)
        except (ValueError, TypeError, KeyError, IndexError) as error:
            self.report(f"{spec.label} could not run with these settings: {error}"
                        + (f" {vol.volume_hint()}" if self.is_volume else ""))
        finally:
            self._running = False
        return self.result

    def _show_target(self, image: Any) -> None:
        """Give the target controls of a per-pixel output the image's predicted mask."""
        picker = self.controls.get("target")
        if isinstance(picker, TargetPicker):
            picker.show_image(image)

    @property
    def is_signal(self) -> bool:
        """True when the model reads signals (T, C): heatmaps are drawn under its lines."""
        return reads_signals(self.engine)

    @property
    def is_volume(self) -> bool:
        """True when the model reads volumes or videos (D, H, W, C)."""
        return getattr(self.engine.plan, "input_axes", "image") == "volume"

    def _heat_picture(self, image: Any, heatmap: np.ndarray, min_side: int,
                      figsize: tuple[float, float] = (6.0, 2.6)) -> tuple[bytes, str]:
        """PNG of ``heatmap`` over ``image`` (an overlay), or for a signal its lines with
        the heatmap as a strip under them; and words for the caption."""
        pixels = self.engine.pixels(image)
        if self.is_volume:  # the slice (or the montage) the main view shows
            return (self.volume_view.picture(vol.volume_overlays(pixels, heatmap, self.alpha),
                                             min_side), self.volume_view.caption())
        if not self.is_signal:
            rgb = overlay(pixels, heatmap, alpha=self.alpha)
            return encode_png(upscale_nearest(rgb, min_side=min_side)), ""
        from ..render.signal import signal_figure

        heat, how = _heat_over_time(heatmap, pixels.shape[0])
        fig = signal_figure(pixels, heat=heat, figsize=figsize)
        return figure_to_png(fig, dpi=int(min_side * 100 // 224)), how

    def _others(self, image: Any, values: dict[str, Any]) -> dict[str, np.ndarray]:
        """The heatmaps of the ``side_by_side`` methods, sharing the layer and the class."""
        maps = {}
        for name in self.side_by_side:
            other = METHODS[name]
            if name == self.method or other.output != "heatmap":
                continue
            own = {p.name for p in other.params}
            shared = {k: v for k, v in values.items() if k in own and k in ("layer", "target")}
            heat = other.run(self.engine, image, **shared)
            maps[name] = (vol.volume_heat(name, heat, self.engine.pixels(image).shape)
                          if self.is_volume else heat)
        return maps

    def _faithfulness(self, image: Any, target: Any) -> dict[str, FaithfulnessResult]:
        """Deletion and insertion scores of every heatmap on screen (empty when off)."""
        self.score_error = ""
        if not self.show_faithfulness:
            return {}
        if self.is_volume:
            self.score_error = "Faithfulness scores 2-D maps; it is not computed for volumes."
            return {}
        try:
            return dict(faithfulness(self.engine, image, dict(self.heatmaps), target=target))
        except (CnnvizError, ValueError, IndexError) as error:
            self.score_error = f"Faithfulness is not available for this model: {error}"
            return {}

    def _show_score(self, name: str, note: w.HTML, plot: w.Image) -> None:
        result = self.scores.get(name)
        if result is None:
            note.value = html.escape(self.score_error) if self.show_faithfulness else ""
            plot.layout.display = "none"
            return
        note.value = (
            f"<span class='cnnviz-faithfulness'>deletion AUC <b>{result.deletion_auc:.3f}</b>"
            f" (lower is better) &middot; insertion AUC <b>{result.insertion_auc:.3f}</b>"
            " (higher is better)</span>")
        plot.value = figure_to_png(faithfulness_figure(result.fractions, result.deletion,
                                                       result.insertion))
        plot.layout.display = None

    def _show_others(self, names: list[str]) -> None:
        """One cell per side-by-side method: its overlay, its name and its faithfulness."""
        old = list(self.others.children)
        image = self.images[self.image_index]
        cells = []
        for name in names:
            data, _ = self._heat_picture(image, self.heatmaps[name], min_side=160,
                                         figsize=(3.6, 2.0))
            picture = w.Image(format="png", value=data)
            note, plot = w.HTML(), w.Image(format="png")
            self._show_score(name, note, plot)
            cell = w.VBox([w.HTML(f"<b>{html.escape(METHODS[name].label)}</b>"), picture,
                           note, plot], layout=w.Layout(max_width="260px"))
            cell.add_class("cnnviz-side-by-side")
            cells.append(cell)
        self.others.children = cells
        close_widgets(old)

    # -- traits ------------------------------------------------------------------------
    def _on_progress(self, step: int, total: int) -> None:
        with self.progress.hold_sync():
            self.progress.max = max(total, 1)
            self.progress.value = step

    @validate("method")
    def _valid_method(self, proposal: dict) -> str:
        if proposal["value"] not in METHODS:
            raise self.report(InvalidSettingError(
                f"Unknown method {proposal['value']!r}; choose one of "
                + ", ".join(sorted(METHODS)) + "."))
        if self.is_volume and proposal["value"] not in vol.volume_methods():
            raise self.report(vol.unsupported_for_volumes(proposal["value"]))
        return proposal["value"]

    @validate("image_index")
    def _valid_image(self, proposal: dict) -> int:
        return check_index(self, proposal["value"], len(self.images), "image", "the panel")

    @observe("method")
    def _on_method(self, change: dict) -> None:
        self._rebuild_params()
        self._maybe_run()

    @observe("image_index")
    def _on_image(self, change: dict) -> None:
        self._maybe_run()

    @validate("side_by_side")
    def _valid_side_by_side(self, proposal: dict) -> list[str]:
        names = list(proposal["value"])
        wrong = [n for n in names if n not in self._heatmap_methods()]
        if wrong:
            raise self.report(InvalidSettingError(
                f"side_by_side takes heatmap methods; {', '.join(map(repr, wrong))} "
                "is not one. Choose from " + ", ".join(self._heatmap_methods()) + "."))
        return names

    @observe("side_by_side", "show_faithfulness")
    def _on_comparison(self, change: dict) -> None:
        self._maybe_run()

    def _heatmap_methods(self) -> list[str]:
        usable = vol.volume_methods() if self.is_volume else list(METHODS)
        return [name for name in usable if METHODS[name].output == "heatmap"]

    # -- helpers -----------------------------------------------------------------------
    def _predictions_html(self, image: Any) -> str:
        output = self.engine.activation(self.engine.output, image)
        if output.ndim != 1:
            return ""
        rows = "".join(f"<li>{html.escape(name)}: {value:.3f}</li>"
                       for _, name, value in top_classes(output, self.class_names))
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
            names = [i.name for i in self.engine.layers if has_positions(i)]
            return w.Dropdown(options=[("(default)", "")] + [(n, n) for n in names], value="",
                              description=p.label, style=style)
        if self.spec.output == "heatmap" and output_kind(self.engine) != "classes":
            # a per-pixel output: a class and a region; a single value: "raise output 0"
            return TargetPicker(self.engine, self.class_names, report=self.report,
                                description=p.label)
        # class: a dropdown of names when known, else an index
        width = self.engine.layer(self.engine.output).output_shape
        n = int(width[-1]) if width and width[-1] else 0
        labels = self.class_names if self.class_names and len(self.class_names) == n else None
        options = [("(predicted)", -1)] + [
            (f"{i}: {labels[i]}" if labels else str(i), i) for i in range(n)]
        return w.Dropdown(options=options, value=-1, description=p.label, style=style)

    def _rebuild_params(self) -> None:
        """New controls for the method's parameters; the previous ones are closed."""
        spec = self.spec
        old = list(self.controls.values())
        self.controls = {p.name: self._control_for(p) for p in spec.params}
        for control in self.controls.values():
            control.observe(lambda change: self._maybe_run(), names="value")
        self.params_box.children = list(self.controls.values())
        self.target_view.children = [c.view for c in self.controls.values()
                                     if isinstance(c, TargetPicker)]
        close_widgets(old)
        self._description.value = html.escape(spec.description)
        self.progress.layout.display = "none"

    def _maybe_run(self) -> None:
        if not self._building and not self._running and self.auto_run \
                and self.spec.output == "heatmap":
            self.run()

    def _build(self, names: list[str]) -> None:
        usable = vol.volume_methods() if self.is_volume else list(METHODS)
        self.method_control = w.Dropdown(options=[(METHODS[n].label, n) for n in usable],
                                         description="Method")
        self.method_control.add_class("cnnviz-method")
        self.picker = picker_for(self.engine, self.images, names)
        self.params_box = w.VBox()
        self._run_button = w.Button(description="Run", icon="play", button_style="primary")
        self._run_button.add_class("cnnviz-run")
        self._run_button.on_click(lambda _: self.run())
        self.progress = w.IntProgress(min=0, max=1, layout=w.Layout(display="none"))
        self.picture = w.Image(format="png")
        self.picture.add_class("cnnviz-attribution-view")
        self.caption = w.HTML()
        self.volume_view = vol.VolumeHeatView(self.picture, self.caption)
        self._description = w.HTML()
        self.predictions = w.HTML()
        self.score_error = ""
        self.score_note = w.HTML()
        self.score_plot = w.Image(format="png", layout=w.Layout(display="none"))
        self.others = w.HBox()
        self.target_view = w.VBox()
        self.compare_control = w.SelectMultiple(
            options=[(METHODS[n].label, n) for n in self._heatmap_methods()],
            description="Side by side", rows=4, style={"description_width": "110px"})
        self.compare_control.add_class("cnnviz-compare-methods")
        self.faithfulness_control = w.Checkbox(description="Faithfulness", indent=False)
        self.faithfulness_control.add_class("cnnviz-faithfulness-toggle")
        self.bind(self.method_control, "method")
        self.bind(self.picker, "image_index", control_name="index")
        self.bind(self.compare_control, "side_by_side", to_owner=list, to_control=tuple)
        self.bind(self.faithfulness_control, "show_faithfulness")
        self.trust = TrustRow(self.engine, report=self.report)
        main = w.VBox([self.picture, self.score_note, self.score_plot, self.trust],
                      layout=w.Layout(max_width="300px"))
        self.children = [
            w.HBox([self.method_control, self._run_button, self.progress]),
            self._description,
            self.picker,
            self.params_box,
            w.HBox([self.compare_control, self.faithfulness_control]),
            self.errors,
            self.caption,
            self.volume_view.row,
            w.HBox([main, self.target_view, self.others, self.predictions]),
        ]

