"""``make demo`` installs what every notebook imports.

The Makefile's ``DEMO_EXTRAS`` name extras of ``pyproject.toml``; every third-party module
a notebook imports must come from a distribution that the dependencies or those extras list,
or that one of them requires in turn (``keras`` comes with ``tensorflow``, ``IPython`` with
``ipykernel``). Adding an import to a notebook without its extra fails here.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import sys

from packaging.requirements import Requirement

from tests.binder.test_binder_environment import NOTEBOOKS, ROOT, demo_extras, notebook_imports

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the backport, which pytest itself requires there
    import tomli as tomllib


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def demo_requirements() -> list[Requirement]:
    """The dependencies and the requirements of the demo extras, as pyproject.toml lists them."""
    project = _project()
    optional = project["optional-dependencies"]
    missing = [extra for extra in demo_extras() if extra not in optional]
    assert not missing, f"DEMO_EXTRAS names extras pyproject.toml lacks: {missing}"
    listed = list(project["dependencies"])
    for extra in demo_extras():
        listed += optional[extra]
    return [Requirement(text) for text in listed]


def installed_with(requirements: list[Requirement]) -> set[str]:
    """The distributions ``requirements`` bring, their own requirements followed (with extras)
    as far as this environment has them installed; normalised names."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(req, ("",)) for req in requirements]
    while todo:
        req, extras = todo.pop()
        if req.marker is not None and not any(req.marker.evaluate({"extra": e})
                                              for e in extras):
            continue
        key = (_norm(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            needs = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue
        wanted = ("", *sorted(req.extras))
        todo += [(Requirement(text), wanted) for text in needs]
    return {name for name, _ in seen}


def test_demo_extras_are_extras_of_the_project():
    assert set(demo_extras()) <= set(_project()["optional-dependencies"])
    # the notebooks' stories beyond the quick start need these
    assert {"notebook", "train", "distributed"} <= set(demo_extras())


def test_make_demo_installs_every_module_the_notebooks_import():
    own = _project()["name"]
    modules = {name.split(".")[0] for name in notebook_imports(NOTEBOOKS)}
    third_party = sorted(m for m in modules
                         if m not in sys.stdlib_module_names and _norm(m) != _norm(own))
    assert third_party, "no third-party imports found in the notebooks"
    provided = installed_with(demo_requirements())
    owners = metadata.packages_distributions()
    missing = {}
    for module in third_party:
        dists = owners.get(module)
        assert dists, (f"{module!r} (imported by a notebook) is not installed here; install "
                       "the test extras to check which extra provides it")
        if not {_norm(d) for d in dists} & provided:
            missing[module] = dists
    assert not missing, (
        f"the notebooks import {missing} (module: distributions), which neither the "
        f"dependencies nor the extras {demo_extras()} (DEMO_EXTRAS in the Makefile) install"
    )
