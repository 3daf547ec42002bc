"""The "Can I trust this map?" row under an attribution map.

Nothing is computed until the button is pressed: the map is shown first and never
waits. A press runs the checks on the map on screen and says in one short phrase each
what deletion, insertion, ROAD and the sanity check found; an error goes to the
panel's error box and the row says that the check could not run.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import numpy as np

from ..attribution.metrics import faithfulness, road, sanity_check
from ..attribution.metrics.faithfulness import FaithfulnessResult
from ..attribution.metrics.sanity import weighted_layers
from ..errors import CnnvizError

__all__ = ["TrustRow", "trust_phrases"]


def trust_phrases(scores: FaithfulnessResult, road_combined: float, sanity: Any) -> list[str]:
    """One sentence a student understands for each check (deletion, insertion, ROAD, sanity).

    Deletion and insertion are read against the clean image's score: an area under half
    of it means the score falls fast (deletion) and an area over half means it comes
    back fast (insertion).
    """
    clean = max(abs(scores.clean_score), 1e-12)
    falls = scores.deletion_auc < 0.5 * clean
    rises = scores.insertion_auc > 0.5 * clean
    return [
        ("Hiding the pixels it marks first makes the model lose confidence fast"
         if falls else "Hiding the pixels it marks first barely shakes the model")
        + f" (deletion {scores.deletion_auc:.2f}, lower is better).",
        ("Showing only the pixels it marks is enough for the model"
         if rises else "Showing only the pixels it marks is not enough for the model")
        + f" (insertion {scores.insertion_auc:.2f}, higher is better).",
        ("Even with the holes filled in smoothly, hiding the marked pixels hurts more than "
         "hiding the others" if road_combined > 0 else
         "With the holes filled in smoothly, hiding the marked pixels hurts no more than "
         "hiding the others") + f" (ROAD {road_combined:+.2f}, higher is better).",
        "The map " + sanity.summary(),
    ]


class TrustRow(w.VBox):
    """A button and the verdicts of the checks on the map last shown.

    Parameters
    ----------
    engine : ActivationEngine
        The panel's engine.
    report : callable, optional
        ``report(error)``: where errors are shown (the panel's error box).
    """

    def __init__(self, engine: Any, report: Callable[[Any], Any] | None = None) -> None:
        super().__init__()
        self.add_class("cnnviz-trust")
        self.engine = engine
        self._report = report
        self.button = w.Button(description="Can I trust this map?", icon="question",
                               layout=w.Layout(width="auto"))
        self.button.add_class("cnnviz-trust-button")
        self.button.on_click(lambda _: self.check())
        self.verdicts = w.HTML()
        self.children = [self.button, self.verdicts]
        self._context: dict[str, Any] | None = None
        self.check_count = 0
        self.layout.display = "none"

    def show_for(self, image: Any = None, heatmap: Any = None, method: str = "",
                 values: dict[str, Any] | None = None,
                 scores: FaithfulnessResult | None = None) -> None:
        """Remember the map on screen (cheap: nothing runs); no image hides the row."""
        self.verdicts.value = ""
        if image is None or heatmap is None:
            self._context = None
            self.layout.display = "none"
            return
        self._context = {"image": image, "heatmap": np.asarray(heatmap), "method": method,
                         "values": dict(values or {}), "scores": scores}
        self.layout.display = None

    #: At most this many layers are randomised by the row's sanity check.
    max_steps = 10

    def cascade(self) -> list[str]:
        """The layers the row's sanity check randomises: every layer with weights for a
        small model, else evenly spaced ones from the output down (at most
        :attr:`max_steps`), so that a large model answers in seconds."""
        layers = weighted_layers(self.engine)
        return layers[::-(-len(layers) // self.max_steps)]

    def check(self) -> list[str]:
        """Run the checks on the remembered map and show one phrase each."""
        context = self._context
        if context is None:
            return []
        self.verdicts.value = "<i>Checking (the sanity check re-runs the method on a scrambled " \
                              "copy of the model)...</i>"
        image, heat = context["image"], context["heatmap"]
        target = context["values"].get("target")
        try:
            scores = context["scores"] or faithfulness(self.engine, image, heat, target,
                                                       steps=10)
            combined = road(self.engine, image, heat, target).combined
            sanity = sanity_check(self.engine, image, context["method"], target=target,
                                  layers=self.cascade(),
                                  **{k: v for k, v in context["values"].items()
                                     if k != "target"})
        except (CnnvizError, ValueError, TypeError, KeyError, IndexError) as error:
            self.verdicts.value = ("<span class='cnnviz-trust-error'>The checks could not run "
                                   "on this map.</span>")
            if self._report is not None:
                self._report(f"Can I trust this map? {error}")
            return []
        phrases = trust_phrases(scores, combined, sanity)
        self.check_count += 1
        self.verdicts.value = "<ul class='cnnviz-trust-verdicts'>" + "".join(
            f"<li>{html.escape(p)}</li>" for p in phrases) + "</ul>"
        return phrases
