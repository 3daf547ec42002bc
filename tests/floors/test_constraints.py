"""The floors environment pins exactly the lowest versions ``pyproject.toml`` allows.

``make floors`` installs the package with ``tests/floors/constraints.txt`` and runs
``scripts/smoke.py`` there; these tests keep the two files from drifting apart.
"""

from __future__ import annotations

import re
from pathlib import Path

from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def _floors() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        lower = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        assert len(lower) == 1, f"{line!r} needs exactly one floor (>=)"
        floors[requirement.name.lower()] = lower[0]
    return floors


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "tests" / "floors" / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line).groups()
            pins[name.lower()] = version
    return pins


def test_every_dependency_has_a_floor_and_it_is_pinned():
    assert _pins() == _floors()


def test_the_floors_admit_numpy_1_and_2():
    # NumPy 1.26 users keep working: faithfulness's areas do not need numpy.trapezoid
    assert _floors()["numpy"].startswith("1.")


def test_make_test_builds_the_floors_environment_and_runs_the_smoke_run():
    makefile = (ROOT / "Makefile").read_text()
    test_recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE).group(1)
    assert "floors" in test_recipe
    assert "tests/floors/constraints.txt" in makefile
    assert "scripts/smoke.py" in makefile
