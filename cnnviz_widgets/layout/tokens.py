"""Layers that are not images, laid out as maps: sequences (T, C) and tokens (T, D).

Everything that shows a layer goes through :func:`layer_maps`, which turns one
activation into (H, W, C) maps plus how to draw them:

- an image (H, W, C) or plane (H, W) stays a map;
- a sequence (T, C) (1-D convolutions) becomes maps of height 1, ``(1, T, C)``, drawn
  as a heat strip (one row per channel, time along x);
- tokens (T, D) whose patches form a square grid become ``(rows, cols, D)`` maps after
  the leading class token is dropped (:func:`token_maps`, the one reshape of tokens);
  other tokens become ``(1, T, D)``, a strip like a sequence.

Maps of height 1 need nothing new from the normalisation, the ordering or the mosaic:
they are maps like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..colour.scale import as_maps
from ..errors import LayerNotViewableError

__all__ = ["LayerMaps", "layer_maps", "sequence_maps", "token_maps", "token_words"]


def token_maps(tokens: np.ndarray, grid: tuple[int, int, int]) -> np.ndarray:
    """Tokens (T, D) as maps (rows, cols, D): the ``skip`` leading tokens dropped, the
    patches in row-major order.

    Parameters
    ----------
    tokens : numpy.ndarray
        Shape (T, D), or (N, T, D) for N images (the result is then (N, rows, cols, D)).
    grid : (int, int, int)
        ``(rows, cols, skip)``, e.g. :attr:`~cnnviz_widgets.engine.layers.LayerInfo.
        token_grid`; ``T == skip + rows * cols``.

    Returns
    -------
    numpy.ndarray
        A view of ``tokens`` (no copy) of shape (rows, cols, D).

    Raises
    ------
    LayerNotViewableError
        When the number of tokens does not match the grid.

    Examples
    --------
    >>> token_maps(np.arange(10.0).reshape(5, 2), (2, 2, 1))[..., 0]
    array([[2., 4.],
           [6., 8.]])
    """
    arr = np.asarray(tokens)
    rows, cols, skip = (int(v) for v in grid)
    if arr.ndim not in (2, 3) or arr.shape[-2] != skip + rows * cols:
        raise LayerNotViewableError(
            f"Tokens of shape {arr.shape} do not make a {rows}x{cols} grid after {skip} "
            f"leading token(s): that needs {skip + rows * cols} tokens.")
    return arr[..., skip:, :].reshape(*arr.shape[:-2], rows, cols, arr.shape[-1])


def sequence_maps(values: np.ndarray) -> np.ndarray:
    """A sequence (T, C) as maps of height 1, (1, T, C) (a view, no copy)."""
    arr = np.asarray(values)
    if arr.ndim != 2:
        raise LayerNotViewableError(
            f"Expected a sequence of shape (time, channels); got shape {arr.shape}.")
    return arr[None, ...]


def token_words(tokens: int, grid: tuple[int, int, int]) -> str:
    """How a caption says what a token grid shows, e.g. "16 patch tokens as a 4x4 grid
    (class token left out)"."""
    rows, cols, skip = grid
    words = f"{rows * cols} patch tokens as a {rows}x{cols} grid"
    if skip == 1:
        words += " (class token left out)"
    elif skip:
        words += f" ({skip} leading tokens left out)"
    return words


@dataclass(frozen=True, eq=False)
class LayerMaps:
    """One layer's activation, laid out as maps.

    Attributes
    ----------
    maps : numpy.ndarray
        (H, W, C) maps: the image's own, (1, T, C) for a strip, (rows, cols, D) for a
        token grid.
    strip : bool
        Draw as a heat strip (one row per channel, along x) rather than as images.
    along : str
        What runs along x in a strip: ``"time"`` or ``"token"`` ("" for maps).
    note : str
        Words for the caption ("" for plain maps).
    """

    maps: np.ndarray
    strip: bool = False
    along: str = ""
    note: str = ""


def layer_maps(activation: np.ndarray, axes: str = "",
               grid: tuple[int, int, int] | None = None) -> LayerMaps:
    """Lay one activation (no batch axis) out as maps, by what its axes mean.

    Parameters
    ----------
    activation : numpy.ndarray
        One layer's output for one image.
    axes : str
        :attr:`~cnnviz_widgets.engine.layers.LayerInfo.layout`: ``"image"``, ``"plane"``,
        ``"sequence"``, ``"tokens"``; ``""`` goes by the rank (3: image, 2: plane).
    grid : (int, int, int), optional
        The layer's :attr:`~cnnviz_widgets.engine.layers.LayerInfo.token_grid`.

    Returns
    -------
    LayerMaps

    Raises
    ------
    LayerNotViewableError
        For a vector or an output of another rank, which has no maps.
    """
    arr = np.asarray(activation)
    if axes == "sequence" and arr.ndim == 2:
        return LayerMaps(sequence_maps(arr), True, "time",
                         f"{arr.shape[1]} channels over {arr.shape[0]} time steps: one row "
                         "per channel, time along x")
    if axes == "tokens" and arr.ndim == 2:
        if grid is not None and arr.shape[0] == grid[2] + grid[0] * grid[1]:
            return LayerMaps(token_maps(arr, grid), note=token_words(arr.shape[0], grid))
        return LayerMaps(sequence_maps(arr), True, "token",
                         f"{arr.shape[0]} tokens x {arr.shape[1]} features: one row per "
                         "feature, tokens along x")
    if arr.ndim in (2, 3):
        return LayerMaps(as_maps(arr))
    raise LayerNotViewableError(
        f"An output of shape {arr.shape} cannot be drawn as maps or strips.")
