"""Shared test set-up: quiet TensorFlow, no network for models, one headless Chromium.

The browser fixtures live here so that every folder of browser tests (JupyterLab and
Voila in ``tests/browser``, the exported page in ``tests/export``) shares one Playwright
session: a second synchronous Playwright cannot start while one is running.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CNNVIZ_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent / "browser"))

from browser_harness import CHROMIUM_ARGS, find_chromium  # noqa: E402


def require_browser() -> bool:
    """True when browser tests must run (CI sets ``CNNVIZ_REQUIRE_BROWSER=1``)."""
    return os.environ.get("CNNVIZ_REQUIRE_BROWSER", "").strip().lower() in {"1", "true", "yes"}


def missing_browser(message: str):
    """Skip with ``message``, or fail when the browser tests are required."""
    if require_browser():
        pytest.fail(f"{message} (CNNVIZ_REQUIRE_BROWSER=1 requires the browser tests to run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of the Chromium binary (skip or fail when there is none)."""
    path = find_chromium()
    if path is None:
        missing_browser("no Chromium found: install it with apt-get install chromium to run "
                        "browser tests")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One headless Chromium for the whole session, launched with ``CHROMIUM_ARGS``."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_browser("the Python package playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium_path, headless=True,
                                      args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
