"""Colour maps as 256-entry lookup tables taken from matplotlib (by name or Colormap)."""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import InvalidSettingError

__all__ = ["MARKER_COLOUR", "apply_colormap", "available_colormaps", "lut", "palette"]

#: Colour (RGB) of the outline or band that marks a position: on a crop, on a signal.
MARKER_COLOUR = (255, 40, 40)

_SUGGESTED = ("viridis", "magma", "inferno", "plasma", "cividis", "gray", "RdBu_r", "coolwarm")


def available_colormaps() -> list[str]:
    """Names of every colour map matplotlib knows, sorted."""
    import matplotlib

    return sorted(matplotlib.colormaps)


@lru_cache(maxsize=64)
def _lut(name: str) -> np.ndarray:
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        names = available_colormaps()
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"Did you mean {', '.join(map(repr, close))}? " if close else ""
        raise InvalidSettingError(
            f"{name!r} is not a matplotlib colour map. {hint}Valid names include "
            + ", ".join(repr(n) for n in _SUGGESTED) + f" ({len(names)} in all; see "
            "matplotlib.colormaps)."
        ) from None
    return _table_of(cmap)


def _table_of(cmap: Any) -> np.ndarray:
    """256 x 3 uint8 table of a matplotlib Colormap, sampled at the centre of each bin."""
    # entry i stands for the interval [i/256, (i+1)/256); sample at its centre, which
    # for the usual N=256 maps is exactly matplotlib's own entry i
    table = cmap((np.arange(256) + 0.5) / 256.0, bytes=True)[:, :3]
    table = np.ascontiguousarray(table, dtype=np.uint8)
    table.setflags(write=False)
    return table


def lut(colormap: str | Any) -> np.ndarray:
    """Return a colour map as a lookup table.

    Parameters
    ----------
    colormap : str or matplotlib.colors.Colormap
        A name registered in ``matplotlib.colormaps`` (e.g. ``"viridis"``, ``"RdBu_r"``),
        or a Colormap object.

    Returns
    -------
    numpy.ndarray
        Read-only uint8 array of shape (256, 3); row ``i`` is the colour of the values in
        ``[i/256, (i+1)/256)``, equal to ``colormap(x, bytes=True)`` for such ``x`` when
        the map has 256 entries. Cached for names.

    Raises
    ------
    InvalidSettingError
        (a ``ValueError``) for an unknown name (the message lists valid names) or
        something that is neither a name nor a Colormap.
    """
    if isinstance(colormap, str):
        return _lut(colormap)
    from matplotlib.colors import Colormap

    if isinstance(colormap, Colormap):
        return _table_of(colormap)
    raise InvalidSettingError(
        f"A colour map must be a matplotlib colour map name or Colormap; got {colormap!r}."
    )


def palette(colormap: str | Any,
            background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """The colour map's 256 colours (:func:`lut`), then ``background``: uint8 (257, 3).

    Row ``i < 256`` colours the values in ``[i/256, (i+1)/256)``, row 256 the gaps and
    non-finite values; :func:`apply_colormap` looks colours up in it, and so does a
    browser that colours maps itself (:mod:`cnnviz_widgets.render.codes`).
    """
    return np.concatenate([lut(colormap), np.asarray(background, dtype=np.uint8).reshape(1, 3)])


def apply_colormap(
    norm: np.ndarray,
    colormap: str | Any = "viridis",
    background: tuple[int, int, int] = (255, 255, 255),
    *,
    as_float: bool = False,
) -> np.ndarray:
    """Colour an array of values in [0, 1] through a lookup table.

    Parameters
    ----------
    norm : numpy.ndarray
        Any shape, values in [0, 1] (values outside are clipped); NaN marks gaps.
    colormap : str or matplotlib.colors.Colormap
        Colour map, see :func:`lut`.
    background : (int, int, int)
        RGB colour of the NaN pixels (mosaic gaps, missing values).
    as_float : bool
        Return float32 RGB in [0, 1] (for blending) instead of uint8.

    Returns
    -------
    numpy.ndarray
        RGB image of shape ``norm.shape + (3,)``: uint8, or float32 in [0, 1]
        (``uint8 / 255``) with ``as_float``.
    """
    x = np.asarray(norm)
    table = palette(colormap, background)  # one gather; the last row is the background
    if as_float:
        table = table.astype(np.float32) / np.float32(255.0)
    idx = np.multiply(x, 256.0, dtype=np.float32)
    np.clip(idx, 0.0, 255.0, out=idx)  # NaN stays NaN
    np.copyto(idx, np.float32(256.0), where=np.isnan(idx))  # faster than nan_to_num
    return np.take(table, idx.astype(np.uint16), axis=0)
