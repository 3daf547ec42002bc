"""Each Python example of the README and the guide runs on its own, as shown, and says what
it claims; every link between them leads to a heading that exists.

Every ```python block runs in a fresh namespace, in an empty working directory, so a block
that uses a name it does not define fails. The checks on results are keyed by a name: they
run on the namespace of every block that assigns that name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "guide.md"
PAGES = (README, GUIDE)


def _python_blocks() -> list[tuple[Path, str]]:
    return [(page, block) for page in PAGES
            for block in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)]


def _defines(block: str, name: str) -> bool:
    """Whether ``block`` assigns ``name`` at the start of a line (``a = ``, ``a, b = ``)."""
    targets = re.findall(r"^([A-Za-z_][\w, ]*?)\s*=[^=]", block, flags=re.M)
    return any(name in (t.strip() for t in target.split(",")) for target in targets)


#: name -> checks run on the namespace of every block that assigns the name.
CHECKS: dict[str, Callable[[dict, Path], None]] = {}


def check(name: str) -> Callable:
    def register(function: Callable[[dict, Path], None]) -> Callable[[dict, Path], None]:
        CHECKS[name] = function
        return function
    return register


@check("ex")
def _explorer(ns: dict, tmp: Path) -> None:
    ex = ns["ex"]
    assert ex.layer in ex.engine.layer_names
    assert ex.current_view().ndim in (1, 2)


@check("fig")                                       # the block that saves conv2
def _explorer_saved(ns: dict, tmp: Path) -> None:
    assert ns["ex"].current_view().shape == (11, 11)
    assert (tmp / "conv2.png").stat().st_size > 1000
    assert (tmp / "conv2.html").stat().st_size > 1000


@check("dx")
def _dataset_view(ns: dict, tmp: Path) -> None:
    assert (tmp / "conv2_top.html").stat().st_size > 1000
    assert ns["dx"].dataset is None


@check("engine")
def _engine(ns: dict, tmp: Path) -> None:
    assert ns["engine"].layer_names[:2] == ["conv1", "pool1"]


@check("filters")
def _anatomy(ns: dict, tmp: Path) -> None:
    assert ns["anatomy"](ns["model"]).total_params == 110_474


@check("result")
def _maximization(ns: dict, tmp: Path) -> None:
    assert ns["result"].final > ns["result"].initial


@check("same")
def _loaded(ns: dict, tmp: Path) -> None:
    assert ns["same"].count_params() == 110_474


@check("scanned")
def _scanned(ns: dict, tmp: Path) -> None:
    scanned = ns["scanned"]
    assert scanned.count == len(ns["digits"])
    assert scanned["conv2"].top_indices.shape == (64, 9)
    assert ns["ScanResult"].load(tmp / "digits_scan.npz").count == scanned.count
    assert ns["report"].n_images == scanned.count


@check("concepts")
def _meaning(ns: dict, tmp: Path) -> None:
    s, concepts, q = ns["s"], ns["concepts"], ns["q"]
    assert s.class_means.shape == (s.channels, 10) and s.label(5).count("selectivity") == 1
    assert concepts.components.shape == (4, s.channels) and (concepts.components >= 0).all()
    assert concepts.importance(7).shape == (4,)
    assert len(q.results) == 1 and (tmp / "quiz.html").stat().st_size > 1000


@check("top")
def _relevance(ns: dict, tmp: Path) -> None:
    np = ns["np"]
    assert ns["heat"].shape == (28, 28) and ns["maps"].shape == (6, 28, 28)
    top, scores = ns["top"], ns["scores"]
    assert top.top_indices.shape == (64, 9) and top.count == 300
    np.testing.assert_array_equal(ns["ex"].channel_ranking(),
                                  np.argsort(-ns["cr"].scores(ns["images"][0]), kind="stable"))
    assert scores.shape == (64,)


# every kind of model
@check("over_time")
def _conv1d(ns: dict, tmp: Path) -> None:
    assert ns["over_time"].shape == (64,)
    assert ns["strips"].current_view().shape == (16, 32)   # channels x time


@check("vit")
def _vit(ns: dict, tmp: Path) -> None:
    assert ns["vit"].layer("attention").token_grid == (4, 4, 1)
    assert ns["tokens_heat"].shape == (16, 16)


@check("with_meta")
def _several_inputs(ns: dict, tmp: Path) -> None:
    assert ns["with_meta"].activation("joined", ns["photos"][0]).shape == (12,)


@check("heads")
def _several_outputs(ns: dict, tmp: Path) -> None:
    assert ns["heads"].output_names == ["kind", "colour"]


@check("region_map")
def _targets(ns: dict, tmp: Path) -> None:
    assert ns["region_map"].shape == ns["predicted_map"].shape == (16, 16)
    assert ns["region_map"].max() > 0 and ns["value_map"].shape == (12, 12)


@check("by_slice")
def _volumes(ns: dict, tmp: Path) -> None:
    engine, video = ns["video_engine"], ns["videos"][0]
    assert engine.activation("conv2", video).shape == (8, 12, 12, 16)
    assert ns["heat3d"].shape == (8, 24, 24)
    from cnnviz_widgets.engine.receptive import volume_box

    assert volume_box(engine, "conv2", 1, 2, 2) == (0, 1, 1, 4, 9, 9)
    evaluations = engine.stats.layer_evaluations
    ns["by_slice"].depth = 7
    assert engine.stats.layer_evaluations == evaluations


BLOCKS = _python_blocks()


def _first_line(page: Path, block: str) -> int:
    text = page.read_text()
    return text[: text.index(block)].count("\n") + 1


def _block_id(page: Path, block: str) -> str:
    return f"{page.name}:{_first_line(page, block)}"


def test_the_pages_have_examples_and_every_check_has_a_block():
    assert len([b for page, b in BLOCKS if page == README]) >= 1
    assert len(BLOCKS) >= 5
    for name in CHECKS:
        assert any(_defines(block, name) for _, block in BLOCKS), f"no block assigns {name}"


@pytest.mark.parametrize(("page", "block"), BLOCKS, ids=[_block_id(*b) for b in BLOCKS])
def test_the_example_runs_on_its_own(page, block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    source = "\n" * (_first_line(page, block) - 1) + block  # tracebacks give the page's lines
    exec(compile(source, str(page), "exec"), namespace)  # noqa: S102 - our own pages
    for name, run_check in CHECKS.items():
        if _defines(block, name):
            run_check(namespace, tmp_path)


def test_the_commands_the_readme_names_exist():
    makefile = (README.parent / "Makefile").read_text()
    for target in ("demo", "test", "check", "bench", "voila"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
    assert "make test" in (README.parent / ".ci" / "run").read_text()


def test_the_readme_picture_is_there_and_small():
    picture = README.parent / "docs" / "explorer.png"
    assert "docs/explorer.png" in README.read_text()
    assert 1000 < picture.stat().st_size < 300_000


def test_every_picture_the_readme_shows_is_there_and_made_by_the_script():
    from PIL import Image

    text = README.read_text()
    script = (README.parent / "scripts" / "readme_pictures.py").read_text()
    shown = set(re.findall(r'(?:src="|\]\()(docs/[^")]+\.png)', text))
    assert {f"docs/views/{name}.png" for name in
            ("explorer", "dataset", "filters", "attribution", "live", "classes", "concepts",
             "quiz")} <= shown
    for path in shown:
        picture = Image.open(README.parent / path)
        assert picture.size[0] > 0 and (README.parent / path).stat().st_size < 300_000, path
        name = Path(path).stem
        assert path == "docs/explorer.png" or f'"{name}"' in script, path


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip("# ").lower()).replace(" ", "-")


def test_the_readme_is_short_and_every_link_between_the_pages_resolves():
    assert len(README.read_text().split()) < 2000  # the rest is in the guide
    anchors = {page: {_anchor(line) for line in page.read_text().splitlines()
                      if line.startswith("#")} for page in PAGES}
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if target.startswith("http"):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name}: {target}"
            if anchor:
                assert anchor in anchors[linked], f"{page.name}: {target}"
