"""Scan a data set: per-channel statistics of several layers in one streaming pass.

:func:`scan` reads the images of a set in batches (:mod:`.sources`), prepares them like
single images, runs each batch once through only the part of the model the requested
layers need, and reduces every layer's maps to a few numbers per image and channel inside
the same compiled function (so whole maps never reach numpy). The numbers are folded into
mergeable summaries (:mod:`.summary`). Memory stays flat whatever the size of the set:
one batch is prepared while the previous one runs, and nothing else is kept.

With a Dask client the same batch function runs on the workers, one partition of the set
each, and the partial results are merged (:mod:`.distributed`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._keras import keras
from ..errors import CnnvizError, InvalidSettingError, LayerNotViewableError
from ..progress import ProgressLike, reporting
from .backend import no_gradient
from .sources import Batch, ImageSource, image_source
from .summary import BatchSummary, ChannelStats, ScanResult

__all__ = ["ScanResult", "batch_reducer", "scan", "scan_source"]


def _map_layout(info: Any) -> str:
    """How a layer's output is read: "hwc" (H, W, C), "hw" (H, W), "tc" (positions along a
    sequence or over tokens, then channels: (T, C)) or "c" (C,), from :attr:`LayerInfo.layout`.
    """
    layout = {"image": "hwc", "plane": "hw", "sequence": "tc", "tokens": "tc",
              "vector": "c"}.get(info.layout)
    shape, name = info.output_shape, info.name
    if layout is None:
        raise LayerNotViewableError(
            f"The layer {name!r} has output shape {shape}; a scan needs maps (H, W, C), "
            "(H, W), a sequence (T, C) or a vector of channels (C,). Pick a convolution, "
            "pooling or dense layer."
        )
    if layout != "hw" and shape[-1] is None:
        raise LayerNotViewableError(f"The layer {name!r} has no fixed number of channels to "
                                    "scan.")
    return layout


def _compile(function: Callable[[Any], Any], input_shape: tuple[int | None, ...],
             variables: Sequence[Any] = ()) -> Callable[[Any], Any]:
    """Compile ``function`` of one float32 batch for the active Keras backend.

    TensorFlow: a ``tf.function`` traced once for every batch size (it reads the model's
    variables as they are at each call). JAX: a ``jax.jit`` that takes ``variables`` (the
    model's) as arguments at each call, so a change of weights is seen, where a closure
    would keep the values of the first trace as constants. Other backends (PyTorch): the
    function as it is.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        spec = tf.TensorSpec((None, *input_shape), tf.float32)
        return tf.function(function, input_signature=[spec])  # one trace for every batch
    if backend == "jax":
        import jax

        variables = list(variables)

        def stateless(values: list[Any], x: Any) -> Any:
            with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
                return function(x)

        program = jax.jit(stateless)
        return lambda x: program([v.value for v in variables], x)
    return function


def batch_reducer(engine: Any, layers: Sequence[str]) -> Callable[[np.ndarray], list[Any]]:
    """Return a compiled function from a prepared batch to each layer's per-image numbers.

    The function runs only the steps the layers need (all layers in one pass) and returns,
    per layer, ``(maxima, sums, positives, maps, width)``: (B, C) maxima, sums and counts
    of positions above 0, the (B, P, C) maps with positions flattened (where a maximum
    is looked up there only for the few that enter a top-k list), and the map's width.
    It is built once per engine and list of layers.

    Parameters
    ----------
    engine : ActivationEngine
        The engine whose plan is run.
    layers : sequence of str
        Layer names.
    """
    # kept on the engine (a new compiled function per scan would be traced each time)
    known = engine.__dict__.setdefault("_scan_reducers", {})
    key = tuple(layers)
    if key not in known:
        known[key] = _build_reducer(engine, key)
    return known[key]


def _build_reducer(engine: Any, layers: Sequence[str]) -> Callable[[np.ndarray], list[Any]]:
    ops = keras.ops
    views = [engine._view(name) for name in layers]
    layouts = [_map_layout(view.info) for view in views]
    targets = [view.key for view in views]
    order = engine._needed(targets, lambda k: False)

    def reduce(x: Any) -> list[Any]:
        with no_gradient():  # the statistics feed numpy only
            values = engine._run(engine._feed(x), order)
        out = []
        for key, layout in zip(targets, layouts, strict=True):
            v = values[key]
            shape = ops.shape(v)
            if layout == "hwc":
                width = shape[2]
                flat = ops.reshape(v, (shape[0], -1, shape[3]))
            elif layout == "hw":
                width = shape[2]
                flat = ops.reshape(v, (shape[0], -1, 1))
            elif layout == "tc":  # positions along T are the rows of a one-column map
                width = 1
                flat = v
            else:
                width = 1
                flat = ops.reshape(v, (shape[0], 1, shape[1]))
            flat = ops.cast(flat, "float32")
            out.append((ops.max(flat, axis=1), ops.sum(flat, axis=1),
                        ops.sum(ops.cast(flat > 0, "int32"), axis=1), flat, width))
        return out

    return _compile(reduce, engine.input_shape, engine.model.variables)


def _map_shape(shape: tuple[int | None, ...], layout: str) -> tuple[int, int]:
    if layout == "c":
        return (1, 1)
    if layout == "tc":
        return (int(shape[0] or 0), 1)
    return (int(shape[0] or 0), int(shape[1] or 0))


@dataclass
class _Prepared:
    """A batch ready for the model: images grouped by prepared shape, and the skipped."""

    groups: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]  # (indices, x, labels)
    skipped: list[tuple[Any, str]]
    indices: np.ndarray


def _reason(exc: Exception) -> str:
    if isinstance(exc, CnnvizError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _prepare_batch(engine: Any, source: ImageSource, batch: Batch) -> _Prepared:
    """Decode and prepare every item; an item that fails is listed with its reason."""
    stacked = engine._stacked_pixels(batch.items)
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
            skipped.append((source.name_of(index), _reason(exc)))
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


def _prefetched(engine: Any, source: ImageSource, batches: Iterator[Batch]
                ) -> Iterator[_Prepared]:
    """Prepare the next batch in a thread while the current one runs (two at most)."""
    results: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for batch in batches:
                prepared = _prepare_batch(engine, source, batch)
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
        layout = _map_layout(info)
        stats[name] = ChannelStats.empty(name, int(info.channels or 1),
                                         _map_shape(info.output_shape, layout), top_k,
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
                                      int(out[j][4])) for out, *_ in ran]
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
            for prepared in _prefetched(engine, source, source.batches(batch_size)):
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


def scan(model_or_engine: Any, images: Any, layers: Sequence[str] | str | None = None, *,
         top_k: int = 9, batch_size: int = 64, progress: ProgressLike = True,
         client: Any = None, labels: Sequence[int] | None = None,
         class_names: Sequence[str] | None = None, first_index: int = 0,
         threshold: float = 0.0, partition_size: int | None = None) -> ScanResult:
    """Per-channel statistics of layers over a whole data set, in one streaming pass.

    For each channel of each layer: the largest value, the mean and the fraction of
    positions above 0 over all images and positions, the ``top_k`` images whose maximum
    is highest (with where it is), the dead channels, and a histogram of per-image maxima
    (see :class:`ChannelStats`).

    Parameters
    ----------
    model_or_engine : keras.Model, ActivationEngine or str
        The model, an engine built on it (its preprocessing is used), or the path of a
        ``.keras`` file.
    images : array, list, folder, tf.data.Dataset
        The set: an array (N, H, W[, C]) (or (N, T, C) signals for a model of 1-D
        layers); a list of paths, bytes, PIL images or arrays; a folder (every file in
        it, sorted by name); a ``tf.data.Dataset`` of images or (image, label) pairs,
        batched or not. Items are prepared like single images (any
        size and colour mode); an item that cannot be read is skipped and listed in
        ``result.skipped``.
    layers : str or sequence of str, optional
        Layers to scan, all in the same pass (default: the last layer of every stage).
        Maps (H, W[, C]) give positions (row, col); sequences (T, C) and tokens (T, D)
        give positions (t, 0) along T; each output of a layer with several is scanned by
        its own name (``"split[1]"``).
    top_k : int
        How many top images to keep per channel.
    batch_size : int
        Images per batch.
    progress : bool, callable, widget or Callback
        ``True``: a bar with images per second in a notebook, a line of text in a
        terminal; ``False``/None: quiet; anything :func:`~cnnviz_widgets.progress.as_callback`
        accepts.
    client : dask.distributed.Client, optional
        Scan on a Dask cluster: the set is cut into partitions, each worker scans its
        partitions with the same batch function, and the partial results are merged (see
        :mod:`cnnviz_widgets.engine.distributed` for how the model reaches the workers).
    labels : sequence of int, optional
        One label per image (arrays and lists); a ``tf.data`` set carries its own.
    class_names : sequence of str, optional
        Names of the label classes.
    first_index : int
        Index of the first image, when this set is one part of a larger set scanned in
        parts (``a.merge(b)`` needs the parts' indices not to overlap).
    threshold : float
        ``ChannelStats.firing`` counts the images whose maximum is above this.
    partition_size : int, optional
        Images per partition with ``client`` (default: a split into 4 partitions per
        worker, at least one batch each).

    Returns
    -------
    ScanResult
        ``result[layer]`` is a :class:`ChannelStats`; ``result.skipped`` lists the items
        that could not be read; ``result.partial`` is True after an interrupt.

    Raises
    ------
    ScanError
        If the set is empty or not a set of images.
    LayerNotFoundError, LayerNotViewableError
        If a layer does not exist or has no channels to scan; checked before any work.
    InvalidSettingError
        For a ``top_k`` or ``batch_size`` below 1.

    Examples
    --------
    >>> from cnnviz_widgets import scan
    >>> from cnnviz_widgets.testing import tiny_cnn
    >>> result = scan(tiny_cnn(), np.random.rand(20, 8, 8), ["conv_a"], top_k=3,
    ...               progress=False)
    >>> result["conv_a"].top_indices.shape
    (4, 3)
    """
    from .coerce import as_engine

    if isinstance(model_or_engine, (str,)) or hasattr(model_or_engine, "__fspath__"):
        from ..io import load_model

        model_or_engine = load_model(model_or_engine)
    engine = as_engine(model_or_engine)
    if layers is None:
        from .stages import stage_layers

        layers = stage_layers(engine)
    elif isinstance(layers, str):
        layers = [layers]
    layers = list(dict.fromkeys(layers))
    if not layers:
        raise InvalidSettingError("No layers to scan: give at least one layer name.")
    for name in layers:
        # LayerNotFoundError with close matches; a layer with several outputs: pick one
        _map_layout(engine._view(name).info)
    for value, what in ((top_k, "top_k"), (batch_size, "batch_size")):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise InvalidSettingError(f"{what} must be a whole number of at least 1; got "
                                      f"{value!r}.")
    source = image_source(images, engine.input_shape, labels, class_names, first_index)
    if client is not None:
        from .distributed import scan_on_cluster

        return scan_on_cluster(client, engine, source, layers, top_k=int(top_k),
                               batch_size=int(batch_size), progress=progress,
                               threshold=float(threshold), partition_size=partition_size)
    return scan_source(engine, source, layers, top_k=int(top_k), batch_size=int(batch_size),
                       progress=progress, threshold=float(threshold))
