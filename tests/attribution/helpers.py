"""Independent oracles for the attribution tests (plain Keras + GradientTape)."""

from __future__ import annotations

import contextlib

import numpy as np


@contextlib.contextmanager
def dtype_policy(name: str):
    import keras

    old, old_floatx = keras.config.dtype_policy(), keras.config.floatx()
    keras.config.set_dtype_policy(name)
    keras.config.set_floatx(name)  # keras.Input takes floatx, not the dtype policy
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)
        keras.config.set_floatx(old_floatx)


def copy_model(builder, model, dtype: str = "float32", linear_head: bool = False):
    """Rebuild ``builder()`` (optionally in float64 / with a linear last layer), same weights."""
    with dtype_policy(dtype):
        twin = builder()
    twin.set_weights(model.get_weights())
    if linear_head:
        import keras

        twin.layers[-1].activation = keras.activations.linear
    return twin


def gradcam_oracle(model, layer_name: str, batch: np.ndarray, class_index: int) -> np.ndarray:
    """Grad-CAM computed directly with a GradientTape around the model's own layers.

    A functional model is probed as ``keras.Model(inputs, [layer.output, model.output])``;
    a Sequential one by calling its layers in turn.
    """
    import keras
    import tensorflow as tf

    x = tf.constant(batch)
    with tf.GradientTape() as tape:
        if isinstance(model, keras.Sequential):
            h = x
            for layer in model.layers:
                h = layer(h, training=False)
                if layer.name == layer_name:
                    tape.watch(h)
                    feature = h
            out = h
        else:
            probe = keras.Model(model.inputs,
                                [model.get_layer(layer_name).output, model.output])
            feature, out = probe(x, training=False)
        score = out[:, class_index]
    grads = tape.gradient(score, feature).numpy()[0].astype(np.float64)
    feature = feature.numpy()[0].astype(np.float64)
    weights = grads.mean(axis=(0, 1))
    return np.maximum((feature * weights).sum(axis=-1), 0.0)
