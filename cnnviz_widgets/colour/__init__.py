"""Pure-numpy colour layer: normalisation, channel ordering and tiling, colour maps.

Nothing here knows Keras or any display library except matplotlib's colour-map registry.
The ``normalize`` function is not re-exported here, so that ``colour.normalize`` stays
the submodule: use ``from cnnviz_widgets.colour.normalize import normalize``.
"""

from __future__ import annotations

from .colormaps import apply_colormap, lut
from .normalize import (
    NORMALIZATIONS,
    NormStats,
    apply_normalization,
    default_colormap,
    normalization_stats,
)
from .tiling import CHANNEL_ORDERS, MosaicLayout, downsample, mosaic, order_channels, page_of

__all__ = [
    "CHANNEL_ORDERS",
    "NORMALIZATIONS",
    "MosaicLayout",
    "NormStats",
    "apply_colormap",
    "apply_normalization",
    "default_colormap",
    "downsample",
    "lut",
    "mosaic",
    "normalization_stats",
    "order_channels",
    "page_of",
]
