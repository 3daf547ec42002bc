"""The panel base: our trait errors shown in the panel, one binding, recursive close()."""

from __future__ import annotations

import ipywidgets as w
import ipywidgets.widgets.widget as widget_module
import pytest
from traitlets import validate

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.errors import InvalidSettingError, SelectionOutOfRangeError
from cnnviz_widgets.testing import tiny_cnn
from cnnviz_widgets.widgets.panel import Choice, Flag, Panel, Text, Whole, bind


class Toy(Panel):
    """A panel with one of each trait type and a range check."""

    count = Whole(0)
    name = Text("a")
    kind = Choice(("x", "y"), "x")
    on = Flag(False)

    def __init__(self, model):
        super().__init__(model)
        self.slider = w.IntSlider(min=0, max=10)
        self.box = w.VBox([w.HBox([w.Dropdown(options=["x", "y"])])])
        self.children = [self.slider, self.box, self.errors]
        self.bind(self.slider, "count")
        self.draws = 0

    def _draw(self):
        self.draws += 1

    @validate("count")
    def _valid_count(self, proposal):
        if proposal["value"] > 5:
            raise self.report(SelectionOutOfRangeError("count goes up to 5"))
        return proposal["value"]


@pytest.fixture(scope="module")
def model():
    return tiny_cnn()


@pytest.mark.parametrize(("name", "bad"), [("count", "3"), ("count", 2.5), ("count", True),
                                           ("name", 3), ("kind", "z"), ("on", "yes")])
def test_wrong_values_raise_our_error_and_show_it_in_the_panel(model, name, bad):
    panel = Toy(model)
    before = getattr(panel, name)
    with pytest.raises(InvalidSettingError):
        setattr(panel, name, bad)
    assert getattr(panel, name) == before
    assert name in panel.errors.message and panel.errors.layout.display != "none"


def test_numpy_scalars_are_accepted(model):
    import numpy as np

    panel = Toy(model)
    panel.count = np.int64(4)
    panel.on = np.bool_(True)
    assert panel.count == 4 and type(panel.count) is int and panel.on is True


def test_binding_goes_both_ways_and_a_refused_value_snaps_back(model):
    panel = Toy(model)
    panel.count = 3
    assert panel.slider.value == 3
    panel.slider.value = 4  # as the front end would
    assert panel.count == 4
    panel.slider.value = 9  # the panel refuses: message shown, control back at 4
    assert panel.count == 4 and panel.slider.value == 4
    assert "up to 5" in panel.errors.message


def test_binding_transforms_and_unlink(model):
    panel = Toy(model)
    text = w.Text()
    link = bind(text, panel, "count", to_owner=int, to_control=str)
    assert text.value == "0"
    text.value = "2"
    assert panel.count == 2
    panel.count = 1
    assert text.value == "1"
    link.unlink()
    panel.count = 5
    assert text.value == "1"


def test_batch_draws_once(model):
    panel = Toy(model)
    with panel.batch():
        panel.request_draw()
        panel.request_draw()
        assert panel.draws == 0
    assert panel.draws == 1
    panel.request_draw()
    assert panel.draws == 2


def test_close_frees_every_nested_widget(model):
    panel = Toy(model)
    inner = panel.box.children[0].children[0]
    ids = [panel.model_id, panel.slider.model_id, inner.model_id, panel.errors.model_id,
           panel.box.layout.model_id]
    assert all(i in widget_module._instances for i in ids)
    panel.close()
    assert not any(i in widget_module._instances for i in ids)


def test_an_engine_is_shared_and_a_model_gets_its_own(model):
    engine = ActivationEngine(model)
    lent = Toy(engine)
    assert lent.engine is engine
    engine.activation("conv_a", __import__("numpy").zeros((8, 8)))
    lent.close()
    assert engine.stats.cache_bytes > 0  # a lent engine keeps its cache
    own = Toy(model)
    assert isinstance(own.engine, ActivationEngine) and own.engine is not engine


def test_panels_take_model_or_engine_and_the_old_keyword_warns():
    import numpy as np

    import cnnviz_widgets.widgets as widgets

    model, images = tiny_cnn(), [np.zeros((8, 8, 1))]
    made = []
    with pytest.warns(DeprecationWarning, match=r"model=\.\.\.\) is deprecated; use "
                                                r"model_or_engine="):
        made.append(widgets.FeatureMapExplorer(model=model, images=images,
                                               include_samples=False))
    with pytest.warns(DeprecationWarning, match="model_or_engine="):
        made.append(widgets.AttributionPanel(model=model, images=images, auto_run=False))
    with pytest.warns(DeprecationWarning, match="model_or_engine="):
        made.append(widgets.explore(model=model, images=images, include_samples=False))
    for panel in made:
        assert panel.engine.model is model
        panel.close()
