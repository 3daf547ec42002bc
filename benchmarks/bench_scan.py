"""The data-set scan: throughput against ``predict``, in-process and on Dask; flat memory.

- *Throughput*: a scan of conv2 and conv3 of the digits CNN over 20,000 Fashion-MNIST
  images (it decodes and prepares every image, runs both layers and reduces their maps
  to per-channel statistics) against ``predict`` of the sub-model up to conv3
  (``keras.Model(model.inputs, model.get_layer("conv3").output)``) on the same batches,
  already prepared. Goal: the scan keeps at least 0.9x the throughput of ``predict``. The
  two alternate within each round, so a drift of a shared machine's load hits both
  alike; the ratio is the median of the per-round ratios. The same scan then runs on a
  local Dask cluster of two worker processes (one thread each), against the same
  in-process ``predict``: on the 20,000 images and on all 60,000. Each row says what
  share of the scan its start-up takes (the model saved and sent, the first partition
  on its way and back; timed as a scan of one batch), i.e. whether it is amortised.
- The same on VGG16's convolutional trunk at 224 x 224 (random weights and images: only
  the time matters), where the convolutions dominate the per-channel reductions.
- *Memory*: a scan of 60,000 Fashion-MNIST images against one of 6,000, each in a fresh
  child process. The child loads the images and the model and warms the scan up, then
  resets the peak resident set size (Linux ``/proc/self/clear_refs``) and scans: the
  growth of the peak over the resident size before the scan is the scan's own memory,
  which should not grow with the number of images.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ._table import Row, median_seconds, paired_seconds

THROUGHPUT_GOAL = 0.9
#: Class statistics (labels given) may cost this much more than the same scan without.
CLASS_COST_GOAL = 1.10
#: A scan's own peak memory may grow by this much from 6,000 to 60,000 images.
FLAT_MB = 32
LAYERS = ["conv2", "conv3"]
THROUGHPUT_IMAGES = 20_000
#: The set on which a Dask scan's start-up is amortised: all of Fashion-MNIST's training set.
AMORTISED_IMAGES = 60_000
BATCH = 64


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _fashion() -> np.ndarray:
    """The 60,000 Fashion-MNIST training images (N, 28, 28) uint8."""
    try:
        from cnnviz_widgets.zoo import fashion_mnist
    except ImportError:  # an older package: read Debian's file directly
        import gzip

        raw = gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").read()
        return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28).copy()
    return fashion_mnist("train")[0]


def _complete(result, n: int) -> None:
    """A timing counts only for a scan of every image (no failed partition)."""
    if result.count != n or result.skipped or result.partial:
        raise RuntimeError(f"the scan went through {result.count:,} of {n:,} images; "
                           f"skipped: {result.skipped[:2]}")


def _throughput(rounds: int) -> list[Row]:
    import keras
    from distributed import Client, LocalCluster

    from cnnviz_widgets import ActivationEngine, scan, zoo

    model = zoo.digits_cnn()
    x = _fashion()[:THROUGHPUT_IMAGES]
    n = len(x)
    engine = ActivationEngine(model)
    prepared = np.asarray(engine.preprocess(x[..., None].astype(np.float32)), np.float32)
    np.testing.assert_allclose(engine.prepare(x[0])[0], prepared[0], rtol=1e-6)
    sub = keras.Model(model.inputs, model.get_layer("conv3").output)

    def predict():
        sub.predict(prepared, batch_size=BATCH, verbose=0)

    def in_process():
        _complete(scan(engine, x, LAYERS, batch_size=BATCH, progress=False), n)

    predict()
    in_process()  # warm-ups: traced functions, predict's own set-up
    scans, predicts = paired_seconds(in_process, predict, rounds)

    everything = _fashion()[:AMORTISED_IMAGES]
    big = np.asarray(engine.preprocess(everything[..., None].astype(np.float32)), np.float32)

    def predict_big():
        sub.predict(big, batch_size=BATCH, verbose=0)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:

        def on_dask(images=x):
            _complete(scan(engine, images, LAYERS, batch_size=BATCH, progress=False,
                           client=client), len(images))

        on_dask()  # workers import TensorFlow and load the model once
        start_up = median_seconds(lambda: on_dask(x[:BATCH]), 5)
        dasks, dask_predicts = paired_seconds(on_dask, predict, rounds)
        predict_big()
        bigs, big_predicts = paired_seconds(lambda: on_dask(everything), predict_big, rounds)

    rows = []
    baseline = "predict, sub-model to conv3, prepared"
    for what, images, ours, theirs, note in (
        ("scan conv2+conv3, in-process", n, scans, predicts, ""),
        ("scan conv2+conv3, Dask 2 workers x 1 thread", n, dasks, dask_predicts,
         f"; start-up {start_up:.2f} s (a scan of {BATCH} images), "
         f"{start_up / np.median(dasks):.0%} of this scan"),
        ("scan conv2+conv3, Dask 2 workers x 1 thread", len(everything), bigs, big_predicts,
         f"; start-up {start_up / np.median(bigs):.0%} of this scan"),
    ):
        ratio = float(np.median(np.divide(theirs, ours)))  # throughput of scan / predict
        ours_s, theirs_s = float(np.median(ours)), float(np.median(theirs))
        rows.append(Row(
            "scan", f"digits CNN, {images:,} Fashion-MNIST images", what, ours_s, theirs_s,
            baseline, f">= {THROUGHPUT_GOAL}x predict's images/s",
            f"{images / ours_s:,.0f} vs {images / theirs_s:,.0f} images/s; median of {rounds} "
            f"paired ratios {ratio:.2f}x ({_verdict(ratio >= THROUGHPUT_GOAL)}){note}"))
    return rows


def _vgg16(rounds: int) -> list[Row]:
    """The same comparison on VGG16's trunk at 224 x 224, where convolutions dominate."""
    import keras

    from cnnviz_widgets import ActivationEngine, scan

    model = keras.applications.VGG16(weights=None, include_top=False,
                                     input_shape=(224, 224, 3))
    engine = ActivationEngine(model)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (192, 224, 224, 3), dtype=np.uint8)
    layers = ["block3_conv3", "block4_conv3"]
    prepared = np.asarray(engine.preprocess(x.astype(np.float32)), np.float32)
    sub = keras.Model(model.inputs, model.get_layer("block4_conv3").output)
    batch = 32

    def predict():
        sub.predict(prepared, batch_size=batch, verbose=0)

    def ours():
        _complete(scan(engine, x, layers, batch_size=batch, progress=False), len(x))

    predict()
    ours()
    scans, predicts = paired_seconds(ours, predict, rounds)
    ratio = float(np.median(np.divide(predicts, scans)))
    ours_s, theirs_s = float(np.median(scans)), float(np.median(predicts))
    n = len(x)
    return [Row("scan", f"VGG16 trunk 224x224, {n} images", "scan block3_conv3+block4_conv3",
                ours_s, theirs_s, "predict, sub-model to block4_conv3, prepared",
                f">= {THROUGHPUT_GOAL}x predict's images/s",
                f"{n / ours_s:,.1f} vs {n / theirs_s:,.1f} images/s; median of {rounds} "
                f"paired ratios {ratio:.2f}x ({_verdict(ratio >= THROUGHPUT_GOAL)})")]


def _classes(rounds: int) -> list[Row]:
    """A scan with labels (class means and selectivity) against the same scan without."""
    from cnnviz_widgets import ActivationEngine, scan, zoo

    x, y = zoo.fashion_mnist("train")
    x, y = x[:THROUGHPUT_IMAGES], y[:THROUGHPUT_IMAGES]
    engine = ActivationEngine(zoo.fashion_cnn())
    n = len(x)

    def labelled():
        _complete(scan(engine, x, LAYERS, labels=y, batch_size=BATCH, progress=False), n)

    def unlabelled():
        _complete(scan(engine, x, LAYERS, batch_size=BATCH, progress=False), n)

    labelled()
    unlabelled()
    withs, withouts = paired_seconds(labelled, unlabelled, rounds)
    cost = float(np.median(np.divide(withs, withouts)))
    return [Row("scan", f"Fashion CNN, {n:,} Fashion-MNIST images",
                "scan conv2+conv3 with labels (class means, selectivity)",
                float(np.median(withs)), float(np.median(withouts)), "the same scan without labels",
                f"<= {CLASS_COST_GOAL:.2f}x the time",
                f"median of {rounds} paired ratios {cost:.3f}x the time "
                f"({_verdict(cost <= CLASS_COST_GOAL)})")]


def _memory_mb() -> dict[str, float]:
    status = Path("/proc/self/status").read_text()
    return {key: int(re.search(rf"{key}:\s+(\d+)", status).group(1)) / 1024
            for key in ("VmRSS", "VmHWM")}


def _child(n: int) -> dict[str, float]:
    """In a fresh process: scan the first ``n`` Fashion-MNIST images; peak memory in MB."""
    import gc
    import resource

    from cnnviz_widgets import ActivationEngine, scan, zoo

    x = _fashion()[:n].copy()
    model = zoo.fashion_cnn()
    engine = ActivationEngine(model)
    scan(engine, x[:256], LAYERS, batch_size=BATCH, progress=False)  # traced once
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
        reset = True
    except OSError:
        reset = False
    before = _memory_mb()["VmRSS"]
    start = time.perf_counter()
    result = scan(engine, x, LAYERS, batch_size=BATCH, progress=False)
    seconds = time.perf_counter() - start
    _complete(result, n)
    peak = (_memory_mb()["VmHWM"] if reset
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"n": n, "seconds": seconds, "before_mb": before, "peak_mb": peak,
            "data_mb": x.nbytes / 2**20, "reset": reset}


def _in_child(n: int) -> dict[str, float]:
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_scan", "--memory", str(n)],
                         capture_output=True, text=True, cwd=root, check=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def _memory() -> list[Row]:
    small, large = _in_child(6_000), _in_child(60_000)
    label = "Fashion CNN, Fashion-MNIST"
    rows = []
    for m in (small, large):
        growth = m["peak_mb"] - m["before_mb"]
        rows.append(Row(
            "scan", label, f"scan {m['n']:,} images, fresh process", m["seconds"],
            extra=f"RSS {m['before_mb']:,.0f} MB before (images {m['data_mb']:,.0f} MB), "
                  f"peak {m['peak_mb']:,.0f} MB: +{growth:,.0f} MB during the scan"))
    grew = (large["peak_mb"] - large["before_mb"]) - (small["peak_mb"] - small["before_mb"])
    rows.append(Row(
        "scan", label, "scan's peak memory, 60,000 vs 6,000 images", large["seconds"],
        small["seconds"], "scan of 6,000", f"flat (< {FLAT_MB} MB more)",
        f"the scan's own peak grew {grew:+,.0f} MB for 10x the images "
        f"({_verdict(grew < FLAT_MB)})", no_ratio=True))
    return rows


def run(rounds: int = 5) -> list[Row]:
    """Measure scan throughput (in-process and on Dask) and peak memory against N."""
    return _throughput(rounds) + _classes(rounds) + _vgg16(3) + _memory()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--memory"]:
        print(json.dumps(_child(int(sys.argv[2]))))
