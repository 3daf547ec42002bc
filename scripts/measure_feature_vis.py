"""Does feature visualisation excite a channel more than any shipped photo?

For HED VGG16 (``zoo.vgg16(weights="hed")``, flexible input size) the script picks
random channels (seeded) of the block3 to block5 convolution layers, plus
``block5_conv1`` channel 7 (a channel that is exactly 0 on the usual start image),
optimises one 128 x 128 image per channel with :class:`ActivationMaximization`'s
defaults (Fourier parameterisation, lucid's transforms, redirected ReLU gradient), and
compares the channel's mean activation over positions on the returned uint8 image with
that on every photo of :func:`cnnviz_widgets.zoo.samples` resized to the same 128 x 128.
Both are evaluated by a plain ``keras.Model(model.inputs, layer.output)`` after VGG16's
``preprocess_input``, independently of the engine that optimised the image.

Run::

    .venv/bin/python scripts/measure_feature_vis.py [--steps 128] [--channels 20] [--save DIR]

``--save DIR`` also writes each optimised image as ``DIR/<layer>_<channel>.png``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

LAYERS = ("block3_conv1", "block3_conv2", "block3_conv3", "block4_conv1", "block4_conv2",
          "block4_conv3", "block5_conv1", "block5_conv2", "block5_conv3")
SIZE = 128


def _pick(model, count: int, seed: int) -> list[tuple[str, int]]:
    rng = np.random.default_rng(seed)
    picks: set[tuple[str, int]] = set()
    while len(picks) < count:
        name = LAYERS[int(rng.integers(len(LAYERS)))]
        picks.add((name, int(rng.integers(model.get_layer(name).filters))))
    chosen = sorted(picks, key=lambda p: (LAYERS.index(p[0]), p[1]))
    if ("block5_conv1", 7) not in chosen:
        chosen.append(("block5_conv1", 7))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="folder for the optimised images")
    args = parser.parse_args()

    import keras

    from cnnviz_widgets import zoo
    from cnnviz_widgets.attribution import ActivationMaximization

    model = zoo.vgg16(weights="hed", input_shape=(None, None, 3))
    photos = zoo.samples(size=SIZE)
    photo_batch = keras.applications.vgg16.preprocess_input(
        np.stack([p.image for p in photos]).astype(np.float32))
    am = ActivationMaximization(model)
    probes: dict[str, keras.Model] = {}
    rows = []
    print(f"HED VGG16, {SIZE} px, {args.steps} steps; photos: "
          + ", ".join(p.name for p in photos), flush=True)
    print(f"{'layer':<14}{'ch':>5}{'optimised':>12}{'best photo':>12}{'(which)':>16}"
          f"{'ratio':>9}{'start':>9}{'s':>7}", flush=True)
    for name, channel in _pick(model, args.channels, args.seed):
        if name not in probes:
            probes[name] = keras.Model(model.inputs[0], model.get_layer(name).output)
        probe = probes[name]
        photo_means = np.asarray(probe(photo_batch))[..., channel].mean(axis=(1, 2))
        best = int(np.argmax(photo_means))
        start = time.perf_counter()
        result = am(name, channel=channel, steps=args.steps, size=SIZE)
        seconds = time.perf_counter() - start
        x = keras.applications.vgg16.preprocess_input(result.image[None].astype(np.float32))
        ours = float(np.asarray(probe(x))[0, ..., channel].mean())
        if args.save:
            from pathlib import Path

            from PIL import Image

            Path(args.save).mkdir(parents=True, exist_ok=True)
            Image.fromarray(result.image).save(Path(args.save) / f"{name}_{channel}.png")
        ratio = ours / photo_means[best] if photo_means[best] > 0 else float("inf")
        rows.append((name, channel, ours, float(photo_means[best]), ratio))
        print(f"{name:<14}{channel:>5}{ours:>12.2f}{photo_means[best]:>12.2f}"
              f"{photos[best].name:>16}{ratio:>8.1f}x{result.initial:>9.2f}{seconds:>7.0f}",
              flush=True)
    ratios = np.array([r[4] for r in rows])
    wins = int(np.sum(ratios > 1))
    print(f"\n{wins} of {len(rows)} optimised images beat the best photo; ratio median "
          f"{np.median(ratios):.1f}x, min {ratios.min():.2f}x, max {ratios.max():.1f}x.",
          flush=True)


if __name__ == "__main__":
    main()
