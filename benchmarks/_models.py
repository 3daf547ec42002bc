"""The models the benchmarks run on, each with the label the table prints."""

from __future__ import annotations

from typing import Any


def vgg16_trunk() -> tuple[Any, str]:
    """VGG16 without its classifier at 224x224: trained (HED) weights when installed.

    Returns the model and a label naming the weights it got. Without the
    ``offline-vgg`` extra the weights are random (the timings barely change; the
    explorer's byte sizes do, since random filters give noisier maps).
    """
    from cnnviz_widgets import zoo

    try:
        return zoo.vgg16(weights="hed"), "VGG16 (HED weights, 224x224)"
    except Exception:  # noqa: BLE001 - any failure to load: fall back to random weights
        return zoo.vgg16(weights=None, include_top=False), "VGG16 (random weights, 224x224)"


def vgg16_classifier() -> tuple[Any, str]:
    """VGG16 with its classifier at 224x224 and random weights (no download needed)."""
    from cnnviz_widgets import zoo

    model = zoo.vgg16(weights=None, include_top=True)
    return model, "VGG16 + classifier (random weights, 224x224)"
