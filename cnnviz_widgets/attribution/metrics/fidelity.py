"""MuFidelity (Bhatt et al. 2020) and max-sensitivity (Yeh et al. 2019).

*MuFidelity*: remove random subsets of the image (cells of a grid set to a baseline);
the drop of the class's score should follow the sum of the map over what was removed.
The score is the Pearson correlation of the two over many subsets; higher is better.
Xplique's ``MuFidelity`` is the model: a 9 x 9 grid, 20 % of the cells removed, 200
subsets, a black baseline.

*Stability* (max-sensitivity): add small uniform noise to the image, compute the map
again, and report the largest change relative to the map's own size; lower is better.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...checks import whole_number
from ...engine.coerce import as_engine
from ...errors import InvalidSettingError
from ...progress import ProgressLike, reporting
from ..gradcam import upsample_heatmap
from ..registry import MethodSpec, get_method
from ..scores import fixed_by_output, fixed_target, resolve_score
from .faithfulness import _chunks, _Scorer, named_maps, substrate_pixels
from .similarity import pearson

__all__ = ["mu_fidelity", "stability"]


def mu_fidelity(
    model_or_engine: Any,
    image: Any,
    heatmap: Any,
    target: Any = None,
    *,
    grid_size: int = 9,
    subset_percent: float = 0.2,
    samples: int = 200,
    substrate: str | np.ndarray = "black",
    seed: int = 0,
    batch_size: int = 32,
    probabilities: bool = True,
    progress: ProgressLike = None,
) -> float | dict[str, float]:
    """MuFidelity of a map, or of several maps of one image (one pass for all of them).

    Each of ``samples`` subsets removes each cell of a ``grid_size`` x ``grid_size`` grid
    with probability ``subset_percent`` (the cells' pixels become the substrate's). For
    subset ``s``: ``drop_s = score(image) - score(perturbed_s)`` and
    ``sum_s = sum of the map over the removed pixels``; the result is the Pearson
    correlation of ``drop`` and ``sum`` over the subsets. **Higher is better** (1: the
    map's sums predict the drops exactly).

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
    image : path, bytes, PIL image or numpy array
    heatmap : numpy.ndarray or mapping of str to numpy.ndarray
        A 2-D map (resized to the input when smaller), or ``{name: map}``.
    target : None, int or callable, optional
        ``None``: the clean image's predicted class.
    grid_size : int, default 9
        Cells per side.
    subset_percent : float, default 0.2
        Probability that a cell is removed.
    samples : int, default 200
        Subsets drawn.
    substrate : {"black", "blur", "mean"} or numpy.ndarray, default "black"
        What removed cells become (:func:`~.faithfulness.substrate_pixels`).
    seed : int
        Seed of the subsets.
    batch_size : int
        Images per forward pass.
    probabilities : bool, default True
        Score the softmax probability (else the logit).
    progress : callback, function, widget or list, optional

    Returns
    -------
    float or dict of str to float
    """
    engine = as_engine(model_or_engine)
    named, maps = named_maps(heatmap)
    grid_size = whole_number(grid_size, "grid_size")
    samples = whole_number(samples, "samples", minimum=2)
    if not 0.0 < float(subset_percent) < 1.0:
        raise InvalidSettingError(f"subset_percent must lie in (0, 1); got {subset_percent}.")
    clean = np.asarray(engine.pixels(image), dtype=np.float32)
    height, width = clean.shape[:2]
    heats = {}
    for name, heat in maps.items():
        heat = np.asarray(heat, dtype=np.float64)
        if heat.ndim != 2:
            raise InvalidSettingError(f"The heatmap {name!r} must be 2-D; got {heat.shape}.")
        heats[name] = heat if heat.shape == (height, width) else \
            upsample_heatmap(heat, height, width).astype(np.float64)
    background = substrate_pixels(clean, substrate)
    rng = np.random.default_rng(seed)
    cells = rng.random((samples, grid_size, grid_size)) < float(subset_percent)
    rows = np.arange(height) * grid_size // height
    cols = np.arange(width) * grid_size // width
    removed = cells[:, rows][:, :, cols]  # (samples, H, W), nearest-neighbour upscaling
    channel = (...,) + (None,) * (clean.ndim - 2)
    scorer = _Scorer(engine, probabilities, target)
    outputs = [scorer.outputs(clean[None])]
    with reporting(progress, samples, "images") as report:
        for chunk in _chunks(list(range(samples)), batch_size):
            batch = np.where(removed[chunk][channel], background, clean)
            outputs.append(scorer.outputs(batch))
            report(chunk[-1] + 1, samples, math.nan)
    output = np.concatenate(outputs)
    score = resolve_score(target, output[:1])  # fixed by the clean image
    values = np.asarray(score(output), dtype=np.float64)
    drops = values[0] - values[1:]
    flat = removed.reshape(samples, -1).astype(np.float64)
    results = {name: pearson(flat @ heat.ravel(), drops) for name, heat in heats.items()}
    return results if named else results[""]


def stability(
    model_or_engine: Any,
    image: Any,
    method: str | MethodSpec = "gradcam",
    target: Any = None,
    *,
    radius: float = 0.02,
    samples: int = 8,
    seed: int = 0,
    progress: ProgressLike = None,
    **params: Any,
) -> float:
    """Max-sensitivity of a method: the largest relative change of its map under noise.

    ``samples`` copies of the image get uniform noise in ``[-radius, radius]`` x 255 per
    pixel; the method's map of each copy ``m'`` is compared with the map of the image
    ``m``: ``max ||m' - m||_2 / ||m||_2``. **Lower is better** (0: the map does not move).
    The target is fixed to the clean image's class so that only the map can change.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
    image : path, bytes, PIL image or numpy array
    method : str or MethodSpec, default "gradcam"
        A registered method that makes a heatmap.
    target : int or target, optional
        Class explained (default: the predicted class), or a target such as
        ``SegmentationTarget(1)`` (without a mask, fixed to the clean image's predicted
        region).
    radius : float, default 0.02
        Noise bound as a fraction of the 0-255 range.
    samples : int, default 8
        Noisy copies.
    seed : int
        Seed of the noise.
    progress : callback, function, widget or list, optional
        Told after each map.
    **params
        The method's own parameters.

    Returns
    -------
    float
    """
    engine = as_engine(model_or_engine)
    spec = method if isinstance(method, MethodSpec) else get_method(method)
    samples = whole_number(samples, "samples")
    clean = np.asarray(engine.pixels(image), dtype=np.float32)
    values = dict(params)
    if any(p.name == "target" for p in spec.params):
        if fixed_by_output(target):  # the clean image's class or predicted region
            target = fixed_target(_Scorer(engine, probabilities=False).outputs(clean[None]),
                                  target)
        values["target"] = target if callable(target) else int(target)
    method_object = spec.build(engine, **values)
    rng = np.random.default_rng(seed)

    def heat(pixels: np.ndarray) -> np.ndarray:
        return np.asarray(spec.call(method_object, pixels, **values), dtype=np.float64)

    base = heat(clean)
    norm = float(np.linalg.norm(base))
    worst = 0.0
    with reporting(progress, samples, "maps") as report:
        for k in range(samples):
            noise = rng.uniform(-radius * 255.0, radius * 255.0, clean.shape)
            noisy = np.clip(clean + noise, 0.0, 255.0).astype(np.float32)
            change = float(np.linalg.norm(heat(noisy) - base))
            worst = max(worst, change / norm if norm > 0 else (0.0 if change == 0 else math.inf))
            report(k + 1, samples, math.nan)
    return worst
