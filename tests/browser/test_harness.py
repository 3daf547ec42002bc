"""Self-test of the browser harness: real widgets in JupyterLab and Voila, driven by Chromium."""

from __future__ import annotations

import re

import nbformat
import pytest
from browser_harness import (
    SERVER_EXTENSION_LOADED,
    assert_no_error_output,
    error_output_texts,
    open_notebook,
    open_voila,
    screenshot,
    wait_for_new_attribute,
)
from playwright.sync_api import expect

pytestmark = [pytest.mark.slow, pytest.mark.browser]

WIDGETS_SOURCE = """\
import io

import bqplot as bq
import ipywidgets as w
import numpy as np
from PIL import Image as PILImage


def png(level):
    arr = np.zeros((16, 16, 3), np.uint8)
    arr[..., 0] = (level * 25) % 256
    arr[: level + 1, :, 1] = 200
    buf = io.BytesIO()
    PILImage.fromarray(arr).save(buf, format="png")
    return buf.getvalue()


status = w.Label("ready").add_class("harness-status")
out = w.Output().add_class("harness-output")
dropdown = w.Dropdown(options=["alpha", "beta", "gamma"], value="alpha")
slider = w.IntSlider(value=0, min=0, max=10)
toggles = w.ToggleButtons(options=["one", "two", "three"], value="one")
image = w.Image(value=png(0), format="png", width=96, height=96)

x = np.linspace(0, 6, 50)
sx, sy = bq.LinearScale(), bq.LinearScale()
line = bq.Lines(x=x, y=np.sin(x), scales={"x": sx, "y": sy})
figure = bq.Figure(
    marks=[line],
    axes=[bq.Axis(scale=sx), bq.Axis(scale=sy, orientation="vertical")],
    layout=w.Layout(width="400px", height="250px"),
)


def update(change):
    image.value = png(slider.value)
    line.y = np.sin(x + slider.value)
    status.value = f"dropdown={dropdown.value} slider={slider.value} toggle={toggles.value}"
    with out:
        print(f"changed {change['owner'].__class__.__name__} to {change['new']}")


for widget in (dropdown, slider, toggles):
    widget.observe(update, names="value")

root = w.VBox([dropdown, slider, toggles, image, figure, status, out]).add_class("harness-root")
display(root)
"""


def _write_notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def widgets_notebook(tmp_path):
    return _write_notebook(tmp_path / "harness_widgets.ipynb", "print('hello')", WIDGETS_SOURCE)


def _drive_widgets(page):
    """Change each control and check the kernel saw it and the image and plot were redrawn."""
    root = page.locator(".harness-root")
    status = page.locator(".harness-status")
    image = ".harness-root img.widget-image"
    expect(status).to_have_text("ready")
    expect(root.locator(".bqplot.figure svg.svg-figure")).to_be_visible()
    expect(root.locator(".bqplot.figure path.line").first).to_be_attached()

    src0 = page.locator(image).get_attribute("src")
    assert src0 and src0.startswith("blob:"), src0

    root.locator(".widget-dropdown select").select_option("beta")
    expect(status).to_have_text("dropdown=beta slider=0 toggle=one")

    path0 = root.locator(".bqplot.figure path.line").first.get_attribute("d")
    handle = root.locator(".widget-slider .noUi-handle")
    handle.focus()
    handle.press("ArrowRight")
    expect(status).to_have_text("dropdown=beta slider=1 toggle=one")
    src1 = wait_for_new_attribute(page, image, "src", src0)
    assert src1.startswith("blob:") and src1 != src0
    expect(root.locator(".bqplot.figure path.line").first).not_to_have_attribute("d", path0)

    button = root.locator(".widget-toggle-buttons button", has_text="three")
    button.click()
    expect(button).to_have_class(re.compile(r"\bmod-active\b"))
    expect(status).to_have_text("dropdown=beta slider=1 toggle=three")
    expect(page.locator(".harness-output")).to_contain_text("changed ToggleButtons to three")


def test_jupyterlab_widgets_render_and_respond(
    page, page_log, jupyterlab_server, widgets_notebook, tmp_path
):
    open_notebook(
        page,
        jupyterlab_server,
        widgets_notebook,
        wait_for=[".harness-root img.widget-image", ".harness-root .bqplot.figure"],
    )
    expect(page.locator(".jp-OutputArea-output", has_text="hello")).to_be_visible()
    _drive_widgets(page)
    assert_no_error_output(page)
    screenshot(page, tmp_path, "jupyterlab_widgets")
    assert not page_log.js_errors, page_log.js_errors
    # the package's server extension (TCP_NODELAY on kernel websockets) ran in this server
    assert SERVER_EXTENSION_LOADED in jupyterlab_server.log_tail(1_000_000)


def test_error_outputs_are_detected(page, jupyterlab_server, tmp_path):
    nb = _write_notebook(
        tmp_path / "harness_errors.ipynb",
        "import sys\nprint('a warning on stderr', file=sys.stderr)",
        "1 / 0",
        "print('never runs')",
    )
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        open_notebook(page, jupyterlab_server, nb)
    # Only this notebook is open: tabs of the earlier test are not restored from the workspace.
    expect(page.locator(".jp-NotebookPanel")).to_have_count(1)
    texts = "\n".join(error_output_texts(page))
    assert "a warning on stderr" in texts and "ZeroDivisionError" in texts
    with pytest.raises(AssertionError, match="2 error output"):
        assert_no_error_output(page)
    assert_no_error_output(page, allow=["a warning on stderr", "ZeroDivisionError"])


def test_voila_widgets_render_and_respond(page, page_log, voila_server, widgets_notebook, tmp_path):
    server = voila_server(widgets_notebook)
    open_voila(
        page, server, wait_for=[".harness-root img.widget-image", ".harness-root .bqplot.figure"]
    )
    _drive_widgets(page)
    assert_no_error_output(page)
    screenshot(page, tmp_path, "voila_widgets")
    assert all(not u.startswith(("http://127.0.0.1", "http://localhost")) for u in page_log.blocked)
