"""Which method should I use for this model? Every method scored by every metric.

:func:`compare_methods` computes each method's map of each image, scores all the maps of
an image with each metric in one batched pass (the maps are a dict, so the clean image
and the shared perturbations run once), and averages over the images.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...engine.coerce import as_engine, image_list
from ...errors import InvalidSettingError
from ...progress import ProgressLike, reporting
from ..registry import METHODS, get_method
from .faithfulness import faithfulness
from .fidelity import mu_fidelity
from .maps import complexity, sparseness
from .road import road

__all__ = ["BETTER", "DEFAULT_METHODS", "ComparisonResult", "compare_methods"]

#: Whether a higher or a lower value of each metric is better.
BETTER = {"deletion": "lower", "insertion": "higher", "road": "higher",
          "mu_fidelity": "higher", "complexity": "lower", "sparseness": "higher"}

#: The methods compared by default (those registered): the quick ones of each family.
DEFAULT_METHODS = ("saliency", "integrated_gradients", "gradcam", "gradcam_plus_plus",
                   "xgradcam", "layercam", "hirescam", "eigencam")


@dataclass(frozen=True, eq=False)
class ComparisonResult:
    """Every method's mean score on every metric over the images.

    Attributes
    ----------
    scores : dict
        ``{metric: {method: mean over the images}}``.
    per_image : dict
        ``{metric: {method: numpy.ndarray of one score per image}}``.
    better : dict
        ``{metric: "higher" or "lower"}``.
    """

    scores: dict[str, dict[str, float]]
    per_image: dict[str, dict[str, np.ndarray]] = field(repr=False)
    better: dict[str, str] = field(repr=False)

    @property
    def methods(self) -> list[str]:
        """The methods compared, in order."""
        return list(next(iter(self.scores.values()))) if self.scores else []

    @property
    def table(self) -> list[dict[str, Any]]:
        """One row a method: ``{"method": name, metric: mean, ...}``."""
        return [{"method": method, **{metric: self.scores[metric][method]
                                      for metric in self.scores}}
                for method in self.methods]

    def best(self, metric: str) -> str:
        """The method with the best mean score on ``metric``."""
        values = self.scores[metric]
        pick = max if self.better[metric] == "higher" else min
        return pick(values, key=lambda m: values[m] if math.isfinite(values[m]) else
                    (-math.inf if pick is max else math.inf))

    def figure(self, *, dpi: float = 100.0) -> Any:
        """One bar chart per metric, the best method's bar darker (matplotlib Figure)."""
        from ...render.trust import comparison_figure

        return comparison_figure(self.scores, self.better, dpi=dpi)

    def _repr_html_(self) -> str:
        metrics = list(self.scores)
        best = {metric: self.best(metric) for metric in metrics}
        head = "".join(f"<th>{html.escape(m)}<br><small>{self.better[m]} is better</small></th>"
                       for m in metrics)
        rows = []
        for row in self.table:
            cells = "".join(
                ("<td><b>{:.3f}</b></td>" if best[m] == row["method"] else "<td>{:.3f}</td>")
                .format(row[m]) for m in metrics)
            rows.append(f"<tr><th>{html.escape(row['method'])}</th>{cells}</tr>")
        return (f"<table><tr><th>method</th>{head}</tr>{''.join(rows)}</table>")


def compare_methods(
    model_or_engine: Any,
    images: Any,
    methods: Sequence[str] | None = None,
    target: Any = None,
    *,
    metrics: Sequence[str] = ("deletion", "insertion", "road", "mu_fidelity", "complexity",
                              "sparseness"),
    steps: int = 10,
    samples: int = 64,
    progress: ProgressLike = None,
) -> ComparisonResult:
    """Score every method by every metric over a set of images.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The classifier.
    images : image or sequence of images
        The images to explain.
    methods : sequence of str, optional
        Registered heatmap methods; by default :data:`DEFAULT_METHODS` that are
        registered.
    target : int or target, optional
        The class explained in every image (default: each image's predicted class), or a
        target such as ``SegmentationTarget(1)`` (without a mask: each image's predicted
        region).
    metrics : sequence of str
        Among :data:`BETTER`: ``deletion`` and ``insertion`` are the areas of
        :func:`~.faithfulness.faithfulness` (``steps`` points), ``road`` is
        :attr:`~.road.RoadResult.combined`, ``mu_fidelity`` uses ``samples`` subsets.
    steps : int, default 10
        Points of the deletion and insertion curves.
    samples : int, default 64
        Subsets of MuFidelity.
    progress : callback, function, widget or list, optional
        Told after each map and each metric of each image.

    Returns
    -------
    ComparisonResult
    """
    engine = as_engine(model_or_engine)
    items = image_list(images, engine.input_shape)
    names = [m for m in DEFAULT_METHODS if m in METHODS] if methods is None else list(methods)
    specs = [get_method(name) for name in names]
    for spec in specs:
        if spec.output != "heatmap" or not spec.needs_image:
            raise InvalidSettingError(f"{spec.name!r} makes no heatmap of an image.")
    unknown = [m for m in metrics if m not in BETTER]
    if unknown or not metrics:
        raise InvalidSettingError(f"Unknown metrics {unknown}; known: {sorted(BETTER)}.")
    per_image: dict[str, dict[str, list[float]]] = {m: {n: [] for n in names} for m in metrics}
    total = len(items) * (len(specs) + len(metrics))
    done = 0
    with reporting(progress, total, "steps") as report:
        for image in items:
            maps = {}
            for spec in specs:
                values = {"target": target} if any(p.name == "target" for p in spec.params) \
                    else {}
                maps[spec.name] = np.asarray(spec.run(engine, image, **values))
                done += 1
                report(done, total, math.nan)
            for metric in metrics:
                for name, value in _score(engine, image, maps, target, metric, steps,
                                          samples).items():
                    per_image[metric][name].append(value)
                done += 1
                report(done, total, math.nan)
    arrays = {m: {n: np.asarray(v, dtype=np.float64) for n, v in row.items()}
              for m, row in per_image.items()}
    scores = {m: {n: float(np.mean(v)) for n, v in row.items()} for m, row in arrays.items()}
    return ComparisonResult(scores, arrays, {m: BETTER[m] for m in metrics})


def _score(engine: Any, image: Any, maps: dict[str, np.ndarray], target: Any,
           metric: str, steps: int, samples: int) -> dict[str, float]:
    if metric in ("deletion", "insertion"):
        curves = faithfulness(engine, image, maps, target, steps=steps)
        return {n: getattr(r, f"{metric}_auc") for n, r in curves.items()}
    if metric == "road":
        return {n: r.combined for n, r in road(engine, image, maps, target).items()}
    if metric == "mu_fidelity":
        return mu_fidelity(engine, image, maps, target, samples=samples)
    return (complexity if metric == "complexity" else sparseness)(maps)
