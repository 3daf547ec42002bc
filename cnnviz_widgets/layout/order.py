"""Channel ordering: the one ranking of a layer's channels for grids and overviews."""

from __future__ import annotations

import numpy as np

from .._deprecation import renamed
from ..colour.scale import as_maps
from ..errors import InvalidSettingError

__all__ = ["CHANNEL_ORDERS", "order_channels"]

#: The ways channels can be ordered in a grid.
CHANNEL_ORDERS: tuple[str, ...] = ("index", "mean", "max", "sparsity", "class", "relevance")


def order_channels(maps: np.ndarray, order: str = "index", *, by: str | None = None,
                   scores: np.ndarray | None = None) -> np.ndarray:
    """Order the channels of a layer, most interesting first.

    Parameters
    ----------
    maps : numpy.ndarray
        Activations of shape (H, W, C) (or (H, W) for one channel).
    order : str
        One of :data:`CHANNEL_ORDERS`:

        ``"index"``
            0, 1, 2, ...
        ``"mean"``
            descending mean activation.
        ``"max"``
            descending maximum activation.
        ``"sparsity"``
            ascending fraction of exact zeros, i.e. the most active (least sparse)
            channels first; a dead ReLU channel (all zeros) comes last.
        ``"class"``
            descending ``scores``: each channel's contribution to a class (see
            :class:`~cnnviz_widgets.attribution.ChannelContributions`), computed by the
            caller; the maps only give the number of channels.
        ``"relevance"``
            descending ``scores``: each channel's relevance for a class (concept
            relevance, :meth:`~cnnviz_widgets.attribution.ChannelRelevance.scores`),
            computed by the caller.
    by : str, optional
        Deprecated name of ``order``.
    scores : numpy.ndarray, optional
        One number per channel, shape (C,), for ``order="class"`` and ``"relevance"``.

    Returns
    -------
    numpy.ndarray
        Integer (intp) permutation of ``range(C)``. Ties keep index order (stable sort);
        non-finite values are ignored and a channel with no finite value comes last.
        The first ``k`` entries are the ``k`` top channels.

    Raises
    ------
    InvalidSettingError
        (a ``ValueError``) for an unknown ``order``, or ``"class"`` or ``"relevance"``
        without ``scores``
        of one value per channel.
    """
    order = renamed(by, order, "by", "order", "order_channels")
    if order not in CHANNEL_ORDERS:
        raise InvalidSettingError(
            f"Unknown channel order {order!r}; use one of "
            + ", ".join(repr(o) for o in CHANNEL_ORDERS) + "."
        )
    x = as_maps(maps)
    n = x.shape[2]
    if order == "index":
        return np.arange(n, dtype=np.intp)
    if order in ("class", "relevance"):
        if scores is None or np.shape(scores) != (n,):
            raise InvalidSettingError(
                f"The {order} order needs one score per channel ({n}), computed for "
                "the class; got " + ("none." if scores is None else
                                     f"shape {np.shape(scores)}."))
        key = -np.asarray(scores, dtype=np.float64)
        return np.argsort(np.where(np.isfinite(key), key, np.inf), kind="stable").astype(np.intp)
    finite = np.isfinite(x)
    count = finite.sum(axis=(0, 1))
    with np.errstate(all="ignore"):
        if order == "mean":
            total = np.where(finite, x, 0).sum(axis=(0, 1), dtype=np.float64)
            key = -(total / np.maximum(count, 1))
        elif order == "max":
            key = -np.where(finite, x, -np.inf).max(axis=(0, 1)).astype(np.float64)
        else:
            zeros = ((x == 0) & finite).sum(axis=(0, 1))
            key = zeros / np.maximum(count, 1)
    key = np.where((count > 0) & np.isfinite(key), key, np.inf)
    return np.argsort(key, kind="stable").astype(np.intp)
