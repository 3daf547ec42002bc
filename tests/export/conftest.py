"""Fixtures for the HTML-export tests: a tiny linear CNN, its engine, and a headless Chromium.

The browser is the session's shared Chromium from ``tests/conftest.py``: without one the browser
tests are skipped, or fail when ``CNNVIZ_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import numpy as np
import pytest


def linear_cnn():
    """conv1 (16x16x6, linear) -> pool1 (8x8x6) -> conv2 (6x6x8) -> gap (8) -> logits (4).

    Linear convolutions keep every channel non-constant for random images, so every control
    of the page visibly changes the picture.
    """
    import keras
    from keras import layers

    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            layers.Conv2D(6, 3, padding="same", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(8, 3, name="conv2"),
            layers.GlobalAveragePooling2D(name="gap"),
            layers.Dense(4, name="logits"),
        ],
        name="linear_cnn",
    )


@pytest.fixture(scope="session")
def engine():
    from cnnviz_widgets import ActivationEngine

    return ActivationEngine(linear_cnn())


@pytest.fixture(scope="session")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    out = []
    for _ in range(3):
        img = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
        img.flags.writeable = False
        out.append(img)
    return out


@pytest.fixture(scope="session")
def chromium(browser):
    """The session's headless Chromium (see tests/conftest.py)."""
    return browser
