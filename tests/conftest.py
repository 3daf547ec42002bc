"""Shared test set-up: quiet TensorFlow, optional packages, one headless Chromium.

``require(module, extra)`` imports an optional package a test needs: without it the
test is skipped with the extra to install, unless ``CNNVIZ_REQUIRE_ALL=1`` (set in CI),
which turns every such skip into a failure. Browser tests follow the same rule with
``CNNVIZ_REQUIRE_BROWSER=1`` (or ``CNNVIZ_REQUIRE_ALL=1``).

The browser fixtures live here so that every folder of browser tests (JupyterLab and
Voila in ``tests/browser``, the exported page in ``tests/export``) shares one Playwright
session: a second synchronous Playwright cannot start while one is running.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent / "browser"))

from browser_harness import CHROMIUM_ARGS, find_chromium  # noqa: E402


def _switch(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


def require_all() -> bool:
    """True when nothing may be skipped for a missing package (``CNNVIZ_REQUIRE_ALL=1``)."""
    return _switch("CNNVIZ_REQUIRE_ALL")


def require_browser() -> bool:
    """True when browser tests must run (``CNNVIZ_REQUIRE_BROWSER=1`` or ``REQUIRE_ALL``)."""
    return _switch("CNNVIZ_REQUIRE_BROWSER") or require_all()


def missing(message: str, required: bool | None = None):
    """Skip with ``message``, or fail when ``required`` (default: :func:`require_all`)."""
    if require_all() if required is None else required:
        pytest.fail(f"{message} (CNNVIZ_REQUIRE_ALL=1 / CNNVIZ_REQUIRE_BROWSER=1 require it)",
                    pytrace=False)
    pytest.skip(message)


def missing_browser(message: str):
    """Skip with ``message``, or fail when the browser tests are required."""
    missing(message, required=require_browser())


def require(module_name: str, extra: str = "test") -> ModuleType:
    """Import and return ``module_name``, an optional package a test needs.

    When it cannot be imported the test is skipped, naming the extra that installs it
    (``pip install -e '.[extra]'``); with ``CNNVIZ_REQUIRE_ALL=1`` the test fails instead.
    Only a missing package is handled: a package that is installed but broken, and every
    error of the project's own code (e.g. a zoo loader), fails the test as usual.
    """
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.split(".")[0]
        if exc.name is None or exc.name.split(".")[0] != top:
            raise  # the package is there but one of its own imports is broken
        missing(f"the optional package {top!r} is not installed: "
                f"pip install -e '.[{extra}]'")
        raise  # not reached: missing() always raises


@pytest.fixture(name="require", scope="session")
def require_fixture():
    """The :func:`require` helper, for tests that prefer a fixture to an import."""
    return require


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


def fashion_test_set(n: int):
    """The shipped Fashion CNN and the first ``n`` Fashion-MNIST test images with labels
    (skip, or fail in CI, when the data set is not installed)."""
    from cnnviz_widgets import zoo
    from cnnviz_widgets.errors import DatasetUnavailableError

    try:
        x, y = zoo.fashion_mnist("test")
    except DatasetUnavailableError as exc:
        missing(str(exc))
    return zoo.fashion_cnn(), x[:n], y[:n]
