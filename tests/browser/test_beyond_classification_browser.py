"""A segmentation model's predicted mask and a video's slice slider in a real JupyterLab."""

from __future__ import annotations

import nbformat
import pytest
from browser_harness import (
    assert_changes_image,
    assert_no_error_output,
    decoded_width,
    open_notebook,
    screenshot,
)
from playwright.sync_api import expect

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SEGMENTATION = """from cnnviz_widgets import explore, zoo

scenes, masks = zoo.digit_scenes("test", n=2)
seg = explore(zoo.digits_segmenter(), scenes, include_samples=False, layer="conv4")
seg.add_class("cnnviz-test-segmentation")
seg"""

VIDEO = """from cnnviz_widgets.testing import moving_digits, volume_cnn

videos, motions, _ = moving_digits("test", n=2)
vid = explore(volume_cnn(), videos, include_samples=False, layer="conv1")
vid.add_class("cnnviz-test-video")
vid"""

SEG, VID = ".cnnviz-test-segmentation", ".cnnviz-test-video"


def test_a_mask_and_a_slice_slider_in_jupyterlab(page, page_log, jupyterlab_server, tmp_path):
    notebook = tmp_path / "beyond_classification.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(SEGMENTATION), nbformat.v4.new_code_cell(VIDEO)]), notebook)
    open_notebook(page, jupyterlab_server, notebook,
                  wait_for=[f"{SEG} .cnnviz-mask img", f"{VID} img.cnnviz-view"],
                  timeout=180_000)
    # the segmenter's predicted mask is drawn under its maps, with a legend of its classes
    assert decoded_width(page, f"{SEG} .cnnviz-mask img") >= 48
    expect(page.locator(f"{SEG} .cnnviz-mask .cnnviz-mask-class").first).to_be_visible()
    screenshot(page, tmp_path, "mask", selector=SEG)

    # the video's slice slider moves to the next frame: a new picture, decoded
    video = page.locator(VID).first
    video.scroll_into_view_if_needed()
    handle = video.locator(".cnnviz-depth .noUi-handle")

    def next_slice():
        handle.focus()
        handle.press("ArrowRight")

    assert_changes_image(page, f"{VID} img.cnnviz-view", next_slice)
    expect(video.locator(".cnnviz-caption")).to_contain_text("slice 1 of")
    screenshot(page, tmp_path, "slice", selector=VID)
    assert_no_error_output(page)
    expect(video.locator(".cnnviz-error")).to_be_hidden()
