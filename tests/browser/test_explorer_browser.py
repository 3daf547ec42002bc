"""The feature-map explorer in a real JupyterLab and a real Voila, driven like a student would."""

from __future__ import annotations

import json
import re

import nbformat
import numpy as np
import pytest
from browser_harness import (
    NOTEBOOKS_DIR,
    assert_changes_image,
    assert_no_error_output,
    decoded_width,
    open_notebook,
    open_voila,
    screenshot,
)
from playwright.sync_api import expect

pytestmark = [pytest.mark.slow, pytest.mark.browser]

VIEW = ".cnnviz-explorer img.cnnviz-view"
CAPTION = ".cnnviz-explorer .cnnviz-caption"
DATASET_CROPS = ".cnnviz-explorer .cnnviz-dataset img.cnnviz-dataset-crop"

#: Runs code in the kernel of the open notebook (as a new cell would) and returns the status.
_EXECUTE_JS = """async (code) => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const reply = await kernel.requestExecute({code: code}).done;
    return reply.content.status;
}"""


def _decoded_width(page) -> int:
    return decoded_width(page, VIEW)


def _enlarged_crisply(page, view) -> None:
    """The grid is sent at the maps' own size and enlarged by a whole factor in the
    browser, nearest-neighbour: every screen block of one picture pixel is one colour."""
    import io

    import numpy as np
    from PIL import Image

    natural, style = view.evaluate(
        "img => [img.naturalWidth, getComputedStyle(img).imageRendering]")
    box = view.bounding_box()
    factor = round(box["width"] / natural)
    assert style == "pixelated" and factor >= 2
    assert abs(box["width"] - natural * factor) < 1
    shot = np.asarray(Image.open(io.BytesIO(view.screenshot())).convert("RGB"), np.int16)

    def uniform(dy: int, dx: int) -> float:  # blocks starting dy, dx into the shot
        part = shot[dy:, dx:]
        rows, cols = part.shape[0] // factor, part.shape[1] // factor
        blocks = part[:rows * factor, :cols * factor].reshape(rows, factor, cols, factor, 3)
        return float(np.mean(np.abs(blocks - blocks[:, :1, :, :1]).max(axis=(1, 3, 4)) <= 2))

    best = max(uniform(dy, dx) for dy in range(factor) for dx in range(factor))
    assert best > 0.98, f"the browser smoothed the enlarged picture ({best:.2f} uniform)"


def _changes_view(page, action) -> None:
    """Run ``action``; the view gets a new image, and the browser decodes it."""
    assert_changes_image(page, VIEW, action)


def test_explorer_in_jupyterlab(page, page_log, jupyterlab_server, tmp_path):
    open_notebook(page, jupyterlab_server, NOTEBOOKS_DIR / "01_quickstart.ipynb",
                  wait_for=[VIEW], timeout=180_000)
    explorer = page.locator(".cnnviz-explorer").first
    explorer.scroll_into_view_if_needed()
    screenshot(page, tmp_path, "01-opened", selector=".cnnviz-explorer")

    layer_select = explorer.locator(".cnnviz-layer select")
    _changes_view(page, lambda: layer_select.select_option(index=3))  # conv2 64 maps
    expect(explorer.locator(".cnnviz-caption")).to_contain_text("conv2")
    screenshot(page, tmp_path, "02-layer", selector=".cnnviz-explorer")

    handle = explorer.locator(".cnnviz-channel .noUi-handle")

    def move_slider():
        handle.focus()
        handle.press("ArrowRight")

    _changes_view(page, move_slider)
    expect(explorer.locator(".cnnviz-caption")).to_contain_text(re.compile(r"\| channel \d+ \|"))
    screenshot(page, tmp_path, "03-channel", selector=".cnnviz-explorer")

    _changes_view(page, lambda: explorer.locator(".cnnviz-normalization button",
                                                 has_text="standardize").click())
    expect(explorer.locator(".cnnviz-normalization button.mod-active")).to_have_text(
        "standardize")

    _changes_view(page, lambda: explorer.locator(".cnnviz-image-picker button").nth(2).click())
    expect(explorer.locator(".cnnviz-caption")).to_contain_text("image 2")

    _changes_view(page, lambda: explorer.locator(".cnnviz-mode button",
                                                 has_text="All channels").click())
    screenshot(page, tmp_path, "04-grid", selector=".cnnviz-explorer")
    _enlarged_crisply(page, explorer.locator("img.cnnviz-view").first)
    assert_no_error_output(page)
    expect(explorer.locator(".cnnviz-error")).to_be_hidden()

    # the bqplot backend: hover reads out a channel, a click on a tile zooms on it
    explorer.locator(".cnnviz-backend button", has_text="bqplot").click()
    figure = explorer.locator(".cnnviz-bq-view svg.svg-figure").first
    expect(figure).to_be_visible()
    readout = explorer.locator(".cnnviz-bq-readout")
    bq_image = explorer.locator(".cnnviz-bq-view svg image").first
    box = bq_image.bounding_box()
    # the middle of the first tile of the 8 x 8 grid
    x, y = box["x"] + box["width"] / 16, box["y"] + box["height"] / 16
    page.mouse.move(x - 2, y - 2)
    page.mouse.move(x, y)
    expect(readout).to_contain_text("channel", timeout=30_000)
    old = bq_image.get_attribute("href")
    page.mouse.click(x, y)
    expect(explorer.locator(".cnnviz-caption")).to_contain_text("| channel 0 |")
    expect(bq_image).not_to_have_attribute("href", old or "")
    screenshot(page, tmp_path, "05-bqplot", selector=".cnnviz-explorer")
    assert_no_error_output(page)

    # one channel now: a click on a map position shows where it looks in the input
    box = bq_image.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    field = explorer.locator(".cnnviz-receptive-field")
    expect(field).to_be_visible(timeout=60_000)
    expect(field).to_contain_text("sees input rows")
    page.wait_for_function(
        "sel => { const imgs = [...document.querySelectorAll(sel + ' img')];"
        " return imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth > 0); }",
        arg=".cnnviz-receptive-field", timeout=60_000)
    screenshot(page, tmp_path, "05b-receptive-field", selector=".cnnviz-receptive-field")
    assert_no_error_output(page)

    # the dataset view, set from the same kernel: the channel's nine top crops are decoded
    status = page.evaluate(_EXECUTE_JS, "ex.dataset = images\nex.layer = 'conv2'\nex.channel = 3")
    assert status == "ok"
    page.wait_for_function(
        "sel => [...document.querySelectorAll(sel)].filter(i => i.complete && i.naturalWidth > 0)"
        ".length === 9", arg=DATASET_CROPS, timeout=60_000)
    expect(explorer.locator(".cnnviz-dataset-title")).to_contain_text("channel 3")
    screenshot(page, tmp_path, "06-dataset", selector=".cnnviz-dataset")
    assert_no_error_output(page)

    # "Explain channel": the feature visualisation next to the data set's top images
    explorer.locator(".cnnviz-explain").click()
    page.wait_for_function(
        "sel => [...document.querySelectorAll(sel)].filter(i => i.complete && i.naturalWidth > 0)"
        ".length === 6", arg=".cnnviz-explain-top-images img", timeout=120_000)
    expect(explorer.locator(".cnnviz-insight")).to_contain_text("data set")
    screenshot(page, tmp_path, "07-explain", selector=".cnnviz-insight")
    assert_no_error_output(page)

    # compare mode from its dropdowns: two images side by side, and their difference
    explorer.locator(".cnnviz-backend button", has_text="matplotlib").click()
    expect(page.locator(VIEW).first).to_be_visible()
    _changes_view(page, lambda: explorer.locator(".cnnviz-compare-mode select").select_option(
        label="another image"))
    explorer.locator(".cnnviz-compare-index select").select_option(index=1)
    expect(explorer.locator(".cnnviz-caption")).to_contain_text("one scale for both")
    expect(explorer.locator(".cnnviz-caption")).to_contain_text("right: image 1")
    difference = ".cnnviz-explorer .cnnviz-compare img.cnnviz-difference"
    page.wait_for_function(
        "sel => { const i = document.querySelector(sel);"
        " return i && i.complete && i.naturalWidth > 0; }", arg=difference, timeout=60_000)
    assert _decoded_width(page) > 0
    screenshot(page, tmp_path, "08-compare", selector=".cnnviz-explorer")
    assert_no_error_output(page)
    assert page_log.js_errors == []


CANVAS = ".cnnviz-explorer canvas.cnnviz-coded"

#: The quick start's explorer in the browser view; the kernel writes what the canvas must
#: show, now and with the "gray" colour map, from the codes it sent.
_CODE = """\
import json
from cnnviz_widgets import explore, zoo
from cnnviz_widgets.colour.colormaps import palette
from cnnviz_widgets.render.codes import code_coefficients, colour_codes
model = zoo.digits_cnn()
images, labels = zoo.digit_samples()
ex = explore(model, images, backend="browser")
shown = ex.canvas.maps
codes = shown.tile_codes
coefficients = code_coefficients(codes, ex.canvas.value.rendered.stats)
expected = {name: colour_codes(codes, coefficients, palette(name)).tolist()
            for name in (ex.colormap, "gray")}
with open(PATH, "w") as f:
    json.dump(expected, f)
ex"""

_PIXELS_JS = """sel => {
    const c = document.querySelector(sel);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    return {width: c.width, height: c.height, frame: c.dataset.frame,
            rgba: Array.from(d)};
}"""


def _canvas_rgb(page) -> tuple[np.ndarray, str]:
    got = page.evaluate(_PIXELS_JS, CANVAS)
    rgba = np.asarray(got["rgba"], np.uint8).reshape(got["height"], got["width"], 4)
    assert (rgba[..., 3] == 255).all()
    return rgba[..., :3], got["frame"]


def _assert_same_colours(rgb: np.ndarray, expected: np.ndarray) -> None:
    """The canvas holds the reference colouring: JavaScript and numpy do the same float32
    sums, so nearly every pixel is equal; a value on the edge of a colour step may land on
    the neighbouring colour on another CPU."""
    assert rgb.shape == expected.shape
    assert np.mean((rgb == expected).all(axis=-1)) >= 0.999
    assert np.abs(rgb.astype(int) - expected.astype(int)).max() <= 8


def _check_browser_view(page, server, tmp_path, front_end: str) -> None:
    expected_path = tmp_path / "expected.json"
    notebook = tmp_path / f"browser_view_{front_end}.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        _CODE.replace("PATH", repr(str(expected_path))))]), notebook)
    open_notebook(page, server, notebook, wait_for=[CANVAS], timeout=180_000)
    page.wait_for_function("sel => Number(document.querySelector(sel).dataset.frame) >= 1",
                           arg=CANVAS)
    expected = {name: np.asarray(rgb, np.uint8)
                for name, rgb in json.loads(expected_path.read_text()).items()}
    first, gray = (name for name in expected)  # the explorer's colour map, then "gray"
    explorer = page.locator(".cnnviz-explorer").first
    explorer.scroll_into_view_if_needed()
    rgb, frame = _canvas_rgb(page)
    _assert_same_colours(rgb, expected[first])
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 20  # maps, not one flat colour
    screenshot(page, tmp_path, f"{front_end}-browser-view", selector=".cnnviz-explorer")

    explorer.locator(".cnnviz-colormap select").select_option(label=gray)
    page.wait_for_function("([sel, old]) => document.querySelector(sel).dataset.frame !== old",
                           arg=[CANVAS, frame])
    rgb, _ = _canvas_rgb(page)
    _assert_same_colours(rgb, expected[gray])
    assert (rgb[..., 0] == rgb[..., 1]).all()  # gray really was drawn
    assert_no_error_output(page)
    expect(explorer.locator(".cnnviz-error")).to_be_hidden()


def test_browser_view_in_jupyterlab(page, page_log, jupyterlab_server, tmp_path):
    """The explorer's browser view: the canvas the browser colours holds the numpy reference
    colouring pixel for pixel, before and after a colour-map change."""
    _check_browser_view(page, jupyterlab_server, tmp_path, "lab")
    assert page_log.js_errors == []


def test_explorer_in_voila(page, page_log, voila_server, tmp_path):
    server = voila_server(NOTEBOOKS_DIR / "01_quickstart.ipynb")
    open_voila(page, server, wait_for=[VIEW], timeout=180_000)
    explorer = page.locator(".cnnviz-explorer").first
    _changes_view(page, lambda: explorer.locator(".cnnviz-layer select").select_option(index=1))
    expect(explorer.locator(".cnnviz-caption")).to_contain_text("pool1")
    _changes_view(page, lambda: explorer.locator(".cnnviz-normalization button",
                                                 has_text="per channel").click())
    screenshot(page, tmp_path, "voila")
    assert_no_error_output(page)
    assert page_log.js_errors == []


_SIGNAL_NOTEBOOK = """\
import numpy as np
from cnnviz_widgets import explore
from cnnviz_widgets.testing import tiny_conv1d

t = np.linspace(0, 4 * np.pi, 64)
signals = np.stack([np.stack([np.sin(t + k), np.cos(2 * t - k)], axis=-1) for k in range(3)])
ex = explore(tiny_conv1d(), signals.astype("float32"))
ex"""


def test_signal_explorer_in_jupyterlab(page, page_log, jupyterlab_server, tmp_path):
    import nbformat

    path = tmp_path / "signal_explorer.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_SIGNAL_NOTEBOOK)])
    nbformat.write(notebook, path)
    open_notebook(page, jupyterlab_server, path, wait_for=[VIEW], timeout=180_000)
    explorer = page.locator(".cnnviz-explorer").first
    explorer.scroll_into_view_if_needed()
    expect(explorer.locator(".cnnviz-caption")).to_contain_text("one row per channel")
    # the input drawn as lines, and three line-plot thumbnails, all decoded
    page.wait_for_function(
        "sel => { const i = document.querySelector(sel);"
        " return i && i.complete && i.naturalWidth > i.naturalHeight; }",
        arg=".cnnviz-explorer img.cnnviz-input-signal", timeout=60_000)
    page.wait_for_function(
        "sel => [...document.querySelectorAll(sel)].filter(i => i.complete && i.naturalWidth > 0)"
        ".length === 3", arg=".cnnviz-explorer .cnnviz-thumbs img", timeout=60_000)
    screenshot(page, tmp_path, "signal-01-strip", selector=".cnnviz-explorer")

    # one channel: a line plot, wider than high
    _changes_view(page, lambda: explorer.locator(".cnnviz-mode button",
                                                 has_text="One channel").click())
    expect(explorer.locator(".cnnviz-caption")).to_contain_text("| channel 0 |")
    width = _decoded_width(page)
    height = page.eval_on_selector(VIEW, "img => img.naturalHeight")
    assert width > 1.5 * height
    screenshot(page, tmp_path, "signal-02-line", selector=".cnnviz-explorer")

    # bqplot draws the channel as a Lines mark
    explorer.locator(".cnnviz-backend button", has_text="bqplot").click()
    line = explorer.locator(".cnnviz-bq-view svg path.line").first
    expect(line).to_be_visible(timeout=30_000)
    screenshot(page, tmp_path, "signal-03-bqplot", selector=".cnnviz-explorer")

    # a click on a step of the line: the steps of the signal it sees
    dots = explorer.locator(".cnnviz-bq-view svg .dot")
    expect(dots.nth(20)).to_be_visible(timeout=30_000)
    dots.nth(20).click(force=True)
    field = explorer.locator(".cnnviz-receptive-field")
    expect(field).to_be_visible(timeout=60_000)
    expect(field).to_contain_text("conv1d_a step 20 sees input steps 18-22")
    screenshot(page, tmp_path, "signal-04-steps", selector=".cnnviz-receptive-field")
    assert_no_error_output(page)
    expect(explorer.locator(".cnnviz-error")).to_be_hidden()
    assert page_log.js_errors == []
