"""Input transforms for activation maximisation: what the model sees at each step.

A transform is a small callable object, ``transform(x, rng) -> x``, applied to the
image (a backend tensor, batch first) before every forward pass. It must be
differentiable, so the gradient flows back to the untransformed image. Random
transforms draw from ``rng`` (a seeded ``numpy.random.Generator``), which keeps runs
reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["InputTransform", "Jitter"]


class InputTransform:
    """Base class of the input transforms."""

    def __call__(self, x: Any, rng: np.random.Generator) -> Any:
        """Return the transformed batch ``x`` (N, H, W[, C])."""
        raise NotImplementedError


@dataclass(frozen=True)
class Jitter(InputTransform):
    """Roll the image by a random offset of up to ``px`` pixels in height and width.

    The model sees a shifted copy; the gradient flows back to the unshifted image, which
    discourages high-frequency patterns tied to exact pixel positions. ``px=0`` leaves
    the image alone (and draws no random numbers).

    Parameters
    ----------
    px : int, default 2
        Largest shift, in pixels.
    """

    px: int = 2

    def __call__(self, x: Any, rng: np.random.Generator) -> Any:
        if self.px <= 0:
            return x
        import tensorflow as tf

        dy, dx = (int(s) for s in rng.integers(-self.px, self.px + 1, size=2))
        return tf.roll(x, shift=[dy, dx], axis=[1, 2])
