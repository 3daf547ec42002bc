"""Make the README's picture of the explorer: ``docs/explorer.png``.

The explorer is built on the shipped digits model and its held-out digits, exported as the
project's self-contained HTML page (no kernel, no network) and drawn by headless Chromium;
the screenshot is then reduced to a small palette PNG with Pillow.

    PYTHONPATH=. python scripts/readme_pictures.py            # writes docs/explorer.png

Needs Playwright's Python package and a Chromium on the PATH (Debian's ``chromium``).
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]

# the Chromium flags the browser tests use, from their one definition
sys.path.insert(0, str(REPO_ROOT / "tests" / "browser"))
from browser_harness import CHROMIUM_ARGS  # noqa: E402

#: Width of the browser window, in CSS pixels, and of the picture.
WIDTH = 1000


def export_page(path: Path) -> Path:
    """Write the explorer's HTML page for the digits model, conv2 selected, all channels."""
    from cnnviz_widgets import explore, zoo

    images, _ = zoo.digit_samples()
    ex = explore(zoo.digits_cnn(), images[:8], layer="conv2")
    ex.export_html(path, layers=["conv1", "conv2", "conv3"])
    ex.close()
    return path


def screenshot(page_path: Path, layer: str = "conv2") -> bytes:
    """Open the page in headless Chromium and return a PNG of its first screen."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium on the PATH: install Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 700})
            page.goto(page_path.as_uri())
            find = "(s, name) => [...s.options].findIndex(o => o.text.startsWith(name))"
            index = page.eval_on_selector("#layer", find, layer)
            page.select_option("#layer", index=index)
            page.wait_for_function("Number(document.querySelector('#view').dataset.renders) > 0")
            page.wait_for_timeout(300)
            return page.screenshot(full_page=True)
        finally:
            browser.close()


def optimise(png: bytes, out: Path, colours: int = 128) -> Path:
    """Quantise to a palette and write an optimised PNG."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT,
                           dither=Image.Dither.NONE)
    out.parent.mkdir(parents=True, exist_ok=True)
    small.save(out, optimize=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "explorer.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        page = export_page(Path(tmp) / "explorer.html")
        out = optimise(screenshot(page), args.out)
    width, height = Image.open(out).size
    print(f"{out} {out.stat().st_size:,} bytes, {width}x{height} px")


if __name__ == "__main__":
    main()
