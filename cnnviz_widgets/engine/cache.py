"""A byte-bounded least-recently-used cache of numpy arrays, with counters, and the keys.

The cache holds activations keyed by ``(image key, tensor key)`` and prepared inputs keyed
by the image's own content (:func:`content_key`); an image key is the fingerprint of the
prepared batch (:func:`fingerprint`), remembered for frozen arrays (:func:`array_key`).
"""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checks import whole_number

__all__ = ["ActivationCache", "CacheStats", "array_key", "content_key", "fingerprint"]


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
        self.max_bytes = whole_number(max_bytes, "cache_bytes", minimum=0)
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

    def discard(self, keep: Callable[[Hashable], bool]) -> int:
        """Drop every entry whose key ``keep(key)`` rejects; return how many were dropped."""
        dropped = [key for key in self._items if not keep(key)]
        for key in dropped:
            self._stats.cache_bytes -= int(self._items.pop(key).nbytes)
            self._sources.pop(key, None)
        return len(dropped)

    def clear(self) -> None:
        """Drop every entry."""
        self._items.clear()
        self._sources.clear()
        self._stats.cache_bytes = 0


def fingerprint(x: np.ndarray) -> str:
    """Digest of an array's shape, dtype and values (SHA-256: fast where the CPU has it)."""
    digest = hashlib.sha256(str((x.shape, x.dtype.str)).encode())
    digest.update(np.ascontiguousarray(x).data)
    return digest.hexdigest()


#: Fingerprints of frozen arrays by id, checked by a weak reference (bounded).
_FROZEN_KEYS: dict[int, tuple[weakref.ref, str]] = {}
_FROZEN_MAX = 4096


def _is_frozen(x: np.ndarray) -> bool:
    """True when ``x`` and every array it is a view of are read-only (or it views bytes).

    Such an array cannot change through any array numpy hands out; a read-only view of a
    writeable array can, so it is not frozen.
    """
    a: Any = x
    while isinstance(a, np.ndarray):
        if a.flags.writeable:
            return False
        a = a.base
    return a is None or isinstance(a, bytes)


def array_key(x: np.ndarray) -> str:
    """The fingerprint of an array, remembered for frozen arrays (an image list's own
    read-only copies), so asking again for a cached activation does not hash the image."""
    if not _is_frozen(x):
        return fingerprint(x)
    hit = _FROZEN_KEYS.get(id(x))
    if hit is not None and hit[0]() is x:
        return hit[1]
    key = fingerprint(x)
    if len(_FROZEN_KEYS) >= _FROZEN_MAX:
        _FROZEN_KEYS.clear()
    _FROZEN_KEYS[id(x)] = (weakref.ref(x), key)
    return key


def content_key(image: Any) -> tuple[str, str] | None:
    """Key of an image by its own content, for arrays of numbers and encoded bytes.

    Other kinds (paths, PIL images, tensors) return None: a file or an image object can
    change behind the same name, so only their prepared values can be fingerprinted.
    """
    if isinstance(image, np.ndarray):
        if image.dtype.kind not in "biuf":
            return None
        return ("prepared", "array:" + array_key(image))
    if isinstance(image, (bytes, bytearray)):
        return ("prepared", "bytes:" + hashlib.sha256(image).hexdigest())
    return None

