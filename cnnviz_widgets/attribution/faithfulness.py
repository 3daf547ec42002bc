"""Deletion and insertion curves (RISE); the code lives in :mod:`.metrics.faithfulness`.

This module keeps ``cnnviz_widgets.attribution.faithfulness`` importable as before.
"""

from .metrics.faithfulness import (
    SUBSTRATES,
    FaithfulnessResult,
    area_under,
    faithfulness,
    substrate_pixels,
)

__all__ = ["SUBSTRATES", "FaithfulnessResult", "area_under", "faithfulness", "substrate_pixels"]
