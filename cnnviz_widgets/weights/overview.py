"""One map strip per stage of a network: how the picture changes with depth."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.coerce import as_engine
from ..engine.stages import stage_layers
from ..layout.order import order_channels

__all__ = ["block_overview", "stage_layers"]


def block_overview(
    model_or_engine: Any,
    image: Any,
    channels: int = 8,
    order: str = "index",
    layers: list[str] | None = None,
) -> list[tuple[str, np.ndarray]]:
    """Return a few feature maps of every stage for one image.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine built on it; all stages are computed in one engine call.
    image : image-like
        Anything ``engine.activation`` accepts.
    channels : int
        Maps per stage (fewer if a layer has fewer channels).
    order : str
        Which channels to take: the first ``channels`` of
        :func:`~cnnviz_widgets.layout.order.order_channels` (``"index"``, ``"mean"``,
        ``"max"`` or ``"sparsity"``), strongest first.
    layers : list of str, optional
        Layers to show instead of :func:`~cnnviz_widgets.engine.stages.stage_layers`.

    Returns
    -------
    list of (str, numpy.ndarray)
        ``(layer name, maps)`` per stage, maps of shape (H, W, channels), raw values
        (normalise them with the colour module).
    """
    engine = as_engine(model_or_engine)
    names = stage_layers(engine) if layers is None else list(layers)
    acts = engine.activations(names, image)
    k = max(0, int(channels))
    out = []
    for name in names:
        act = np.asarray(acts[name])
        if act.ndim == 2:
            act = act[..., None]
        idx = order_channels(act, order)[:k]
        out.append((name, np.ascontiguousarray(act[..., idx])))
    return out
