"""Metrics of attribution maps: how far a map can be trusted.

Each metric says whether a higher or a lower value is better. :func:`sanity_check`
randomises a copy of the model layer by layer (Adebayo et al. 2018);
:mod:`.similarity` compares two maps.
"""

from .sanity import SANITY_THRESHOLD, SanityResult, sanity_check
from .similarity import spearman, ssim

__all__ = ["SANITY_THRESHOLD", "SanityResult", "sanity_check", "spearman", "ssim"]
