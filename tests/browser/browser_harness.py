"""Machinery behind the browser-test fixtures in ``conftest.py``.

Plain functions and small classes (no pytest fixtures here), so that test modules can import them:
``from browser_harness import open_notebook, assert_no_error_output, screenshot``.
See the docstring of ``tests/browser/conftest.py`` for how to use them.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

#: The repository and its notebooks (the explorer lives in ``notebooks/01_quickstart.ipynb``).
REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"

#: Default timeout for one wait, in milliseconds. Generous: CI runs on a fresh clone of a small VM
#: (2 shared cores) and the first kernel start imports TensorFlow.
DEFAULT_TIMEOUT_MS = 90_000

#: Chromium flags that work on the project's machines (see /work/shared/NOTES.md).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Names under which a Chromium binary may be on the PATH.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Matches every URL that is *not* served from this machine. A regular expression (rather than
#: a Python predicate) is evaluated inside the browser driver, so local requests are not routed
#: through Python at all.
NON_LOCAL_URL = re.compile(
    r"^(?!(?:https?|wss?)://(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?(?:[/?#]|$)|data:|blob:|about:)"
)

STDERR_OUTPUT = "[data-mime-type='application/vnd.jupyter.stderr']"
#: JupyterLab and Voila render error (traceback) outputs with the stderr mime type too; the
#: output-area child of an error gets no distinct class.
ERROR_OUTPUT_SELECTORS = (
    STDERR_OUTPUT,
    "[data-mime-type='application/vnd.jupyter.error']",
    ".jupyter-widgets-error-widget",
)

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


# --------------------------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------------------------


def find_chromium() -> str | None:
    """Path of a Chromium binary: ``$CNNVIZ_CHROMIUM`` if set, else the first found on the PATH."""
    env = os.environ.get("CNNVIZ_CHROMIUM")
    if env:
        return env if os.path.exists(env) else shutil.which(env)
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def block_external_requests(target) -> list[str]:
    """Abort every request from ``target`` (Playwright Page or BrowserContext) leaving the machine.

    Returns the list that collects the aborted URLs, so a test can assert on it (the Voila template,
    for instance, links two font stylesheets from a CDN). ``data:`` and ``blob:`` URLs are allowed.
    """
    blocked: list[str] = []

    def _abort(route) -> None:
        blocked.append(route.request.url)
        route.abort("blockedbyclient")

    target.route(NON_LOCAL_URL, _abort)
    return blocked


def screenshot(
    page, directory: Path, name: str, *, selector: str | None = None, full_page: bool = True
) -> Path:
    """Save a PNG as ``directory/name.png`` and return its path.

    With ``selector``, only the first matching element is captured. Note that JupyterLab is a
    fixed-size app (the notebook scrolls inside it), so ``full_page`` captures only the viewport.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name if name.endswith(".png") else f"{name}.png")
    if selector is None:
        page.screenshot(path=str(path), full_page=full_page)
    else:
        page.locator(selector).first.screenshot(path=str(path))
    return path


def error_output_texts(page, selectors: Sequence[str] = ERROR_OUTPUT_SELECTORS) -> list[str]:
    """Texts of all error-like outputs on the page (stderr, tracebacks, widget render errors)."""
    texts = []
    for selector in selectors:
        for text in page.locator(selector).all_inner_texts():
            texts.append(f"[{selector}]\n{text.strip()}")
    return texts


def assert_no_error_output(
    page,
    *,
    allow: Iterable[str] = (),
    selectors: Sequence[str] = ERROR_OUTPUT_SELECTORS,
) -> None:
    """Fail if the page shows stderr output, a traceback or a widget that failed to render.

    ``allow`` holds regular expressions; an output whose text matches one of them is ignored
    (for instance a known, harmless warning).
    """
    patterns = [re.compile(p) for p in allow]
    bad = [t for t in error_output_texts(page, selectors) if not any(p.search(t) for p in patterns)]
    if bad:
        sep = "\n" + "-" * 60 + "\n"
        raise AssertionError(f"{len(bad)} error output(s) on the page:{sep}{sep.join(bad)}")


def wait_for_new_attribute(
    page, selector: str, attribute: str, old: str | None, *, timeout: float = DEFAULT_TIMEOUT_MS
) -> str:
    """Wait until the first element matching ``selector`` has ``attribute`` different from ``old``.

    Returns the new value. Useful for ``img.widget-image`` whose ``src`` becomes a new ``blob:`` URL
    at each update.
    """
    page.wait_for_function(
        """([sel, attr, old]) => {
            const el = document.querySelector(sel);
            return el !== null && el.getAttribute(attr) !== null && el.getAttribute(attr) !== old;
        }""",
        arg=[selector, attribute, old],
        timeout=timeout,
    )
    return page.locator(selector).first.get_attribute(attribute)


def decoded_width(page, selector: str, *, timeout: float = DEFAULT_TIMEOUT_MS) -> int:
    """``naturalWidth`` of the first image matching ``selector`` once the browser has decoded its
    current ``src`` (0: a broken image)."""
    page.wait_for_function(
        "sel => { const img = document.querySelector(sel); return img && img.complete; }",
        arg=selector,
        timeout=timeout,
    )
    return page.eval_on_selector(selector, "img => img.naturalWidth")


def assert_changes_image(
    page, selector: str, action, *, timeout: float = DEFAULT_TIMEOUT_MS
) -> str:
    """Run ``action()``; the first image matching ``selector`` gets a new ``src`` and the browser
    decodes it. Returns the new ``src``."""
    old = page.locator(selector).first.get_attribute("src")
    action()
    new = wait_for_new_attribute(page, selector, "src", old, timeout=timeout)
    assert decoded_width(page, selector, timeout=timeout) > 0, f"{selector}: {new} does not decode"
    return new


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(base: Path) -> dict[str, str]:
    """Environment for a Jupyter process with its own config, data and runtime directories.

    The venv's ``share/jupyter`` (ipywidgets and bqplot lab extensions, the python3 kernel spec)
    stays on the data path: jupyter_core always adds ``sys.prefix/share/jupyter``.
    """
    env = dict(os.environ)
    for var in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_PREFER_ENV_PATH", "JUPYTERLAB_DIR"):
        env.pop(var, None)
    dirs = {
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "IPYTHONDIR": base / "ipython",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    env.update(
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONUNBUFFERED="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",  # silences a debugpy warning printed by ipykernel
        JUPYTER_PLATFORM_DIRS="0",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    # The kernel must import the same package and venv as the tests, even from a temp directory.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


@dataclass
class _ServerProcess:
    """A server started in its own process group, with its log in a file."""

    proc: subprocess.Popen
    log_path: Path
    root_dir: Path
    port: int
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, n_chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n_chars:]
        except OSError:
            return "<no log>"

    def _wait_until_up(self, probe_url: str, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{what} exited with code {self.proc.returncode} while starting:\n"
                    f"{self.log_tail()}"
                )
            status = _http_status(probe_url)
            if status is not None and status < 500:
                return
            time.sleep(0.25)
        raise RuntimeError(
            f"{what} did not answer {probe_url} within {timeout} s:\n{self.log_tail()}"
        )

    def stop(self, grace: float = 10.0) -> None:
        """End the server, its process group and its kernels (they run in their own groups)."""
        descendants = []
        with contextlib.suppress(Exception):
            import psutil

            descendants = psutil.Process(self.proc.pid).children(recursive=True)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=grace)
        for child in descendants:  # kernels: jupyter_client starts them in a new session
            with contextlib.suppress(Exception):
                if child.is_running():
                    child.kill()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.cleanup()


def _start(cmd: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "wb")  # handed to the child; closed below
    try:
        return subprocess.Popen(
            cmd,
            cwd=str(cwd),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()


def _write_lab_user_settings(settings_dir: Path) -> None:
    settings = {
        # No news toast on screenshots, no update check.
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        # Lay out every cell, also off-screen ones, so their widgets render.
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }
    for rel, value in settings.items():
        path = settings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value, indent=2))


#: The Jupyter front ends ``start_jupyter`` serves: the page that opens a notebook (``{name}``
#: is its file name in ``root_dir``) and the options only that front end's app takes. Notebook 7
#: is JupyterLab components in another shell: the same user settings (no news, no windowing),
#: ``expose_app_in_browser`` (``window.jupyterapp``) and commands (``notebook:run-all-cells``).
FRONT_ENDS = {
    "lab": {
        "app": "LabApp",
        # `?reset` starts from an empty workspace: otherwise JupyterLab restores the tabs of
        # earlier tests (the workspace lives on the server), one of which may be the current one.
        "notebook_page": "/lab/tree/{name}?reset",
        "options": [
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class="
            "jupyterlab.handlers.announcements.NeverCheckForUpdate",
        ],
    },
    "notebook": {
        "app": "JupyterNotebookApp",
        "notebook_page": "/notebooks/{name}",
        "options": [],
    },
}


@dataclass
class JupyterServer(_ServerProcess):
    """A running ``jupyter lab`` or ``jupyter notebook`` (Notebook 7); notebooks it can open live
    in ``root_dir``."""

    token: str = ""
    front_end: str = "lab"

    def url(self, path: str = "/") -> str:
        """Absolute URL of ``path`` with the token appended."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def notebook_url(self, name: str) -> str:
        """URL of the page that opens the notebook ``name`` (relative to ``root_dir``)."""
        return self.url(FRONT_ENDS[self.front_end]["notebook_page"].format(name=name))

    def _api(self, method: str, path: str):
        req = urllib.request.Request(
            self.url(path), method=method, data=b"" if method != "GET" else None
        )
        with urllib.request.urlopen(req, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Shut down every kernel this server runs (frees the memory of earlier notebooks)."""
        for kernel in self._api("GET", "/api/kernels") or []:
            with contextlib.suppress(urllib.error.HTTPError):
                self._api("DELETE", f"/api/kernels/{kernel['id']}")

    def stop(self, grace: float = 10.0) -> None:
        # Ask nicely first: the server then shuts its kernels down itself.
        if self.proc.poll() is None:
            req = urllib.request.Request(self.url("/api/shutdown"), method="POST", data=b"")
            with contextlib.suppress(Exception):
                urllib.request.urlopen(req, timeout=5).close()
                self.proc.wait(timeout=grace)
        super().stop(grace)


#: Loads the package's server extension (``cnnviz_widgets.server``, TCP_NODELAY on kernel
#: websockets): an editable install does not put its ``jupyter_server_config.d`` file in place.
SERVER_EXTENSION_OPTION = '--ServerApp.jpserver_extensions={{"cnnviz_widgets": {}}}'
#: The line ``cnnviz_widgets.server`` logs once it is loaded.
SERVER_EXTENSION_LOADED = "cnnviz_widgets: TCP_NODELAY on kernel websockets"


def start_jupyter(
    front_end: str = "lab", *, startup_timeout: float = 120.0, server_extension: bool = True
) -> JupyterServer:
    """Start an isolated ``jupyter lab`` (``front_end="lab"``) or Notebook 7 ``jupyter notebook``
    (``front_end="notebook"``) on 127.0.0.1 (see the module docstring of conftest.py).

    ``server_extension`` loads the package's Jupyter server extension, as an installed wheel
    does; False disables it (the command line wins over an installed config file)."""
    spec = FRONT_ENDS[front_end]
    app = spec["app"]
    tmp = tempfile.TemporaryDirectory(prefix=f"cnnviz-{front_end}-")
    base = Path(tmp.name)
    env = isolated_env(base)
    root_dir = base / "root"
    settings_dir = base / "user-settings"
    workspaces_dir = base / "workspaces"
    for d in (root_dir, settings_dir, workspaces_dir):
        d.mkdir()
    _write_lab_user_settings(settings_dir)
    token = secrets.token_hex(16)
    last_error: Exception | None = None
    for attempt in range(3):  # a free port can be taken between free_port() and bind
        port = free_port()
        log_path = base / f"jupyter-{front_end}-{attempt}.log"
        cmd = [
            sys.executable, "-m", "jupyter", front_end,
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root_dir}",
            "--ServerApp.terminals_enabled=False",
            f"--{app}.user_settings_dir={settings_dir}",
            f"--{app}.workspaces_dir={workspaces_dir}",
            f"--{app}.expose_app_in_browser=True",
            SERVER_EXTENSION_OPTION.format(server_extension),
            *spec["options"],
        ]  # fmt: skip
        server = JupyterServer(
            proc=_start(cmd, env, root_dir, log_path),
            log_path=log_path,
            root_dir=root_dir,
            port=port,
            _tmp=tmp,
            token=token,
            front_end=front_end,
        )
        try:
            what = f"jupyter {front_end}"
            server._wait_until_up(server.url("/api/status"), startup_timeout, what)
            return server
        except RuntimeError as exc:
            last_error = exc
            server._tmp = None  # keep the directory for the next attempt
            server.stop()
    tmp.cleanup()
    raise RuntimeError(f"could not start jupyter {front_end}: {last_error}")


@dataclass
class VoilaServer(_ServerProcess):
    """A running ``voila`` serving one notebook at ``url``."""

    notebook_name: str = ""

    @property
    def url(self) -> str:
        return self.base_url + "/"


def start_voila(notebook_path: Path, *, startup_timeout: float = 120.0) -> VoilaServer:
    """Start ``voila`` on a copy of ``notebook_path``, on 127.0.0.1 and a free port.

    Voila runs the notebook when the page is requested, so open ``server.url`` and wait for the
    widgets (the first render includes the kernel start).
    """
    tmp = tempfile.TemporaryDirectory(prefix="cnnviz-voila-")
    base = Path(tmp.name)
    env = isolated_env(base)
    root_dir = base / "root"
    root_dir.mkdir()
    name = copy_notebook(notebook_path, root_dir)
    last_error: Exception | None = None
    for attempt in range(3):
        port = free_port()
        log_path = base / f"voila-{attempt}.log"
        cmd = [
            sys.executable, "-m", "voila",
            "--no-browser",
            "--Voila.ip=127.0.0.1",
            f"--port={port}",
            "--Voila.port_retries=0",
            "--VoilaConfiguration.show_tracebacks=True",
            name,
        ]  # fmt: skip
        server = VoilaServer(
            proc=_start(cmd, env, root_dir, log_path),
            log_path=log_path,
            root_dir=root_dir,
            port=port,
            _tmp=tmp,
            notebook_name=name,
        )
        try:
            # Any answer on a static path proves the server is up without running the notebook.
            server._wait_until_up(server.base_url + "/voila/static/", startup_timeout, "voila")
            return server
        except RuntimeError as exc:
            last_error = exc
            server._tmp = None
            server.stop()
    tmp.cleanup()
    raise RuntimeError(f"could not start voila: {last_error}")


# --------------------------------------------------------------------------------------------
# Notebooks in JupyterLab and Notebook 7
# --------------------------------------------------------------------------------------------


def copy_notebook(notebook_path: Path, root_dir: Path) -> str:
    """Copy a notebook into ``root_dir`` (with a python3 kernel spec, so no kernel dialog) and
    return its file name. Files beside the notebook are not copied."""
    notebook_path = Path(notebook_path)
    nb = nbformat.read(notebook_path, as_version=4)
    nb = copy.deepcopy(nb)
    nb.metadata.setdefault(
        "kernelspec",
        {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
    )
    nb.metadata["kernelspec"]["name"] = "python3"
    name = notebook_path.name
    nbformat.write(nb, root_dir / name)
    return name


_KERNEL_IDLE_JS = """(path) => {
    const app = window.jupyterapp;
    if (!app) { return false; }
    const w = app.shell.currentWidget;
    if (!w || !w.sessionContext || !w.content || !w.sessionContext.isReady) { return false; }
    if (path !== null && (!w.context || w.context.path !== path)) { return false; }
    const k = w.sessionContext.session && w.sessionContext.session.kernel;
    return !!k && k.status === 'idle' && k.connectionStatus === 'connected';
}"""

_RUN_ALL_JS = """() => {
    window.__cnnvizRunAll = undefined;
    window.jupyterapp.commands.execute('notebook:run-all-cells').then(
        (ok) => { window.__cnnvizRunAll = {ok: ok !== false}; },
        (err) => { window.__cnnvizRunAll = {ok: false, error: String(err)}; },
    );
}"""


def wait_for_kernel_idle(
    page, path: str | None = None, *, timeout: float = DEFAULT_TIMEOUT_MS
) -> None:
    """Wait until the current JupyterLab notebook (the one at ``path`` relative to the server root,
    if given) is the active tab and its kernel is connected and idle."""
    page.wait_for_function(_KERNEL_IDLE_JS, arg=path, timeout=timeout, polling=250)


def run_all_cells(page, *, timeout: float = DEFAULT_TIMEOUT_MS) -> bool:
    """Run all cells of the current notebook and wait until they have run.

    Returns False if a cell raised (JupyterLab then skips the cells after it).
    """
    page.evaluate(_RUN_ALL_JS)
    page.wait_for_function(
        "() => window.__cnnvizRunAll !== undefined", timeout=timeout, polling=250
    )
    result = page.evaluate("() => window.__cnnvizRunAll")
    return bool(result.get("ok"))


def open_notebook(
    page,
    server: JupyterServer,
    notebook_path: Path,
    *,
    wait_for: Sequence[str] = (),
    run_all: bool = True,
    expect_success: bool = True,
    timeout: float = DEFAULT_TIMEOUT_MS,
    shutdown_other_kernels: bool = True,
) -> str:
    """Open a copy of ``notebook_path`` in JupyterLab or Notebook 7 (``server.front_end``), run all
    its cells and wait for widgets.

    Parameters
    ----------
    page
        A Playwright page (the ``page`` fixture).
    server
        The ``jupyterlab_server`` or ``notebook7_server`` fixture; its notebook page is
        ``/lab/tree/<name>`` or ``/notebooks/<name>``.
    notebook_path
        The notebook to open; a copy goes into ``server.root_dir`` (overwriting an earlier one).
    wait_for
        CSS selectors that must become visible after the run, e.g. ``[".cnnviz-explorer"]``.
    run_all
        Run all cells (``notebook:run-all-cells``) once the kernel is idle.
    expect_success
        Fail (showing the error outputs) if a cell raised.
    timeout
        Timeout of each wait, in milliseconds.
    shutdown_other_kernels
        First shut down kernels left by notebooks opened earlier on this server.

    Returns the notebook's name inside ``server.root_dir``.
    """
    if shutdown_other_kernels:
        server.shutdown_kernels()
    name = copy_notebook(notebook_path, server.root_dir)
    page.goto(server.notebook_url(name), wait_until="domcontentloaded", timeout=timeout)
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached", timeout=timeout)
    wait_for_kernel_idle(page, name, timeout=timeout)
    if run_all:
        ok = run_all_cells(page, timeout=timeout)
        if expect_success and not ok:
            texts = "\n".join(error_output_texts(page)) or "<no error output found>"
            raise AssertionError(f"running {name} in jupyter {server.front_end} failed:\n{texts}")
    for selector in wait_for:
        page.locator(selector).first.wait_for(state="visible", timeout=timeout)
    return name


def open_voila(
    page,
    server: VoilaServer,
    *,
    wait_for: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT_MS,
) -> None:
    """Open the Voila page and wait until each selector in ``wait_for`` is visible."""
    page.goto(server.url, wait_until="domcontentloaded", timeout=timeout)
    for selector in wait_for:
        page.locator(selector).first.wait_for(state="visible", timeout=timeout)


def is_local_url(url: str) -> bool:
    """True for URLs served from this machine (or data:/blob: URLs)."""
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return parsed.scheme in {"data", "blob", "about"} or parsed.hostname in _LOCAL_HOSTS
