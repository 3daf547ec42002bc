"""Every gradient method gives the same numbers under TensorFlow and under JAX.

The methods run here under the backend of this process and, in a subprocess, under the
other one (JAX when this is TensorFlow, TensorFlow otherwise), on the same seeded tiny
models with the same weights (passed through a ``.npz`` file): saliency, Grad-CAM and
its family (on a 2-D image layer, a 1-D convolution's sequence and a vision
transformer's tokens), integrated gradients, SmoothGrad, LRP and CRP, channel
contributions, the effective receptive field, the faithfulness curves and activation
maximisation.

Marked slow (about a minute: the subprocess imports and compiles everything afresh);
plain ``pytest`` and ``make test`` run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.conftest import require

from .backend_maps import compute

SCRIPT = Path(__file__).with_name("backend_maps.py")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    here = keras.backend.backend()
    other = "jax" if here == "tensorflow" else "tensorflow"
    require(other, "test")
    ours, weights = compute()
    folder = tmp_path_factory.mktemp("backends")
    np.savez(folder / "weights.npz", **weights)
    env = {**os.environ, "KERAS_BACKEND": other, "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(folder / "weights.npz"), str(folder / "maps.npz")],
        env=env, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2])
    assert run.returncode == 0, run.stderr[-3000:]
    with np.load(folder / "maps.npz") as theirs:
        return ours, dict(theirs)


NAMES = ["saliency", "saliency_top", "gradcam", "gradcam_default", "gradcam_probabilities",
         "gradcampp", "layercam", "eigencam", "scorecam", "ablationcam", "integrated",
         "smoothgrad", "contributions", "receptive", "lrp", "lrp_plus_flat", "crp",
         "conv1d_gradcam", "conv1d_gradcam_up",
         "conv1d_scorecam", "vit_gradcam", "vit_gradcam_up", "deletion", "insertion"]


@pytest.mark.parametrize("name", NAMES)
def test_the_maps_are_equal(both, name):
    ours, theirs = both
    assert ours[name].shape == theirs[name].shape
    scale = float(np.abs(ours[name]).max())
    assert scale > 0, "an all-zero map would prove nothing"
    np.testing.assert_allclose(theirs[name], ours[name], rtol=1e-4, atol=1e-5 * scale)


def test_the_layouts_give_maps_over_their_positions(both):
    ours, _ = both
    assert ours["conv1d_gradcam"].shape == (32,)  # conv1d_b: 32 time steps
    assert ours["conv1d_gradcam_up"].shape == (64,)  # the signal's length
    assert ours["vit_gradcam"].shape == (4, 4)  # 16 patch tokens after the class token
    assert ours["vit_gradcam_up"].shape == (16, 16)


@pytest.mark.parametrize("param", ["fourier", "pixels"])
def test_activation_maximisation_takes_the_same_steps(both, param):
    ours, theirs = both
    history = f"maximize_{param}_history"
    assert np.abs(ours[history]).max() > 0
    np.testing.assert_allclose(theirs[history], ours[history], rtol=1e-3,
                               atol=1e-4 * np.abs(ours[history]).max())
    np.testing.assert_allclose(theirs[f"maximize_{param}_final"],
                               ours[f"maximize_{param}_final"], rtol=1e-3, atol=1e-6)
