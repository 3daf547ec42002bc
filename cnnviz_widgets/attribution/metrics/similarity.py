"""How alike two attribution maps are: Spearman rank correlation and SSIM, in NumPy.

The model-parameter randomisation test (Adebayo et al. 2018) compares the map of a
trained model with the maps of models whose layers were randomised. Both measures are
written here with NumPy alone: :func:`spearman` is the Pearson correlation of the
values' ranks (ties share their average rank, as ``scipy.stats.spearmanr`` does);
:func:`ssim` is the structural similarity of Wang et al. (2004) with a 7 x 7 uniform
window and the sample covariance, the defaults of ``skimage.metrics.structural_similarity``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import InvalidSettingError

__all__ = ["average_ranks", "normalized_absolute", "pearson", "spearman", "ssim"]


def average_ranks(values: Any) -> np.ndarray:
    """Ranks 0 .. n-1 of the flattened ``values``; equal values share their average rank."""
    x = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(x, kind="stable")
    ordered = x[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]] if x.size else np.zeros(0, bool)
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], x.size]
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = ((starts + ends - 1) / 2.0)[group]
    return ranks


def pearson(a: Any, b: Any) -> float:
    """Pearson correlation of two arrays of the same size (flattened), in [-1, 1]; 0.0 when
    either is constant (where NumPy and SciPy give NaN)."""
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    x, y = x - x.mean(), y - y.mean()
    scale = float(np.sqrt(x @ x)) * float(np.sqrt(y @ y))
    return float(np.clip((x @ y) / scale, -1.0, 1.0)) if scale > 0.0 else 0.0


def spearman(a: Any, b: Any) -> float:
    """Spearman rank correlation of two maps of the same shape, in [-1, 1]: the
    :func:`pearson` correlation of their ranks.

    A constant map has no order: the correlation is 1.0 when both maps are constant and
    0.0 when only one is (where ``scipy.stats.spearmanr`` gives NaN).
    """
    x, y = _pair(a, b)
    if np.ptp(x) == 0.0 and np.ptp(y) == 0.0:
        return 1.0
    return pearson(average_ranks(x), average_ranks(y))


def normalized_absolute(heatmap: Any) -> np.ndarray:
    """``|heatmap|`` divided by its maximum (an all-zero map stays zero), float64."""
    heat = np.abs(np.asarray(heatmap, dtype=np.float64))
    top = heat.max() if heat.size else 0.0
    return heat / top if top > 0 else heat


def _box_means(image: np.ndarray, size: int) -> np.ndarray:
    """Mean over every ``size`` x ``size`` window lying wholly inside ``image``."""
    table = np.zeros((image.shape[0] + 1, image.shape[1] + 1))
    table[1:, 1:] = image.cumsum(axis=0).cumsum(axis=1)
    sums = (table[size:, size:] - table[:-size, size:] - table[size:, :-size]
            + table[:-size, :-size])
    return sums / (size * size)


def ssim(a: Any, b: Any, *, window: int = 7, data_range: float = 1.0) -> float:
    """Mean structural similarity of two 2-D maps (Wang et al. 2004).

    Local means, variances and the covariance are taken over ``window`` x ``window``
    uniform windows (the sample covariance, ``n / (n - 1)``), with ``C1 = (0.01 L)^2``
    and ``C2 = (0.03 L)^2`` for the data range ``L``, and averaged over the windows that
    lie wholly inside the map, as ``skimage.metrics.structural_similarity`` does with
    its defaults. A map smaller than the window uses the largest odd window that fits.

    Returns
    -------
    float
        1.0 for identical maps; lower for maps less alike (it may be negative).
    """
    x, y = _pair(a, b)
    if x.ndim != 2:
        raise InvalidSettingError(f"SSIM compares 2-D maps; got shape {x.shape}.")
    size = min(window, *x.shape)
    size -= 1 - size % 2
    n = size * size
    mx, my = _box_means(x, size), _box_means(y, size)
    scale = n / (n - 1) if n > 1 else 1.0
    vx = (_box_means(x * x, size) - mx * mx) * scale
    vy = (_box_means(y * y, size) - my * my) * scale
    cxy = (_box_means(x * y, size) - mx * my) * scale
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(values.mean())


def _pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise InvalidSettingError(f"The two maps differ in shape: {x.shape} and {y.shape}.")
    if x.size == 0:
        raise InvalidSettingError("The maps are empty.")
    return x, y
