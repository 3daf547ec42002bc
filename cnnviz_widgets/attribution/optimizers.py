"""The optimiser of activation maximisation: a small object that takes ascent steps."""

from __future__ import annotations

import numpy as np

__all__ = ["Adam"]


class Adam:
    """Adam (Kingma and Ba 2015) as gradient *ascent* on a numpy array of parameters.

    Each call is one step; the object keeps the moments and counts the steps, so one
    object serves one optimisation.

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
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None

    def __call__(self, params: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """``params`` moved one step up ``grad`` (float32)."""
        b1, b2 = self.beta1, self.beta2
        self.steps += 1
        m = np.zeros_like(params) if self.m is None else self.m
        v = np.zeros_like(params) if self.v is None else self.v
        self.m = m = b1 * m + (1 - b1) * grad
        self.v = v = b2 * v + (1 - b2) * grad * grad
        m_hat = m / (1 - b1**self.steps)
        v_hat = v / (1 - b2**self.steps)
        return (params + self.learning_rate * m_hat / (np.sqrt(v_hat) + self.eps)
                ).astype(np.float32)
