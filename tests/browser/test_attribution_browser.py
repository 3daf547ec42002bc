"""The attribution panel in a real JupyterLab: methods side by side, each with its faithfulness."""

from __future__ import annotations

import nbformat
import pytest
from browser_harness import assert_no_error_output, open_notebook, screenshot
from playwright.sync_api import expect

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PANEL = ".cnnviz-attribution"
CELLS = f"{PANEL} .cnnviz-side-by-side"

CODE = """from cnnviz_widgets import AttributionPanel, zoo

images, labels = zoo.digit_samples(4)
panel = AttributionPanel(zoo.digits_cnn(), images, class_names=zoo.DIGIT_LABELS)
panel"""


def test_methods_side_by_side_in_jupyterlab(page, page_log, jupyterlab_server, tmp_path):
    notebook = tmp_path / "attribution_panel.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CODE)]), notebook)
    open_notebook(page, jupyterlab_server, notebook, wait_for=[f"{PANEL} .cnnviz-attribution-view"],
                  timeout=180_000)
    panel = page.locator(PANEL).first
    expect(panel.locator(".cnnviz-faithfulness").first).to_contain_text("deletion AUC")

    # a user picks two more methods in the list (ctrl-click adds to the selection)
    choices = panel.locator(".cnnviz-compare-methods select")
    choices.select_option(label=["LayerCAM", "Score-CAM"])
    expect(page.locator(CELLS)).to_have_count(2, timeout=120_000)
    expect(page.locator(CELLS).nth(0)).to_contain_text("LayerCAM")
    expect(page.locator(CELLS).nth(1)).to_contain_text("Score-CAM")
    expect(page.locator(f"{CELLS} .cnnviz-faithfulness")).to_have_count(2)
    # every picture (the two overlays and their two curve plots) decodes in the browser
    page.wait_for_function(
        "sel => { const imgs = [...document.querySelectorAll(sel + ' img')];"
        " return imgs.length === 4 && imgs.every(i => i.complete && i.naturalWidth > 0); }",
        arg=CELLS, timeout=60_000)
    screenshot(page, tmp_path, "side-by-side", selector=PANEL)
    assert_no_error_output(page)
    expect(panel.locator(".cnnviz-error")).to_be_hidden()
    assert page_log.js_errors == []
