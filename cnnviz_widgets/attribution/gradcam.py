"""Grad-CAM: class activation maps from the gradients of a convolutional layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..colour.scale import unit_scale
from ..engine.coerce import as_engine
from ..errors import LayerNotViewableError
from .base import GradientMethod

__all__ = ["GradCAM", "default_gradcam_layer", "upsample_heatmap"]

_SKIP_KINDS = {"input", "preprocessing", "dropout", "reshape"}
_AFTER_CONV_KINDS = {"activation", "normalization", "merge"}


def _has_area(info: Any) -> bool:
    """True for a layer a CAM can explain with more than one position."""
    layout, shape = info.layout, info.output_shape
    if layout in ("image", "plane"):
        return all(s is None or s > 1 for s in shape[:2])
    if layout == "sequence":
        return shape[0] is None or shape[0] > 1
    if layout == "volume":
        return any(s is None or s > 1 for s in shape[:3])
    return layout == "tokens" and info.token_grid is not None


def cam_values(info: Any, value: Any) -> np.ndarray:
    """A layer's output (batch first) laid out for a CAM: (N, *positions, C).

    Image maps (N, h, w, C), volumes (N, d, h, w, C) and sequences (N, T, C) stay as they
    are; one map (N, h, w)
    gets a channel axis of 1; the tokens of a vision transformer (N, tokens, D) whose
    layer has a :attr:`~cnnviz_widgets.engine.layers.LayerInfo.token_grid` ``(rows,
    cols, skip)`` lose their first ``skip`` tokens (a class token) and the rest become
    their patch grid, (N, rows, cols, D), as pytorch-grad-cam's ``reshape_transform``.

    Parameters
    ----------
    info : LayerInfo
        The layer's description (``engine.layer(name)``).
    value : numpy.ndarray
        Its output, or the gradient of a score with respect to it.
    """
    from ..layout.tokens import token_maps

    value = np.asarray(value)
    if info.layout == "plane":
        return value[..., None]
    grid = info.token_grid
    if grid is not None:
        return token_maps(value, grid)
    return value


def _positions(array: np.ndarray) -> tuple[int, ...]:
    """The position axes of a (N, *positions, C) array."""
    return tuple(range(1, array.ndim - 1))


def default_gradcam_layer(model_or_engine: Any) -> str:
    """Name of the layer Grad-CAM uses by default in a model (or an engine around it).

    The last convolution with a spatial output larger than 1x1 (or a 1-D convolution
    longer than 1), followed forward through the activation, normalisation and merge
    layers that directly come after it (so a ResNet gives its last block's output);
    layers inside nested backbones count (``backbone/conv2``). When that is the model's
    output (a segmentation model's per-pixel classifier, a 1x1 convolution and its
    softmax), the convolution before it is taken instead, the last layer of features, as
    in Seg-Grad-CAM. Without any convolution:
    the last layer with more than one position (a spatial map, a sequence, or tokens that
    form a patch grid).

    Raises
    ------
    LayerNotViewableError
        If the model has no spatial layer larger than 1x1.
    """
    engine = as_engine(model_or_engine)
    candidates = [info for info in engine.layers
                  if info.kind not in _SKIP_KINDS and _has_area(info)]
    if not candidates:
        raise LayerNotViewableError(
            "The model has no spatial layer (height and width larger than 1) for Grad-CAM. "
            "Grad-CAM needs a convolutional network."
        )
    convs = [i for i, info in enumerate(candidates) if info.kind == "conv"]
    attention = _last_attention_input(engine)
    if attention is not None and (not convs or attention.index > candidates[convs[-1]].index):
        return attention.name
    if not convs:
        return candidates[-1].name
    for last in reversed(convs):
        chosen = last
        while (chosen + 1 < len(candidates)
               and candidates[chosen + 1].kind in _AFTER_CONV_KINDS
               and candidates[chosen + 1].index == candidates[chosen].index + 1):
            chosen += 1
        if candidates[chosen].name != engine.output or last == convs[0]:
            return candidates[chosen].name
    return candidates[chosen].name


def _last_attention_input(engine: Any) -> Any | None:
    """The token-grid layer that feeds the model's last attention layer, or None.

    In a vision transformer that reads its class token, the patch tokens of the last
    block's output receive no gradient; the input of the last block's attention (its
    ``norm1``) is where pytorch-grad-cam's ViT example takes its CAM.
    """
    plan = engine.plan
    steps = [s for s in plan.steps if "Attention" in s.info.class_name and s.inputs]
    if not steps:
        return None
    key = steps[-1].inputs[0]
    for view in plan.views.values():
        if view.key == key and view.info.token_grid is not None:
            return view.info
    return None


def upsample_heatmap(heatmap: np.ndarray, height: int, width: int | None = None, *,
                     depth: int | None = None) -> np.ndarray:
    """Resize a 2-D heatmap to (height, width) with bilinear interpolation, a 1-D one
    (a sequence's map) to ``height`` positions with linear interpolation, or a 3-D one (a
    volume's map, (d, h, w)) to (depth, height, width) with trilinear interpolation.

    This is the step after :meth:`GradCAM.__call__` with ``upsample=False`` (like
    captum's ``LayerAttribution.interpolate``): a map at a layer's resolution laid over
    the input. Linear interpolation of non-negative values stays non-negative.

    Parameters
    ----------
    heatmap : numpy.ndarray
        Shape (h, w), (t,) for a map over time, or (d, h, w) for a volume.
    height, width : int
        The size to reach, e.g. the model input's; for a 1-D map ``height`` is the
        length and ``width`` is left out.
    depth : int, optional
        For a 3-D map, the number of slices (or frames) to reach.

    Returns
    -------
    numpy.ndarray
        float32 array (height, width), (height,) for a 1-D map, (depth, height, width)
        for a 3-D map.
    """
    from ..engine.inputs import resize

    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.ndim == 1 and width is None and depth is None:
        return resize(heat[None, :], 1, height)[0]
    if heat.ndim == 3 and width is not None and depth is not None:
        return resize(heat, height, width, depth=depth)
    if heat.ndim != 2 or width is None or depth is not None:
        raise LayerNotViewableError(
            f"upsample_heatmap needs a 2-D map (h, w) with a height and a width, a 1-D "
            f"map (t,) with a length alone, or a 3-D map (d, h, w) with a height, a width "
            f"and depth=; got shape {heat.shape}.")
    return resize(heat, height, width)


class GradCAM(GradientMethod):
    """Grad-CAM (Selvaraju et al. 2017) on any spatial layer, nested backbones included.

    The map is ``ReLU(sum_k w_k A_k)`` where ``A_k`` are the layer's feature maps and
    ``w_k`` the mean over positions of ``d score / d A_k``, computed at the layer's
    resolution. A 1-D convolution's sequence (T, C) gives a map over time (T,), and the
    tokens of a vision transformer whose patches form a grid give a map over that grid
    (see :func:`cam_values`), and a 3-D convolution's volume (D', H', W', C) a map
    (D', H', W'), its weights the gradients averaged over depth, height and width;
    upsampling to the input (:func:`upsample_heatmap`) and scaling to [0, 1] are separate
    steps that the default call applies. Unlike tf-keras-vis, the layer may sit inside
    a nested sub-model (``"backbone/conv2"``): the engine runs the flattened model, so
    the gradient tape sees it. A relative of the CAM family (:mod:`.cam`) only changes
    :meth:`channel_weights` or :meth:`layer_map`.

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
        If ``layer`` has no positions to map (a vector, or tokens without a patch grid).

    Examples
    --------
    >>> cam = GradCAM(model)                 # last conv layer
    >>> heat = cam(image)                    # (H, W) in [0, 1], top class
    >>> raw = cam(image, target=7, upsample=False)   # layer resolution, unnormalised
    >>> up = upsample_heatmap(raw, 28, 28)   # the upsampling, as its own step
    """

    def __init__(self, model_or_engine: Any, layer: str | None = None, logits: bool = True):
        super().__init__(model_or_engine, logits)
        self.layer = default_gradcam_layer(self.engine) if layer is None else layer
        info = self.engine.layer(self.layer)  # raises LayerNotFoundError
        if (info.layout not in ("image", "plane", "sequence", "volume")
                and info.token_grid is None):
            what = ("tokens that do not form a square grid of patches"
                    if info.layout == "tokens" else f"output shape {info.output_shape}")
            raise LayerNotViewableError(
                f"Grad-CAM needs a spatial layer (height x width x channels), a volume "
                f"(depth x height x width x channels), a sequence (time x channels) or the "
                f"patch tokens of a vision transformer, but "
                f"{self.layer!r} has {what}. Pick a convolutional layer, e.g. "
                f"{default_gradcam_layer(self.engine)!r}."
            )

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
            Resize the map (:func:`upsample_heatmap`) to the model's input height and
            width; False returns the layer's resolution.
        normalize : bool, optional
            Divide by the maximum so the map lies in [0, 1] (an all-zero map stays
            zero). Defaults to ``upsample``: raw values at the layer's resolution.

        Returns
        -------
        numpy.ndarray
            float32 array (H, W): the input's size if ``upsample``, else the layer's;
            (T,) for a sequence, (D, H, W) for a volume.
        """
        normalize = upsample if normalize is None else normalize
        batch = self.prepare(image)
        cam = self.attribute(batch, target)[0].astype(np.float32)
        if upsample and cam.ndim == 3:  # a volume: (d, h, w) to the input's (D, H, W)
            cam = upsample_heatmap(cam, *batch.shape[2:4], depth=batch.shape[1])
        elif upsample:
            cam = upsample_heatmap(cam, *batch.shape[1:1 + cam.ndim])
        return unit_scale(cam, lo=0.0) if normalize else cam

    @staticmethod
    def channel_weights(feature: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """Grad-CAM's weight of each feature map: the mean of its gradient over positions.

        Parameters
        ----------
        feature, grads : numpy.ndarray
            The layer's output and the score's gradient, (N, h, w, C) each, or
            (N, *positions, C) for any other layout (:func:`cam_values`).

        Returns
        -------
        numpy.ndarray
            Shape (N, C).
        """
        return grads.mean(axis=_positions(grads))

    def layer_map(self, feature: np.ndarray, grads: np.ndarray | None) -> np.ndarray:
        """The map before its ReLU: ``sum_k w_k A_k`` with :meth:`channel_weights`.

        This is the one step a method of the CAM family changes (with
        :meth:`channel_weights`, or here for an elementwise weighting); the forward and
        backward passes, the ReLU, the upsampling and the scaling stay Grad-CAM's.

        Parameters
        ----------
        feature : numpy.ndarray
            The layer's output, (N, h, w, C) (or (N, *positions, C), see
            :func:`cam_values`).
        grads : numpy.ndarray or None
            The score's gradient with respect to it, of the same shape; None for a
            method whose ``uses_gradients`` is False.

        Returns
        -------
        numpy.ndarray
            Shape (N, h, w) (or (N, *positions)).
        """
        return np.einsum("n...c,nc->n...", feature, self.channel_weights(feature, grads))

    @property
    def _info(self) -> Any:
        return self.engine.layer(self.layer)

    #: Whether :meth:`layer_map` needs the gradient (False skips the backward pass).
    uses_gradients = True

    def layer_value(self, batch: np.ndarray) -> np.ndarray:
        """The layer's output for a prepared batch, without a gradient tape.

        See :meth:`~.base.GradientMethod.value_at`: an explored image costs nothing.

        Returns
        -------
        numpy.ndarray
            Shape (N, h, w, C), or (N, h, w) for a layer without a channel axis.
        """
        return self.value_at(self.layer, batch)

    def _attribute(self, batch: np.ndarray, score: Any) -> np.ndarray:
        if self.uses_gradients:
            feature, grads = self.gradients_at(self.layer, batch, score)
            grads = cam_values(self._info, grads).astype(np.float64)
        else:
            feature, grads = self.layer_value(batch), None
        feature = cam_values(self._info, feature).astype(np.float64)
        return np.maximum(self.layer_map(feature, grads), 0.0)
