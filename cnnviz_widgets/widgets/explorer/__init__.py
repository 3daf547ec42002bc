"""The feature-map explorer, by concern.

- ``state``: the selection as traits and validators (no widgets);
- ``canvas``: where the view is drawn (matplotlib bytes or bqplot), ``show(value)``;
- ``controls``: the controls, built group by group and bound to the state;
- ``value``: what the canvas shows for the state (maps, a line, bars or an error);
- ``explain``: the "Explain channel" part;
- ``field``: the receptive field of a position (the box and the gradient);
- ``compare``: compare mode's difference under the two views;
- ``static``: the standalone HTML page;
- ``dataset``: the dataset view (a channel's top images over a data set, cropped to the
  receptive field of their maximum; the histogram of its maxima; the dead channels);
- ``explorer``: the panel that wires them to the controls and the image picker.
"""

from .dataset import DatasetScans, DatasetView
from .explorer import FeatureMapExplorer, explore
from .state import ExplorerState

__all__ = ["DatasetScans", "DatasetView", "ExplorerState", "FeatureMapExplorer", "explore"]
