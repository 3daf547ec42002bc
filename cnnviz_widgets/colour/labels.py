"""Colours for label masks: one colour per class of a segmentation output."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidSettingError

__all__ = ["colour_labels", "label_colours", "predicted_labels"]


def label_colours(classes: int, colormap: str | Any = "tab20",
                  background: tuple[int, int, int] | None = (0, 0, 0)) -> np.ndarray:
    """One RGB colour per class, from a qualitative matplotlib colour map.

    Parameters
    ----------
    classes : int
        Number of classes (at least 1).
    colormap : str or matplotlib.colors.Colormap
        A qualitative map (``"tab10"``, ``"tab20"``); its colours repeat when there are more
        classes than it has colours.
    background : (int, int, int) or None
        Colour of class 0 (the background in most segmentation sets); ``None`` gives class 0
        a colour of the map like the others.

    Returns
    -------
    numpy.ndarray
        uint8 array of shape (classes, 3).
    """
    import matplotlib

    if int(classes) < 1:
        raise InvalidSettingError(f"a label mask needs at least one class, not {classes}.")
    try:
        cmap = matplotlib.colormaps[colormap] if isinstance(colormap, str) else colormap
    except KeyError:
        raise InvalidSettingError(
            f"{colormap!r} is not a matplotlib colour map; try 'tab10' or 'tab20'.") from None
    size = int(getattr(cmap, "N", 256))
    picks = np.arange(int(classes)) % size
    table = np.asarray(cmap((picks + 0.5) / size, bytes=True))[:, :3].astype(np.uint8)
    if background is not None:
        table[0] = np.asarray(background, dtype=np.uint8)
    return table


def predicted_labels(scores: np.ndarray) -> np.ndarray:
    """The class of each pixel of a per-pixel output: the argmax over the last axis.

    Parameters
    ----------
    scores : numpy.ndarray
        Shape (H, W, classes) (probabilities or logits), or (H, W) / (H, W, 1) for a
        one-class output, read as foreground where the value exceeds 0.5.

    Returns
    -------
    numpy.ndarray
        int array of shape (H, W).
    """
    scores = np.asarray(scores)
    if scores.ndim == 3 and scores.shape[-1] == 1:
        scores = scores[..., 0]
    if scores.ndim == 2:
        return (scores > 0.5).astype(np.int64)
    if scores.ndim != 3:
        raise InvalidSettingError(
            f"a per-pixel output has shape (height, width, classes); got {scores.shape}.")
    return np.argmax(scores, axis=-1)


def colour_labels(labels: np.ndarray, classes: int | None = None, colormap: str | Any = "tab20",
                  background: tuple[int, int, int] | None = (0, 0, 0)) -> np.ndarray:
    """Colour an integer label mask, one colour per class.

    Parameters
    ----------
    labels : numpy.ndarray
        Integer class of each pixel, any shape.
    classes : int, optional
        Number of classes; by default one more than the largest label.
    colormap, background
        As in :func:`label_colours`.

    Returns
    -------
    numpy.ndarray
        uint8 RGB image of shape ``labels.shape + (3,)``.
    """
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or not np.issubdtype(labels.dtype, np.integer)):
        raise InvalidSettingError("a label mask holds class numbers 0, 1, 2, ... (integers).")
    count = int(classes) if classes is not None else int(labels.max(initial=0)) + 1
    if labels.size and labels.max() >= count:
        raise InvalidSettingError(
            f"the mask has class {int(labels.max())} but only {count} classes were given.")
    return np.take(label_colours(count, colormap, background), labels, axis=0)
