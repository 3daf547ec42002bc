"""Pure-numpy layout: which channels are shown, in what order, on which page, and where.

``order`` ranks the channels of a layer, ``paging`` cuts an ordered list into pages and
``mosaic`` tiles maps into one image whose :class:`MosaicLayout` maps pixels back to
channels (block-mean downsampling lives there too, as it sizes the tiles); ``tokens`` lays
sequences (T, C) and transformer tokens (T, D) out as maps; ``compare`` joins two views
side by side and takes their difference.
"""

from __future__ import annotations

from .compare import beside, difference, gap_width, join
from .mosaic import MosaicLayout, downsample, downsample_factor, mosaic
from .order import CHANNEL_ORDERS, order_channels
from .paging import page_count, page_of, page_range
from .tokens import LayerMaps, layer_maps, sequence_maps, token_maps

__all__ = [
    "CHANNEL_ORDERS",
    "LayerMaps",
    "MosaicLayout",
    "beside",
    "difference",
    "downsample",
    "downsample_factor",
    "gap_width",
    "join",
    "layer_maps",
    "mosaic",
    "order_channels",
    "page_count",
    "page_of",
    "page_range",
    "sequence_maps",
    "token_maps",
]
