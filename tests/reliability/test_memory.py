"""Memory: the activation cache keeps to its budget, RSS stays bounded, closed panels are freed."""

from __future__ import annotations

import gc
import weakref

import ipywidgets.widgets.widget as widget_module
import keras
import numpy as np
import psutil
import pytest

from cnnviz_widgets import ActivationEngine, explore
from cnnviz_widgets.testing import digits_like_cnn

MiB = 2**20
BUDGET = 16 * MiB
SIDE = 64  # VGG16 at 64 x 64: all 18 layers hold ~5.6 MiB of activations per image


def _rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


@pytest.mark.slow
def test_100_images_through_every_vgg16_layer_stay_within_budget():
    keras.utils.set_random_seed(0)
    model = keras.applications.VGG16(weights=None, include_top=False,
                                     input_shape=(SIDE, SIDE, 3))
    engine = ActivationEngine(model, cache_bytes=BUDGET)
    names = engine.layer_names
    assert len(names) == 18  # 13 convolutions and 5 poolings
    per_image = sum(int(np.prod(engine.layer(n).output_shape)) * 4 for n in names)
    assert per_image > BUDGET / 4  # the budget really forces evictions
    rng = np.random.default_rng(0)
    baseline = None
    peak = 0
    for i in range(100):
        image = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
        order = names if i % 2 == 0 else names[::-1]  # deep-first walks too
        for name in order:
            act = engine.activation(name, image)
            assert act.shape == engine.layer(name).output_shape
            assert engine.stats.cache_bytes <= BUDGET  # at every step
        del act
        if i == 9:
            baseline = _rss()  # after warm-up: TF kernels, allocator pools, a full cache
        elif i > 9 and i % 10 == 9:
            peak = max(peak, _rss() - baseline)
    stats = engine.stats
    assert stats.evictions > 0 and stats.cache_bytes <= BUDGET
    # each image ran every layer once: walking down reuses the cache, walking up reuses it
    assert stats.layer_evaluations <= 100 * len(names)
    # Without eviction the cache alone would grow by 90 images x ~5.6 MiB = ~500 MiB after
    # warm-up; the bound (the budget plus 48 MiB of allocator noise) is a tenth of that, so
    # any leak of a sizeable share of the activations fails, while normal malloc/TF churn
    # (observed: a few MiB) passes.
    assert peak < BUDGET + 48 * MiB, f"RSS grew by {peak / MiB:.1f} MiB after warm-up"
    engine.clear_cache()
    assert engine.stats.cache_bytes == 0


@pytest.mark.slow
def test_closed_explorers_and_their_engines_are_freed():
    model = digits_like_cnn()
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    registry = widget_module._instances
    before = len(registry)
    refs = []
    rss_after_first = None
    for i in range(20):
        ex = explore(model, images, include_samples=False)
        for name in ("conv1", "pool2", "conv3", "predictions"):
            ex.layer = name  # fill the cache, draw maps and a vector
        ex.backend = "bqplot"
        ex.layer = "conv2"
        ex.image_index = 3
        refs.append((weakref.ref(ex), weakref.ref(ex.engine)))
        ex.close()
        del ex
        if i == 0:
            rss_after_first = _rss()
    gc.collect()
    alive = [i for i, (a, b) in enumerate(refs) if a() is not None or b() is not None]
    assert alive == [], f"explorers still alive after close(): {alive}"
    assert len(registry) == before, "closed panels left widgets in ipywidgets' registry"
    # 19 more panels, each of which held ~3 MiB of activations and many widgets
    assert _rss() - rss_after_first < 40 * MiB


def test_an_unclosed_explorer_is_kept_alive_by_the_registry():
    # the reason close() must close every child: ipywidgets holds them until then
    model = digits_like_cnn()
    ex = explore(model, np.zeros((1, 28, 28), np.uint8), include_samples=False)
    ref = weakref.ref(ex)
    engine = ex.engine
    del ex
    gc.collect()
    assert ref() is not None
    ref().close()
    gc.collect()
    assert ref() is None
    # an engine given by the caller is theirs: close() leaves its cache alone
    shared = ActivationEngine(model)
    ex = explore(shared, np.zeros((1, 28, 28), np.uint8), include_samples=False)
    ex.current_activation()
    held = shared.stats.cache_bytes
    ex.close()
    assert held > 0 and shared.stats.cache_bytes == held
    del engine
