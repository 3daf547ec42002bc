"""What differs between the Keras backends in the engine's forward passes.

PyTorch records every operation on a tensor that requires a gradient (a model's weights
do), and such a tensor cannot become a numpy array. The engine's own passes, whose values
only feed numpy (the cache, features, scans), run under :func:`no_gradient`. The gradient
methods (``attribution.autodiff``) use the same context for their forward-only passes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .._keras import keras

__all__ = ["no_gradient"]


@contextlib.contextmanager
def no_gradient() -> Iterator[None]:
    """While active, backend operations record nothing for gradients.

    ``torch.no_grad()`` under PyTorch; nothing changes under the other backends, which
    record operations only inside an explicit gradient computation.
    """
    if keras.backend.backend() != "torch":
        yield
        return
    import torch

    with torch.no_grad():
        yield
