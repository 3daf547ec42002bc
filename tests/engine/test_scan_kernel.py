"""A notebook's stop button during a scan: a real kernel is interrupted mid-scan."""

from __future__ import annotations

import time

import pytest

from tests.conftest import require

SETUP = """
import numpy as np
from cnnviz_widgets import scan
from cnnviz_widgets.zoo import digits_cnn
model = digits_cnn()
images = np.random.default_rng(0).integers(0, 256, (200_000, 28, 28), dtype=np.uint8)
"""

SCAN = """
result = scan(model, images, ["conv2"], batch_size=256, progress=True)
"""


def _run(client, code: str, timeout: float = 120) -> list[dict]:
    """Execute ``code`` and return its iopub messages until the kernel is idle."""
    msg_id = client.execute(code)
    messages = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = client.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages
    raise TimeoutError(code)


def _text(messages: list[dict]) -> str:
    return "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")


@pytest.mark.slow
def test_the_stop_button_returns_the_partial_scan():
    jupyter_client = require("jupyter_client", "test")
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(extra_arguments=["--HistoryManager.enabled=False"])
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        assert not [m for m in _run(client, SETUP) if m["msg_type"] == "error"]
        msg_id = client.execute(SCAN)
        started = time.monotonic()
        # the kernel shows a progress bar widget: wait until its label reports a rate,
        # then press "stop"
        while time.monotonic() - started < 120:
            msg = client.get_iopub_msg(timeout=120)
            state = msg["content"].get("data", {}).get("state", {})
            label = str(state.get("value", "")) if msg["msg_type"] == "comm_msg" else ""
            if "images/s" in label and not label.startswith("0 /"):
                break
        manager.interrupt_kernel()
        reply = client.get_shell_msg(timeout=120)
        while reply["parent_header"]["msg_id"] != msg_id:  # the set-up cell's reply
            reply = client.get_shell_msg(timeout=120)
        assert reply["content"]["status"] == "ok"  # no KeyboardInterrupt reaches the user
        out = _text(_run(client, "print(result.partial, result.count, result.spans)"))
        partial, count = out.split()[0], int(out.split()[1])
        assert partial == "True" and 0 < count < 200_000, out
        assert f"[(0, {count})]" in out
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
