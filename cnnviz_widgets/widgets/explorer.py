"""FeatureMapExplorer: the layer / channel / normalisation / image panel."""

from __future__ import annotations

import contextlib
import html
import os
from collections.abc import Iterator, Sequence
from typing import Any

import ipywidgets as w
import numpy as np
from traitlets import Int, Unicode, observe, validate

from ..colour.normalize import NORMALIZATIONS, default_colormap
from ..colour.tiling import CHANNEL_ORDERS, order_channels, page_of
from ..engine.activations import ActivationEngine
from ..errors import (
    CnnvizError,
    InvalidSettingError,
    LayerNotViewableError,
    SelectionOutOfRangeError,
)
from ..render.image import render_channel, render_grid
from ..zoo.labels import top_classes
from .controls import ErrorBox, _thumbnail_data_url, layer_options, thumbnail_strip

__all__ = ["FeatureMapExplorer", "explore"]

BACKENDS = ("matplotlib", "bqplot")
COLORMAPS = ("viridis", "magma", "inferno", "gray", "gray_r", "hot", "jet", "RdBu_r", "coolwarm")
NORMALIZATION_LABELS = {
    "channel": "per channel",
    "layer": "per layer",
    "standardize": "standardize",
    "signed": "signed",
}
_STATE = ("layer", "channel", "normalization", "colormap", "image_index", "backend",
          "channel_order", "page")


def _frozen(image: Any) -> Any:
    """A read-only copy of an array image (the panel's own, and the engine can memoise
    its preparation); other kinds of image are kept as they are."""
    if isinstance(image, np.ndarray) and image.flags.writeable:
        image = image.copy()
        image.flags.writeable = False
    return image


def _image_list(images: Any, engine: ActivationEngine) -> list[Any]:
    """Split ``images`` into a list of single images (arrays become read-only copies).

    A numpy array is one image when its shape fits the model's input (H, W) or
    (H, W, C) with C of 1, 3 or 4, and a stack of images (N, ...) otherwise.
    """
    if images is None:
        return []
    if isinstance(images, np.ndarray):
        channels = engine.input_shape[-1] if len(engine.input_shape) == 3 else None
        one = images.ndim != 4 and not (images.ndim == 3 and not (
            images.shape[-1] in (1, 3, 4) and images.shape[-1] in (channels, 3, 4)))
        if one:
            return [_frozen(images)]
        return list(_frozen(images))  # rows of a read-only array are read-only
    if isinstance(images, (str, bytes, os.PathLike)) or hasattr(images, "getpixel"):
        return [images]
    return [_frozen(image) for image in images]


def _default_samples(engine: ActivationEngine) -> tuple[list[Any], list[str]]:
    """The package's sample images that suit the model: digits for grayscale, photos for RGB."""
    shape = engine.input_shape
    grayscale = len(shape) == 2 or shape[-1] == 1
    try:
        from .. import zoo

        if grayscale:
            images, labels = zoo.digit_samples()
            return list(images[:10]), [f"digit {int(label)}" for label in labels[:10]]
        photos = zoo.samples()
        return [s.image for s in photos], [s.name for s in photos]
    except Exception:  # noqa: BLE001 - samples are a convenience; the panel works without
        return [], []


def _default_class_names(engine: ActivationEngine) -> list[str] | None:
    try:
        width = engine.layers[-1].output_shape
        from .. import zoo

        if width == (10,) and engine.model.name.startswith("digits"):
            return list(zoo.DIGIT_LABELS)
        if width == (1000,):
            return zoo.imagenet_labels()
    except Exception:  # noqa: BLE001 - names are optional
        return None
    return None


def _nonfinite_note(activation: np.ndarray) -> str:
    """A caption suffix that says how many values are NaN or infinite (blank on screen)."""
    if activation.dtype.kind != "f" or np.isfinite(activation).all():
        return ""
    nan = int(np.isnan(activation).sum())
    inf = int(np.isinf(activation).sum())
    parts = [f"{n} {what}" for n, what in ((nan, "NaN"), (inf, "infinite")) if n]
    return (f" | warning: {' and '.join(parts)} value(s) of {activation.size}, shown blank "
            "and left out of the colour scale; check the layer's weights and inputs")


def _widget_tree(roots: Sequence[Any]) -> list[w.Widget]:
    """Every widget reachable from ``roots`` through widget traits (children, layout, ...)."""
    found: dict[int, w.Widget] = {}
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if isinstance(obj, (list, tuple)):
            stack.extend(obj)
            continue
        if isinstance(obj, dict):
            stack.extend(obj.values())
            continue
        if not isinstance(obj, w.Widget) or id(obj) in found:
            continue
        found[id(obj)] = obj
        for name in obj.keys:
            stack.append(getattr(obj, name, None))
    return list(found.values())


def _type_error(obj: Any, error: InvalidSettingError) -> InvalidSettingError:
    box = getattr(obj, "_errors", None)
    if box is not None:
        box.show(str(error))
    return error


class _Whole(Int):
    """An int trait (numpy ints accepted) whose wrong-type error is InvalidSettingError."""

    def validate(self, obj: Any, value: Any) -> int | None:
        if value is None and self.allow_none:
            return None
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            extra = " or None" if self.allow_none else ""
            raise _type_error(obj, InvalidSettingError(
                f"{self.name} must be a whole number{extra}, not {value!r}."))
        return int(value)


class _Text(Unicode):
    """A str trait whose wrong-type error is InvalidSettingError."""

    def validate(self, obj: Any, value: Any) -> str:
        if not isinstance(value, str):
            raise _type_error(obj, InvalidSettingError(
                f"{self.name} must be a name (a string), not {value!r}."))
        return value


class FeatureMapExplorer(w.VBox):
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
    preprocess, cache_bytes
        Passed to the :class:`ActivationEngine` when a model is given.

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
        Grid order: ``"index"``, ``"mean"``, ``"max"`` or ``"sparsity"``.
    page : int
        Page of the grid when a layer has more than ``per_page`` channels.
    engine : ActivationEngine
        The engine behind the panel.
    render_count : int
        Number of times the view was redrawn (for tests and benchmarks).
    """

    layer = _Text("")
    channel = _Whole(None, allow_none=True)
    normalization = _Text("channel")
    colormap = _Text("viridis")
    image_index = _Whole(0)
    backend = _Text("matplotlib")
    channel_order = _Text("index")
    page = _Whole(0)

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
        preprocess: Any = None,
        cache_bytes: int = 512 * 2**20,
    ) -> None:
        super().__init__()
        self.add_class("cnnviz-explorer")
        self._owns_engine = not isinstance(model, ActivationEngine)
        self.engine = (model if isinstance(model, ActivationEngine)
                       else ActivationEngine(model, preprocess=preprocess,
                                             cache_bytes=cache_bytes))
        self.per_page = int(per_page)
        self.render_count = 0
        self._images = _image_list(images, self.engine)
        self._image_names = [f"image {i}" for i in range(len(self._images))]
        if include_samples:
            extra, names = _default_samples(self.engine)
            self._images += extra
            self._image_names += names
        if not self._images:
            raise CnnvizError(
                "There are no images to show. Pass images=[...] (paths, arrays or PIL "
                "images) or keep include_samples=True."
            )
        self.class_names = (list(class_names) if class_names is not None
                            else _default_class_names(self.engine))
        self._thumbs: dict[int, str] = {}
        self._activation_key: tuple[str, int] | None = None
        self._activation: np.ndarray | None = None
        self._order_memo: tuple[Any, np.ndarray] | None = None
        self._range_memo: tuple[Any, tuple[float, float]] | None = None
        self._thumbs_key: tuple[int, int] | None = None
        self._rendered: Any = None
        self._vector: np.ndarray | None = None
        self._render_error: CnnvizError | None = None
        self._vector_png: tuple[np.ndarray, str, bytes] | None = None
        self._nonfinite_note = ""
        self._hold = 0
        self._dirty = False
        self._syncing = False
        self._bq_view: Any = None
        self._build_controls()
        first = layer or self._default_layer()
        with self._batch():
            self.layer = first
            self.normalization = normalization
            self.colormap = colormap or default_colormap(normalization)
            self.backend = backend
            self.channel = channel
        self._sync_controls()

    # -- public helpers ------------------------------------------------------------------
    @property
    def images(self) -> list[Any]:
        """The images the picker offers, in order (the given ones, then the samples)."""
        return list(self._images)

    def current_activation(self) -> np.ndarray:
        """The activation of the current layer for the current image (no batch axis)."""
        key = (self.layer, self.image_index)
        if self._activation_key != key or self._activation is None:
            self._activation = self.engine.activation(self.layer, self._images[self.image_index])
            self._activation_key = key
            self._nonfinite_note = _nonfinite_note(self._activation)
        return self._activation

    def current_view(self) -> np.ndarray:
        """The 2-D float array on screen, after normalisation and tiling (NaN in gaps).

        For a vector layer this is the vector as one row.
        """
        if self._rendered is None and self._vector is None and self._render_error is None:
            self._render()
        if self._render_error is not None:
            raise self._render_error
        if self._vector is not None:
            return self._vector[None, :]
        return self._rendered.view

    def shown_channels(self) -> list[int]:
        """The channel indices on screen, in display order."""
        if self._rendered is None or self._vector is not None:
            return []
        if self.channel is not None:
            return [self.channel]
        return list(self._rendered.layout.channels)

    def refresh(self) -> None:
        """Forget cached activations and redraw, e.g. after the model's weights changed."""
        self.engine.clear_cache()
        self._activation_key = None
        self._activation = None
        self._order_memo = None
        self._range_memo = None
        self._render()

    def add_image(self, image: Any, name: str | None = None, select: bool = True) -> int:
        """Add an image to the picker (checked first) and return its index."""
        image = _frozen(image)
        try:
            self.engine.prepare(image)  # raises a clear error for an unusable image
        except CnnvizError as error:
            raise self._fail(error) from None
        self._images.append(image)
        self._image_names.append(name or f"image {len(self._images) - 1}")
        index = len(self._images) - 1
        self._update_image_controls()
        if select:
            self.image_index = index
        return index

    def close(self) -> None:
        """Close the panel and every widget inside it, and drop the cached activations.

        Closed widgets leave ipywidgets' registry, so the panel, its engine (when the
        panel built it) and their arrays can be garbage-collected.
        """
        roots: list[Any] = [self, *(v for v in vars(self).values() if isinstance(v, w.Widget))]
        for view in (self._bq_view, getattr(self._bq_view, "_bars", None)):
            if view is not None:
                # widgets held directly or in tuples (the two image buffers of the bq view)
                roots.extend(v for v in vars(view).values()
                             if isinstance(v, (w.Widget, tuple, list)))
        for widget in _widget_tree(roots):
            if widget is not self:
                widget.close()
        if self._owns_engine:
            self.engine.clear_cache()
        self._activation = None
        self._activation_key = None
        self._rendered = None
        self._vector = None
        self._vector_png = None
        self._thumbs.clear()
        super().close()

    def explain_channel(self, steps: int = 64) -> tuple[np.ndarray, Any]:
        """Show the current channel's heatmap over the input and what excites it most.

        Returns the overlay (uint8 RGB) and the activation-maximisation result. This is
        what the "Explain channel" button does; it runs the model (gradient ascent).
        """
        from ..attribution.maximize import ActivationMaximization
        from ..attribution.overlay import activation_heatmap, overlay
        from ..render.image import encode_png, upscale_nearest

        if self.channel is None:
            raise self._fail(SelectionOutOfRangeError(
                "Pick one channel first (the Channel slider); the grid shows many channels."))
        activation = self.current_activation()
        if activation.ndim != 3:
            raise self._fail(LayerNotViewableError(
                f"{self.layer!r} has no spatial maps to lay over the input."))
        pixels = self.engine.pixels(self._images[self.image_index])
        heat = overlay(pixels, activation_heatmap(activation, self.channel), alpha=0.5)
        self._insight_progress.layout.display = None

        def progress(step: int, total: int) -> None:
            self._insight_progress.max = max(total, 1)
            self._insight_progress.value = step

        result = ActivationMaximization(self.engine)(self.layer, channel=self.channel,
                                                     steps=steps, progress=progress)
        self._insight_heat.value = encode_png(upscale_nearest(heat, min_side=160))
        self._insight_max.value = encode_png(upscale_nearest(
            np.asarray(result.image) if np.asarray(result.image).shape[-1] == 3
            else np.repeat(np.asarray(result.image).reshape(*result.image.shape[:2], 1), 3, 2),
            min_side=160))
        self._insight_caption.value = html.escape(
            f"{self.layer} channel {self.channel}: left, where it fires on this image; right, "
            f"an input made to excite it ({result.initial:.3g} -> {result.final:.3g}).")
        self._insight.layout.display = None
        return heat, result

    def _on_explain_click(self, _: Any) -> None:
        try:
            self.explain_channel()
        except CnnvizError as error:
            self._errors.show(str(error))

    def export_html(self, path: str | os.PathLike, layers: Sequence[str] | None = None,
                    images: Sequence[Any] | None = None, **kwargs: Any) -> Any:
        """Write a self-contained HTML page of this explorer that works without a kernel.

        Parameters
        ----------
        path : str or path-like
            Where to write the single HTML file (feature maps inlined, no network).
        layers : sequence of str, optional
            Layers to include; default: the convolution and pooling layers (see
            :func:`cnnviz_widgets.export.export_html`).
        images : sequence, optional
            Images to include; default: the explorer's images (at most 8).
        **kwargs
            Passed on, e.g. ``normalization``, ``colormap``, ``max_side``, ``title``.

        Returns
        -------
        ExportReport
            The path, its size in bytes, the layers and image names written.
        """
        from ..export.html import export_html

        if images is None:
            images = self._images[:8]
            kwargs.setdefault("image_names", self._image_names[:8])
        kwargs.setdefault("colormap", self.colormap)
        return export_html(self.engine, path, layers=layers, images=images, **kwargs)

    def save(self, path: str | os.PathLike, dpi: int = 100) -> None:
        """Save the current view as a matplotlib figure (title, colour bar, channel numbers)."""
        from ..render.mpl import feature_figure, vector_figure

        if self._rendered is None and self._vector is None:
            self._render()
        title = self._title()
        if self._vector is not None:
            fig = vector_figure(self._vector, title=title, labels=self.class_names)
        else:
            fig = feature_figure(self._rendered, title=title, cmap=self.colormap,
                                 mode=self.normalization)
        fig.savefig(os.fspath(path), dpi=dpi)

    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        """Apply several trait changes with a single redraw at the end."""
        self._hold += 1
        try:
            yield
        finally:
            self._hold -= 1
            if self._hold == 0 and self._dirty:
                self._render()

    # -- validation ------------------------------------------------------------------
    def _fail(self, error: CnnvizError) -> CnnvizError:
        self._errors.show(str(error))
        return error

    @validate("layer")
    def _valid_layer(self, proposal: dict) -> str:
        name = proposal["value"]
        try:
            self.engine.layer(name)
        except CnnvizError as error:
            raise self._fail(error) from None
        return name

    @validate("channel")
    def _valid_channel(self, proposal: dict) -> int | None:
        value = proposal["value"]
        if value is None or not self.layer:
            return value
        count = self._channel_count()
        if not 0 <= value < count:
            raise self._fail(SelectionOutOfRangeError(
                f"Channel {value} does not exist: layer {self.layer!r} has {count} channel(s), "
                f"numbered 0 to {count - 1}. Use channel=None to see them all."
            ))
        return value

    @validate("image_index")
    def _valid_image_index(self, proposal: dict) -> int:
        value = proposal["value"]
        if not 0 <= value < len(self._images):
            raise self._fail(SelectionOutOfRangeError(
                f"There is no image {value}: the panel has {len(self._images)} image(s), "
                f"numbered 0 to {len(self._images) - 1}."
            ))
        return value

    @validate("page")
    def _valid_page(self, proposal: dict) -> int:
        value = proposal["value"]
        pages = self._page_count()
        if not 0 <= value < pages:
            raise self._fail(SelectionOutOfRangeError(
                f"There is no page {value}: this layer's grid has {pages} page(s)."
            ))
        return value

    def _valid_choice(self, name: str, value: str, choices: Sequence[str]) -> str:
        if value not in choices:
            raise self._fail(InvalidSettingError(
                f"{value!r} is not a valid {name}; choose one of "
                + ", ".join(repr(c) for c in choices) + "."
            ))
        return value

    @validate("normalization")
    def _valid_normalization(self, proposal: dict) -> str:
        return self._valid_choice("normalization", proposal["value"], NORMALIZATIONS)

    @validate("backend")
    def _valid_backend(self, proposal: dict) -> str:
        return self._valid_choice("backend", proposal["value"], BACKENDS)

    @validate("channel_order")
    def _valid_order(self, proposal: dict) -> str:
        return self._valid_choice("channel order", proposal["value"], CHANNEL_ORDERS)

    @validate("colormap")
    def _valid_colormap(self, proposal: dict) -> str:
        import matplotlib

        value = proposal["value"]
        if value not in matplotlib.colormaps:
            raise self._fail(InvalidSettingError(
                f"{value!r} is not a matplotlib colour map; try one of "
                + ", ".join(repr(c) for c in COLORMAPS) + "."
            ))
        return value

    # -- reactions -------------------------------------------------------------------
    @observe(*_STATE)
    def _on_state(self, change: dict) -> None:
        name = change["name"]
        if name in ("layer", "image_index"):
            with self._batch():
                if name == "layer":
                    self._on_layer_change()
                self._dirty = True
        elif name == "backend":
            self._show_backend()
            self._dirty = True
        else:
            self._dirty = True
        if not self._syncing:
            self._sync_controls()
        if self._hold == 0 and self._dirty:
            self._render()

    def _on_layer_change(self) -> None:
        count = self._channel_count()
        if self.channel is not None and self.channel >= count:
            self.channel = None
        if self.page >= self._page_count():
            self.page = 0

    # -- helpers ---------------------------------------------------------------------
    def _default_layer(self) -> str:
        for info in self.engine.layers:
            if info.kind == "conv" and info.is_spatial:
                return info.name
        for info in self.engine.layers:
            if info.is_spatial:
                return info.name
        return self.engine.layers[0].name

    def _channel_count(self) -> int:
        info = self.engine.layer(self.layer)
        if info.is_spatial:
            return int(info.output_shape[-1]) if len(info.output_shape) == 3 else 1
        if info.output_shape and info.output_shape[-1] is not None:
            return int(info.output_shape[-1])
        return 1

    def _page_count(self) -> int:
        if not self.layer or not self.engine.layer(self.layer).is_spatial:
            return 1
        return max(1, -(-self._channel_count() // self.per_page))

    def _title(self) -> str:
        info = self.engine.layer(self.layer)
        what = f"channel {self.channel}" if self.channel is not None else self._caption_channels()
        return (f"{info.label} | {self._image_names[self.image_index]} | {what} | "
                f"{NORMALIZATION_LABELS[self.normalization]}")

    def _caption_channels(self) -> str:
        count = self._channel_count()
        if not self.engine.layer(self.layer).is_spatial:
            return f"{count} values"
        shown = self.shown_channels() if self._rendered is not None else []
        if len(shown) >= count:
            return f"all {count} channels"
        return (f"{len(shown)} of {count} channels (page {self.page + 1} of "
                f"{self._page_count()}, ordered by {self.channel_order})")

    # -- drawing ---------------------------------------------------------------------
    def _render(self) -> None:
        self._dirty = False
        self.render_count += 1
        try:
            activation = self.current_activation()
            if activation.ndim == 1:
                self._draw_vector(np.asarray(activation, dtype=np.float32))
            elif activation.ndim in (2, 3):
                maps = activation if activation.ndim == 3 else activation[..., None]
                self._draw_maps(maps)
            else:
                raise LayerNotViewableError(
                    f"The layer {self.layer!r} gives an output of shape {activation.shape}, "
                    "which cannot be drawn as images or bars. Pick another layer."
                )
        except CnnvizError as error:
            self._render_error = error
            self._errors.show(str(error))
            return
        except Exception as error:  # noqa: BLE001 - the panel must stay usable
            self._render_error = LayerNotViewableError(
                f"Could not draw layer {self.layer!r} for this image: "
                f"{type(error).__name__}: {error}"
            )
            self._errors.show(str(self._render_error))
            return
        self._render_error = None
        self._errors.clear()
        self._caption.value = html.escape(self._title() + self._nonfinite_note)

    def _draw_maps(self, maps: np.ndarray) -> None:
        if self.channel is not None:
            view = render_channel(maps, self.channel, self.normalization, self.colormap)
        else:
            order = self._channel_order(maps)
            shown = page_of(order, self.page, self.per_page)
            view = render_grid(maps, shown, self.normalization, self.colormap, min_side=448)
        self._rendered = view
        self._vector = None
        if self.backend == "bqplot":
            self._bqplot().update(view)
        else:
            with self._image.hold_sync():
                self._image.format = view.format
                self._image.value = view.data
        self._colorbar.value = self._colorbar_html(maps)

    def _channel_order(self, maps: np.ndarray) -> np.ndarray:
        """Channel order for the grid, memoised per (layer, image, order)."""
        key = (self._activation_key, self.channel_order)
        if self._order_memo is None or self._order_memo[0] != key:
            self._order_memo = (key, order_channels(maps, self.channel_order))
        return self._order_memo[1]

    def _draw_vector(self, values: np.ndarray) -> None:
        from ..render.mpl import figure_to_png, vector_figure

        self._vector = values
        labels = self.class_names if self.class_names and len(self.class_names) == len(
            values) else None
        if self.backend == "bqplot":
            self._bqplot().update_bars(values, labels)
        else:
            # a vector does not depend on channel, scale or colours: draw it once per activation
            memo = self._vector_png
            if memo is not None and memo[0] is values and memo[1] == self.layer:
                png = memo[2]
            else:
                fig = vector_figure(values, title=self.engine.layer(self.layer).label,
                                    labels=labels)
                png = figure_to_png(fig)
                self._vector_png = (values, self.layer, png)
            with self._image.hold_sync():
                self._image.format = "png"
                self._image.value = png
        self._colorbar.value = self._top_classes_html(values, labels)

    def _colorbar_html(self, maps: np.ndarray) -> str:
        from ..colour.colormaps import lut

        colours = lut(self.colormap)[:: 32]
        stops = ",".join(f"rgb({r},{g},{b})" for r, g, b in colours)
        if self.normalization == "layer" or self.channel is not None:
            lo, hi = self._value_range(maps)
            if self.normalization == "signed":
                top = max(abs(lo), abs(hi))
                lo, hi = -top, top
            left, right = f"{lo:.3g}", f"{hi:.3g}"
        elif self.normalization == "signed":
            left, right = "-max |a|", "+max |a|"
        elif self.normalization == "standardize":
            left, right = "mean - 2 std", "mean + 2 std"
        else:
            left, right = "channel min", "channel max"
        return (
            '<div class="cnnviz-colorbar" style="display:flex;align-items:center;gap:6px;'
            f'font-size:11px"><span>{left}</span><span style="display:inline-block;width:200px;'
            f'height:10px;background:linear-gradient(to right,{stops})"></span>'
            f"<span>{right}</span></div>"
        )

    def _value_range(self, maps: np.ndarray) -> tuple[float, float]:
        """Finite min and max of the shown channel (or the layer), memoised per activation:
        normalisation and colour-map changes redraw the colour bar without rescanning."""
        key = (self._activation_key, self.channel)
        if self._range_memo is None or self._range_memo[0] != key:
            data = maps if self.channel is None else maps[..., self.channel]
            finite = data[np.isfinite(data)]
            value = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
            self._range_memo = (key, value)
        return self._range_memo[1]

    def _top_classes_html(self, values: np.ndarray, labels: list[str] | None) -> str:
        if not labels:
            return ""
        items = "".join(f"<li>{html.escape(name)}: {score:.3f}</li>"
                        for _, name, score in top_classes(values, labels))
        return f'<ol class="cnnviz-top-classes" style="margin:2px 0">{items}</ol>'

    # -- controls --------------------------------------------------------------------
    def _build_controls(self) -> None:
        engine = self.engine
        self._errors = ErrorBox()
        self._layer_dd = w.Dropdown(options=layer_options(engine.layers), description="Layer",
                                    layout=w.Layout(width="360px"))
        self._layer_dd.add_class("cnnviz-layer")
        self._mode = w.ToggleButtons(options=[("All channels", "all"), ("One channel", "one")],
                                     value="all", style={"button_width": "110px"})
        self._mode.add_class("cnnviz-mode")
        self._channel_slider = w.IntSlider(min=0, max=0, description="Channel",
                                           continuous_update=True)
        self._channel_slider.add_class("cnnviz-channel")
        self._norm = w.ToggleButtons(
            options=[(NORMALIZATION_LABELS[n], n) for n in NORMALIZATIONS],
            description="Scale", style={"button_width": "100px"},
        )
        self._norm.add_class("cnnviz-normalization")
        self._cmap = w.Dropdown(options=list(COLORMAPS), description="Colours",
                                layout=w.Layout(width="200px"))
        self._cmap.add_class("cnnviz-colormap")
        self._order = w.Dropdown(options=list(CHANNEL_ORDERS), description="Order",
                                 layout=w.Layout(width="200px"))
        self._order.add_class("cnnviz-order")
        self._page_slider = w.IntSlider(min=0, max=0, description="Page",
                                        continuous_update=False)
        self._page_slider.add_class("cnnviz-page")
        self._backend_tb = w.ToggleButtons(options=list(BACKENDS), description="View",
                                           style={"button_width": "90px"})
        self._backend_tb.add_class("cnnviz-backend")
        self._image_tb = w.ToggleButtons(options=[], description="Image",
                                         style={"button_width": "38px"})
        self._image_tb.add_class("cnnviz-image-picker")
        self._image_slider = w.IntSlider(min=0, max=0, description="Image #",
                                         continuous_update=False)
        self._image_slider.add_class("cnnviz-image-index")
        self._thumbs_html = w.HTML()
        self._upload = w.FileUpload(accept="image/*", multiple=False, description="Upload")
        self._upload.add_class("cnnviz-upload")
        self._image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self._image.add_class("cnnviz-view")
        self._colorbar = w.HTML()
        self._caption = w.HTML()
        self._caption.add_class("cnnviz-caption")
        self._view_box = w.Box([self._image])
        self._explain = w.Button(description="Explain channel", icon="lightbulb-o",
                                 tooltip="Heatmap of this channel over the input, and the "
                                         "input that excites it most")
        self._explain.add_class("cnnviz-explain")
        self._explain.on_click(self._on_explain_click)
        self._insight_heat = w.Image(format="png")
        self._insight_max = w.Image(format="png")
        self._insight_caption = w.HTML()
        self._insight_progress = w.IntProgress(min=0, max=1, layout=w.Layout(display="none"))
        self._insight = w.VBox([self._insight_caption, self._insight_progress,
                                w.HBox([self._insight_heat, self._insight_max])],
                               layout=w.Layout(display="none"))
        self._insight.add_class("cnnviz-insight")

        self._layer_dd.observe(self._from_layer, names="value")
        self._mode.observe(self._from_mode, names="value")
        self._channel_slider.observe(self._from_channel, names="value")
        self._norm.observe(self._from_control("normalization"), names="value")
        self._cmap.observe(self._from_control("colormap"), names="value")
        self._order.observe(self._from_control("channel_order"), names="value")
        self._page_slider.observe(self._from_control("page"), names="value")
        self._backend_tb.observe(self._from_control("backend"), names="value")
        self._image_tb.observe(self._from_control("image_index"), names="value")
        self._image_slider.observe(self._from_control("image_index"), names="value")
        self._upload.observe(self._from_upload, names="value")

        self._update_image_controls()
        self.children = [
            w.HBox([self._layer_dd, self._backend_tb]),
            w.HBox([self._mode, self._channel_slider, self._explain]),
            self._norm,
            w.HBox([self._cmap, self._order, self._page_slider]),
            w.HBox([self._image_tb, self._upload]),
            self._image_slider,
            self._thumbs_html,
            self._errors,
            self._caption,
            self._view_box,
            self._colorbar,
            self._insight,
        ]

    def _update_image_controls(self) -> None:
        many = len(self._images) > 20
        with self._image_guard():
            if many:
                self._image_tb.options = []
                self._image_tb.layout.display = "none"
                self._image_slider.max = len(self._images) - 1
                self._image_slider.layout.display = None
            else:
                self._image_tb.options = [(str(i), i) for i in range(len(self._images))]
                self._image_tb.tooltips = list(self._image_names)
                self._image_tb.layout.display = None
                self._image_slider.layout.display = "none"

    @contextlib.contextmanager
    def _image_guard(self) -> Iterator[None]:
        was = self._syncing
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = was

    def _thumb(self, index: int) -> str:
        if index not in self._thumbs:
            try:
                pixels = self.engine.pixels(self._images[index])
                if pixels.ndim == 3 and pixels.shape[-1] not in (1, 3):
                    pixels = pixels.mean(axis=-1)  # e.g. a 5-band model input: show its mean
                self._thumbs[index] = _thumbnail_data_url(pixels)
            except CnnvizError:
                self._thumbs[index] = ""
        return self._thumbs[index]

    def _sync_controls(self) -> None:
        """Mirror the traits into the controls without triggering their handlers."""
        if not self.layer:
            return
        with self._image_guard(), self.hold_sync():
            count = self._channel_count()
            self._layer_dd.value = self.layer
            self._channel_slider.max = max(0, count - 1)
            if self.channel is not None:
                self._channel_slider.value = self.channel
            self._mode.value = "all" if self.channel is None else "one"
            self._norm.value = self.normalization
            if self.colormap not in self._cmap.options:
                self._cmap.options = [*self._cmap.options, self.colormap]
            self._cmap.value = self.colormap
            self._order.value = self.channel_order
            pages = self._page_count()
            self._page_slider.max = pages - 1
            self._page_slider.value = self.page
            self._page_slider.layout.display = None if pages > 1 else "none"
            self._order.layout.display = None if self.channel is None else "none"
            self._explain.layout.display = "none" if self.channel is None else None
            self._backend_tb.value = self.backend
            if self._image_tb.options:
                self._image_tb.value = self.image_index
            self._image_slider.value = self.image_index
            thumbs_key = (self.image_index, len(self._images))
            if thumbs_key != self._thumbs_key:  # only the image picker changes the strip
                self._thumbs_key = thumbs_key
                start = max(0, min(self.image_index - 8, len(self._images) - 16))
                shown = range(start, min(len(self._images), start + 16))
                thumbs = {i: self._thumb(i) for i in shown}
                self._thumbs_html.value = thumbnail_strip(
                    [thumbs.get(i, "") for i in range(len(self._images))], self._image_names,
                    self.image_index)

    def _set_from_control(self, name: str, value: Any) -> None:
        if self._syncing:
            return
        try:
            setattr(self, name, value)
        except CnnvizError:
            pass  # already shown in the panel; the previous state stays on screen

    def _from_control(self, name: str):
        def handler(change: dict) -> None:
            self._set_from_control(name, change["new"])

        return handler

    def _from_layer(self, change: dict) -> None:
        self._set_from_control("layer", change["new"])

    def _from_mode(self, change: dict) -> None:
        if self._syncing:
            return
        self._set_from_control(
            "channel", None if change["new"] == "all" else int(self._channel_slider.value)
        )

    def _from_channel(self, change: dict) -> None:
        self._set_from_control("channel", int(change["new"]))

    def _from_upload(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return
        item = files[-1]
        name = item.get("name", "upload") if isinstance(item, dict) else "upload"
        content = item["content"] if isinstance(item, dict) else item.content
        try:
            self.add_image(bytes(content), name=name)
        except CnnvizError as error:
            self._errors.show(f"The uploaded file {name!r} cannot be used: {error}")

    # -- backends --------------------------------------------------------------------
    def _bqplot(self) -> Any:
        if self._bq_view is None:
            from ..render.bq import BqImageView

            self._bq_view = BqImageView(on_select=self._on_tile_click)
        return self._bq_view

    def _on_tile_click(self, channel: int | None) -> None:
        if channel is not None and self.channel is None:
            self._set_from_control("channel", int(channel))

    def _show_backend(self) -> None:
        if self.backend == "bqplot":
            self._view_box.children = [self._bqplot().widget]
        else:
            self._view_box.children = [self._image]

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict) and self._rendered is not None and self._vector is None:
            import base64

            from ..render.image import encode_png

            png = encode_png(self._rendered.rgb)
            bundle = dict(bundle)
            bundle["image/png"] = base64.b64encode(png).decode()
        return bundle


def explore(model: Any, images: Any = None, **kwargs: Any) -> FeatureMapExplorer:
    """Open a :class:`FeatureMapExplorer` on ``model`` and ``images``; it displays itself.

    Parameters
    ----------
    model : keras.Model or ActivationEngine
        The network to look into.
    images : sequence or array, optional
        The images to pick from; the package's samples are added after them.
    **kwargs
        Passed to :class:`FeatureMapExplorer` (``layer=``, ``backend=``, ...).

    Returns
    -------
    FeatureMapExplorer
        The panel; the last expression of a notebook cell displays it.

    Examples
    --------
    >>> from cnnviz_widgets import explore, zoo
    >>> ex = explore(zoo.digits_cnn())            # doctest: +SKIP
    >>> ex.layer = "conv2"; ex.channel = 7         # doctest: +SKIP
    """
    return FeatureMapExplorer(model, images, **kwargs)
