"""FeatureMapExplorer: the state, a canvas, the image picker, "explain channel" and the
dataset view, wired."""

from __future__ import annotations

import contextlib
import html
import os
from collections.abc import Sequence
from typing import Any

import ipywidgets as w
import numpy as np
from traitlets import observe

from ...colour.normalize import NORMALIZATIONS, default_colormap
from ...engine.coerce import image_list, image_names
from ...errors import (
    CnnvizError,
    InvalidSettingError,
    LayerNotViewableError,
    SelectionOutOfRangeError,
)
from ...layout.order import CHANNEL_ORDERS
from ...layout.tokens import LayerMaps, layer_maps
from ...render.encode import encode_png
from ...render.maps import render_channel, render_grid, render_strip
from ...render.upscale import upscale_nearest
from ...render.view import (
    NORMALIZATION_LABELS,
    CanvasValue,
    ErrorValue,
    MapValue,
    SeriesValue,
    VectorValue,
    colorbar_html,
)
from ...zoo.labels import class_names_for, top_classes
from ..controls import layer_options
from ..panel import Panel
from ..picker import picker_for, reads_signals
from .canvas import BqCanvas, ImageCanvas, make_canvas
from .dataset import DatasetView
from .explain import ChannelExplainer
from .state import BACKENDS, COLORMAPS, STATE_TRAITS, ExplorerState

__all__ = ["FeatureMapExplorer", "explore"]


def _default_samples(engine: Any) -> tuple[list[Any], list[str]]:
    """The package's sample images that suit the model: digits for grayscale, photos for RGB,
    none for a model of signals."""
    if reads_signals(engine):
        return [], []
    shape = engine.input_shape
    grayscale = len(shape) == 2 or shape[-1] == 1
    try:
        from ... import zoo

        if grayscale:
            images, labels = zoo.digit_samples()
            return list(images[:10]), [f"digit {int(label)}" for label in labels[:10]]
        photos = zoo.samples()
        return [s.image for s in photos], [s.name for s in photos]
    except Exception:  # noqa: BLE001 - samples are a convenience; the panel works without
        return [], []


def _nonfinite_note(activation: np.ndarray) -> str:
    """A caption suffix that says how many values are NaN or infinite (blank on screen)."""
    if activation.dtype.kind != "f" or np.isfinite(activation).all():
        return ""
    nan = int(np.isnan(activation).sum())
    inf = int(np.isinf(activation).sum())
    parts = [f"{n} {what}" for n, what in ((nan, "NaN"), (inf, "infinite")) if n]
    return (f" | warning: {' and '.join(parts)} value(s) of {activation.size}, shown blank "
            "and left out of the colour scale; check the layer's weights and inputs")


class FeatureMapExplorer(ExplorerState, Panel):
    """Interactive panel that shows the feature maps of any layer for any image.

    Every control is mirrored by a trait, so the panel can be driven from Python as
    well as by hand: ``ex.layer = "block3_conv1"; ex.channel = 5``. Changing the
    channel, normalisation, colour map, order or page never runs the model; changing
    the layer or image asks the engine once (and hits its cache when it can).

    Parameters
    ----------
    model : keras.Model or ActivationEngine
        The model to explore, or an engine built on it.
    images : sequence or array, optional
        Images to pick from: paths, bytes, PIL images or arrays; an array of shape
        (N, H, W[, C]) is a stack of N images (an index slider appears when it is long).
    class_names : sequence of str, optional
        Names of the output classes, used to label vector layers. Known for the
        package's digits model and for 1000-class ImageNet models.
    include_samples : bool
        Append the package's sample images (after ``images``).
    layer, channel, normalization, colormap, backend : optional
        Initial state; see the traits.
    per_page : int
        Channels per page in the grid (default 64, an 8 x 8 grid).
    dataset : images or ScanResult, optional
        A data set for the dataset view (see ``dataset`` below); None: no dataset view
        and no scan.
    dataset_labels : sequence of int, optional
        One label per image of ``dataset`` (an array or a list); a ``tf.data`` set of
        (image, label) pairs and a ``ScanResult`` carry their own. Labels are named with
        the set's class names, else with ``class_names``.
    dataset_top_k : int
        Top images the dataset view shows per channel.
    preprocess, cache_bytes
        Passed to the :class:`ActivationEngine` when a model is given.
    image_input, other_inputs, output : optional
        For a model with several inputs or outputs: the input that takes the images (name
        or index), ``{name: values}`` held fixed for the other inputs, and the output to
        explain; passed to the engine built for a model (see
        :class:`~cnnviz_widgets.engine.activations.ActivationEngine`).

    Notes
    -----
    Layers that are not images are laid out by what their axes mean
    (:func:`~cnnviz_widgets.layout.tokens.layer_maps`): a 1-D convolution's (T, C)
    output is a heat strip, one row per channel with time along x, and one channel is a
    line over time; a transformer's tokens (T, D) that form a square patch grid are shown
    as maps of that grid (the class token left out), other tokens as a strip. For a model
    of signals, ``images`` are arrays (T, C) or a stack (N, T, C): the input is drawn as
    lines, the picker shows small line plots, and no sample images are added.

    Attributes
    ----------
    layer : str
        Name of the layer shown (see ``engine.layer_names``).
    channel : int or None
        The channel zoomed in on, or None for the grid of all channels.
    normalization : str
        ``"channel"``, ``"layer"``, ``"standardize"`` or ``"signed"``.
    colormap : str
        A matplotlib colour map name.
    image_index : int
        Index into ``images`` (in their order), followed by the package's samples.
    backend : str
        ``"matplotlib"`` (static image, colour bar) or ``"bqplot"`` (pan, zoom, hover,
        click a tile to zoom on its channel).
    channel_order : str
        Grid order: ``"index"``, ``"mean"``, ``"max"``, ``"sparsity"`` or ``"class"``
        (each channel's contribution to the class ``target``: the mean over positions of
        gradient x activation, computed once per layer, image and class).
    target : int or None
        The class of the ``"class"`` order; None: the image's predicted class.
    page : int
        Page of the grid when a layer has more than ``per_page`` channels.
    dataset : images, ScanResult or None
        The data set of the dataset view: an array (N, H, W[, C]), a list of images or
        paths, a folder, a ``tf.data`` set, or a ``ScanResult`` computed before (with
        ``result.attach(images, engine.input_shape)`` after ``ScanResult.load``). The
        view shows the current channel's top images cropped to the receptive field of
        their maximum, the histogram of its per-image maximum and the layer's dead
        channels. Each layer is scanned once, when first shown (a scan result's layers
        need no scan); None removes the view.
    dataset_view : DatasetView or None
        The dataset view, while ``dataset`` is set.
    compare : {None, "image", "model"}
        None: one view. ``"image"``: the current image and image ``compare_index`` side
        by side for the same layer, channel and scale (one colour scale for both), and
        below them their difference (left minus right) in a diverging colour map centred
        on 0. ``"model"``: the same for the model and ``compare_model`` on the current
        image.
    compare_index : int
        The image the current one is compared with.
    compare_model : keras.Model, ActivationEngine or None
        Another model with the same layer names, typically an earlier checkpoint of this
        one (also a constructor argument); setting it switches ``compare`` to
        ``"model"``, None switches back. A layer it lacks, or has with another shape, is
        a message in the panel.
    engine : ActivationEngine
        The engine behind the panel.
    canvas : ImageCanvas or BqCanvas
        Where the view is drawn (follows ``backend``).
    input_view : ipywidgets.Image
        A model of signals: the current signal drawn as lines (PNG), above the view;
        hidden for images.
    is_signal : bool
        True when the model reads signals (T, C) rather than images.
    errors : ErrorBox
        Where problems are reported.
    render_count : int
        Number of times the view was redrawn (for tests and benchmarks).
    """

    def __init__(
        self,
        model: Any,
        images: Any = None,
        *,
        class_names: Sequence[str] | None = None,
        include_samples: bool = True,
        layer: str | None = None,
        channel: int | None = None,
        normalization: str = "channel",
        colormap: str | None = None,
        backend: str = "matplotlib",
        per_page: int = 64,
        dataset: Any = None,
        dataset_labels: Any = None,
        dataset_top_k: int = 9,
        compare_model: Any = None,
        preprocess: Any = None,
        cache_bytes: int = 512 * 2**20,
        image_input: Any = None,
        other_inputs: Any = None,
        output: Any = None,
    ) -> None:
        Panel.__init__(self, model, preprocess=preprocess, cache_bytes=cache_bytes,
                       image_input=image_input, other_inputs=other_inputs, output=output)
        self.add_class("cnnviz-explorer")
        self.render_count = 0
        self._value: CanvasValue | None = None
        self.is_signal = reads_signals(self.engine)
        shape = self.engine.input_shape
        found, names = image_list(images, shape), image_names(images, shape)
        if include_samples:
            extra, extra_names = _default_samples(self.engine)
            found, names = found + extra, names + extra_names
        if not found and self.is_signal:
            raise CnnvizError(
                f"There are no signals to show. This model reads signals of shape {shape} "
                "(time steps, channels): pass images=signals, one array (T, C) or a stack "
                "(N, T, C).")
        if not found:
            raise CnnvizError(
                "There are no images to show. Pass images=[...] (paths, arrays or PIL "
                "images) or keep include_samples=True.")
        self.class_names = (list(class_names) if class_names is not None
                            else class_names_for(self.engine))
        with self.batch():
            self.setup_state(self.engine, found, names=names, per_page=per_page, layer=layer)
            self.dataset_class_names = self.class_names
            self._build_controls()
            self.normalization = normalization
            self.colormap = colormap or default_colormap(normalization)
            self.backend = backend
            self.channel = channel
            self.request_draw()
        if compare_model is not None:
            self.compare_model = compare_model
        if dataset is not None:
            self.dataset_labels = dataset_labels
            self.dataset_top_k = dataset_top_k
            self.dataset = dataset

    # -- what is on screen -------------------------------------------------------------
    @property
    def value(self) -> CanvasValue:
        """What the canvas shows now: a MapValue, a VectorValue or an ErrorValue."""
        if self._value is None:
            self._draw()
        return self._value

    def current_view(self) -> np.ndarray:
        """The 2-D float array on screen, after normalisation and tiling (NaN in gaps).

        For a vector layer this is the vector as one row. In compare mode it is the two
        views side by side (one scale), then the difference (0.5 is no difference), each
        separated by columns of NaN (and the shorter of the two padded below with NaN, as
        a grid of wide tiles may have fewer rows). Raises the error on screen when the
        view could not be drawn.
        """
        value = self.value
        if isinstance(value, ErrorValue):
            raise value.error
        if isinstance(value, VectorValue):
            return value.values[None, :]
        if self._difference_view is not None:  # compare: both views, then the difference
            joined, difference = value.rendered.view, self._difference_view.view
            height = max(joined.shape[0], difference.shape[0])  # grids may tile apart

            def padded(view: np.ndarray) -> np.ndarray:
                rows = np.full((height - view.shape[0], view.shape[1]), np.nan, np.float32)
                return np.concatenate([view, rows], axis=0)

            gap = np.full((height, _gap(difference.shape[1])), np.nan, np.float32)
            return np.concatenate([padded(joined), gap, padded(difference)], axis=1)
        return value.rendered.view

    def shown_channels(self) -> list[int]:
        """The channel indices on screen, in display order ([] for vectors and errors)."""
        value = self.value
        return list(value.rendered.layout.channels) if isinstance(value, MapValue) else []

    def refresh(self) -> None:
        """Forget cached activations and redraw, e.g. after the model's weights changed."""
        self.engine.clear_cache()
        self.forget()
        self._draw()

    def add_image(self, image: Any, name: str | None = None, select: bool = True) -> int:
        """Add an image to the picker (checked first) and return its index."""
        try:
            (image,) = image_list([image], self.engine.input_shape)
            self.engine.prepare(image)  # raises a clear error for an unusable image
        except CnnvizError as error:
            raise self.report(error) from None
        index = self.append_image(image, name or f"image {len(self.images)}")
        self.picker.add(self.image_names[index])
        with self.updating_controls():
            self._compare_with.options = self._image_options()
        if select:
            self.image_index = index
        return index

    def explain_channel(self, steps: int = 64) -> tuple[np.ndarray, Any]:
        """Show the current channel's heatmap over the input and what excites it most.

        What excites it is shown twice: the feature visualisation of activation
        maximisation and, with a ``dataset``, the data set's top images of the channel
        (from the same scan as the dataset view). Returns the overlay (uint8 RGB) and the
        activation-maximisation result. This is what the "Explain channel" button does;
        it runs the model (gradient ascent).
        """
        if self.channel is None:
            raise self.report(SelectionOutOfRangeError(
                "Pick one channel first (the Channel slider); the grid shows many channels."))
        laid = self.current_maps() if self.has_channels else None
        if laid is None or laid.strip or self.is_signal:  # a token grid has maps: patches
            raise self.report(LayerNotViewableError(
                f"{self.layer!r} has no spatial maps to lay over the input image."))
        activation = laid.maps
        crops: list[Any] = []
        if self.dataset_scans is not None:
            try:
                crops = self.dataset_scans.crops(self.layer, self.channel)
            except CnnvizError:  # the dataset view already says why in its own words
                crops = []
        return self.explainer.explain(self.engine, self.layer, self.channel, self.image,
                                      activation, steps, crops)

    def receptive_field(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Show where position (row, col) of the current layer looks in the input.

        The box is the theoretical receptive field from the anatomy's arithmetic
        (:func:`~cnnviz_widgets.engine.stages.receptive_box`), drawn on the input; next to
        it, the effective receptive field (the gradient of that position, of the current
        channel or of all channels, with respect to the input,
        :func:`~cnnviz_widgets.attribution.effective_receptive_field`) as an overlay.
        Clicking a position of the one-channel view in the bqplot canvas does the same.
        For a sequence layer of a model of signals, ``row`` is the time step (``col`` 0):
        the signal is drawn as lines with the steps the position sees shaded; a click on
        a step of the bqplot line does the same.

        Parameters
        ----------
        row, col : int
            A position of the current layer's maps.

        Returns
        -------
        (top, left, bottom, right) : tuple of int
            Input pixels ``image[top:bottom, left:right]`` (of the model's input size).

        Raises
        ------
        LayerNotViewableError, SelectionOutOfRangeError, InvalidSettingError
            For a layer without maps or a position outside them (also shown in the panel).
        """
        from ...attribution.overlay import overlay
        from ...attribution.receptive import effective_receptive_field
        from ...engine.stages import receptive_box
        from ...render.crops import draw_outline

        if self.is_signal and self.engine.layer(self.layer).layout == "sequence":
            return self._receptive_steps(int(row))
        try:
            pixels = self.engine.pixels(self.image)
            size = tuple(pixels.shape[:2]) if None in self.engine.input_shape[:2] else None
            box = receptive_box(self.engine, self.layer, row, col, image_size=size)
            field = effective_receptive_field(self.engine, self.layer, row, col, self.image,
                                              channel=self.channel)
        except CnnvizError as error:
            raise self.report(error) from None
        rgb = np.clip(pixels, 0, 255).astype(np.uint8)
        rgb = rgb if rgb.ndim == 3 and rgb.shape[-1] == 3 else np.repeat(
            rgb.reshape(*rgb.shape[:2], 1), 3, axis=2)
        peak = float(field.max())
        heat = overlay(pixels, field / peak if peak > 0 else field, alpha=0.6)
        thickness = max(1, max(rgb.shape[:2]) // 112)
        self._field_box_image.value = encode_png(upscale_nearest(
            draw_outline(rgb, box, thickness=thickness), min_side=224))
        self._field_gradient.value = encode_png(upscale_nearest(
            draw_outline(heat, box, thickness=thickness), min_side=224))
        self._field_gradient.layout.display = None
        top, left, bottom, right = box
        of = "all channels" if self.channel is None else f"channel {self.channel}"
        self._field_caption.value = html.escape(
            f"{self.layer} position (row {row}, col {col}) sees input rows {top}-{bottom - 1} "
            f"and columns {left}-{right - 1} ({bottom - top} x {right - left} pixels, "
            f"outlined); right: how much each pixel moves it ({of}), the effective "
            f"receptive field.")
        self._field_view.layout.display = None
        self.field = (int(row), int(col), box)
        self.clear_error()
        return box

    def _receptive_steps(self, step: int) -> tuple[int, int, int, int]:
        """:meth:`receptive_field` of time step ``step`` of a sequence layer: the signal
        drawn as lines with the steps it sees shaded, and under it the position's
        gradient over time when the attribution methods can compute it."""
        from ...attribution.receptive import effective_receptive_field
        from ...engine.stages import receptive_box
        from ...render.mpl import figure_to_png
        from ...render.signal import signal_figure

        try:
            box = receptive_box(self.engine, self.layer, step, 0)
            signal = self.engine.pixels(self.image)
        except CnnvizError as error:
            raise self.report(error) from None
        top, _, bottom, _ = box
        try:
            field = np.abs(np.asarray(effective_receptive_field(
                self.engine, self.layer, step, 0, self.image, channel=self.channel)))
            heat = field.reshape(signal.shape[0], -1).max(axis=1)
            gradient = ("; the strip under it: how much each step moves it, the effective "
                        "receptive field")
        except CnnvizError:  # no gradient over time for this layer: the box alone
            heat, gradient = None, ""
        fig = signal_figure(signal, heat=heat, window=(top, bottom), heat_label="gradient",
                            title=f"{self.layer} step {step}", figsize=(7.0, 2.6))
        self._field_box_image.value = figure_to_png(fig)
        self._field_gradient.layout.display = "none"
        self._field_caption.value = html.escape(
            f"{self.layer} step {step} sees input steps {top}-{bottom - 1} ({bottom - top} "
            f"steps, shaded){gradient}.")
        self._field_view.layout.display = None
        self.field = (int(step), 0, box)
        self.clear_error()
        return box

    def export_html(self, path: str | os.PathLike, layers: Sequence[str] | None = None,
                    images: Sequence[Any] | None = None, *, top_images: bool | None = None,
                    **kwargs: Any) -> Any:
        """Write a self-contained HTML page of this explorer that works without a kernel.

        Parameters
        ----------
        path : str or path-like
            Where to write the single HTML file (feature maps inlined, no network).
        layers : sequence of str, optional
            Layers to include; default: the convolution and pooling layers, a vision
            transformer's blocks, a model of signals' vectors (see
            :func:`cnnviz_widgets.export.default_export_layers`). Layers the page cannot
            draw (sequences) are left out with a note in the page.
        images : sequence, optional
            Images to include; default: the explorer's images (at most 8).
        top_images : bool, optional
            Include, for every channel of the exported layers, the top images of the
            data set cropped to the receptive field of their maximum (the dataset
            view's crops; layers not scanned yet are scanned in one pass). Default: when
            the explorer has a ``dataset``.
        **kwargs
            Passed on, e.g. ``normalization``, ``colormap``, ``max_side``, ``title``.

        Returns
        -------
        ExportReport
            The path, its size in bytes, the layers and image names written.
        """
        from ...export.html import export_html

        if images is None:
            images = self.images[:8]
            kwargs.setdefault("image_names", self.image_names[:8])
        kwargs.setdefault("colormap", self.colormap)
        if top_images is None:
            top_images = self.dataset_view is not None
        if top_images:
            kwargs["top_images"] = self._export_crops(layers)
        return export_html(self.engine, path, layers=layers, images=images, **kwargs)

    def _export_crops(self, layers: Sequence[str] | str | None) -> dict[str, list[list[Any]]]:
        from ...export.html import default_export_layers

        view = self.dataset_view
        if view is None:
            raise self.report(InvalidSettingError(
                "top_images=True needs a data set: set ex.dataset = images first."))
        names = ([layers] if isinstance(layers, str) else list(layers) if layers is not None
                 else default_export_layers(self.engine))
        view.progress.widget.layout.display = None
        try:
            return view.scans.top_images(names, view.progress)
        except CnnvizError as error:
            raise self.report(error) from None
        finally:
            view.progress.widget.layout.display = "none"

    def save(self, path: str | os.PathLike | None = None, dpi: int = 100) -> Any:
        """The view on screen as a matplotlib figure (title, colour bar, channel numbers).

        Parameters
        ----------
        path : str or path-like, optional
            Also write the figure there (the format follows the extension).
        dpi : int
            Resolution of the written file.

        Returns
        -------
        matplotlib.figure.Figure
            The figure, to adjust or show.

        Raises
        ------
        CnnvizError
            The error on screen, when the view could not be drawn.
        """
        from ...render.mpl import feature_figure, vector_figure

        value = self.value
        if isinstance(value, ErrorValue):
            raise value.error
        if isinstance(value, VectorValue):
            fig = vector_figure(value.values, title=value.title, labels=value.labels)
        elif isinstance(value, SeriesValue):
            from ...render.signal import series_figure

            fig = series_figure(value.values, strip=value.rendered, title=value.title,
                                scale_labels=value.scale_labels, x_label=value.x_label,
                                y_range=value.y_range)
        else:
            fig = feature_figure(value.rendered, title=value.title,
                                 scale_labels=value.scale_labels)
        if path is not None:
            fig.savefig(os.fspath(path), dpi=dpi)
        return fig

    def _release(self) -> None:
        """Drop the cached activations, the view and the dataset view (see ``close()``)."""
        self.forget()
        self._value = None
        self.dataset_view = None

    # -- reactions ---------------------------------------------------------------------
    @observe(*STATE_TRAITS)
    def _state_changed(self, change: dict) -> None:
        if not hasattr(self, "picker"):
            return  # still being built
        with self.batch():
            self.keep_consistent(change["name"])
            if change["name"] == "backend":
                self._show_canvas()
            self._update_controls()
            self.request_draw()
        if change["name"] in ("layer", "channel") and self.dataset_view is not None:
            self.dataset_view.show(self.layer, self.channel)
        if change["name"] in ("layer", "image_index", "channel") and self.field is not None:
            self.field = None  # it belonged to another map
            self._field_view.layout.display = "none"

    @observe("compare_model")
    def _compare_model_changed(self, change: dict) -> None:
        if change["new"] is not None:
            if self.compare == "model":
                self.request_draw()  # another model in the same mode
            else:
                self.compare = "model"
        elif self.compare == "model":
            self.compare = None

    @observe("dataset")
    def _dataset_changed(self, change: dict) -> None:
        if not hasattr(self, "picker"):
            return
        old = self.dataset_view
        scans = self.dataset_scans
        if scans is None:
            self.dataset_view = None
            self._dataset_box.children = []
            self._dataset_box.layout.display = "none"
        else:
            self.dataset_view = DatasetView(self.engine, scans, on_select=self._select_channel)
            self._dataset_box.children = [self.dataset_view]
            self._dataset_box.layout.display = None
            self.dataset_view.show(self.layer, self.channel)
        if old is not None:
            old.close()

    def _select_channel(self, channel: int) -> None:
        with contextlib.suppress(CnnvizError):  # shown in the panel
            self.channel = int(channel)

    # -- drawing -----------------------------------------------------------------------
    def _title(self, channels: Sequence[int] = (), note: str = "") -> str:
        info = self.engine.layer(self.layer)
        count = self.channel_count()
        if self.channel is not None:
            what = f"channel {self.channel}"
        elif not self.has_channels:
            what = f"{count} values"
        elif len(channels) >= count:
            what = f"all {count} channels"
            if self.channel_order == "class":
                what += f", ordered by {self._order_words()}"
        else:
            what = (f"{len(channels)} of {count} channels (page {self.page + 1} of "
                    f"{self.page_count()}, ordered by {self._order_words()})")
        if note:
            what += f" | {note}"
        return (f"{info.label} | {self.image_names[self.image_index]} | {what} | "
                f"{NORMALIZATION_LABELS[self.normalization]}")

    def _order_words(self) -> str:
        """How the grid is ordered, in words for the caption."""
        if self.channel_order != "class":
            return self.channel_order
        cls = self.ranked_class()
        names = self.class_names
        name = f" ({names[cls]})" if names and cls < len(names) else ""
        chosen = "" if self.target is not None else "predicted "
        return (f"contribution to the {chosen}class {cls}{name}: mean of gradient x "
                f"activation")

    def _compute_value(self) -> CanvasValue:
        try:
            activation = self.current_activation()
            if activation.ndim == 1:
                values = np.asarray(activation, dtype=np.float32)
                names = self.class_names
                labels = names if names and len(names) == len(values) else None
                top = top_classes(values, labels) if labels else []
                return VectorValue(values, self._title() + _nonfinite_note(activation),
                                   labels, top)
            if activation.ndim not in (2, 3):
                raise LayerNotViewableError(
                    f"The layer {self.layer!r} gives an output of shape {activation.shape}, "
                    "which cannot be drawn as images or bars. Pick another layer.")
            laid = self.current_maps()
            if self.compare is not None:
                return self._compare_value(laid)
            rendered = self._render(laid.maps, self.normalization, self.colormap,
                                    strip=laid.strip)
            note = _nonfinite_note(activation)
            if laid.strip and self.channel is not None:  # one channel: a line
                steps = laid.maps.shape[1]
                along = "time steps" if laid.along == "time" else "tokens"
                title = self._title(rendered.layout.channels, f"a line over {steps} {along}")
                values = np.asarray(laid.maps[0, :, self.channel], dtype=np.float32)
                return SeriesValue(rendered, title, note, values=values,
                                   x_label="time step" if laid.along == "time" else "token")
            return MapValue(rendered, self._title(rendered.layout.channels, laid.note), note)
        except CnnvizError as error:
            return ErrorValue(error)
        except Exception as error:  # noqa: BLE001 - the panel must stay usable
            return ErrorValue(LayerNotViewableError(
                f"Could not draw layer {self.layer!r} for this image: "
                f"{type(error).__name__}: {error}"))

    def _render(self, maps: np.ndarray, normalization: str, colormap: str,
                stats_from: np.ndarray | None = None, strip: bool = False) -> Any:
        """The current channel, or the current page of the grid, of ``maps`` (a heat strip
        of maps of height 1 when ``strip``)."""
        if strip:
            channels = [self.channel] if self.channel is not None else self.page_channels()
            return render_strip(maps, channels, normalization, colormap,
                                stats_from=stats_from)
        if self.channel is not None:
            return render_channel(maps, self.channel, normalization, colormap,
                                  stats_from=stats_from)
        return render_grid(maps, self.page_channels(), normalization, colormap, min_side=448,
                           stats_from=stats_from)

    def _compare_value(self, laid: LayerMaps) -> MapValue:
        """Both views side by side with one scale; the difference goes below them."""
        strip = laid.strip
        joined, both, difference = self._compared_maps(laid.maps)
        rendered = self._render(joined, self.normalization, self.colormap, stats_from=both,
                                strip=strip)
        if self.channel is not None:  # one channel: white at 0, its own largest change
            difference = difference[..., self.channel:self.channel + 1]
            self._difference_view = (render_strip(difference, [0], "signed", "RdBu_r")
                                     if strip else
                                     render_channel(difference, 0, "signed", "RdBu_r"))
        else:  # the grid: one scale for every tile, the layer's largest change
            self._difference_view = self._render(difference, "signed", "RdBu_r", strip=strip)
        if self.compare == "image":
            right = f"right: {self.image_names[self.compare_index]}"
        else:
            right = "right: the compared model"
        title = (f"{self._title(rendered.layout.channels, laid.note)} | left: this view, "
                 f"{right}, one scale for both")
        return MapValue(rendered, title, _nonfinite_note(laid.maps))

    def _draw(self) -> None:
        self.render_count += 1
        self._show_input()
        self._difference_view = None
        value = self._value = self._compute_value()
        self.canvas.show(value)
        self._caption.value = html.escape(value.caption)
        self._colorbar.value = colorbar_html(value)
        self._show_difference()
        if isinstance(value, ErrorValue):
            self.report(value.error)
        else:
            self.clear_error()

    def _compared_maps(self, activation: np.ndarray) -> tuple[np.ndarray, ...]:
        """(both views with a gap, both without it, the difference), kept until the
        layer, the images or the compared model change: a redraw only renders.
        ``activation`` is laid out as maps (a sequence as maps of height 1)."""
        key = (self.layer, self.image_index, self.compare, self.compare_index,
               id(self.compare_engine))
        memo = self._compare_memo
        if memo is None or memo[0] != key:
            info = self.engine.layer(self.layer)
            other = layer_maps(self.compared_activation(), info.layout, info.token_grid).maps
            gap = np.full((activation.shape[0], _gap(activation.shape[1]),
                           activation.shape[2]), np.nan, np.float32)
            joined = np.concatenate([activation, gap, other], axis=1)
            both = np.concatenate([activation, other], axis=1)  # the scale, without the gap
            difference = activation.astype(np.float32) - other.astype(np.float32)
            memo = self._compare_memo = (key, joined, both, difference)
        return memo[1:]

    def _show_difference(self) -> None:
        view = self._difference_view
        if view is None:
            self._difference_box.layout.display = "none"
            return
        self._difference_image.format = view.format
        self._difference_image.value = view.data
        what = ("the two images" if self.compare == "image" else "the two models")
        self._difference_caption.value = html.escape(
            f"Difference of {what}, left minus right: red where the left is higher, blue "
            f"where the right is, white where they agree (0).")
        self._difference_box.layout.display = None

    # -- controls ----------------------------------------------------------------------
    def _build_controls(self) -> None:
        self._canvases: dict[str, ImageCanvas | BqCanvas] = {}
        self._layer_dd = w.Dropdown(options=layer_options(self.engine.layers),
                                    description="Layer", layout=w.Layout(width="360px"))
        self._layer_dd.add_class("cnnviz-layer")
        self._mode = w.ToggleButtons(options=[("All channels", "all"), ("One channel", "one")],
                                     value="all", style={"button_width": "110px"})
        self._mode.add_class("cnnviz-mode")
        self._channel_slider = w.IntSlider(min=0, max=max(0, self.channel_count() - 1),
                                           description="Channel", continuous_update=True)
        self._channel_slider.add_class("cnnviz-channel")
        self._norm = w.ToggleButtons(
            options=[(NORMALIZATION_LABELS[n], n) for n in NORMALIZATIONS],
            description="Scale", style={"button_width": "100px"})
        self._norm.add_class("cnnviz-normalization")
        self._cmap = w.Dropdown(options=list(COLORMAPS), description="Colours",
                                layout=w.Layout(width="200px"))
        self._cmap.add_class("cnnviz-colormap")
        self._order = w.Dropdown(options=list(CHANNEL_ORDERS), description="Order",
                                 layout=w.Layout(width="200px"))
        self._order.add_class("cnnviz-order")
        self._target_dd = w.Dropdown(options=self._class_options(), description="Class",
                                     layout=w.Layout(width="260px"))
        self._target_dd.add_class("cnnviz-target")
        self._compare_dd = w.Dropdown(
            options=[("nothing", ""), ("another image", "image"), ("another model", "model")],
            description="Compare", layout=w.Layout(width="220px"))
        self._compare_dd.add_class("cnnviz-compare-mode")
        self._compare_with = w.Dropdown(options=self._image_options(), description="with",
                                        layout=w.Layout(width="220px"))
        self._compare_with.add_class("cnnviz-compare-index")
        self._page_slider = w.IntSlider(min=0, max=max(0, self.page_count() - 1),
                                        description="Page", continuous_update=False)
        self._page_slider.add_class("cnnviz-page")
        self._backend_tb = w.ToggleButtons(options=list(BACKENDS), description="View",
                                           style={"button_width": "90px"})
        self._backend_tb.add_class("cnnviz-backend")
        self.picker = picker_for(self.engine, self._images, self.image_names,
                                 on_upload=self._upload)
        self.input_view = w.Image(format="png", layout=w.Layout(
            width="560px", max_width="100%", display=None if self.is_signal else "none"))
        self.input_view.add_class("cnnviz-input-signal")
        self._input_key: Any = None
        self.explainer = ChannelExplainer()
        self.explainer.button.on_click(self._on_explain_click)
        self._caption = w.HTML()
        self._caption.add_class("cnnviz-caption")
        self._colorbar = w.HTML()
        self._view_box = w.Box()
        self.dataset_view: DatasetView | None = None
        self._dataset_box = w.VBox(layout=w.Layout(display="none"))
        self._difference_view: Any = None
        self._difference_caption = w.HTML()
        self._difference_image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self._difference_image.add_class("cnnviz-difference")
        self._difference_box = w.VBox([self._difference_caption,
                                       w.HBox([self._difference_image])],
                                      layout=w.Layout(display="none"))
        self._difference_box.add_class("cnnviz-compare")
        self._field_caption = w.HTML()
        self._field_box_image = w.Image(format="png")
        self._field_gradient = w.Image(format="png")
        self._field_view = w.VBox([self._field_caption,
                                   w.HBox([self._field_box_image, self._field_gradient])],
                                  layout=w.Layout(display="none"))
        self._field_view.add_class("cnnviz-receptive-field")
        #: The last receptive field shown: (row, col, (top, left, bottom, right)), or None.
        self.field: tuple[int, int, tuple[int, int, int, int]] | None = None

        self.bind(self._layer_dd, "layer")
        slider = self._channel_slider
        self.bind(slider, "channel", to_owner=int,
                  to_control=lambda c: slider.value if c is None else c)
        self.bind(self._mode, "channel",
                  to_owner=lambda mode: None if mode == "all" else int(slider.value),
                  to_control=lambda c: "all" if c is None else "one")
        self.bind(self._norm, "normalization")
        self.bind(self._cmap, "colormap")
        self.bind(self._order, "channel_order")
        self.bind(self._target_dd, "target", to_owner=lambda v: None if v < 0 else int(v),
                  to_control=lambda c: -1 if c is None else c)
        self.bind(self._compare_dd, "compare", to_owner=lambda v: v or None,
                  to_control=lambda c: c or "")
        self.bind(self._compare_with, "compare_index")
        self.bind(self._page_slider, "page")
        self.bind(self._backend_tb, "backend")
        self.bind(self.picker, "image_index", control_name="index")

        self._show_canvas()
        self._update_controls()
        self.children = [
            w.HBox([self._layer_dd, self._backend_tb]),
            w.HBox([self._mode, self._channel_slider, self.explainer.button]),
            self._norm,
            w.HBox([self._cmap, self._order, self._target_dd, self._page_slider]),
            w.HBox([self._compare_dd, self._compare_with]),
            self.picker,
            self.errors,
            self.input_view,
            self._caption,
            self._view_box,
            self._colorbar,
            self._difference_box,
            self._field_view,
            self.explainer,
            self._dataset_box,
        ]

    @property
    def controls(self) -> dict[str, w.Widget]:
        """The panel's controls by the trait they drive (the image picker is ``picker``)."""
        return {"layer": self._layer_dd, "mode": self._mode, "channel": self._channel_slider,
                "normalization": self._norm, "colormap": self._cmap,
                "channel_order": self._order, "target": self._target_dd,
                "compare": self._compare_dd, "compare_index": self._compare_with,
                "page": self._page_slider,
                "backend": self._backend_tb}

    def _image_options(self) -> list[tuple[str, int]]:
        """The images by name, for the "compare with" dropdown."""
        return [(name, i) for i, name in enumerate(self.image_names)]

    def _class_options(self) -> list[tuple[str, int]]:
        """The class dropdown: the predicted class (-1), then every class of the output."""
        n = int(self.engine.layer(self.engine.output).channels or 1)
        names = self.class_names if self.class_names and len(self.class_names) == n else None
        return [("(predicted)", -1)] + [(f"{i}: {names[i]}" if names else str(i), i)
                                        for i in range(n)]

    @property
    def canvas(self) -> ImageCanvas | BqCanvas:
        """The canvas of the current backend (built on first use)."""
        if self.backend not in self._canvases:
            canvas = make_canvas(self.backend)
            if isinstance(canvas, BqCanvas):
                canvas.maps.on_element_click(self._on_tile_click)
                canvas.lines.on_element_click(self._on_step_click)
            self._canvases[self.backend] = canvas
        return self._canvases[self.backend]

    def _show_canvas(self) -> None:
        self._view_box.children = [self.canvas]

    def _update_controls(self) -> None:
        """Ranges, options and visibility that follow the state (values follow by binding)."""
        pages = self.page_count()
        with self.updating_controls():
            with self._channel_slider.hold_sync():
                self._channel_slider.max = max(0, self.channel_count() - 1)
            with self._page_slider.hold_sync():
                self._page_slider.max = pages - 1
                self._page_slider.layout.display = None if pages > 1 else "none"
            if self.colormap not in self._cmap.options:
                self._cmap.options = [*self._cmap.options, self.colormap]
        grid = self.channel is None
        self._order.layout.display = None if grid else "none"
        ranked = grid and self.channel_order == "class"
        self._target_dd.layout.display = None if ranked else "none"
        self._compare_with.layout.display = None if self.compare == "image" else "none"
        info = self.engine.layer(self.layer)
        over_image = not self.is_signal and (info.is_spatial or info.token_grid is not None)
        self.explainer.button.layout.display = None if over_image and not grid else "none"

    def _show_input(self) -> None:
        """Draw the current signal as lines (signal models only), once per signal."""
        if not self.is_signal:
            return
        key = (self.image_index, len(self.images))
        if key == self._input_key:
            return
        from ...render.mpl import figure_to_png
        from ...render.signal import signal_figure

        try:
            signal = self.engine.pixels(self.image)  # the signal itself, (T, C)
            fig = signal_figure(signal, title=f"input: {self.image_names[self.image_index]}",
                                figsize=(7.0, 2.2))
            self.input_view.value = figure_to_png(fig)
            self.input_view.layout.display = None
        except CnnvizError:  # the view below says what is wrong
            self.input_view.layout.display = "none"
        self._input_key = key

    def _on_tile_click(self, _view: Any, where: dict) -> None:
        with contextlib.suppress(CnnvizError):  # shown in the panel
            if self.channel is None:
                self.channel = int(where["channel"])
            elif self.is_spatial:  # one channel: where does this position look?
                self.receptive_field(int(where["row"]), int(where["col"]))
            # a token grid's position has no box in the input: the read-out says enough

    def _on_step_click(self, _view: Any, where: dict) -> None:
        if self.is_signal and self.engine.layer(self.layer).layout == "sequence":
            with contextlib.suppress(CnnvizError):  # shown in the panel
                self.receptive_field(int(where["step"]), 0)

    def _on_explain_click(self, _button: Any) -> None:
        with contextlib.suppress(CnnvizError):  # shown in the panel
            self.explain_channel()

    def _upload(self, data: bytes, name: str) -> None:
        try:
            self.add_image(data, name=name)
        except CnnvizError as error:
            self.report(f"The uploaded file {name!r} cannot be used: {error}")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = super()._repr_mimebundle_(**kwargs)
        value = self._value
        if isinstance(bundle, dict) and isinstance(value, MapValue):
            import base64

            from ...render.encode import data_url

            bundle = dict(bundle)
            if isinstance(value, SeriesValue):  # the line, as on screen
                png = base64.b64encode(ImageCanvas.series_png(value)).decode("ascii")
            else:
                png = data_url(value.rendered.rgb).split(",", 1)[1]
            bundle["image/png"] = png
        return bundle


def _gap(width: int) -> int:
    """Columns of background between two compared views of maps ``width`` wide."""
    return max(1, width // 8)


def explore(model: Any, images: Any = None, **kwargs: Any) -> FeatureMapExplorer:
    """Open a :class:`FeatureMapExplorer` on ``model`` and ``images``; it displays itself.

    Parameters
    ----------
    model : keras.Model or ActivationEngine
        The network to look into.
    images : sequence or array, optional
        The images to pick from; the package's samples are added after them.
    **kwargs
        Passed to :class:`FeatureMapExplorer` (``layer=``, ``backend=``, ``dataset=``,
        ``dataset_labels=``, ...).

    Returns
    -------
    FeatureMapExplorer
        The panel; the last expression of a notebook cell displays it.

    Examples
    --------
    >>> from cnnviz_widgets import explore, zoo
    >>> ex = explore(zoo.digits_cnn())            # doctest: +SKIP
    >>> ex.layer = "conv2"; ex.channel = 7         # doctest: +SKIP
    >>> train, labels = zoo.digit_samples()        # doctest: +SKIP
    >>> ex.dataset = train                         # doctest: +SKIP
    """
    return FeatureMapExplorer(model, images, **kwargs)
