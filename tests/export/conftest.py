"""Fixtures for the HTML-export tests: a tiny linear CNN, its engine, and a headless Chromium.

The browser fixtures follow ``tests/browser/conftest.py`` (same Chromium lookup and flags, taken
from ``tests/browser/browser_harness.py`` when importable): without a Chromium the browser tests
are skipped, or fail when ``CNNVIZ_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

_BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"

try:  # share the lookup and flags with the JupyterLab browser tests
    if str(_BROWSER_DIR) not in sys.path:
        sys.path.insert(0, str(_BROWSER_DIR))
    from browser_harness import CHROMIUM_ARGS, find_chromium
except ImportError:  # pragma: no cover - the harness is optional here
    CHROMIUM_ARGS = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ]  # fmt: skip

    def find_chromium() -> str | None:
        return os.environ.get("CNNVIZ_CHROMIUM") or shutil.which("chromium")


def _missing(message: str):
    if os.environ.get("CNNVIZ_REQUIRE_BROWSER", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"{message} (CNNVIZ_REQUIRE_BROWSER=1 requires the browser tests to run)")
    pytest.skip(message)


def linear_cnn():
    """conv1 (16x16x6, linear) -> pool1 (8x8x6) -> conv2 (6x6x8) -> gap (8) -> logits (4).

    Linear convolutions keep every channel non-constant for random images, so every control
    of the page visibly changes the picture.
    """
    import keras
    from keras import layers

    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            layers.Conv2D(6, 3, padding="same", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(8, 3, name="conv2"),
            layers.GlobalAveragePooling2D(name="gap"),
            layers.Dense(4, name="logits"),
        ],
        name="linear_cnn",
    )


@pytest.fixture(scope="session")
def engine():
    from cnnviz_widgets import ActivationEngine

    return ActivationEngine(linear_cnn())


@pytest.fixture(scope="session")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    out = []
    for _ in range(3):
        img = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
        img.flags.writeable = False
        out.append(img)
    return out


@pytest.fixture(scope="session")
def chromium():
    path = find_chromium()
    if path is None:
        _missing("no Chromium found: install it with apt-get install chromium to run browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Python package playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
