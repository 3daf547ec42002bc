"""The CAM family: Grad-CAM's relatives, each only a different map from (A, dA).

Every class here is a :class:`~.gradcam.GradCAM` with one step changed, as in
pytorch-grad-cam's ``base_cam.py``: the forward pass, the gradient, the ReLU, the
upsampling and the scaling to [0, 1] are Grad-CAM's, so every method has its call
shape, ``Method(model_or_engine, layer=None)(image, target=None)``, its defaults and
its errors. ``A`` is the layer's output (N, h, w, C) and ``g`` the gradient of the
target score with respect to it.
"""

from __future__ import annotations

import numpy as np

from .gradcam import GradCAM

__all__ = ["EigenCAM", "GradCAMPlusPlus", "HiResCAM", "LayerCAM", "XGradCAM"]


class GradCAMPlusPlus(GradCAM):
    """Grad-CAM++ (Chattopadhyay et al. 2018): positive gradients weighted per position.

    ``alpha = g^2 / (2 g^2 + sum_ij(A) g^3)`` (0 where the denominator is 0) and
    ``w_k = sum_ij(alpha * ReLU(g))``; the map is ``ReLU(sum_k w_k A_k)``. Parameters,
    call and errors are :class:`~.gradcam.GradCAM`'s.
    """

    @staticmethod
    def channel_weights(feature: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """Grad-CAM++'s weight of each feature map, (N, C)."""
        g2 = grads ** 2
        denom = 2.0 * g2 + feature.sum(axis=(1, 2), keepdims=True) * g2 * grads
        alpha = np.divide(g2, denom, out=np.zeros_like(g2), where=denom != 0)
        return (alpha * np.maximum(grads, 0.0)).sum(axis=(1, 2))


class XGradCAM(GradCAM):
    """XGrad-CAM (Fu et al. 2020): gradients weighted by the normalised activations.

    ``w_k = sum_ij(g A) / (sum_ij(A) + eps)``; the map is ``ReLU(sum_k w_k A_k)``.
    Parameters, call and errors are :class:`~.gradcam.GradCAM`'s.
    """

    eps = 1e-7

    @classmethod
    def channel_weights(cls, feature: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """XGrad-CAM's weight of each feature map, (N, C)."""
        return (grads * feature).sum(axis=(1, 2)) / (feature.sum(axis=(1, 2)) + cls.eps)


class LayerCAM(GradCAM):
    """LayerCAM (Jiang et al. 2021): each position weighted by its own positive gradient.

    The map is ``ReLU(sum_k ReLU(g_k) A_k)``, elementwise, without spatial pooling, so
    it stays sharp on early layers. Parameters, call and errors are
    :class:`~.gradcam.GradCAM`'s.
    """

    def layer_map(self, feature: np.ndarray, grads: np.ndarray | None) -> np.ndarray:
        return (np.maximum(grads, 0.0) * feature).sum(axis=-1)


class HiResCAM(GradCAM):
    """HiResCAM (Draelos & Carin 2020): the gradient times the activation, elementwise.

    The map is ``ReLU(sum_k g_k A_k)``: for a head of global pooling and a linear layer
    it equals Grad-CAM; otherwise it shows where the score truly depends on the layer.
    Parameters, call and errors are :class:`~.gradcam.GradCAM`'s.
    """

    def layer_map(self, feature: np.ndarray, grads: np.ndarray | None) -> np.ndarray:
        return (grads * feature).sum(axis=-1)


class EigenCAM(GradCAM):
    """Eigen-CAM (Muhammad & Yeasin 2020): the first principal component of the activations.

    No gradient (``target`` is ignored and no backward pass runs): the activations,
    reshaped to (h*w, C) and centred per channel as in pytorch-grad-cam, are projected on
    their first right singular vector. A singular vector's sign is arbitrary, so the
    sign is chosen to make the projection correlate positively with the channel sum of
    the activations; the map is the ReLU of the projection. Parameters, call and errors
    are :class:`~.gradcam.GradCAM`'s.
    """

    uses_gradients = False

    def layer_map(self, feature: np.ndarray, grads: np.ndarray | None) -> np.ndarray:
        n, h, w, c = feature.shape
        maps = np.empty((n, h, w))
        for i, acts in enumerate(feature):
            flat = acts.reshape(h * w, c)
            centred = flat - flat.mean(axis=0)
            _, _, vt = np.linalg.svd(centred, full_matrices=False)
            projection = centred @ vt[0]
            if projection @ flat.sum(axis=1) < 0:
                projection = -projection
            maps[i] = projection.reshape(h, w)
        return maps
