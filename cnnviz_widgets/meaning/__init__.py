"""What units mean: concepts over a data set and a quiz on a layer's channels.

- :mod:`.concepts`: :func:`find_concepts`, non-negative directions of a layer's space.
- :mod:`.quiz`: the questions of a quiz (which of two images drives a channel more).
- :mod:`.relmax`: :func:`relevance_scan`, a channel's top images ranked by its relevance.

The class statistics of every channel (class means, selectivity) come with every scan
with labels: see :mod:`cnnviz_widgets.engine.scan.classes`.
"""

from __future__ import annotations

from .concepts import Concepts, find_concepts
from .relmax import relevance_scan

__all__ = ["Concepts", "find_concepts", "relevance_scan"]
