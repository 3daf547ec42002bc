"""ROAD: remove and debias (Rong et al., ICML 2022).

Deleting pixels into a blur or black leaves the shape of what was deleted, and the model
reads that shape: the deletion curve then measures the mask as much as the map. ROAD
fills the removed pixels by *noisy linear imputation*: each removed pixel becomes the
weighted mean of its eight neighbours (1/6 for the four sides, 1/12 for the corners,
solved jointly for every removed pixel, so a hole is filled smoothly from its border),
plus a little Gaussian noise. The imputed image tells no more about the removed pixels
than their surroundings do.

Two orders are scored at several fractions of removed pixels: *MoRF* removes the most
relevant pixels first (a faithful map makes the class's probability fall: lower is
better), *LeRF* the least relevant first (the probability stays: higher is better).
:func:`road` follows pytorch-grad-cam's ``ROADCombined``: the percentiles 10, 20, ..., 90
and the combined score ``(mean LeRF - mean MoRF) / 2`` (higher is better).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...engine.coerce import as_engine
from ...errors import InvalidSettingError
from ...progress import ProgressLike, reporting
from ..scores import ClassScore, resolve_score
from .faithfulness import _chunks, _pixel_ranks, _Scorer, named_maps

__all__ = ["RoadResult", "impute", "road"]

#: The neighbours of a pixel and their weights in the imputation (Rong et al. 2022).
NEIGHBOURS = (((0, 1), 1 / 6), ((0, -1), 1 / 6), ((1, 0), 1 / 6), ((-1, 0), 1 / 6),
              ((1, 1), 1 / 12), ((1, -1), 1 / 12), ((-1, 1), 1 / 12), ((-1, -1), 1 / 12))


def _shifted(values: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``out[y, x] = values[y + dy, x + dx]``, zero outside the image."""
    out = np.zeros_like(values)
    h, w = values.shape[:2]
    out[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)] = \
        values[max(0, dy):h - max(0, -dy), max(0, dx):w - max(0, -dx)]
    return out


def impute(pixels: Any, removed: Any, *, noise: float = 0.01 * 255,
           rng: np.random.Generator | None = None, tolerance: float = 1e-6,
           max_iterations: int = 2000) -> np.ndarray:
    """Noisy linear imputation of the ``removed`` pixels of an image.

    Every removed pixel ``i`` satisfies ``x_i = sum_j w_j x_j / sum_j w_j`` over its
    neighbours ``j`` inside the image (:data:`NEIGHBOURS`), kept pixels being fixed: a
    sparse linear system (the one pytorch-grad-cam's ``NoisyLinearImputer`` builds),
    solved here by conjugate gradients on the symmetric positive-definite form, without
    building the matrix. Then Gaussian noise of standard deviation ``noise`` is added to
    the removed pixels. A group of removed pixels that touches no kept pixel takes the
    mean of the kept ones.

    Parameters
    ----------
    pixels : numpy.ndarray
        (H, W) or (H, W, C) image, e.g. 0-255 pixels.
    removed : numpy.ndarray
        (H, W) booleans: the pixels to fill.
    noise : float, default 2.55
        Standard deviation of the noise in the image's units (ROAD's 0.01 of a [0, 1]
        image, in 0-255 pixels); 0 for the plain linear imputation.
    rng : numpy.random.Generator, optional
        Source of the noise (default: seeded with 0).
    tolerance : float
        Relative residual at which the solver stops.
    max_iterations : int
        Bound on the solver's iterations.

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``pixels``; kept pixels are unchanged.
    """
    image = np.asarray(pixels, dtype=np.float64)
    mask = np.asarray(removed, dtype=bool)
    if mask.shape != image.shape[:2]:
        raise InvalidSettingError(
            f"The mask must be (H, W) = {image.shape[:2]}; got {mask.shape}.")
    flat = image.reshape(*image.shape[:2], -1)
    if not mask.any():
        return image.copy()
    kept = ~mask
    fill = flat[kept].mean(axis=0) if kept.any() else np.zeros(flat.shape[2])
    weights = np.zeros(mask.shape)
    for (dy, dx), w in NEIGHBOURS:  # total weight of the neighbours inside the image
        weights += w * _shifted(np.ones(mask.shape), dy, dx)
    known = np.where(kept[..., None], flat, 0.0)
    # (D - W_mm) x = W_mk known: D the neighbour weights, W the neighbour graph
    rhs = np.zeros_like(flat)
    for (dy, dx), w in NEIGHBOURS:
        rhs += w * _shifted(known, dy, dx)
    rhs[kept] = 0.0
    inside = mask[..., None]

    def apply(x: np.ndarray) -> np.ndarray:
        x = np.where(inside, x, 0.0)
        out = weights[..., None] * x
        for (dy, dx), w in NEIGHBOURS:
            out -= w * _shifted(x, dy, dx)
        return np.where(inside, out, 0.0)

    x = np.where(inside, fill, 0.0)
    r = rhs - apply(x)
    p = r.copy()
    rr = np.einsum("ijc,ijc->c", r, r)
    stop = (tolerance ** 2) * np.maximum(np.einsum("ijc,ijc->c", rhs, rhs), 1e-30)
    for _ in range(max_iterations):
        if np.all(rr <= stop):
            break
        ap = apply(p)
        pap = np.einsum("ijc,ijc->c", p, ap)
        alpha = np.divide(rr, pap, out=np.zeros_like(rr), where=pap > 0)
        x += alpha * p
        r -= alpha * ap
        rr_new = np.einsum("ijc,ijc->c", r, r)
        beta = np.divide(rr_new, rr, out=np.zeros_like(rr), where=rr > 0)
        p = r + beta * p
        rr = rr_new
    out = np.where(inside, x, flat)
    if noise:
        rng = np.random.default_rng(0) if rng is None else rng
        out = out + np.where(inside, rng.normal(0.0, noise, out.shape), 0.0)
    return out.reshape(image.shape)


@dataclass(frozen=True, eq=False)
class RoadResult:
    """The ROAD curves of one attribution map on one image.

    Attributes
    ----------
    percentiles : numpy.ndarray
        The percentages of pixels removed (10, 20, ..., 90 by default).
    morf : numpy.ndarray
        The target's score with that percentage of the *most* relevant pixels imputed;
        lower is better.
    lerf : numpy.ndarray
        The target's score with that percentage of the *least* relevant pixels imputed;
        higher is better.
    clean_score : float
        The target's score on the unchanged image.
    target : int or callable
        The class explained.
    """

    percentiles: np.ndarray = field(repr=False)
    morf: np.ndarray = field(repr=False)
    lerf: np.ndarray = field(repr=False)
    clean_score: float
    target: Any

    @property
    def morf_mean(self) -> float:
        """Mean of :attr:`morf` over the percentiles; lower is better."""
        return float(np.mean(self.morf))

    @property
    def lerf_mean(self) -> float:
        """Mean of :attr:`lerf` over the percentiles; higher is better."""
        return float(np.mean(self.lerf))

    @property
    def combined(self) -> float:
        """``(lerf_mean - morf_mean) / 2`` (pytorch-grad-cam's ``ROADCombined``); higher
        is better, in [-0.5, 0.5] for probabilities."""
        return (self.lerf_mean - self.morf_mean) / 2.0

    def __repr__(self) -> str:
        return (f"RoadResult(MoRF mean {self.morf_mean:.3f} (lower is better), LeRF mean "
                f"{self.lerf_mean:.3f} (higher is better), combined {self.combined:.3f} "
                "(higher is better))")


def road(
    model_or_engine: Any,
    image: Any,
    heatmap: Any,
    target: Any = None,
    *,
    percentiles: Sequence[float] = (10, 20, 30, 40, 50, 60, 70, 80, 90),
    noise: float = 0.01 * 255,
    seed: int = 0,
    batch_size: int = 16,
    probabilities: bool = True,
    progress: ProgressLike = None,
) -> RoadResult | dict[str, RoadResult]:
    """ROAD (Rong et al. 2022) of an attribution map, or of several maps of one image.

    For each percentile ``p``, the ``p`` % of pixels the map ranks highest (MoRF) or
    lowest (LeRF) are removed and filled by :func:`impute`; the images run through the
    model in batches, with the clean image once for all maps. Pixels are ranked as in
    :func:`~cnnviz_widgets.attribution.faithfulness` (a smaller map is resized to the
    input; ties keep the row-major order).

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The classifier, or an engine around it.
    image : path, bytes, PIL image or numpy array
        The image.
    heatmap : numpy.ndarray or mapping of str to numpy.ndarray
        A 2-D map, or ``{name: map}`` for several.
    target : None, int or callable, optional
        ``None``: the clean image's predicted class.
    percentiles : sequence of float
        Percentages of pixels removed, each in (0, 100).
    noise : float
        Standard deviation of the imputation's noise in 0-255 pixels.
    seed : int
        Seed of the noise (the same noise for every map).
    batch_size : int
        Images per forward pass.
    probabilities : bool, default True
        Score the softmax probability (else the logit).
    progress : callback, function, widget or list, optional
        Told after each batch; steps count images.

    Returns
    -------
    RoadResult or dict of str to RoadResult
    """
    engine = as_engine(model_or_engine)
    named, maps = named_maps(heatmap)
    levels = np.asarray(list(percentiles), dtype=np.float64)
    if levels.ndim != 1 or levels.size == 0 or np.any((levels <= 0) | (levels >= 100)):
        raise InvalidSettingError(
            f"percentiles must be numbers strictly between 0 and 100; got {percentiles!r}.")
    clean = np.asarray(engine.pixels(image), dtype=np.float64)
    height, width = clean.shape[:2]
    ranks = {name: _pixel_ranks(heat, height, width, str(name)) for name, heat in maps.items()}
    counts = np.floor(levels / 100.0 * height * width).astype(int)

    def perturbed(job: tuple[Any, str, int]) -> np.ndarray:
        name, order, k = job
        if order == "clean":
            return clean
        rank = ranks[name]
        removed = rank < counts[k] if order == "morf" else rank >= height * width - counts[k]
        rng = np.random.default_rng([seed, k, order == "morf"])
        return impute(clean, removed, noise=noise, rng=rng)

    jobs = [(None, "clean", 0)]
    jobs += [(name, order, k) for name in maps for order in ("morf", "lerf")
             for k in range(len(levels))]
    scorer = _Scorer(engine, probabilities, target)
    outputs = []
    with reporting(progress, len(jobs), "images") as report:
        for chunk in _chunks(jobs, batch_size):
            batch = np.stack([perturbed(job) for job in chunk]).astype(np.float32)
            outputs.append(scorer.outputs(batch))
            report(sum(len(o) for o in outputs), len(jobs), math.nan)
    output = np.concatenate(outputs)
    score = resolve_score(target, output[:1])  # fixed by the clean image
    values = np.asarray(score(output), dtype=np.float64)
    curves = {name: {"morf": np.empty(len(levels)), "lerf": np.empty(len(levels))}
              for name in maps}
    for (name, order, k), value in zip(jobs[1:], values[1:], strict=True):
        curves[name][order][k] = value
    target_out = score.index if isinstance(score, ClassScore) else score
    results = {name: RoadResult(levels, pair["morf"], pair["lerf"], float(values[0]),
                                target_out)
               for name, pair in curves.items()}
    return results if named else results[""]
