"""Freed buffers kept between a Dask worker's batches: where glibc puts a large buffer
(its own count of memory mapped apart from the heap, ``mallinfo2``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="glibc's allocator settings are Linux only")

MIB = 8
ROOT = Path(__file__).resolve().parents[2]
ALLOCATOR = ROOT / "cnnviz_widgets" / "engine" / "scan" / "allocator.py"


def mapped_apart() -> dict:
    """Bytes glibc maps apart from its heap for a live 8 MiB buffer (what is unmapped
    when it is freed), before, inside and after :func:`memory_kept_between_batches`."""
    import ctypes
    import importlib.util

    import numpy as np

    # the module alone, by its path: the fresh process need not import Keras
    spec = importlib.util.spec_from_file_location("allocator", ALLOCATOR)
    allocator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(allocator)

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Mallinfo2

    def mapped() -> int:
        start = libc.mallinfo2().hblkhd
        buffer = np.empty(MIB * 2**20, np.uint8)
        buffer.fill(1)
        return int(libc.mallinfo2().hblkhd - start)

    before = mapped()
    with allocator.memory_kept_between_batches() as changed:
        inside = mapped()
    return {"before": before, "inside": inside, "after": mapped(), "changed": changed}


def _in_fresh_process(**environ: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    code = ("import json; from tests.engine.test_scan_allocator import mapped_apart; "
            "print(json.dumps(mapped_apart()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**env, **environ}, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_with_dasks_trim_threshold_buffers_are_reused_then_given_back():
    """Under Dask's ``MALLOC_TRIM_THRESHOLD_=65536`` a large buffer is mapped apart (and
    unmapped when freed); inside the context it comes from the heap, which keeps it for
    the next batch; after it, the process is as before."""
    mapped = _in_fresh_process(MALLOC_TRIM_THRESHOLD_="65536")
    assert mapped["changed"] is True
    assert mapped["before"] >= MIB * 2**20, mapped
    assert mapped["inside"] == 0, mapped
    assert mapped["after"] >= MIB * 2**20, mapped


def test_without_a_trim_threshold_nothing_changes():
    """Without Dask's setting glibc adapts its thresholds by itself and is left alone."""
    mapped = _in_fresh_process()
    assert mapped["changed"] is False
    assert mapped["after"] == 0, mapped  # glibc raised its threshold at the first free
