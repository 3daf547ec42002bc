"""The README's Python examples run as shown, in order, and say what they claim."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    blocks = _python_blocks()
    assert len(blocks) >= 5
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README
    ex = namespace["ex"]
    assert ex.current_view().shape == (11, 11)
    assert (tmp_path / "conv2.png").stat().st_size > 1000
    assert (tmp_path / "conv2.html").stat().st_size > 1000
    assert namespace["engine"].layer_names[:2] == ["conv1", "pool1"]
    assert namespace["anatomy"](namespace["model"]).total_params == 110_474
    assert namespace["result"].final > namespace["result"].initial
    assert namespace["same"].count_params() == 110_474
    scanned = namespace["scanned"]
    assert scanned.count == len(namespace["digits"])
    assert scanned["conv2"].top_indices.shape == (64, 9)
    assert namespace["ScanResult"].load(tmp_path / "digits_scan.npz").count == scanned.count
    assert namespace["report"].n_images == scanned.count
    # every kind of model
    assert namespace["over_time"].shape == (64,)
    assert namespace["strips"].current_view().shape == (16, 32)   # channels x time
    assert namespace["vit"].layer("attention").token_grid == (4, 4, 1)
    assert namespace["tokens_heat"].shape == (16, 16)
    assert namespace["with_meta"].activation("joined", namespace["photos"][0]).shape == (12,)
    assert namespace["heads"].output_names == ["kind", "colour"]


def test_the_commands_the_readme_names_exist():
    makefile = (README.parent / "Makefile").read_text()
    for target in ("demo", "test", "check", "bench", "voila"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
    assert "make test" in (README.parent / ".ci" / "run").read_text()
