"""The exported page in headless Chromium, offline: every control redraws the canvas."""

from __future__ import annotations

import functools
import http.server
import threading
from urllib.parse import urlsplit

import numpy as np
import pytest

from cnnviz_widgets.export import export_html

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CANVAS_HASH = """() => {
  const c = document.getElementById("view");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let h = 2166136261;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i], 16777619) >>> 0;
  return c.width + "x" + c.height + ":" + h;
}"""


@pytest.fixture
def served(tmp_path):
    """Serve ``tmp_path`` on 127.0.0.1 (so the page itself goes through the request router)."""
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


class Offline:
    """A page whose every non-local request is aborted and counted."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1300, "height": 900})
        self.context.set_default_timeout(30_000)
        self.aborted: list[str] = []
        self.allowed: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "console", lambda m: self.errors.append(m.text) if m.type == "error" else None
        )
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        local = parts.scheme in ("file", "data", "blob") or (
            parts.scheme in ("http", "https") and parts.hostname == "127.0.0.1"
        )
        if local:
            self.allowed.append(url)
            route.continue_()
        else:
            self.aborted.append(url)
            route.abort("blockedbyclient")

    def renders(self) -> int:
        return int(self.page.get_attribute("#view", "data-renders"))

    def act(self, action) -> str:
        """Run ``action``, wait for the canvas to be redrawn, return its pixel hash."""
        before = self.renders()
        action()
        # a selector, not wait_for_function: the page's CSP forbids the eval that polls it
        self.page.wait_for_selector(
            f"body[data-state='ready'] #view:not([data-renders='{before}'])", state="attached"
        )
        return self.page.evaluate(CANVAS_HASH)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def offline(chromium):
    session = Offline(chromium)
    try:
        yield session
    finally:
        session.close()


def test_every_control_redraws_offline(engine, images, tmp_path, served, offline):
    report = export_html(
        engine, images, tmp_path / "page.html", layers=["conv1", "pool1", "conv2", "logits"],
        image_names=["first", "second", "third"],
    )
    page = offline.page
    page.goto(f"{served}/{report.path.name}")
    wait_ready(page)
    caption = page.locator("#caption")
    last = [page.evaluate(CANVAS_HASH)]
    assert caption.inner_text().startswith("conv1 16x16x6")
    assert "first" in caption.inner_text() and "all 6 channels" in caption.inner_text()

    def changed(h: str, text: str) -> None:
        assert h != last[-1], f"the canvas did not change ({text})"
        last.append(h)
        assert text in caption.inner_text()

    # image buttons
    changed(offline.act(lambda: page.click("#image button[data-index='1']")), "second")
    assert page.get_attribute("#image button[data-index='1']", "aria-pressed") == "true"
    # normalisation: per channel -> shared by the layer
    changed(offline.act(lambda: page.select_option("#normalization", "layer")), "layer scale")
    assert "layer scale:" in page.inner_text("#range")
    # channel slider zooms to one channel
    changed(offline.act(lambda: _slide(page, 3)), "channel 3 of 6")
    assert not page.is_checked("#all-channels")
    changed(offline.act(lambda: _slide(page, 4)), "channel 4 of 6")
    # back to the grid: the picture it showed before
    changed(offline.act(lambda: page.check("#all-channels")), "all 6 channels")
    assert last[-1] == last[2]
    # layers, including the vector one (a bar chart)
    changed(offline.act(lambda: page.select_option("#layer", label="conv2 6x6x8")), "conv2 6x6x8")
    changed(offline.act(lambda: page.select_option("#layer", index=3)), "logits 4")
    changed(offline.act(lambda: page.click("#image button[data-index='2']")), "third")
    changed(offline.act(lambda: _slide(page, 2)), "unit 2 of 4")
    # click a grid cell: zooms to that channel
    page.select_option("#layer", index=1)
    page.check("#all-channels")
    wait_ready(page)
    offline.act(lambda: page.click("#view", position={"x": 3, "y": 3}))
    assert "pool1 8x8x6" in caption.inner_text() and "channel 0 of 6" in caption.inner_text()
    page.hover("#view")
    assert page.inner_text("#readout").startswith("channel 0, row ")

    shot = tmp_path / "export_page.png"
    page.select_option("#layer", index=0)
    wait_ready(page)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 5_000

    assert offline.aborted == []
    assert offline.errors == []
    assert offline.dialogs == []
    # the only request that left the page is the page itself
    assert [u for u in offline.allowed if not u.startswith(("data:", "blob:"))] == [
        f"{served}/{report.path.name}"
    ]


def test_canvas_matches_python_colouring(engine, images, tmp_path, offline):
    """Per-channel view of one channel: the page's pixels are the colour map of the levels."""
    from cnnviz_widgets.colour import lut

    report = export_html(engine, images[:1], tmp_path / "p.html", layers=["conv2"])
    page = offline.page
    page.goto(report.path.as_uri())  # straight from disk, file://
    wait_ready(page)
    offline.act(lambda: _slide(page, 5))
    # one pixel per map cell: the map is 6x6, upscaled s times (nearest neighbour)
    got = np.asarray(page.evaluate("""() => {
        const c = document.getElementById("view"), s = Math.floor(c.width / 6), out = [];
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        for (let y = 0; y < 6; y++) for (let x = 0; x < 6; x++) {
          const o = 4 * ((y * s + (s >> 1)) * c.width + x * s + (s >> 1));
          out.push([d[o], d[o + 1], d[o + 2]]);
        }
        return out;
    }"""), dtype=np.uint8).reshape(6, 6, 3)
    x = np.asarray(engine.activation("conv2", images[0])[..., 5], dtype=np.float64)
    levels = np.rint((x - x.min()) / (x.max() - x.min()) * 255).astype(int)
    expected = lut("viridis")[levels]
    # a level may differ by one where float32 min/max rounding lands on .5
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 3
    assert offline.errors == [] and offline.aborted == []


def test_hostile_names_stay_text(engine, images, tmp_path, offline):
    name = "<img src=x onerror=alert(1)></script><script>alert(2)</script>"
    report = export_html(
        engine, images[:2], tmp_path / "h.html", layers=["conv2"], image_names=[name, "ok"],
        title=name,
    )
    page = offline.page
    page.goto(report.path.as_uri())
    wait_ready(page)
    assert name in page.inner_text("#caption")
    assert page.inner_text("h1") == name
    assert page.locator("img[src='x']").count() == 0
    assert offline.dialogs == [] and offline.errors == [] and offline.aborted == []


def wait_ready(page) -> None:
    page.wait_for_selector("body[data-state='ready']", state="attached")


def _slide(page, value: int) -> None:
    """Move the range input as a user would (the page listens to ``input``)."""
    page.eval_on_selector(
        "#channel",
        "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }",
        value,
    )
