"""compare_methods: every method scored by every metric, averaged over the images."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine, zoo
from cnnviz_widgets.attribution import GradCAM, Saliency, compare_methods, faithfulness, road


@pytest.fixture(scope="module")
def comparison():
    engine = ActivationEngine(zoo.digits_cnn())
    images, _ = zoo.digit_samples(2)
    steps = []
    result = compare_methods(engine, images, ["saliency", "gradcam"],
                             metrics=("deletion", "road", "sparseness"), steps=5,
                             progress=lambda step, total: steps.append((step, total)))
    return engine, images, result, steps


def test_the_table_holds_the_mean_of_each_metric_over_the_images(comparison):
    engine, images, result, _ = comparison
    assert [row["method"] for row in result.table] == ["saliency", "gradcam"]
    deletion, combined = [], []
    for image in images:
        maps = {"saliency": Saliency(engine)(image), "gradcam": GradCAM(engine)(image)}
        deletion.append(faithfulness(engine, image, maps, steps=5)["gradcam"].deletion_auc)
        combined.append(road(engine, image, maps)["saliency"].combined)
    assert result.scores["deletion"]["gradcam"] == pytest.approx(np.mean(deletion), abs=1e-5)
    assert result.scores["road"]["saliency"] == pytest.approx(np.mean(combined), abs=1e-5)
    assert result.per_image["sparseness"]["gradcam"].shape == (2,)


def test_directions_html_plot_and_progress(comparison):
    _, _, result, steps = comparison
    assert result.better == {"deletion": "lower", "road": "higher", "sparseness": "higher"}
    page = result._repr_html_()
    assert "lower is better" in page and "<b>" in page
    assert len(result.figure().axes) == 3
    assert steps[-1] == (2 * (2 + 3), 2 * (2 + 3))
    best = result.best("deletion")
    assert result.scores["deletion"][best] == min(result.scores["deletion"].values())
