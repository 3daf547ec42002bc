"""The quick start in Notebook 7 (``jupyter notebook``), the front end many students open."""

from __future__ import annotations

import re

import pytest
from browser_harness import (
    NOTEBOOKS_DIR,
    SERVER_EXTENSION_LOADED,
    assert_changes_image,
    assert_no_error_output,
    open_notebook,
    screenshot,
)
from playwright.sync_api import expect

pytestmark = [pytest.mark.slow, pytest.mark.browser]

VIEW = ".cnnviz-explorer img.cnnviz-view"
CODED_VIEW = ".cnnviz-explorer canvas.cnnviz-coded"
#: How many colours the canvas holds.
COLOURS_JS = """sel => {
    const c = document.querySelector(sel);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4) { seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]); }
    return seen.size;
}"""
#: Notebook 7.6 throws this while it loads any page (also its file browser, with no notebook open
#: and no user settings): not ours.
NOTEBOOK7_OWN_ERROR = re.compile(r"^Cannot read properties of undefined \(reading 'schema'\)$")


def test_explorer_in_notebook7(page, page_log, notebook7_server, tmp_path):
    name = open_notebook(page, notebook7_server, NOTEBOOKS_DIR / "01_quickstart.ipynb",
                         wait_for=[VIEW], timeout=180_000)
    assert page.url.split("?")[0].endswith(f"/notebooks/{name}")
    assert SERVER_EXTENSION_LOADED in notebook7_server.log_tail(1_000_000)  # on jupyter_server
    expect(page.locator("#main-panel .jp-NotebookPanel")).to_be_visible()  # Notebook 7's shell
    explorer = page.locator(".cnnviz-explorer").first
    explorer.scroll_into_view_if_needed()
    screenshot(page, tmp_path, "nb7-01-opened", selector=".cnnviz-explorer")

    layer_select = explorer.locator(".cnnviz-layer select")
    assert_changes_image(page, VIEW, lambda: layer_select.select_option(index=3))  # conv2
    expect(explorer.locator(".cnnviz-caption")).to_contain_text("conv2")
    screenshot(page, tmp_path, "nb7-02-layer", selector=".cnnviz-explorer")

    # With the mouse: Notebook 7 matches its shortcuts before the page sees a key (JupyterLab 4
    # after), so ArrowRight on a focused slider handle runs the notebook's own command-mode
    # ArrowRight (`notebook:move-cursor-heading-below-or-expand`) and the slider does not move.
    track = explorer.locator(".cnnviz-channel .noUi-base")
    track.scroll_into_view_if_needed()

    def click_middle_of_track():
        box = track.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    assert_changes_image(page, VIEW, click_middle_of_track)
    expect(explorer.locator(".cnnviz-caption")).to_contain_text(re.compile(r"\| channel \d+ \|"))
    screenshot(page, tmp_path, "nb7-03-channel", selector=".cnnviz-explorer")

    # the browser view: its front end (anywidget) loads in Notebook 7 and colours the map;
    # a colour-map change draws a new frame (the pixels are checked in JupyterLab)
    explorer.locator(".cnnviz-backend button", has_text="browser").click()
    page.wait_for_function("sel => { const c = document.querySelector(sel);"
                           " return c && Number(c.dataset.frame) >= 1; }", arg=CODED_VIEW)
    frame = page.locator(CODED_VIEW).first.get_attribute("data-frame")
    colours = page.evaluate(COLOURS_JS, CODED_VIEW)
    assert colours > 10, colours  # a map, not a blank canvas
    explorer.locator(".cnnviz-colormap select").select_option(label="gray")
    page.wait_for_function("([sel, old]) => document.querySelector(sel).dataset.frame !== old",
                           arg=[CODED_VIEW, frame])
    screenshot(page, tmp_path, "nb7-04-browser-view", selector=".cnnviz-explorer")
    assert_no_error_output(page)
    expect(explorer.locator(".cnnviz-error")).to_be_hidden()
    assert [e for e in page_log.js_errors if not NOTEBOOK7_OWN_ERROR.search(e)] == []
