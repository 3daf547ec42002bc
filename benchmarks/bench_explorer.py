"""Explorer redraws on VGG16 224x224: from a trait change to new image bytes ready.

The render baseline re-plots maps that are already computed, the way a notebook does
it with matplotlib: an 8 x 8 grid of subplots (or one axes for a single channel),
``imshow`` per channel, saved to PNG bytes. So render is compared with render; the
tutorial way (a new sub-model, ``predict``, then the same subplots) is a separate row.

The bytes column counts what a change puts on the wire: the lengths of the synced
values (bytes, strings, arrays) that differ after the change, over the explorer's widget
tree (ipywidgets' public ``keys`` and trait values), whichever widgets hold them.
"""

from __future__ import annotations

import io
import itertools
import time

import numpy as np

from ._models import vgg16_trunk
from ._table import Row, median_seconds

TUTORIAL_PX = 800  # the tutorial's Figure(figsize=(8, 8)) at matplotlib's default 100 dpi


def _synced_values(root) -> dict[tuple[int, str], object]:
    """Every synced trait value of ``root`` and the widgets it reaches, by (widget, name)."""
    import ipywidgets as w

    values: dict[tuple[int, str], object] = {}
    seen: set[int] = set()
    stack = [root]
    while stack:
        widget = stack.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        for name in widget.keys:
            value = getattr(widget, name, None)
            values[(id(widget), name)] = value
            items = value if isinstance(value, (list, tuple)) else [value]
            if isinstance(value, dict):
                items = list(value.values())
            stack.extend(v for v in items if isinstance(v, w.Widget))
    return values


def _payload(value: object) -> int:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, np.ndarray):
        return value.nbytes
    return 0


def _changed_bytes(before: dict, after: dict) -> tuple[int, bytes]:
    """Payload of the values that changed, and the largest changed bytes value (the image)."""
    total, image = 0, b""
    for key, value in after.items():
        old = before.get(key, None)
        if old is value:
            continue
        if isinstance(value, np.ndarray) and isinstance(old, np.ndarray):
            same = old.shape == value.shape and np.array_equal(old, value)
        else:
            try:
                same = bool(old == value)
            except (TypeError, ValueError):
                same = False
        if not same:
            total += _payload(value)
            if isinstance(value, (bytes, bytearray, memoryview)) and len(value) > len(image):
                image = bytes(value)
    return total, image


def _pixel_size(data: bytes) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:  # noqa: BLE001 - not an image
        return None


def _mpl_png(maps: np.ndarray, channels: list[int], side_px: int, cmap: str) -> bytes:
    """Re-plot computed maps: one ``imshow`` per channel on a grid of subplots, to PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = int(np.ceil(np.sqrt(len(channels))))
    fig = Figure(figsize=(side_px / 100, side_px / 100), dpi=100)
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(n, n)).ravel()
    for ax, channel in zip(axes, channels, strict=False):
        ax.imshow(maps[..., channel], cmap=cmap)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _tutorial_grid(model, layer_name: str, x: np.ndarray) -> bytes:
    """The tutorial way: a new sub-model, predict, an 8 x 8 grid of matplotlib subplots."""
    import keras

    sub = keras.Model(model.input, model.get_layer(layer_name).output)
    maps = sub.predict(x, verbose=0)[0]
    return _mpl_png(maps, list(range(64)), TUTORIAL_PX, "viridis")


def run(repeat: int = 15) -> list[Row]:
    """Measure channel, normalisation, colour-map and order changes, and the bytes sent."""
    from cnnviz_widgets import explore, zoo

    model, label = vgg16_trunk()
    try:  # trained filters on a real photo give realistic maps (and byte sizes)
        image = zoo.samples(["grace_hopper"])[0].image
        label += ", grace_hopper"
    except Exception:  # noqa: BLE001 - fall back to noise
        image = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
        label += ", random image"
    layer = "block1_conv1"
    ex = explore(model, [image], include_samples=False, layer=layer)
    evaluations = ex.engine.stats.layer_evaluations
    order_trait = "order" if ex.has_trait("order") else "channel_order"
    notes: dict[str, str] = {}
    sides: dict[str, int] = {}  # the longer side of our picture, in pixels

    def timed(name: str, trait: str, values) -> float | None:
        """Median time of setting ``trait`` to the next of ``values``; notes the bytes sent.

        Each change must redraw once and leave a view on screen (``current_view()`` raises
        the drawing's error otherwise); a failure is noted and gives None.
        """
        cycle = itertools.cycle(values)
        times, sizes, pixels = [], [], None
        try:
            for _ in range(repeat):
                before_state = _synced_values(ex)
                renders = ex.render_count
                value = next(cycle)
                start = time.perf_counter()
                setattr(ex, trait, value)
                times.append(time.perf_counter() - start)
                if ex.render_count != renders + 1:
                    raise AssertionError(f"setting {trait}={value!r} made "
                                         f"{ex.render_count - renders} redraws, not 1")
                ex.current_view()
                sent, picture = _changed_bytes(before_state, _synced_values(ex))
                sizes.append(sent)
                pixels = _pixel_size(picture) or pixels
        except Exception as error:  # noqa: BLE001 - report the row, measure the others
            notes[name] = f"FAILED: {type(error).__name__}: {error}"[:160]
            return None
        shape = f", {pixels[0]}x{pixels[1]} px" if pixels else ""
        if pixels:
            sides[name] = max(pixels)
        notes[name] = f"max {max(sizes) / 1000:.0f} KB sent{shape}"
        return float(np.median(times))

    ex.channel = 0
    channel = timed("channel", "channel", range(1, 64))
    ex.normalization = "channel"
    single_norm = timed("single norm", "normalization", ["layer", "standardize", "channel"])
    ex.channel = None
    grid_norm = timed("grid norm", "normalization", ["layer", "standardize", "signed", "channel"])
    grid_cmap = timed("grid cmap", "colormap", ["magma", "gray", "viridis"])
    grid_order = timed("grid order", order_trait, ["mean", "max", "index"])
    ex.backend = "bqplot"
    bq_norm = timed("bq norm", "normalization", ["layer", "standardize", "channel"])
    ex.backend = "matplotlib"
    assert ex.engine.stats.layer_evaluations == evaluations, "a redraw ran the model"

    # the render baseline: the same maps, already computed, re-plotted with matplotlib
    maps = np.asarray(ex.engine.activation(layer, image))
    # the baseline figures are as large as our pictures, at most the tutorial's 800 px
    single_px = min(sides.get("channel", 224), TUTORIAL_PX)
    grid_px = min(sides.get("grid norm", TUTORIAL_PX), TUTORIAL_PX)
    _mpl_png(maps, list(range(64)), TUTORIAL_PX, "viridis")  # warm up matplotlib
    cmaps = itertools.cycle(["magma", "gray", "viridis"])
    mpl_single = median_seconds(lambda: _mpl_png(maps, [5], single_px, next(cmaps)), 5)
    mpl_grid = median_seconds(lambda: _mpl_png(maps, list(range(64)), grid_px, next(cmaps)), 3)
    mpl_grid_kb = len(_mpl_png(maps, list(range(64)), grid_px, "viridis")) / 1000

    x = ex.engine.prepare(image)
    _tutorial_grid(model, layer, x)  # warm up predict
    tutorial = median_seconds(lambda: _tutorial_grid(model, layer, x), 3)
    tutorial_kb = len(_tutorial_grid(model, layer, x)) / 1000

    single = f"matplotlib: 1 imshow -> PNG ({single_px} px)"
    grid = f"matplotlib: 8x8 imshow -> PNG ({grid_px} px)"
    section = "explorer"
    return [
        Row(section, label, f"{layer} single-channel change", channel, mpl_single, single,
            "<= 10 ms", notes["channel"]),
        Row(section, label, f"{layer} single-channel normalization", single_norm, mpl_single,
            single, "<= 10 ms", notes["single norm"]),
        Row(section, label, f"{layer} 64-map grid normalization", grid_norm, mpl_grid, grid,
            "<= 60 ms", notes["grid norm"] + ("" if grid_norm is None else " (goal <= 400 KB)")),
        Row(section, label, f"{layer} 64-map grid colour map", grid_cmap, mpl_grid, grid,
            "<= 60 ms", notes["grid cmap"]),
        Row(section, label, f"{layer} 64-map grid re-order", grid_order, mpl_grid, grid,
            "<= 60 ms", notes["grid order"]),
        Row(section, label, "bqplot grid normalization (in place)", bq_norm, mpl_grid, grid,
            "<= 60 ms", notes["bq norm"]),
        Row(section, label, f"{layer} 64-map grid normalization, tutorial way", grid_norm, tutorial,
            "tutorial: new sub-model + predict + 8x8 imshow -> PNG", "",
            f"baseline {tutorial_kb:.0f} KB PNG ({TUTORIAL_PX} px); "
            f"re-plot baseline {mpl_grid_kb:.0f} KB"),
    ]
