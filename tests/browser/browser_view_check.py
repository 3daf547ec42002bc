"""The explorer's browser view (``backend="browser"``), checked in a real front end by
``test_explorer_browser`` (JupyterLab) and ``test_notebook7_browser``: the canvas the browser
colours holds the numpy reference colouring pixel for pixel, and a colour-map change
recolours it."""

from __future__ import annotations

import json

import nbformat
import numpy as np
from browser_harness import assert_no_error_output, open_notebook, screenshot
from playwright.sync_api import expect

CANVAS = ".cnnviz-explorer canvas.cnnviz-coded"

#: The quick start's explorer in the browser view; the kernel writes what the canvas must
#: show, now and with the "gray" colour map, from the codes it sent.
_CODE = """\
import json
from cnnviz_widgets import explore, zoo
from cnnviz_widgets.render.codes import code_coefficients, colour_codes, palette
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


def check_browser_view(page, server, tmp_path, front_end: str) -> None:
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
    np.testing.assert_array_equal(rgb, expected[first])
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 20  # maps, not one flat colour
    screenshot(page, tmp_path, f"{front_end}-browser-view", selector=".cnnviz-explorer")

    explorer.locator(".cnnviz-colormap select").select_option(label=gray)
    page.wait_for_function("([sel, old]) => document.querySelector(sel).dataset.frame !== old",
                           arg=[CANVAS, frame])
    rgb, _ = _canvas_rgb(page)
    np.testing.assert_array_equal(rgb, expected[gray])
    assert (rgb[..., 0] == rgb[..., 1]).all()  # gray really was drawn
    assert_no_error_output(page)
    expect(explorer.locator(".cnnviz-error")).to_be_hidden()


