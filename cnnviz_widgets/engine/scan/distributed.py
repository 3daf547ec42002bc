"""Scan a data set on a Dask cluster: :func:`scan` with ``client=``.

The set is cut into partitions of consecutive images. Each worker scans its partitions
with the same batch function as an in-process scan (:func:`.stream.scan_source`), and the
partial results are merged pairwise as they arrive, on the workers, into one
:class:`~.summary.ScanResult` (merging is exact: the result equals an in-process scan).

What travels where
------------------
- **The images.** The client reads the set one partition at a time
  (``source.batches(partition_size)``) and sends each partition to a worker: for a list
  of paths or a folder only the paths travel, and the workers open the files; for an
  array, the partition's slice; a ``tf.data`` pipeline is read *on the client* and its
  decoded images are sent. At most twice as many partitions as there are worker threads
  are in flight at a time, so the client's memory does not grow with the size of the set.
- **The model.** The client saves its model once as the bytes of a ``.keras`` file
  (a model given to :func:`scan` as the path of a ``.keras`` file is loaded, then saved
  the same way) and broadcasts them to every worker (``client.scatter(...,
  broadcast=True)``). Each worker process loads them once with
  :func:`cnnviz_widgets.io.load_model` and keeps the model, the engine and the compiled
  batch function for the next partitions, keyed by the bytes' digest. The engine's
  ``preprocess`` function travels with each task (Dask pickles it with cloudpickle, so a
  function defined in a notebook works; a model Keras knows by name gets its default
  preprocessing anyway). For a model with several inputs, the name of the image input and
  the values held fixed for the others (``engine.other_inputs``) travel with each task
  too, and are part of the key of the worker's engine.
- **The results.** Each partition returns its :class:`~.summary.ScanResult` without its
  images (``source=None``); the merged result gets the original set back, so the
  explorer can show the top images.

A partition that fails on a worker (a worker error, a worker that died several times) is
listed in ``result.skipped`` as ``("partition 2000-2999", reason)`` and the scan goes on;
an item that cannot be decoded is skipped alone, as in an in-process scan. An interrupt
(``KeyboardInterrupt``: Ctrl-C, or a notebook's stop button) cancels the partitions not
yet done and returns the merge of those that were, with ``partial=True``.

On a real cluster
-----------------
>>> from dask.distributed import Client                        # doctest: +SKIP
>>> client = Client("tcp://scheduler:8786")                     # doctest: +SKIP
>>> result = scan(model, paths, ["conv2", "conv3"], client=client)  # doctest: +SKIP

- Every worker needs the same versions of ``cnnviz_widgets`` and TensorFlow (Keras) as
  the client: ``pip install "cnnviz_widgets[distributed]"`` in the workers' environment.
- A model with custom layers loads on the workers only if those classes are importable
  there and registered with ``keras.saving.register_keras_serializable`` (install the
  module that defines them on the workers too).
- Paths (a list of files or a folder) must be readable from the workers under the same
  names: put the images on storage every worker mounts at the same place, or pass an
  array (the partitions' pixels are then sent from the client).
- On one machine, ``LocalCluster(n_workers=2, threads_per_worker=1)`` and
  ``Client(cluster)`` give the same thing with local processes.

This module imports Dask only when a scan on a cluster starts; nothing else needs it.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...checks import whole_number
from ...errors import ScanError
from ...progress import ProgressLike, reporting
from ..coerce import as_engine
from .allocator import memory_kept_between_batches
from .kernel import batch_reducer
from .result import ScanResult
from .sources import ImageSource, SequenceSource
from .stream import reason, scan_source

__all__ = ["scan_on_cluster"]

#: Partitions per worker when ``partition_size`` is not given.
PARTITIONS_PER_WORKER = 4
#: Partitions in flight per worker thread (sent and not yet done).
IN_FLIGHT_PER_THREAD = 2
#: Models a worker process keeps loaded (the most recently used).
WORKER_MODELS = 2


# -- on the client -----------------------------------------------------------------------
def _model_bytes(model: Any) -> bytes:
    """The bytes of ``model`` saved as a ``.keras`` file."""
    with tempfile.TemporaryDirectory(prefix="cnnviz-scan-") as folder:
        path = Path(folder) / "model.keras"
        try:
            model.save(path)
        except Exception as exc:  # noqa: BLE001 - Keras raises many kinds here
            raise ScanError(
                "The model could not be saved as a .keras file to send it to the Dask "
                f"workers ({reason(exc)}). A subclassed model or custom layer needs "
                "get_config() and keras.saving.register_keras_serializable; or scan "
                "without client=."
            ) from exc
        return path.read_bytes()


def _preprocess_token(preprocess: Any) -> str:
    """A digest of the preprocess function as it will be sent (it keys the worker cache)."""
    import cloudpickle

    try:
        return hashlib.sha256(cloudpickle.dumps(preprocess)).hexdigest()[:16]
    except Exception as exc:  # noqa: BLE001 - any pickling failure
        raise ScanError(
            "The engine's preprocess function cannot be sent to the Dask workers "
            f"({reason(exc)}). Use a plain function (not a bound method of an object "
            "holding a model, a lock or an open file)."
        ) from exc


def _inputs_token(inputs: dict[str, Any]) -> str:
    """A digest of the image input's name and the fixed values of the other inputs."""
    digest = hashlib.sha256(str(inputs["image_input"]).encode())
    for name, value in sorted(inputs["other_inputs"].items()):
        digest.update(f"{name}{value.shape}{value.dtype.str}".encode())
        digest.update(np.ascontiguousarray(value).data)
    return digest.hexdigest()[:16]


def _partition_size(size: int | None, total: int | None, batch_size: int, workers: int) -> int:
    if size is not None:
        return whole_number(size, "partition_size", error=ScanError)
    if not total:
        return 16 * batch_size
    return max(batch_size, math.ceil(total / (PARTITIONS_PER_WORKER * workers)))


def _partitions(source: ImageSource, size: int) -> Iterator[SequenceSource]:
    """The set as consecutive parts that can be sent to a worker, read lazily."""
    for batch in source.batches(size):
        items: Any = batch.items
        if (isinstance(items, list) and items
                and all(isinstance(item, np.ndarray) for item in items)
                and len({(item.shape, item.dtype) for item in items}) == 1):
            items = np.stack(items)  # one array pickles faster than a list of many
        yield SequenceSource(items, batch.labels, offset=int(batch.indices[0]),
                             class_names=source.class_names)


def scan_on_cluster(client: Any, engine: Any, source: ImageSource, layers: Sequence[str], *,
                    top_k: int = 9, batch_size: int = 64, progress: ProgressLike = True,
                    threshold: float = 0.0, partition_size: int | None = None) -> ScanResult:
    """Scan ``source`` on the workers of a Dask ``client``; what :func:`scan` calls.

    Parameters
    ----------
    client : dask.distributed.Client
        A client connected to the cluster.
    engine : ActivationEngine
        Its model is saved and sent to the workers once; its ``preprocess`` is used there.
    source : ImageSource
        The set (see :mod:`.sources`).
    layers : sequence of str
        Layer names, already checked.
    top_k, batch_size, progress, threshold
        As for :func:`scan`; progress counts the images of the partitions done.
    partition_size : int, optional
        Images per partition (default: ``PARTITIONS_PER_WORKER`` partitions per worker, at
        least one batch each).

    Returns
    -------
    ScanResult
        The merge of all partitions, with ``source`` set to the whole set; failed
        partitions are listed in ``skipped``; ``partial=True`` after an interrupt.
    """
    try:
        from distributed import as_completed
    except ModuleNotFoundError as exc:  # pragma: no cover - a client implies dask
        raise ScanError("A scan with client= needs Dask: pip install "
                        "'cnnviz_widgets[distributed]'.") from exc

    layers = list(layers)
    nthreads = client.nthreads()
    threads = max(1, sum(nthreads.values()))
    size = _partition_size(partition_size, source.total, batch_size, max(1, len(nthreads)))
    data = _model_bytes(engine.model)
    inputs = {"image_input": engine.plan.input_name, "other_inputs": engine.other_inputs}
    key = (f"{hashlib.sha256(data).hexdigest()}-{_preprocess_token(engine.preprocess)}"
           f"-{_inputs_token(inputs)}")
    model = client.scatter(data, broadcast=True)
    settings = {"top_k": int(top_k), "batch_size": int(batch_size),
                "threshold": float(threshold)}

    parts = _partitions(source, size)
    running: dict[Any, tuple[int, int]] = {}  # partition future -> (start, stop)
    ready: list[Any] = []  # futures of partial results not merged yet
    merging: set[Any] = set()  # futures of merges under way
    skipped: list[tuple[Any, str]] = []
    waiting = as_completed()
    total = source.total or 0
    done = 0
    partial = False

    def send() -> None:
        """Send partitions until enough are in flight or the set is exhausted."""
        while len(running) < IN_FLIGHT_PER_THREAD * threads:
            part = next(parts, None)
            if part is None:
                return
            future = client.submit(_scan_partition, model, key, engine.preprocess, layers,
                                   client.scatter(part, hash=False), **settings,
                                   inputs=inputs, pure=False)
            running[future] = (part.offset, part.offset + part.total)
            waiting.add(future)

    with reporting(progress, total, unit="images") as report:
        report(0, total, float("nan"))
        try:
            send()
            for future in waiting:
                if future in running:
                    start, stop = running.pop(future)
                    done += stop - start
                    if future.status == "finished":
                        ready.append(future)
                    else:
                        skipped.append((f"partition {start}-{stop - 1}", _failure(future)))
                    send()
                    report(done, total, float("nan"))
                else:
                    merging.discard(future)
                    future.result()  # a merge that fails is a bug: raise it
                    ready.append(future)
                while len(ready) >= 2:  # a tree: partial results merge as they arrive
                    merged = client.submit(_merge, ready[-2], ready[-1], pure=False)
                    merging.add(merged)
                    del ready[-2:]
                    waiting.add(merged)
        except KeyboardInterrupt:
            partial = True
            waiting.clear()
            for future in running:
                if future.status == "finished":
                    ready.append(future)
                else:
                    future.cancel()
            running.clear()
    parts.close()

    finished = [r for r in client.gather([*ready, *merging], errors="skip")
                if isinstance(r, ScanResult)]
    result = _merge_all(finished) if finished else _empty(engine, source, layers, settings)
    result.skipped = sorted([*result.skipped, *skipped], key=lambda s: str(s[0]))
    result.partial = result.partial or partial
    result.source = source
    return result


def _failure(future: Any) -> str:
    """Why a partition's task did not finish, in words."""
    if future.status == "error":
        return reason(future.exception())
    return f"The task was {future.status} on the cluster."


def _merge_all(results: list[ScanResult]) -> ScanResult:
    """Merge results pairwise (a tree), on the client."""
    while len(results) > 1:
        pairs = [_merge(a, b) for a, b in zip(results[::2], results[1::2], strict=False)]
        results = pairs + ([results[-1]] if len(results) % 2 else [])
    return results[0]


def _empty(engine: Any, source: ImageSource, layers: list[str],
           settings: dict[str, Any]) -> ScanResult:
    """The result of no image, when no partition finished."""
    nothing = SequenceSource([], offset=source.offset, class_names=source.class_names)
    return scan_source(engine, nothing, layers, progress=None, **settings)


# -- on the workers ----------------------------------------------------------------------
_ENGINES: OrderedDict[str, Any] = OrderedDict()  # key -> engine, most recent last
_LOCK = threading.Lock()


def _load(data: bytes, preprocess: Any, inputs: dict[str, Any] | None) -> Any:
    """An engine on the model saved as ``data``, with the client's preprocess and inputs."""
    with tempfile.TemporaryDirectory(prefix="cnnviz-scan-") as folder:
        path = Path(folder) / "model.keras"
        path.write_bytes(data)
        # The bytes were written by the client from the model it holds (a file given by
        # path was checked there by load_model), and Dask already trusts its client with
        # pickles: code a Lambda layer carries is the user's own, as in-process.
        return as_engine(path, paths=True, safe_mode=False, preprocess=preprocess,
                         **(inputs or {}))


def _fit_threads_to_worker() -> None:
    """Have TensorFlow use as many threads as this Dask worker runs tasks on.

    TensorFlow's default is every core of the machine, so two single-threaded workers on
    two cores would run four busy threads. Only possible before TensorFlow's first
    operation in the process (later, the default stays).
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return
    try:
        from distributed import get_worker

        threads = int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):  # not in a worker
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already ran an operation in this process
        pass


def _worker_reducer(data: bytes, key: str, preprocess: Any, layers: tuple[str, ...],
                    inputs: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """This worker's engine and batch function for a model, built once per process."""
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            if not _ENGINES:
                _fit_threads_to_worker()
            engine = _ENGINES[key] = _load(data, preprocess, inputs)
            while len(_ENGINES) > WORKER_MODELS:
                _ENGINES.popitem(last=False)
        _ENGINES.move_to_end(key)
        return engine, batch_reducer(engine, layers)  # kept on the engine


def _scan_partition(data: bytes, key: str, preprocess: Any, layers: list[str],
                    partition: SequenceSource, *, top_k: int, batch_size: int,
                    threshold: float, inputs: dict[str, Any] | None = None) -> ScanResult:
    """Scan one partition on a worker; the result travels back without its images.

    Freed buffers are kept for the next batch while it runs
    (:func:`.allocator.memory_kept_between_batches`)."""
    engine, reducer = _worker_reducer(data, key, preprocess, tuple(layers), inputs)
    with memory_kept_between_batches():
        result = scan_source(engine, partition, layers, top_k=top_k, batch_size=batch_size,
                             progress=None, threshold=threshold, reducer=reducer)
    result.source = None
    return result


def _merge(a: ScanResult, b: ScanResult) -> ScanResult:
    return a.merge(b)
