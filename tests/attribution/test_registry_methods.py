"""Every registered heatmap method runs through its entry exactly as when called directly."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.attribution import METHODS, GradCAM
from cnnviz_widgets.testing import tiny_cnn


@pytest.fixture(scope="module")
def engine():
    return ActivationEngine(tiny_cnn())


def _image() -> np.ndarray:
    return np.random.default_rng(4).uniform(0, 255, (8, 8)).astype(np.float32)


CAM_ENTRIES = [name for name, spec in METHODS.items()
               if spec.output == "heatmap" and isinstance(spec.cls, type)
               and issubclass(spec.cls, GradCAM)]


def test_the_cam_family_is_registered():
    assert {"gradcam", "gradcam_plus_plus", "xgradcam", "layercam", "hirescam",
            "eigencam", "scorecam", "ablationcam"} <= set(CAM_ENTRIES)


@pytest.mark.parametrize("name", CAM_ENTRIES)
def test_an_entry_computes_its_class(engine, name):
    spec = METHODS[name]
    values = {"layer": "conv_a"}
    if "target" in {p.name for p in spec.params}:
        values["target"] = 1
    got = spec.run(engine, _image(), **values)
    direct = spec.cls(engine, "conv_a")(_image(), **({"target": 1} if "target" in values
                                                      else {}))
    assert got.shape == (8, 8)
    np.testing.assert_array_equal(got, direct)
    assert spec.param("layer").stage == "init"


@pytest.mark.parametrize("baseline", ["black", "blur", "noise"])
def test_integrated_gradients_entry(engine, baseline):
    from cnnviz_widgets.attribution import IntegratedGradients

    spec = METHODS["integrated_gradients"]
    got = spec.run(engine, _image(), target=2, baseline=baseline, steps=8)
    want = IntegratedGradients(engine, baseline=baseline, steps=8)(_image(), target=2)
    np.testing.assert_array_equal(got, want)
