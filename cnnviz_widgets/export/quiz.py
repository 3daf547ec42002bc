"""A quiz as one self-contained HTML page: it works opened from disk, with no kernel.

:func:`quiz_page` writes the questions of a :class:`~cnnviz_widgets.widgets.quiz.QuizPanel`
(their pictures as ``data:`` URLs, the answers in embedded JSON) and a few lines of plain
JavaScript that ask them one by one, say whether each answer was right, and keep the score
per channel and overall. Like the feature-map page (:mod:`.html`), a Content-Security-Policy
forbids every network request.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Any

from .. import __version__
from .html import script_json

__all__ = ["quiz_page"]

_PAGE = """<style>
  body { font: 14px/1.4 system-ui, "DejaVu Sans", sans-serif; margin: 12px; color: #222; }
  #references img, #queries img { margin: 0 6px 6px 0; image-rendering: pixelated; }
  #queries figure { display: inline-block; margin: 0 18px 0 0; text-align: center; }
  button { font-size: 15px; padding: 4px 18px; }
  .right { color: #17702d; } .wrong { color: #b3261e; }
</style>
</head>
<body data-state="loading">
<h2>__TITLE__</h2>
<p id="question"></p>
<div id="references"></div>
<p>Which of these two images drives the channel more?</p>
<div id="queries">
  <figure><img id="query-a" alt="image A">
    <figcaption><button id="choose-a">A</button></figcaption></figure>
  <figure><img id="query-b" alt="image B">
    <figcaption><button id="choose-b">B</button></figcaption></figure>
</div>
<p id="feedback"></p>
<button id="next" hidden>Next question</button>
<p id="score"></p>
<script type="application/json" id="quiz-data">__DATA__</script>
<script>
(function () {
  const data = JSON.parse(document.getElementById("quiz-data").textContent);
  const qs = data.questions;
  let at = 0, answered = false;
  const results = [];
  const el = (id) => document.getElementById(id);
  function score() {
    const right = results.filter((r) => r.right).length;
    const per = {};
    for (const r of results) {
      per[r.channel] = per[r.channel] || [0, 0];
      per[r.channel][0] += r.right ? 1 : 0;
      per[r.channel][1] += 1;
    }
    const parts = Object.keys(per).map((c) => "channel " + c + ": " + per[c][0] + "/" + per[c][1]);
    el("score").textContent = "Score: " + right + " of " + results.length +
      (parts.length ? " (" + parts.join(", ") + ")" : "");
    document.body.dataset.right = String(right);
    document.body.dataset.answered = String(results.length);
  }
  function show() {
    const q = qs[at];
    answered = false;
    el("question").textContent = "Question " + (at + 1) + " of " + qs.length + ": channel " +
      q.channel + " of " + data.layer + ". These images of the data set drive it most:";
    const refs = el("references");
    refs.replaceChildren();
    for (const src of q.references) {
      const img = document.createElement("img");
      img.src = src;
      img.alt = "a top image";
      refs.appendChild(img);
    }
    el("query-a").src = q.queries[0];
    el("query-b").src = q.queries[1];
    el("feedback").textContent = "";
    el("next").hidden = true;
    el("choose-a").disabled = el("choose-b").disabled = false;
    document.body.dataset.question = String(at);
  }
  function choose(choice) {
    if (answered) return;
    answered = true;
    const q = qs[at];
    const right = choice === q.answer;
    results.push({channel: q.channel, right: right});
    const f = el("feedback");
    f.className = right ? "right" : "wrong";
    f.textContent = (right ? "Right: " : "Not this time: ") + "image " + "AB"[q.answer] +
      " drives it more (maximum " + q.values[q.answer] + " against " +
      q.values[1 - q.answer] + ").";
    el("choose-a").disabled = el("choose-b").disabled = true;
    el("next").hidden = at + 1 >= qs.length;
    if (at + 1 >= qs.length) document.body.dataset.state = "done";
    score();
  }
  el("choose-a").addEventListener("click", () => choose(0));
  el("choose-b").addEventListener("click", () => choose(1));
  el("next").addEventListener("click", () => { at += 1; show(); });
  show();
  score();
  document.body.dataset.state = "ready";
})();
</script>
</body>
</html>
"""


def quiz_page(layer: str, questions: list[dict[str, Any]], title: str = "Which image drives "
              "the channel?") -> str:
    """The page's HTML.

    Parameters
    ----------
    layer : str
        The layer the channels belong to.
    questions : list of dict
        One per question: ``channel``, ``references`` (data URLs), ``queries`` (two data
        URLs), ``answer`` (0 or 1), ``values`` (the two maxima, rounded).
    title : str
        The page's title.
    """
    data = script_json({"layer": layer, "questions": questions})
    template = resources.files(__package__).joinpath("template.html").read_text("utf-8")
    head = template[:template.index("<style>")]  # the feature-map page's head: its CSP
    return ((head + _PAGE).replace("__TITLE__", html.escape(title))
            .replace("__VERSION__", html.escape(__version__)).replace("__DATA__", data))
