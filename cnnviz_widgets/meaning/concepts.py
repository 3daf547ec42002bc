"""Concepts over a data set: non-negative directions of a layer's activation space.

:func:`find_concepts` reads a set through a layer, treats every position of every image
as one row of C non-negative activations, and factorises those rows into ``n`` concepts
``A ~ U W`` with non-negative matrix factorisation, as CRAFT does (Fel et al., "CRAFT:
Concept Recursive Activation FacTorization for Explainability", CVPR 2023; Xplique's
``xplique/concepts/craft.py`` fits scikit-learn's ``NMF`` on activations): ``W`` (n, C)
are the concepts, directions in the layer's space, and ``U`` says how much of each concept
is at each position. The factorisation is fitted on a uniform random sample of positions;
every position of every image is then projected on the fixed concepts (non-negative least
squares, by coordinate descent), and each concept's strongest images are kept like a
channel's top images (a :class:`~cnnviz_widgets.ChannelStats` whose channels are the
concepts, so the crops, the class means and the selectivity come the same way).

scikit-learn is an optional dependency: ``pip install "cnnviz_widgets[concepts]"``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..checks import index_in, whole_number
from ..engine.coerce import as_engine
from ..engine.scan.cache import Crop, DatasetScans
from ..engine.scan.kernel import compile_batch_function, map_layout, map_shape
from ..engine.scan.result import ScanResult
from ..engine.scan.sources import ImageSource, image_source
from ..engine.scan.stream import prefetched
from ..engine.scan.summary import BatchSummary, ChannelStats
from ..errors import InvalidSettingError, ScanError
from ..progress import ProgressLike, reporting

__all__ = ["Concepts", "find_concepts", "project"]

#: Activations kept between the two steps (above this the set is read a second time).
MAX_KEPT_BYTES = 512 * 2**20
#: Sweeps of coordinate descent when projecting positions on fixed concepts.
SWEEPS = 6


def project(activations: np.ndarray, components: np.ndarray, sweeps: int = SWEEPS
            ) -> np.ndarray:
    """Non-negative coefficients ``U`` (R, n) with ``U @ components ~ activations`` (R, C).

    Minimises ``||A - U W||`` over ``U >= 0`` with ``W`` fixed (the objective of
    scikit-learn's ``NMF.transform``) by coordinate descent over the n concepts, each
    update exact for its concept, starting from the least-squares solution clipped at 0.
    """
    return _project(activations, components, sweeps)[0]


def _project(activations: np.ndarray, components: np.ndarray, sweeps: int = SWEEPS
             ) -> tuple[np.ndarray, float]:
    """:func:`project`, and the squared error ``||A - U W||^2`` found on the way."""
    a = np.asarray(activations, dtype=np.float32)
    w = np.asarray(components, dtype=np.float32)
    gram = w @ w.T  # (n, n)
    awt = np.ascontiguousarray((a @ w.T).T)  # (n, R): one concept a contiguous row
    u = np.maximum(np.linalg.pinv(gram) @ awt, 0.0).astype(np.float32)
    diagonal = np.where(np.diag(gram) > 0, np.diag(gram), 1.0)
    for _ in range(sweeps):
        for j in range(len(w)):
            step = (awt[j] - gram[j] @ u) / diagonal[j]
            np.maximum(u[j] + step, 0.0, out=u[j])
    # ||A - UW||^2 = ||A||^2 - 2 <U, A W^T> + <U, U W W^T>, without forming U W
    error = (float(np.einsum("ij,ij->", a, a, dtype=np.float64))
             - 2.0 * float(np.einsum("ij,ij->", u, awt, dtype=np.float64))
             + float(np.einsum("ij,ij->", gram @ u, u, dtype=np.float64)))
    return u.T, max(error, 0.0)


def _one_blas_thread() -> Any:
    """BLAS on one thread for the thin products here (n columns): a second thread that
    spins for work costs more than it gives, and much more on a busy machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _nmf(rows: np.ndarray, n: int, seed: int, max_iter: int) -> np.ndarray:
    try:
        from sklearn.decomposition import NMF
    except ImportError as exc:
        raise InvalidSettingError(
            "find_concepts needs scikit-learn for the factorisation: pip install "
            '"cnnviz_widgets[concepts]" (or pip install scikit-learn).') from exc
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    model = NMF(n_components=n, init="nndsvda", solver="cd", max_iter=max_iter,
                random_state=seed, tol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(rows)
    return np.asarray(model.components_, dtype=np.float32)


class _Reservoir:
    """A uniform random sample of at most ``size`` rows of a stream (smallest random keys)."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.rng = size, np.random.default_rng(seed)
        self.keys = np.zeros(0)
        self.rows: np.ndarray | None = None

    def add(self, rows: np.ndarray) -> None:
        keys = np.concatenate([self.keys, self.rng.random(len(rows))])
        both = rows if self.rows is None else np.concatenate([self.rows, rows])
        if len(keys) > self.size:
            keep = np.argpartition(keys, self.size)[:self.size]
            keys, both = keys[keep], both[keep]
        self.keys, self.rows = keys, both


def _activation_function(engine: Any, layer: str) -> Any:
    known = engine.__dict__.setdefault("_concept_functions", {})
    if layer not in known:
        known[layer] = compile_batch_function(
            lambda x: engine.batch_activations(x, [layer])[layer], engine.input_shape,
            engine.model.variables)
    return known[layer]


def _as_rows(value: Any, layout: str) -> tuple[np.ndarray, int]:
    """(B, P, C) float32 positions of a batch of a layer's outputs, and the map's width."""
    v = np.asarray(value, dtype=np.float32)
    if layout == "hwc":
        return v.reshape(v.shape[0], -1, v.shape[-1]), v.shape[2]
    if layout == "tc":
        return v, 1
    return v.reshape(v.shape[0], 1, -1), 1


def _batches(engine: Any, source: ImageSource, layer: str, batch_size: int):
    """(indices, labels, (B, P, C) rows, width) of every readable batch of the set."""
    function = _activation_function(engine, layer)
    layout = map_layout(engine.viewable(layer))
    for prepared in prefetched(engine, source, source.batches(batch_size)):
        for indices, x, labels in prepared.groups:
            rows, width = _as_rows(function(x), layout)
            if rows.size and float(rows.min()) < -1e-6:
                raise InvalidSettingError(
                    f"The layer {layer!r} has negative activations (down to "
                    f"{float(rows.min()):.3g}); concepts by non-negative factorisation need "
                    "a layer after a ReLU. Pick that layer (or its activation).")
            yield indices, labels, np.maximum(rows, 0.0), width


def _grouped(batches: Any, most: int = 65_536):
    """Consecutive batches of maps of one shape joined, up to ``most`` positions each
    (fewer, larger projections)."""
    group: list[tuple[np.ndarray, Any, np.ndarray, int]] = []

    def joined() -> tuple[np.ndarray, Any, np.ndarray, int]:
        labels = ([g[1] for g in group] if all(g[1] is not None for g in group) else None)
        return (np.concatenate([g[0] for g in group]),
                None if labels is None else np.concatenate(labels),
                np.concatenate([g[2] for g in group]), group[0][3])

    for item in batches:
        if group and (item[2].shape[1:] != group[0][2].shape[1:] or item[3] != group[0][3]
                      or sum(g[2].shape[0] * g[2].shape[1] for g in group) >= most):
            yield joined()
            group = []
        group.append(item)
    if group:
        yield joined()


@dataclass
class Concepts:
    """The concepts of a layer over a data set (see :func:`find_concepts`).

    Attributes
    ----------
    layer : str
        The layer.
    components : numpy.ndarray
        (n, C) the concepts: non-negative directions in the layer's channel space.
    stats : ChannelStats
        Statistics of the concepts over the set, a concept standing for a channel (the
        per-image maximum of its coefficient): top images, class means, selectivity.
    reconstruction_error : float
        ``||A - U W|| / ||A||`` over every position of every image (0: exact).
    """

    layer: str
    components: np.ndarray
    stats: ChannelStats
    reconstruction_error: float
    engine: Any = field(repr=False, default=None)
    source: ImageSource | None = field(repr=False, default=None)
    _crops: DatasetScans | None = field(repr=False, default=None)

    @property
    def n(self) -> int:
        """Number of concepts."""
        return int(self.components.shape[0])

    @property
    def top_indices(self) -> np.ndarray:
        """(n, k) images of the set where each concept is strongest, strongest first."""
        return self.stats.top_indices

    @property
    def top_values(self) -> np.ndarray:
        """(n, k) the concept's largest coefficient in each of those images."""
        return self.stats.top_values

    def label(self, concept: int) -> str | None:
        """The concept's preferred class and selectivity (None without labels)."""
        return self.stats.label(index_in(concept, self.n, "concept", "the concepts"))

    def transform(self, activations: np.ndarray) -> np.ndarray:
        """Coefficients (..., n) of activations (..., C) on the concepts (non-negative)."""
        a = np.maximum(np.asarray(activations, dtype=np.float32), 0.0)
        with _one_blas_thread():
            u = project(a.reshape(-1, a.shape[-1]), self.components)
        return u.reshape(*a.shape[:-1], self.n)

    def maps(self, image: Any) -> np.ndarray:
        """(n, h, w) where each concept is in ``image``: its coefficient at each position.

        A vector layer gives (n, 1, 1); a sequence (n, T, 1).
        """
        value = self.engine.activation(self.layer, image)
        rows, width = _as_rows(value[None], map_layout(self.engine.viewable(self.layer)))
        u = self.transform(rows[0])  # (P, n)
        return u.T.reshape(self.n, -1, width)

    def crops(self, concept: int) -> list[Crop]:
        """The concept's top images, each cropped to what its strongest position sees."""
        concept = index_in(concept, self.n, "concept", "the concepts")
        if self._crops is None:
            result = ScanResult({self.layer: self.stats}, class_names=self.stats.class_names,
                                source=self.source)
            self._crops = DatasetScans(self.engine, result)
        return self._crops.crops(self.layer, concept)

    def importance(self, target: Any, images: Any = None, *, limit: int = 256,
                   batch_size: int = 32, seed: int = 0) -> np.ndarray:
        """How much each concept contributes to a class score, averaged over images.

        For each image and position p, the gradient ``g_p`` of the score with respect to
        the layer's activations, read along each concept ``W_i`` (``g_p . W_i``, the
        derivative of the score along the concept), times the concept's coefficient
        there ``U_pi``, summed over positions: the first-order contribution of the concept
        to the score (gradient times input in the concepts' coordinates; the
        contributions of all concepts add up to ``sum_p g_p . (U W)_p``).

        Parameters
        ----------
        target : int or callable
            A class index, or a score callable (see ``attribution.scores``).
        images : images, optional
            Where to average (default: ``limit`` images of the set drawn at random).
        limit : int
            At most this many images of the set when ``images`` is None.
        batch_size : int
            Images per gradient batch.
        seed : int
            Which images of the set are drawn.

        Returns
        -------
        numpy.ndarray
            (n,) float64 mean contribution of each concept.
        """
        from ..attribution.autodiff import to_numpy, value_and_gradient
        from ..attribution.scores import resolve_score

        score = resolve_score(target)
        batch_size = whole_number(batch_size, "batch_size")
        if images is None:
            if self.source is None:
                raise InvalidSettingError("These concepts have no images at hand: pass images=.")
            total = self.source.total or self.stats.count
            picked = np.sort(np.random.default_rng(seed).permutation(total)[:limit])
            fetched = self.source.fetch((picked + self.source.offset).tolist())
            images = list(fetched.values())
        pixels = [self.engine.pixels(image) for image in images]
        layout = map_layout(self.engine.viewable(self.layer))
        total, count = np.zeros(self.n), 0
        for start in range(0, len(pixels), batch_size):
            x = np.asarray(self.engine.preprocess(np.stack(pixels[start:start + batch_size])),
                           dtype=np.float32)
            a = self.engine.batch_activations(x, [self.layer])[self.layer]

            def forward(value: Any, x: Any = x) -> Any:
                output, _ = self.engine.forward(x, given={self.layer: value})
                return score(output)

            _, (gradient,) = value_and_gradient(forward, a)
            rows, _ = _as_rows(to_numpy(a), layout)
            grads, _ = _as_rows(to_numpy(gradient), layout)
            u = self.transform(rows)  # (B, P, n)
            along = grads @ self.components.T  # (B, P, n): g_p . W_i
            total += (u * along).sum(axis=1).sum(axis=0)
            count += len(rows)
        return total / max(count, 1)


def find_concepts(model_or_engine: Any, images: Any, layer: str, n: int = 8, *,
                  top_k: int = 9, labels: Sequence[int] | None = None,
                  class_names: Sequence[str] | None = None, sample: int = 5_000,
                  max_iter: int = 100, batch_size: int = 64, seed: int = 0,
                  progress: ProgressLike = False) -> Concepts:
    """Find ``n`` concepts of ``layer`` over a set of images (non-negative factorisation).

    Every position of every image is a row of the layer's C activations; the rows are
    factorised as ``A ~ U W`` with ``U, W >= 0`` (NMF, as CRAFT does): the n rows of ``W``
    are the concepts, directions in the layer's space that often occur together. Fitted
    on ``sample`` positions drawn uniformly from the whole set, then every position is
    projected on the concepts to rank the images and measure the error.

    Parameters
    ----------
    model_or_engine : keras.Model, ActivationEngine or str
        The model, an engine built on it, or the path of a ``.keras`` file.
    images : array, list, folder, tf.data.Dataset
        The set, as :func:`~cnnviz_widgets.scan` reads it.
    layer : str
        A layer with non-negative activations (after a ReLU).
    n : int
        Number of concepts.
    top_k : int
        Top images kept per concept.
    labels, class_names : optional
        Labels of the images and names of the classes (class means per concept).
    sample : int
        Positions the factorisation is fitted on.
    max_iter : int
        Iterations of the factorisation.
    batch_size : int
        Images per batch.
    seed : int
        Seed of the sample and of the factorisation.
    progress : bool, callable, widget or Callback
        Progress over the images, as for :func:`~cnnviz_widgets.scan`.

    Returns
    -------
    Concepts

    Raises
    ------
    InvalidSettingError
        For negative activations, a bad ``n``, or without scikit-learn.
    ScanError
        If no image of the set can be read.

    Examples
    --------
    >>> from cnnviz_widgets import find_concepts, zoo       # doctest: +SKIP
    >>> x, y = zoo.fashion_mnist("test")                     # doctest: +SKIP
    >>> concepts = find_concepts(zoo.fashion_cnn(), x[:2000], "conv3", n=6,
    ...                          labels=y[:2000])            # doctest: +SKIP
    >>> concepts.components.shape                            # doctest: +SKIP
    (6, 64)
    """
    engine = as_engine(model_or_engine, paths=True)
    info = engine.viewable(layer)
    layout = map_layout(info)
    channels = int(info.channels or 1)
    n = whole_number(n, "n", maximum=channels)
    top_k, sample = whole_number(top_k, "top_k"), whole_number(sample, "sample")
    batch_size = whole_number(batch_size, "batch_size")
    source = image_source(images, engine.input_shape, labels, class_names)
    reservoir = _Reservoir(sample, seed)
    kept: list[tuple[np.ndarray, Any, np.ndarray, int]] | None = []
    kept_bytes = 0
    total = source.total or 0
    with reporting(progress, total, unit="images") as report:
        done = 0
        for indices, batch_labels, rows, width in _batches(engine, source, layer, batch_size):
            reservoir.add(rows.reshape(-1, rows.shape[-1]))
            if kept is not None:
                kept.append((indices, batch_labels, rows, width))
                kept_bytes += rows.nbytes
                if kept_bytes > MAX_KEPT_BYTES:
                    kept = None  # too large to keep: the set is read again below
            done += len(indices)
            report(done, total, float("nan"))
    if reservoir.rows is None:
        raise ScanError(f"None of the items of {source.description} could be read as an "
                        "image; there is nothing to factorise.")
    max_iter = whole_number(max_iter, "max_iter")
    stats = ChannelStats.empty(layer, n, map_shape(info.output_shape, layout), top_k)
    residual = energy = 0.0
    with _one_blas_thread():
        components = _nmf(reservoir.rows, n, seed, max_iter)
        for indices, batch_labels, rows, width in _grouped(
                kept if kept is not None else _batches(engine, source, layer, batch_size)):
            b, p, c = rows.shape
            flat = rows.reshape(-1, c)
            u, squared = _project(flat, components)
            residual += squared
            energy += float(np.einsum("ij,ij->", flat, flat, dtype=np.float64))
            maps = u.reshape(b, p, n)
            stats.add(BatchSummary(maps.max(axis=1), maps.sum(axis=1), (maps > 0).sum(axis=1),
                                   maps, width), indices, batch_labels)
    result = ScanResult({layer: stats}, class_names=source.class_names)  # names the classes
    error = math.sqrt(residual / energy) if energy > 0 else 0.0
    return Concepts(layer, components, result[layer], error, engine, source)
