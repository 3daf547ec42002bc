"""Compare mode and the channel ranking for a class, against what they replace.

* **Compare redraw** (VGG16 trunk, block1_conv1, 64-map grid): a normalisation change in
  compare mode redraws both images' maps side by side with one scale, plus their
  difference; the baseline is the same change in the single view, measured in the same
  run. Goal: at most 3.5x the single view (it draws 3.1 times the maps).
* **Ranking** (VGG16 with its classifier, block5_conv3, an explored image): ordering the
  grid by each channel's contribution to a class (mean over positions of gradient x
  activation, of the logit as for Grad-CAM) against computing that gradient by hand, the
  usual way: a GradientTape around ``keras.Model(inputs, [layer.output, logits])`` of a
  copy whose softmax is the identity. Goal: no slower (the explored layer comes from the
  cache and only the head runs, compiled).
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from ._models import vgg16_classifier, vgg16_trunk
from ._table import Row, median_seconds

#: Compare draws 3.1 times the single view's maps: the two images' maps with a gap of an
#: eighth of a map between them (2.125x), then their difference (1x).
COMPARE_GOAL = 3.5


def _redraw_seconds(ex, trait: str, values, repeat: int) -> float:
    cycle = itertools.cycle(values)
    times = []
    for _ in range(repeat):
        value = next(cycle)
        start = time.perf_counter()
        setattr(ex, trait, value)
        times.append(time.perf_counter() - start)
        ex.current_view()
    return float(np.median(times))


def _compare_rows(repeat: int) -> list[Row]:
    from cnnviz_widgets import explore

    model, label = vgg16_trunk()
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(2)]
    ex = explore(model, images, include_samples=False, layer="block1_conv1")
    norms = ["layer", "standardize", "channel"]
    single = _redraw_seconds(ex, "normalization", norms, repeat)
    ex.compare_index = 1
    ex.compare = "image"
    evaluations = ex.engine.stats.layer_evaluations
    compare = _redraw_seconds(ex, "normalization", norms, repeat)
    assert ex.engine.stats.layer_evaluations == evaluations, "a compare redraw ran the model"
    ratio = compare / single
    verdict = "met" if ratio <= COMPARE_GOAL else "MISSED"
    return [Row("compare", label, "block1_conv1 64-map grid normalization, compare two images",
                compare, single, "the same change in the single view",
                f"<= {COMPARE_GOAL:.1f}x single", f"{ratio:.2f}x the single view ({verdict})",
                no_ratio=True)]


def _ranking_row(repeat: int) -> Row:
    import keras

    from cnnviz_widgets import explore

    model, label = vgg16_classifier()
    layer = "block5_conv3"
    image = np.random.default_rng(1).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    ex = explore(model, [image], include_samples=False, layer=layer)
    ex.current_activation()  # the user explored the layer
    x = keras.ops.convert_to_tensor(ex.engine.prepare(image))
    target = int(np.argmax(keras.ops.convert_to_numpy(model(x, training=False))))
    what = f"{layer} channel ranking for a class, explored image"

    def ours() -> np.ndarray:
        ex.forget()  # the ranking memo; the engine's cache keeps the explored layer
        ex.channel_order = "index"
        ex.target = target
        ex.channel_order = "class"
        return ex.channel_ranking()

    if keras.backend.backend() != "tensorflow":  # the baseline is a TensorFlow tape
        ours()
        return Row("compare", label, what, median_seconds(ours, repeat), None,
                   "GradientTape around a two-output sub-model",
                   extra="the baseline is TensorFlow only")
    import tensorflow as tf

    linear = keras.models.clone_model(model)
    linear.set_weights(model.get_weights())
    linear.layers[-1].activation = keras.activations.linear
    probe = keras.Model(linear.inputs, [linear.get_layer(layer).output, linear.outputs[0]])

    def by_hand() -> np.ndarray:
        with tf.GradientTape() as tape:
            feature, out = probe(x, training=False)
            score = out[:, target]
        grads = tape.gradient(score, feature)
        return tf.reduce_mean(grads * feature, axis=(1, 2)).numpy()[0]

    from tests.engine.oracle import assert_order_agrees

    ours()  # trace the compiled head once, as the first ranking does
    by_hand()
    ranked = ours()
    scores = by_hand()
    # the same top 10, but for channels whose contributions tie to float32 rounding (a
    # whole-model tape and the compiled head add the gradient up in another order)
    try:
        assert_order_agrees(ranked[:10], scores, rtol=1e-4,
                            atol=1e-6 * float(np.abs(scores).max()))
    except AssertionError as error:
        raise AssertionError(
            f"the ranking differs from the hand computation: {ranked[:10]}") from error
    ours_s = median_seconds(ours, repeat)
    hand_s = median_seconds(by_hand, repeat)
    verdict = "met" if hand_s / ours_s >= 1.0 else "MISSED"
    return Row("compare", label, what,
               ours_s, hand_s, "GradientTape around a two-output sub-model",
               ">= 1x", f"{verdict}; the same top 10 channels as by hand")


def run(repeat: int = 5) -> list[Row]:
    """Time a compare redraw and a class ranking."""
    return [*_compare_rows(repeat * 2), _ranking_row(repeat)]
