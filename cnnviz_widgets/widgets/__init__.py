"""The interactive panels: controls wired to the engine and the renderers.

- :class:`FeatureMapExplorer` (:func:`explore`): a layer's feature maps for any image;
- :class:`FilterExplorer`: a convolution's filters, their anatomy and the dead ones;
- :class:`AttributionPanel`: what in the image a class comes from, method by method;
- :class:`LiveActivations`: a training callback that redraws an explorer and the curves.
"""

from .attribution import AttributionPanel
from .explorer import FeatureMapExplorer, explore
from .filters import FilterExplorer
from .live import LiveActivations

__all__ = ["AttributionPanel", "FeatureMapExplorer", "FilterExplorer", "LiveActivations",
           "explore"]
