"""show_versions prints every package it names, and says so when one is missing."""

from __future__ import annotations

import io
import subprocess
import sys
from importlib import metadata

import pytest

import cnnviz_widgets
from cnnviz_widgets import versions as versions_module
from cnnviz_widgets.versions import FRONT_END, NOT_INSTALLED, PACKAGES, show_versions

NAMES = [name for name, _ in PACKAGES]


def printed(**kwargs) -> dict[str, str]:
    out = io.StringIO()
    show_versions(file=out, **kwargs)
    lines = out.getvalue().splitlines()
    assert lines[0] == "cnnviz_widgets versions"
    return dict(
        (part.strip() for part in line.split(" : ", 1)) for line in lines[2:]
    )


def test_every_name_is_printed():
    info = printed()
    expected = ["python", "platform", *NAMES, "keras backend", "widget front end"]
    assert sorted(info) == sorted(expected)
    assert info["cnnviz_widgets"] == cnnviz_widgets.__version__
    assert info["numpy"] == metadata.version("numpy")
    assert info["python"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")


def test_show_versions_is_public():
    assert "show_versions" in cnnviz_widgets.__all__
    assert cnnviz_widgets.show_versions is show_versions


def test_missing_package_shows_as_not_installed(monkeypatch):
    real = metadata.version

    def version(name: str) -> str:
        if name in ("bqplot", *FRONT_END):
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(versions_module.metadata, "version", version)
    info = printed()
    assert info["bqplot"] == NOT_INSTALLED
    assert info["widget front end"] == NOT_INSTALLED
    assert info["numpy"] == real("numpy")


def test_front_end_names_its_packages(monkeypatch):
    fake = {"jupyterlab_widgets": "9.9.9"}

    def version(name: str) -> str:
        if name in FRONT_END and name not in fake:
            raise metadata.PackageNotFoundError(name)
        return fake.get(name) or "1.0"

    monkeypatch.setattr(versions_module.metadata, "version", version)
    info = printed()
    expected = f"jupyterlab_widgets 9.9.9, widgetsnbextension {NOT_INSTALLED}"
    assert info["widget front end"] == expected


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_keras_backend_from_the_environment(monkeypatch, backend):
    monkeypatch.setenv("KERAS_BACKEND", backend)
    assert printed()["keras backend"] == backend


def test_keras_backend_from_the_config_file(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert printed()["keras backend"] == "tensorflow"  # no file: Keras' default
    (tmp_path / "keras.json").write_text('{"backend": "jax"}', encoding="utf-8")
    assert printed()["keras backend"] == "jax"


def test_imports_neither_tensorflow_nor_keras():
    code = (
        "import sys, cnnviz_widgets; cnnviz_widgets.show_versions(); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.splitlines()[-1] == "[]"
    assert "tensorflow" in result.stdout  # the name is printed all the same
