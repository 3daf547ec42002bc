"""A volume layer (D, H, W, C) in the exported page: one entry per slice.

The page draws (H, W, C) maps; a layer of a volume or video is written as its D slices,
each an entry of the layer menu named ``"<layer> [slice d]"`` whose maps are that slice of
every channel (as the explorer's ``volume_view="slice"`` shows them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["middle_slice", "page_parts", "part_value"]


def page_parts(infos: Sequence[Any]) -> list[tuple[Any, str, int | None]]:
    """The page's entries for ``infos``: ``(info to encode, layer name, slice)``.

    A volume layer gives one entry per slice (its info renamed ``"name [slice d]"``, with
    the slice's shape and image axes); any other layer gives itself, slice None.
    """
    parts: list[tuple[Any, str, int | None]] = []
    for info in infos:
        if info.layout != "volume":
            parts.append((info, info.name, None))
            continue
        for d in range(int(info.output_shape[0] or 0)):
            part = dataclasses.replace(info, name=f"{info.name} [slice {d}]",
                                       output_shape=tuple(info.output_shape[1:]), axes="image")
            parts.append((part, info.name, d))
    return parts


def part_value(activation: np.ndarray, depth: int | None) -> np.ndarray:
    """The activation of one entry: the layer's, or slice ``depth`` of a volume's."""
    return activation if depth is None else np.asarray(activation)[depth]


def middle_slice(pixels: np.ndarray) -> np.ndarray:
    """A volume's (D, H, W, C) middle slice, for its thumbnail; an image as it is."""
    arr = np.asarray(pixels)
    return arr[len(arr) // 2] if arr.ndim == 4 else arr
