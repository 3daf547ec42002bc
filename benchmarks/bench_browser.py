"""Explorer changes in a real browser: JupyterLab in headless Chromium, control to picture.

For each kind of change (a channel step, a normalisation, a colour map, a cached layer, a
cached image) the page times, from the control's event (``click``, ``change`` or
``keydown``, caught on the document before the widget sees it) until the new picture is
decoded (``img.decode()``) and laid out (a forced layout read after it). The time is split
by instrumenting both ends, on one clock (the page's ``performance.timeOrigin + now()``
and the kernel's ``time.time()``, the same machine):

- *up*: from the event to the kernel starting to handle the widget's message (the widget's
  JavaScript, the websocket, the Jupyter server, ZeroMQ);
- *kernel*: the kernel handling the change's messages (``Comm.handle_msg``, which runs the
  bindings, the draw and the sends), and how much of it comes after the picture was sent;
- *down*: from the kernel sending the picture to the page setting the ``img`` source;
- *decode* and *layout*: ``img.decode()``, then the layout read.

The bytes column is every comm message the kernel sends for the change (JSON and binary
buffers) and their count; "picture" is the largest binary buffer. Every value of a change
is visited once before timing (the engine's cache then holds the layers and images, which
is what "cached" means here). Runs the quick start (digits CNN, its first grid of 32 maps)
and a VGG16 explorer on block1 (64 maps of 224 x 224; HED weights when installed).
Without Chromium or Playwright the section gives one row that says why. Each row notes the
machine's load average: on shared cores every part, the server's and the browser's too,
grows with it.

The server runs the package's server extension (``cnnviz_widgets.server``: TCP_NODELAY on
kernel websockets) as an installed wheel does; ``CNNVIZ_BENCH_SERVER_EXTENSION=0`` measures
without it, and each row says which.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from ._table import Row

REPEAT = 15
SECTION = "browser"
VIEW = ".cnnviz-explorer img.cnnviz-view"
#: The browser view's canvas (``backend="browser"``): it marks each frame it draws.
CODED_VIEW = ".cnnviz-explorer canvas.cnnviz-coded"
HARNESS_DIR = Path(__file__).resolve().parents[1] / "tests" / "browser"
#: "0" starts the server without the package's server extension (to measure what it saves).
EXTENSION_ENV = "CNNVIZ_BENCH_SERVER_EXTENSION"
#: Comma-separated parts of scenario labels to run (all when unset), e.g. "browser view".
ONLY_ENV = "CNNVIZ_BENCH_BROWSER_ONLY"

#: Wraps the comm's message handler and the widgets' sends in the kernel: (kind, start,
#: end, JSON bytes, buffer bytes) per message, on ``time.time()``. Idempotent.
_PROBE = """
import json as _cb_json, time as _cb_time
import ipywidgets as _cb_w
if not hasattr(_cb_w.Widget, "_cnnviz_bench_log"):
    _cb_log = []
    _cb_comm = type(next(iter(_cb_w.Widget.widgets.values())).comm)
    _cb_handle, _cb_send = _cb_comm.handle_msg, _cb_w.Widget._send
    def _cb_handle_msg(self, msg, _orig=_cb_handle):
        start = _cb_time.time()
        try:
            return _orig(self, msg)
        finally:
            _cb_log.append(("in", start, _cb_time.time(), 0, 0))
    def _cb_send_msg(self, msg, buffers=None, _orig=_cb_send):
        start = _cb_time.time()
        result = _orig(self, msg, buffers)
        end = _cb_time.time()
        sizes = [memoryview(b).nbytes for b in buffers or ()]
        _cb_log.append(("out", start, end, len(_cb_json.dumps(msg)), sum(sizes),
                        max(sizes, default=0)))
        return result
    _cb_comm.handle_msg = _cb_handle_msg
    _cb_w.Widget._send = _cb_send_msg
    _cb_w.Widget._cnnviz_bench_log = _cb_log
_cb_w.Widget._cnnviz_bench_log.clear()
"""
_READ_LOG = "__import__('json').dumps(__import__('ipywidgets').Widget._cnnviz_bench_log)"

#: Runs code in the notebook's kernel; returns the reply's status and the user expression.
_EXECUTE_JS = """async ([code, expr]) => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const exprs = expr ? {r: expr} : {};
    const reply = await kernel.requestExecute({code: code, user_expressions: exprs}).done;
    const r = reply.content.user_expressions && reply.content.user_expressions.r;
    return [reply.content.status, r && r.data ? r.data['text/plain'] : null];
}"""

#: The page side: the control's event starts the clock, a MutationObserver sees the new
#: source, ``decode()`` and a forced layout stop it.
_PAGE_JS = """([sel, coded]) => {
    const B = window.__cnnvizBench = {armed: false, done: false};
    const now = () => performance.timeOrigin + performance.now();
    for (const type of ['click', 'change', 'keydown']) {
        document.addEventListener(type, () => {
            if (B.armed && B.t0 === null && B.types.includes(type)) { B.t0 = now(); }
        }, true);
    }
    B.arm = (types) => {
        const img = document.querySelector(sel);
        Object.assign(B, {armed: true, done: false, types: types, t0: null, tSrc: null,
                          tDec: null, tLaid: null, error: null,
                          oldSrc: img ? img.getAttribute('src') : null});
    };
    new MutationObserver((records) => {
        if (!B.armed || B.tSrc !== null) { return; }
        for (const r of records) {
            const img = r.target;
            if (!img.matches(sel) || img.getAttribute('src') === B.oldSrc) { continue; }
            B.tSrc = now();
            img.decode().then(() => {
                B.tDec = now();
                B.width = img.getBoundingClientRect().width;  // forces style and layout
                B.tLaid = now();
                B.natural = img.naturalWidth;
            }, (err) => { B.error = String(err); }).finally(() => {
                B.armed = false; B.done = true;
            });
            return;
        }
    }).observe(document.body, {attributes: true, attributeFilter: ['src'], subtree: true});
    // the browser view: the canvas notes when its message came and when it was drawn
    new MutationObserver((records) => {
        if (!B.armed || B.tSrc !== null) { return; }
        for (const r of records) {
            const canvas = r.target;
            if (!canvas.matches(coded)) { continue; }
            B.tSrc = Number(canvas.dataset.received);
            B.tDec = Number(canvas.dataset.drawn);
            B.width = canvas.getBoundingClientRect().width;  // forces style and layout
            B.tLaid = now();
            B.natural = canvas.width;
            B.armed = false; B.done = true;
            return;
        }
    }).observe(document.body, {attributes: true, attributeFilter: ['data-frame'],
                               subtree: true});
}"""

_IDLE_JS = """() => {
    const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    return k.status === 'idle';
}"""

_VGG_NOTEBOOK = """\
from cnnviz_widgets import explore, zoo
try:
    model = zoo.vgg16(weights="hed")
except Exception:  # without the offline-vgg extra: random weights, the same sizes
    model = zoo.vgg16(weights=None, include_top=False)
images = [s.image for s in zoo.samples(["grace_hopper", "astronaut", "chelsea"])]
ex = explore(model, images, include_samples=False, layer="block1_conv1",
             normalization="layer", backend="{backend}")
ex"""

#: The quick start's explorer in the browser view.
_DIGITS_NOTEBOOK = """\
from cnnviz_widgets import explore, zoo
model = zoo.digits_cnn()
images, labels = zoo.digit_samples()
ex = explore(model, images[:12], include_samples=False, backend="browser")
ex"""


def _unavailable() -> str | None:
    """Why the section cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    if str(HARNESS_DIR) not in sys.path:
        sys.path.insert(0, str(HARNESS_DIR))
    try:
        from browser_harness import find_chromium
    except ImportError as error:
        return f"the browser test helpers do not import: {error}"
    if find_chromium() is None:
        return "no Chromium on the PATH (apt-get install chromium) and no $CNNVIZ_CHROMIUM"
    return None


def run(repeat: int = REPEAT) -> list[Row]:
    """Time every kind of change on the quick start and on VGG16 block1, in the browser."""
    why = _unavailable()
    if why is not None:
        return [Row(SECTION, "", "every change, control to decoded picture", None,
                    extra=f"skipped: {why}", skipped=True)]
    import nbformat
    from browser_harness import (
        CHROMIUM_ARGS,
        NOTEBOOKS_DIR,
        SERVER_EXTENSION_LOADED,
        block_external_requests,
        find_chromium,
        open_notebook,
        start_jupyter,
    )
    from playwright.sync_api import sync_playwright

    rows: list[Row] = []
    js_errors: list[str] = []
    wanted = os.environ.get(EXTENSION_ENV, "1") != "0"
    server = start_jupyter("lab", server_extension=wanted)
    try:
        with sync_playwright() as driver, tempfile.TemporaryDirectory() as tmp:
            browser = driver.chromium.launch(executable_path=find_chromium(),
                                             args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                              service_workers="block")
                context.set_default_timeout(120_000)
                block_external_requests(context)
                page = context.new_page()
                page.on("pageerror", lambda exc: js_errors.append(str(exc)))
                cases = [(NOTEBOOKS_DIR / "01_quickstart.ipynb", DIGITS)]
                for name, code, scenario in (
                        ("vgg16_block1", _VGG_NOTEBOOK.format(backend="matplotlib"), VGG16),
                        ("digits_browser", _DIGITS_NOTEBOOK, DIGITS_BROWSER),
                        ("vgg16_browser", _VGG_NOTEBOOK.format(backend="browser"),
                         VGG16_BROWSER)):
                    path = Path(tmp) / f"{name}.ipynb"
                    nbformat.write(nbformat.v4.new_notebook(
                        cells=[nbformat.v4.new_code_cell(code)]), path)
                    cases.append((path, scenario))
                only = os.environ.get(ONLY_ENV, "")
                cases = [(notebook, scenario) for notebook, scenario in cases
                         if not only or any(part.strip() and part.strip() in scenario.label
                                            for part in only.split(","))]
                for notebook, scenario in cases:
                    open_notebook(page, server, notebook, wait_for=[scenario.view],
                                  timeout=240_000)
                    extension = SERVER_EXTENSION_LOADED in server.log_tail(200_000)
                    if wanted and not extension:
                        raise RuntimeError("the server extension did not load:\n"
                                           + server.log_tail())
                    rows += _measure(page, scenario, repeat, extension)
            finally:
                browser.close()
    finally:
        server.stop()
    if js_errors:
        rows.append(Row(SECTION, "", "JavaScript errors in the page", None,
                        extra="; ".join(js_errors)[:200]))
    return rows


class Scenario:
    """A notebook's explorer and the values each kind of change cycles through."""

    def __init__(self, label: str, layers: list[str], images: list[int],
                 colormaps: list[str], normalizations: list[str], view: str = VIEW) -> None:
        self.label, self.layers, self.images = label, layers, images
        self.colormaps, self.normalizations = colormaps, normalizations
        self.view = view

    def in_browser_view(self) -> Scenario:
        """The same changes with ``backend="browser"``."""
        return Scenario(self.label + ", browser view", self.layers, self.images,
                        self.colormaps, self.normalizations, CODED_VIEW)


DIGITS = Scenario("digits CNN (quick start)", ["conv2", "conv1"], [1, 2, 0],
                  ["magma", "gray", "viridis"],
                  ["per channel", "standardize", "signed", "per layer"])
VGG16 = Scenario("VGG16 block1 (224x224)", ["block1_conv2", "block1_conv1"], [1, 2, 0],
                 ["magma", "gray", "viridis"],
                 ["per channel", "standardize", "signed", "per layer"])
DIGITS_BROWSER = DIGITS.in_browser_view()
VGG16_BROWSER = VGG16.in_browser_view()

#: (name, goal in ms for the median, the events that start the clock)
KINDS = {
    "channel": ("channel step (one map)", 30.0, ["keydown"]),
    "normalization": ("normalisation change (grid)", 30.0, ["click"]),
    "colormap": ("colour-map change (grid)", 30.0, ["change"]),
    "layer": ("cached layer change (grid)", 50.0, ["change"]),
    "image": ("cached image change (grid)", 50.0, ["click"]),
}


def _measure(page, scenario: Scenario, repeat: int, extension: bool) -> list[Row]:
    """Every kind of change, ``repeat`` times each after one untimed pass over its values."""
    explorer = page.locator(".cnnviz-explorer").first
    explorer.scroll_into_view_if_needed()
    status, _ = page.evaluate(_EXECUTE_JS, [_PROBE, None])
    if status != "ok":
        raise RuntimeError(f"the kernel probe did not install: {status}")
    page.evaluate(_PAGE_JS, [VIEW, CODED_VIEW])
    changes: list[tuple[str | None, dict]] = []  # (kind or None for untimed, page times)

    def change(kind: str | None, action: Callable[[], None], types: list[str],
               redundant_ok: bool = False) -> None:
        page.wait_for_function(_IDLE_JS, polling=5)
        page.evaluate("t => window.__cnnvizBench.arm(t)", types)
        action()
        try:
            page.wait_for_function("() => window.__cnnvizBench.done", polling="raf",
                                   timeout=60_000 if kind else 5_000)
        except Exception as exc:
            if kind is None and redundant_ok:
                # an untimed warm-up click on the value already shown: the browser view
                # sends nothing that did not change, so nothing is drawn
                page.evaluate("() => { window.__cnnvizBench.armed = false; }")
                return
            state = page.evaluate("() => JSON.stringify(window.__cnnvizBench)")
            raise RuntimeError(f"{scenario.label}, {kind or 'untimed'} change: no new "
                               f"picture within 60 s ({state})") from exc
        times = page.evaluate("() => { const B = window.__cnnvizBench; return {t0: B.t0,"
                              " tSrc: B.tSrc, tDec: B.tDec, tLaid: B.tLaid,"
                              " natural: B.natural, error: B.error}; }")
        if times["error"] or not times["natural"] or times["t0"] is None:
            raise RuntimeError(f"{kind}: the new picture did not decode: {times}")
        changes.append((kind, times))

    def cycle(kind: str, values: list, act: Callable[[object], None]) -> None:
        types = KINDS[kind][2]
        for value in values:  # warm: every value once
            change(None, lambda v=value: act(v), types, redundant_ok=True)
        for value in itertools.islice(itertools.cycle(values), repeat):
            change(kind, lambda v=value: act(v), types)

    # one channel: the slider's handle, one step to the right each time
    change(None, lambda: explorer.locator(".cnnviz-mode button",
                                          has_text="One channel").click(), ["click"])
    handle = explorer.locator(".cnnviz-channel .noUi-handle")
    handle.focus()
    cycle("channel", [0, 1], lambda _: handle.press("ArrowRight"))
    change(None, lambda: explorer.locator(".cnnviz-mode button",
                                          has_text="All channels").click(), ["click"])
    buttons = explorer.locator(".cnnviz-normalization button")
    cycle("normalization", scenario.normalizations,
          lambda label: buttons.filter(has_text=label).click())
    colours = explorer.locator(".cnnviz-colormap select")
    cycle("colormap", scenario.colormaps, lambda name: colours.select_option(label=name))
    layers = explorer.locator(".cnnviz-layer select")
    labels = layers.locator("option").all_inner_texts()

    def pick_layer(name: object) -> None:
        layers.select_option(index=next(i for i, text in enumerate(labels)
                                        if text.split()[0] == name))

    cycle("layer", scenario.layers, pick_layer)
    picker = explorer.locator(".cnnviz-image-picker button")
    cycle("image", scenario.images, lambda i: picker.nth(i).click())
    page.wait_for_function(_IDLE_JS, polling=5)
    status, log = page.evaluate(_EXECUTE_JS, ["", _READ_LOG])
    if status != "ok" or log is None:
        raise RuntimeError(f"the kernel log could not be read: {status}")
    records = json.loads(ast.literal_eval(log))  # text/plain holds the repr of a str
    load = os.getloadavg()[0]  # other work on the machine inflates every part
    return [_row(scenario, kind, parts, load, extension)
            for kind, parts in _split(changes, records).items()]


def _split(changes: list[tuple[str | None, dict]], records: list) -> dict[str, list[dict]]:
    """Each timed change's parts in ms, from the page's times and the kernel's records in
    the change's window (its event until the next change's event)."""
    out: dict[str, list[dict]] = {}
    starts = [times["t0"] for _, times in changes] + [float("inf")]
    for n, (kind, times) in enumerate(changes):
        if kind is None:
            continue
        lo, hi = starts[n], starts[n + 1]
        ins = [r for r in records if r[0] == "in" and lo <= r[1] * 1000 < hi]
        outs = [r for r in records if r[0] == "out" and lo <= r[1] * 1000 < hi]
        if not ins or not outs:
            raise RuntimeError(f"{kind}: no kernel messages seen for a change")
        picture = max(outs, key=lambda r: r[5])
        out.setdefault(kind, []).append({
            "total": times["tLaid"] - times["t0"],
            "up": min(r[1] for r in ins) * 1000 - times["t0"],
            "kernel": sum(r[2] - r[1] for r in ins) * 1000,
            "tail": (max(r[2] for r in ins) - picture[2]) * 1000,
            "down": times["tSrc"] - picture[2] * 1000,
            "decode": times["tDec"] - times["tSrc"],
            "layout": times["tLaid"] - times["tDec"],
            "messages": len(outs),
            "bytes": sum(r[3] + r[4] for r in outs),
            "picture": picture[5],
        })
    return out


def _row(scenario: Scenario, kind: str, parts: list[dict], load: float,
         extension: bool) -> Row:
    name, goal_ms, _ = KINDS[kind]

    def med(key: str) -> float:
        return statistics.median(p[key] for p in parts)

    total, worst = med("total"), max(p["total"] for p in parts)
    verdict = []
    if total > goal_ms:
        verdict.append(f"median over goal by {total - goal_ms:.0f} ms")
    if worst > 2 * total:
        verdict.append(f"max over 2x median by {worst - 2 * total:.0f} ms")
    split = (f"up {med('up'):.1f}, kernel {med('kernel'):.1f} ({med('tail'):.1f} of it after "
             f"the picture was sent), down {med('down'):.1f}, "
             f"decode {med('decode'):.1f}, layout {med('layout'):.1f}")
    wire = (f"{med('messages'):.0f} msgs, {med('bytes') / 1000:.1f} KB "
            f"(picture {med('picture') / 1000:.1f} KB)")
    return Row(SECTION, scenario.label, f"{name}, {len(parts)}x", total / 1000,
               goal=f"<= {goal_ms:.0f} ms, max <= 2x",
               extra=f"max {worst:.1f} ms; median ms: {split}; {wire}; "
                     + ("; ".join(verdict) or "goal met") + f"; load average {load:.1f}"
                     + ("" if extension else "; without the server extension"))
