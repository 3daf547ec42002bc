"""LRP and CRP on VGG16 224x224, against one saliency gradient in the same run.

Relevance propagation is a backward pass of its own: each convolution runs its modified
forward passes (z+ runs two, alpha-beta four) and pulls a vector back through each. The
goal is LRP (``epsilon_plus_flat``) at most 3x the time of one saliency map (a compiled
forward and backward pass), both built once and called warm. CRP conditions the
relevance on 64 channels of a layer: all of ``block1_conv2`` (the 64 maps the explorer
shows first) and 64 of ``block4_conv3``; the relevance above the layer is computed once
and the layer's own step for all the channels of a pass at once, but the layers below it
run on 64 copies of the relevance (in passes of 16), so each row compares them with one
LRP (goal: at most 3x; the work below the layer grows with the channels, so the goal can
only be met for layers near the input).
"""

from __future__ import annotations

import numpy as np

from ._models import vgg16_classifier
from ._table import Row, median_seconds

LRP_GOAL = 3.0  # LRP / saliency
CRP_GOAL = 3.0  # CRP (64 channels) / LRP
CRP_LAYERS = ("block1_conv2", "block4_conv3")
CRP_CHANNELS = 64


def _goal(ratio: float, goal: float) -> str:
    return f"{ratio:.1f}x the time ({'met' if ratio <= goal else 'MISSED'})"


def run(repeat: int = 3) -> list[Row]:
    """Time saliency, LRP and CRP (64 channels) per image on VGG16."""
    from cnnviz_widgets import ActivationEngine
    from cnnviz_widgets.attribution import LRP, ChannelRelevance, Saliency

    model, label = vgg16_classifier()
    label += ", random image"
    image = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    engine = ActivationEngine(model)
    saliency = Saliency(engine)
    lrp = LRP(engine, composite="epsilon_plus_flat")
    channels = np.arange(CRP_CHANNELS)
    target = int(np.argmax(model(engine.prepare(image), training=False)))
    saliency(image, target=target)  # warm: compiled programs are traced once
    lrp(image, target=target)
    sal_s = median_seconds(lambda: saliency(image, target=target), repeat)
    lrp_s = median_seconds(lambda: lrp(image, target=target), repeat)
    rows = [Row("relevance", label, "LRP epsilon_plus_flat, per image", lrp_s, sal_s,
                "saliency, same run", f"<= {LRP_GOAL:g}x saliency",
                extra=_goal(lrp_s / sal_s, LRP_GOAL))]
    for layer in CRP_LAYERS:
        crp = ChannelRelevance(engine, layer, composite="epsilon_plus_flat")
        crp(image, channels=channels[:crp.batch_size], target=target)  # one pass: traced
        crp_s = median_seconds(lambda crp=crp: crp(image, channels=channels, target=target), 1)
        rows.append(Row("relevance", label, f"CRP {CRP_CHANNELS} channels of {layer}, per image",
                        crp_s, lrp_s, "one LRP, same run", f"<= {CRP_GOAL:g}x one LRP",
                        extra=_goal(crp_s / lrp_s, CRP_GOAL)))
    return rows
