"""Gradients under every Keras backend: the one primitive the gradient methods use.

The attribution methods are written with ``keras.ops`` and differentiate through
:func:`value_and_gradient`, which runs the backend's own automatic differentiation:

* TensorFlow: a ``GradientTape`` that watches the given tensors only (no weight is
  recorded, ``watch_accessed_variables=False``);
* JAX: ``jax.value_and_grad`` of a function of the given tensors, the model's weights
  being read as constants;
* PyTorch: ``torch.autograd.grad`` with ``requires_grad`` set on the given tensors.

:func:`compiled` turns a gradient function into the backend's compiled form
(``tf.function`` with the batch axis left free, ``jax.jit`` with the model's weights as
arguments, so a change of weights is seen); other backends run it as it is.
:func:`to_tensor` and :func:`to_numpy` convert between numpy and backend tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._keras import keras
from ..engine.backend import no_gradient
from ..errors import InvalidSettingError

__all__ = ["GRADIENT_BACKENDS", "backend", "compiled", "no_gradient", "program", "to_numpy",
           "to_tensor", "value_and_gradient", "vector_jacobian"]

#: The Keras backends the gradient methods run on.
GRADIENT_BACKENDS = ("tensorflow", "jax", "torch")


def backend() -> str:
    """The name of the active Keras backend (``"tensorflow"``, ``"jax"``, ``"torch"``...)."""
    return keras.backend.backend()


def _checked_backend(what: str) -> str:
    name = backend()
    if name not in GRADIENT_BACKENDS:
        raise InvalidSettingError(
            f"{what} needs gradients, which the Keras backend {name!r} cannot compute. Set "
            "the environment variable KERAS_BACKEND to 'tensorflow', 'jax' or 'torch' before "
            "keras is first imported (at the top of the notebook, then restart its kernel).")
    return name


def _jax_has_float64() -> bool:
    import jax

    return bool(jax.config.jax_enable_x64)


def to_tensor(value: Any, dtype: str | None = None) -> Any:
    """``value`` (a numpy array, a number or a tensor) as a tensor of the active backend.

    Under JAX without 64-bit mode, a float64 array becomes float32 (what JAX would make
    of it anyway, without its warning).
    """
    if dtype is None and backend() == "jax" and getattr(value, "dtype", None) == np.float64 \
            and not _jax_has_float64():
        dtype = "float32"
    return keras.ops.convert_to_tensor(value, dtype=dtype)


def to_numpy(value: Any) -> np.ndarray:
    """A backend tensor (or an array) as a numpy array; a tensor that tracks gradients is
    detached first."""
    if isinstance(value, np.ndarray):
        return value
    return np.asarray(keras.ops.convert_to_numpy(value))


def value_and_gradient(function: Callable[..., Any], *tensors: Any,
                       has_aux: bool = False) -> tuple[Any, tuple[Any, ...]]:
    """What ``function(*tensors)`` returns, and the gradient of its sum to each tensor.

    Parameters
    ----------
    function : callable
        Maps backend tensors to a tensor (its sum is differentiated, so a score per image
        gives every image its own gradient) or, with ``has_aux``, to a pair
        ``(tensor, anything)``; it must use backend operations (``keras.ops``) only.
    *tensors : array or tensor
        The values to differentiate with respect to (numpy arrays are converted).
    has_aux : bool, default False
        ``function`` returns ``(value, aux)``; ``aux`` is passed through, not differentiated.

    Returns
    -------
    result, gradients
        ``function``'s own result (backend tensors), and one gradient per tensor, of its
        shape. Under TensorFlow a gradient is None when the value does not depend on the
        tensor at all; other backends give zeros.

    Raises
    ------
    InvalidSettingError
        Under a Keras backend that has no gradients (``numpy``, ``openvino``).
    """
    name = _checked_backend("This method")
    tensors = tuple(to_tensor(t) for t in tensors)

    def parts(result: Any) -> Any:
        return result[0] if has_aux else result

    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape(watch_accessed_variables=False) as tape:
            for t in tensors:
                tape.watch(t)
            result = function(*tensors)
            total = tf.reduce_sum(parts(result))
        return result, tuple(tape.gradient(total, list(tensors)))
    if name == "jax":
        import jax

        def scalar(*args: Any) -> Any:
            result = function(*args)
            return keras.ops.sum(parts(result)), result

        (_, result), grads = jax.value_and_grad(
            scalar, argnums=tuple(range(len(tensors))), has_aux=True)(*tensors)
        return result, tuple(grads)
    import torch

    leaves = tuple(t.detach().requires_grad_(True) for t in tensors)
    with torch.enable_grad():
        result = function(*leaves)
        total = torch.sum(parts(result))
    grads = torch.autograd.grad(total, leaves, allow_unused=True)
    return result, tuple(grads)


def vector_jacobian(function: Callable[..., Any], *tensors: Any
                    ) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    """``function(*tensors)`` and its pullback: the vector-Jacobian product.

    The relevance rules of :mod:`.relevance` send a vector of their own back through a
    layer (``jax.vjp``; a persistent ``GradientTape`` with ``output_gradients`` under
    TensorFlow; ``torch.autograd.grad`` with ``grad_outputs`` under PyTorch), as many
    times as they need, after one forward pass.

    Parameters
    ----------
    function : callable
        Maps backend tensors to one tensor, with backend operations (``keras.ops``) only.
    *tensors : tensor
        The values to differentiate with respect to.

    Returns
    -------
    output, pullback
        ``function``'s output, and ``pullback(vector)`` giving, for a ``vector`` shaped
        like the output, ``sum(vector * output)``'s gradient to each tensor (zeros where
        the output does not depend on it).

    Raises
    ------
    InvalidSettingError
        Under a Keras backend that has no gradients (``numpy``, ``openvino``).
    """
    name = _checked_backend("Relevance propagation")
    tensors = tuple(to_tensor(t) for t in tensors)
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape(watch_accessed_variables=False, persistent=True) as tape:
            for t in tensors:
                tape.watch(t)
            output = function(*tensors)

        def tf_pullback(vector: Any) -> tuple[Any, ...]:
            grads = tape.gradient(output, list(tensors), output_gradients=vector,
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return tuple(grads)

        return output, tf_pullback
    if name == "jax":
        import jax

        output, jax_pullback = jax.vjp(function, *tensors)
        return output, lambda vector: tuple(jax_pullback(vector))
    import torch

    leaves = tuple(t.detach().requires_grad_(True) for t in tensors)
    with torch.enable_grad():
        output = function(*leaves)

    def torch_pullback(vector: Any) -> tuple[Any, ...]:
        grads = torch.autograd.grad(output, leaves, grad_outputs=vector, retain_graph=True,
                                    allow_unused=True)
        return tuple(torch.zeros_like(t) if g is None else g
                     for t, g in zip(leaves, grads, strict=True))

    return output, torch_pullback


def compiled(function: Callable[..., Any], tensors: Sequence[Any],
             variables: Sequence[Any] = ()) -> Callable[..., Any] | None:
    """``function(*tensors, index)`` compiled for the active backend, or None.

    The compiled callable takes tensors shaped like ``tensors`` (any batch size) and a
    Python ``int`` ``index`` (an input of the compiled program, so one trace serves every
    class). TensorFlow traces a ``tf.function`` once per dtype and shape after the batch
    axis; JAX a ``jax.jit`` per shape, with ``variables`` (the model's) passed in at each
    call so that the program always uses their current values. Other backends: None (run
    ``function`` as it is).

    Parameters
    ----------
    function : callable
        ``function(*tensors, index_tensor) -> tensor``, written with backend operations.
    tensors : sequence of tensors
        Examples of the arguments (their dtypes and shapes after the batch axis count).
    variables : sequence of keras.Variable
        The variables ``function`` reads (JAX only).
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        specs = [tf.TensorSpec((None, *t.shape[1:]), t.dtype) for t in tensors]
        graph = program(function, variables, [*specs, tf.TensorSpec((), tf.int32)])
        return lambda *args: graph(*args[:-1], tf.constant(args[-1], tf.int32))
    if name == "jax":
        import jax.numpy as jnp

        jitted = program(function, variables)
        return lambda *args: jitted(*args[:-1], jnp.asarray(args[-1], jnp.int32))
    return None


def program(function: Callable[..., Any], variables: Sequence[Any] = (),
            signature: Sequence[Any] | None = None) -> Callable[..., Any] | None:
    """``function`` (of backend tensors, written with backend operations) compiled, or None.

    TensorFlow: a ``tf.function`` without autograph (traced once per shape and dtype of
    its arguments, or once for ``signature``, a list of ``tf.TensorSpec``); JAX: a
    ``jax.jit`` that is given ``variables`` (the model's) at each call, so that it always
    uses their current values. Other backends: None (run ``function`` as it is). The
    one compilation of the package's gradient programs (:func:`compiled`, the
    optimisation step of activation maximisation).
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.function(function, input_signature=signature, autograph=False)
    if name == "jax":
        import jax

        variables = list(variables)

        def stateless(values: list[Any], *args: Any) -> Any:
            with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
                return function(*args)

        jitted = jax.jit(stateless)
        return lambda *args: jitted([v.value for v in variables], *args)
    return None
