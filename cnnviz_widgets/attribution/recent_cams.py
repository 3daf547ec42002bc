"""The newest members of the CAM family: KPCA-CAM, Shapley-CAM, Finer-CAM and FEM.

Each is a :class:`~.gradcam.GradCAM` with one step changed (pytorch-grad-cam's
``base_cam.py`` design), so each has Grad-CAM's call shape,
``Method(model_or_engine, layer=None)(image, target=None)``, its upsampling, scaling
and errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._keras import keras
from ..errors import InvalidSettingError
from . import autodiff
from ._common import logits_of, reaches_output
from .gradcam import GradCAM, _positions, cam_values
from .scores import is_per_pixel

__all__ = ["FEM", "FinerCAM", "FinerScore", "KPCACAM", "ShapleyCAM"]


def _oriented(projection: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """``projection`` with the sign that correlates it positively with the channel sum."""
    return -projection if projection @ flat.sum(axis=1) < 0 else projection


class KPCACAM(GradCAM):
    """KPCA-CAM (Karmani et al. 2024): the first kernel principal component of the activations.

    No gradient. For each image the activations, reshaped to (h*w, C) and centred per
    channel, give the kernel matrix ``K`` (``sigmoid``: ``tanh(gamma x.y + coef0)``,
    ``rbf``: ``exp(-gamma |x - y|^2)``; ``gamma = 1 / C`` by default, ``coef0 = 1``),
    centred in feature space (``K - 1K - K1 + 1K1``, ``1`` the matrix of ``1/n``). The
    map is the projection on the top eigenvector ``v`` with eigenvalue ``l``,
    ``v sqrt(l)``, what scikit-learn's ``KernelPCA(n_components=1).fit_transform``
    returns (pytorch-grad-cam's ``KPCA_CAM``), with the sign that correlates with the
    channel sum (as :class:`~.cam.EigenCAM`), then its ReLU.

    Parameters
    ----------
    model_or_engine, layer, logits
        As :class:`~.gradcam.GradCAM`.
    kernel : {"sigmoid", "rbf"}, default "sigmoid"
        The kernel (pytorch-grad-cam's default is sigmoid).
    gamma : float, optional
        Kernel coefficient; default ``1 / C``.
    """

    uses_gradients = False
    coef0 = 1.0

    def __init__(self, model_or_engine: Any, layer: str | None = None, logits: bool = True,
                 kernel: str = "sigmoid", gamma: float | None = None):
        super().__init__(model_or_engine, layer, logits)
        if kernel not in ("sigmoid", "rbf"):
            raise InvalidSettingError(f"kernel must be 'sigmoid' or 'rbf', not {kernel!r}.")
        self.kernel = kernel
        self.gamma = None if gamma is None else float(gamma)

    def kernel_matrix(self, x: np.ndarray) -> np.ndarray:
        """The kernel between every pair of rows of ``x`` (n, C), before centring."""
        gamma = 1.0 / x.shape[1] if self.gamma is None else self.gamma
        if self.kernel == "sigmoid":
            return np.tanh(gamma * (x @ x.T) + self.coef0)
        squares = (x * x).sum(axis=1)
        distances = np.maximum(squares[:, None] + squares[None, :] - 2.0 * (x @ x.T), 0.0)
        return np.exp(-gamma * distances)

    def layer_map(self, feature: np.ndarray, grads: np.ndarray | None) -> np.ndarray:
        n, *positions, c = feature.shape
        maps = np.empty((n, *positions))
        for i, acts in enumerate(feature):
            flat = np.nan_to_num(acts.reshape(-1, c))
            centred = flat - flat.mean(axis=0)
            k = self.kernel_matrix(centred)
            row = k.mean(axis=0)
            k = k - row[None, :] - row[:, None] + row.mean()
            values, vectors = np.linalg.eigh(k)
            projection = vectors[:, -1] * np.sqrt(max(values[-1], 0.0))
            maps[i] = _oriented(projection, flat).reshape(positions)
        return maps


class FEM(GradCAM):
    """FEM, the feature explanation method (Fuad et al. 2020; Xplique, pytorch-grad-cam).

    No gradient. Each channel ``k`` is thresholded by the k-sigma rule,
    ``B_k = A_k > mean(A_k) + k std(A_k)`` (over positions), its weight is the fraction
    of positions above the threshold, ``w_k = mean(B_k)``, and the map is
    ``sum_k w_k A_k`` (then Grad-CAM's ReLU, upsampling and scaling).

    Parameters
    ----------
    model_or_engine, layer, logits
        As :class:`~.gradcam.GradCAM`.
    k : float, default 2.0
        How many standard deviations above the mean a value must lie.
    """

    uses_gradients = False

    def __init__(self, model_or_engine: Any, layer: str | None = None, logits: bool = True,
                 k: float = 2.0):
        super().__init__(model_or_engine, layer, logits)
        self.k = float(k)

    def channel_weights(self, feature: np.ndarray, grads: np.ndarray | None) -> np.ndarray:
        """FEM's weight of each feature map, (N, C)."""
        positions = _positions(feature)
        threshold = (feature.mean(axis=positions, keepdims=True)
                     + self.k * feature.std(axis=positions, keepdims=True))
        return (feature > threshold).mean(axis=positions)


class FinerScore:
    """Finer-CAM's score: the target's logit against its closest rivals.

    ``sum_c p_c (y_t - alpha y_c) / (sum_c p_c + 1e-9)`` over the comparison classes
    ``c``, with ``p = softmax(y)`` (pytorch-grad-cam's ``FinerWeightedTarget``; the
    gradient flows through ``p`` too).

    Parameters
    ----------
    main : sequence of int
        The target class of each image.
    comparisons : sequence of sequences of int
        The comparison classes of each image (same count for every image).
    alpha : float
        Strength of the comparison.
    """

    def __init__(self, main: Sequence[int], comparisons: Sequence[Sequence[int]],
                 alpha: float = 1.0):
        self.main = np.asarray(main, dtype=np.int32)
        self.comparisons = np.asarray(comparisons, dtype=np.int32)
        self.alpha = float(alpha)

    def __call__(self, output: Any) -> Any:
        ops = keras.ops
        flat = ops.reshape(output, (ops.shape(output)[0], -1))
        probs = ops.softmax(flat, axis=-1)
        main = ops.take_along_axis(flat, ops.convert_to_tensor(self.main[:, None]), axis=1)
        index = ops.convert_to_tensor(self.comparisons)
        rivals = ops.take_along_axis(flat, index, axis=1)
        weights = ops.take_along_axis(probs, index, axis=1)
        numerator = ops.sum(weights * (main - self.alpha * rivals), axis=1)
        return numerator / (ops.sum(weights, axis=1) + 1e-9)


class FinerCAM(GradCAM):
    """Finer-CAM (Zhang et al. 2025): Grad-CAM of the target against similar classes.

    The classes whose logits lie closest to the target's (``comparison`` gives their
    ranks by ``|y - y_t|``, rank 0 being the target itself) are subtracted from it with
    :class:`FinerScore`; Grad-CAM of that score shows what tells the target apart from
    its look-alikes, as pytorch-grad-cam's ``FinerCAM`` with its Grad-CAM base.

    Parameters
    ----------
    model_or_engine, layer, logits
        As :class:`~.gradcam.GradCAM`.
    alpha : float, default 1.0
        Strength of the comparison (0 gives Grad-CAM of the target's logit).
    comparison : sequence of int, default (1, 2, 3)
        Ranks of the comparison classes among the classes sorted by closeness; ranks
        beyond the model's classes are left out (a model of three classes compares
        with two).
    """

    def __init__(self, model_or_engine: Any, layer: str | None = None, logits: bool = True,
                 alpha: float = 1.0, comparison: Sequence[int] = (1, 2, 3)):
        super().__init__(model_or_engine, layer, logits)
        self.alpha = float(alpha)
        self.comparison = tuple(int(r) for r in comparison)

    def finer_score(self, batch: np.ndarray, target: int | None = None) -> FinerScore:
        """The :class:`FinerScore` of each image of a prepared batch."""
        with logits_of(self.engine, self.logits), autodiff.no_gradient():
            output, _ = self.engine.forward(np.asarray(batch, dtype=np.float32))
        y = autodiff.to_numpy(output).astype(np.float64)
        if is_per_pixel(y):
            raise InvalidSettingError(
                "Finer-CAM compares a class with its rival classes in a classifier's output "
                f"vector; this model's output is per-pixel, shape (batch, {y.shape[1]}, "
                f"{y.shape[2]}, {y.shape[3]}). Use GradCAM with a SegmentationTarget or "
                "ClassTarget instead.")
        y = y.reshape(len(batch), -1)
        ranks = [r for r in self.comparison if 0 < r < y.shape[1]]
        if not ranks:
            raise InvalidSettingError(
                f"Finer-CAM compares the class with others; the comparison ranks "
                f"{self.comparison} name none of the model's {y.shape[1]} classes.")
        reference = y.max(axis=1) if target is None else y[:, int(target)]
        order = np.argsort(np.abs(y - reference[:, None]), axis=1, kind="stable")
        main = order[:, 0] if target is None else np.full(len(y), int(target))
        return FinerScore(main, order[:, ranks], self.alpha)

    def attribute(self, batch: np.ndarray, target: Any = None) -> np.ndarray:
        if target is not None and not isinstance(target, (int, np.integer)):
            raise InvalidSettingError(
                "FinerCAM explains a class index (or None) of a classifier, not "
                f"{type(target).__name__}; for a region or a regression output use GradCAM "
                "with that target.")
        return super().attribute(batch, self.finer_score(batch, target))


class ShapleyCAM(GradCAM):
    """Shapley-CAM (Cai 2025): channel weights from the gradient and the Hessian.

    A second-order estimate of each channel's Shapley value: with ``g`` the gradient of
    the score with respect to the layer's output ``A`` and ``H A`` the Hessian-vector
    product in the direction of ``A`` itself, ``w_k = mean_ij(g - H A / 2)`` and the map
    is ``ReLU(sum_k w_k A_k)`` (pytorch-grad-cam's ``ShapleyCAM``). For a head that is
    linear in ``A`` (global pooling, then a linear layer, on logits) the Hessian is zero
    and the map is Grad-CAM's. The Hessian-vector product is a gradient of a gradient
    (TensorFlow and JAX backends).

    Parameters, call and errors are :class:`~.gradcam.GradCAM`'s.
    """

    def _attribute(self, batch: np.ndarray, score: Any) -> np.ndarray:
        if autodiff.backend() not in ("tensorflow", "jax"):
            raise InvalidSettingError(
                "Shapley-CAM needs second derivatives, which this package takes under the "
                f"TensorFlow and JAX backends of Keras, not {autodiff.backend()!r}.")
        if not reaches_output(self.engine, self.layer):
            raise self._independent(self.layer)
        value = np.asarray(self.value_at(self.layer, batch))
        x = autodiff.to_tensor(np.asarray(batch, dtype=np.float32))
        direction = autodiff.to_tensor(value)

        def head(v: Any) -> Any:
            output, _ = self.engine.forward(x, given={self.layer: v})
            return score(output)

        def along(v: Any) -> Any:
            _, (grads,) = autodiff.value_and_gradient(head, v)
            return keras.ops.sum(grads * direction), grads

        # differentiated at a tensor of its own: the direction stays a constant
        start = autodiff.to_tensor(value.copy())
        (_, grads), (hvp,) = autodiff.value_and_gradient(along, start, has_aux=True)
        info = self._info
        feature = cam_values(info, value).astype(np.float64)
        grads = cam_values(info, autodiff.to_numpy(grads)).astype(np.float64)
        # a head linear in the layer has no curvature (TensorFlow says None)
        hvp = (np.zeros_like(grads) if hvp is None
               else cam_values(info, autodiff.to_numpy(hvp)).astype(np.float64))
        weights = (grads - 0.5 * hvp).mean(axis=_positions(grads))
        return np.maximum(np.einsum("n...c,nc->n...", feature, weights), 0.0)
