"""Dead filters: channels whose weights vanished or that never fire on a set of images."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.coerce import as_engine, image_list
from ..errors import InvalidSettingError, LayerNotViewableError
from .filters import _kernel_arrays

__all__ = ["DeadFilterReport", "dead_filters"]

Progress = Callable[[int, int], Any]

#: Up to this many images are run one by one through the engine's cache.
CACHED_SCAN_MAX = 8


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


def _channel_max(act: np.ndarray) -> np.ndarray:
    """Max over every axis but the first (image) and the last (channel): (N, C)."""
    act = np.asarray(act)
    if act.ndim < 2:
        raise LayerNotViewableError("The layer's output has no channel axis to scan.")
    return act.reshape(act.shape[0], -1, act.shape[-1]).max(axis=1)


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
    images : image, sequence of images or numpy array
        The images to scan, split like everywhere else
        (:func:`~cnnviz_widgets.engine.coerce.image_list`): an (N, H, W) or
        (N, H, W, C) array is N images, an (H, W) or (H, W, C) array one image. Up
        to ``CACHED_SCAN_MAX`` images go one by one through the engine's cache
        (:meth:`~ActivationEngine.activation`), more in batches through
        :meth:`~ActivationEngine.features`.
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
        once with ``done=0`` before the scan and after every image or batch.

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
    if isinstance(images, str) and not isinstance(layer, str):
        warnings.warn("dead_filters(model, layer, images) is deprecated; the order is "
                      "dead_filters(model, images, layer), as everywhere else.",
                      DeprecationWarning, stacklevel=2)
        images, layer = layer, images
    engine = as_engine(model_or_engine)
    info = engine.layer(layer)
    if batch_size < 1:
        raise InvalidSettingError(f"batch_size must be at least 1; got {batch_size}.")
    arrays = _kernel_arrays(engine.keras_layer(layer))
    norms = None
    by_weights = np.zeros(0, dtype=np.int64)
    if arrays is not None:
        kernel = arrays[0]
        norms = np.sqrt(np.square(kernel.astype(np.float64)).reshape(-1, kernel.shape[-1])
                        .sum(axis=0))
        by_weights = np.flatnonzero(norms <= weight_tol).astype(np.int64)

    images = image_list(images, engine.input_shape)
    n = len(images)
    if progress is not None:
        progress(0, n)
    maxima: list[np.ndarray] = []
    if n <= CACHED_SCAN_MAX:
        for i in range(n):
            maxima.append(_channel_max(np.asarray(engine.activation(layer, images[i]))[None]))
            if progress is not None:
                progress(i + 1, n)
    else:
        for start in range(0, n, batch_size):
            chunk = images[start:start + batch_size]
            maxima.append(_channel_max(engine.features(layer, chunk, batch_size=batch_size)))
            if progress is not None:
                progress(min(start + batch_size, n), n)

    if maxima:
        per_image = np.concatenate(maxima, axis=0).astype(np.float64)  # (N, C)
        n_channels = per_image.shape[1]
        fires = per_image > threshold
        fraction_active = fires.mean(axis=0)
        max_activation = per_image.max(axis=0)
        by_activation = np.flatnonzero(~fires.any(axis=0)).astype(np.int64)
    else:
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
