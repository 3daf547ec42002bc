"""Shared fixtures of the weights tests: models are built once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def vgg16():
    """VGG16 without the classifier and without weights (flexible input size)."""
    import keras

    return keras.applications.VGG16(weights=None, include_top=False)


@pytest.fixture(scope="session")
def digits():
    from cnnviz_widgets.testing import digits_like_cnn

    return digits_like_cnn()


@pytest.fixture(scope="session")
def nested():
    from cnnviz_widgets.testing import nested_backbone_model

    return nested_backbone_model()
