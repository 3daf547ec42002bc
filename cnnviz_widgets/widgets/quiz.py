"""The quiz panel: do you understand a channel well enough to predict what drives it?

:func:`quiz` scans a layer over a set, builds reproducible questions
(:func:`~cnnviz_widgets.meaning.quiz.make_questions`) and shows them one at a time in a
:class:`QuizPanel`: a channel's top images of the set, two query images, buttons A and B.
The panel keeps the score per channel and overall, and :meth:`QuizPanel.export_html`
writes the same questions as a page that works without a kernel.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from typing import Any

import ipywidgets as w
import numpy as np

from ..engine.coerce import as_engine
from ..engine.scan import scan
from ..engine.scan.cache import Crop, DatasetScans
from ..engine.scan.sources import image_source
from ..errors import InvalidSettingError
from ..export.quiz import quiz_page
from ..meaning.quiz import Question, make_questions
from ..render.crops import crop_picture
from ..render.encode import data_url, encode_png
from .panel import Panel

__all__ = ["QuizPanel", "quiz"]

#: Top images shown per question.
REFERENCES = 6


class QuizPanel(Panel):
    """Questions on a layer's channels, answered with buttons A and B or :meth:`answer`.

    Parameters
    ----------
    engine : ActivationEngine
        The engine the questions were computed with.
    scans : DatasetScans
        The set and the layer's scan (for the pictures).
    layer : str
        The layer.
    questions : list of Question
        The questions, in order.
    side : int
        Longer side of a picture on screen, in pixels.

    Attributes
    ----------
    questions : list of Question
        Every question (its ``answer`` is the right choice).
    results : list of dict
        One per answered question: ``channel``, ``choice``, ``answer``, ``right``.
    """

    def __init__(self, engine: Any, scans: DatasetScans, layer: str,
                 questions: list[Question], *, side: int = 84) -> None:
        Panel.__init__(self, engine)
        self.add_class("cnnviz-quiz")
        self.scans, self.layer, self.questions = scans, layer, list(questions)
        self.side = int(side)
        self.results: list[dict[str, Any]] = []
        self._question = w.HTML()
        self._references = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self._queries = [w.Image(format="png") for _ in range(2)]
        self.buttons = [w.Button(description=name, layout=w.Layout(width="70px"))
                        for name in ("A", "B")]
        for choice, button in enumerate(self.buttons):
            button.on_click(lambda _b, c=choice: self.answer(c))
        self._feedback = w.HTML()
        self._score = w.HTML()
        pairs = [w.VBox([image, button], layout=w.Layout(align_items="center",
                                                          margin="0 18px 0 0"))
                 for image, button in zip(self._queries, self.buttons, strict=True)]
        self.children = [self._question, self.errors, self._references,
                         w.HTML("Which of these two images drives the channel more?"),
                         w.HBox(pairs), self._feedback, self._score]
        self._show()

    # -- state -------------------------------------------------------------------------
    @property
    def current(self) -> int:
        """Index of the question on screen (``len(questions)`` once all are answered)."""
        return len(self.results)

    @property
    def score(self) -> float:
        """Fraction of the answered questions answered right (0 before any answer)."""
        return (sum(r["right"] for r in self.results) / len(self.results)
                if self.results else 0.0)

    @property
    def scores(self) -> dict[int, float]:
        """The score per channel asked about so far."""
        out: dict[int, list[int]] = {}
        for r in self.results:
            out.setdefault(r["channel"], []).append(int(r["right"]))
        return {c: float(np.mean(v)) for c, v in out.items()}

    def answer(self, choice: int | str) -> bool:
        """Answer the question on screen with 0 / "A" or 1 / "B"; True when right."""
        choice = {"A": 0, "B": 1, "a": 0, "b": 1}.get(choice, choice)  # type: ignore[arg-type]
        if choice not in (0, 1):
            raise self.report(InvalidSettingError(
                f"Answer with 0 or 'A' (the first image) or 1 or 'B'; got {choice!r}."))
        if self.current >= len(self.questions):
            raise self.report(InvalidSettingError(
                "Every question is answered already; see quiz.score and quiz.results."))
        question = self.questions[self.current]
        right = int(choice) == question.answer
        self.results.append({"channel": question.channel, "choice": int(choice),
                             "answer": question.answer, "right": right})
        a, b = question.values
        self._feedback.value = html.escape(
            f"{'Right' if right else 'Not this time'}: image {'AB'[question.answer]} drives "
            f"channel {question.channel} more (maximum {max(a, b):.3g} against "
            f"{min(a, b):.3g}).")
        self._show()
        return right

    # -- pictures ----------------------------------------------------------------------
    def _crops(self, question: Question) -> list[Crop]:
        return self.scans.crops(self.layer, question.channel)[:len(question.references)]

    def _query(self, question: Question, which: int) -> np.ndarray:
        index = question.queries[which]
        pixels = self.engine.pixels(self.scans.source.fetch([index])[index])
        return crop_picture(Crop(pixels, None, ""), self.side * 3 // 2, marked=False)

    def _show(self) -> None:
        done = self.current >= len(self.questions)
        right = sum(r["right"] for r in self.results)
        per = ", ".join(f"channel {c}: {s:.0%}" for c, s in self.scores.items())
        self._score.value = html.escape(
            f"Score: {right} of {len(self.results)}" + (f" ({per})" if per else ""))
        for button in self.buttons:
            button.disabled = done
        if done:
            self._question.value = html.escape(
                f"All {len(self.questions)} questions answered: score {self.score:.0%}.")
            return
        question = self.questions[self.current]
        self._question.value = html.escape(
            f"Question {self.current + 1} of {len(self.questions)}: channel "
            f"{question.channel} of {self.layer}. These images of the data set drive it most "
            "(outlined: where):")
        self._references.children = [
            w.Image(value=encode_png(crop_picture(crop, self.side)), format="png")
            for crop in self._crops(question)]
        for which, image in enumerate(self._queries):
            image.value = encode_png(self._query(question, which))

    # -- export ------------------------------------------------------------------------
    def export_html(self, path: str | os.PathLike, title: str | None = None) -> str:
        """Write the questions as one HTML page that works without a kernel or network.

        Returns the path written.
        """
        entries = []
        for question in self.questions:
            entries.append({
                "channel": question.channel,
                "references": [data_url(crop_picture(crop, self.side))
                               for crop in self._crops(question)],
                "queries": [data_url(self._query(question, which)) for which in (0, 1)],
                "answer": question.answer,
                "values": [float(f"{v:.3g}") for v in question.values],
            })
        page = quiz_page(self.layer, entries,
                         title or f"Which image drives the channel? ({self.layer})")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(page)
        return os.fspath(path)


def quiz(model_or_engine: Any, images: Any, layer: str, channels: Sequence[int] | None = None,
         questions: int = 10, seed: int = 0, *, labels: Sequence[int] | None = None,
         class_names: Sequence[str] | None = None, batch_size: int = 64,
         progress: Any = False) -> QuizPanel:
    """A quiz on the channels of ``layer``: which of two images drives a channel more?

    Parameters
    ----------
    model_or_engine : keras.Model, ActivationEngine or str
        The model, an engine built on it, or the path of a ``.keras`` file.
    images : array, list, folder, tf.data.Dataset
        The set the questions are drawn from (as :func:`~cnnviz_widgets.scan` reads it).
    layer : str
        The layer.
    channels : sequence of int, optional
        The channels asked about, in turn (default: drawn at random).
    questions : int
        Number of questions.
    seed : int
        The same seed gives the same questions.
    labels, class_names : optional
        Labels of the set (shown in the captions of the top images).
    batch_size : int
        Images per batch of the scan.
    progress : bool, callable, widget or Callback
        Progress of the scan.

    Returns
    -------
    QuizPanel
        Display it, or answer with ``quiz.answer("A")``; ``quiz.score``, ``quiz.results``,
        ``quiz.export_html(path)``.

    Examples
    --------
    >>> from cnnviz_widgets import quiz, zoo                  # doctest: +SKIP
    >>> x, y = zoo.fashion_mnist("test")                       # doctest: +SKIP
    >>> q = quiz(zoo.fashion_cnn(), x[:2000], "conv3", questions=5)  # doctest: +SKIP
    >>> q.answer("A")                                          # doctest: +SKIP
    """
    engine = as_engine(model_or_engine, paths=True)
    source = image_source(images, engine.input_shape, labels, class_names)
    result = scan(engine, source, [layer], top_k=REFERENCES + 4, batch_size=batch_size,
                  progress=progress)
    scans = DatasetScans(engine, result)
    built = make_questions(engine, source, result[layer], channels, questions, seed,
                           REFERENCES)
    return QuizPanel(engine, scans, layer, built)
