"""Layer switches on VGG16 224x224: the lazy engine against a sub-model per switch."""

from __future__ import annotations

import numpy as np

from ._table import Row, median_seconds


def _vgg16():
    import keras

    return keras.applications.VGG16(weights=None, include_top=False,
                                    input_shape=(224, 224, 3))


def run(repeat: int = 3) -> list[Row]:
    """Measure layer switches and a walk over all 18 conv/pool layers."""
    import keras

    from cnnviz_widgets import ActivationEngine

    model = _vgg16()
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(repeat + 8)]
    for image in images:  # as the explorer holds them: read-only, so their preparation is memoised
        image.flags.writeable = False
    engine = ActivationEngine(model)
    names = [i.name for i in engine.layers if i.kind in ("conv", "pool")]
    assert len(names) == 18, names
    target, previous = "block3_conv1", "block2_pool"
    x = engine.prepare(images[0])
    layer_by_name = {layer.name: layer for layer in model.layers}

    def tutorial(name: str) -> np.ndarray:
        sub = keras.Model(model.input, layer_by_name[name].output)
        return sub.predict(x, verbose=0)

    tutorial(target)  # warm up TensorFlow kernels for both ways
    engine.activation(target, images[-1])
    engine.clear_cache()

    counter = iter(range(len(images)))

    def cold_switch():
        engine.activation(target, images[next(counter)])

    cold = median_seconds(cold_switch, repeat, setup=engine.clear_cache)

    def warm_setup():
        engine.clear_cache()
        engine.activation(previous, images[0])

    warm = median_seconds(lambda: engine.activation(target, images[0]), repeat, setup=warm_setup)
    cached = median_seconds(lambda: engine.activation(target, images[0]), repeat)
    baseline_switch = median_seconds(lambda: tutorial(target), repeat)

    def walk():
        for name in names:
            engine.activation(name, images[1])

    before = engine.stats.layer_evaluations
    walk_s = median_seconds(walk, repeat, setup=engine.clear_cache)
    evaluations = (engine.stats.layer_evaluations - before) // repeat
    baseline_walk = median_seconds(lambda: [tutorial(n) for n in names], 1)
    full_pass = median_seconds(lambda: model.predict(x, verbose=0), repeat)
    # goal ratios: ours and its reference alternate, so drifts of this shared machine's
    # load hit both alike; the ratio is the median of the per-round ratios
    engine.clear_cache()
    cached_input = keras.ops.convert_to_tensor(engine.activation(previous, images[0])[None])

    def warm_switch():
        engine.clear_cache()
        engine.activation(previous, images[0])
        return median_seconds(lambda: engine.activation(target, images[0]), 1)

    walk_ratios, segment_ratios, passes, segments = [], [], [], []
    for _ in range(max(5, repeat)):
        one_walk = median_seconds(walk, 1, setup=engine.clear_cache)
        one_pass = median_seconds(lambda: model(x, training=False), 1)
        walk_ratios.append(one_walk / one_pass)
        passes.append(one_pass)
        one_switch = warm_switch()
        one_segment = median_seconds(
            lambda: np.asarray(layer_by_name[target](cached_input)), 1)
        segment_ratios.append(one_switch / one_segment)
        segments.append(one_segment)
    walk_ratio = float(np.median(walk_ratios))
    segment_ratio = float(np.median(segment_ratios))
    direct_pass = float(np.median(passes))
    segment = float(np.median(segments))
    base = "sub-model + predict"
    return [
        Row("engine", f"switch to {target}, cold (new image)", cold, baseline_switch, base),
        Row("engine", f"switch to {target}, {previous} cached", warm, baseline_switch, base),
        Row("engine", f"switch back to {target}, cached", cached, baseline_switch, base),
        Row("engine", "walk all 18 conv/pool layers", walk_s, baseline_walk,
            "18 x sub-model + predict", extra=f"{evaluations} layer evaluations"),
        Row("engine", "one full forward pass, for scale", full_pass, None,
            "model.predict"),
        Row("engine", "walk of 18 layers vs one forward pass", walk_s, direct_pass,
            "model(x), one pass", "<= 1.15x pass", f"median ratio {walk_ratio:.2f}x a pass"),
        Row("engine", f"next-layer switch vs {target} alone", warm, segment,
            f"{target}(cached input)", "<= 1.2x segment",
            f"median ratio {segment_ratio:.2f}x the segment"),
    ]
