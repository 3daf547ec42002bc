"""Top images by relevance (RelMax): a channel's reference images ranked by what it adds.

An activation scan ranks a channel's images by how strongly it fires; a relevance scan
ranks them by how much relevance the channel carries for a class (Achtibat et al. 2023,
"From attribution maps to human-understandable explanations through concept relevance
propagation"; zennit-crp's ``Maximization(mode="relevance", max_target="sum")``): the
channel's relevance summed over its map, :meth:`ChannelRelevance.scores
<cnnviz_widgets.attribution.ChannelRelevance.scores>`, for one class or for each image's
predicted class. It is the same scan as :func:`~cnnviz_widgets.scan` with another batch
function: the set is read, prepared and folded by the scan's own loop into the same
mergeable summaries (:class:`~cnnviz_widgets.engine.scan.ChannelStats`), so the top-k
lists, merging and saving are the scan's.

What the fields of a relevance scan's statistics hold: ``top_values`` and ``max`` are
relevance scores; ``mean`` is the channel's mean relevance per image, and
``positive_fraction`` the fraction of images where it is above 0; ``class_means`` the mean
relevance over the images of each label class. ``top_positions`` are where the channel's
activation is highest in each top image (where its crop is cut); zennit-crp cuts where
the relevance is highest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..attribution.relevance import ChannelRelevance, Composite
from ..checks import whole_number
from ..engine.coerce import as_engine
from ..engine.scan.kernel import batch_reducer, map_layout
from ..engine.scan.result import ScanResult
from ..engine.scan.sources import image_source
from ..engine.scan.stream import scan_source
from ..errors import ArgumentTypeError
from ..progress import ProgressLike

__all__ = ["relevance_reducer", "relevance_scan"]


def relevance_reducer(relevance: ChannelRelevance, target: Any = None) -> Any:
    """The scan's batch function with the channels' relevance in place of their maxima.

    Parameters
    ----------
    relevance : ChannelRelevance
        Built for the scanned layer.
    target : None, int or callable
        The class the relevance is for (None: each image's predicted class).

    Returns
    -------
    callable
        From a prepared batch to ``[(scores, sums, positives, maps, width, plane)]`` as the
        kernel's :func:`~cnnviz_widgets.engine.scan.kernel.batch_reducer` gives them:
        the (B, C) scores rank the images; sums and positives are scaled so that the
        statistics' means are per image (see the module's text); the activation maps
        say where each top image's crop is cut.
    """
    activations = batch_reducer(relevance.engine, [relevance.layer])

    def reduce(x: Any) -> list[tuple[Any, ...]]:
        _, _, _, maps, width, plane = activations(x)[0]
        positions = int(maps.shape[1])
        scores = np.asarray(relevance.layer_relevance(np.asarray(x), target), dtype=np.float32)
        return [(scores, scores * positions, (scores > 0).astype(np.int64) * positions,
                 maps, width, plane)]

    return reduce


def relevance_scan(model_or_engine: Any, images: Any, layer: str, target: Any = None, *,
                   top_k: int = 9, composite: str | Composite = "epsilon_plus_flat",
                   batch_size: int = 16, progress: ProgressLike = True,
                   labels: Sequence[int] | None = None,
                   class_names: Sequence[str] | None = None, first_index: int = 0,
                   relevance: ChannelRelevance | None = None) -> ScanResult:
    """Rank every channel's images of a set by the channel's relevance (RelMax).

    Parameters
    ----------
    model_or_engine : keras.Model, ActivationEngine or str
        The model, an engine built on it, or the path of a ``.keras`` file.
    images : array, list, folder, tf.data.Dataset
        The set, as for :func:`~cnnviz_widgets.scan`.
    layer : str
        The layer whose channels are ranked.
    target : None or int, optional
        The class the relevance is for; None: each image's own predicted class.
    top_k : int, default 9
        How many top images to keep per channel.
    composite : str or Composite, default "epsilon_plus_flat"
        The LRP rules (see :data:`~cnnviz_widgets.attribution.relevance.COMPOSITES`).
    batch_size : int, default 16
        Images per batch (each is one forward and one backward pass).
    progress, labels, class_names, first_index
        As for :func:`~cnnviz_widgets.scan`.
    relevance : ChannelRelevance, optional
        One already built for ``layer`` (its composite is used; ``composite`` is ignored).

    Returns
    -------
    ScanResult
        ``result[layer]`` is a :class:`~cnnviz_widgets.engine.scan.ChannelStats` whose
        ``top_indices`` and ``top_values`` are the images of highest relevance and their
        scores (see the module's text for the other fields).

    Raises
    ------
    LayerNotFoundError, LayerNotViewableError
        If the layer does not exist, has no channels, or the output does not depend on it.
    ArgumentTypeError
        If ``target`` is neither None nor a class index.
    InvalidSettingError
        For a ``top_k`` or ``batch_size`` below 1.

    Examples
    --------
    >>> result = relevance_scan(model, images, "conv2d_1", target=None, top_k=6)
    >>> result["conv2d_1"].top_indices[3]     # the 6 images where channel 3 adds most
    """
    engine = as_engine(model_or_engine, paths=True)
    if target is not None and (isinstance(target, bool)
                               or not isinstance(target, (int, np.integer))):
        raise ArgumentTypeError(
            f"target must be None (each image's predicted class) or a class index, "
            f"not {type(target).__name__}.")
    map_layout(engine.viewable(layer))
    top_k = whole_number(top_k, "top_k")
    batch_size = whole_number(batch_size, "batch_size")
    if relevance is None or relevance.layer != layer or relevance.engine is not engine:
        relevance = ChannelRelevance(engine, layer, composite=composite)
    source = image_source(images, engine.input_shape, labels, class_names, first_index)
    return scan_source(engine, source, [layer], top_k=top_k, batch_size=batch_size,
                       progress=progress, reducer=relevance_reducer(relevance, target))
