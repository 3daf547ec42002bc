"""A kernel-free, self-contained HTML page of feature maps, for course pages.

:func:`export_html` writes **one** HTML file that needs no Python, no kernel and no
network: a layer selector, an image selector (thumbnails), a channel slider with an
"all channels" switch and a choice of normalisation, all in plain JavaScript (no
libraries) drawing on a ``<canvas>``. It can be opened from disk, put in an ``<iframe>``,
a Jupyter Book or a learning-management system. A Content-Security-Policy in the page
forbids every network request.

How the data stays small
------------------------
For each (layer, image) the page holds **one grayscale PNG mosaic** of all the layer's
channels, as a base64 ``data:`` URL. Each channel is quantised to ``uint8`` with its own
minimum and maximum, which are recorded in the embedded JSON, so the page can show
values (hover read-out) and re-scale the channels to a scale shared by the layer
(``"layer"`` normalisation) without any new data. Maps whose height or width exceeds
``max_side`` are shrunk first by an integer factor with block means (area averaging,
:func:`cnnviz_widgets.layout.mosaic.downsample`). The colour map travels as a 256-entry
lookup table taken from matplotlib; maps are upscaled with nearest neighbours, so a 7x7
map stays crisp.

Vector layers (``Dense``, global pooling, ``Flatten``) are left out of the default
selection; named explicitly they are shown as a bar chart (values in the JSON). A
transformer's tokens that form a patch grid are exported as maps of that grid (the class
token left out, :func:`~cnnviz_widgets.layout.tokens.layer_maps`). Layers the page cannot
draw, a 1-D convolution's sequence (T, C) and tokens without a grid, are left out with a
note in the page (``#skipped``); a layer of a volume or video (D, H, W, C) is written as its
slices, one menu entry each (:mod:`.volume`); for a model of signals the default is its
vector layers, and the image buttons show small line plots of the signals.

Given ``top_images`` (the explorer passes its dataset view's crops), the page also shows,
under one selected channel, the data set's images that excite it most, each cropped to
the receptive field of its maximum: one small PNG per crop at its own size (the browser
enlarges it), the position outlined by the page.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .._deprecation import reordered
from ..checks import whole_number
from ..colour.colormaps import lut
from ..colour.scale import finite_range, unit_scale
from ..engine.coerce import as_engine, image_list
from ..engine.coerce import image_names as default_image_names
from ..engine.stages import stage_layers
from ..errors import InvalidSettingError, LayerNotViewableError
from ..layout.mosaic import downsample, downsample_factor, mosaic
from ..layout.tokens import layer_maps
from ..render.crops import Crop, crop_picture, signal_marker_fractions
from ..render.encode import data_url, thumbnail
from .volume import middle_slice, page_parts, part_value

__all__ = ["NORMALIZATIONS", "ExportReport", "default_export_layers", "export_html", "page_html"]

#: The normalisations the page offers (its initial choice is a parameter).
NORMALIZATIONS: tuple[str, ...] = ("channel", "layer")

#: When a model has at most this many spatial conv/pool layers, all are exported by default.
MAX_DEFAULT_LAYERS = 12

_THUMB_SIDE = 160
_MAX_STRIP = 16384  # px; browsers decode and draw images this tall without trouble
_PLACEHOLDER = re.compile(
    r"__(VERSION|TITLE|LAYER_OPTIONS|IMAGE_BUTTONS|SKIPPED_NOTE|DOWNSAMPLE_NOTE|DATA)__")


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_html` wrote.

    Attributes
    ----------
    path : pathlib.Path
        The HTML file.
    bytes : int
        Its size in bytes.
    layers : tuple of str
        The exported layers, in page order.
    images : tuple of str
        The names of the exported images, in page order.
    """

    path: Path
    bytes: int
    layers: tuple[str, ...]
    images: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"{self.path} ({self.bytes / 1e6:.2f} MB): {len(self.layers)} layers x "
            f"{len(self.images)} images"
        )


# -- layer selection ---------------------------------------------------------------------


def _why_not_shown(info: Any) -> str:
    """Why the page cannot draw a layer, in words ("" when it can)."""
    if info.layout in ("image", "plane", "vector", "volume") or info.token_grid is not None:
        return ""
    if info.layout == "sequence":
        return "a sequence (channels over time)"
    if info.layout == "tokens":
        return "tokens that do not form a square grid of patches"
    return f"output shape {info.output_shape}"


def _is_signal_model(engine: Any) -> bool:
    return getattr(getattr(engine, "plan", None), "input_axes", "image") == "sequence"


def default_export_layers(model_or_engine: Any) -> list[str]:
    """The layers :func:`export_html` exports when none are named.

    The rule: take every layer with a spatial output (H, W, C) whose kind is ``conv`` or
    ``pool``. If there are at most :data:`MAX_DEFAULT_LAYERS` (12) of them, export them
    all. Otherwise export every such pooling layer and the last layer of every **stage**,
    as :func:`cnnviz_widgets.engine.stages.stage_layers` defines it (a run of layers at
    one resolution). For VGG16 that is ``block1_conv2, block1_pool, block2_conv2,
    block2_pool, ..., block5_conv3, block5_pool`` (10 layers). Vector layers (Dense,
    global pooling) are never chosen by default.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model whose layers are considered (or its engine).

    A vision transformer's blocks are added: its residual sums (``merge`` layers) whose
    tokens form a patch grid, at most :data:`MAX_DEFAULT_LAYERS` of them evenly spread,
    the last one always. A model of signals (a 1-D convolutional network) has no maps the
    page can draw: its vector layers are exported instead.

    Returns
    -------
    list of str
        Layer names in model order (possibly empty).
    """
    engine = as_engine(model_or_engine)
    if _is_signal_model(engine):
        return [info.name for info in engine.layers if info.layout == "vector"]
    spatial = [info for info in engine.layers
               if (info.is_spatial or info.layout == "volume") and info.kind in ("conv", "pool")]
    blocks = [info.name for info in engine.layers
              if info.token_grid is not None and info.kind == "merge"]
    if len(blocks) > MAX_DEFAULT_LAYERS:
        picks = np.linspace(len(blocks) - 1, 0, MAX_DEFAULT_LAYERS).round().astype(int)
        blocks = [blocks[i] for i in sorted(set(picks.tolist()))]
    if len(spatial) <= MAX_DEFAULT_LAYERS:
        chosen = {info.name for info in spatial}
    else:
        chosen = ({info.name for info in spatial if info.kind == "pool"}
                  | set(stage_layers(engine)))
    chosen |= set(blocks)
    return [info.name for info in engine.layers if info.name in chosen]


# -- encoding ------------------------------------------------------------------------------


def _short_float(x: float) -> float:
    """The shortest decimal that reads back as the same float32 (keeps the JSON small)."""
    return float(str(np.float32(x)))


def _grid_columns(channels: int, tile_h: int, tile_w: int) -> int:
    """Columns that make a grid of ``channels`` tiles about square."""
    cols = math.ceil(math.sqrt(channels * tile_h / max(1, tile_w)))
    return max(1, min(channels, cols))


def quantize_maps(maps: np.ndarray) -> tuple[np.ndarray, list[float], list[float]]:
    """Quantise each channel of (H, W, C) maps to uint8 with its own min and max.

    Parameters
    ----------
    maps : numpy.ndarray
        Shape (H, W, C). Non-finite values are replaced by the channel's finite min or
        max (NaN by the min).

    Returns
    -------
    levels : numpy.ndarray
        uint8, shape (H, W, C): ``round((v - min) / (max - min) * 255)``, 0 for a constant
        channel (:func:`~cnnviz_widgets.colour.scale.unit_scale`, times 255).
    mins, maxs : list of float
        Per-channel min and max, as the shortest decimals of their float32 values; a
        value is recovered as ``min + level / 255 * (max - min)``, within half a level.
    """
    x = np.asarray(maps, dtype=np.float64)
    lo, hi = finite_range(x, axis=(0, 1))
    mins = [_short_float(v) for v in lo]
    maxs = [_short_float(v) for v in hi]
    lo_d, hi_d = np.asarray(mins), np.asarray(maxs)
    if not np.isfinite(x).all():
        x = np.where(np.isnan(x), lo_d, np.clip(x, lo_d, hi_d))
    unit = unit_scale(x, (0, 1), lo=lo_d, hi=hi_d).astype(np.float64)
    return np.clip(np.rint(unit * 255.0), 0, 255).astype(np.uint8), mins, maxs


def mosaic_levels(levels: np.ndarray, columns: int) -> np.ndarray:
    """Tile uint8 (h, w, C) levels row by row into one (rows*h, columns*w) image, no gaps."""
    image, _ = mosaic(levels, columns, 0, fill=0, dtype=np.uint8)
    return image


def _encode_layer(info: Any, act: np.ndarray, max_side: int) -> tuple[dict, dict]:
    """(layer metadata, per-image entry) for one activation."""
    arr = np.asarray(act)
    if arr.ndim == 1:
        values = [_short_float(v) if np.isfinite(v) else 0.0 for v in arr]
        meta = {"vector": True, "channels": int(arr.shape[0])}
        return meta, {"values": values}
    if arr.ndim not in (2, 3):
        raise LayerNotViewableError(
            f"The layer {info.name!r} has output shape {arr.shape}; only (H, W, C), (H, W) "
            "and vector outputs can be exported."
        )
    arr = layer_maps(arr, info.layout, info.token_grid).maps  # a token grid: its patches
    h, w, c = arr.shape
    scale = downsample_factor((h, w), max_side)
    small = downsample(arr, max_side)
    th, tw = small.shape[:2]
    cols = _grid_columns(c, th, tw)
    # stored as a tall strip (PNG compresses it ~5-7 % better than a square grid),
    # wrapped into more columns only when it would exceed _MAX_STRIP pixels
    store_cols = max(1, math.ceil(c * th / _MAX_STRIP))
    levels, mins, maxs = quantize_maps(small)
    meta = {
        "vector": False,
        "channels": int(c),
        "tile": [int(th), int(tw)],
        "cols": int(cols),
        "rows": math.ceil(c / cols),
        "store_cols": int(store_cols),
        "store_rows": math.ceil(c / store_cols),
        "scale": int(scale),
        "source": [int(h), int(w)],
    }
    strip = mosaic_levels(levels, store_cols)
    entry = {"png": data_url(strip, "png", optimize=True), "min": mins, "max": maxs}
    return meta, entry


def _crop_entry(crop: Crop) -> dict:
    """One crop for the page: its pixels as a PNG data URL at their own size, the marker
    as fractions of the crop (top, left, bottom, right), the caption."""
    pixels = np.asarray(crop.pixels)
    h, w = pixels.shape[:2]
    if crop.signal:  # a stretch of a signal: lines, the marker's rows are time steps
        where = signal_marker_fractions(crop)
        entry = {"src": data_url(crop_picture(crop, 96, marked=False), "png", optimize=True),
                 "caption": crop.caption}
        if where is not None:
            entry["marker"] = [0.0, round(where[0], 4), 1.0, round(where[1], 4)]
        return entry
    entry: dict[str, Any] = {
        "src": data_url(thumbnail(pixels, max(h, w, 1)), "png", optimize=True),
        "caption": crop.caption,
    }
    if crop.marker is not None and h and w:
        top, left, bottom, right = crop.marker
        entry["marker"] = [round(top / h, 4), round(left / w, 4), round(bottom / h, 4),
                           round(right / w, 4)]
    return entry


def script_json(obj: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e`` and ``\\u0026`` (so a
    name containing ``</script>`` or ``<!--`` cannot end or alter the element); JSON.parse
    reads them back unchanged.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )


# -- page ----------------------------------------------------------------------------------


def page_html(
    model_or_engine: Any,
    images: Any,
    *,
    layers: Sequence[str] | str | None = None,
    image_names: Sequence[str] | None = None,
    normalization: str = "channel",
    colormap: str = "viridis",
    max_side: int = 80,
    title: str | None = None,
    top_images: Mapping[str, Sequence[Sequence[Crop]]] | None = None,
) -> tuple[str, list[str], list[str]]:
    """Build the page that :func:`export_html` writes; see there for the parameters.

    Returns
    -------
    page : str
        The HTML text.
    layers : list of str
        The exported layer names.
    image_names : list of str
        The names shown for the images.
    """
    from .. import __version__

    if normalization not in NORMALIZATIONS:
        raise InvalidSettingError(
            f"normalization must be one of {', '.join(map(repr, NORMALIZATIONS))}; "
            f"got {normalization!r}."
        )
    whole_number(max_side, "max_side")
    table = lut(colormap)
    engine = as_engine(model_or_engine)

    if isinstance(layers, str):
        layers = [layers]
    asked = default_export_layers(engine) if layers is None else list(dict.fromkeys(layers))
    infos = [engine.layer(name) for name in asked]  # LayerNotFoundError lists close names
    # what the page cannot draw is left out, and the page says so
    considered = infos if layers is not None else [
        info for info in engine.layers if info.kind in ("conv", "pool")]
    skipped = [(info.name, _why_not_shown(info)) for info in considered
               if _why_not_shown(info)]
    infos = [info for info in infos if not _why_not_shown(info)]
    names = [info.name for info in infos]
    if not names:
        if skipped:
            raise LayerNotViewableError(
                "None of these layers can be drawn in the page: "
                + "; ".join(f"{name!r} is {why}" for name, why in skipped)
                + ". Name image or vector layers with layers=[...].")
        raise LayerNotViewableError(
            "There are no layers to export: the model has no spatial conv/pool layers. "
            "Name the layers to export with layers=[...]."
        )

    items = image_list(images, engine.input_shape)
    if not items:
        raise InvalidSettingError("export_html needs images=[...]: at least one image to show.")
    if image_names is None:
        shown = default_image_names(images, engine.input_shape)
    else:
        shown = [str(n) for n in image_names]
        if len(shown) != len(items):
            raise InvalidSettingError(f"Got {len(shown)} image_names for {len(items)} images.")

    parts = page_parts(infos)  # a volume layer: one entry per slice
    layer_meta: list[dict | None] = [None] * len(parts)
    data: list[list[dict]] = [[] for _ in parts]
    thumbs = []
    if _is_signal_model(engine):
        from ..render.signal import signal_thumbnail

        def picture(image: Any) -> np.ndarray:
            return signal_thumbnail(engine.pixels(image), _THUMB_SIDE)
    else:
        def picture(image: Any) -> np.ndarray:  # a volume: its middle slice
            return thumbnail(middle_slice(engine.pixels(image)), _THUMB_SIDE)
    for image in items:
        thumbs.append(data_url(picture(image), "auto", optimize=True))
        acts = engine.activations(names, image)
        for li, (info, source, depth) in enumerate(parts):
            meta, entry = _encode_layer(info, part_value(acts[source], depth), int(max_side))
            if layer_meta[li] is None:
                layer_meta[li] = meta
            elif layer_meta[li] != meta:  # a flexible-size model fed differently sized images
                raise LayerNotViewableError(
                    f"The layer {info.name!r} has different output shapes for different "
                    "images; export images of one size (resize them first)."
                )
            data[li].append(entry)
        del acts

    layers_json = []
    for (info, _, _), meta in zip(parts, layer_meta, strict=True):
        layers_json.append({"name": info.name, "label": info.label, "kind": info.kind, **meta})
    model_name = getattr(getattr(engine, "model", None), "name", None)
    page_title = title if title is not None else (
        f"What {model_name} sees" if model_name else "Feature maps"
    )
    payload = {
        "title": page_title,
        "normalization": normalization,
        "colormap": colormap,
        "lut": [int(v) for v in table.reshape(-1)],
        "images": [{"name": n, "thumb": t} for n, t in zip(shown, thumbs, strict=True)],
        "layers": layers_json,
        "data": data,
        "skipped": [{"name": name, "why": why} for name, why in skipped],
        "top": None if top_images is None else [
            [[_crop_entry(c) for c in channel] for channel in top_images[name]]
            if name in top_images else None
            for name in (info.name for info, _, _ in parts)
        ],
    }
    options = "".join(
        f'<option value="{i}">{html.escape(layer["label"])}</option>'
        for i, layer in enumerate(layers_json)
    )
    buttons = "".join(
        f'<button type="button" data-index="{i}" aria-pressed="{str(i == 0).lower()}" '
        f'title="{html.escape(n)}"><img src="{t}" alt=""><span>{html.escape(n)}</span></button>'
        for i, (n, t) in enumerate(zip(shown, thumbs, strict=True))
    )
    shrunk = [m["name"] for m in layers_json if m.get("scale", 1) > 1]
    note = (
        f"&middot; maps larger than {int(max_side)} px a side are shown shrunk by block means"
        if shrunk else ""
    )
    skipped_note = "" if not skipped else (
        '<p id="skipped" class="note">Not in this page: '
        + "; ".join(f"{html.escape(name)} ({html.escape(why)})" for name, why in skipped)
        + ". The page draws maps and vectors; open the explorer in a notebook for these."
        "</p>")
    fills = {
        "VERSION": html.escape(__version__),
        "SKIPPED_NOTE": skipped_note,
        "TITLE": html.escape(page_title),
        "LAYER_OPTIONS": options,
        "IMAGE_BUTTONS": buttons,
        "DOWNSAMPLE_NOTE": note,
        "DATA": script_json(payload),
    }
    template = resources.files(__package__).joinpath("template.html").read_text("utf-8")
    page = _PLACEHOLDER.sub(lambda m: fills[m.group(1)], template)  # one pass: no re-scan
    return page, names, shown


def _old_order(args: tuple[Any, ...], kwargs: dict[str, Any],
               ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """``export_html(model, path, images=...)``: the path where the images now go.

    The old order always named ``images=`` with one argument before it; the new one
    cannot (the images would be given twice), so the two never look alike.
    """
    if len(args) == 2 and "images" in kwargs and "path" not in kwargs:
        return (args[0],), {**kwargs, "path": args[1]}
    return None


@reordered("export_html(model, path, images=...)",
           "export_html(model_or_engine, images, path)", _old_order)
def export_html(
    model_or_engine: Any,
    images: Any,
    path: str | os.PathLike,
    *,
    layers: Sequence[str] | str | None = None,
    image_names: Sequence[str] | None = None,
    normalization: str = "channel",
    colormap: str = "viridis",
    max_side: int = 80,
    title: str | None = None,
    top_images: Mapping[str, Sequence[Sequence[Crop]]] | None = None,
) -> ExportReport:
    """Write one self-contained HTML page of feature maps that works without a kernel.

    The file holds everything (images inlined as ``data:`` URLs, plain JavaScript, no
    libraries) and makes no network request. Its controls: a layer ``<select id="layer">``,
    image thumbnails (buttons in ``#image``), a channel slider ``#channel`` with an
    ``#all-channels`` check box (moving the slider, or clicking a cell of the grid, zooms
    to one channel), and ``#normalization`` ("channel" or "layer"). The drawing is on
    ``canvas#view``, described by ``#caption``; hovering shows the value under the
    pointer.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model to show, or an engine built on it.
    images : image or sequence of images
        Paths, bytes, PIL images, numpy arrays or ``zoo.samples()`` items, split like
        everywhere else (:func:`~cnnviz_widgets.engine.coerce.image_list`): an (N, H, W)
        or (N, H, W, C) array is N images.
    path : str or os.PathLike
        Where to write the page (overwritten). The old order ``export_html(model, path,
        images=...)`` still works, with a warning.
    layers : sequence of str, optional
        Layers to export, in page order. By default :func:`default_export_layers`: all
        spatial conv/pool layers if there are at most 12, else the last convolution of
        every stage plus the pooling layers. Vector layers (Dense) may be named; they
        are drawn as bar charts.
    image_names : sequence of str, optional
        Names shown for the images; default the sample name, the file stem or
        ``"image 0"``, ``"image 1"``, ... (:func:`~cnnviz_widgets.engine.coerce.image_names`).
    normalization : {"channel", "layer"}
        Initial scale: each channel from its own min to max, or one scale shared by all
        channels of the layer (per image). The page can switch.
    colormap : str
        A matplotlib colour map name, embedded as a 256-entry table.
    max_side : int
        Maps wider or taller than this are shrunk by the smallest integer factor that
        fits, with block means. The main lever on file size.
    title : str, optional
        Page title; default ``"What <model name> sees"``.
    top_images : mapping, optional
        ``{layer: [crops of channel 0, crops of channel 1, ...]}``, lists of
        :class:`~cnnviz_widgets.render.crops.Crop`: shown under a selected channel as
        "the images of the data set that excite it most" (``#top-images``). The
        explorer's ``export_html`` fills it from its dataset view.

    Returns
    -------
    ExportReport
        ``path``, size in ``bytes``, exported ``layers`` and ``images`` names.

    Raises
    ------
    LayerNotFoundError
        For an unknown layer name.
    InvalidSettingError
        For an unknown normalisation or colour map, a bad ``max_side``, no images, or
        ``image_names`` of the wrong length.
    LayerNotViewableError
        When none of the layers can be drawn in the page.

    Examples
    --------
    >>> from cnnviz_widgets import ActivationEngine, zoo
    >>> engine = ActivationEngine(zoo.vgg16(weights="hed"))      # doctest: +SKIP
    >>> export_html(engine, zoo.samples()[:3], "vgg16.html")  # doctest: +SKIP
    """
    page, names, shown = page_html(
        model_or_engine,
        images,
        layers=layers,
        image_names=image_names,
        normalization=normalization,
        colormap=colormap,
        max_side=max_side,
        title=title,
        top_images=top_images,
    )
    target = Path(path)
    data = page.encode("utf-8")
    target.write_bytes(data)
    return ExportReport(target, len(data), tuple(names), tuple(shown))
