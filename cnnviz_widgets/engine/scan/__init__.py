"""The scan of a data set: per-channel statistics of layers over many images.

- :mod:`.front`: :func:`scan`, the one entry (checks, then in this process or on Dask).
- :mod:`.kernel`: the compiled batch function from a prepared batch to each layer's
  per-image numbers.
- :mod:`.stream`: the in-process loop (:func:`scan_source`): batches prepared ahead,
  run, folded.
- :mod:`.summary`: the mergeable summaries (:class:`ChannelStats`), :mod:`.histogram` their
  histograms, :mod:`.result` one per layer (:class:`ScanResult`).
- :mod:`.sources`: the image sets read in batches (arrays, lists, folders, ``tf.data``).
- :mod:`.distributed`: the same scan on the workers of a Dask cluster.
- :mod:`.cache`: :class:`~.cache.DatasetScans`, the scans of one set kept per layer, and
  the crops of a channel's top images.
"""

from __future__ import annotations

from .front import scan
from .kernel import batch_reducer
from .result import ScanResult
from .stream import scan_source
from .summary import BatchSummary, ChannelStats

__all__ = ["BatchSummary", "ChannelStats", "ScanResult", "batch_reducer", "scan",
           "scan_source"]
