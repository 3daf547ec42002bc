"""Every notebook runs headless, offline, from top to bottom without an error."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def execute_notebook(path: Path, workdir: Path, timeout: int = 120) -> tuple[object, float]:
    """Run a copy of ``path`` in ``workdir``; return the executed notebook and its seconds."""
    copy = workdir / path.name
    shutil.copy(path, copy)
    nb = nbformat.read(copy, as_version=4)
    env = {"TF_CPP_MIN_LOG_LEVEL": "3"}
    os.environ.update(env)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def error_outputs(nb) -> list[str]:
    """Text of every error output of an executed notebook."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"{output['ename']}: {output['evalue']}")
    return found


def test_there_is_a_notebook_per_story():
    names = {p.stem for p in NOTEBOOKS}
    assert {"01_quickstart", "02_vgg16_filters_and_maps", "03_train_and_watch",
            "04_attribution", "05_export_for_course_pages",
            "06_what_does_this_channel_detect", "07_every_kind_of_model"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_errors(path, tmp_path):
    nb, seconds = execute_notebook(path, tmp_path)
    assert error_outputs(nb) == []
    widgets = [o for c in nb.cells for o in c.get("outputs", [])
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    pictures = [o for c in nb.cells for o in c.get("outputs", [])
                if {"image/png", "text/html"} & set(o.get("data", {}))]
    assert widgets or pictures, "the notebook shows nothing"
    print(f"{path.name}: {seconds:.1f} s")
