"""Notebook 06 without the Fashion-MNIST files says, in words, how to get them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnviz_widgets.zoo import DatasetUnavailableError
from cnnviz_widgets.zoo.fashion import ENV_VAR

NOTEBOOK = (Path(__file__).resolve().parents[2] / "notebooks"
            / "06_what_does_this_channel_detect.ipynb")
HOW_TO_GET_THEM = ("apt-get install dataset-fashion-mnist", ENV_VAR,
                   "keras.datasets.fashion_mnist.load_data()", "t10k-images-idx3-ubyte.gz")


def _cells() -> list[tuple[str, str]]:
    return [(cell["cell_type"], "".join(cell["source"]))
            for cell in json.loads(NOTEBOOK.read_text())["cells"]]


def test_a_markdown_cell_before_the_code_says_what_data_it_needs():
    cells = _cells()
    first_code = next(i for i, (kind, _) in enumerate(cells) if kind == "code")
    before = "\n".join(source for kind, source in cells[:first_code] if kind == "markdown")
    for words in HOW_TO_GET_THEM:
        assert words in before


def test_the_first_code_cell_stops_with_how_to_get_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))  # an empty folder: the files are missing
    source = next(source for kind, source in _cells() if kind == "code")
    with pytest.raises(DatasetUnavailableError) as info:
        exec(compile(source, NOTEBOOK.name, "exec"), {})
    message = str(info.value)
    assert message.startswith("This notebook needs the Fashion-MNIST images")
    for words in HOW_TO_GET_THEM:
        assert words in message
    # one exception with the whole message, not a chain of tracebacks
    assert info.value.__cause__ is None and info.value.__suppress_context__
