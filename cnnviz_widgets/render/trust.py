"""Figures of how far an attribution map can be trusted (object-oriented matplotlib only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from .mpl import new_figure

__all__ = ["comparison_figure", "sanity_figure"]


def sanity_figure(maps: np.ndarray, layers: Sequence[str], similarity: np.ndarray,
                  ssim: np.ndarray, *, title: str = "", columns: int | None = None,
                  colormap: str = "inferno", dpi: float = 100.0) -> Figure:
    """Cascading randomisation as Adebayo et al. draw it: the maps, then the similarity.

    Parameters
    ----------
    maps : numpy.ndarray
        (steps + 1, H, W): the trained model's map, then the map after each step.
    layers : sequence of str
        The layer randomised at each step (``len(maps) - 1`` names).
    similarity, ssim : numpy.ndarray
        (steps,): rank correlation and SSIM of each step's map with the first.
    title : str
        Figure title.
    columns : int, optional
        Maps per row (default: all in one row, at most 9).
    colormap : str
        Matplotlib colour map of the maps (each map drawn from 0 to its own maximum of
        ``|map|``).
    dpi : float
        Dots per inch.

    Returns
    -------
    matplotlib.figure.Figure
        A grid of maps titled "trained" and "+ <layer>", over one axes with the two
        similarity curves against the layers.
    """
    maps = np.abs(np.asarray(maps, dtype=np.float64))
    count = len(maps)
    columns = min(count, 9) if columns is None else max(1, int(columns))
    rows = -(-count // columns)
    fig = new_figure((1.3 * columns, 1.4 * rows + 2.0), dpi=dpi)
    grid = fig.add_gridspec(rows + 1, columns, height_ratios=[1.0] * rows + [1.4])
    names = ["trained", *(f"+ {name}" for name in layers)]
    for k, (heat, name) in enumerate(zip(maps, names, strict=True)):
        ax = fig.add_subplot(grid[k // columns, k % columns])
        top = heat.max()
        ax.imshow(heat, cmap=colormap, vmin=0.0, vmax=top if top > 0 else 1.0)
        ax.set_title(name.split("/")[-1] if k else name, fontsize=6)
        ax.set_axis_off()
    ax = fig.add_subplot(grid[rows, :])
    steps = np.arange(1, count)
    ax.plot(steps, similarity, marker="o", markersize=3, label="rank correlation")
    ax.plot(steps, ssim, marker="s", markersize=3, label="SSIM")
    ax.axhline(0.0, color="#999999", linewidth=0.6)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xticks(steps)
    ax.set_xticklabels([name.split("/")[-1] for name in layers], rotation=60, fontsize=6,
                       ha="right")
    ax.set_ylabel("similarity to trained", fontsize=7)
    ax.tick_params(axis="y", labelsize=6)
    ax.legend(fontsize=6, frameon=False, loc="upper right")
    if title:
        fig.suptitle(title, fontsize=8)
    return fig


def comparison_figure(scores: Mapping[str, Mapping[str, float]],
                      better: Mapping[str, str], *, dpi: float = 100.0) -> Figure:
    """Every method's score on every metric, one bar chart per metric.

    Parameters
    ----------
    scores : mapping
        ``{metric: {method: score}}``.
    better : mapping
        ``{metric: "higher" or "lower"}``, written under each chart's title.
    dpi : float
        Dots per inch.

    Returns
    -------
    matplotlib.figure.Figure
        One horizontal bar chart per metric, the best method's bar in a darker colour.
    """
    metrics = list(scores)
    fig = new_figure((2.6 * max(1, len(metrics)), 0.35 * _longest(scores) + 1.2), dpi=dpi)
    for k, metric in enumerate(metrics):
        ax = fig.add_subplot(1, max(1, len(metrics)), k + 1)
        methods = list(scores[metric])
        values = np.array([scores[metric][m] for m in methods], dtype=np.float64)
        finite = np.where(np.isfinite(values), values, np.nan)
        best = (np.nanargmax(finite) if better.get(metric) == "higher" else np.nanargmin(finite)) \
            if np.isfinite(finite).any() else -1
        colours = ["#1f77b4" if i == best else "#aec7e8" for i in range(len(methods))]
        ax.barh(np.arange(len(methods)), np.nan_to_num(values), color=colours)
        ax.set_yticks(np.arange(len(methods)))
        ax.set_yticklabels(methods if k == 0 else [""] * len(methods), fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"{metric}\n({better.get(metric, '?')} is better)", fontsize=7)
        ax.tick_params(axis="x", labelsize=6)
    return fig


def _longest(scores: Mapping[str, Mapping[str, float]]) -> int:
    return max((len(v) for v in scores.values()), default=1)
