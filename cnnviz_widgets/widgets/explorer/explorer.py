"""FeatureMapExplorer: the state, a canvas, the controls, the image picker and the views
(explain channel, receptive field, compare, dataset), wired."""

from __future__ import annotations

import contextlib
import html
import os
from collections.abc import Sequence
from typing import Any

import ipywidgets as w
import numpy as np
from traitlets import observe

from ..._deprecation import renamed_argument
from ...colour.normalize import default_colormap
from ...errors import CnnvizError
from ...render.view import (
    CanvasValue,
    ErrorValue,
    MapValue,
    VectorValue,
    colorbar_html,
    figure_of,
)
from ...zoo.labels import class_names_for
from ..panel import Panel
from ..picker import panel_images, picker_for, reads_signals
from .canvas import BqCanvas, BrowserCanvas, Canvases, ImageCanvas, SignalInputView
from .compare import CompareView
from .controls import ExplorerControls, image_options
from .dataset import DatasetView
from .explain import ChannelExplainer, explain_for
from .field import ReceptiveFieldView
from .mask import MaskView
from .state import STATE_TRAITS, ExplorerState
from .static import export_page
from .value import picture_bundle, value_of
from .volume import VolumeControls

__all__ = ["FeatureMapExplorer", "explore"]


class FeatureMapExplorer(ExplorerState, Panel):
    """Interactive panel that shows the feature maps of any layer for any image.

    Every control is mirrored by a trait, so the panel can be driven from Python as
    well as by hand: ``ex.layer = "block3_conv1"; ex.channel = 5``. Changing the
    channel, normalisation, colour map, order or page never runs the model; changing
    the layer or image asks the engine once (and hits its cache when it can).

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
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
    layer, channel, normalization, colormap, image_index, backend, channel_order, target,
    page, dataset, compare, compare_index, compare_model
        The state, as traits: see :class:`~.state.ExplorerState`.
    dataset_view : DatasetView or None
        The dataset view, while ``dataset`` is set.
    engine : ActivationEngine
        The engine behind the panel.
    canvas : ImageCanvas, BqCanvas or BrowserCanvas
        Where the view is drawn (follows ``backend``).
    comparison : CompareView
        Compare mode's difference under the view (see ``compare``).
    field_view : ReceptiveFieldView
        The receptive field of a position (see :meth:`receptive_field`).
    mask_view : MaskView
        A segmentation model's predicted mask of the image (hidden for other models).
    field : tuple or None
        The last receptive field shown, ``(row, col, (top, left, bottom, right))``, while
        it belongs to the map on screen.
    input_view : ipywidgets.Image
        A model of signals: the current signal drawn as lines (PNG), above the view;
        hidden for images.
    volume_controls : VolumeControls
        A volume layer's slice slider and view choice (``depth``, ``volume_view``).
    is_signal : bool
        True when the model reads signals (T, C) rather than images.
    errors : ErrorBox
        Where problems are reported.
    render_count : int
        Number of times the view was redrawn (for tests and benchmarks).
    """

    @renamed_argument("model", "model_or_engine")
    def __init__(self, model_or_engine: Any, images: Any = None, *,
                 class_names: Sequence[str] | None = None, include_samples: bool = True,
                 layer: str | None = None, channel: int | None = None,
                 normalization: str = "channel", colormap: str | None = None,
                 backend: str = "matplotlib", per_page: int = 64, dataset: Any = None,
                 dataset_labels: Any = None, dataset_top_k: int = 9,
                 compare_model: Any = None, preprocess: Any = None,
                 cache_bytes: int = 512 * 2**20, image_input: Any = None,
                 other_inputs: Any = None, output: Any = None) -> None:
        Panel.__init__(self, model_or_engine, preprocess=preprocess, cache_bytes=cache_bytes,
                       image_input=image_input, other_inputs=other_inputs, output=output)
        self.add_class("cnnviz-explorer")
        self.render_count = 0
        self._value: CanvasValue | None = None
        self.is_signal = reads_signals(self.engine)
        found, names = panel_images(self.engine, images, include_samples)
        self.class_names = (list(class_names) if class_names is not None
                            else class_names_for(self.engine))
        with self.batch():
            self.setup_state(self.engine, found, names=names, per_page=per_page, layer=layer)
            self.dataset_class_names = self.class_names
            self._build()
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
        if self.comparison.difference is not None:  # compare: both views, the difference
            return self.comparison.view(value.rendered.view)
        return value.rendered.view

    def shown_channels(self) -> list[int]:
        """The channel indices on screen, in display order ([] for vectors and errors)."""
        value = self.value
        return list(value.rendered.layout.channels) if isinstance(value, MapValue) else []

    def refresh(self) -> None:
        """Forget cached activations and redraw, e.g. after the model's weights changed."""
        self.engine.clear_cache()
        self.forget()
        self.comparison.forget()
        self.mask_view.forget()
        self._draw()

    def add_image(self, image: Any, name: str | None = None, select: bool = True) -> int:
        """Add an image to the picker (checked first) and return its index."""
        index = self.append_image(image, name)
        self.picker.add(self.image_names[index])
        with self.updating_controls():
            self._controls.widgets["compare_index"].options = image_options(self.image_names)
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
        return explain_for(self, steps)

    def receptive_field(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Show where position (row, col) of the current layer looks in the input.

        The box is the theoretical receptive field from the anatomy's arithmetic
        (:func:`~cnnviz_widgets.engine.receptive.receptive_box`), drawn on the input; next to
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
        over_time = self.is_signal and self.engine.layer(self.layer).layout == "sequence"
        try:
            box = self.field_view.show(self.engine, self.layer, row, col, self.image,
                                       self.channel, over_time=over_time)
        except CnnvizError as error:
            raise self.report(error) from None
        self.clear_error()
        return box

    @property
    def field(self) -> tuple[int, int, tuple[int, int, int, int]] | None:
        """The last receptive field shown: (row, col, (top, left, bottom, right)), or None."""
        return self.field_view.field

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
        return export_page(self, path, layers, images, top_images=top_images, **kwargs)

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
            The figure, to adjust or show
            (:func:`~cnnviz_widgets.render.view.figure_of` the value on screen).

        Raises
        ------
        CnnvizError
            The error on screen, when the view could not be drawn.
        """
        fig = figure_of(self.value)
        if path is not None:
            fig.savefig(os.fspath(path), dpi=dpi)
        return fig

    def _release(self) -> None:
        """Drop the cached activations, the view and the dataset view (see ``close()``)."""
        self.forget()
        self._value = self.dataset_view = None

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
            self.field_view.hide()  # it belonged to another map

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
    def _draw(self) -> None:
        self.render_count += 1
        if self.is_signal:
            self.input_view.show(self.engine, self.image, self.image_names[self.image_index],
                                 (self.image_index, len(self.images)))
        self.comparison.clear()
        self.mask_view.show(self.image_index, self.image)  # once per image: a memo
        value = self._value = value_of(self, self.comparison)
        self.canvas.show(value)
        self._caption.value = html.escape(value.caption)
        self._colorbar.value = colorbar_html(value)
        self.comparison.show("the two images" if self.compare == "image" else "the two models")
        if isinstance(value, ErrorValue):
            self.report(value.error)
        else:
            self.clear_error()

    # -- building ----------------------------------------------------------------------
    def _build(self) -> None:
        """The controls, the views and the canvases, bound and laid out."""
        self._canvases = Canvases(self._on_tile_click, self._on_step_click)
        self._controls = ExplorerControls(self.engine, self.class_names, self.image_names)
        self.picker = picker_for(self.engine, self._images, self.image_names,
                                 on_upload=self._upload)
        self.input_view = SignalInputView(self.is_signal)
        self.explainer = ChannelExplainer()
        self.explainer.button.on_click(self._on_explain_click)
        self._caption, self._colorbar, self._view_box = w.HTML(), w.HTML(), w.Box()
        self._caption.add_class("cnnviz-caption")
        self.dataset_view: DatasetView | None = None
        self._dataset_box = w.VBox(layout=w.Layout(display="none"))
        self.comparison, self.field_view = CompareView(), ReceptiveFieldView()
        self.mask_view = MaskView(self.engine, self.class_names)
        self.volume_controls = VolumeControls().bind(self)  # a volume's slice and view
        self._controls.bind(self)
        self.bind(self.picker, "image_index", control_name="index")
        self._show_canvas()
        self._update_controls()
        self.children = [*self._controls.rows(self.explainer.button), self.volume_controls.row,
                         self.picker, self.errors, self.input_view, self._caption,
                         self._view_box, self._colorbar, self.mask_view, self.comparison,
                         self.field_view, self.explainer, self._dataset_box]

    @property
    def controls(self) -> dict[str, w.Widget]:
        """The panel's controls by the trait they drive (the image picker is ``picker``)."""
        return dict(self._controls.widgets)

    @property
    def canvas(self) -> ImageCanvas | BqCanvas | BrowserCanvas:
        """The canvas of the current backend (built on first use)."""
        return self._canvases[self.backend]

    def _show_canvas(self) -> None:
        self._view_box.children = [self.canvas]

    def _update_controls(self) -> None:
        """Ranges, options and visibility that follow the state (values follow by binding)."""
        with self.updating_controls():
            self._controls.follow(self)
            self.volume_controls.follow(self)
        self._controls.show_for(self)
        info = self.engine.layer(self.layer)
        over_image = not self.is_signal and (info.is_spatial or self.is_volume
                                             or info.token_grid is not None)
        one = self.channel is not None
        self.explainer.button.layout.display = None if over_image and one else "none"

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
        return picture_bundle(super()._repr_mimebundle_(**kwargs), self._value)


@renamed_argument("model", "model_or_engine")
def explore(model_or_engine: Any, images: Any = None, **kwargs: Any) -> FeatureMapExplorer:
    """Open a :class:`FeatureMapExplorer` on a model and ``images``; it displays itself.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
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
    return FeatureMapExplorer(model_or_engine, images, **kwargs)
