"""Independent oracles for the attribution tests (plain Keras + the backend's own gradient).

:func:`backend_gradient` is written here with each backend's automatic differentiation
(TensorFlow's ``GradientTape``, ``jax.grad``, ``torch.autograd``), apart from the
package's ``autodiff`` module, so the oracles do not share its code.
"""

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


@contextlib.contextmanager
def float64():
    """While active, float64 arrays stay float64 (JAX computes in float32 by default)."""
    import keras

    if keras.backend.backend() != "jax":
        yield
        return
    import jax

    enable = getattr(jax, "enable_x64", None)
    if enable is None:  # JAX before 0.7
        from jax.experimental import enable_x64 as enable
    with enable(True):
        yield


def copy_model(builder, model, dtype: str = "float32", linear_head: bool = False):
    """Rebuild ``builder()`` (optionally in float64 / with a linear last layer), same weights."""
    with dtype_policy(dtype):
        twin = builder()
    twin.set_weights(model.get_weights())
    if linear_head:
        import keras

        twin.layers[-1].activation = keras.activations.linear
    return twin


def tensor(value):
    """``value`` as a tensor of the active Keras backend."""
    import keras

    return keras.ops.convert_to_tensor(value)


def numpy(value) -> np.ndarray:
    """A backend tensor as a numpy array."""
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value))


def backend_gradient(function, x) -> np.ndarray:
    """``d sum(function(x)) / d x`` as numpy, by the Keras backend's own autodiff."""
    import keras

    name = keras.backend.backend()
    x = tensor(x)
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(function(x))
        return tape.gradient(total, x).numpy()
    if name == "jax":
        import jax
        import jax.numpy as jnp

        return np.asarray(jax.grad(lambda t: jnp.sum(function(t)))(x))
    import torch

    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(torch.sum(function(x)), x)
    return grad.detach().cpu().numpy()


def feature_and_gradient(model, layer_name: str, batch: np.ndarray, score):
    """A layer's output and ``d sum(score(model output)) / d output``, for image 0.

    A Sequential model's layers are called in turn; a functional model is split at the
    layer into ``keras.Model(inputs, layer.output)`` and ``keras.Model(layer.output,
    model.output)``.
    """
    import keras

    x = tensor(batch)
    if isinstance(model, keras.Sequential):
        cut = [layer.name for layer in model.layers].index(layer_name) + 1
        feature = x
        for layer in model.layers[:cut]:
            feature = layer(feature, training=False)

        def head(f):
            for layer in model.layers[cut:]:
                f = layer(f, training=False)
            return f
    else:
        inner = model.get_layer(layer_name).output
        feature = keras.Model(model.inputs, inner)(x, training=False)
        tail = keras.Model(inner, model.output)

        def head(f):
            return tail(f, training=False)

    grads = backend_gradient(lambda f: score(head(f)), feature)
    return numpy(feature)[0].astype(np.float64), grads[0].astype(np.float64)


def gradcam_oracle(model, layer_name: str, batch: np.ndarray, class_index: int) -> np.ndarray:
    """Grad-CAM computed directly from the model's own layers (:func:`feature_and_gradient`)."""
    feature, grads = feature_and_gradient(model, layer_name, batch,
                                          lambda out: out[:, class_index])
    weights = grads.mean(axis=(0, 1))
    return np.maximum((feature * weights).sum(axis=-1), 0.0)
