"""The "Can I trust this map?" row: nothing runs until asked, then one phrase per check."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import zoo
from cnnviz_widgets.widgets.attribution import AttributionPanel


@pytest.fixture(scope="module")
def panel():
    images, _ = zoo.digit_samples(2)
    panel = AttributionPanel(zoo.digits_cnn(), images=list(images), method="gradcam",
                             show_faithfulness=True)
    yield panel
    panel.close()


def test_the_map_shows_without_the_checks(panel):
    assert panel.run_count == 1 and panel.picture.value
    assert panel.trust.layout.display is None  # the button is there
    assert panel.trust.check_count == 0 and panel.trust.verdicts.value == ""


def test_a_press_gives_one_phrase_per_check(panel):
    panel.trust.button.click()
    text = panel.trust.verdicts.value
    assert panel.trust.check_count == 1
    assert text.count("<li>") == 4
    for word in ("deletion", "insertion", "ROAD", "sanity check"):
        assert word in text
    # a new map forgets the old verdicts until asked again
    panel.image_index = 1
    panel.run()
    assert panel.trust.verdicts.value == ""


def test_an_error_is_shown_in_the_panel(panel):
    panel.run()
    context = panel.trust._context
    context["heatmap"] = np.full((28, 28), np.nan)
    context["scores"] = None
    assert panel.trust.check() == []
    assert "could not run" in panel.trust.verdicts.value
    assert "NaN" in panel.errors.message
