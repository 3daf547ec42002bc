"""LiveActivations redraws the explorer from the new weights after each epoch."""

from __future__ import annotations

import keras
import numpy as np

from cnnviz_widgets import LiveActivations, explore
from cnnviz_widgets.testing import tiny_cnn


def test_each_epoch_shows_the_new_weights():
    model = tiny_cnn()
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.random((32, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 32)
    ex = explore(model, (x[:2] * 255).astype(np.uint8)[..., 0], include_samples=False,
                 layer="conv_a", channel=0)
    live = LiveActivations(ex)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[live])
    assert len(live.history["loss"]) == 3 and len(live.snapshots) == 3
    assert not np.allclose(live.snapshots[0], live.snapshots[-1])
    # what is on screen is the activation of the trained weights
    x0 = ex.engine.prepare(ex.images[0])
    oracle = keras.Model(model.inputs, model.get_layer("conv_a").output)(x0).numpy()[0, ..., 0]
    np.testing.assert_allclose(ex.current_activation()[..., 0], oracle, rtol=1e-5, atol=1e-6)
    assert live.curves.value[:4] == b"\x89PNG" and "epoch 3" in live.status.value
