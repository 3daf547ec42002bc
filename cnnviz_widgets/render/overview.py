"""A figure of several layers side by side: a few channels of each stage of a network."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .._deprecation import renamed
from ..colour.normalize import normalize
from ..errors import InvalidSettingError
from .mpl import new_figure

__all__ = ["overview_figure"]


def overview_figure(rows: Sequence[tuple[str, np.ndarray]], *, normalization: str = "channel",
                    colormap: Any = "viridis", tile_inches: float = 1.1,
                    mode: str | None = None, cmap: Any = None) -> Figure:
    """Draw one row per layer, one tile per channel.

    Parameters
    ----------
    rows : sequence of (str, numpy.ndarray)
        ``(layer name, maps (H, W, k))`` as returned by
        :func:`cnnviz_widgets.weights.block_overview`.
    normalization : str
        Normalisation of each row (see :func:`cnnviz_widgets.colour.normalize.normalize`).
    colormap : str or matplotlib.colors.Colormap
        Colour map.
    tile_inches : float
        Size of one tile.
    mode, cmap : optional
        Deprecated names of ``normalization`` and ``colormap``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    normalization = renamed(mode, normalization, "mode", "normalization", "overview_figure")
    colormap = renamed(cmap, colormap, "cmap", "colormap", "overview_figure")
    if not rows:
        raise InvalidSettingError("No layers to draw; give at least one (name, maps) row.")
    columns = max(maps.shape[-1] for _, maps in rows)
    fig = new_figure((tile_inches * columns + 1.6, tile_inches * len(rows)))
    axes = np.atleast_2d(fig.subplots(len(rows), columns, squeeze=False))
    for r, (name, maps) in enumerate(rows):
        norm = normalize(maps, normalization)
        for c in range(columns):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < norm.shape[-1]:
                ax.imshow(norm[..., c], cmap=colormap, vmin=0, vmax=1,
                          interpolation="nearest")
            else:
                ax.set_visible(False)
        h, w = maps.shape[:2]
        axes[r, 0].set_ylabel(f"{name}\n{h}x{w}", rotation=0, ha="right", va="center",
                              fontsize=8)
    return fig
