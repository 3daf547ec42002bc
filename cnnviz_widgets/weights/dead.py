"""Dead filters: channels whose weights vanished or that never fire on a set of images."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._deprecation import reordered
from ..checks import whole_number
from ..engine.coerce import as_engine
from ..engine.scan import ScanResult, scan
from ..errors import InvalidSettingError
from .filters import _kernel_arrays

__all__ = ["DeadFilterReport", "dead_filters"]

Progress = Callable[[int, int], Any]


@dataclass(frozen=True)
class DeadFilterReport:
    """Which channels of a layer are dead, and how often each one fires.

    Attributes
    ----------
    layer : str
        The layer that was scanned.
    n_channels : int
        Number of channels (filters) of the layer.
    n_images : int
        Number of images scanned.
    dead_by_weights : numpy.ndarray
        Sorted indices of filters whose kernel norm is at most ``weight_tol``
        (empty for layers without a kernel).
    dead_by_activation : numpy.ndarray
        Sorted indices of channels that were never above ``threshold`` anywhere in
        any image (empty when no image was scanned).
    fraction_active : numpy.ndarray
        Per channel, the fraction of images whose maximum in that channel is above
        ``threshold``, float64 of shape (n_channels,).
    max_activation : numpy.ndarray
        Per channel, the largest value seen over all images and positions
        (``-inf`` when no image was scanned).
    kernel_norms : numpy.ndarray or None
        Per filter, the L2 norm of its kernel; None for layers without a kernel.
    """

    layer: str
    n_channels: int
    n_images: int
    dead_by_weights: np.ndarray
    dead_by_activation: np.ndarray
    fraction_active: np.ndarray
    max_activation: np.ndarray
    kernel_norms: np.ndarray | None = None

    @property
    def indices(self) -> np.ndarray:
        """Sorted indices of channels dead by weights or by activation."""
        return np.union1d(self.dead_by_weights, self.dead_by_activation).astype(np.int64)

    @property
    def fraction(self) -> float:
        """Share of dead channels, ``len(indices) / n_channels``."""
        return len(self.indices) / self.n_channels if self.n_channels else 0.0

    @property
    def alive(self) -> np.ndarray:
        """Sorted indices of the channels that are not dead."""
        return np.setdiff1d(np.arange(self.n_channels), self.indices).astype(np.int64)


def _is_empty(images: Any) -> bool:
    if images is None:
        return True
    if isinstance(images, (list, tuple)):
        return len(images) == 0
    return isinstance(images, np.ndarray) and images.size == 0


def _old_order(args: tuple[Any, ...], kwargs: dict[str, Any],
               ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """``(model, layer, images)``: a layer name where the new order has the images."""
    given = dict(zip(("model_or_engine", "images", "layer"), args, strict=False))
    given.update(kwargs)
    images, layer = given.get("images"), given.get("layer")
    if not isinstance(images, str) or isinstance(layer, str) or layer is None:
        return None
    return (), {**given, "images": layer, "layer": images}


@reordered("dead_filters(model, layer, images)", "dead_filters(model_or_engine, images, layer)",
           _old_order)
def dead_filters(
    model_or_engine: Any,
    images: Sequence[Any] | np.ndarray,
    layer: str,
    *,
    weight_tol: float = 1e-6,
    threshold: float = 0.0,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> DeadFilterReport:
    """Find the dead filters of ``layer``: vanished weights, or never active on ``images``.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine built on it (its cache is reused).
    images : data set or ScanResult
        The images to scan: anything :func:`~cnnviz_widgets.scan` takes (an array, a list,
        a folder, a ``tf.data`` dataset), scanned in one streaming pass; or the result of
        a scan that covered ``layer`` (nothing is computed again). An empty list checks
        the weights only.
    layer : str
        A layer name from ``engine.layer_names``. For a convolution with a built-in
        ReLU its output is after the activation; a linear convolution followed by a
        ReLU layer gives the same verdict, as "never above 0" does not depend on it.
        (The older order ``dead_filters(model, layer, images)`` still works, with a
        ``DeprecationWarning``.)
    weight_tol : float
        A filter whose kernel L2 norm is at most this is dead by weights.
    threshold : float
        A channel fires on an image when its maximum there is above this.
    batch_size : int
        Images per batch for large scans.
    progress : callable, optional
        Called as ``progress(done, total)`` with the number of images scanned so far,
        once with ``done=0`` before the scan and after every batch; anything ``scan``'s
        ``progress=`` takes.

    Returns
    -------
    DeadFilterReport

    Raises
    ------
    LayerNotFoundError
        If there is no such layer.
    LayerNotViewableError
        If the layer's output has no channel axis.
    """
    engine = as_engine(model_or_engine)
    info = engine.layer(layer)
    whole_number(batch_size, "batch_size")
    arrays = _kernel_arrays(engine.keras_layer(layer))
    norms = None
    by_weights = np.zeros(0, dtype=np.int64)
    if arrays is not None:
        kernel = arrays[0]
        norms = np.sqrt(np.square(kernel.astype(np.float64)).reshape(-1, kernel.shape[-1])
                        .sum(axis=0))
        by_weights = np.flatnonzero(norms <= weight_tol).astype(np.int64)

    if isinstance(images, ScanResult) and layer in images:
        result = images
    elif _is_empty(images):
        result = None
    else:
        result = scan(engine, images, [layer], top_k=1, batch_size=batch_size,
                      progress=progress, threshold=threshold)
    if result is not None and result[layer].count:
        stats = result[layer]
        n = stats.count
        n_channels = stats.channels
        if stats.threshold != threshold:
            raise InvalidSettingError(
                f"The scan counted images above {stats.threshold}, not above {threshold}; "
                "scan again with this threshold or use the scan's threshold.")
        fraction_active = stats.firing / n
        max_activation = stats.max
        by_activation = np.flatnonzero(~(stats.max > threshold)).astype(np.int64)
    else:
        n = 0
        n_channels = info.channels if info.channels is not None else (
            0 if norms is None else len(norms)
        )
        fraction_active = np.zeros(n_channels)
        max_activation = np.full(n_channels, -np.inf)
        by_activation = np.zeros(0, dtype=np.int64)
    if norms is not None and len(norms) != n_channels:
        norms, by_weights = None, np.zeros(0, dtype=np.int64)  # kernel does not map 1:1
    return DeadFilterReport(
        layer=layer,
        n_channels=int(n_channels),
        n_images=n,
        dead_by_weights=by_weights,
        dead_by_activation=by_activation,
        fraction_active=fraction_active,
        max_activation=max_activation,
        kernel_norms=norms,
    )
