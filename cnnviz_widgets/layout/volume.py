"""A volume's activation (D, H, W, C) laid out as maps: one slice of every channel, or
every slice of one channel; and a row of slices as one picture. Pure numpy."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidSettingError
from .tokens import LayerMaps

__all__ = ["VOLUME_VIEWS", "slice_row", "volume_maps"]

#: How a volume layer is shown: ``"slice"`` (one slice of every channel) or ``"slices"``
#: (every slice of one channel).
VOLUME_VIEWS = ("slice", "slices")


def volume_maps(volume: np.ndarray, view: str, depth: int, channel: int) -> LayerMaps:
    """Lay a volume's activation out as (H, W, K) maps.

    Parameters
    ----------
    volume : numpy.ndarray
        (D, H, W, C), no batch axis.
    view : {"slice", "slices"}
        ``"slice"``: slice ``depth`` of every channel, (H, W, C); ``"slices"``: every
        slice of channel ``channel``, (H, W, D), slice 0 first.
    depth, channel : int
        The slice of ``"slice"`` and the channel of ``"slices"``.

    Examples
    --------
    >>> v = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    >>> volume_maps(v, "slice", 1, 0).maps.shape, volume_maps(v, "slices", 0, 4).maps.shape
    ((3, 4, 5), (3, 4, 2))
    """
    arr = np.asarray(volume)
    if arr.ndim != 4:
        raise InvalidSettingError(f"A volume's activation is (D, H, W, C); got {arr.shape}.")
    depth_count, channels = arr.shape[0], arr.shape[-1]
    if view == "slice":
        return LayerMaps(arr[depth], note=f"slice {depth} of 0-{depth_count - 1}")
    if view == "slices":
        return LayerMaps(np.moveaxis(arr[..., channel], 0, -1),
                         note=f"channel {channel} of {channels}: its {depth_count} slices, "
                              "numbered by depth")
    raise InvalidSettingError(f"volume_view must be one of {VOLUME_VIEWS}, not {view!r}.")


def slice_row(slices: np.ndarray, gap: int = 1) -> np.ndarray:
    """The slices (D, H, W) of one channel side by side, (H, D * (W + gap) - gap), with
    columns of NaN between them (drawn as gaps). Slices with trailing axes, such as RGB
    pictures (D, H, W, 3), keep them: (H, D * (W + gap) - gap, 3).

    Examples
    --------
    >>> slice_row(np.ones((3, 2, 2))).shape, slice_row(np.ones((3, 2, 2, 3))).shape
    ((2, 8), (2, 8, 3))
    """
    arr = np.asarray(slices, dtype=np.float32)
    d, h, w = arr.shape[:3]
    out = np.full((h, d * (w + gap) - gap, *arr.shape[3:]), np.nan, dtype=np.float32)
    for i in range(d):
        out[:, i * (w + gap):i * (w + gap) + w] = arr[i]
    return out
