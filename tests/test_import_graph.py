"""The package's modules import one way: no cycles between files, no layer reaching back up.

Function-level imports count: a cycle hidden inside a function is still two files that
each need the other. Data flows model -> engine -> colour -> layout -> render -> widgets.
"""

from __future__ import annotations

import ast
from pathlib import Path

import cnnviz_widgets

PACKAGE = Path(cnnviz_widgets.__file__).resolve().parent
NAME = "cnnviz_widgets"
# the core flow, lowest first: a module of one may import only the same or lower ones
FLOW = ["engine", "colour", "layout", "render", "widgets"]


def module_name(path: Path, root: Path = PACKAGE, name: str = NAME) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([name, *parts])


def import_graph(root: Path = PACKAGE, name: str = NAME) -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports (anywhere in it)."""
    paths = {module_name(p, root, name): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        is_package = path.name == "__init__.py"
        here = module.split(".") if is_package else module.split(".")[:-1]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[:len(here) - node.level + 1] if node.level else []
                start = ".".join([*base, *(node.module or "").split(".")]).strip(".")
                # "from .x import y": y may be a module of its own
                targets = [f"{start}.{alias.name}" if f"{start}.{alias.name}" in paths
                           else start for alias in node.names]
            else:
                continue
            found.update(t for t in targets if t in paths and t != module)
        graph[module] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def _without_packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Files only: an ``__init__`` that re-exports its modules is how a package is
    opened, not a file that needs them back."""
    packages = {m for m in graph if (PACKAGE / Path(*m.split(".")[1:]) / "__init__.py").exists()}
    return {m: {t for t in targets if t not in packages}
            for m, targets in graph.items() if m not in packages}


def test_no_import_cycles_between_files():
    assert cycles(_without_packages(import_graph())) == []


def test_no_layer_of_the_flow_reaches_back_up():
    backwards = []
    for module, targets in import_graph().items():
        parts = module.split(".")
        if len(parts) < 2 or parts[1] not in FLOW:
            continue
        for target in targets:
            other = target.split(".")
            if len(other) > 1 and other[1] in FLOW and FLOW.index(other[1]) > FLOW.index(parts[1]):
                backwards.append(f"{module} -> {target}")
    assert backwards == []


def test_the_walk_finds_a_cycle_hidden_in_a_function(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import f\n")
    (package / "b.py").write_text("def f():\n    from . import a\n    return a\n")
    (package / "c.py").write_text("from pkg.a import f\n")
    graph = import_graph(package, "pkg")
    assert graph["pkg.b"] == {"pkg.a"} and graph["pkg.c"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]
