"""Metrics of a map alone: how concentrated it is (Xplique's ``Complexity``, ``Sparseness``).

Neither looks at the model: a map can be concentrated and wrong. They tell how easy a map
is to read, beside the metrics that test it against the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...errors import InvalidSettingError
from .faithfulness import named_maps

__all__ = ["complexity", "sparseness"]

_EPS = 1e-8


def _absolute(heatmap: Any, name: str = "") -> np.ndarray:
    heat = np.abs(np.asarray(heatmap, dtype=np.float64))
    if heat.ndim == 3:  # colour channels: their mean, as Xplique does
        heat = heat.mean(axis=-1)
    if heat.ndim != 2 or heat.size == 0 or not np.all(np.isfinite(heat)):
        label = f"The heatmap {name!r}" if name else "The heatmap"
        raise InvalidSettingError(
            f"{label} must be a finite 2-D map (or (H, W, C)); got shape {heat.shape}.")
    return heat.ravel()


def _each(heatmap: Any, measure: Callable[[np.ndarray], float]) -> float | dict[str, float]:
    named, maps = named_maps(heatmap)
    values = {name: measure(_absolute(heat, str(name))) for name, heat in maps.items()}
    return values if named else values[""]


def _entropy(x: np.ndarray) -> float:
    p = x / (x.sum() + _EPS)
    return float(-np.sum(p * np.log(p + _EPS)))


def _gini(x: np.ndarray) -> float:
    x = np.sort(x / (x.sum() + _EPS))
    n = x.size
    rank = np.arange(1, n + 1)
    return float(2.0 * np.sum(rank * x) / (n * x.sum() + _EPS) - (n + 1.0) / n)


def complexity(heatmap: Any) -> float | dict[str, float]:
    """Shannon entropy of the map's absolute values as a distribution (Bhatt et al. 2020).

    ``p = |m| / sum |m|``, ``complexity = -sum p log p`` (with Xplique's 1e-8 inside the
    logarithm): 0 for one bright pixel, ``log(H * W)`` for a flat map. **Lower is
    better** (a concentrated map).

    Parameters
    ----------
    heatmap : numpy.ndarray or mapping of str to numpy.ndarray
        A 2-D map ((H, W, C) is averaged over C), or ``{name: map}``.

    Returns
    -------
    float or dict of str to float
    """
    return _each(heatmap, _entropy)


def sparseness(heatmap: Any) -> float | dict[str, float]:
    """Gini index of the map's absolute values (Chalasani et al. 2020).

    With the values sorted ascending, ``x_(1) <= ... <= x_(n)``:
    ``2 sum_i i x_(i) / (n sum_i x_(i)) - (n + 1) / n``; 0 for a flat map, near 1 when
    one pixel holds everything (``1 - 1 / n``). **Higher is better** (a sparse map).
    ``heatmap`` is given as to :func:`complexity`, and the result has its shape: one
    float, or ``{name: float}``.
    """
    return _each(heatmap, _gini)
