"""The quiz: answers by the true activations score 1, the opposite 0; seeds; the page."""

from __future__ import annotations

import json
import re

import keras
import numpy as np
import pytest

from cnnviz_widgets import quiz
from cnnviz_widgets.errors import InvalidSettingError
from tests.conftest import fashion_test_set

LAYER = "conv3"


@pytest.fixture(scope="module")
def fashion():
    return fashion_test_set(300)


@pytest.fixture(scope="module")
def panel(fashion):
    model, x, y = fashion
    return quiz(model, x, LAYER, questions=6, seed=3, labels=y)


def true_maxima(model, x: np.ndarray, channel: int) -> np.ndarray:
    """Each image's maximum of the channel, from a plain Keras sub-model (the oracle)."""
    sub = keras.Model(model.inputs, model.get_layer(LAYER).output)
    acts = np.asarray(sub.predict(x[..., None].astype(np.float32) / 255.0, verbose=0))
    return acts[..., channel].reshape(len(x), -1).max(axis=1)


def _answers(model, x, questions, flip: bool) -> list[int]:
    out = []
    for q in questions:
        values = true_maxima(model, x[list(q.queries)], q.channel)
        right = int(values[1] > values[0])
        assert abs(values[0] - values[1]) > 1e-3  # a clear question, not a tie
        out.append(1 - right if flip else right)
    return out


def test_answering_by_the_true_activations_scores_one_and_the_opposite_zero(fashion, panel):
    model, x, y = fashion
    questions = panel.questions
    assert len(questions) == 6
    for q in questions:
        assert len(q.references) == 6 and not set(q.queries) & set(q.references)
    right = _answers(model, x, questions, flip=False)
    for choice in right:
        assert panel.answer("AB"[choice])
    assert panel.score == 1.0 and all(r["right"] for r in panel.results)
    assert set(panel.scores) == {q.channel for q in questions}
    with pytest.raises(InvalidSettingError, match="answered"):
        panel.answer("A")
    again = quiz(model, x, LAYER, questions=6, seed=3, labels=y)
    for choice in _answers(model, x, again.questions, flip=True):
        assert not again.answer(choice)
    assert again.score == 0.0 and all(s == 0.0 for s in again.scores.values())


def test_the_same_seed_gives_the_same_questions(fashion, panel):
    model, x, _ = fashion
    same = quiz(model, x, LAYER, questions=6, seed=3)
    other = quiz(model, x, LAYER, questions=6, seed=4)
    assert [q.queries for q in same.questions] == [q.queries for q in panel.questions]
    assert [q.channel for q in same.questions] == [q.channel for q in panel.questions]
    assert [q.queries for q in other.questions] != [q.queries for q in panel.questions]
    chosen = quiz(model, x, LAYER, channels=[5, 9], questions=4)
    assert [q.channel for q in chosen.questions] == [5, 9, 5, 9]
    with pytest.raises(InvalidSettingError):
        chosen.answer("C")


def _page_data(path) -> dict:
    text = path.read_text()
    raw = re.search(r'id="quiz-data">(.*?)</script>', text, re.S).group(1)
    return json.loads(raw)


def test_the_exported_page_holds_every_question_and_no_link(panel, tmp_path):
    path = tmp_path / "quiz.html"
    panel.export_html(path)
    data = _page_data(path)
    assert [q["answer"] for q in data["questions"]] == [q.answer for q in panel.questions]
    assert all(src.startswith("data:image/png;base64,")
               for q in data["questions"] for src in [*q["references"], *q["queries"]])
    assert not re.search(r"(src|href)=\"https?:", path.read_text())


@pytest.mark.slow
@pytest.mark.browser
def test_the_exported_page_works_offline_in_chromium(panel, tmp_path, browser):
    path = tmp_path / "quiz.html"
    panel.export_html(path)
    answers = [q["answer"] for q in _page_data(path)["questions"]]
    context = browser.new_context()
    requests: list[str] = []
    errors: list[str] = []
    context.route("**/*", lambda route: (requests.append(route.request.url),
                                         route.continue_()
                                         if route.request.url.startswith(("file:", "data:"))
                                         else route.abort()))
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(path.as_uri())
        page.wait_for_selector("body[data-state='ready']", state="attached")
        for i, answer in enumerate(answers):
            assert page.get_attribute("body", "data-question") == str(i)
            wrong = i == 0  # the first one wrong, the rest right
            page.click("#choose-b" if (answer == 0) == wrong else "#choose-a")
            if i + 1 < len(answers):
                page.click("#next")
        assert page.get_attribute("body", "data-state") == "done"
        assert page.get_attribute("body", "data-right") == str(len(answers) - 1)
        assert "Score: 5 of 6" in page.inner_text("#score")
        assert errors == []
        assert all(url.startswith(("file:", "data:")) for url in requests)
    finally:
        context.close()
