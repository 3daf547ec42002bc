"""Scan a data set: per-channel statistics of several layers in one streaming pass.

:func:`scan` reads the images of a set in batches (:mod:`.sources`), prepares them like
single images, runs each batch once through only the part of the model the requested
layers need, and reduces every layer's maps to a few numbers per image and channel inside
the same compiled function (:mod:`.kernel`). The numbers are folded into mergeable
summaries (:mod:`.summary`) in this process (:mod:`.stream`), or with a Dask client on
the workers, one partition of the set each, and the partial results are merged
(:mod:`.distributed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...checks import whole_number
from ...errors import InvalidSettingError
from ...progress import ProgressLike
from ..coerce import as_engine
from ..stages import stage_layers
from .distributed import scan_on_cluster
from .kernel import map_layout
from .result import ScanResult
from .sources import image_source
from .stream import scan_source

__all__ = ["scan"]


def scan(model_or_engine: Any, images: Any, layers: Sequence[str] | str | None = None, *,
         top_k: int = 9, batch_size: int = 64, progress: ProgressLike = True,
         client: Any = None, labels: Sequence[int] | None = None,
         class_names: Sequence[str] | None = None, first_index: int = 0,
         threshold: float = 0.0, partition_size: int | None = None) -> ScanResult:
    """Per-channel statistics of layers over a whole data set, in one streaming pass.

    For each channel of each layer: the largest value, the mean and the fraction of
    positions above 0 over all images and positions, the ``top_k`` images whose maximum
    is highest (with where it is), the dead channels, and a histogram of per-image maxima
    (see :class:`ChannelStats`).

    Parameters
    ----------
    model_or_engine : keras.Model, ActivationEngine or str
        The model, an engine built on it (its preprocessing is used), or the path of a
        ``.keras`` file.
    images : array, list, folder, tf.data.Dataset
        The set: an array (N, H, W[, C]) (or (N, T, C) signals for a model of 1-D
        layers); a list of paths, bytes, PIL images or arrays; a folder (every file in
        it, sorted by name); a ``tf.data.Dataset`` of images or (image, label) pairs,
        batched or not. Items are prepared like single images (any
        size and colour mode); an item that cannot be read is skipped and listed in
        ``result.skipped``.
    layers : str or sequence of str, optional
        Layers to scan, all in the same pass (default: the last layer of every stage).
        Maps (H, W[, C]) give positions (row, col); sequences (T, C) and tokens (T, D)
        give positions (t, 0) along T; each output of a layer with several is scanned by
        its own name (``"split[1]"``).
    top_k : int
        How many top images to keep per channel.
    batch_size : int
        Images per batch.
    progress : bool, callable, widget or Callback
        ``True``: a bar with images per second in a notebook, a line of text in a
        terminal; ``False``/None: quiet; anything :func:`~cnnviz_widgets.progress.as_callback`
        accepts.
    client : dask.distributed.Client, optional
        Scan on a Dask cluster: the set is cut into partitions, each worker scans its
        partitions with the same batch function, and the partial results are merged (see
        :mod:`cnnviz_widgets.engine.scan.distributed` for how the model reaches the workers).
    labels : sequence of int, optional
        One label per image (arrays and lists); a ``tf.data`` set carries its own.
    class_names : sequence of str, optional
        Names of the label classes.
    first_index : int
        Index of the first image, when this set is one part of a larger set scanned in
        parts (``a.merge(b)`` needs the parts' indices not to overlap).
    threshold : float
        ``ChannelStats.firing`` counts the images whose maximum is above this.
    partition_size : int, optional
        Images per partition with ``client`` (default: a split into 4 partitions per
        worker, at least one batch each).

    Returns
    -------
    ScanResult
        ``result[layer]`` is a :class:`ChannelStats`; ``result.skipped`` lists the items
        that could not be read; ``result.partial`` is True after an interrupt.

    Raises
    ------
    ScanError
        If the set is empty or not a set of images.
    LayerNotFoundError, LayerNotViewableError
        If a layer does not exist or has no channels to scan; checked before any work.
    InvalidSettingError
        For a ``top_k`` or ``batch_size`` below 1.

    Examples
    --------
    >>> from cnnviz_widgets import scan
    >>> from cnnviz_widgets.testing import tiny_cnn
    >>> result = scan(tiny_cnn(), np.random.rand(20, 8, 8), ["conv_a"], top_k=3,
    ...               progress=False)
    >>> result["conv_a"].top_indices.shape
    (4, 3)
    """
    engine = as_engine(model_or_engine, paths=True)
    if layers is None:
        layers = stage_layers(engine)
    elif isinstance(layers, str):
        layers = [layers]
    layers = list(dict.fromkeys(layers))
    if not layers:
        raise InvalidSettingError("No layers to scan: give at least one layer name.")
    for name in layers:
        # LayerNotFoundError with close matches; a layer with several outputs: pick one
        map_layout(engine.viewable(name))
    top_k = whole_number(top_k, "top_k")
    batch_size = whole_number(batch_size, "batch_size")
    source = image_source(images, engine.input_shape, labels, class_names, first_index)
    if client is not None:
        return scan_on_cluster(client, engine, source, layers, top_k=top_k,
                               batch_size=batch_size, progress=progress,
                               threshold=float(threshold), partition_size=partition_size)
    return scan_source(engine, source, layers, top_k=top_k, batch_size=batch_size,
                       progress=progress, threshold=float(threshold))
