"""The feature-map explorer, by concern.

- ``state``: the selection as traits and validators (no widgets);
- ``canvas``: where the view is drawn (matplotlib bytes or bqplot), ``show(value)``;
- ``explain``: the "Explain channel" part;
- ``dataset``: the dataset view (a channel's top images over a data set, cropped to the
  receptive field of their maximum; the histogram of its maxima; the dead channels);
- ``explorer``: the panel that wires them to the controls and the image picker.
"""

from .dataset import DatasetScans, DatasetView
from .explorer import FeatureMapExplorer, explore
from .state import ExplorerState

__all__ = ["DatasetScans", "DatasetView", "ExplorerState", "FeatureMapExplorer", "explore"]
