"""The exported page carries the dataset view's top-image crops when the explorer has a set."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets import explore
from cnnviz_widgets.engine.receptive import receptive_box
from cnnviz_widgets.errors import InvalidSettingError

from .test_html import read_payload


@pytest.fixture(scope="module")
def dataset():
    rng = np.random.default_rng(4)
    return rng.integers(0, 256, (20, 16, 16, 3), dtype=np.uint8)


def _decode(src: str) -> np.ndarray:
    head, data = src.split(",", 1)
    assert head == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def test_the_page_holds_the_top_crops_of_every_channel(engine, images, dataset, tmp_path):
    ex = explore(engine, images, include_samples=False, dataset=dataset, dataset_top_k=3)
    report = ex.export_html(tmp_path / "page.html", layers=["conv1", "conv2"])
    text = report.path.read_text("utf-8")
    payload = read_payload(text)
    assert 'id="top-images"' in text
    conv1, conv2 = payload["top"]
    assert len(conv1) == 6 and len(conv2) == 8  # one list per channel
    assert all(len(channel) == 3 for channel in conv1 + conv2)
    scans = ex.dataset_view.scans
    assert scans.scan_count == 2  # conv1 when the view opened, conv2 for the page
    stats = scans.stats("conv2")
    for channel in (0, 7):
        for j, entry in enumerate(conv2[channel]):
            index = int(stats.top_indices[channel, j])
            row, col = (int(v) for v in stats.top_positions[channel, j])
            top, left, bottom, right = receptive_box(engine, "conv2", row, col)
            expected = np.rint(engine.pixels(dataset[index])[top:bottom, left:right])
            np.testing.assert_array_equal(_decode(entry["src"]), expected.astype(np.uint8))
            assert f"#{index}" in entry["caption"]
            t, lft, b, r = entry["marker"]
            assert 0 <= t < b <= 1 and 0 <= lft < r <= 1
    assert "http://" not in text.split("<script")[0] and "https://" not in text


def test_no_crops_without_a_dataset_or_when_turned_off(engine, images, dataset, tmp_path):
    plain = explore(engine, images, include_samples=False)
    page = plain.export_html(tmp_path / "plain.html", layers=["conv2"])
    assert read_payload(page.path.read_text("utf-8"))["top"] is None
    with_set = explore(engine, images, include_samples=False, dataset=dataset)
    page = with_set.export_html(tmp_path / "off.html", layers=["conv2"], top_images=False)
    assert read_payload(page.path.read_text("utf-8"))["top"] is None
    with pytest.raises(InvalidSettingError, match="needs a data set"):
        plain.export_html(tmp_path / "x.html", layers=["conv2"], top_images=True)
