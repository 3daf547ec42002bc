"""Every deliberate error is one of ours: the package's syntax tree raises no built-in type.

A caller catches :class:`~cnnviz_widgets.errors.CnnvizError` for anything the package
refuses on purpose; our types also derive from the matching built-in type
(``ValueError``, ``TypeError``, ``IndexError``, ...), so ``except ValueError`` still works.
"""

from __future__ import annotations

import ast
import builtins
import inspect
from pathlib import Path

import cnnviz_widgets.errors as errors

PACKAGE = Path(errors.__file__).resolve().parent
BUILTIN_ERRORS = {name for name, value in vars(builtins).items()
                  if isinstance(value, type) and issubclass(value, BaseException)}
# where the language itself asks for a built-in type
ALLOWED = {
    # a module's __getattr__ must raise AttributeError for names it does not have
    ("__init__.py", "AttributeError"),
}
# a method a subclass must write (a contract for developers, never a user's mistake)
ALLOWED_ANYWHERE = {"NotImplementedError"}


def _raised_name(node: ast.Raise) -> str | None:
    exc = node.exc
    if isinstance(exc, ast.Call):
        exc = exc.func
    return exc.id if isinstance(exc, ast.Name) else None


def builtin_raises(root: Path = PACKAGE) -> list[str]:
    """``file:line: Name`` for every ``raise`` of a built-in exception type under ``root``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                name = _raised_name(node)
                where = path.relative_to(root).as_posix()
                if (name in BUILTIN_ERRORS - ALLOWED_ANYWHERE
                        and (where, name) not in ALLOWED):
                    found.append(f"{where}:{node.lineno}: {name}")
    return found


def test_no_raise_of_a_builtin_exception_type():
    assert builtin_raises() == []


def test_the_walk_finds_a_builtin_raise(tmp_path):
    (tmp_path / "module.py").write_text(
        "def f(x):\n    if x:\n        raise ValueError('no')\n    raise OurError('fine')\n")
    assert builtin_raises(tmp_path) == ["module.py:3: ValueError"]


def test_every_error_type_is_one_of_ours_and_a_builtin_one_too():
    types = [value for _, value in inspect.getmembers(errors, inspect.isclass)
             if value.__module__ == errors.__name__]
    assert set(errors.__all__) == {t.__name__ for t in types}
    for error_type in types:
        assert issubclass(error_type, errors.CnnvizError)
        if error_type is not errors.CnnvizError:
            assert any(issubclass(error_type, getattr(builtins, name))
                       for name in BUILTIN_ERRORS - {"Exception", "BaseException"}), error_type
