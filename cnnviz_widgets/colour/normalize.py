"""Normalisation of activation maps into [0, 1].

Every strategy is an affine map per channel, ``out = (x - offset) / spread * gain + base``,
clipped to [0, 1]. The statistics (:class:`NormStats`) are computed once, at full
resolution, and can then be applied to any subset or downsampled copy of the same layer:
that is how a single channel or a page of channels stays comparable with the layer.

Non-finite inputs (NaN, +-Inf) are treated as *missing*: they are ignored by the
statistics and come out as NaN, and only they do. A channel with no spread (constant, or
with fewer than two distinct finite values) comes out flat: 0 for ``"channel"`` and
``"layer"``, 0.5 for ``"standardize"`` and ``"signed"``. No numpy warning is emitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._deprecation import renamed_property
from ..checks import indices_in
from ..errors import InvalidSettingError
from .scale import as_maps

__all__ = [
    "NORMALIZATIONS",
    "NormStats",
    "apply_normalization",
    "default_colormap",
    "normalization_stats",
    "normalize",
]

#: The normalisation strategies, in the order a menu should show them.
NORMALIZATIONS: tuple[str, ...] = ("channel", "layer", "standardize", "signed")

_SHARED = frozenset({"layer", "signed"})  # one scale for the whole layer
# |value| beyond which float32 arithmetic could overflow; above it we work in float64
_F32_SAFE = 1e37
_F32_TINY = 1e-30


@dataclass(frozen=True)
class NormStats:
    """Per-channel affine normalisation ``clip((x - offset) / spread * gain + base, 0, 1)``.

    Attributes
    ----------
    normalization : str
        The strategy the statistics were computed for (one of :data:`NORMALIZATIONS`).
    offset, spread, gain, base : numpy.ndarray
        Float64 arrays of shape (C,), one entry per channel. ``spread`` is never 0. A
        flat channel (``gain == 0``) keeps its constant value in ``offset`` (0 when it
        has no finite value).
    """

    normalization: str
    offset: np.ndarray
    spread: np.ndarray
    gain: np.ndarray
    base: np.ndarray

    mode = renamed_property("normalization")

    def value_range(self) -> tuple[np.ndarray, np.ndarray]:
        """The data values that map to 0 and to 1, per channel.

        Inverts each channel's affine map: ``lo = offset - base * spread / gain`` and
        ``hi = offset + (1 - base) * spread / gain``. That is the channel's min and max for
        ``"channel"``, the layer's for ``"layer"``, ``mean - 2 std`` and
        ``mean + 127/64 std`` for ``"standardize"``, and ``-max|a|``, ``+max|a|`` for
        ``"signed"``.

        Returns
        -------
        (lo, hi) : numpy.ndarray
            Float64 arrays of shape (C,). A flat channel (no spread, every value drawn in
            one colour) gives its constant value twice, ``lo == hi`` (0 when it has no
            finite value).
        """
        flat = self.gain == 0
        with np.errstate(all="ignore"):
            unit = self.spread / np.where(flat, 1.0, self.gain)
            lo = np.where(flat, self.offset, self.offset - self.base * unit)
            hi = np.where(flat, self.offset, self.offset + (1.0 - self.base) * unit)
        return lo.astype(np.float64), hi.astype(np.float64)

    @property
    def n_channels(self) -> int:
        """Number of channels the statistics describe."""
        return int(self.offset.shape[0])

    def take(self, channels: int | Sequence[int] | np.ndarray) -> NormStats:
        """Return the statistics of some channels only, in the given order.

        Parameters
        ----------
        channels : int or sequence of int
            Channel indices into these statistics.

        Returns
        -------
        NormStats
            Statistics with one entry per requested channel.
        """
        idx = np.atleast_1d(np.asarray(channels, dtype=np.intp))
        return NormStats(self.normalization, self.offset[idx], self.spread[idx], self.gain[idx],
                         self.base[idx])


def _check_mode(normalization: str) -> str:
    if normalization not in NORMALIZATIONS:
        raise InvalidSettingError(
            f"Unknown normalisation {normalization!r}; use one of "
            + ", ".join(repr(m) for m in NORMALIZATIONS) + "."
        )
    return normalization


def _as_maps(maps: np.ndarray) -> np.ndarray:
    arr = as_maps(maps)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    return arr


def default_colormap(normalization: str) -> str:
    """Return the matplotlib colour map that suits a normalisation.

    Parameters
    ----------
    normalization : str
        One of :data:`NORMALIZATIONS`.

    Returns
    -------
    str
        ``"RdBu_r"`` (diverging, white at zero) for ``"signed"``, ``"viridis"`` otherwise.
    """
    return "RdBu_r" if _check_mode(normalization) == "signed" else "viridis"


def _min_max(x: np.ndarray, per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Min and max over the finite values, per channel or over everything (length-1).

    (+inf, -inf) where no value is finite. Call inside ``np.errstate(all="ignore")``.
    """
    axis = (0, 1) if per_channel else None
    lo = np.atleast_1d(x.min(axis=axis)).astype(np.float64)
    hi = np.atleast_1d(x.max(axis=axis)).astype(np.float64)
    if np.isfinite(lo).all() and np.isfinite(hi).all():  # NaN and Inf propagate: all finite
        return lo, hi
    finite = np.isfinite(x)
    lo = np.atleast_1d(np.where(finite, x, np.inf).min(axis=axis)).astype(np.float64)
    hi = np.atleast_1d(np.where(finite, x, -np.inf).max(axis=axis)).astype(np.float64)
    return lo, hi


def _mean_std(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over the finite values (float64).

    Call inside ``np.errstate(all="ignore")``; NaN where a channel has no finite value.
    """
    # one pass around a rough centre (the mean of a subsample): as precise as two passes
    # for display purposes and about twice as fast
    centre = x[::8, ::8].mean(axis=(0, 1), dtype=np.float64)
    d = x - centre.astype(x.dtype)
    dmean = d.mean(axis=(0, 1), dtype=np.float64)
    d *= d
    var = d.mean(axis=(0, 1), dtype=np.float64) - dmean * dmean
    mean, std = centre + dmean, np.sqrt(np.maximum(var, 0.0))
    if np.isfinite(mean).all() and np.isfinite(std).all():
        return mean, std
    finite = np.isfinite(x)  # some value is NaN or Inf (or the sums overflowed)
    count = np.maximum(finite.sum(axis=(0, 1)), 1)
    xz = np.where(finite, x, 0).astype(np.float64)
    mean = xz.sum(axis=(0, 1)) / count
    dev = np.where(finite, xz - mean, 0.0)
    std = np.sqrt((dev * dev).sum(axis=(0, 1)) / count)
    return mean, std


def normalization_stats(
    maps: np.ndarray,
    normalization: str,
    channels: int | Sequence[int] | np.ndarray | None = None,
) -> NormStats:
    """Compute the normalisation statistics of a layer.

    Parameters
    ----------
    maps : numpy.ndarray
        Activations of shape (H, W, C), or (H, W) for a single channel.
    normalization : str
        One of :data:`NORMALIZATIONS`.
    channels : int or sequence of int, optional
        Return statistics for these channels only (in this order). For the per-channel
        modes (``"channel"``, ``"standardize"``) only these channels are read, which is
        cheaper; for the shared modes (``"layer"``, ``"signed"``) the scale is still taken
        over *every* channel of ``maps``, so the selection stays comparable with the layer.

    Returns
    -------
    NormStats
        One affine map per (selected) channel.
    """
    mode = _check_mode(normalization)
    x = _as_maps(maps)
    if channels is not None:
        idx = indices_in(channels, x.shape[2], from_end=True).astype(np.intp)
        if mode not in _SHARED and not np.array_equal(idx, np.arange(x.shape[2])):
            x = x[..., idx]
    else:
        idx = None
    n = x.shape[2]
    with np.errstate(all="ignore"):
        if mode in ("channel", "layer", "signed"):
            lo, hi = _min_max(x, per_channel=mode == "channel")
            if mode == "signed":
                top = max(abs(float(lo[0])), abs(float(hi[0]))) if np.isfinite(lo[0]) else 0.0
                flat = not (np.isfinite(top) and top > 0)
                offset = np.zeros(n)  # a flat signed layer is all zeros (or missing)
                spread = np.full(n, 1.0 if flat else top)
                gain = np.full(n, 0.0 if flat else 0.5)
                base = np.full(n, 0.5)
            else:
                if mode == "layer":
                    lo, hi = np.full(n, lo[0]), np.full(n, hi[0])
                spread = hi - lo
                flat = ~(np.isfinite(spread) & (spread > 0))
                offset = np.where(np.isfinite(lo), lo, 0.0)  # flat: the constant value
                spread = np.where(flat, 1.0, spread)
                gain = np.where(flat, 0.0, 1.0)
                base = np.zeros(n)
        else:  # standardize: (x - mean) / std * 64 + 128, clipped to [0, 255], / 255
            mean, std = _mean_std(x)
            flat = ~(np.isfinite(std) & (std > 0) & np.isfinite(mean))
            offset = np.where(np.isfinite(mean), mean, 0.0)  # flat: the constant value
            spread = np.where(flat, 1.0, std)
            gain = np.where(flat, 0.0, 64.0 / 255.0)
            base = np.where(flat, 0.5, 128.0 / 255.0)
    stats = NormStats(mode, offset.astype(np.float64), spread.astype(np.float64),
                      gain.astype(np.float64), base.astype(np.float64))
    if idx is not None and mode in _SHARED:
        stats = stats.take(idx)
    return stats


def apply_normalization(maps: np.ndarray, stats: NormStats) -> np.ndarray:
    """Apply precomputed statistics to maps of the same channels.

    Parameters
    ----------
    maps : numpy.ndarray
        Shape (H, W, C) with ``C == stats.n_channels``, or (H, W) when the statistics have
        exactly one channel. It may be a downsampled copy of the maps the statistics came
        from (block means stay inside the original range).
    stats : NormStats
        From :func:`normalization_stats`.

    Returns
    -------
    numpy.ndarray
        Float32, same shape as ``maps``, values in [0, 1]; NaN exactly where ``maps`` was
        not finite.
    """
    arr = np.asarray(maps)
    two_d = arr.ndim == 2
    x = _as_maps(arr)
    if x.shape[2] != stats.n_channels:
        raise InvalidSettingError(
            f"The maps have {x.shape[2]} channel(s) but the statistics describe "
            f"{stats.n_channels}."
        )
    finite = np.isfinite(x)
    all_finite = bool(finite.all())
    # float32 is exact enough and twice as fast; fall back to float64 when a scale would
    # overflow or underflow in float32 (values outside the statistics' range just clip)
    big = max(np.abs(stats.offset).max(initial=0.0), stats.spread.max(initial=0.0))
    tiny = stats.spread.min(initial=1.0)
    safe32 = x.dtype.itemsize <= 4 and big < _F32_SAFE and tiny > _F32_TINY
    work = np.float32 if safe32 else np.float64
    with np.errstate(all="ignore"):
        out = x.astype(work, copy=True)
        out -= stats.offset.astype(work)
        out /= stats.spread.astype(work)
        out *= stats.gain.astype(work)
        out += stats.base.astype(work)
        np.clip(out, 0.0, 1.0, out=out)
        if not all_finite:
            out[~finite] = np.nan
    out = out.astype(np.float32, copy=False)
    return out[..., 0] if two_d else out


def normalize(maps: np.ndarray, normalization: str, stats: NormStats | None = None
              ) -> np.ndarray:
    """Normalise activation maps into [0, 1].

    Parameters
    ----------
    maps : numpy.ndarray
        Shape (H, W, C), or (H, W) taken as one channel.
    normalization : str
        One of :data:`NORMALIZATIONS`:

        ``"channel"``
            per-channel min-max: each channel uses its full colour range.
        ``"layer"``
            one min-max over all channels, so channels are comparable.
        ``"standardize"``
            per channel ``(x - mean) / std * 64 + 128``, clipped to [0, 255], then / 255
            (the mean maps to 128/255; a constant channel to exactly 0.5).
        ``"signed"``
            diverging, centred on zero: ``0.5 + x / (2 max|x|)`` over the layer, so 0 maps
            to exactly 0.5.
    stats : NormStats, optional
        Precomputed statistics (for example of the full layer); computed from ``maps``
        when omitted.

    Returns
    -------
    numpy.ndarray
        Float32 with the shape of ``maps``, values in [0, 1]. Non-finite inputs are
        treated as missing: they are ignored by the statistics and give NaN (and only they
        do). A constant channel comes out flat (0, or 0.5 for ``"standardize"`` and
        ``"signed"``) without NaN or warnings.

    Raises
    ------
    InvalidSettingError
        (a ``ValueError``) for an unknown ``normalization``.

    Examples
    --------
    >>> normalize(np.array([[0.0, 5.0, 10.0]]), "channel")
    array([[0. , 0.5, 1. ]], dtype=float32)
    """
    _check_mode(normalization)
    if stats is None:
        stats = normalization_stats(maps, normalization)
    return apply_normalization(maps, stats)
