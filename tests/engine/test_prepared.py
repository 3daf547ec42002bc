"""The memo of prepared inputs: inside the byte budget, keyed by content, never stale."""

from __future__ import annotations

import gc
import io
import weakref

import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.testing import counting_cnn, tiny_cnn

from .oracle import assert_matches, oracle_activation, oracle_prepare


def _image(seed, shape=(8, 8)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_paging_through_300_images_keeps_the_engine_within_its_budget():
    budget = 6_000  # a few images' activations; each prepared input is 256 bytes
    engine = ActivationEngine(tiny_cnn(), cache_bytes=budget)
    first = _image(0)
    first.flags.writeable = False  # as the explorer holds its images
    prepared_first = weakref.ref(engine.prepare(first))
    held = []
    for seed in range(300):
        image = _image(seed)
        image.flags.writeable = False
        engine.activation("conv_b", image)
        assert engine.stats.cache_bytes <= budget
        held.append(engine.stats.cache_bytes)
    assert engine.stats.preparations == 300  # the first image once, then 299 new ones
    assert engine.stats.evictions > 250
    gc.collect()
    # nothing outside the budget keeps an old image's prepared batch alive
    assert prepared_first() is None
    assert max(held) <= budget


def test_a_read_only_view_of_a_changed_array_gives_the_new_activations():
    model = tiny_cnn()
    engine = ActivationEngine(model)
    base = np.zeros((8, 8), np.uint8)
    view = base.view()
    view.flags.writeable = False
    before = engine.activation("conv_b", view)
    assert_matches(before, oracle_activation(model, "conv_b", oracle_prepare(base.copy(), (8, 8))))
    base[...] = 255
    base[2:5, 3:7] = 40  # not constant either, so no layer could hide the change
    after = engine.activation("conv_b", view)
    assert_matches(after, oracle_activation(model, "conv_b", oracle_prepare(base.copy(), (8, 8))))
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(engine.prepare(view)[0, ..., 0], base / np.float32(255))


def test_a_writeable_array_changed_in_place_is_recomputed():
    model, counter = counting_cnn()
    engine = ActivationEngine(model)
    image = np.zeros((16, 16), np.uint8)
    engine.activation("conv1", image)
    image[4:8, 4:8] = 200
    changed = engine.activation("conv1", image)
    assert counter["conv1"] == 2
    expected = oracle_activation(model, "conv1", oracle_prepare(image.copy(), (16, 16)))
    assert_matches(changed, expected)


@pytest.mark.parametrize("frozen", [True, False], ids=["read-only", "writeable"])
def test_repeated_requests_prepare_an_array_once(frozen):
    engine = ActivationEngine(tiny_cnn())
    image = _image(1)
    image.flags.writeable = not frozen
    for name in engine.layer_names:
        engine.activation(name, image)
    engine.prepare(image)
    assert engine.stats.preparations == 1


def test_encoded_bytes_are_prepared_once():
    engine = ActivationEngine(tiny_cnn())
    buffer = io.BytesIO()
    Image.fromarray(_image(2, (20, 20))).save(buffer, format="PNG")
    data = buffer.getvalue()
    first = engine.activation("conv_a", data)
    np.testing.assert_array_equal(engine.activation("conv_a", bytes(data)), first)
    assert engine.stats.preparations == 1


def test_without_a_cache_nothing_is_kept_and_each_request_prepares_again():
    engine = ActivationEngine(tiny_cnn(), cache_bytes=0)
    image = _image(3)
    image.flags.writeable = False
    engine.activation("conv_a", image)
    engine.activation("conv_a", image)
    assert engine.stats.preparations == 2 and engine.stats.cache_bytes == 0


def test_features_of_a_data_set_do_not_fill_the_cache():
    engine = ActivationEngine(tiny_cnn())
    engine.features("conv_b", [_image(s) for s in range(20)])
    assert engine.stats.cache_bytes == 0


def test_a_new_preprocess_function_is_used_at_once():
    model = tiny_cnn()
    engine = ActivationEngine(model)
    image = _image(4)
    image.flags.writeable = False
    engine.activation("conv_a", image)
    engine.preprocess = lambda x: x / 127.5 - 1.0
    x = oracle_prepare(image, (8, 8), lambda x: x / 127.5 - 1.0)
    assert_matches(engine.activation("conv_a", image), oracle_activation(model, "conv_a", x))


def test_a_frozen_image_is_hashed_once_and_anything_else_by_its_content(monkeypatch):
    """A cached request for a frozen image (read-only all the way down, as the panels hold
    their images) does not hash it again; a read-only view of a writeable array does."""
    from cnnviz_widgets.engine import cache

    hashed = []
    real = cache.fingerprint
    monkeypatch.setattr(cache, "fingerprint",
                        lambda x: hashed.append(x.shape) or real(x))
    engine = ActivationEngine(tiny_cnn())
    frozen = _image(7)
    frozen.flags.writeable = False
    rows = np.stack([_image(8), _image(9)])
    rows.flags.writeable = False
    for image in (frozen, rows[1]):  # a row of a frozen stack is frozen too
        engine.activation("conv_b", image)
        hashed.clear()
        for _ in range(5):
            engine.activation("conv_b", image)
        assert hashed == []
    base = _image(10)
    view = base.view()
    view.flags.writeable = False
    engine.activation("conv_b", view)
    hashed.clear()
    engine.activation("conv_b", view)
    assert hashed == [(8, 8)]  # its base can change: checked by content every time
    base[...] = 255 - base
    assert_matches(engine.activation("conv_b", view),
                   oracle_activation(engine.model, "conv_b", oracle_prepare(base.copy(), (8, 8))))
