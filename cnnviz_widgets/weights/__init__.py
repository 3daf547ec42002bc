"""Model anatomy and learned filters, as arrays and records (no display).

``anatomy`` lists layers with their parameters and receptive fields; ``conv_filters``,
``filter_grid`` and ``rgb_filters`` give kernels normalised for display;
``dead_filters`` finds filters that vanished or never fire; ``stage_layers`` and
``block_overview`` pick one layer per resolution stage. Every function takes a model or
an engine built on it.
"""

from .anatomy import Anatomy, LayerRecord, anatomy
from .dead import DeadFilterReport, dead_filters
from .filters import FilterBank, conv_filters, filter_grid, kernel_layers, rgb_filters
from .overview import block_overview, stage_layers

__all__ = [
    "Anatomy",
    "DeadFilterReport",
    "FilterBank",
    "LayerRecord",
    "anatomy",
    "block_overview",
    "conv_filters",
    "dead_filters",
    "filter_grid",
    "kernel_layers",
    "rgb_filters",
    "stage_layers",
]
