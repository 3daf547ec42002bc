"""Feature visualisation on HED VGG16 at 128 px: seconds per 256 steps, against its limit.

Ours is :class:`ActivationMaximization`'s default (1/f Fourier image, decorrelated
colour, lucid's standard transforms, redirected ReLU gradient), one whole call of 256
steps on a fresh objective, its compilation included. The limit beside it is the
optimiser's own forward and backward pass, bare: one compiled program
(:func:`cnnviz_widgets.attribution.autodiff.program`: a ``tf.function`` or a
``jax.jit``) of the gradient of the channel's mean with respect to the input, through
the same layers (the model up to the layer, as the optimiser runs it), batch of one, at
the size the model sees, times 256: the median of passes timed between the method's own
steps (:class:`Interleaved`: two every 16 steps, their time taken off the method's), so a
drift of a shared machine's load hits both. Goal: within 1.3x of it. The standard transforms pad,
crop and scale a 128 px image, so the model sees 140 px (:func:`seen_side`: the side of
the mean area over the drawn scales; TensorFlow draws 132 to 147 px, JAX keeps 140 px).
The row also gives the ratio to a bare pass at 128 px, the stricter reference: lucid's
transforms alone make each pass about 1.2x the work of one at 128 px.

The pixel-space method (``param="pixels"``: jitter and blur) runs the same 256 steps, one
whole call too (timing part of the steps and scaling up would count the compilation
several times), against the limit at the size it shows the model.
"""

from __future__ import annotations

import time

import numpy as np

from ._table import Row, median_seconds

LAYER, CHANNEL = "block4_conv1", 10
SIZE = 128
STEPS = 256
GOAL = 1.3


def seen_side(transforms, size: int = SIZE, draws: int = 200) -> int:
    """The side of the mean area the model sees after ``transforms`` of a ``size`` px
    image, over ``draws`` seeded draws (the transforms' own output shapes)."""
    from cnnviz_widgets._keras import keras

    rng = np.random.default_rng(0)
    x = keras.ops.zeros((1, size, size, 3))
    areas = []
    for _ in range(draws):
        y = x
        for transform in transforms:
            y = transform(y, rng)
        areas.append(int(y.shape[1]) * int(y.shape[2]))
    return round(float(np.sqrt(np.mean(areas))))


def _bare_pass(model, size: int = SIZE):
    """One bare compiled forward+backward to LAYER at ``size`` px, batch of one, as a
    function of nothing (compiled and run once here)."""
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

    def run():
        return autodiff.to_numpy(program(x))

    run()  # compiled here
    return run


class Interleaved:
    """A progress function that times bare passes between the method's steps.

    Every ``every`` steps it runs each pass ``runs`` times, so a drift of a shared
    machine's load hits the method and its limit alike; :attr:`spent` is the time it
    took, to be taken off the method's wall time.
    """

    def __init__(self, passes: dict, every: int = 16, runs: int = 2):
        self.passes, self.every, self.runs = passes, every, runs
        self.samples: dict = {key: [] for key in passes}
        self.spent = 0.0

    def __call__(self, step: int, total: int) -> None:
        if step % self.every and step != 1:
            return
        start = time.perf_counter()
        for key, run in self.passes.items():
            for _ in range(self.runs):
                self.samples[key].append(median_seconds(run, 1))
        self.spent += time.perf_counter() - start

    def seconds(self, key) -> float:
        """Median seconds of one pass ``key``."""
        return float(np.median(self.samples[key]))

    def timed(self, method) -> float:
        """Wall seconds of ``method(progress=self)`` without the passes timed here."""
        start = time.perf_counter()
        method(progress=self)
        return time.perf_counter() - start - self.spent


def _verdict(ours: float, limit: float) -> str:
    ratio = ours / limit
    return f"{ratio:.2f}x the limit ({'met' if ratio <= GOAL else 'MISSED'})"


def run() -> list[Row]:
    """Rows: the default method and the pixel method, each against the bare limit."""
    from cnnviz_widgets import zoo
    from cnnviz_widgets.attribution import ActivationMaximization
    from cnnviz_widgets.attribution.maximize import DEFAULT_TRANSFORMS
    from cnnviz_widgets.attribution.transforms import standard_transforms

    model = zoo.vgg16(weights="hed", input_shape=(None, None, 3))
    am = ActivationMaximization(model)
    seen = seen_side(standard_transforms(SIZE))
    pixels_seen = seen_side(DEFAULT_TRANSFORMS)
    passes = {seen: _bare_pass(model, seen), SIZE: _bare_pass(model)}
    default = Interleaved(passes)
    results = []

    def method(**kwargs):
        results.append(am(LAYER, channel=CHANNEL, steps=STEPS, size=SIZE, **kwargs))

    ours = default.timed(method)
    limit, strict = default.seconds(seen) * STEPS, default.seconds(SIZE) * STEPS
    pixel = Interleaved({pixels_seen: passes.get(pixels_seen)
                         or _bare_pass(model, pixels_seen)})
    pixels = pixel.timed(lambda **kwargs: method(param="pixels", **kwargs))
    pixel_limit = pixel.seconds(pixels_seen) * STEPS
    result, pixels_result = results
    label = f"VGG16 (HED weights, {SIZE}x{SIZE})"
    goal = f"<= {GOAL}x the limit"
    return [
        Row("feature visualisation", label, f"{STEPS} steps, {LAYER} channel {CHANNEL}",
            ours, limit, f"limit: bare fwd+bwd to {LAYER} at the {seen} px seen x{STEPS}",
            goal,
            extra=f"one call, compilation included ({result.extra['traces']} traces); "
                  f"{_verdict(ours, limit)}; {ours / strict:.2f}x a bare pass at {SIZE} px "
                  f"({strict:.1f} s)"),
        Row("feature visualisation", label, f'{STEPS} steps, param="pixels"', pixels,
            pixel_limit,
            f"limit: bare fwd+bwd to {LAYER} at the {pixels_seen} px seen x{STEPS}", goal,
            extra=f"one call, compilation included "
                  f"({pixels_result.extra['traces']} traces); {_verdict(pixels, pixel_limit)}"),
    ]
