"""A scan in this process: batches prepared ahead, run, and folded into the statistics.

:func:`scan_source` reads an :class:`~.sources.ImageSource` in batches, prepares them like
single images (one bad item is skipped and listed, never stopping the scan), runs each
batch through the kernel's compiled function (:func:`~.kernel.batch_reducer`) and folds
the numbers into mergeable summaries (:mod:`.summary`). Memory stays flat whatever the
size of the set: one batch is prepared while the previous one runs, the folding of
finished batches goes on beside the next, and nothing else is kept.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._keras import keras
from ...errors import CnnvizError
from ...progress import ProgressLike, reporting
from ..inputs import stack_pixels
from ..volumes import volume_stack
from .kernel import batch_reducer, map_layout, map_shape
from .result import ScanResult
from .sources import Batch, ImageSource
from .summary import BatchSummary, ChannelStats

__all__ = ["prefetched", "prepare_batch", "reason", "scan_source"]


@dataclass
class _Prepared:
    """A batch ready for the model: images grouped by prepared shape, and the skipped."""

    groups: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]  # (indices, x, labels)
    skipped: list[tuple[Any, str]]
    indices: np.ndarray


def reason(exc: Exception) -> str:
    if isinstance(exc, CnnvizError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def prepare_batch(engine: Any, source: ImageSource, batch: Batch) -> _Prepared:
    """Decode and prepare every item; an item that fails is listed with its reason."""
    shape = engine.input_shape
    stacked = (volume_stack if getattr(shape, "axes", "") == "volume" else stack_pixels)(
        batch.items, shape)
    if stacked is not None:  # a stack that fits the model: the same pixels, at once
        x = np.asarray(engine.preprocess(stacked), dtype=np.float32)
        if np.isfinite(x).all():
            return _Prepared([(batch.indices, keras.ops.convert_to_tensor(x), batch.labels)],
                             [], batch.indices)
    pixels: list[np.ndarray] = []
    kept: list[int] = []
    skipped: list[tuple[Any, str]] = []
    for j, (index, item) in enumerate(zip(batch.indices.tolist(), batch.items, strict=True)):
        try:
            pixels.append(engine.pixels(item))
            kept.append(j)
        except Exception as exc:  # noqa: BLE001 - one bad item never stops a scan
            skipped.append((source.name_of(index), reason(exc)))
    groups: dict[tuple[int, ...], list[int]] = {}
    for position, p in enumerate(pixels):
        groups.setdefault(p.shape, []).append(position)
    out = []
    for members in groups.values():
        x = np.asarray(engine.preprocess(np.stack([pixels[m] for m in members])),
                       dtype=np.float32)
        finite = np.isfinite(x.reshape(len(members), -1)).all(axis=1)
        rows = [kept[m] for m in members]
        for m, ok in zip(rows, finite, strict=True):
            if not ok:
                skipped.append((source.name_of(int(batch.indices[m])),
                                "Preprocessing produced NaN or infinite values."))
        rows_ok = [r for r, ok in zip(rows, finite, strict=True) if ok]
        if not rows_ok:
            continue
        labels = None if batch.labels is None else batch.labels[rows_ok]
        # the backend's copy of the batch is made here, in the preparing thread
        out.append((batch.indices[rows_ok], keras.ops.convert_to_tensor(x[finite]), labels))
    return _Prepared(out, skipped, batch.indices)


def prefetched(engine: Any, source: ImageSource, batches: Iterator[Batch]
                ) -> Iterator[_Prepared]:
    """Prepare the next batch in a thread while the current one runs (two at most)."""
    results: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for batch in batches:
                prepared = prepare_batch(engine, source, batch)
                while not stop.is_set():
                    try:
                        results.put(prepared, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            results.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            results.put(exc)

    thread = threading.Thread(target=work, name="cnnviz-scan-prepare", daemon=True)
    thread.start()
    try:
        while True:
            item = results.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                results.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


class _Folder:
    """Folds batch results into the statistics in a thread, while the next batch runs.

    The model's pass runs in the calling thread (an interrupt lands there); the folding
    of finished batches goes on beside it and is always completed, so the statistics are
    whole batches even after an interrupt. Batches that wait are folded together; how
    many may wait depends on the size of their maps (at most ``MAX_WAITING_BYTES``).
    """

    #: Bytes of maps that may wait to be folded (and how many batches: at most 8).
    MAX_WAITING_BYTES = 128 * 2**20

    def __init__(self, fold: Callable[..., None]):
        self.fold = fold
        self.queue: queue.Queue = queue.Queue()
        self.slots: threading.Semaphore | None = None
        self.most = 1
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="cnnviz-scan-fold", daemon=True)

    def _work(self) -> None:
        while True:
            items = [self.queue.get()]
            while items[-1] is not None and len(items) < self.most:
                try:  # whatever else is waiting is folded together (fewer, larger folds)
                    items.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            done = items[-1] is None
            items = [item for item in items if item is not None]
            if items and self.error is None:
                try:
                    self.fold(items)
                except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                    self.error = exc
            for _ in items:
                self.slots.release()
            if done:
                return

    def submit(self, outputs: Any, indices: Any, labels: Any, last: int) -> None:
        if self.error is not None:
            raise self.error
        if self.slots is None:  # sized by the first batch's maps
            size = sum(int(np.prod(out[3].shape)) * 4 for out in outputs or [])
            self.most = int(np.clip(self.MAX_WAITING_BYTES // max(size, 1), 1, 8))
            self.slots = threading.Semaphore(self.most)
        self.slots.acquire()
        self.queue.put((outputs, indices, labels, last))

    def __enter__(self) -> _Folder:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and exc[0] is None:
            raise self.error


def scan_source(engine: Any, source: ImageSource, layers: Sequence[str], *, top_k: int = 9,
                batch_size: int = 64, progress: ProgressLike = None, threshold: float = 0.0,
                reducer: Callable[[np.ndarray], list[Any]] | None = None) -> ScanResult:
    """Scan an :class:`ImageSource` in this process; the batch function of :func:`scan`.

    An interrupt (``KeyboardInterrupt``: Ctrl-C, or a notebook's stop button) ends the scan
    and returns what was scanned so far with ``partial=True``.
    """
    layers = list(layers)
    reducer = reducer if reducer is not None else batch_reducer(engine, layers)
    stats = {}
    for name in layers:
        info = engine.layer(name)
        layout = map_layout(info)
        stats[name] = ChannelStats.empty(name, int(info.channels or 1),
                                         map_shape(info.output_shape, layout), top_k,
                                         threshold)
    skipped: list[tuple[Any, str]] = []
    first = source.offset
    folded = {"last": first}
    partial = False
    total = source.total or 0

    def fold(items: list[tuple[Any, np.ndarray, Any, int]]) -> None:
        """Fold finished batches ``(outputs, indices, labels, last)`` into the statistics."""
        ran = [item for item in items if item[0] is not None]
        if ran:
            indices = np.concatenate([item[1] for item in ran])
            labelled = all(item[2] is not None for item in ran)
            labels = np.concatenate([item[2] for item in ran]) if labelled else None
            for j, name in enumerate(layers):
                parts = [BatchSummary(np.asarray(out[j][0]), np.asarray(out[j][1]),
                                      np.asarray(out[j][2]), np.asarray(out[j][3]),
                                      int(out[j][4]), int(out[j][5])) for out, *_ in ran]
                if len({part.width for part in parts}) == 1:
                    stats[name].add(BatchSummary.join(parts), indices, labels)
                else:  # maps of different widths (a model of any input size)
                    for part, (_, idx, lab, _) in zip(parts, ran, strict=True):
                        stats[name].add(part, idx, lab)
        folded["last"] = items[-1][3]

    with reporting(progress, total, unit="images") as report, _Folder(fold) as folder:
        report(0, total, float("nan"))
        submitted = first
        try:
            for prepared in prefetched(engine, source, source.batches(batch_size)):
                skipped.extend(prepared.skipped)
                if len(prepared.indices):
                    submitted = int(prepared.indices[-1]) + 1
                if not prepared.groups:
                    folder.submit(None, None, None, submitted)
                for indices, x, labels in prepared.groups:
                    folder.submit(reducer(x), indices, labels, submitted)
                report(submitted - first, total, float("nan"))
        except KeyboardInterrupt:
            partial = True
    last = folded["last"]
    return ScanResult(stats, skipped, partial, [(first, last)], source.class_names, source)

