"""Real-browser tests: headless Chromium (Playwright) against JupyterLab and Voila.

Every test collected under ``tests/browser/`` is marked ``slow`` and ``browser`` automatically, so
``pytest -m "not slow"`` leaves them out. Without a Chromium they are skipped, unless
``CNNVIZ_REQUIRE_BROWSER=1`` (CI), which turns the skip into a failure. Chromium comes from Debian
(``apt-get install -y chromium fonts-dejavu-core``); ``playwright install`` cannot download
here. Set ``CNNVIZ_CHROMIUM`` to use another binary.

Fixtures
--------
``chromium_path`` (session)
    Path of the Chromium binary (skip or fail as above).
``browser`` (session)
    A headless ``playwright.sync_api.Browser`` launched with the flags in ``CHROMIUM_ARGS``.
``page_log`` / ``page`` (function)
    A fresh context and page, 1400x1000, default timeout ``DEFAULT_TIMEOUT_MS``, service workers
    blocked and every non-local request aborted (the test proves the app works offline).
    ``page_log.blocked`` lists aborted URLs, ``page_log.js_errors`` uncaught page exceptions,
    ``page_log.console_errors`` console errors. On failure a screenshot is saved
    (``<tmp_path>/failure.png``, also into ``$CNNVIZ_BROWSER_ARTIFACTS`` if set) and server logs
    are attached to the report.
``jupyterlab_server`` (module)
    A ``JupyterServer``: ``jupyter lab`` from this venv (``sys.executable -m jupyter lab``) on
    127.0.0.1, a free port and a random token, with temporary JUPYTER_CONFIG/DATA/RUNTIME dirs, user
    settings (no news, ``windowingMode: none``), ``expose_app_in_browser``, and
    ``TF_CPP_MIN_LOG_LEVEL=3`` for server and kernels. Attributes:
    ``root_dir`` (served directory), ``token``, ``base_url``, ``url(path)``,
    ``notebook_url(name)``, ``front_end``, ``log_tail()``, ``shutdown_kernels()``. The venv's
    ``share/jupyter`` (ipywidgets and bqplot lab extensions) stays on the data path.
``notebook7_server`` (module)
    The same for Notebook 7 (``sys.executable -m jupyter notebook``, ``front_end == "notebook"``):
    one mechanism (``start_jupyter``), the same settings (Notebook 7 reads the JupyterLab
    extensions' settings), notebooks opened at ``/notebooks/<name>``. ``notebook>=7`` comes with
    the ``notebook`` extra, like ``jupyterlab``.
``voila_server`` (function, factory)
    ``voila_server(notebook_path) -> VoilaServer``: Voila on a copy of the notebook; ``.url``.
    Voila executes the notebook when the page is requested (tracebacks shown). Its template links
    Font Awesome CSS from a CDN (aborted, harmless) and its console warns about shared-module
    versions (Voila bundles JupyterLab 4.2 core; harmless too).

Helpers (``from browser_harness import ...``)
---------------------------------------------
``open_notebook(page, server, notebook_path, *, wait_for=(), run_all=True, expect_success=True,
timeout=DEFAULT_TIMEOUT_MS, shutdown_other_kernels=True) -> str``
    Copy the notebook into ``server.root_dir``, open it (``/lab/tree/<name>`` in JupyterLab,
    ``/notebooks/<name>`` in Notebook 7), wait for an idle kernel,
    run all cells (``notebook:run-all-cells``), fail if a cell raised, then wait until each selector
    in ``wait_for`` is visible.
``open_voila(page, server, *, wait_for=(), timeout=...)``
    Open a Voila page and wait for the selectors.
``assert_no_error_output(page, *, allow=())``
    Fail (printing their texts) if stderr output, a traceback, or a widget that failed to render is
    on the page. ``allow``: regexes of tolerated texts.
``screenshot(page, directory, name, *, selector=None, full_page=True) -> Path``
    JupyterLab scrolls inside a fixed-size page: pass ``selector`` to capture one widget.
``wait_for_new_attribute(page, selector, attribute, old) -> str``
    E.g. wait until ``img.widget-image`` has a new ``src`` (a new ``blob:`` URL at each update).
``assert_changes_image(page, selector, action) -> str``, ``decoded_width(page, selector) -> int``
    Run ``action()`` and wait until the image gets a new ``src`` that the browser decodes.
``wait_for_kernel_idle(page, path=None)``, ``run_all_cells(page) -> bool``,
``block_external_requests(target) -> list[str]``, ``error_output_texts(page) -> list[str]``,
``NOTEBOOKS_DIR`` (``<repo>/notebooks``).

Selectors that hold in JupyterLab 4, Notebook 7 and Voila 0.5: ``.widget-dropdown select``
(``select_option``), ``.widget-slider .noUi-handle`` (``focus()`` then ``press("ArrowRight")``;
not in Notebook 7, whose notebook shortcuts take the arrow keys first: click ``.noUi-base``),
``.widget-toggle-buttons button`` (``.mod-active`` on the chosen one), ``img.widget-image``, bqplot
``.bqplot.figure svg.svg-figure``, and our own classes set with ``widget.add_class("cnnviz-...")``
(``.cnnviz-explorer``, ``.cnnviz-error``). To see a kernel-side effect, have the notebook write into
a widget with a class (e.g. ``Label().add_class("cnnviz-status")``) and use
``playwright.sync_api.expect(page.locator(".cnnviz-status")).to_have_text(...)``.

A test of the explorer notebook then reads::

    pytestmark = [pytest.mark.slow, pytest.mark.browser]

    def test_explorer(page, jupyterlab_server, tmp_path):
        open_notebook(page, jupyterlab_server, NOTEBOOKS_DIR / "01_quickstart.ipynb",
                      wait_for=[".cnnviz-explorer img.widget-image"])
        old = page.locator(".cnnviz-explorer img.widget-image").first.get_attribute("src")
        page.locator(".cnnviz-explorer .widget-dropdown select").first.select_option(index=1)
        wait_for_new_attribute(page, ".cnnviz-explorer img.widget-image", "src", old)
        assert_no_error_output(page)
        screenshot(page, tmp_path, "explorer")

Keep tests robust: wait on selectors/conditions (``expect``, ``wait_for_function``), never fixed
sleeps; the default timeouts are long because CI runs on 2 shared cores. This conftest puts its
directory on ``sys.path``, so ``import browser_harness`` works in any import mode.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # also with --import-mode=importlib
    sys.path.insert(0, str(HERE))

from browser_harness import (  # noqa: E402
    DEFAULT_TIMEOUT_MS,
    JupyterServer,
    VoilaServer,
    block_external_requests,
    start_jupyter,
    start_voila,
)

_LIVE_SERVERS: list = []


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"_cnnviz_report_{report.when}", report)
    return report


def _failed(request) -> bool:
    return any(
        getattr(getattr(request.node, f"_cnnviz_report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )


@dataclass
class PageLog:
    """What a page did that a test may want to check."""

    blocked: list[str] = field(default_factory=list)
    js_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(browser, page_log, request, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, service_workers="block")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    page_log.blocked = block_external_requests(context)
    page = context.new_page()
    page.on("pageerror", lambda exc: page_log.js_errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: page_log.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    try:
        yield page
    finally:
        if _failed(request):
            _save_failure_artifacts(page, page_log, request, tmp_path)
        context.close()


def _save_failure_artifacts(page, page_log, request, tmp_path) -> None:
    try:
        path = tmp_path / "failure.png"
        page.screenshot(path=str(path), full_page=True)
        request.node.add_report_section("teardown", "screenshot", str(path))
        artifacts = os.environ.get("CNNVIZ_BROWSER_ARTIFACTS")
        if artifacts:
            Path(artifacts).mkdir(parents=True, exist_ok=True)
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.nodeid)
            shutil.copy(path, Path(artifacts) / f"{safe}.png")
    except Exception as exc:  # the page may be gone; do not hide the real failure
        request.node.add_report_section("teardown", "screenshot", f"failed: {exc}")
    if page_log.js_errors or page_log.console_errors:
        request.node.add_report_section(
            "teardown",
            "browser errors",
            "\n".join(page_log.js_errors + page_log.console_errors)[-6000:],
        )
    for server in _LIVE_SERVERS:
        request.node.add_report_section(
            "teardown", f"{type(server).__name__} log (tail)", server.log_tail(6000)
        )


def _serve(front_end: str):
    server = start_jupyter(front_end)
    _LIVE_SERVERS.append(server)
    try:
        yield server
    finally:
        _LIVE_SERVERS.remove(server)
        server.stop()


# Both depend on `browser` so that a missing Chromium skips before a server is started.
@pytest.fixture(scope="module")
def jupyterlab_server(browser) -> JupyterServer:
    yield from _serve("lab")


@pytest.fixture(scope="module")
def notebook7_server(browser) -> JupyterServer:
    yield from _serve("notebook")


@pytest.fixture
def voila_server(browser):
    servers: list[VoilaServer] = []

    def _start(notebook_path) -> VoilaServer:
        server = start_voila(Path(notebook_path))
        servers.append(server)
        _LIVE_SERVERS.append(server)
        return server

    try:
        yield _start
    finally:
        for server in servers:
            _LIVE_SERVERS.remove(server)
            server.stop()
