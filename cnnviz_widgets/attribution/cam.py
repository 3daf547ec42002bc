"""The CAM family: Grad-CAM's relatives, each only a different map from (A, dA).

Every class here is a :class:`~.gradcam.GradCAM` with one step changed, as in
pytorch-grad-cam's ``base_cam.py``: the forward pass, the gradient, the ReLU, the
upsampling and the scaling to [0, 1] are Grad-CAM's, so every method has its call
shape, ``Method(model_or_engine, layer=None)(image, target=None)``, its defaults and
its errors. ``A`` is the layer's output (N, h, w, C) and ``g`` the gradient of the
target score with respect to it; a sequence (N, T, C) or a vision transformer's patch
grid works the same way, its positions in place of (h, w) (:func:`~.gradcam.cam_values`).

:class:`ScoreCAM` and :class:`AblationCAM` need no gradient: they weight each channel
by how the target score responds when the channel alone masks the input, or when the
channel alone is removed, in batched forward passes (:class:`PerturbationCAM`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..checks import whole_number
from ..colour.scale import unit_scale
from ..errors import InvalidSettingError
from ..progress import ProgressLike, reporting
from . import autodiff
from ._common import logits_of
from .gradcam import GradCAM, _positions, cam_values
from .scores import resolve_score

__all__ = [
    "AblationCAM",
    "EigenCAM",
    "GradCAMPlusPlus",
    "HiResCAM",
    "LayerCAM",
    "PerturbationCAM",
    "ScoreCAM",
    "XGradCAM",
]


class GradCAMPlusPlus(GradCAM):
    """Grad-CAM++ (Chattopadhyay et al. 2018): positive gradients weighted per position.

    ``alpha = g^2 / (2 g^2 + sum_ij(A) g^3)`` (0 where the denominator is 0) and
    ``w_k = sum_ij(alpha * ReLU(g))``; the map is ``ReLU(sum_k w_k A_k)``, the paper's
    equations as pytorch-grad-cam computes them.

    Parameters
    ----------
    model_or_engine, layer, logits
        As :class:`~.gradcam.GradCAM`.
    normalize_alphas : bool, default False
        Divide the alphas of each channel by their spatial sum (a zero sum is left as
        it is) before weighting, as tf-keras-vis's ``GradcamPlusPlus`` does; its maps
        then equal these up to one factor per image (its ``exp(score)``). On a layer
        whose gradient varies across positions this changes the channel weights, and
        the map, considerably.

    Errors are :class:`~.gradcam.GradCAM`'s.
    """

    def __init__(self, model_or_engine: Any, layer: str | None = None, logits: bool = True,
                 normalize_alphas: bool = False):
        super().__init__(model_or_engine, layer, logits)
        self.normalize_alphas = bool(normalize_alphas)

    def channel_weights(self, feature: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """Grad-CAM++'s weight of each feature map, (N, C)."""
        positions = _positions(grads)
        g2 = grads ** 2
        denom = 2.0 * g2 + feature.sum(axis=positions, keepdims=True) * g2 * grads
        alpha = np.divide(g2, denom, out=np.zeros_like(g2), where=denom != 0)
        if self.normalize_alphas:
            total = alpha.sum(axis=positions, keepdims=True)
            alpha = alpha / np.where(total == 0, 1.0, total)
        return (alpha * np.maximum(grads, 0.0)).sum(axis=positions)


class XGradCAM(GradCAM):
    """XGrad-CAM (Fu et al. 2020): gradients weighted by the normalised activations.

    ``w_k = sum_ij(g A) / (sum_ij(A) + eps)``; the map is ``ReLU(sum_k w_k A_k)``.
    Parameters, call and errors are :class:`~.gradcam.GradCAM`'s.
    """

    eps = 1e-7

    @classmethod
    def channel_weights(cls, feature: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """XGrad-CAM's weight of each feature map, (N, C)."""
        positions = _positions(feature)
        return (grads * feature).sum(axis=positions) / (feature.sum(axis=positions) + cls.eps)


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
        n, *positions, c = feature.shape
        maps = np.empty((n, *positions))
        for i, acts in enumerate(feature):
            flat = acts.reshape(-1, c)
            centred = flat - flat.mean(axis=0)
            _, _, vt = np.linalg.svd(centred, full_matrices=False)
            projection = centred @ vt[0]
            if projection @ flat.sum(axis=1) < 0:
                projection = -projection
            maps[i] = projection.reshape(positions)
        return maps


def _corner_aligned(source: int, target: int) -> np.ndarray:
    """(target, source) matrix of linear interpolation with the end points aligned.

    Output position ``i`` reads input position ``i * (source - 1) / (target - 1)``, the
    grid of scipy's ``zoom(order=1)`` (tf-keras-vis) and of torch's
    ``UpsamplingBilinear2d`` (pytorch-grad-cam), both of which upsample Score-CAM's masks.
    """
    if source == 1:
        return np.ones((target, 1))
    position = np.linspace(0.0, source - 1.0, target)
    low = np.minimum(np.floor(position).astype(int), source - 2)
    frac = position - low
    rows = np.arange(target)
    matrix = np.zeros((target, source))
    matrix[rows, low] = 1.0 - frac
    matrix[rows, low + 1] += frac
    return matrix


class PerturbationCAM(GradCAM):
    """A CAM whose channel weights come from forward passes alone, run in batches.

    The base of :class:`ScoreCAM` and :class:`AblationCAM`. For each image the layer's
    activation ``A`` comes from :meth:`~.gradcam.GradCAM.layer_value` (the engine's cache
    for an explored image), the target score ``y`` from the layers after the layer
    (``target=None`` is the class the model predicts for the image itself), and each
    channel's score ``y_k`` from one perturbed forward pass (:meth:`batch_scores`),
    ``batch_size`` channels at a time; :meth:`weights_from` turns the scores into
    weights and the map is ``ReLU(sum_k w_k A_k)``, at the layer's resolution. The
    upsampling, the scaling and the errors are :class:`~.gradcam.GradCAM`'s.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine already built around it.
    layer : str, optional
        The layer to explain; by default the last convolution
        (:func:`~.gradcam.default_gradcam_layer`).
    logits : bool, default True
        Score the logits (the model's final softmax/sigmoid removed while the method
        runs) rather than the model's output as it is.
    batch_size : int, default 32
        Perturbed inputs per forward pass; the result does not depend on it.
    progress : callback, function, widget or list, optional
        Told after each forward pass how many channels of how many are done (see
        :func:`cnnviz_widgets.progress.as_callback`); a call may pass its own.

    Raises
    ------
    InvalidSettingError
        If ``batch_size`` is not a positive integer.
    """

    uses_gradients = False

    def __init__(self, model_or_engine: Any, layer: str | None = None, logits: bool = True,
                 batch_size: int = 32, progress: ProgressLike = None):
        super().__init__(model_or_engine, layer, logits)
        self.batch_size = whole_number(
            batch_size, "batch_size", hint="It is the number of forward passes run at once.")
        self.progress = progress

    def channels_to_score(self, feature: np.ndarray) -> np.ndarray:
        """Indices of the channels that get a forward pass; the others weigh 0.

        Parameters
        ----------
        feature : numpy.ndarray
            The layer's output for one image, (h, w, C) (or (*positions, C), see
            :func:`~.gradcam.cam_values`).
        """
        return np.arange(feature.shape[-1])

    def batch_scores(self, batch: np.ndarray, feature: np.ndarray, score: Any,
                     channels: np.ndarray) -> np.ndarray:
        """The target score with each of ``channels`` perturbed, in one forward pass.

        Parameters
        ----------
        batch : numpy.ndarray
            The prepared image, a batch of one (1, H, W, ...).
        feature : numpy.ndarray
            The layer's output for it, as the layer gives it: (1, h, w, C) for a
            convolution.
        score : callable
            The target score, mapping a batch of model outputs to shape (batch,).
        channels : numpy.ndarray
            The channels, one perturbed input each.

        Returns
        -------
        numpy.ndarray
            Shape (len(channels),).
        """
        raise NotImplementedError

    def weights_from(self, scores: np.ndarray, base: float) -> np.ndarray:
        """The channel weights from the perturbed scores and the image's own score."""
        raise NotImplementedError

    def __call__(self, image: Any, target: Any = None, upsample: bool = True,
                 normalize: bool | None = None, progress: ProgressLike = None) -> np.ndarray:
        """The map of ``image``, as :meth:`GradCAM.__call__ <.gradcam.GradCAM.__call__>`.

        ``progress`` (optional) replaces the one given at construction for this call.
        """
        if progress is None:
            return super().__call__(image, target, upsample, normalize)
        built, self.progress = self.progress, progress
        try:
            return super().__call__(image, target, upsample, normalize)
        finally:
            self.progress = built

    def attribute(self, batch: np.ndarray, target: Any = None,
                  progress: ProgressLike = None) -> np.ndarray:
        """Maps of every image of a prepared batch, one image after the other.

        Parameters
        ----------
        batch : numpy.ndarray
            Prepared model inputs, batch first.
        target : None, int or callable, optional
            ``None``: each image's own predicted class; an int: that class for every
            image; or a score callable mapping a batch of model outputs to (batch,).
        progress : callback, function, widget or list, optional
            Replaces the one given at construction for this call.

        Returns
        -------
        numpy.ndarray
            float64 array (N, h, w) at the layer's resolution.
        """
        progress = self.progress if progress is None else progress
        batch = np.asarray(batch, dtype=np.float32)
        with logits_of(self.engine, self.logits), autodiff.no_gradient():
            features = [np.asarray(self.layer_value(batch[i:i + 1]), dtype=np.float32)
                        for i in range(len(batch))]
            chosen = [self.channels_to_score(cam_values(self._info, f)[0]) for f in features]
            total = sum(len(c) for c in chosen)
            with reporting(progress, total, "channels") as report:
                done = 0
                maps = []
                for i, (feature, channels) in enumerate(zip(features, chosen, strict=True)):
                    maps.append(self._image_map(batch[i:i + 1], feature, channels, target,
                                                report, done, total))
                    done += len(channels)
        return np.stack(maps)

    def head_output(self, batch: Any, feature: Any) -> Any:
        """The model's output from the layer's value on, as a backend tensor.

        Only the layers after :attr:`layer` run; ``batch`` (the prepared inputs, as
        many as ``feature`` has rows) serves the layers that also read the input.
        """
        output, _ = self.engine.forward(autodiff.to_tensor(batch),
                                        given={self.layer: autodiff.to_tensor(feature)})
        return output

    def _image_map(self, one: np.ndarray, feature: np.ndarray, channels: np.ndarray,
                   target: Any, report: Any, done: int, total: int) -> np.ndarray:
        output = self.head_output(one, feature)
        score = resolve_score(target, output)
        base = float(autodiff.to_numpy(score(output)).reshape(-1)[0])
        acts = cam_values(self._info, feature)
        scores = np.empty(len(channels))
        for start in range(0, len(channels), self.batch_size):
            part = channels[start:start + self.batch_size]
            values = np.asarray(self.batch_scores(one, feature, score, part), dtype=np.float64)
            scores[start:start + len(part)] = values.reshape(-1)
            report(done + start + len(part), total, float("nan"))
        weights = np.zeros(acts.shape[-1])
        weights[channels] = self.weights_from(scores, base)
        return np.maximum(np.einsum("...c,c->...", acts[0].astype(np.float64), weights), 0.0)


class ScoreCAM(PerturbationCAM):
    """Score-CAM (Wang et al. 2020): each channel weighted by the score of the input it masks.

    Channel ``k`` of the layer, upsampled to the input's height and width (bilinearly,
    end points aligned, as tf-keras-vis and pytorch-grad-cam do) and min-max scaled to
    [0, 1], is a mask ``M_k``; the masked input ``x * M_k`` runs through the whole
    model, ``batch_size`` masks at a time, and ``w_k`` is the target score of its
    output. The map is ``ReLU(sum_k w_k A_k)``. ``x`` is the *prepared* input, the
    array the model receives (tf-keras-vis masks its ``seed_input``, the model input;
    pytorch-grad-cam its ``input_tensor``): a masked pixel becomes 0 in the model's
    own input space, which is the mean colour for mean-centred inputs.

    The score follows tf-keras-vis's ``Scorecam``, which applies a softmax over the
    classes to each masked output: with the default ``logits=False`` the score of a
    classifier ending in a softmax is the class *probability*, as in the paper and as
    tf-keras-vis gives it with ``ReplaceToLinear`` (its softmax of the logits is the
    model's own softmax). ``logits=True`` scores the logits instead. Unlike
    pytorch-grad-cam, the scores of the channels are not passed through a softmax over
    the channels, and, as in both, the paper's baseline score of a blank input is not
    subtracted. For a model whose output is not a softmax, the score is its output as
    it is (tf-keras-vis would still apply its softmax).

    Parameters
    ----------
    model_or_engine, layer, batch_size, progress
        As :class:`PerturbationCAM`.
    logits : bool, default False
        Score the logits instead of the model's output (the probabilities).
    max_channels : int, optional
        Only the channels whose activation has the largest spatial standard deviation,
        this many, get a forward pass; the others weigh 0 (tf-keras-vis's ``max_N``,
        after Faster Score-CAM). None, or as many as the layer has or more: every
        channel, one forward pass each.

    Raises
    ------
    InvalidSettingError
        If ``batch_size`` or ``max_channels`` is not a positive integer.

    Examples
    --------
    >>> heat = ScoreCAM(model)(image)            # (H, W) in [0, 1], top class
    >>> quick = ScoreCAM(model, max_channels=64, batch_size=64)(image, target=3)
    """

    def __init__(self, model_or_engine: Any, layer: str | None = None, logits: bool = False,
                 batch_size: int = 32, max_channels: int | None = None,
                 progress: ProgressLike = None):
        super().__init__(model_or_engine, layer, logits, batch_size, progress)
        available = self._info.channels
        if max_channels is not None:
            max_channels = whole_number(max_channels, "max_channels",
                                        hint="Use None to score every channel.")
            if available is not None and max_channels >= available:
                max_channels = None  # as many as the layer has: every channel
        self.max_channels = max_channels

    def channels_to_score(self, feature: np.ndarray) -> np.ndarray:
        """Every channel, or the ``max_channels`` with the largest spatial spread."""
        if self.max_channels is None:
            return np.arange(feature.shape[-1])
        spread = feature.astype(np.float64).std(axis=tuple(range(feature.ndim - 1)))
        return np.argsort(-spread, kind="stable")[:self.max_channels]

    def masks(self, feature: np.ndarray, channels: np.ndarray, *size: int) -> np.ndarray:
        """Score-CAM's masks of ``channels``: upsampled, min-max scaled, (len, H, W).

        Parameters
        ----------
        feature : numpy.ndarray
            The layer's output for one image, (h, w, C); a sequence's (t, C) or a
            volume's (d, h, w, C).
        channels : numpy.ndarray
            Channel indices.
        *size : int
            The input's size, one number per axis of positions: height and width; a
            sequence's length (the masks are then (len, T)); a volume's depth, height and
            width (the masks are then (len, D, H, W)).
        """
        if feature.ndim - 1 != len(size):
            raise InvalidSettingError(
                f"Score-CAM masks of a layer output of shape {feature.shape} need "
                f"{feature.ndim - 1} input sizes, not {size}.")
        upsampled = feature[..., channels].astype(np.float64)
        for axis, target in enumerate(size):  # one end-point-aligned interpolation per axis
            matrix = _corner_aligned(upsampled.shape[axis], target)
            upsampled = np.moveaxis(np.tensordot(matrix, upsampled, axes=([1], [axis])), 0, axis)
        upsampled = np.moveaxis(upsampled, -1, 0)
        return unit_scale(upsampled, axis=tuple(range(1, upsampled.ndim)))

    def batch_scores(self, batch: np.ndarray, feature: np.ndarray, score: Any,
                     channels: np.ndarray) -> np.ndarray:
        acts = cam_values(self._info, feature)[0]
        size = batch.shape[1:acts.ndim]  # the input's positions, as many as the layer's
        masks = self.masks(acts, channels, *size)
        masks = masks.reshape(masks.shape + (1,) * (batch.ndim - 1 - len(size)))
        output, _ = self.engine.forward(autodiff.to_tensor(batch * masks))
        return autodiff.to_numpy(score(output))

    def weights_from(self, scores: np.ndarray, base: float) -> np.ndarray:
        """The scores of the masked inputs themselves."""
        return scores


class AblationCAM(PerturbationCAM):
    """Ablation-CAM (Desai & Ramaswamy 2020): each channel weighted by the score lost without it.

    ``w_k = (y - y_k) / y``, where ``y`` is the target score and ``y_k`` the score with
    channel ``k`` of the layer set to zero; the map is ``ReLU(sum_k w_k A_k)``. Only the
    layers after the layer run for the ablated copies, ``batch_size`` channels at a
    time, as in pytorch-grad-cam's ``ablation_cam.py`` (which writes a large negative
    value instead of zero when the layer's minimum is not zero; here the channel is
    zeroed, as in the paper). With the default ``logits=True`` the score is the class
    logit, as pytorch-grad-cam computes it on a torchvision classifier. When ``y`` is 0
    the relative drop is undefined and the map is zero.

    Parameters and errors are :class:`PerturbationCAM`'s.

    Examples
    --------
    >>> heat = AblationCAM(model, batch_size=64)(image)   # (H, W) in [0, 1]
    """

    def batch_scores(self, batch: np.ndarray, feature: np.ndarray, score: Any,
                     channels: np.ndarray) -> np.ndarray:
        count = len(channels)
        ablated = np.repeat(feature, count, axis=0)
        if self._info.layout == "plane":  # one map without a channel axis
            ablated[...] = 0.0
        else:
            ablated[np.arange(count), ..., channels] = 0.0
        output = self.head_output(np.repeat(batch, count, axis=0), ablated)
        return autodiff.to_numpy(score(output))

    def weights_from(self, scores: np.ndarray, base: float) -> np.ndarray:
        """The relative drops ``(y - y_k) / y``, zero when ``y`` is 0."""
        if base == 0:
            return np.zeros_like(scores)
        return (base - scores) / base
