"""A short run of what a new user does first, for an environment built at the lowest versions.

``python scripts/smoke.py`` builds the quick start's explorer on the shipped digits CNN, changes
layer and channel, draws Grad-CAM, scores it with ``faithfulness`` and scans the samples. It
prints one line per step and the versions it ran on, and exits non-zero on the first failure.
"""

from __future__ import annotations

import sys

import numpy as np


def main() -> int:
    from cnnviz_widgets import explore, scan, show_versions, zoo
    from cnnviz_widgets.attribution import GradCAM, faithfulness

    show_versions()
    model = zoo.digits_cnn()
    images, labels = zoo.digit_samples()

    ex = explore(model, images[:12], include_samples=False)
    ex.layer = "conv2"
    ex.channel = 5
    view = ex.current_view()
    assert view.ndim == 2 and np.isfinite(view).all(), view.shape
    ex.channel = None
    ex.normalization = "layer"
    ex.layer = "predictions"
    predicted = int(ex.current_activation().argmax())
    assert 0 <= predicted < 10
    assert ex.canvas.image.value[:8] == b"\x89PNG\r\n\x1a\n", "the canvas shows no picture"
    ex.layer = "conv2"
    ex.backend = "bqplot"  # the pan-and-zoom canvas
    assert ex.canvas.__class__.__name__ == "BqCanvas"
    ex.close()
    print("quick start: ok (predicted", predicted, "true", int(labels[0]), ")")

    cam = GradCAM(model, "conv2")
    heatmap = cam(images[0])
    assert heatmap.shape == images[0].shape[:2] and np.isfinite(heatmap).all()
    print("Grad-CAM: ok", heatmap.shape)

    scores = faithfulness(model, images[0], {"gradcam": heatmap}, steps=8)
    auc = scores["gradcam"].deletion_auc
    assert np.isfinite(auc)
    print("faithfulness: ok, deletion AUC", round(float(auc), 3))

    result = scan(model, images[:64], "conv1", top_k=4, batch_size=16, progress=False)
    stats = result["conv1"]
    assert np.isfinite(stats.mean).all() and stats.top_indices.shape[1] == 4
    print("scan: ok", stats.max.shape)
    return 0


if __name__ == "__main__":
    sys.exit(main())
