"""Colour maps as 256-entry lookup tables taken from matplotlib's registry."""

from __future__ import annotations

import difflib
from functools import lru_cache

import numpy as np

from ..errors import InvalidSettingError

__all__ = ["apply_colormap", "available_colormaps", "lut"]

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
    # entry i stands for the interval [i/256, (i+1)/256); sample at its centre, which
    # for the usual N=256 maps is exactly matplotlib's own entry i
    table = cmap((np.arange(256) + 0.5) / 256.0, bytes=True)[:, :3]
    table = np.ascontiguousarray(table, dtype=np.uint8)
    table.setflags(write=False)
    return table


def lut(name: str) -> np.ndarray:
    """Return a colour map as a lookup table.

    Parameters
    ----------
    name : str
        A name registered in ``matplotlib.colormaps`` (e.g. ``"viridis"``, ``"RdBu_r"``).

    Returns
    -------
    numpy.ndarray
        Read-only uint8 array of shape (256, 3); row ``i`` is the colour of the values in
        ``[i/256, (i+1)/256)``, equal to ``matplotlib.colormaps[name](x, bytes=True)``
        for such ``x`` when the map has 256 entries. Cached.

    Raises
    ------
    InvalidSettingError
        (a ``ValueError``) for an unknown name; the message lists valid names.
    """
    if not isinstance(name, str):
        raise InvalidSettingError(f"A colour map name must be a string; got {name!r}.")
    return _lut(name)


def apply_colormap(
    norm: np.ndarray,
    name: str = "viridis",
    background: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """Colour a normalised 2-D array through a lookup table.

    Parameters
    ----------
    norm : numpy.ndarray
        Shape (H, W), values in [0, 1] (values outside are clipped); NaN marks gaps.
    name : str
        Colour map name, see :func:`lut`.
    background : (int, int, int)
        RGB colour of the NaN pixels (mosaic gaps, missing values).

    Returns
    -------
    numpy.ndarray
        uint8 RGB image of shape (H, W, 3).
    """
    table = lut(name)
    x = np.asarray(norm)
    if x.ndim != 2:
        raise ValueError(f"Expected a 2-D array to colour; got shape {x.shape}.")
    # one gather through a 257-entry table whose last row is the background colour
    table = np.concatenate([table, np.asarray(background, dtype=np.uint8).reshape(1, 3)])
    idx = np.multiply(x, 256.0, dtype=np.float32)
    np.clip(idx, 0.0, 255.0, out=idx)  # NaN stays NaN
    np.nan_to_num(idx, copy=False, nan=256.0)
    return np.take(table, idx.astype(np.uint16), axis=0)
