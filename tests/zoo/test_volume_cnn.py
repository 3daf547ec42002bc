"""The shipped 3-D CNN on held-out moving digits, and the data it is made from."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.errors import InvalidSettingError
from cnnviz_widgets.testing.volumes import MOTIONS, moving_digits, volume_cnn


def test_moving_digits_move_one_pixel_per_frame_in_their_direction():
    videos, motions, digits = moving_digits("test", n=24, seed=1)
    assert videos.shape == (24, 8, 24, 24, 1) and videos.dtype == np.uint8
    assert set(digits.tolist()) <= set(range(10)) and set(motions.tolist()) <= {0, 1, 2, 3}
    steps = {0: (0, 1), 1: (0, -1), 2: (1, 0), 3: (-1, 0)}
    for video, motion in zip(videos[..., 0], motions, strict=True):
        dy, dx = steps[int(motion)]
        for t in range(7):  # each frame is the one before, moved by (dy, dx)
            moved = np.roll(video[t], (dy, dx), axis=(0, 1))
            np.testing.assert_array_equal(video[t + 1], moved)
    with pytest.raises(InvalidSettingError):
        moving_digits("validation")


def test_train_and_test_videos_show_different_digits():
    train, _, _ = moving_digits("train", n=200)
    test, _, _ = moving_digits("test", n=200)
    first = {frame.tobytes() for frame in train[:, 0, ..., 0]}
    assert not first & {frame.tobytes() for frame in test[:, 0, ..., 0]}


def test_the_shipped_model_tells_the_motion_of_held_out_digits():
    videos, motions, _ = moving_digits("test")  # 1,000 digits never seen in training
    engine = ActivationEngine(volume_cnn())
    probs = engine.features("motion", videos, batch_size=250)
    accuracy = float(np.mean(probs.argmax(axis=1) == motions))
    assert probs.shape == (1000, len(MOTIONS))
    assert accuracy >= 0.97, accuracy
