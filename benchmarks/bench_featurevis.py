"""Feature visualisation on HED VGG16 at 128 px: seconds per 256 steps, Fourier against pixels.

Ours is :class:`ActivationMaximization`'s default (1/f Fourier image, decorrelated
colour, lucid's standard transforms, redirected ReLU gradient); the baseline is the
pixel-space method of the same class (``param="pixels"``: jitter and blur), in the same
run on the same channel. A few steps are timed after a short warm-up and scaled to 256,
so the suite stays under about a minute; the Fourier image is seen through padding and
scaling, so each of its steps runs the network on a slightly larger image.
"""

from __future__ import annotations

import time

from ._table import Row

LAYER, CHANNEL = "block4_conv1", 10
SIZE = 128
TIMED_STEPS = 8
PER = 256


def _seconds_per(am, param: str) -> float:
    am(LAYER, channel=CHANNEL, steps=2, size=SIZE, param=param)  # warm-up
    start = time.perf_counter()
    am(LAYER, channel=CHANNEL, steps=TIMED_STEPS, size=SIZE, param=param)
    return (time.perf_counter() - start) * PER / TIMED_STEPS


def run() -> list[Row]:
    """One row: seconds per 256 steps of the default method, the pixel method as baseline."""
    from cnnviz_widgets import zoo
    from cnnviz_widgets.attribution import ActivationMaximization

    model = zoo.vgg16(weights="hed", input_shape=(None, None, 3))
    am = ActivationMaximization(model)
    ours = _seconds_per(am, "fourier")
    pixels = _seconds_per(am, "pixels")
    return [Row(
        "feature visualisation", f"VGG16 (HED weights, {SIZE}x{SIZE})",
        f"256 steps, {LAYER} channel {CHANNEL}", ours, pixels, 'param="pixels"',
        extra=f"{TIMED_STEPS} steps timed, scaled to {PER}",
    )]
