"""Train the shipped Fashion-MNIST CNN (``cnnviz_widgets.zoo.fashion_cnn``) offline.

Data: the full Fashion-MNIST set read by ``cnnviz_widgets.zoo.fashion_mnist`` from
Debian's ``dataset-fashion-mnist`` package (no download): trained on the 60,000
training images, evaluated on the 10,000 test images, which training never sees.

Writes ``cnnviz_widgets/zoo/data/fashion_cnn.keras``: the whole model (layers and
weights, no optimizer state), loaded by ``zoo.fashion_cnn()``.

Run from the repository root::

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python scripts/train_fashion.py

It prints the test accuracy and the file size. Everything is seeded (``SEED``); on the
same versions and CPU the result repeats.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

SEED = 20240601
EPOCHS = 5
BATCH = 64

ROOT = Path(__file__).resolve().parents[1]
ZOO_DATA = ROOT / "cnnviz_widgets" / "zoo" / "data"


def main(argv: list[str] | None = None) -> float:
    """Train, evaluate on the test images, write the model file; return test accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--train-limit", type=int, default=None,
                        help="train on the first N training images only (for quick checks)")
    parser.add_argument("--dry-run", action="store_true", help="train, evaluate, write nothing")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    from cnnviz_widgets.zoo.fashion import FASHION_MODEL_FILE, build_fashion_cnn, fashion_mnist

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()

    train_images, train_labels = fashion_mnist("train")
    test_images, test_labels = fashion_mnist("test")
    if args.train_limit is not None:
        limit = args.train_limit
        train_images, train_labels = train_images[:limit], train_labels[:limit]

    def inputs(images: np.ndarray) -> np.ndarray:
        # what the engine's default preprocessing gives: pixel values / 255
        return images[..., None].astype("float32") / 255.0

    model = build_fashion_cnn()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(
        inputs(train_images),
        train_labels,
        epochs=args.epochs,
        batch_size=BATCH,
        shuffle=True,
        verbose=2,
    )
    seconds = time.perf_counter() - start
    probs = model.predict(inputs(test_images), batch_size=500, verbose=0)
    accuracy = float(np.mean(probs.argmax(axis=1) == test_labels))
    print(f"trained {args.epochs} epochs on {len(train_images)} images in {seconds:.1f} s")
    print(f"test accuracy: {accuracy:.4f} ({len(test_images)} test images)")

    if not args.dry_run:
        # a fresh, uncompiled copy: the file holds layers and weights, no optimizer state
        shipped = build_fashion_cnn()
        shipped.set_weights(model.get_weights())
        ZOO_DATA.mkdir(parents=True, exist_ok=True)
        target = ZOO_DATA / FASHION_MODEL_FILE
        shipped.save(target)
        print(f"wrote {target} ({target.stat().st_size:,} bytes)")
    return accuracy


if __name__ == "__main__":
    main()
