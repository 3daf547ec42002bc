"""Signals and sequences drawn as lines: one channel over time, a signal with a heat strip
under it (Grad-CAM over time), and small line-plot thumbnails.

Every function takes arrays only; figures use matplotlib's object-oriented API
(:func:`~cnnviz_widgets.render.mpl.new_figure`), never pyplot state.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from ..checks import whole_number
from ..colour.colormaps import MARKER_COLOUR, lut
from ..colour.scale import unit_scale
from ..errors import InvalidSettingError
from .maps import RenderedView
from .mpl import new_figure

__all__ = ["as_signal", "series_figure", "signal_figure", "signal_thumbnail"]

#: Line colours of a signal's channels (matplotlib's tab10).
_LINE_COLOURS = np.array([
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
], dtype=np.uint8)


def as_signal(signal: np.ndarray | Sequence[float]) -> np.ndarray:
    """A signal as float (T, C): a 1-D signal becomes one channel.

    Raises
    ------
    InvalidSettingError
        For anything that is not (T,) or (T, C) with at least one step.
    """
    arr = np.asarray(signal, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise InvalidSettingError(
            f"A signal is an array of shape (time steps, channels); got shape {arr.shape}.")
    return arr


def signal_thumbnail(signal: np.ndarray | Sequence[float], side: int = 48,
                     background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """A small line plot of a signal, as a uint8 RGB picture (pure numpy, no figure).

    Parameters
    ----------
    signal : array_like
        (T,) or (T, C); each channel is one line, scaled to the height of the picture
        together with the others (non-finite values are left out).
    side : int
        Width and height of the picture in pixels.
    background : (int, int, int)
        RGB behind the lines.

    Returns
    -------
    numpy.ndarray
        uint8 (side, side, 3); encode it with :func:`~cnnviz_widgets.render.encode.data_url`.
    """
    side = whole_number(side, "side", minimum=2)
    x = as_signal(signal)
    out = np.empty((side, side, 3), np.uint8)
    out[...] = np.asarray(background, np.uint8)
    scaled = unit_scale(x)  # one scale for every channel, NaN where not finite
    t = np.linspace(0.0, x.shape[0] - 1.0, side)
    rows = np.arange(side)
    for c in range(x.shape[1]):
        finite = np.isfinite(scaled[:, c])
        if not finite.any():
            continue
        at = np.interp(t, np.flatnonzero(finite), scaled[finite, c])
        y = np.round((1.0 - at) * (side - 1)).astype(int)
        lo = np.minimum(y, np.r_[y[1:], y[-1]])  # join each column to the next one
        hi = np.maximum(y, np.r_[y[1:], y[-1]])
        mask = (rows[:, None] >= lo[None, :]) & (rows[:, None] <= hi[None, :])
        out[mask] = _LINE_COLOURS[c % len(_LINE_COLOURS)]
    return out


def series_figure(values: np.ndarray | Sequence[float], *, strip: RenderedView | None = None,
                  title: str | None = None, scale_labels: tuple[str, str] | None = None,
                  x_label: str = "time step", y_label: str = "activation",
                  y_range: tuple[float, float] | None = None,
                  figsize: tuple[float, float] = (7.0, 3.2)) -> Figure:
    """One channel of a sequence over time, as a line, with its heat strip under it.

    Parameters
    ----------
    values : array_like
        (T,) activations of the channel.
    strip : RenderedView, optional
        The same channel as a heat strip (:func:`~cnnviz_widgets.render.maps.
        render_strip`), drawn under the line with its colour scale: what the channel
        looks like in the grid.
    title : str, optional
        Axes title.
    scale_labels : (str, str), optional
        The values at both ends of the strip's colours (the colour bar's ticks).
    x_label, y_label : str
        Axis labels.
    y_range : (float, float), optional
        Limits of the y axis (a scale shared by the layer); default the values' own.
    figsize : (float, float)
        Inches.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[0]`` holds the line (``lines[0].get_ydata()`` are the values); with a
        strip, ``fig.axes[1]`` shows it and ``fig.axes[2]`` is its colour bar.
    """
    from matplotlib.colors import ListedColormap

    v = np.asarray(values, dtype=np.float64).ravel()
    fig = new_figure(figsize)
    if strip is None:
        ax = fig.add_subplot()
    else:
        ax, ax_strip = fig.subplots(2, 1, sharex=True, height_ratios=[5, 1])
    ax.plot(np.arange(v.size), np.where(np.isfinite(v), v, np.nan), color="tab:blue",
            linewidth=1.2)
    ax.set_ylabel(y_label)
    ax.set_xlim(-0.5, v.size - 0.5)
    if y_range is not None:
        pad = 0.05 * (y_range[1] - y_range[0])
        ax.set_ylim(y_range[0] - pad, y_range[1] + pad)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)
    if strip is None:
        ax.set_xlabel(x_label)
        return fig
    colours = ListedColormap(lut(strip.colormap) / 255.0).with_extremes(bad="white")
    scale = strip.layout.scale
    image = ax_strip.imshow(strip.view[:1], cmap=colours, vmin=0.0, vmax=1.0, aspect="auto",
                            interpolation="nearest",
                            extent=(-0.5, strip.view.shape[1] * scale - 0.5, 1.0, 0.0))
    ax_strip.set_yticks([])
    ax_strip.set_xlabel(x_label)
    bar = fig.colorbar(image, ax=[ax, ax_strip], shrink=0.8)
    if scale_labels is not None:
        bar.set_ticks([0.0, 1.0], labels=list(scale_labels))
    bar.set_label(f"colour ({strip.normalization})")
    return fig


def signal_figure(signal: np.ndarray | Sequence[float], *, heat: np.ndarray | None = None,
                  colormap: str = "inferno", title: str | None = None,
                  channel_names: Sequence[str] | None = None, x_label: str = "time step",
                  heat_label: str = "attribution", window: tuple[int, int] | None = None,
                  figsize: tuple[float, float] = (7.0, 3.0)) -> Figure:
    """A signal as lines, one per channel, with an optional heat strip under it.

    Parameters
    ----------
    signal : array_like
        (T,) or (T, C).
    heat : numpy.ndarray, optional
        (T,) values over time (e.g. Grad-CAM upsampled to the signal's length), drawn
        min-max scaled as a strip under the lines, sharing their time axis. A heat of
        another length is stretched over the signal's.
    colormap : str
        Colour map of the heat strip.
    title : str, optional
    channel_names : sequence of str, optional
        Legend entries (default ``channel 0``, ...; no legend for one channel).
    x_label, heat_label : str
        Labels of the time axis and of the strip.
    window : (int, int), optional
        Time steps ``start:stop`` to outline (e.g. a receptive field), shaded in red.
    figsize : (float, float)
        Inches.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[0]`` holds one line per channel (and the window as its one patch);
        with ``heat``, ``fig.axes[1]`` is the strip (its image data is the scaled heat,
        shape (1, len(heat))).
    """
    from matplotlib.colors import ListedColormap

    x = as_signal(signal)
    t = x.shape[0]
    fig = new_figure(figsize)
    if heat is None:
        ax = fig.add_subplot()
    else:
        ax, ax_heat = fig.subplots(2, 1, sharex=True, height_ratios=[4, 1])
    names = (list(channel_names) if channel_names is not None
             else [f"channel {c}" for c in range(x.shape[1])])
    for c in range(x.shape[1]):
        colour = _LINE_COLOURS[c % len(_LINE_COLOURS)] / 255.0
        ax.plot(np.arange(t), np.where(np.isfinite(x[:, c]), x[:, c], np.nan),
                color=colour, linewidth=1.0, label=names[c] if c < len(names) else None)
    ax.set_xlim(-0.5, t - 0.5)
    ax.grid(alpha=0.3)
    if window is not None:
        ax.axvspan(window[0] - 0.5, window[1] - 0.5, color=np.asarray(MARKER_COLOUR) / 255.0,
                   alpha=0.15, linewidth=0)
    if x.shape[1] > 1:
        ax.legend(fontsize=7, loc="upper right", ncols=min(4, x.shape[1]))
    if title:
        ax.set_title(title, fontsize=9)
    if heat is None:
        ax.set_xlabel(x_label)
        return fig
    h = unit_scale(np.asarray(heat, dtype=np.float64).ravel())
    colours = ListedColormap(lut(colormap) / 255.0).with_extremes(bad="white")
    ax_heat.imshow(h[None, :], cmap=colours, vmin=0.0, vmax=1.0, aspect="auto",
                   interpolation="nearest", extent=(-0.5, t - 0.5, 1.0, 0.0))
    ax_heat.set_yticks([0.5], [heat_label], fontsize=7)
    ax_heat.set_xlabel(x_label)
    return fig

