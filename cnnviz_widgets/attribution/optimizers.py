"""The optimiser of activation maximisation: a small object that takes ascent steps."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._keras import keras

__all__ = ["Adam"]


class Adam:
    """Adam (Kingma and Ba 2015) as gradient *ascent* on a numpy array of parameters.

    Each call is one step; the object keeps the moments and counts the steps, so one
    object serves one optimisation. :meth:`update` is the same step as a pure function
    of backend tensors, for a compiled optimisation step.

    Parameters
    ----------
    learning_rate : float
        Step size.
    beta1, beta2, eps : float
        Adam's decay rates of the first and second moments, and its denominator floor.

    Examples
    --------
    >>> ascend = Adam(0.05)
    >>> params = ascend(params, grad)   # params + 0.05 * m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(self, learning_rate: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        self.learning_rate = learning_rate
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.steps = 0
        self.m: Any = None
        self.v: Any = None

    def corrections(self, step: int) -> np.ndarray:
        """The bias corrections ``(1 - beta1**step, 1 - beta2**step)`` of step ``step``
        (1-based), float32."""
        return np.asarray([1 - self.beta1**step, 1 - self.beta2**step], dtype=np.float32)

    def update(self, params: Any, grad: Any, m: Any, v: Any,
               corrections: Any) -> tuple[Any, Any, Any]:
        """One step as a pure function: ``(params, m, v)`` after ascending ``grad``.

        Written with ``keras.ops`` (numpy arrays or backend tensors, float32);
        ``corrections`` is :meth:`corrections` of the step.
        """
        ops = keras.ops
        b1, b2 = self.beta1, self.beta2
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        m_hat = m / corrections[0]
        v_hat = v / corrections[1]
        return params + self.learning_rate * m_hat / (ops.sqrt(v_hat) + self.eps), m, v

    def __call__(self, params: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """``params`` moved one step up ``grad`` (float32)."""
        self.steps += 1
        m = np.zeros_like(params) if self.m is None else self.m
        v = np.zeros_like(params) if self.v is None else self.v
        ops = keras.ops
        tensors = (ops.convert_to_tensor(np.asarray(a, dtype=np.float32))
                   for a in (params, grad, m, v, self.corrections(self.steps)))
        new, self.m, self.v = (np.asarray(ops.convert_to_numpy(t), dtype=np.float32)
                               for t in self.update(*tensors))
        return new
