"""The feature-map explorer, by concern.

- ``state``: the selection as traits and validators (no widgets);
- ``canvas``: where the view is drawn (matplotlib bytes or bqplot), ``show(value)``;
- ``explain``: the "Explain channel" part;
- ``explorer``: the panel that wires them to the controls and the image picker.
"""

from .explorer import FeatureMapExplorer, explore
from .state import ExplorerState

__all__ = ["ExplorerState", "FeatureMapExplorer", "explore"]
