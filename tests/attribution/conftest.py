"""The attribution tests run under any Keras backend that has gradients.

``@pytest.mark.tensorflow_weights`` marks a test that asserts a property of the weights
the seeded initialisers draw under TensorFlow (a channel that is off on a grey image, a
batch whose images disagree on their class): under another backend the same seed draws
other weights, so such a test is skipped there, with that reason. That the methods give
the same numbers on the same weights under every backend is tested in
``tests/backends``.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return
    skip = pytest.mark.skip(
        reason=f"asserts a property of the weights the seeded models draw under TensorFlow; "
               f"KERAS_BACKEND={backend} draws others (tests/backends compares the backends "
               "on the same weights)")
    for item in items:
        if "tensorflow_weights" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def seg():
    """A tiny segmentation model: a softmax over 3 classes at each of 16 x 16 pixels."""
    from cnnviz_widgets import testing

    return testing.tiny_segmentation_cnn()


@pytest.fixture(scope="module")
def reg():
    """A tiny regression model with two output values."""
    from cnnviz_widgets import testing

    return testing.tiny_regression_cnn(outputs=2)
