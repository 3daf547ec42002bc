"""The Jupyter server extension: kernel websockets get TCP_NODELAY, and nothing else changes.

The real check starts a jupyter_server ``ServerApp`` in a separate process (with and without
the extension), opens a kernel websocket to it as a browser would, asks the kernel for its
info through it, and reads the option back from the server's own socket with
``getsockopt``; without the extension Tornado leaves it off, which the control asserts.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import cnnviz_widgets
from cnnviz_widgets import server

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "jupyter-config" / "jupyter_server_config.d" / "cnnviz_widgets.json"

#: A ServerApp on a free port, one kernel, one websocket to it; prints what the server saw.
_SERVE = r"""
import asyncio, gc, json, socket, sys, uuid
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect
from jupyter_server.serverapp import ServerApp
from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

async def main(root, load):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", "--IdentityProvider.token=secret",
            "--ServerApp.open_browser=False", f"--ServerApp.root_dir={root}",
            "--ServerApp.terminals_enabled=False"]
    # explicit either way: the command line wins over an installed config file
    argv.append('--ServerApp.jpserver_extensions={"cnnviz_widgets": %s}' % load)
    app = ServerApp()
    app.initialize(argv=argv)
    await asyncio.sleep(0.2)  # the HTTP server binds in a callback
    base, auth = f"127.0.0.1:{port}", {"Authorization": "token secret"}
    http = AsyncHTTPClient()
    reply = await http.fetch(HTTPRequest(f"http://{base}/api/kernels", method="POST",
                                         body="{}", headers=auth, request_timeout=120))
    kernel = json.loads(reply.body)["id"]
    session = uuid.uuid4().hex
    ws = await websocket_connect(HTTPRequest(
        f"ws://{base}/api/kernels/{kernel}/channels?session_id={session}", headers=auth))
    msg_id = uuid.uuid4().hex
    ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "kernel_info_request", "session": session,
                   "username": "", "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "content": {}, "channel": "shell"}))
    answered = False
    for _ in range(100):
        message = await asyncio.wait_for(ws.read_message(), 60)
        if isinstance(message, str):
            message = json.loads(message)
            if message.get("parent_header", {}).get("msg_id") == msg_id and \
                    message["header"]["msg_type"] == "kernel_info_reply":
                answered = True
                break
    handlers = [o for o in gc.get_objects() if isinstance(o, KernelWebsocketHandler)
                and o.ws_connection is not None]
    sock = handlers[0].ws_connection.stream.socket
    print(json.dumps({
        "nodelay": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
        "handlers": len(handlers), "answered": answered,
        "enabled": app.jpserver_extensions.get("cnnviz_widgets")}))
    ws.close()
    await app._cleanup()

asyncio.run(main(sys.argv[1], sys.argv[2] == "1"))
"""


def _serve(tmp_path: Path, load: bool) -> dict:
    root = tmp_path / ("with" if load else "without")
    env = {k: v for k, v in os.environ.items()
           if k not in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH")}
    for name in ("config", "data", "runtime"):
        (root / name).mkdir(parents=True)
    env.update(JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_DATA_DIR=str(root / "data"),
               JUPYTER_RUNTIME_DIR=str(root / "runtime"), JUPYTER_PLATFORM_DIRS="0",
               PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", _SERVE, str(root), "1" if load else "0"],
                            capture_output=True, text=True, env=env, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"log": result.stderr, **json.loads(result.stdout.strip().splitlines()[-1])}


@pytest.mark.slow
def test_a_kernel_websocket_gets_tcp_nodelay_only_with_the_extension(tmp_path):
    pytest.importorskip("jupyter_server")
    without, with_ = _serve(tmp_path, load=False), _serve(tmp_path, load=True)
    assert without["answered"] and with_["answered"]  # the kernel answers through both
    assert without["handlers"] == with_["handlers"] == 1
    assert without["nodelay"] == 0  # Tornado's default: Nagle's algorithm on
    assert with_["nodelay"] != 0
    assert with_["enabled"] is True and without["enabled"] is False
    assert "cnnviz_widgets: TCP_NODELAY on kernel websockets" in with_["log"]
    assert "cnnviz_widgets: TCP_NODELAY" not in without["log"]


def test_the_package_points_jupyter_server_at_the_extension_module():
    (point,) = cnnviz_widgets._jupyter_server_extension_points()
    assert point["module"] == server.__name__
    assert callable(server._load_jupyter_server_extension)
    config = json.loads(CONFIG.read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"cnnviz_widgets": True}}}


def test_the_extension_module_imports_nothing_heavy():
    code = ("import sys, cnnviz_widgets.server; "
            "print(sorted(m for m in ('keras', 'tensorflow', 'numpy', 'ipywidgets', "
            "'jupyter_server', 'jax') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            timeout=120, check=True)
    assert result.stdout.strip() == "[]"


class _Socket:
    def __init__(self) -> None:
        self.nodelay: list[bool] = []
        self.opened = 0

    def set_nodelay(self, value: bool) -> None:
        self.nodelay.append(value)


def test_the_wrapper_is_installed_once_and_reaches_subclasses():
    class Handler(_Socket):
        def open(self, *args, **kwargs):
            self.opened += 1
            return args, kwargs

    class Child(Handler):
        pass

    assert server.enable_nodelay(Handler) is True
    assert server.enable_nodelay(Handler) is False  # idempotent
    assert server.enable_nodelay(Child) is False  # inherits it
    child = Child()
    assert child.open("k", x=1) == (("k",), {"x": 1})
    assert child.nodelay == [True] and child.opened == 1


def test_the_wrapper_keeps_an_async_open_async():
    import asyncio

    class Handler(_Socket):
        async def open(self, kernel_id):
            self.opened += 1
            return kernel_id

    server.enable_nodelay(Handler)
    handler = Handler()
    assert asyncio.run(handler.open("k")) == "k"
    assert handler.nodelay == [True] and handler.opened == 1


def test_a_stream_that_refuses_nodelay_still_opens():
    class Handler:
        def set_nodelay(self, value):
            raise AssertionError("closed")  # e.g. ws_connection already gone

        def open(self):
            return "opened"

    server.enable_nodelay(Handler)
    assert Handler().open() == "opened"


def test_loading_never_fails_the_server_when_the_handler_is_missing(monkeypatch, caplog):
    monkeypatch.setattr(server, "HANDLERS", (("no_such_module.anywhere", "Handler"),))

    class App:
        log = logging.getLogger("test-serverapp")

    with caplog.at_level(logging.WARNING, logger="test-serverapp"):
        server._load_jupyter_server_extension(App())
    assert "keep Nagle's algorithm" in caplog.text
