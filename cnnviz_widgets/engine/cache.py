"""A byte-bounded least-recently-used cache of numpy arrays, with counters."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

__all__ = ["ActivationCache", "CacheStats"]


@dataclass
class CacheStats:
    """Counters of what an :class:`~cnnviz_widgets.ActivationEngine` did.

    Attributes
    ----------
    layer_evaluations : int
        How many times a layer was run on an input.
    cache_hits : int
        Requests answered from the cache without running any layer.
    cache_misses : int
        Requests that had to run at least one layer.
    preparations : int
        Images decoded, resized and preprocessed (memoised preparations do not count).
    cache_bytes : int
        Bytes currently held by the cache.
    evictions : int
        Entries dropped to stay within the byte budget.
    """

    layer_evaluations: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    preparations: int = 0
    cache_bytes: int = 0
    evictions: int = 0

    def copy(self) -> CacheStats:
        """Return a snapshot of the counters."""
        return CacheStats(**vars(self))


class ActivationCache:
    """LRU mapping from hashable keys to read-only numpy arrays under a byte budget.

    An array larger than the whole budget is not stored. Stored arrays are
    marked read-only so callers cannot corrupt the cache through a view. An entry may
    carry a small object kept and dropped with it (``source``): the backend tensor the
    array is a view of, so that computing on from it needs no conversion (it shares the
    array's memory), or the cache key of a prepared input.
    """

    def __init__(self, max_bytes: int, stats: CacheStats):
        if max_bytes < 0:
            raise ValueError("cache_bytes must be zero or positive")
        self.max_bytes = int(max_bytes)
        self._stats = stats
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._sources: dict[Hashable, object] = {}

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """Bytes currently held."""
        return self._stats.cache_bytes

    def get(self, key: Hashable) -> np.ndarray | None:
        """Return the array for ``key`` (marking it recently used), or None."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def source(self, key: Hashable) -> object | None:
        """The object stored with ``key``'s array (e.g. its backend tensor), if any."""
        return self._sources.get(key)

    def put(self, key: Hashable, value: np.ndarray, source: object | None = None) -> bool:
        """Store ``value`` under ``key``; return False if it is larger than the budget."""
        size = int(value.nbytes)
        if size > self.max_bytes:
            return False
        old = self._items.pop(key, None)
        if old is not None:
            self._stats.cache_bytes -= int(old.nbytes)
        while self._items and self._stats.cache_bytes + size > self.max_bytes:
            dropped_key, dropped = self._items.popitem(last=False)
            self._sources.pop(dropped_key, None)
            self._stats.cache_bytes -= int(dropped.nbytes)
            self._stats.evictions += 1
        value.flags.writeable = False
        self._items[key] = value
        if source is not None:
            self._sources[key] = source
        else:
            self._sources.pop(key, None)
        self._stats.cache_bytes += size
        return True

    def clear(self) -> None:
        """Drop every entry."""
        self._items.clear()
        self._sources.clear()
        self._stats.cache_bytes = 0
