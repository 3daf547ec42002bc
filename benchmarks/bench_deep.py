"""Walks over every layer of deep ``keras.applications`` models against one forward pass.

A model of hundreds of small layers (NASNetMobile, InceptionResNetV2, DenseNet121) is
where a per-layer cost shows: the walk asks the engine for each viewable layer in
order (``engine.activation(name, image)``, a plain writeable numpy image, after
``clear_cache()``), and the reference is one ``model(x, training=False)`` on the
prepared batch. A writeable image is fingerprinted by content on every request (the
explorer's read-only copies are not), so the walk includes that cost too. Weights are
random (``weights=None``): the timings do not depend on them. Each round times our
walk and then the reference; the ratio is the median of the per-round ratios, so load
drifts of a shared machine hit both alike.
"""

from __future__ import annotations

import numpy as np

from ._table import Row, median_seconds, paired_seconds

WALK_GOAL = 1.15


def _families() -> list[tuple[str, object]]:
    import keras

    apps = keras.applications
    return [
        ("NASNetMobile (224x224)", lambda: apps.NASNetMobile(weights=None)),
        ("InceptionResNetV2 (299x299)", lambda: apps.InceptionResNetV2(weights=None)),
        ("DenseNet121 (224x224)", lambda: apps.DenseNet121(weights=None)),
    ]


def _walk_vs_pass(label: str, build, rounds: int) -> Row:
    from cnnviz_widgets import ActivationEngine

    model = build()
    engine = ActivationEngine(model)
    height, width = engine.input_shape[:2]
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    x = engine.prepare(image)
    names = engine.layer_names
    last = names[-1]
    np.testing.assert_allclose(engine.activation(last, image),
                               np.asarray(model(x, training=False))[0], rtol=1e-4, atol=1e-4)

    def walk() -> None:
        for name in names:
            engine.activation(name, image)

    def one_pass() -> None:
        np.asarray(model(x, training=False))

    median_seconds(walk, 1, setup=engine.clear_cache)  # warm up both outside the timing
    one_pass()
    before = engine.stats.layer_evaluations
    walks, passes = paired_seconds(walk, one_pass, rounds, first_setup=engine.clear_cache)
    evaluations = (engine.stats.layer_evaluations - before) // rounds
    assert evaluations == len(engine.plan.steps), (evaluations, len(engine.plan.steps))
    ratio = float(np.median(np.divide(walks, passes)))
    verdict = "met" if ratio <= WALK_GOAL else "MISSED"
    return Row("deep", label, f"walk of all {len(names)} layers vs one forward pass",
               float(np.median(walks)), float(np.median(passes)), "model(x), one pass",
               f"<= {WALK_GOAL}x pass",
               f"median of {rounds} paired ratios {ratio:.2f}x a pass ({verdict}); "
               f"{evaluations} layer evaluations")


def run(rounds: int = 7) -> list[Row]:
    """One goal row per model family."""
    import keras

    rows = []
    for label, build in _families():
        rows.append(_walk_vs_pass(label, build, rounds))
        keras.backend.clear_session()  # the next model starts from a clean graph
    return rows
