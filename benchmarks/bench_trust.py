"""How long it takes to ask whether a map can be trusted.

The sanity check (cascading randomisation, Adebayo et al. 2018) of Grad-CAM on VGG16
copies the model, randomises its 16 layers with weights one after another and computes
17 Grad-CAM maps. Goal: at most 20 times one Grad-CAM of a new image on the same model
(the baseline column), i.e. a ratio of at least 0.05x.
"""

from __future__ import annotations

import numpy as np

from ._models import vgg16_classifier
from ._table import Row, median_seconds

SANITY_GOAL = 20.0


def run(repeat: int = 3) -> list[Row]:
    """Time one Grad-CAM and one sanity check of Grad-CAM on VGG16."""
    from cnnviz_widgets import ActivationEngine
    from cnnviz_widgets.attribution import GradCAM, sanity_check

    model, label = vgg16_classifier()
    engine = ActivationEngine(model)
    image = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    cam = GradCAM(engine, layer="block5_conv3")
    target = int(np.argmax(cam.engine.forward(np.asarray(engine.prepare(image)))[0]))
    cam(image, target=target)  # warms TensorFlow up
    one = median_seconds(lambda: cam(image, target=target), repeat * 2,
                         setup=engine.clear_cache)
    result = sanity_check(engine, image, "gradcam", target=target, layer="block5_conv3")
    check = median_seconds(
        lambda: sanity_check(engine, image, "gradcam", target=target, layer="block5_conv3"),
        repeat)
    times = check / one
    verdict = "met" if times <= SANITY_GOAL else "MISSED"
    return [Row("trust", label,
                f"sanity check of Grad-CAM ({len(result.layers)} layers randomised)",
                check, one, "one Grad-CAM (new image)",
                goal=f"<= {SANITY_GOAL:.0f}x one Grad-CAM: {verdict} ({times:.1f}x)",
                extra=f"final rank correlation {result.similarity[-1]:.2f}")]
