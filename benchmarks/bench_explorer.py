"""Explorer redraws on VGG16 224x224: from a trait change to new image bytes ready."""

from __future__ import annotations

import io
import itertools

import numpy as np

from ._table import Row, median_seconds


def _tutorial_grid(model, layer_name: str, x: np.ndarray) -> bytes:
    """The tutorial way: a sub-model, predict, an 8 x 8 grid of matplotlib subplots."""
    import keras
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sub = keras.Model(model.input, model.get_layer(layer_name).output)
    maps = sub.predict(x, verbose=0)[0]
    fig = Figure(figsize=(8, 8))
    FigureCanvasAgg(fig)
    for i, ax in enumerate(fig.subplots(8, 8).ravel()):
        ax.imshow(maps[..., i], cmap="viridis")
        ax.set_xticks([])
        ax.set_yticks([])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def run(repeat: int = 15) -> list[Row]:
    """Measure channel, normalisation and colour-map changes, and the bytes sent."""
    import keras

    from cnnviz_widgets import explore, zoo

    try:  # trained filters on a real photo give realistic maps (and byte sizes)
        model = zoo.vgg16(weights="hed")
        image = zoo.samples(["grace_hopper"])[0].image
    except Exception:  # noqa: BLE001 - fall back to random weights and noise
        model = keras.applications.VGG16(weights=None, include_top=False,
                                         input_shape=(224, 224, 3))
        image = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    ex = explore(model, [image], include_samples=False, layer="block1_conv1")
    evaluations = ex.engine.stats.layer_evaluations
    sizes: dict[str, list[int]] = {}

    def timed(name: str, trait: str, values) -> float:
        cycle = itertools.cycle(values)

        def change():
            setattr(ex, trait, next(cycle))
            sizes.setdefault(name, []).append(len(ex._image.value))

        return median_seconds(change, repeat)

    ex.channel = 0
    channel = timed("channel", "channel", range(1, 64))
    ex.normalization = "channel"
    single_norm = timed("single norm", "normalization", ["layer", "channel"])
    ex.channel = None
    grid_norm = timed("grid norm", "normalization", ["layer", "standardize", "signed", "channel"])
    grid_cmap = timed("grid cmap", "colormap", ["magma", "gray", "viridis"])
    grid_order = timed("grid order", "channel_order", ["mean", "max", "index"])
    assert ex.engine.stats.layer_evaluations == evaluations, "a redraw ran the model"

    ex.backend = "bqplot"
    view = ex._bq_view
    cycle = itertools.cycle(["layer", "channel"])
    bq_norm = median_seconds(lambda: setattr(ex, "normalization", next(cycle)), repeat)
    assert len(view.image_bytes) > 0
    ex.backend = "matplotlib"

    x = ex.engine.prepare(image)
    _tutorial_grid(model, "block1_conv1", x)  # warm up
    baseline = median_seconds(lambda: _tutorial_grid(model, "block1_conv1", x), 3)
    tutorial_bytes = len(_tutorial_grid(model, "block1_conv1", x))
    kb = {k: max(v) / 1000 for k, v in sizes.items()}
    base = "sub-model + predict + 8x8 subplots"
    return [
        Row("explorer", "block1_conv1 single-channel change", channel, baseline, base,
            "<= 10 ms", f"max {kb['channel']:.0f} KB"),
        Row("explorer", "block1_conv1 single-channel normalization", single_norm, baseline, base,
            "<= 10 ms", f"max {kb['single norm']:.0f} KB"),
        Row("explorer", "block1_conv1 64-map grid normalization", grid_norm, baseline, base,
            "<= 60 ms", f"max {kb['grid norm']:.0f} KB (goal <= 400 KB)"),
        Row("explorer", "block1_conv1 64-map grid colour map", grid_cmap, baseline, base,
            "<= 60 ms", f"max {kb['grid cmap']:.0f} KB"),
        Row("explorer", "block1_conv1 64-map grid re-order", grid_order, baseline, base,
            "<= 60 ms", f"max {kb['grid order']:.0f} KB"),
        Row("explorer", "bqplot grid normalization (in place)", bq_norm, baseline, base,
            "<= 60 ms", f"{len(view.image_bytes) / 1000:.0f} KB"),
        Row("explorer", "tutorial way, for reference", baseline, None, "",
            "", f"{tutorial_bytes / 1000:.0f} KB PNG"),
    ]
