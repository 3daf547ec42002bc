"""Bursts of changes, as a fast slider drag sends them: the last state wins, exactly once each.

500 seeded random changes of layer, channel, normalisation, image (and a few pages and
colour maps), valid and invalid interleaved, some from Python and some as the front end
sends them (``set_state`` on the controls). Afterwards the view on screen must equal the
view computed independently, from a fresh engine and the colour functions, for the final
state; every redraw must show the state at the time it was drawn; and every change costs
at most one redraw (none when it is refused or changes nothing).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine, explore
from cnnviz_widgets.colour.normalize import (
    NORMALIZATIONS,
    apply_normalization,
    normalization_stats,
)
from cnnviz_widgets.errors import CnnvizError
from cnnviz_widgets.layout import order_channels, page_of
from cnnviz_widgets.render.maps import render_grid
from cnnviz_widgets.render.view import ErrorValue
from cnnviz_widgets.testing import digits_like_cnn

_FIELDS = ("layer", "channel", "normalization", "image_index", "page", "colormap")


def _state(ex) -> tuple:
    return tuple(getattr(ex, f) for f in _FIELDS)


def _independent_view(engine: ActivationEngine, images, state, per_page: int) -> np.ndarray:
    layer, channel, mode, index, page, cmap = state
    act = engine.activation(layer, images[index])
    if act.ndim == 1:
        return np.asarray(act, np.float32)[None, :]
    maps = act if act.ndim == 3 else act[..., None]
    if channel is not None:
        raw = maps[..., channel].astype(np.float32)
        return apply_normalization(raw, normalization_stats(maps, mode, [channel]))
    shown = page_of(order_channels(maps, "index"), page, per_page)
    return render_grid(maps, shown, mode, cmap, min_side=448).view


@pytest.fixture(scope="module")
def model():
    return digits_like_cnn(seed=3)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(7).integers(0, 256, (6, 28, 28), dtype=np.uint8)


def test_500_random_changes_end_on_the_right_view(model, images):
    ex = explore(model, images, include_samples=False, per_page=16)
    names = ex.engine.layer_names
    records: list[tuple[tuple, np.ndarray | None]] = []
    original = ex._draw

    def recording_render() -> None:
        original()
        view = None
        if not isinstance(ex.value, ErrorValue):
            view = ex.current_view()
        records.append((_state(ex), view))

    ex._draw = recording_render
    rng = np.random.default_rng(2024)
    refused = redraws_without_change = 0
    for step in range(500):
        kind = rng.choice(["layer", "channel", "channel", "channel", "normalization", "image",
                           "page", "colormap"])
        channels = ex.channel_count()
        if kind == "layer":
            value = (str(rng.choice(names)) if rng.random() < 0.85
                     else str(rng.choice(names)) + "_typo")
        elif kind == "channel":
            value = (None if rng.random() < 0.1
                     else int(rng.integers(-2, channels + 3)))  # a few out of range
        elif kind == "normalization":
            value = str(rng.choice([*NORMALIZATIONS, "bogus"]))
        elif kind == "image":
            value = int(rng.integers(-1, len(images) + 1))
        elif kind == "page":
            value = int(rng.integers(0, ex.page_count() + 1))
        else:
            value = str(rng.choice(["viridis", "magma", "gray", "no-such-map"]))
        trait = {"image": "image_index"}.get(kind, kind)
        before, renders = _state(ex), ex.render_count
        from_control = rng.random() < 0.4
        try:
            if from_control and trait == "channel" and value is not None and value >= 0:
                slider = ex.controls["channel"]
                slider.set_state({"value": min(value, slider.max)})
            elif from_control and trait == "normalization" and value in NORMALIZATIONS:
                ex.controls["normalization"].set_state({"index": NORMALIZATIONS.index(value)})
            elif from_control and trait == "layer" and value in names:
                ex.controls["layer"].set_state({"index": names.index(value)})
            else:
                setattr(ex, trait, value)
        except CnnvizError:
            refused += 1
            assert _state(ex) == before, step  # a refused change leaves everything as it was
            assert ex.errors.message != ""
        delta = ex.render_count - renders
        assert delta <= 1, (step, kind, value, delta)  # never more than one redraw per change
        assert delta == int(_state(ex) != before), (step, kind, value)
        redraws_without_change += delta and _state(ex) == before
        if delta:
            assert records[-1][0] == _state(ex)  # the redraw showed the newest state
    assert refused > 20 and redraws_without_change == 0

    final = _state(ex)
    fresh = ActivationEngine(model)
    # the last redraw was of the final state, and nothing was drawn after it
    assert records[-1][0] == final
    np.testing.assert_array_equal(records[-1][1], ex.current_view())
    np.testing.assert_allclose(ex.current_view(),
                               _independent_view(fresh, ex.images, final, ex.per_page),
                               atol=1e-6, equal_nan=True)
    # the activation equals Keras' own answer for the final layer and image
    layer = model.get_layer(ex.layer)
    oracle = keras.Model(model.inputs[0], layer.output)(fresh.prepare(ex.images[ex.image_index]))
    np.testing.assert_allclose(ex.current_activation(), np.asarray(oracle)[0], rtol=1e-5,
                               atol=1e-6)
    # every redraw showed the state it was drawn for (checked on a sample, against a fresh
    # engine, so a stale activation or a stale normalisation would be caught)
    for state, view in records[:: max(1, len(records) // 25)]:
        assert view is not None
        np.testing.assert_allclose(view, _independent_view(fresh, ex.images, state, ex.per_page),
                                   atol=1e-6, equal_nan=True)
    # the burst ran each (layer, image) through the model at most once per cache lifetime
    assert ex.engine.stats.layer_evaluations <= len(names) * len(images)
    ex.close()


def test_a_burst_inside_hold_draws_once_with_the_final_state(model, images):
    ex = explore(model, images, include_samples=False)
    renders = ex.render_count
    rng = np.random.default_rng(5)
    with ex.batch():
        for _ in range(200):
            ex.channel = int(rng.integers(0, 32))
            ex.normalization = str(rng.choice(NORMALIZATIONS))
            ex.image_index = int(rng.integers(0, len(images)))
    assert ex.render_count == renders + 1
    fresh = ActivationEngine(model)
    np.testing.assert_allclose(ex.current_view(),
                               _independent_view(fresh, ex.images, _state(ex), ex.per_page),
                               atol=1e-6)
    ex.close()
