"""Grad-CAM: class activation maps from the gradients of a convolutional layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import LayerNotViewableError
from ._common import as_engine, logits_of, model_input_batch
from .scores import resolve_score

__all__ = ["GradCAM", "default_gradcam_layer", "upsample_heatmap"]

_SKIP_KINDS = {"input", "preprocessing", "dropout", "reshape"}
_AFTER_CONV_KINDS = {"activation", "normalization", "merge"}


def _has_area(shape: tuple[int | None, ...]) -> bool:
    return len(shape) in (2, 3) and all(s is None or s > 1 for s in shape[:2])


def default_gradcam_layer(engine: Any) -> str:
    """Name of the layer Grad-CAM uses by default.

    The last convolution with a spatial output larger than 1x1, followed forward
    through the activation, normalisation and merge layers that directly come after it
    (so a ResNet gives its last block's output); layers inside nested backbones count
    (``backbone/conv2``). Without any convolution: the last spatial layer larger than 1x1.

    Raises
    ------
    LayerNotViewableError
        If the model has no spatial layer larger than 1x1.
    """
    candidates = [info for info in engine.layers
                  if info.kind not in _SKIP_KINDS and _has_area(info.output_shape)]
    if not candidates:
        raise LayerNotViewableError(
            "The model has no spatial layer (height and width larger than 1) for Grad-CAM. "
            "Grad-CAM needs a convolutional network."
        )
    convs = [i for i, info in enumerate(candidates) if info.kind == "conv"]
    if not convs:
        return candidates[-1].name
    chosen = convs[-1]
    while (chosen + 1 < len(candidates)
           and candidates[chosen + 1].kind in _AFTER_CONV_KINDS
           and candidates[chosen + 1].index == candidates[chosen].index + 1):
        chosen += 1
    return candidates[chosen].name


def upsample_heatmap(heatmap: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a 2-D heatmap to (height, width) with bilinear interpolation (float32)."""
    from ..engine.inputs import resize

    return resize(np.asarray(heatmap, dtype=np.float32), height, width)


class GradCAM:
    """Grad-CAM (Selvaraju et al. 2017) on any spatial layer, nested backbones included.

    The map is ``ReLU(sum_k w_k A_k)`` where ``A_k`` are the layer's feature maps and
    ``w_k`` the spatial mean of ``d score / d A_k``. Unlike tf-keras-vis, the layer may
    sit inside a nested sub-model (``"backbone/conv2"``): the engine runs the flattened
    model, so the gradient tape sees it.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine already built around it.
    layer : str, optional
        The layer to explain; by default :func:`default_gradcam_layer`.
    logits : bool, default True
        Differentiate the logits rather than softmax/sigmoid probabilities.

    Raises
    ------
    LayerNotFoundError
        If ``layer`` does not exist (the message suggests close names).
    LayerNotViewableError
        If ``layer`` has no spatial output.

    Examples
    --------
    >>> cam = GradCAM(model)                 # last conv layer
    >>> heat = cam(image)                    # (H, W) in [0, 1], top class
    >>> raw = cam(image, target=7, upsample=False)   # layer resolution, unnormalised
    """

    def __init__(self, model_or_engine: Any, layer: str | None = None, logits: bool = True):
        self.engine = as_engine(model_or_engine)
        self.layer = default_gradcam_layer(self.engine) if layer is None else layer
        info = self.engine.layer(self.layer)  # raises LayerNotFoundError
        if not info.is_spatial:
            raise LayerNotViewableError(
                f"Grad-CAM needs a spatial layer (height x width x channels), but "
                f"{self.layer!r} has output shape {info.output_shape}. Pick a convolutional "
                f"layer, e.g. {default_gradcam_layer(self.engine)!r}."
            )
        self.logits = logits

    def __call__(
        self,
        image: Any,
        target: Any = None,
        upsample: bool = True,
        normalize: bool | None = None,
    ) -> np.ndarray:
        """Compute the Grad-CAM heatmap of ``image``.

        Parameters
        ----------
        image : path, bytes, PIL image or numpy array
            The image, prepared by the engine.
        target : None, int or callable, optional
            ``None``: the predicted class; an int: a class index; or a score callable.
        upsample : bool, default True
            Resize the map (bilinear) to the model's input height and width.
        normalize : bool, optional
            Divide by the maximum so the map lies in [0, 1] (an all-zero map stays
            zero). Defaults to ``upsample``: raw values at the layer's resolution.

        Returns
        -------
        numpy.ndarray
            float32 array (H, W): the input's size if ``upsample``, else the layer's.
        """
        import tensorflow as tf

        normalize = upsample if normalize is None else normalize
        batch = model_input_batch(self.engine, image)
        score = None if target is None else resolve_score(target)
        x = tf.convert_to_tensor(batch)
        with logits_of(self.engine, self.logits), tf.GradientTape() as tape:
            output, values = self.engine.forward(
                x, layers=[self.layer], on_value=lambda _name, v: tape.watch(v)
            )
            if score is None:
                score = resolve_score(None, output.numpy())
            value = tf.reduce_sum(score(output))
        feature = values[self.layer]
        grads = tape.gradient(value, feature)
        if grads is None:
            raise LayerNotViewableError(
                f"The score does not depend on layer {self.layer!r}; Grad-CAM is undefined."
            )
        feature = np.asarray(feature, dtype=np.float64)[0]
        grads = np.asarray(grads, dtype=np.float64)[0]
        if feature.ndim == 2:
            feature, grads = feature[..., None], grads[..., None]
        weights = grads.mean(axis=(0, 1))
        cam = np.maximum(feature @ weights, 0.0).astype(np.float32)
        if upsample:
            h, w = batch.shape[1:3]
            cam = np.maximum(upsample_heatmap(cam, h, w), 0.0)
        if normalize:
            top = float(cam.max())
            cam = cam / top if top > 0 else cam
        return cam.astype(np.float32)
