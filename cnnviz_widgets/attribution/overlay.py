"""Heatmaps over the input image: attribution maps and plain activations."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._deprecation import renamed
from ..checks import index_in
from ..colour.colormaps import apply_colormap
from ..colour.scale import unit_scale
from ..errors import InvalidSettingError, LayerNotViewableError

__all__ = ["activation_heatmap", "overlay"]


def activation_heatmap(activation: np.ndarray, channel: int | None = None) -> np.ndarray:
    """Turn a layer activation into a 2-D heatmap for :func:`overlay`.

    Parameters
    ----------
    activation : numpy.ndarray
        Shape (H, W, C) or (H, W) (a batch of one, (1, H, W, C), is accepted too).
    channel : int, optional
        One filter's map; ``None`` gives the mean over all filters.

    Returns
    -------
    numpy.ndarray
        float32 array of shape (H, W).
    """
    act = np.asarray(activation, dtype=np.float32)
    if act.ndim == 4 and act.shape[0] == 1:
        act = act[0]
    if act.ndim == 2:
        if channel is not None:
            index_in(channel, 1, "channel", "the activation", from_end=True)
        return act
    if act.ndim != 3:
        raise LayerNotViewableError(
            f"An activation heatmap needs a spatial activation (H, W, C); got shape {act.shape}."
        )
    if channel is None:
        return act.mean(axis=-1)
    index_in(channel, act.shape[-1], "channel", "the activation", from_end=True)
    return act[..., channel]


def overlay(image: Any, heatmap: np.ndarray, alpha: float = 0.5, colormap: Any = "jet",
            *, cmap: Any = None) -> np.ndarray:
    """Colour a heatmap and blend it over an image.

    Parameters
    ----------
    image : path, bytes, PIL image or numpy array
        The picture underneath, decoded like the engine does (0-255 or 0-1 floats,
        integers, grayscale or RGB).
    heatmap : numpy.ndarray
        A 2-D map of any size (a Grad-CAM map at layer resolution, a saliency map, an
        activation from :func:`activation_heatmap`). It is resized bilinearly to the
        image and scaled to [0, 1] by its minimum and maximum (a constant map gives the
        lowest colour).
    alpha : float, default 0.5
        Weight of the coloured heatmap: 0 shows only the image, 1 only the heatmap.
    colormap : str, default "jet"
        Name of a matplotlib colour map, or a ``matplotlib.colors.Colormap``.
    cmap : str, optional
        Deprecated alias of ``colormap``.

    Returns
    -------
    numpy.ndarray
        uint8 RGB array of shape (H, W, 3), the image's size.

    Raises
    ------
    InvalidSettingError
        (a ``ValueError``) for ``alpha`` outside [0, 1], an unknown colour map, or a
        heatmap with NaN or infinite values.
    LayerNotViewableError
        (a ``ValueError``) for a heatmap that is not 2-D.
    """
    from ..engine.inputs import decode_image, fit_channels, resize

    colormap = renamed(cmap, colormap, "cmap", "colormap", "overlay")
    if not 0.0 <= alpha <= 1.0:
        raise InvalidSettingError(f"alpha must lie in [0, 1], not {alpha}.")
    pixels = fit_channels(decode_image(image), 3)
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.ndim == 3 and heat.shape[-1] == 1:
        heat = heat[..., 0]
    if heat.ndim != 2:
        raise LayerNotViewableError(
            f"heatmap must be 2-D (H, W); got shape {heat.shape}. For a layer activation use "
            "activation_heatmap(activation, channel) first."
        )
    if not np.isfinite(heat).all():
        raise InvalidSettingError(
            "The heatmap contains NaN or infinite values; replace them (np.nan_to_num) first.")
    heat = resize(heat, pixels.shape[0], pixels.shape[1])
    coloured = apply_colormap(unit_scale(heat), colormap)
    blended = (1.0 - alpha) * pixels + alpha * coloured
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
