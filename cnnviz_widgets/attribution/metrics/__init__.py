"""Metrics of attribution maps: how far a map can be trusted.

Each metric says whether a higher or a lower value is better.
:func:`faithfulness` (deletion and insertion, RISE) and :func:`road` (remove and
debias, Rong et al. 2022) change the image in the order the map gives;
:func:`mu_fidelity` removes random subsets; :func:`stability` adds noise;
:func:`complexity` and :func:`sparseness` read the map alone; :func:`sanity_check`
randomises a copy of the model layer by layer (Adebayo et al. 2018); :mod:`.similarity`
compares two maps; :func:`compare_methods` scores every method by every metric.
"""

from .compare import ComparisonResult, compare_methods
from .faithfulness import FaithfulnessResult, faithfulness
from .fidelity import mu_fidelity, stability
from .maps import complexity, sparseness
from .road import RoadResult, impute, road
from .sanity import SANITY_THRESHOLD, SanityResult, sanity_check
from .similarity import spearman, ssim

__all__ = [
    "SANITY_THRESHOLD", "ComparisonResult", "FaithfulnessResult", "RoadResult", "SanityResult",
    "compare_methods", "complexity", "faithfulness", "impute", "mu_fidelity", "road",
    "sanity_check", "sparseness", "spearman", "ssim", "stability",
]
