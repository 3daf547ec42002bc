"""One map strip per stage of a network: how the picture changes with depth."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ._graph import plan_of, receptive_fields

__all__ = ["FEATURE_KINDS", "block_overview", "stage_layers", "top_channels"]

#: Layer kinds that compute new features; pooling, dropout and reshaping layers only
#: move or drop values, so a stage never ends on one of them.
FEATURE_KINDS = frozenset({"conv", "activation", "normalization", "merge", "other"})

ChannelOrder = Literal["index", "mean", "max"]


def stage_layers(engine: Any) -> list[str]:
    """Return the last feature layer of every stage (resolution) of the network.

    A stage is a run of layers, in the order the model computes them, that share the
    same resolution: the same *jump* (product of the strides of all convolutions and
    poolings so far, see :func:`cnnviz_widgets.weights.anatomy`). Among spatial layers
    of kind conv, activation, normalization, merge or other, the last one before each
    change of resolution ends a stage, and the last of them all ends the final stage.
    Using strides rather than output sizes makes the rule work for models with a
    flexible input size and ignores the slight shrinking of "valid" convolutions.

    Parameters
    ----------
    engine : ActivationEngine
        The engine of the model.

    Returns
    -------
    list of str
        Layer names in model order; for VGG16 ``block1_conv2``, ``block2_conv2``,
        ``block3_conv3``, ``block4_conv3``, ``block5_conv3``.
    """
    plan = plan_of(engine)
    fields = receptive_fields(plan)
    ends: list[str] = []
    last_name: str | None = None
    last_jump = None
    for info in plan.layers:
        if not info.is_spatial or info.kind not in FEATURE_KINDS:
            continue
        jump = fields[info.name].jump
        if last_name is not None and jump != last_jump:
            ends.append(last_name)
        last_name, last_jump = info.name, jump
    if last_name is not None:
        ends.append(last_name)
    return ends


def top_channels(activation: np.ndarray, k: int, order: ChannelOrder = "index") -> np.ndarray:
    """Return the indices of ``k`` channels of an (H, W, C) activation.

    Parameters
    ----------
    activation : numpy.ndarray
        A spatial activation, channels last.
    k : int
        How many channels (fewer if the layer has fewer).
    order : {"index", "mean", "max"}
        ``"index"``: the first ``k`` channels; ``"mean"`` / ``"max"``: the ``k``
        channels with the largest mean / maximum, strongest first (ties by index).
    """
    c = activation.shape[-1]
    k = max(0, min(int(k), c))
    if order == "index":
        return np.arange(k)
    flat = np.asarray(activation, dtype=np.float64).reshape(-1, c)
    if order == "mean":
        score = flat.mean(axis=0)
    elif order == "max":
        score = flat.max(axis=0)
    else:
        raise ValueError(f"order must be 'index', 'mean' or 'max', not {order!r}")
    return np.argsort(-score, kind="stable")[:k]


def block_overview(
    engine: Any,
    image: Any,
    channels: int = 8,
    order: ChannelOrder = "index",
    layers: list[str] | None = None,
) -> list[tuple[str, np.ndarray]]:
    """Return a few feature maps of every stage for one image.

    Parameters
    ----------
    engine : ActivationEngine
        The engine of the model; all stages are computed in one engine call.
    image : image-like
        Anything ``engine.activation`` accepts.
    channels : int
        Maps per stage (fewer if a layer has fewer channels).
    order : {"index", "mean", "max"}
        Which channels to take, see :func:`top_channels`.
    layers : list of str, optional
        Layers to show instead of :func:`stage_layers`.

    Returns
    -------
    list of (str, numpy.ndarray)
        ``(layer name, maps)`` per stage, maps of shape (H, W, channels), raw values
        (normalise them with the colour module).
    """
    names = stage_layers(engine) if layers is None else list(layers)
    acts = engine.activations(names, image)
    out = []
    for name in names:
        act = np.asarray(acts[name])
        if act.ndim == 2:
            act = act[..., None]
        idx = top_channels(act, channels, order)
        out.append((name, np.ascontiguousarray(act[..., idx])))
    return out
