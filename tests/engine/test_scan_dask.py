"""The scan on a real local Dask cluster (two worker processes) equals the in-process scan."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets import ActivationEngine, scan
from tests.conftest import require
from tests.engine import test_scan as in_process
from tests.engine.oracle import assert_scans_agree

pytestmark = [pytest.mark.slow, pytest.mark.dask]

LAYERS = ["conv2", "conv3"]

# the 5,000 MNIST digits with their labels, and the trained digits model
digits = in_process.digits
model = in_process.model


@pytest.fixture(scope="module")
def client():
    """A ``LocalCluster`` of two single-threaded worker processes and its client."""
    distributed = require("distributed", "distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as c:
            yield c


def test_cluster_scan_equals_in_process_scan(client, model, digits):
    x, y = digits
    calls = []
    ours = scan(model, x, LAYERS, labels=y, client=client, partition_size=1000,
                progress=lambda step, total: calls.append((step, total)))
    reference = scan(model, x, LAYERS, labels=y, progress=False)
    assert_scans_agree(ours, reference)
    assert ours.count == 5000 and not ours.partial and not ours.skipped
    # the explorer shows the top images: the result holds the whole set again
    assert ours.source is not None and ours.source.total == 5000
    top = int(ours["conv3"].top_indices[0, 0])
    np.testing.assert_array_equal(ours.source.fetch([top])[top], x[top])
    # progress: from 0 to all images, one step per partition
    assert calls[0] == (0, 5000) and calls[-1] == (5000, 5000)
    steps = [step for step, _ in calls]
    assert steps == sorted(steps) and len(calls) == 6


def _tensorflow_threads() -> tuple[int, int]:
    import tensorflow as tf

    return (tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads())


def test_tensorflow_on_a_worker_uses_the_workers_threads(client, model, digits):
    """A single-threaded worker's TensorFlow runs on one thread, not on every core of the
    machine (the workers would otherwise take more cores than the cluster gave them)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("a TensorFlow setting")
    x, _ = digits
    scan(model, x[:200], LAYERS, client=client, partition_size=100, progress=False)
    threads = client.run(_tensorflow_threads)
    assert threads and all(tuple(t) == (1, 1) for t in threads.values()), threads


def test_a_worker_keeps_freed_buffers_while_it_scans(client):
    """Dask's nanny starts the workers with a trim threshold that has glibc unmap every
    large buffer when it is freed; while a partition is scanned, the worker keeps them
    (and gives them back after)."""
    from tests.engine.test_scan_allocator import MIB, mapped_apart

    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's allocator settings are Linux only")
    for mapped in client.run(mapped_apart).values():
        assert mapped["changed"] is True, mapped
        assert mapped["before"] >= MIB * 2**20 and mapped["after"] >= MIB * 2**20, mapped
        assert mapped["inside"] == 0, mapped


def test_engine_with_its_own_preprocess(client, model, digits):
    x = digits[0][:2000]

    def centred(batch):  # defined here: the workers get it by value (cloudpickle)
        return batch / 127.5 - 1.0

    engine = ActivationEngine(model, preprocess=centred)
    ours = scan(engine, x, LAYERS, client=client, partition_size=500, progress=False)
    reference = scan(engine, x, LAYERS, progress=False)
    assert_scans_agree(ours, reference)
    default = scan(model, x, LAYERS, progress=False)
    assert not np.allclose(ours["conv2"].max, default["conv2"].max)  # it was used


def test_model_given_as_a_keras_file(client, model, digits, tmp_path):
    x = digits[0][:1000]
    path = tmp_path / "digits.keras"
    model.save(path)
    ours = scan(path, x, LAYERS, client=client, partition_size=400, first_index=10_000,
                progress=False)
    assert_scans_agree(ours, scan(model, x, LAYERS, first_index=10_000, progress=False))
    assert ours.spans == [(10_000, 11_000)]


def test_a_tf_data_pipeline_is_read_on_the_client(client, model, digits):
    import tensorflow as tf

    x, y = digits[0][:600], digits[1][:600]
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(50)
    ours = scan(model, dataset, LAYERS, client=client, partition_size=200, progress=False)
    reference = scan(model, x, LAYERS, labels=y, progress=False)
    assert_scans_agree(ours, reference)


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_paths_with_a_corrupt_file(client, model, digits, tmp_path):
    x = digits[0][:40]
    paths = []
    for i, image in enumerate(x):
        path = tmp_path / f"digit_{i:03d}.png"
        path.write_bytes(_png(image))
        paths.append(str(path))
    broken = tmp_path / "digit_017b.png"
    broken.write_bytes(b"not an image at all")
    paths.insert(18, str(broken))
    ours = scan(model, paths, LAYERS, client=client, partition_size=16, progress=False)
    reference = scan(model, paths, LAYERS, progress=False)
    assert_scans_agree(ours, reference)
    assert ours.count == 40
    assert [name for name, _ in ours.skipped] == [str(broken)]
    assert ours.skipped == reference.skipped


def test_a_failing_partition_is_reported_and_the_rest_kept(client, model, digits):
    x = digits[0].copy()
    x[2500] = 0
    x[2500, 0, 0] = 7  # a mark the preprocessing below refuses

    def picky(batch):
        if np.any(batch[:, 0, 0] == 7):
            raise ValueError("a marked image")
        return batch / 255.0

    engine = ActivationEngine(model, preprocess=picky)
    result = scan(engine, x, LAYERS, client=client, partition_size=1000, progress=False)
    assert result.count == 4000 and not result.partial
    assert result.spans == [(0, 2000), (3000, 5000)]
    assert result.skipped == [("partition 2000-2999", "ValueError: a marked image")]
    # the same images scanned here, in the two runs the failed partition leaves
    reference = scan(model, x[:2000], LAYERS, progress=False).merge(
        scan(model, x[3000:], LAYERS, first_index=3000, progress=False))
    assert_scans_agree(result, reference)


def test_an_interrupt_returns_what_finished(client, model, digits):
    x = digits[0]

    def stop_after_the_first(step, total):
        if step > 0:
            raise KeyboardInterrupt

    result = scan(model, x, LAYERS, client=client, partition_size=500,
                  progress=stop_after_the_first)
    assert result.partial
    assert 500 <= result.count < 5000 and result.count % 500 == 0
    assert sum(stop - start for start, stop in result.spans) == result.count
    # the cluster is free again: the next scan runs in full
    again = scan(model, x[:600], ["conv3"], client=client, partition_size=300, progress=False)
    assert again.count == 600 and not again.partial

