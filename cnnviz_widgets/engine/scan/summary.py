"""Per-channel statistics of a layer over a data set, kept as mergeable summaries.

A scan reduces each batch of activations to a few numbers per image and channel (the
maximum, where it is, the sum, how many positions are above 0) and folds them into a
:class:`ChannelStats`: counts, sums and maxima add up, the top-k list keeps the k best
images, and the histogram of per-image maxima keeps exact counts on bins whose width
doubles when a larger value arrives. Every part merges exactly, so two halves of a set
scanned apart and merged give the same summary as the whole set scanned at once, in any
order of merging; with labels, so do the class means (:mod:`.classes`). A
:class:`ScanResult` holds one summary per layer, the items that could not be read, and
whether the scan was interrupted (:mod:`.result`); it saves to one ``.npz`` file without
pickled objects. The histogram's bins are :mod:`.histogram`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import ScanError
from .classes import ClassTotals, class_label, class_selectivity
from .histogram import HISTOGRAM_BINS, HalfHistogram

__all__ = ["HISTOGRAM_BINS", "BatchSummary", "ChannelStats"]


@dataclass
class BatchSummary:
    """What one batch of a layer's activations reduces to, per image and channel.

    Attributes
    ----------
    maxima : numpy.ndarray
        (B, C) the largest value of each channel in each image.
    sums : numpy.ndarray
        (B, C) sum of each channel over the positions of each image.
    positives : numpy.ndarray
        (B, C) number of positions above 0.
    maps : numpy.ndarray
        (B, P, C) the maps with their positions flattened row-major; only the positions
        of the maxima that enter a top-k list are looked up in it.
    width : int
        Columns of the map (to turn a flat position into row and column).
    plane : int
        For a volume (D, H, W, C), the positions of one slice (H * W, to turn a flat
        position into slice, row and column); 0 for a map of rows and columns.
    """

    maxima: np.ndarray
    sums: np.ndarray
    positives: np.ndarray
    maps: np.ndarray | list[np.ndarray]
    width: int
    plane: int = 0

    @property
    def positions(self) -> int:
        """Positions in one image's map (1 for a vector)."""
        first = self.maps[0] if isinstance(self.maps, list) else self.maps
        return int(first.shape[1])

    @classmethod
    def join(cls, parts: Sequence[BatchSummary]) -> BatchSummary:
        """Several batches of one layer as one (their maps stay separate arrays)."""
        maps: list[np.ndarray] = []
        for part in parts:
            maps.extend(part.maps if isinstance(part.maps, list) else [part.maps])
        return cls(np.concatenate([p.maxima for p in parts]),
                   np.concatenate([p.sums for p in parts]),
                   np.concatenate([p.positives for p in parts]), maps, parts[0].width,
                   parts[0].plane)

    def where(self, images: np.ndarray, channels: np.ndarray) -> np.ndarray:
        """(n, 2) row and column of the maximum of each (image, channel) pair; (n, 3) slice,
        row and column for a volume.

        The first position holding the maximum, row-major, as ``numpy.argmax`` finds it.
        """
        flat = np.zeros(len(images), dtype=np.int64)
        chunks = self.maps if isinstance(self.maps, list) else [self.maps]
        start = 0
        for chunk in chunks:
            inside = (images >= start) & (images < start + len(chunk))
            if inside.any():
                flat[inside] = chunk[images[inside] - start, :, channels[inside]].argmax(axis=1)
            start += len(chunk)
        width = max(int(self.width), 1)
        if self.plane:
            depth, rest = np.divmod(flat, int(self.plane))
            return np.stack([depth, *np.divmod(rest, width)], axis=-1).astype(np.int64)
        return np.stack(np.divmod(flat, width), axis=-1).astype(np.int64)


@dataclass
class ChannelStats:
    """Statistics of every channel of one layer over the images of a scan.

    Attributes
    ----------
    layer : str
        The layer's name.
    map_shape : tuple of int
        (rows, cols) of the layer's map; (T, 1) for a sequence (T, C) or tokens (T, D)
        (positions along T are rows, as in the layer's array), (1, 1) for a vector,
        (depth, rows, cols) for a volume (D, H, W, C).
    count : int
        Number of images scanned.
    max : numpy.ndarray
        (C,) the largest value of each channel over all images and positions.
    top_indices : numpy.ndarray
        (C, k) indices of distinct images, ordered by that image's maximum of the channel,
        descending (ties: the smaller index first). Fewer than k real entries are padded
        with -1.
    top_values : numpy.ndarray
        (C, k) those maxima (-inf for padding).
    top_positions : numpy.ndarray
        (C, k, 2) row and column of each maximum in the map; (C, k, 3) slice, row and
        column for a volume.
    top_labels : numpy.ndarray
        (C, k) the label of each top image, -1 when unknown.
    firing : numpy.ndarray
        (C,) number of images whose maximum of the channel is above ``threshold``.
    threshold : float
        The level ``firing`` counts from (0 unless the scan was given another).
    class_names : list of str or None
        Names of the label classes (set by the :class:`ScanResult`).
    """

    layer: str
    map_shape: tuple[int, ...]
    count: int
    max: np.ndarray
    top_indices: np.ndarray
    top_values: np.ndarray
    top_positions: np.ndarray
    top_labels: np.ndarray
    sum: np.ndarray = field(repr=False)
    positive_count: np.ndarray = field(repr=False)
    positions_seen: int = field(repr=False, default=0)
    firing: np.ndarray | None = field(repr=False, default=None)
    threshold: float = 0.0
    _positive_hist: HalfHistogram | None = field(repr=False, default=None)
    _negative_hist: HalfHistogram | None = field(repr=False, default=None)
    _classes: ClassTotals | None = field(repr=False, default=None)
    class_names: list[str] | None = field(repr=False, default=None)

    # -- derived values ----------------------------------------------------------------
    @property
    def channels(self) -> int:
        """Number of channels."""
        return int(self.max.shape[0])

    @property
    def top_k(self) -> int:
        """How many top images are kept per channel."""
        return int(self.top_indices.shape[1])

    @property
    def mean(self) -> np.ndarray:
        """(C,) mean of each channel over all images and positions (NaN before any image)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sum / self.positions_seen if self.positions_seen else \
                np.full(self.channels, np.nan)

    @property
    def positive_fraction(self) -> np.ndarray:
        """(C,) fraction of all positions of all images where the channel is above 0."""
        if not self.positions_seen:
            return np.zeros(self.channels)
        return self.positive_count / self.positions_seen

    @property
    def firing_fraction(self) -> np.ndarray:
        """(C,) fraction of images whose maximum of the channel is above ``threshold``."""
        return self.firing / self.count if self.count else np.zeros(self.channels)

    @property
    def dead(self) -> np.ndarray:
        """Indices of channels whose maximum over the whole set is <= 0 (never fire)."""
        if self.count == 0:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(~(self.max > 0)).astype(np.int64)

    @property
    def class_means(self) -> np.ndarray | None:
        """(C, K) mean over the images of class k of the channel's spatial mean (NaN for a
        class with no image; None for a scan without labels)."""
        return None if self._classes is None else self._classes.widened(
            len(self.class_names or ())).means

    @property
    def class_selectivity(self) -> np.ndarray | None:
        """(C,) ``(mu_max - mu_rest) / (mu_max + mu_rest)`` over the class means (Morcos et
        al., 2018), ``mu_rest`` the mean of the other classes' means; 0 where both are 0.
        None without labels."""
        means = self.class_means
        return None if means is None else class_selectivity(means)

    def label(self, channel: int) -> str | None:
        """A short text such as ``"Sneaker, selectivity 0.71"`` (None without labels)."""
        means = self.class_means
        return None if means is None else class_label(
            means[channel], float(class_selectivity(means[channel:channel + 1])[0]),
            self.class_names)

    def histogram(self, channel: int) -> tuple[np.ndarray, np.ndarray]:
        """Counts and bin edges of one channel's per-image maximum over the set.

        The bins cover the values seen, from the lowest to the highest bin that holds a
        count; their width is a power of two (from the merging scheme) on each side of 0.

        Returns
        -------
        counts : numpy.ndarray
            int64 counts, one per bin.
        edges : numpy.ndarray
            float64 bin edges, one more than the counts.
        """
        pos, neg = self._positive_hist, self._negative_hist
        if pos is None or neg is None or self.count == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(1)
        pos_w = 2.0 ** pos.exponent / HISTOGRAM_BINS
        neg_w = 2.0 ** neg.exponent / HISTOGRAM_BINS
        counts = np.concatenate([neg.counts[channel][::-1], pos.counts[channel]])
        edges = np.concatenate([-neg_w * np.arange(HISTOGRAM_BINS, 0, -1),
                                pos_w * np.arange(HISTOGRAM_BINS + 1)])
        nonzero = np.flatnonzero(counts)
        if len(nonzero) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(1)
        lo, hi = nonzero[0], nonzero[-1] + 1
        return counts[lo:hi], edges[lo:hi + 1]

    # -- building --------------------------------------------------------------------
    @classmethod
    def empty(cls, layer: str, channels: int, map_shape: tuple[int, ...],
              top_k: int, threshold: float = 0.0) -> ChannelStats:
        """Statistics of no image yet."""
        return cls(
            layer=layer, map_shape=tuple(int(s) for s in map_shape), count=0,
            max=np.full(channels, -np.inf),
            top_indices=np.full((channels, top_k), -1, dtype=np.int64),
            top_values=np.full((channels, top_k), -np.inf),
            top_positions=np.zeros((channels, top_k, len(map_shape)), dtype=np.int64),
            top_labels=np.full((channels, top_k), -1, dtype=np.int64),
            sum=np.zeros(channels), positive_count=np.zeros(channels, dtype=np.int64),
            positions_seen=0, firing=np.zeros(channels, dtype=np.int64),
            threshold=float(threshold), _positive_hist=HalfHistogram.empty(channels),
            _negative_hist=HalfHistogram.empty(channels),
        )

    def add(self, batch: BatchSummary, indices: np.ndarray,
            labels: np.ndarray | None = None) -> None:
        """Fold one batch (images ``indices`` of the set) into the statistics."""
        n = len(indices)
        if n == 0:
            return
        maxima = np.asarray(batch.maxima, dtype=np.float64)
        self.count += n
        self.max = np.fmax(self.max, maxima.max(axis=0))
        self.sum = self.sum + np.asarray(batch.sums, dtype=np.float64).sum(axis=0)
        self.positive_count = self.positive_count + np.asarray(
            batch.positives, dtype=np.int64).sum(axis=0)
        self.positions_seen += n * batch.positions
        self.firing = self.firing + (maxima > self.threshold).sum(axis=0)
        label_rows = (np.full(n, -1, dtype=np.int64) if labels is None
                      else np.asarray(labels, dtype=np.int64))
        indices = np.asarray(indices, dtype=np.int64)
        values = np.ascontiguousarray(maxima.T)  # (C, B)
        keyed = np.where(np.isnan(values), -np.inf, values)
        if int(indices.min()) > int(self.top_indices.max()):
            # images come after every listed one, so a tie with the k-th loses: only a
            # value above the k-th can enter (the common case, once the lists are full)
            kth = np.where(np.isnan(self.top_values[:, -1]), -np.inf, self.top_values[:, -1])
            enters = (keyed > kth[:, None]) | (self.top_indices[:, -1:] < 0)
        else:
            enters = np.ones_like(values, dtype=bool)
        candidates = np.flatnonzero(enters.any(axis=1))
        if len(candidates):
            chans, images = np.nonzero(enters[candidates])
            positions = np.zeros((len(candidates), n, self.top_positions.shape[-1]),
                                 dtype=np.int64)
            positions[chans, images] = batch.where(images, candidates[chans])
            self._select_top(
                np.where(enters[candidates], values[candidates], -np.inf),
                np.where(enters[candidates], indices, -1),
                positions,
                np.broadcast_to(label_rows, (len(candidates), n)),
                candidates,
            )
        if labels is not None:
            if self._classes is None:
                self._classes = ClassTotals.empty(self.channels)
            self._classes.add(np.asarray(batch.sums, dtype=np.float64) / batch.positions,
                              label_rows)
        finite = np.isfinite(maxima)
        self._positive_hist.add(np.where(maxima >= 0, maxima, 0), finite & (maxima >= 0))
        self._negative_hist.add(np.where(maxima < 0, -maxima, 0), finite & (maxima < 0))

    def _select_top(self, values: np.ndarray, indices: np.ndarray, positions: np.ndarray,
                    labels: np.ndarray, rows: Any = slice(None)) -> None:
        """Keep the k best of the current top lists and new candidates, per channel.

        ``rows`` selects the channels the candidates are for (all by default).
        """
        k = self.top_k
        all_values = np.concatenate([self.top_values[rows], values], axis=1)
        all_indices = np.concatenate([self.top_indices[rows], indices], axis=1)
        all_positions = np.concatenate([self.top_positions[rows], positions], axis=1)
        all_labels = np.concatenate([self.top_labels[rows], labels], axis=1)
        keyed = np.where(np.isnan(all_values), -np.inf, all_values)
        missing = all_indices < 0
        # sort by value descending, then index ascending; padding entries go last
        order = np.lexsort((np.where(missing, np.iinfo(np.int64).max, all_indices),
                            -keyed, missing), axis=-1)[:, :k]
        self.top_values[rows] = np.take_along_axis(all_values, order, axis=1)
        self.top_indices[rows] = np.take_along_axis(all_indices, order, axis=1)
        self.top_labels[rows] = np.take_along_axis(all_labels, order, axis=1)
        self.top_positions[rows] = np.take_along_axis(all_positions, order[..., None], axis=1)

    def merge(self, other: ChannelStats) -> ChannelStats:
        """Return the statistics of both sets of images (they must be disjoint)."""
        if other.layer != self.layer or other.channels != self.channels:
            raise ScanError(f"Cannot merge statistics of {self.layer!r} ({self.channels} "
                            f"channels) with {other.layer!r} ({other.channels} channels).")
        if other.threshold != self.threshold:
            raise ScanError(f"Cannot merge counts above {self.threshold} with counts above "
                            f"{other.threshold}; scan both with the same threshold.")
        k = max(self.top_k, other.top_k)
        merged = ChannelStats.empty(self.layer, self.channels, self.map_shape, k,
                                    self.threshold)
        merged.firing = self.firing + other.firing
        merged.count = self.count + other.count
        merged.max = np.fmax(self.max, other.max)
        merged.sum = self.sum + other.sum
        merged.positive_count = self.positive_count + other.positive_count
        merged.positions_seen = self.positions_seen + other.positions_seen
        for part in (self, other):
            merged._select_top(part.top_values, part.top_indices, part.top_positions,
                               part.top_labels)
        merged._positive_hist = self._positive_hist.merged(other._positive_hist)
        merged._negative_hist = self._negative_hist.merged(other._negative_hist)
        classes = [part._classes for part in (self, other) if part._classes is not None]
        merged._classes = (classes[0].merged(classes[1]) if len(classes) == 2
                           else classes[0] if classes else None)
        merged.class_names = self.class_names or other.class_names
        return merged

    # -- storage ---------------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "max": self.max, "top_indices": self.top_indices, "top_values": self.top_values,
            "top_positions": self.top_positions, "top_labels": self.top_labels,
            "sum": self.sum, "positive_count": self.positive_count, "firing": self.firing,
            "hist_pos": self._positive_hist.counts, "hist_neg": self._negative_hist.counts,
            **({} if self._classes is None else {"class_sums": self._classes.sums,
                                                 "class_counts": self._classes.counts}),
        }

    def _meta(self) -> dict[str, Any]:
        return {"layer": self.layer, "map_shape": list(self.map_shape), "count": self.count,
                "positions_seen": self.positions_seen, "threshold": self.threshold,
                "hist_pos_exponent": self._positive_hist.exponent,
                "hist_neg_exponent": self._negative_hist.exponent}

    @classmethod
    def _from_storage(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> ChannelStats:
        return cls(
            layer=meta["layer"], map_shape=tuple(meta["map_shape"]), count=int(meta["count"]),
            max=arrays["max"], top_indices=arrays["top_indices"],
            top_values=arrays["top_values"], top_positions=arrays["top_positions"],
            top_labels=arrays["top_labels"], sum=arrays["sum"],
            positive_count=arrays["positive_count"],
            positions_seen=int(meta["positions_seen"]), firing=arrays["firing"],
            threshold=float(meta["threshold"]),
            _positive_hist=HalfHistogram(arrays["hist_pos"], int(meta["hist_pos_exponent"])),
            _negative_hist=HalfHistogram(arrays["hist_neg"], int(meta["hist_neg_exponent"])),
            _classes=(ClassTotals(arrays["class_sums"], arrays["class_counts"])
                      if "class_sums" in arrays else None),
        )
