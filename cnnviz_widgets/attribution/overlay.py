"""Heatmaps over the input image: attribution maps and plain activations."""

from __future__ import annotations

from typing import Any

import numpy as np

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
        if channel not in (None, 0, -1):
            raise IndexError(f"The activation has one channel; channel {channel} does not exist.")
        return act
    if act.ndim != 3:
        raise ValueError(
            f"An activation heatmap needs a spatial activation (H, W, C); got shape {act.shape}."
        )
    if channel is None:
        return act.mean(axis=-1)
    if not -act.shape[-1] <= channel < act.shape[-1]:
        raise IndexError(
            f"Channel {channel} is out of range: the activation has {act.shape[-1]} channels."
        )
    return act[..., channel]


def _normalise(heat: np.ndarray) -> np.ndarray:
    lo, hi = float(heat.min()), float(heat.max())
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise ValueError("The heatmap contains NaN or infinite values.")
    if hi - lo <= 0:
        return np.zeros_like(heat, dtype=np.float32)
    return ((heat - lo) / (hi - lo)).astype(np.float32)


def _colour(unit: np.ndarray, cmap: Any) -> np.ndarray:
    import matplotlib

    colormap = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
    lut = (np.asarray(colormap(np.linspace(0.0, 1.0, 256)))[:, :3] * 255.0).astype(np.float32)
    return lut[np.clip(np.rint(unit * 255.0), 0, 255).astype(np.intp)]


def overlay(image: Any, heatmap: np.ndarray, alpha: float = 0.5, cmap: Any = "jet") -> np.ndarray:
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
    cmap : str or matplotlib colormap, default "jet"
        Colour map for the heatmap.

    Returns
    -------
    numpy.ndarray
        uint8 RGB array of shape (H, W, 3), the image's size.
    """
    from ..engine.inputs import decode_image, fit_channels, resize

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], not {alpha}")
    pixels = fit_channels(decode_image(image), 3)
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.ndim == 3 and heat.shape[-1] == 1:
        heat = heat[..., 0]
    if heat.ndim != 2:
        raise ValueError(
            f"heatmap must be 2-D (H, W); got shape {heat.shape}. For a layer activation use "
            "activation_heatmap(activation, channel) first."
        )
    heat = resize(heat, pixels.shape[0], pixels.shape[1])
    coloured = _colour(_normalise(heat), cmap)
    blended = (1.0 - alpha) * pixels + alpha * coloured
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
