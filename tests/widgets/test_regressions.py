"""One test per bug found in the explorer, filters and attribution panels."""

from __future__ import annotations

import ipywidgets.widgets.widget as widget_module
import numpy as np
import pytest

from cnnviz_widgets import AttributionPanel, FilterExplorer, explore
from cnnviz_widgets.errors import InvalidSettingError, LayerNotViewableError
from cnnviz_widgets.render.view import ErrorValue, MapValue
from cnnviz_widgets.testing import digits_like_cnn
from tests.widgets.oracle import layer_output


@pytest.fixture(scope="module")
def model():
    return digits_like_cnn()


@pytest.fixture
def ex(model):
    digits = np.random.default_rng(3).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    return explore(model, digits, include_samples=False, layer="conv2")


@pytest.mark.parametrize("normalization", ["layer", "signed", "standardize", "channel"])
def test_one_channel_colour_bar_reads_the_scale_the_colours_use(model, ex, normalization):
    """Bug 1: with one channel shown and a scale over the layer, the colour bar read the
    channel's own range while the colours used the layer's."""
    ex.channel = 5
    ex.normalization = normalization
    act = layer_output(model, ex.layer, ex)
    channel = act[..., 5]
    expected = {
        "layer": (act.min(), act.max()),
        "signed": (-np.abs(act).max(), np.abs(act).max()),
        "channel": (channel.min(), channel.max()),
        "standardize": (channel.mean() - 2 * channel.std(),
                        channel.mean() + 127 / 64 * channel.std()),
    }[normalization]
    value = ex.value
    assert isinstance(value, MapValue)
    np.testing.assert_allclose(value.scale, expected, rtol=1e-4, atol=1e-5)
    # the colours: a pixel's normalised value is where its activation sits on that scale
    lo, hi = value.scale
    if normalization != "standardize":
        np.testing.assert_allclose(ex.current_view(), np.clip((channel - lo) / (hi - lo), 0, 1),
                                   atol=1e-5)
    assert value.scale_labels == (f"{lo:.3g}", f"{hi:.3g}")


def test_a_failed_draw_leaves_no_picture_to_save_or_show(ex, monkeypatch):
    """Bug 2: after a failed render, save() and the static PNG reused the old picture."""
    assert isinstance(ex.value, MapValue)
    assert "image/png" in ex._repr_mimebundle_()

    def broken(*args, **kwargs):
        raise LayerNotViewableError("this layer cannot be drawn")

    monkeypatch.setattr(ex.engine, "activation", broken)
    ex.image_index = 1  # a new image: the engine is asked, and fails
    assert isinstance(ex.value, ErrorValue)
    assert "cannot be drawn" in ex.errors.message
    with pytest.raises(LayerNotViewableError):
        ex.save()
    with pytest.raises(LayerNotViewableError):
        ex.current_view()
    assert "image/png" not in ex._repr_mimebundle_()
    assert ex.canvas.image.layout.display == "none"
    monkeypatch.undo()
    ex.image_index = 2
    assert isinstance(ex.value, MapValue) and ex.errors.message == ""
    assert ex.canvas.image.layout.display is None


def test_attribution_panel_closes_the_controls_it_replaces(model):
    """Bug 4: every method switch built new controls and never closed the old ones."""
    panel = AttributionPanel(model, np.zeros((2, 28, 28), np.uint8), auto_run=False)
    from cnnviz_widgets.widgets.panel import _widget_tree

    before = set(widget_module._instances)
    for method in ["saliency", "gradcam", "saliency", "gradcam"]:
        panel.method = method
    grown = set(widget_module._instances) - before
    on_screen = {w.model_id for w in _widget_tree(list(panel.controls.values()))}
    assert grown and grown <= on_screen  # only the controls shown now are alive
    old = [w.model_id for w in _widget_tree(list(panel.controls.values()))]
    panel.method = "saliency"
    assert not any(i in widget_module._instances for i in old)
    ids = [w.model_id for w in panel.controls.values()] + [panel.model_id]
    panel.close()
    assert not any(i in widget_module._instances for i in ids)


@pytest.mark.parametrize(("name", "value"), [("filter", "3"), ("page", 1.5),
                                             ("normalization", "global"), ("view", 3),
                                             ("hide_dead", "yes"), ("layer", 7)])
def test_filter_explorer_wrong_types_are_our_error_in_the_panel(model, name, value):
    """Bug 5: FilterExplorer used plain traits; a wrong type raised a bare TraitError."""
    panel = FilterExplorer(model)
    before = getattr(panel, name)
    with pytest.raises(InvalidSettingError):
        setattr(panel, name, value)
    assert getattr(panel, name) == before
    assert panel.errors.message


def test_save_returns_the_figure(ex, tmp_path):
    """Bug 7: save() returned None."""
    from matplotlib.figure import Figure

    fig = ex.save()
    assert isinstance(fig, Figure)
    assert ex.save(tmp_path / "x.png") is not fig and (tmp_path / "x.png").stat().st_size > 0


_HALF_BUILT = """
import numpy as np
from cnnviz_widgets import FilterExplorer, explore
from cnnviz_widgets.errors import CnnvizError, UnsupportedModelError
from cnnviz_widgets.testing import tiny_cnn, tiny_text_model

try:
    explore(tiny_text_model())
except UnsupportedModelError:
    print("refused")
try:
    explore(tiny_cnn(), include_samples=False)  # no images: refused after the engine
except CnnvizError:
    print("no images")
try:
    FilterExplorer(tiny_text_model())
except UnsupportedModelError:
    print("refused")
"""


def test_a_panel_refused_half_way_closes_quietly_at_clean_up():
    """Bug: explore(a model with token input) raised the right error, then at interpreter
    clean-up printed "Exception ignored in Widget.__del__ ... AttributeError: ... no
    attribute '_bindings'": the half-built panel could not close."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
         os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", _HALF_BUILT], capture_output=True,
                         text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["refused", "no", "images", "refused"]
    assert "Exception ignored" not in run.stderr, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
