"""Under a Keras backend without gradients a gradient method says so, in our own error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import numpy as np
from cnnviz_widgets.attribution import GradCAM, Saliency, ScoreCAM
from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.testing import tiny_cnn

model = tiny_cnn()
image = np.random.default_rng(0).uniform(0, 255, (8, 8, 1)).astype(np.float32)
for method in (Saliency(model), GradCAM(model)):
    try:
        method(image)
    except InvalidSettingError as error:
        assert "KERAS_BACKEND" in str(error) and "'numpy'" in str(error), error
    else:
        raise AssertionError(f"{type(method).__name__} ran without gradients")
assert ScoreCAM(model)(image).shape == (8, 8)  # forward passes alone work
print("checked")
"""


def test_the_numpy_backend_gets_a_message_and_forward_only_methods_run():
    env = {**os.environ, "KERAS_BACKEND": "numpy", "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300, cwd=Path(__file__).parents[2])
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("checked")
