"""The result of a scan: one :class:`~.summary.ChannelStats` per layer, mergeable and saved.

A :class:`ScanResult` holds one summary per layer, the items that could not be read, the
spans of image indices scanned and whether the scan was interrupted; two results of
disjoint parts of a set merge into the result of the whole, and a result saves to one
``.npz`` file without pickled objects.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ...errors import LayerNotFoundError, ScanError
from .summary import ChannelStats

__all__ = ["ScanResult"]

_FORMAT = "cnnviz-scan"
_VERSION = 1


def _merge_spans(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for lo, hi in sorted((int(a), int(b)) for a, b in spans if b > a):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(a, b) for a, b in out]


def _overlap(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo < hi:
                return lo, hi
    return None


class ScanResult(Mapping[str, ChannelStats]):
    """The statistics of a scan: ``result[layer]`` is that layer's :class:`ChannelStats`.

    Attributes
    ----------
    skipped : list of (index or path, reason)
        Items that could not be read or prepared, with the reason in words.
    partial : bool
        True when the scan was interrupted before the end of the set.
    spans : list of (start, stop)
        The ranges of image indices the scan went through (skipped items included).
    class_names : list of str or None
        Names of the label classes, when the set had them.
    source : ImageSource or None
        The set that was scanned, to show its top images (None after :meth:`load`; give
        the images again with :meth:`attach`).
    """

    def __init__(self, stats: Mapping[str, ChannelStats], skipped: Sequence[tuple[Any, str]] = (),
                 partial: bool = False, spans: Sequence[tuple[int, int]] = (),
                 class_names: Sequence[str] | None = None, source: Any = None):
        self._stats = dict(stats)
        self.skipped = list(skipped)
        self.partial = bool(partial)
        self.spans = _merge_spans(spans)
        self.class_names = list(class_names) if class_names is not None else None
        self.source = source
        for stats in self._stats.values():
            stats.class_names = self.class_names

    # -- mapping ---------------------------------------------------------------------
    def __getitem__(self, layer: str) -> ChannelStats:
        try:
            return self._stats[layer]
        except KeyError:
            raise LayerNotFoundError(layer, self._stats) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._stats)

    def __len__(self) -> int:
        return len(self._stats)

    def __repr__(self) -> str:
        state = ", partial" if self.partial else ""
        return (f"ScanResult({self.count:,} images, layers={list(self._stats)}, "
                f"{len(self.skipped)} skipped{state})")

    @property
    def layers(self) -> list[str]:
        """The scanned layers, in the order they were asked for."""
        return list(self._stats)

    @property
    def count(self) -> int:
        """Number of images scanned (skipped items not included)."""
        return next(iter(self._stats.values())).count if self._stats else 0

    def label_name(self, label: int) -> str | None:
        """The class name of a label, or None when unknown."""
        if label < 0:
            return None
        if self.class_names is not None and label < len(self.class_names):
            return self.class_names[label]
        return str(label)

    def attach(self, images: Any, input_shape: tuple[int | None, ...] = (None, None, None)
               ) -> ScanResult:
        """Give the scanned set again (after :meth:`load`) so its top images can be shown."""
        from .sources import image_source

        self.source = image_source(images, input_shape)
        return self

    # -- combining -------------------------------------------------------------------
    def merge(self, other: ScanResult) -> ScanResult:
        """Return the result of both scans, as if their images had been scanned together.

        Merging is associative and commutative. The two scans must cover different images
        (scan the second part with ``first_index=`` set to where it starts in the whole).

        Raises
        ------
        ScanError
            If the scans share image indices or layers of different shapes.
        """
        clash = _overlap(self.spans, other.spans)
        if clash is not None:
            raise ScanError(
                f"Both scans went through the images {clash[0]} to {clash[1] - 1}, so merging "
                "them would count those images twice. Scan the parts of a set with "
                "first_index= set to where each part starts."
            )
        layers = [name for name in self._stats if name in other._stats]
        if not layers:
            raise ScanError("The two scans have no layer in common; scan the same layers.")
        stats = {name: self._stats[name].merge(other._stats[name]) for name in layers}
        skipped = sorted([*self.skipped, *other.skipped], key=lambda s: str(s[0]))
        return ScanResult(stats, skipped, self.partial or other.partial,
                          [*self.spans, *other.spans],
                          self.class_names or other.class_names,
                          self.source if self.source is not None else other.source)

    # -- storage ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the result to one ``.npz`` file (numbers and JSON only, no pickles)."""
        arrays: dict[str, np.ndarray] = {}
        layers = []
        for i, stats in enumerate(self._stats.values()):
            layers.append(stats._meta())
            for key, value in stats._arrays().items():
                arrays[f"layer{i}_{key}"] = np.asarray(value)
        meta = {
            "format": _FORMAT, "version": _VERSION, "layers": layers,
            "skipped": [[s[0], s[1]] for s in self.skipped], "partial": self.partial,
            "spans": [list(s) for s in self.spans], "class_names": self.class_names,
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ScanResult:
        """Read a result written by :meth:`save`.

        Raises
        ------
        ScanError
            If the file is not a saved scan.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                if meta.get("format") != _FORMAT:
                    raise ScanError(f"{os.fspath(path)!r} is not a saved scan.")
                stats = {}
                for i, layer_meta in enumerate(meta["layers"]):
                    prefix = f"layer{i}_"
                    arrays = {key[len(prefix):]: data[key] for key in data.files
                              if key.startswith(prefix)}
                    stats[layer_meta["layer"]] = ChannelStats._from_storage(layer_meta, arrays)
        except ScanError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise ScanError(f"Could not read a saved scan from {os.fspath(path)!r} ({exc}). "
                            "Save it again with result.save(path).") from exc
        return cls(stats, [tuple(s) for s in meta["skipped"]], meta["partial"],
                   [tuple(s) for s in meta["spans"]], meta["class_names"])
