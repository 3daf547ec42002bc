"""Transforms, regularisers and callbacks: small objects with exact, hand-checked effects."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnviz_widgets.attribution import (
    Blur,
    Callback,
    CallbackList,
    FunctionProgress,
    Jitter,
    TotalVariation,
    WidgetProgress,
    as_callback,
)
from cnnviz_widgets.attribution.callbacks import reporting
from cnnviz_widgets.attribution.regularizers import gaussian_blur

from .helpers import numpy, tensor


def test_jitter_rolls_by_the_offsets_the_generator_draws():
    x = np.arange(2 * 6 * 7 * 1, dtype=np.float32).reshape(2, 6, 7, 1)
    got = numpy(Jitter(3)(tensor(x), np.random.default_rng(11)))
    dy, dx = np.random.default_rng(11).integers(-3, 4, size=2)
    np.testing.assert_array_equal(got, np.roll(x, (dy, dx), axis=(1, 2)))
    assert (dy, dx) != (0, 0)  # the seed moves the image (else the test shows nothing)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    same = tensor(x)
    assert Jitter(0)(same, rng) is same and rng.bit_generator.state == state


def test_total_variation_is_the_mean_absolute_neighbour_difference():
    x = np.random.default_rng(0).uniform(size=(1, 5, 4, 3)).astype(np.float32)
    want = 0.7 * (np.abs(np.diff(x, axis=1)).mean() + np.abs(np.diff(x, axis=2)).mean())
    got = float(numpy(TotalVariation(0.7).penalty(tensor(x))))
    assert got == pytest.approx(want, rel=1e-5)  # float32 means, added up in another order
    assert TotalVariation(0.0).penalty(tensor(x)) is None
    assert TotalVariation(0.7).update(x, 3) is x


def test_blur_of_a_point_is_the_normalised_gaussian_kernel():
    u = np.zeros((1, 15, 15, 1))
    u[0, 7, 7, 0] = 1.0
    t = np.arange(-3, 4, dtype=np.float64)  # radius ceil(3 * sigma) for sigma 1
    k = np.exp(-0.5 * t**2)
    k /= k.sum()
    want = np.zeros((15, 15))
    want[4:11, 4:11] = np.outer(k, k)
    np.testing.assert_allclose(gaussian_blur(u, 1.0)[0, ..., 0], want, atol=1e-15)
    blur = Blur(every=3, sigma=1.0)
    assert blur.penalty(u) is None
    assert blur.update(u, 2) is u and blur.update(u, 4) is u
    np.testing.assert_array_equal(blur.update(u, 6), gaussian_blur(u, 1.0))
    assert Blur(every=0).update(u, 4) is u and Blur(sigma=0).update(u, 4) is u


def test_as_callback_wraps_each_kind_once():
    assert type(as_callback(None)) is Callback
    rec = Callback()
    assert as_callback(rec) is rec
    calls = []
    fn = as_callback(lambda step, total: calls.append((step, total)))
    assert isinstance(fn, FunctionProgress)
    fn(2, 5, 0.3)
    assert calls == [(2, 5)]

    class Bar:
        value = 0
        max = 1

    bar = Bar()
    wrapped = as_callback(bar)
    assert isinstance(wrapped, WidgetProgress)
    wrapped.on_begin(7)
    wrapped(3, 7, math.nan)
    assert (bar.max, bar.value) == (7, 3)
    both = as_callback([bar, lambda s, t: calls.append(s)])
    assert isinstance(both, CallbackList) and len(both.callbacks) == 2
    both(4, 7, 1.0)
    assert bar.value == 4 and calls[-1] == 4
    with pytest.raises(TypeError, match="IntProgress"):
        as_callback("fast")


def test_reporting_begins_and_always_ends():
    events = []

    class Recorder(Callback):
        def on_begin(self, total):
            events.append(("begin", total))

        def __call__(self, step, total, value):
            events.append((step, value))

        def on_end(self):
            events.append("end")

    with reporting(Recorder(), 2) as report:
        report(1, 2, 0.5)
    assert events == [("begin", 2), (1, 0.5), "end"]
    events.clear()
    with pytest.raises(KeyError), reporting(Recorder(), 3):
        raise KeyError("boom")
    assert events == [("begin", 3), "end"]
