"""Feature visualisation on HED VGG16 at 128 px: seconds per 256 steps, against its limit.

Ours is :class:`ActivationMaximization`'s default (1/f Fourier image, decorrelated
colour, lucid's standard transforms, redirected ReLU gradient), one whole call of 256
steps on a fresh objective, its compilation included. The limit beside it is the
optimiser's own forward and backward pass, bare: one compiled program
(:func:`cnnviz_widgets.attribution.autodiff.program`: a ``tf.function`` or a
``jax.jit``) of the gradient of the channel's mean with respect to the input, through
the same layers (the model up to the layer, as the optimiser runs it), batch of one at
128 px, median of several runs (measured before and after each method, the mean of
the two), times 256. Goal: within 1.3x of it. The standard
transforms pad, crop and scale, so the model sees 140 px (TensorFlow: 130 to 154 px as the
scale is drawn; JAX: 140 px, the scale keeps the size): the limit at 128 px is the stricter
one, and the default method's row also gives its ratio to a bare pass at 140 px.

The pixel-space method (``param="pixels"``: jitter and blur) is timed on 64 steps and
scaled to 256, against the same limit.
"""

from __future__ import annotations

import time

import numpy as np

from ._table import Row, median_seconds

LAYER, CHANNEL = "block4_conv1", 10
SIZE = 128
STEPS = 256
PIXEL_STEPS = 64
GOAL = 1.3
#: The side the model sees under lucid's standard transforms: pad 12, crop 8, crop 4.
SEEN = SIZE + 2 * 12 - 8 - 4


def _limit(model, size: int = SIZE) -> float:
    """Seconds of one bare compiled forward+backward to LAYER at ``size`` px, batch of
    one."""
    from cnnviz_widgets._keras import keras
    from cnnviz_widgets.attribution import autodiff

    sub = keras.Model(model.inputs, model.get_layer(LAYER).output)

    def gradient(x):
        def score(t):
            return keras.ops.mean(sub(t)[..., CHANNEL], axis=(1, 2))
        return autodiff.value_and_gradient(score, x)[1][0]

    program = autodiff.program(gradient, sub.variables) or gradient
    x = autodiff.to_tensor(np.random.default_rng(0).uniform(-100, 100, (1, size, size, 3))
                           .astype(np.float32))
    autodiff.to_numpy(program(x))  # compiled here
    return median_seconds(lambda: autodiff.to_numpy(program(x)), 5)


def _verdict(ours: float, limit: float) -> str:
    ratio = ours / limit
    return f"{ratio:.2f}x the limit ({'met' if ratio <= GOAL else 'MISSED'})"


def run() -> list[Row]:
    """Rows: the default method and the pixel method, each against the bare limit."""
    from cnnviz_widgets import zoo
    from cnnviz_widgets.attribution import ActivationMaximization

    model = zoo.vgg16(weights="hed", input_shape=(None, None, 3))
    am = ActivationMaximization(model)
    limit = _limit(model)  # measured around each method, for a load that drifts
    start = time.perf_counter()
    result = am(LAYER, channel=CHANNEL, steps=STEPS, size=SIZE)
    ours = time.perf_counter() - start
    second = _limit(model)
    start = time.perf_counter()
    pixels_result = am(LAYER, channel=CHANNEL, steps=PIXEL_STEPS, size=SIZE, param="pixels")
    pixels = (time.perf_counter() - start) * STEPS / PIXEL_STEPS
    third = _limit(model)
    seen = _limit(model, SEEN) * STEPS
    limit, pixel_limit = (limit + second) / 2 * STEPS, (second + third) / 2 * STEPS
    label = f"VGG16 (HED weights, {SIZE}x{SIZE})"
    baseline = f"limit: bare fwd+bwd to {LAYER} x{STEPS}"
    goal = f"<= {GOAL}x the limit"
    return [
        Row("feature visualisation", label, f"{STEPS} steps, {LAYER} channel {CHANNEL}",
            ours, limit, baseline, goal,
            extra=f"one call, compilation included ({result.extra['traces']} traces); "
                  f"{_verdict(ours, limit)}; {ours / seen:.2f}x a bare pass at the {SEEN} px "
                  "the model sees"),
        Row("feature visualisation", label, f'{STEPS} steps, param="pixels"', pixels,
            pixel_limit, baseline, goal,
            extra=f"{PIXEL_STEPS} steps timed, scaled to {STEPS} "
                  f"({pixels_result.extra['traces']} traces); {_verdict(pixels, pixel_limit)}"),
    ]
