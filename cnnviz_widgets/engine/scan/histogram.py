"""A mergeable histogram per channel: exact counts on bins whose width doubles as needed.

Each half (values >= 0, and the magnitudes of values < 0) covers [0, 2**exponent) with
:data:`HISTOGRAM_BINS` bins; a larger value merges neighbouring bins pairwise until it fits,
so two histograms of parts of a set merge exactly into the histogram of the whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["HISTOGRAM_BINS", "HalfHistogram"]

#: Bins of each half (negative, positive) of the histogram of per-image maxima.
HISTOGRAM_BINS = 64


def _scale_exponent(value: float) -> int:
    """Smallest e with value <= 2**e (the histogram's range is [0, 2**e))."""
    if value <= 0 or not math.isfinite(value):
        return -126
    mantissa, exponent = math.frexp(value)  # value = m * 2**e, 0.5 <= m < 1
    return exponent


def _coarsen(counts: np.ndarray, times: int) -> np.ndarray:
    """Merge neighbouring bins pairwise ``times`` times, keeping the bin count: (C, B)."""
    if not counts.any():
        return counts
    for _ in range(min(times, HISTOGRAM_BINS.bit_length())):
        half = counts.reshape(counts.shape[0], -1, 2).sum(axis=2)
        counts = np.concatenate([half, np.zeros_like(half)], axis=1)
    return counts


@dataclass
class HalfHistogram:
    """Histogram of |x| over [0, 2**exponent) with HISTOGRAM_BINS bins, per channel."""

    counts: np.ndarray  # (C, HISTOGRAM_BINS) int64
    exponent: int

    @classmethod
    def empty(cls, channels: int) -> HalfHistogram:
        return cls(np.zeros((channels, HISTOGRAM_BINS), dtype=np.int64), -126)

    def add(self, values: np.ndarray, mask: np.ndarray) -> None:
        """Count ``values`` (B, C), non-negative magnitudes, where ``mask`` is True."""
        if not mask.any():
            return
        top = float(values[mask].max())
        exponent = max(self.exponent, _scale_exponent(top))
        while top >= 2.0 ** exponent:
            exponent += 1
        self.counts = _coarsen(self.counts, exponent - self.exponent)
        self.exponent = exponent
        width = 2.0 ** exponent / HISTOGRAM_BINS
        bins = np.minimum((values / width).astype(np.int64), HISTOGRAM_BINS - 1)
        flat = (np.arange(values.shape[1]) * HISTOGRAM_BINS + bins)[mask]
        self.counts += np.bincount(flat, minlength=self.counts.size).reshape(self.counts.shape)

    def merged(self, other: HalfHistogram) -> HalfHistogram:
        exponent = max(self.exponent, other.exponent)
        counts = (_coarsen(self.counts, exponent - self.exponent)
                  + _coarsen(other.counts, exponent - other.exponent))
        return HalfHistogram(counts, exponent)
