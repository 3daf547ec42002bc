"""Redirected ReLU gradients: lucid's way to wake a channel that is off everywhere.

Activation maximisation swaps every ReLU of the model for :class:`ReluSwitch` during its
first steps (:func:`redirected_relus`, through :func:`~._common.swapped_activations`, the
one way the attribution methods change a model's activations in place).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._keras import keras
from ._common import swapped_activations

__all__ = ["ReluSwitch", "redirected_relu", "redirected_relus"]


def redirected_relu(x: Any, enabled: Any = None) -> Any:
    """``relu(x)`` whose gradient is redirected when it would be zero for a whole image.

    Lucid's ``redirected_relu_grad`` for gradient ascent: for each image of the batch,
    if the ordinary ReLU gradient (the incoming gradient where ``x > 0``) is zero
    everywhere, the incoming gradient passes instead, except where ``x < 0`` and it
    would push ``x`` lower (incoming gradient < 0). Images whose ReLU gradient is not
    all zero get the ordinary gradient. ``enabled``, a boolean tensor, turns the
    redirection on and off inside a compiled program (None: on).
    """
    ops = keras.ops

    @ops.custom_gradient
    def relu(t: Any) -> Any:
        def grad(*args: Any, upstream: Any = None) -> Any:
            g = args[0] if upstream is None else upstream
            zeros = ops.zeros_like(g)
            ordinary = ops.where(t > 0, g, zeros)

            def redirect(gate: Any = None) -> Any:
                redirected = ops.where(ops.logical_and(t < 0, g < 0), zeros, g)
                flat = ops.reshape(ordinary, (ops.shape(ordinary)[0], -1))
                blocked = ops.all(ops.equal(flat, 0), axis=1)
                if gate is not None:
                    blocked = ops.logical_and(blocked, gate)
                blocked = ops.reshape(blocked, [-1] + [1] * (len(t.shape) - 1))
                return ops.where(blocked, redirected, ordinary)

            if enabled is None:
                return redirect()
            if keras.backend.backend() == "tensorflow":
                # TensorFlow runs each operation as a kernel of its own: switched off (most
                # steps), the test and the redirected copy are skipped.
                return ops.cond(enabled, redirect, lambda: ordinary)
            # XLA (JAX) fuses them into the gradient; a branch would only add compile time.
            return redirect(enabled)

        return ops.relu(t), grad

    return relu(x)


class ReluSwitch:
    """The activation put in place of a layer's ReLU: redirected while ``on`` is set.

    ``on`` is a bool, or a boolean tensor (an input of a compiled program that decides
    at each run).
    """

    def __init__(self) -> None:
        self.on: Any = True
        self.__name__ = "relu"

    def __call__(self, x: Any) -> Any:
        if isinstance(self.on, (bool, np.bool_)):
            return redirected_relu(x) if self.on else keras.ops.relu(x)
        return redirected_relu(x, self.on)


@contextlib.contextmanager
def redirected_relus(engine: Any, enabled: bool = True) -> Iterator[ReluSwitch]:
    """While active, every layer of ``engine``'s model with a ReLU activation uses
    :func:`redirected_relu` (as long as the yielded switch's ``on`` is True).

    Layers with ``activation="relu"`` (convolutions, dense layers, ``Activation``
    layers) are covered; ``keras.layers.ReLU`` layers keep their own gradient. The
    original activations are restored on exit, even after an error.
    """
    switch = ReluSwitch()
    switch.on = enabled
    if not enabled:
        yield switch
        return
    layers = [step.layer for step in engine.plan.steps
              if getattr(getattr(step.layer, "activation", None), "__name__", None) == "relu"
              and not isinstance(step.layer.activation, ReluSwitch)]
    with swapped_activations(layers, switch):
        yield switch
