"""Faithfulness of an attribution map: the deletion and insertion curves of RISE.

Petsiuk et al. (2018, RISE) score a heatmap by what the model does when the pixels it
ranks first are changed first. *Deletion* replaces the pixels of the image, from the most
to the least important, by a *substrate* (a blurred or black image) and follows the
target class's probability: a faithful map makes it fall fast, so the area under the
curve is small. *Insertion* starts from the substrate and puts the image's pixels back in
the same order: a faithful map makes the probability rise fast, so the area is large.
:func:`faithfulness` computes both curves for one map or for several maps of one image.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...checks import whole_number
from ...engine.coerce import as_engine
from ...errors import InvalidSettingError
from ...progress import ProgressLike, reporting
from .. import autodiff
from .._common import logits_of, squashing_activation
from ..gradcam import upsample_heatmap
from ..regularizers import gaussian_blur, image_blur_sigma
from ..scores import ClassScore, RegressionTarget, is_per_pixel, resolve_score

__all__ = ["SUBSTRATES", "FaithfulnessResult", "faithfulness", "substrate_pixels"]

#: The named substrates: what removed pixels become.
SUBSTRATES = ("blur", "black", "mean")



@dataclass(frozen=True, eq=False)
class FaithfulnessResult:
    """The deletion and insertion curves of one attribution map on one image.

    Attributes
    ----------
    fractions : numpy.ndarray
        Shape (steps + 1,): the fraction of pixels changed at each point, 0 to 1.
    deletion : numpy.ndarray
        Shape (steps + 1,): the target's score with that fraction of the most important
        pixels replaced by the substrate; ``deletion[0]`` is the clean image's score,
        ``deletion[-1]`` the substrate's.
    insertion : numpy.ndarray
        Shape (steps + 1,): the target's score on the substrate with that fraction of the
        most important pixels of the image put back; ``insertion[0]`` is the substrate's
        score, ``insertion[-1]`` the clean image's.
    deletion_auc : float
        Area under the deletion curve (trapezoid rule over ``fractions``); lower is better.
    insertion_auc : float
        Area under the insertion curve; higher is better.
    target : int or callable
        The class index explained (the clean image's predicted class when none was
        given), or the score callable that was given.
    substrate : str
        The substrate's name (``"custom"`` for an array).
    probabilities : bool
        Whether the scores are softmax probabilities (else the model's logits).
    """

    fractions: np.ndarray = field(repr=False)
    deletion: np.ndarray = field(repr=False)
    insertion: np.ndarray = field(repr=False)
    deletion_auc: float
    insertion_auc: float
    target: Any
    substrate: str = "blur"
    probabilities: bool = True

    @property
    def overall(self) -> float:
        """``insertion_auc - deletion_auc``: one number, higher is better.

        The "overall" score of Group-CAM (Zhang et al. 2021); it lies in [-1, 1] for
        probabilities.
        """
        return self.insertion_auc - self.deletion_auc

    @property
    def clean_score(self) -> float:
        """The target's score on the unchanged image."""
        return float(self.deletion[0])

    @property
    def substrate_score(self) -> float:
        """The target's score on the substrate alone."""
        return float(self.deletion[-1])

    def __repr__(self) -> str:
        target = self.target if isinstance(self.target, int) else type(self.target).__name__
        kind = "probability" if self.probabilities else "logit"
        return (f"FaithfulnessResult(target={target}, {kind}, substrate={self.substrate!r}, "
                f"steps={len(self.fractions) - 1}: deletion AUC {self.deletion_auc:.3f} "
                f"(lower is better), insertion AUC {self.insertion_auc:.3f} (higher is "
                f"better), overall {self.overall:.3f})")


def substrate_pixels(pixels: np.ndarray, substrate: str | np.ndarray = "blur") -> np.ndarray:
    """The image that removed pixels become, in 0-255 pixels like ``pixels``.

    Parameters
    ----------
    pixels : numpy.ndarray
        The image's pixels at the model's input size, (H, W) or (H, W, C).
    substrate : {"blur", "black", "mean"} or numpy.ndarray
        ``"blur"``: the image under a Gaussian blur of standard deviation
        ``max(H, W) / 8`` pixels (:func:`~.regularizers.gaussian_blur`, borders
        reflected); ``"black"``: zeros, RISE's deletion substrate; ``"mean"``: every
        pixel the image's mean colour; an array of the shape of ``pixels``: that image
        (e.g. a blur of another strength).

    Notes
    -----
    RISE's insertion substrate blurs a 224-pixel image with a sigma of 5 pixels. That is
    enough for an ImageNet classifier (EfficientNet-Lite0 loses its top class on all five
    :func:`~cnnviz_widgets.zoo.samples`) but not for a 28-pixel digit, which fills its
    image: the digits CNN still gives 9 of 10 held-out digits a probability near 1 at
    the same relative strength. A sigma of an eighth of the image takes both down (the
    digits' mean probability of their class falls to about 0.2, the level of a guess
    among a few classes), so the blur scales with the image as a whole.

    Returns
    -------
    numpy.ndarray
        float32, the shape of ``pixels``.

    Raises
    ------
    InvalidSettingError
        For another name, or an array of another shape or with NaN values.
    """
    pixels = np.asarray(pixels, dtype=np.float32)
    if isinstance(substrate, str):
        if substrate == "black":
            return np.zeros_like(pixels)
        if substrate == "mean":
            mean = pixels.reshape(-1, *pixels.shape[2:]).mean(axis=0)
            return np.broadcast_to(mean, pixels.shape).astype(np.float32)
        if substrate == "blur":
            sigma = image_blur_sigma(*pixels.shape[:2])
            stack = pixels.reshape(1, *pixels.shape[:2], -1)
            return gaussian_blur(stack, sigma).reshape(pixels.shape)
        raise InvalidSettingError(
            f"Unknown substrate {substrate!r}: use one of {', '.join(SUBSTRATES)} or an array "
            "of 0-255 pixels the size of the model's input.")
    custom = np.asarray(substrate, dtype=np.float32)
    if custom.shape != pixels.shape:
        raise InvalidSettingError(
            f"A substrate array must have the shape of the image's pixels at the model's input "
            f"size, {pixels.shape}; got {custom.shape}.")
    if not np.all(np.isfinite(custom)):
        raise InvalidSettingError("The substrate array holds NaN or infinite values.")
    return custom


def _pixel_ranks(heatmap: Any, height: int, width: int, name: str) -> np.ndarray:
    """Rank of every input pixel, 0 for the most important, as an (H, W) int array.

    Ties keep the row-major order of the pixels (a stable sort of the negated map), so the
    top-left one of equal pixels comes first.
    """
    label = f"The heatmap {name!r}" if name else "The heatmap"
    heat = np.asarray(heatmap)
    if heat.ndim != 2:
        raise InvalidSettingError(
            f"{label} must be 2-D (height, width); got shape {heat.shape}. Reduce colour "
            "channels first (e.g. the maximum over the last axis).")
    if heat.size == 0:
        raise InvalidSettingError(f"{label} is empty.")
    heat = heat.astype(np.float64)
    if not np.all(np.isfinite(heat)):
        raise InvalidSettingError(f"{label} holds NaN or infinite values.")
    if heat.shape != (height, width):
        heat = upsample_heatmap(heat, height, width).astype(np.float64)
    order = np.argsort(-heat.ravel(), kind="stable")
    ranks = np.empty(order.size, dtype=np.int64)
    ranks[order] = np.arange(order.size)
    return ranks.reshape(height, width)


class _Scorer:
    """Runs pixel batches through the engine and returns the model's outputs, as the
    target scores them: (N, values), or (N, H, W, classes) for a per-pixel output.

    With ``probabilities``, a model without a final softmax/sigmoid gets a softmax over
    its classes (the last axis), except for a :class:`~..scores.RegressionTarget` or an
    output of one value, whose softmax would be the constant 1.
    """

    def __init__(self, engine: Any, probabilities: bool, target: Any = None):
        self.engine = engine
        self.probabilities = probabilities
        self.softmax = (probabilities and squashing_activation(engine) is None
                        and not isinstance(target, RegressionTarget))

    def outputs(self, pixels: np.ndarray) -> np.ndarray:
        batch = np.asarray(self.engine.preprocess(pixels), dtype=np.float32)
        with logits_of(self.engine, not self.probabilities), autodiff.no_gradient():
            output, _ = self.engine.forward(batch)
        values = autodiff.to_numpy(output).astype(np.float64)
        if not is_per_pixel(values):
            values = values.reshape(len(pixels), -1)
        if self.softmax and values.shape[-1] > 1:
            shifted = np.exp(values - values.max(axis=-1, keepdims=True))
            values = shifted / shifted.sum(axis=-1, keepdims=True)
        return values


def named_maps(heatmap: Any) -> tuple[bool, dict[Any, Any]]:
    """``(True, {name: map})`` for a mapping of maps, ``(False, {"": map})`` for one map.

    The metrics take either; a result keeps the shape of what was given.
    """
    named = isinstance(heatmap, Mapping)
    maps = dict(heatmap) if named else {"": heatmap}
    if not maps:
        raise InvalidSettingError("heatmap is an empty mapping: give at least one map.")
    return named, maps


def _chunks(jobs: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(jobs), size):
        yield jobs[start:start + size]


def area_under(values: np.ndarray, positions: np.ndarray) -> float:
    """The area under a curve by the trapezoid rule (``numpy.trapezoid`` on every NumPy)."""
    values = np.asarray(values, dtype=np.float64)
    positions = np.asarray(positions, dtype=np.float64)
    return float(np.sum((values[1:] + values[:-1]) * np.diff(positions)) / 2.0)


def faithfulness(
    model_or_engine: Any,
    image: Any,
    heatmap: Any,
    target: Any = None,
    *,
    steps: int = 20,
    batch_size: int = 16,
    substrate: str | np.ndarray = "blur",
    probabilities: bool = True,
    progress: ProgressLike = None,
) -> FaithfulnessResult | dict[str, FaithfulnessResult]:
    """Deletion and insertion curves (RISE) of an attribution map, or of several.

    The map orders the input pixels from the most to the least important (a smaller map,
    e.g. Grad-CAM's at its layer's resolution, is first resized to the input with
    :func:`~.gradcam.upsample_heatmap`; equal values keep the row-major order of their
    pixels, top-left first). At point ``k`` of ``steps + 1``, the first
    ``floor(k * H * W / steps)`` pixels (all channels) are changed: *deletion* replaces
    them by the substrate, *insertion* puts them into the substrate. The images are made
    in 0-255 pixels (:meth:`~cnnviz_widgets.ActivationEngine.pixels`), then prepared by
    the engine's preprocessing and run through the model in batches of ``batch_size``.
    The areas under the curves are the trapezoid rule over the fraction of pixels, as in
    RISE's ``auc``.

    Unlike RISE, which deletes into black and inserts into a blurred image, one substrate
    serves both curves, a blurred copy of the image by default: a black image is far
    from anything the model saw and its edges are features of their own (the out-of-
    distribution problem that ROAD, Rong et al. 2022, addresses), and with one substrate
    both curves join the same two scores, the clean image's and the substrate's.
    ``substrate="black"`` gives RISE's deletion.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The classifier, or an engine around it (its preprocessing is used).
    image : path, bytes, PIL image or numpy array
        The image, prepared by the engine.
    heatmap : numpy.ndarray or mapping of str to numpy.ndarray
        A 2-D map (h, w); higher means more important. A mapping (``{"Grad-CAM": h1,
        "Saliency": h2}``) compares several maps of the same image: the clean image and
        the substrate run once for all of them.
    target : None, int or callable, optional
        ``None``: the clean image's predicted class; an int: a class index; a target
        (``ClassTarget(3)``, ``SegmentationTarget(1, mask)``, ``RegressionTarget(0)``) or
        a callable score applied to the batch of probabilities (or logits). Every changed
        image is scored with the target of the clean image: a ``SegmentationTarget``
        without a mask keeps the clean image's predicted region.
    steps : int, default 20
        Points of each curve after the first (at least 1, at most the number of
        pixels). A call runs ``2 + 2 * (steps - 1) * maps`` images: on two CPU cores one
        map takes 3 to 5 s with EfficientNet-Lite0 at 224 pixels, about 20 s with VGG16.
    batch_size : int, default 16
        Images per forward pass; the curves do not depend on it.
    substrate : {"blur", "black", "mean"} or numpy.ndarray, default "blur"
        What removed pixels become (see :func:`substrate_pixels`).
    probabilities : bool, default True
        Score the softmax probability of the target (RISE does), applying a softmax to a
        model that outputs logits; False scores the logit (a final softmax or sigmoid is
        skipped, as for the gradient methods).
    progress : callback, function, widget or list, optional
        Told after each batch; steps count images run through the model.

    Returns
    -------
    FaithfulnessResult or dict of str to FaithfulnessResult
        One result for one map; for a mapping, a dict with the same keys in the same order.

    Raises
    ------
    InvalidSettingError
        If a map is not 2-D, is empty or holds NaN; the mapping is empty; ``steps`` or
        ``batch_size`` is not an integer in range; or the substrate is unknown.
    IndexError
        If ``target`` is not a class of the model.

    Examples
    --------
    >>> heat = GradCAM(model)(image)
    >>> result = faithfulness(model, image, heat)
    >>> result.deletion_auc, result.insertion_auc
    >>> faithfulness(model, image, {"Grad-CAM": heat, "Saliency": Saliency(model)(image)})
    """
    engine = as_engine(model_or_engine)
    named, maps = named_maps(heatmap)
    steps = whole_number(steps, "steps")
    batch_size = whole_number(batch_size, "batch_size")

    clean = np.asarray(engine.pixels(image), dtype=np.float32)
    height, width = clean.shape[:2]
    if steps > height * width:
        raise InvalidSettingError(
            f"steps must be at most the number of input pixels, {height * width}; got {steps}.")
    ranks = {name: _pixel_ranks(heat, height, width, str(name)) for name, heat in maps.items()}
    background = substrate_pixels(clean, substrate)
    counts = np.arange(steps + 1) * (height * width) // steps
    channel_axes = (slice(None), slice(None)) + (None,) * (clean.ndim - 2)

    def perturbed(job: tuple[Any, str, int]) -> np.ndarray:
        name, curve, k = job
        if curve == "clean":
            return clean
        if curve == "substrate":
            return background
        changed = (ranks[name] < counts[k])[channel_axes]
        if curve == "deletion":
            return np.where(changed, background, clean)
        return np.where(changed, clean, background)

    # (map name, curve, point): the clean image and the substrate, the ends of every
    # curve, run once for all maps, then the inner points of each curve
    jobs = [(None, "clean", 0), (None, "substrate", 0)]
    jobs += [(name, curve, k) for name in maps for curve in ("deletion", "insertion")
             for k in range(1, steps)]
    scorer = _Scorer(engine, probabilities, target)
    outputs = []
    with reporting(progress, len(jobs), "images") as report:
        for chunk in _chunks(jobs, batch_size):
            outputs.append(scorer.outputs(np.stack([perturbed(job) for job in chunk])))
            report(sum(len(out) for out in outputs), len(jobs), math.nan)
    output = np.concatenate(outputs)
    # fixed by the clean image: its class, or its predicted region for a segmentation
    score = resolve_score(target, output[:1])
    values = np.asarray(score(output), dtype=np.float64)

    clean_score, substrate_score = values[:2]
    curves = {name: {"deletion": np.empty(steps + 1), "insertion": np.empty(steps + 1)}
              for name in maps}
    for pair in curves.values():
        pair["deletion"][[0, -1]] = clean_score, substrate_score
        pair["insertion"][[0, -1]] = substrate_score, clean_score
    for (name, curve, k), value in zip(jobs[2:], values[2:], strict=True):
        curves[name][curve][k] = value

    fractions = counts / (height * width)
    target_out = score.index if isinstance(score, ClassScore) else score
    name_of = substrate if isinstance(substrate, str) else "custom"
    results = {}
    for name, pair in curves.items():
        for array in (fractions, pair["deletion"], pair["insertion"]):
            array.flags.writeable = False
        results[name] = FaithfulnessResult(
            fractions=fractions, deletion=pair["deletion"], insertion=pair["insertion"],
            deletion_auc=float(area_under(pair["deletion"], fractions)),
            insertion_auc=float(area_under(pair["insertion"], fractions)),
            target=target_out, substrate=name_of, probabilities=bool(probabilities))
    return results if named else results[""]
