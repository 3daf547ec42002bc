"""Pure-numpy colour layer: normalisation, scaling to [0, 1], colour maps.

Nothing here knows Keras or any display library except matplotlib's colour-map registry.
The ``normalize`` function is not re-exported here, so that ``colour.normalize`` stays
the submodule: use ``from cnnviz_widgets.colour.normalize import normalize``.
Channel ordering, paging and mosaics are in :mod:`cnnviz_widgets.layout`.
"""

from __future__ import annotations

from .colormaps import apply_colormap, lut
from .labels import colour_labels, label_colours, predicted_labels
from .normalize import (
    NORMALIZATIONS,
    NormStats,
    apply_normalization,
    default_colormap,
    normalization_stats,
)
from .scale import finite_range, unit_scale

__all__ = [
    "NORMALIZATIONS",
    "NormStats",
    "apply_colormap",
    "apply_normalization",
    "colour_labels",
    "default_colormap",
    "finite_range",
    "label_colours",
    "lut",
    "normalization_stats",
    "predicted_labels",
    "unit_scale",
]
