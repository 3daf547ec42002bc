"""Static matplotlib figures (object-oriented API only, never pyplot state)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..colour.colormaps import lut
from ..colour.normalize import default_colormap
from ..errors import InvalidSettingError
from ..layout.mosaic import MosaicLayout
from .maps import RenderedView

__all__ = ["class_means_figure", "curves_figure", "faithfulness_figure", "feature_figure",
           "figure_to_png", "histogram_figure", "new_figure", "vector_figure"]

_MAX_LABELLED_TILES = 256


def new_figure(figsize: tuple[float, float], *, dpi: float = 100.0,
               layout: str | None = "constrained") -> Figure:
    """A matplotlib Figure with its own Agg canvas, outside pyplot's global state.

    Parameters
    ----------
    figsize : (float, float)
        Width and height in inches.
    dpi : float
        Dots per inch.
    layout : str or None
        Matplotlib layout engine (``"constrained"``, ``"tight"`` or None).

    Returns
    -------
    matplotlib.figure.Figure
        Drawable at once (``fig.canvas.draw()``); never registered with pyplot, so it is
        garbage-collected like any object and never shown twice in a notebook.
    """
    fig = Figure(figsize=figsize, dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def feature_figure(
    view: RenderedView | np.ndarray,
    *,
    title: str | None = None,
    colormap: str | None = None,
    normalization: str | None = None,
    layout: MosaicLayout | None = None,
    colorbar: bool = True,
    scale_labels: tuple[str, str] | None = None,
    channel_labels: bool = True,
    background: tuple[int, int, int] = (255, 255, 255),
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Draw a normalised feature map or mosaic with a colour bar and channel numbers.

    Parameters
    ----------
    view : RenderedView or numpy.ndarray
        A :class:`~cnnviz_widgets.render.maps.RenderedView`, or a float (H, W) array in
        [0, 1] with NaN gaps.
    title : str, optional
        Figure title (set on the image axes).
    colormap : str, optional
        Colour map; default the view's, else the default of ``normalization``.
    normalization : str, optional
        Normalisation used, shown in the colour-bar label; default the view's.
    layout : MosaicLayout, optional
        Where channels sit; default the view's. Needed for channel labels.
    colorbar : bool
        Add a colour bar (0 to 1, the normalised scale).
    scale_labels : (str, str), optional
        What the two ends of the colour bar stand for, e.g. the activation values of a
        scale shared by every tile (see :attr:`~cnnviz_widgets.render.view.MapValue.
        scale_labels`); the ends are then labelled with them.
    channel_labels : bool
        Write each tile's channel number in its top-left corner (skipped beyond 256
        tiles, and for a single tile, whose channel goes in the title instead).
    background : (int, int, int)
        RGB of gaps.
    figsize : (float, float), optional
        Inches; default grows with the mosaic's aspect ratio.

    Returns
    -------
    matplotlib.figure.Figure
        With an Agg canvas attached; ``fig.axes[0]`` is the image, ``fig.axes[1]`` the
        colour bar when there is one.
    """
    from matplotlib.colors import ListedColormap

    if isinstance(view, RenderedView):
        data = view.view
        layout = layout or view.layout
        colormap = colormap or view.colormap
        normalization = normalization or view.normalization
    else:
        data = np.asarray(view, dtype=np.float32)
        if data.ndim != 2:
            raise InvalidSettingError(
                f"Expected a 2-D normalised view; got shape {data.shape}.")
    cmap = colormap or default_colormap(normalization or "channel")
    colours = ListedColormap(lut(cmap) / 255.0, name=cmap).with_extremes(
        bad=np.asarray(background) / 255.0)
    h, w = data.shape
    # a heat strip (one row per channel, steps along x) is drawn with its rows taller
    strip = (isinstance(view, RenderedView) and layout is not None and layout.columns == 1
             and layout.tile_height == 1 and layout.pad == 0 and view.upscale_rows > 0)
    pixel_aspect = view.upscale_rows / view.upscale if strip else 1.0
    if figsize is None:
        aspect = w / max(h * pixel_aspect, 1)
        figsize = (min(12.0, 5.0 * aspect) + (1.0 if colorbar else 0.0), 5.0)
    fig = new_figure(figsize)
    ax = fig.add_subplot()
    im = ax.imshow(data, cmap=colours, vmin=0.0, vmax=1.0, interpolation="nearest",
                   aspect=pixel_aspect)
    ax.set_xticks([])
    ax.set_yticks([])
    if strip:
        if h <= _MAX_LABELLED_TILES:
            step = max(1, h // 32)
            ax.set_yticks(np.arange(0, h, step),
                          [str(c) for c in layout.channels[::step]], fontsize=7)
        ticks = np.unique(np.linspace(0, w - 1, min(w, 9)).round().astype(int))
        ax.set_xticks(ticks, [str(int(t) * layout.scale) for t in ticks], fontsize=7)
        ax.set_ylabel("channel")
        ax.set_xlabel("step")
        ax.title.set_fontsize(9)
        channel_labels = False
    if layout is not None and len(layout.channels) == 1 and title is not None:
        title = f"{title} (channel {layout.channels[0]})"
    if title:
        ax.set_title(title)
    if colorbar:
        cb = fig.colorbar(im, ax=ax, shrink=0.8)
        label = "activation" + (f" ({normalization})" if normalization else "")
        if scale_labels is not None:
            cb.set_ticks([0.0, 1.0], labels=list(scale_labels))
        elif normalization == "signed":
            cb.set_ticks([0.0, 0.5, 1.0], labels=["-max|a|", "0", "+max|a|"])
        cb.set_label(label)
    if (channel_labels and layout is not None and 1 < len(layout.channels)
            <= _MAX_LABELLED_TILES):
        size = max(4.0, min(9.0, 60.0 / max(layout.columns, 1)))
        for cell, channel in enumerate(layout.channels):
            y0, x0 = layout.cell_origin(cell)
            ax.text(x0 + 0.5, y0 + 0.5, str(channel), fontsize=size, color="black",
                    ha="left", va="top", gid=f"channel-{channel}",
                    bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none",
                          "alpha": 0.7})
    return fig


def vector_figure(
    values: np.ndarray | Sequence[float],
    *,
    title: str | None = None,
    labels: Sequence[str] | None = None,
    top_k: int = 10,
    figsize: tuple[float, float] = (7.0, 4.0),
) -> Figure:
    """Draw a vector activation (dense layer, logits, probabilities) as bars.

    Parameters
    ----------
    values : array_like
        Shape (C,).
    title : str, optional
        Axes title.
    labels : sequence of str, optional
        One name per entry (e.g. class names). When given, the ``top_k`` largest entries
        are drawn as horizontal bars labelled with their names, largest on top.
    top_k : int
        How many entries to label (with ``labels``) or to annotate with their index
        (without).

    Returns
    -------
    matplotlib.figure.Figure
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if labels is not None and len(labels) != v.size:
        raise InvalidSettingError(f"Got {len(labels)} labels for {v.size} values.")
    key = np.where(np.isfinite(v), v, -np.inf)
    k = max(0, min(int(top_k), v.size))
    top = np.argsort(-key, kind="stable")[:k]
    fig = new_figure(figsize)
    ax = fig.add_subplot()
    if labels is not None:
        order = top[::-1]  # barh draws bottom-up: largest on top
        ax.barh(np.arange(order.size), v[order], color="tab:blue")
        ax.set_yticks(np.arange(order.size), [f"{labels[i]} ({i})" for i in order])
        ax.set_xlabel("activation")
    else:
        colours = np.full(v.size, "tab:gray", dtype=object)
        colours[top] = "tab:blue"
        ax.bar(np.arange(v.size), np.nan_to_num(v), color=list(colours), width=1.0)
        for i in top:
            ax.annotate(str(int(i)), (float(i), float(np.nan_to_num(v[i]))),
                        textcoords="offset points", xytext=(0, 2), ha="center",
                        fontsize=7)
        ax.set_xlabel("unit")
        ax.set_ylabel("activation")
        ax.set_xlim(-0.5, v.size - 0.5)
    if title:
        ax.set_title(title)
    return fig


def figure_to_png(fig: Figure, dpi: int = 100) -> bytes:
    """Render a figure to PNG bytes without touching pyplot.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : int

    Returns
    -------
    bytes
    """
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def curves_figure(history: Mapping[str, Sequence[float]],
                  figsize: tuple[float, float] = (4.2, 2.2), *, dpi: float = 100.0) -> Figure:
    """Learning curves: losses on the left, accuracies on the right, one point per epoch.

    Parameters
    ----------
    history : mapping of str to sequence of float
        Like ``keras.callbacks.History.history``: ``{"loss": [...], "val_accuracy": [...]}``.
        Keys containing ``"acc"`` go to the accuracy axes, the others to the loss axes.
    figsize : (float, float)
        Inches (the default is 420 x 220 pixels at 100 dpi).
    dpi : float
        Dots per inch.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[0]`` is titled "loss", ``fig.axes[1]`` "accuracy"; each key is one
        line labelled with its name (legend when the axes has lines).
    """
    fig = new_figure(figsize, dpi=dpi)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for key, values in history.items():
        epochs = np.arange(1, len(values) + 1)
        target = ax_acc if "acc" in key else ax_loss
        target.plot(epochs, np.asarray(values, dtype=np.float64), marker="o", label=key)
    ax_loss.set_title("loss")
    ax_acc.set_title("accuracy")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        if ax.lines:
            ax.legend(fontsize=7)
    return fig


def faithfulness_figure(fractions: np.ndarray, deletion: np.ndarray, insertion: np.ndarray,
                        figsize: tuple[float, float] = (2.4, 1.6), *,
                        dpi: float = 100.0) -> Figure:
    """Deletion and insertion curves of one attribution map, with their areas shaded.

    Parameters
    ----------
    fractions : numpy.ndarray
        Fraction of pixels changed at each point, 0 to 1, shape (n,).
    deletion, insertion : numpy.ndarray
        The target's score at each point, shape (n,) each.
    figsize : (float, float)
        Inches (the default is 240 x 160 pixels at 100 dpi).
    dpi : float
        Dots per inch.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; its lines are labelled "deletion" and "insertion".
    """
    x = np.asarray(fractions, dtype=np.float64)
    fig = new_figure(figsize, dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    for values, label, colour in ((deletion, "deletion", "#d62728"),
                                  (insertion, "insertion", "#2ca02c")):
        y = np.asarray(values, dtype=np.float64)
        ax.plot(x, y, color=colour, label=label, linewidth=1.2)
        ax.fill_between(x, y, color=colour, alpha=0.15)
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of pixels", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=6, loc="upper right", frameon=False)
    return fig


def histogram_figure(counts: np.ndarray, edges: np.ndarray, *, title: str | None = None,
                     xlabel: str = "maximum of the channel in an image",
                     figsize: tuple[float, float] = (4.2, 2.2), dpi: float = 100.0) -> Figure:
    """Bars of a histogram given as counts and bin edges (as ``numpy.histogram`` returns).

    Parameters
    ----------
    counts : numpy.ndarray
        (B,) counts per bin; empty draws empty axes that say "no values".
    edges : numpy.ndarray
        (B + 1,) bin edges, increasing.
    title, xlabel : str
        Axes title and x label.
    figsize, dpi
        Size (the default is 420 x 220 pixels at 100 dpi).

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[0]`` holds one bar per bin (``ax.patches``).
    """
    fig = new_figure(figsize, dpi=dpi)
    ax = fig.subplots()
    counts = np.asarray(counts)
    edges = np.asarray(edges, dtype=np.float64)
    if counts.size:
        ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#3b6fb6",
               edgecolor="white", linewidth=0.3)
    else:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("images", fontsize=8)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def class_means_figure(means: np.ndarray, names: Sequence[str] | None = None, *,
                       title: str | None = None, figsize: tuple[float, float] = (4.2, 2.2),
                       dpi: float = 100.0) -> Figure:
    """Bars of a channel's mean per class, the preferred class in a stronger colour.

    Parameters
    ----------
    means : numpy.ndarray
        (K,) the channel's mean over the images of each class (NaN: no image of it).
    names : sequence of str, optional
        Class names (default: the class numbers).
    title : str, optional
        Axes title.
    figsize, dpi
        Inches and dots per inch, as for :func:`histogram_figure`.

    Returns
    -------
    matplotlib.figure.Figure
        One bar per class in ``fig.axes[0].patches``.
    """
    means = np.asarray(means, dtype=np.float64)
    names = [str(k) for k in range(means.size)] if names is None else [
        str(n) for n in names][:means.size]
    names += [str(k) for k in range(len(names), means.size)]
    fig = new_figure(figsize, dpi=dpi)
    ax = fig.subplots()
    best = int(np.nanargmax(means)) if np.isfinite(means).any() else -1
    colours = ["#d9822b" if k == best else "#3b6fb6" for k in range(means.size)]
    ax.bar(np.arange(means.size), np.nan_to_num(means), color=colours)
    ax.set_xticks(np.arange(means.size), names, rotation=45, ha="right", fontsize=6)
    ax.set_ylabel("mean activation", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return fig
