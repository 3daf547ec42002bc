"""Layer switches on VGG16 224x224: the lazy engine against sub-models built once.

Baselines:

- *prebuilt sub-model*: ``keras.Model(model.input, layer.output)`` built once per layer,
  outside the timing, then called as ``sub(x)``. This is the fastest plain-Keras way to
  get one layer's output: it recomputes every layer below the target on each call.
- *tutorial way*: a new sub-model per switch and ``sub.predict(x)``, which adds the model
  construction and ``predict``'s own overhead. Kept as a separate, labelled row.

The two goal rows (a walk over all layers against one forward pass ``model(x)``; a switch
to the next layer against that layer's own compute) alternate ours and the reference
within each round, so load drifts of a shared machine hit both alike; the ratio is the
median of the per-round ratios.
"""

from __future__ import annotations

import numpy as np

from ._models import vgg16_trunk
from ._table import Row, median_seconds

WALK_GOAL = 1.15
SWITCH_GOAL = 1.2


def _verdict(ratio: float, goal: float) -> str:
    return "met" if ratio <= goal else "MISSED"


def run(repeat: int = 3, rounds: int = 5) -> list[Row]:
    """Measure layer switches and a walk over all 18 conv/pool layers."""
    import keras

    from cnnviz_widgets import ActivationEngine

    model, label = vgg16_trunk()
    label += ", random images"
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(2 * repeat + 8)]
    for image in images:  # as the explorer holds them: read-only, so their preparation is memoised
        image.flags.writeable = False
    engine = ActivationEngine(model)
    names = [i.name for i in engine.layers if i.kind in ("conv", "pool")]
    assert len(names) == 18, names
    target, previous = "block3_conv1", "block2_pool"
    preprocess = keras.applications.vgg16.preprocess_input

    def x_of(image: np.ndarray) -> np.ndarray:
        """What a plain-Keras user feeds the model: the batch of one, preprocessed."""
        return preprocess(image[None].astype("float32"))

    x = x_of(images[0])
    np.testing.assert_allclose(engine.prepare(images[0]), x, rtol=1e-6, atol=1e-4)
    subs = {n: keras.Model(model.input, engine.keras_layer(n).output) for n in names}
    for sub in subs.values():  # warm up each sub-model's kernels outside the timing
        np.asarray(sub(x, training=False))

    def prebuilt(name: str, image: np.ndarray) -> np.ndarray:
        return np.asarray(subs[name](x_of(image), training=False))

    def tutorial(name: str) -> np.ndarray:
        sub = keras.Model(model.input, engine.keras_layer(name).output)
        return sub.predict(x, verbose=0)

    np.testing.assert_allclose(engine.activation(target, images[0]), prebuilt(target, images[0])[0],
                               rtol=1e-4, atol=1e-3)
    tutorial(target)  # warm up predict
    engine.clear_cache()

    fresh = iter(images[2:])  # a new image per cold switch, for ours and the baseline alike

    def cold_switch():
        engine.activation(target, next(fresh))

    cold = median_seconds(cold_switch, repeat, setup=engine.clear_cache)
    cold_base = median_seconds(lambda: prebuilt(target, next(fresh)), repeat)

    def warm_setup():
        engine.clear_cache()
        engine.activation(previous, images[0])

    warm = median_seconds(lambda: engine.activation(target, images[0]), repeat, setup=warm_setup)
    hits = engine.stats.cache_hits
    cached = median_seconds(lambda: engine.activation(target, images[0]), repeat)
    assert engine.stats.cache_hits - hits == repeat, "the cached switch ran a layer"
    tutorial_switch = median_seconds(lambda: tutorial(target), repeat)

    def walk():
        for name in names:
            engine.activation(name, images[1])

    before = engine.stats.layer_evaluations
    walk_s = median_seconds(walk, repeat, setup=engine.clear_cache)
    evaluations = (engine.stats.layer_evaluations - before) // repeat
    walk_base = median_seconds(lambda: [prebuilt(n, images[1]) for n in names], 1)
    walk_tutorial = median_seconds(lambda: [tutorial(n) for n in names], 1)

    # goal ratios, in alternating rounds
    engine.clear_cache()
    cached_input = keras.ops.convert_to_tensor(engine.activation(previous, images[0])[None])
    target_layer = engine.keras_layer(target)

    def warm_switch() -> float:
        return median_seconds(lambda: engine.activation(target, images[0]), 1, setup=warm_setup)

    walks, passes, switches, segments = [], [], [], []
    for _ in range(rounds):
        walks.append(median_seconds(walk, 1, setup=engine.clear_cache))
        passes.append(median_seconds(lambda: np.asarray(model(x, training=False)), 1))
        switches.append(warm_switch())
        segments.append(median_seconds(lambda: np.asarray(target_layer(cached_input)), 1))
    walk_ratio = float(np.median(np.divide(walks, passes)))
    switch_ratio = float(np.median(np.divide(switches, segments)))

    sub_call = "prebuilt sub-model, sub(x)"
    tut = "tutorial: new sub-model + predict"
    section = "engine"
    return [
        Row(section, label, f"switch to {target}, cold (new image)", cold, cold_base, sub_call,
            extra="both prepare the new image"),
        Row(section, label, f"switch to {target}, {previous} cached", warm, cold_base, sub_call,
            extra="ours runs one layer; sub(x) runs 8"),
        Row(section, label, f"switch back to {target}, cached", cached, None, "",
            extra="a cache lookup: no model call to compare with", no_ratio=True),
        Row(section, label, f"switch to {target}, cold, tutorial way", cold, tutorial_switch, tut),
        Row(section, label, "walk all 18 conv/pool layers", walk_s, walk_base,
            f"18 x {sub_call}", extra=f"{evaluations} layer evaluations"),
        Row(section, label, "walk all 18 conv/pool layers, tutorial way", walk_s, walk_tutorial,
            f"18 x {tut}"),
        Row(section, label, "walk of 18 layers vs one forward pass", float(np.median(walks)),
            float(np.median(passes)), "model(x), one pass", f"<= {WALK_GOAL}x pass",
            f"median of {rounds} paired ratios {walk_ratio:.2f}x a pass "
            f"({_verdict(walk_ratio, WALK_GOAL)})"),
        Row(section, label, f"next-layer switch vs {target} alone", float(np.median(switches)),
            float(np.median(segments)), f"{target}(cached input)", f"<= {SWITCH_GOAL}x segment",
            f"median of {rounds} paired ratios {switch_ratio:.2f}x the segment "
            f"({_verdict(switch_ratio, SWITCH_GOAL)})"),
    ]
