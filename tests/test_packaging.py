"""The wheel and the source distribution a PyPI reviewer would pass: licence, notices, types.

Both are built offline with hatchling's own API (the build backend, in the ``test`` extra),
in a separate process from the project's root, as ``pip wheel`` or ``python -m build`` would.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import cnnviz_widgets

ROOT = Path(__file__).resolve().parents[1]
NOTICES = "cnnviz_widgets/zoo/data/THIRD_PARTY_NOTICES.md"
PROVENANCE = "cnnviz_widgets/zoo/data/PROVENANCE.md"

BUILD = """
import sys
from hatchling.build import build_sdist, build_wheel
print(build_wheel(sys.argv[1]))
print(build_sdist(sys.argv[1]))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory, require) -> tuple[Path, Path]:
    require("hatchling.build", "test")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-c", BUILD, str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    wheel_name, sdist_name = result.stdout.split()[-2:]
    return out / wheel_name, out / sdist_name


@pytest.fixture(scope="module")
def wheel_files(built) -> dict[str, bytes]:
    with zipfile.ZipFile(built[0]) as wheel:
        return {name: wheel.read(name) for name in wheel.namelist()}


def dist_info(wheel_files: dict[str, bytes]) -> str:
    (folder,) = {name.split("/")[0] for name in wheel_files if ".dist-info/" in name}
    return folder


def test_wheel_is_named_by_the_one_version(built):
    name = built[0].name
    assert name.startswith(f"cnnviz_widgets-{cnnviz_widgets.__version__}-py3-none-any")


def test_wheel_metadata(wheel_files):
    meta = Parser().parsestr(wheel_files[f"{dist_info(wheel_files)}/METADATA"].decode())
    assert meta["Version"] == cnnviz_widgets.__version__
    assert meta["License-Expression"] == "MIT"
    assert float(meta["Metadata-Version"]) >= 2.4
    assert set(meta.get_all("License-File")) == {"LICENSE", NOTICES, PROVENANCE}
    classifiers = meta.get_all("Classifier")
    assert "Typing :: Typed" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639: the expression
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert set(urls) >= {"Homepage", "Documentation", "Source", "Issues", "Changelog"}


def test_the_long_description_shows_the_pictures_on_pypi(wheel_files):
    # the README, with every picture linked to the repository instead of a relative path
    meta = Parser().parsestr(wheel_files[f"{dist_info(wheel_files)}/METADATA"].decode())
    assert meta["Description-Content-Type"].startswith("text/markdown")
    description = meta.get_payload()
    readme = (ROOT / "README.md").read_text()
    assert description.count("docs/explorer.png") == readme.count("docs/explorer.png") > 0
    assert 'src="docs/' not in description and "](docs/" not in description
    raw = "https://raw.githubusercontent.com/cnnviz-widgets/cnnviz_widgets/main/docs/"
    pictures = len(re.findall(r'(?:src="|\]\()docs/[^")]+\.png', readme))
    assert description.count(raw) == pictures > 0
    blob = "https://github.com/cnnviz-widgets/cnnviz_widgets/blob/main/docs/guide.md#"
    assert description.count(blob) == readme.count("](docs/guide.md#") > 0
    assert description.splitlines()[0] == readme.splitlines()[0]


def test_wheel_carries_licence_and_notices(wheel_files):
    licenses = f"{dist_info(wheel_files)}/licenses"
    assert wheel_files[f"{licenses}/LICENSE"] == (ROOT / "LICENSE").read_bytes()
    notices = wheel_files[f"{licenses}/{NOTICES}"].decode()
    for fact in ("CC BY-SA 3.0", "EfficientNet-Lite0", "Apache-2.0", "HED", "MIT"):
        assert fact in notices, fact
    assert f"{licenses}/{PROVENANCE}" in wheel_files
    assert NOTICES in wheel_files and PROVENANCE in wheel_files  # beside the data too


def test_wheel_is_typed_and_ships_its_data(wheel_files):
    assert "cnnviz_widgets/py.typed" in wheel_files
    assert "cnnviz_widgets/zoo/data/digits_cnn.weights.h5" in wheel_files
    assert not [name for name in wheel_files if name.startswith("tests/")]


def test_wheel_enables_the_server_extension_on_install(wheel_files):
    # shared data: pip puts it in <prefix>/etc/jupyter, on jupyter_server's config path
    folder = dist_info(wheel_files).replace(".dist-info", ".data")
    name = f"{folder}/data/etc/jupyter/jupyter_server_config.d/cnnviz_widgets.json"
    assert name in wheel_files, sorted(n for n in wheel_files if ".data/" in n)
    config = json.loads(wheel_files[name])
    assert config["ServerApp"]["jpserver_extensions"] == {"cnnviz_widgets": True}
    assert "cnnviz_widgets/server.py" in wheel_files


def test_sdist_holds_tests_and_licence(built):
    with tarfile.open(built[1]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for name in ("LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "Makefile",
                 "tests/test_packaging.py", "tests/zoo/data/digits_holdout.npz",
                 "notebooks/01_quickstart.ipynb", "scripts/train_digits.py", NOTICES,
                 "cnnviz_widgets/py.typed",
                 "jupyter-config/jupyter_server_config.d/cnnviz_widgets.json"):
        assert name in names, name
    assert not [name for name in names if name.startswith(".venv") or "__pycache__" in name]
