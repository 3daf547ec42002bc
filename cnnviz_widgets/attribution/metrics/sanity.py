"""The model-parameter randomisation test of attribution maps (Adebayo et al. 2018).

A map that explains the model must change when the model's weights are destroyed.
:func:`sanity_check` randomises the layers of a *copy* of the model one after another,
from the output down to the input ("cascading randomisation"), computes the method's
map after each step, and compares every map with the trained model's map. A method
whose maps stay alike (an edge detector in disguise) fails; one whose maps lose their
resemblance passes.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._keras import keras
from ...engine.activations import ActivationEngine
from ...engine.coerce import as_engine
from ...errors import InvalidSettingError, UnsupportedModelError
from ...progress import ProgressLike, reporting
from .. import autodiff
from ..registry import MethodSpec, get_method
from ..scores import fixed_by_output, fixed_target
from .similarity import normalized_absolute, spearman, ssim

__all__ = ["SANITY_THRESHOLD", "SanityResult", "copy_engine", "randomize_layer", "sanity_check",
           "weighted_layers"]

#: A method passes when the Spearman rank correlation of its map after every layer is
#: randomised with the trained model's map is below this value. Adebayo et al. read
#: their figures by eye; a correlation under 0.5 means that fewer than a quarter of the
#: ranks' variance is shared, which no reader would call "the same map".
SANITY_THRESHOLD = 0.5

_SAMPLE = 2**20


@dataclass(frozen=True, eq=False)
class SanityResult:
    """The maps of a method as the layers of a copy of the model are randomised.

    Attributes
    ----------
    method : str
        The method's registry name.
    target : int or target
        The class explained at every step (the trained model's predicted class when none
        was given), or the target (a region fixed by the trained model's prediction).
    layers : tuple of str
        The layers randomised, in the order they were (from the output down); step ``i``
        has ``layers[:i + 1]`` randomised.
    maps : numpy.ndarray
        Shape (len(layers) + 1, H, W): ``maps[0]`` is the trained model's map,
        ``maps[i + 1]`` the map after step ``i``.
    similarity : numpy.ndarray
        Shape (len(layers),): Spearman rank correlation of ``|maps[i + 1]|`` with
        ``|maps[0]|`` (:func:`~.similarity.spearman`). Lower is better: a faithful map
        changes when the model does.
    ssim : numpy.ndarray
        Shape (len(layers),): the structural similarity of the same maps, each divided
        by its maximum (:func:`~.similarity.ssim`); lower is better.
    threshold : float
        The bound ``similarity[-1]`` must stay under to pass.
    """

    method: str
    target: Any
    layers: tuple[str, ...]
    maps: np.ndarray = field(repr=False)
    similarity: np.ndarray = field(repr=False)
    ssim: np.ndarray = field(repr=False)
    threshold: float = SANITY_THRESHOLD

    @property
    def passed(self) -> bool:
        """Whether the map after the last randomisation is unlike the trained one:
        ``similarity[-1] < threshold``."""
        return bool(self.similarity[-1] < self.threshold)

    def summary(self) -> str:
        """One sentence for a reader who has never heard of the test."""
        rho = float(self.similarity[-1])
        if self.passed:
            return (f"passes the sanity check: with the model's weights scrambled, the map "
                    f"changes (rank correlation {rho:.2f}).")
        return (f"fails the sanity check: the map barely changes when the model's weights "
                f"are scrambled (rank correlation {rho:.2f}), so it shows the image more "
                "than the model.")

    def figure(self, *, columns: int | None = None, dpi: float = 100.0) -> Any:
        """The maps step by step over the similarity curves, like Adebayo et al.'s figure.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ...render.trust import sanity_figure

        return sanity_figure(self.maps, self.layers, self.similarity, self.ssim,
                             title=f"{self.method}: cascading randomisation",
                             columns=columns, dpi=dpi)

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (f"SanityResult({self.method!r}, target={self.target}, {len(self.layers)} "
                f"layers randomised: final rank correlation {self.similarity[-1]:.3f}, "
                f"SSIM {self.ssim[-1]:.3f} (lower is better), {verdict} at "
                f"< {self.threshold})")


def weighted_layers(engine: ActivationEngine) -> list[str]:
    """The engine's layers that hold trainable weights, from the output down to the input."""
    found, seen = [], set()
    for name in reversed(engine.layer_names):
        layer = engine.keras_layer(name)
        if layer.trainable_weights and id(layer) not in seen:
            seen.add(id(layer))
            found.append(name)
    return found


def copy_engine(engine: ActivationEngine) -> ActivationEngine:
    """An engine around a copy of the engine's model, with the same weights and settings.

    The copy is ``keras.models.clone_model`` (or, where that fails, the model rebuilt
    from its config) given the original's weights; changing it leaves the original as
    it was.

    Raises
    ------
    UnsupportedModelError
        If the model can be neither cloned nor rebuilt from its config.
    """
    model = engine.model
    try:
        clone = keras.models.clone_model(model, clone_function=_uninitialised)
    except Exception:  # noqa: BLE001 - a layer that refuses new initialisers: plain clone
        try:
            clone = keras.models.clone_model(model)
        except Exception as first:  # noqa: BLE001 - try the config next
            try:
                clone = model.__class__.from_config(model.get_config())
            except Exception as error:
                raise UnsupportedModelError(
                    f"The model cannot be copied ({type(first).__name__}: {first}); the "
                    "sanity check randomises a copy and never the model itself.") from error
    if [tuple(v.shape) for v in clone.weights] != [tuple(v.shape) for v in model.weights]:
        raise UnsupportedModelError("The copy of the model does not have the model's weights.")
    for mine, theirs in zip(clone.weights, model.weights, strict=True):
        mine.assign(theirs)  # a copy inside the backend: no round trip through NumPy
    # a clone may name its inputs anew: they are matched by position
    plan = engine.plan
    names = [i.name for i in plan.inputs]
    image_input = names.index(plan.input_name) if plan.input_name in names else None
    copied = ActivationEngine(clone, preprocess=engine.preprocess, output=plan.output_index,
                              image_input=image_input)
    others = engine.other_inputs
    if others:
        renamed = [i.name for i in copied.plan.inputs]
        copied.other_inputs = {renamed[names.index(name)]: value
                               for name, value in others.items()}
    return copied


def _uninitialised(layer: Any) -> Any:
    """A new layer like ``layer`` whose weights start at zero (they are copied next):
    drawing 138 million random numbers for VGG16's initialisers would be thrown away."""
    config = layer.get_config()
    for key in config:
        if key.endswith("_initializer") and config[key] is not None:
            config[key] = "zeros"
    return layer.__class__.from_config(config)


def randomize_layer(layer: Any, rng: np.random.Generator) -> None:
    """Replace each trainable weight of ``layer`` by Gaussian draws of its own mean and
    standard deviation (a constant weight, such as a bias still at zero, is kept).

    Drawing at the trained weights' scale keeps activations in the range the rest of the
    network expects, so the randomised copy neither saturates nor goes silent.
    """
    ops = keras.ops
    for variable in layer.trainable_weights:
        size = int(np.prod(variable.shape))
        if size == 0:
            continue
        # the mean and spread of a large weight from a million of its values, evenly
        # spaced, read without copying the whole weight out of the backend
        flat = ops.reshape(variable.value, (-1,))
        sample = autodiff.to_numpy(flat[::max(1, size // _SAMPLE)]).astype(np.float64)
        std = float(sample.std())
        if std == 0.0 and float(ops.max(ops.abs(flat - sample[0]))) == 0.0:
            continue
        # drawn by the backend (seeded from ``rng``), in place of the old values
        variable.assign(keras.random.normal(
            tuple(variable.shape), mean=float(sample.mean()), stddev=std,
            dtype=variable.dtype, seed=int(rng.integers(2**31 - 1))))


def sanity_check(
    model_or_engine: Any,
    image: Any,
    method: str | MethodSpec = "gradcam",
    target: Any = None,
    layers: Sequence[str] | None = None,
    *,
    threshold: float = SANITY_THRESHOLD,
    seed: int = 0,
    progress: ProgressLike = None,
    **params: Any,
) -> SanityResult:
    """Cascading model-parameter randomisation (Adebayo et al., NeurIPS 2018).

    The model is copied (:func:`copy_engine`); the copy's layers with weights are
    randomised one after another from the output down (:func:`randomize_layer`), and
    the method's map of ``image`` is computed before the first step and after each.
    Each map is compared with the first by the Spearman rank correlation of the absolute
    values and by SSIM. The user's model and weights are never changed; the copy is
    dropped before the function returns.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The classifier, or an engine around it (its preprocessing is used).
    image : path, bytes, PIL image or numpy array
        The image to explain.
    method : str or MethodSpec, default "gradcam"
        A registered method's name (:data:`~cnnviz_widgets.attribution.METHODS`) or a
        spec; it must make a 2-D heatmap.
    target : int or target, optional
        The class to explain at every step; by default the trained model's prediction. A
        target such as ``SegmentationTarget(1)`` without a mask keeps the trained model's
        predicted region at every step.
    layers : sequence of str, optional
        The layers to randomise (engine names); they are randomised from the output down
        whatever their order here. By default every layer with trainable weights.
    threshold : float, default :data:`SANITY_THRESHOLD`
        The method passes when the last step's rank correlation is below it.
    seed : int, default 0
        Seed of the random weights.
    progress : callback, function, widget or list, optional
        Told after each map; steps count maps.
    **params
        The method's own parameters (e.g. ``layer="block5_conv3"``), as for
        :meth:`MethodSpec.run`.

    Returns
    -------
    SanityResult

    Raises
    ------
    InvalidSettingError
        For a method that does not make a heatmap, a layer without weights, or a model
        without any.
    UnknownNameError
        For an unknown method.

    Examples
    --------
    >>> result = sanity_check(model, image, "gradcam")
    >>> result.passed, result.similarity
    >>> result.figure()
    """
    engine = as_engine(model_or_engine)
    spec = method if isinstance(method, MethodSpec) else get_method(method)
    if spec.output != "heatmap" or not spec.needs_image:
        raise InvalidSettingError(
            f"The sanity check compares heatmaps of an image; {spec.name!r} makes none.")
    order = _chosen_layers(engine, layers)
    copy = copy_engine(engine)
    try:
        chosen = _target(copy, image, target) if target is None or callable(target) \
            else int(target)
        values = dict(params)
        if any(p.name == "target" for p in spec.params):
            values["target"] = chosen
        rng = np.random.default_rng(seed)
        maps = []
        with reporting(progress, len(order) + 1, "maps") as report:
            for step in range(len(order) + 1):
                if step:
                    randomize_layer(copy.keras_layer(order[step - 1]), rng)
                    copy.forget_after(order[step - 1])
                maps.append(_heatmap(spec, copy, image, values))
                report(step + 1, len(order) + 1, float("nan"))
    finally:
        copy.clear_cache()
        del copy
        gc.collect()
    stack = np.stack(maps)
    stack.flags.writeable = False
    first = normalized_absolute(stack[0])
    rho = np.array([spearman(first, normalized_absolute(m)) for m in stack[1:]])
    structural = np.array([ssim(first, normalized_absolute(m)) for m in stack[1:]])
    return SanityResult(spec.name, chosen, tuple(order), stack, rho, structural,
                        float(threshold))


def _chosen_layers(engine: ActivationEngine, layers: Sequence[str] | None) -> list[str]:
    weighted = weighted_layers(engine)
    if not weighted:
        raise InvalidSettingError("The model has no trainable weights to randomise.")
    if layers is None:
        return weighted
    if isinstance(layers, str):
        layers = [layers]
    wanted = set()
    for name in layers:
        engine.layer(name)  # raises LayerNotFoundError with close names
        if name not in weighted:
            raise InvalidSettingError(
                f"Layer {name!r} has no trainable weights to randomise; layers with "
                f"weights: {weighted}.")
        wanted.add(name)
    return [name for name in weighted if name in wanted]


def _target(engine: ActivationEngine, image: Any, target: Any = None) -> Any:
    """``target`` fixed by the trained model's output for ``image`` (its class for None)."""
    if not fixed_by_output(target):
        return target
    batch = np.asarray(engine.prepare(image), dtype=np.float32)
    with autodiff.no_gradient():
        output, _ = engine.forward(batch)
    return fixed_target(autodiff.to_numpy(output), target)


def _heatmap(spec: MethodSpec, engine: ActivationEngine, image: Any,
             values: dict[str, Any]) -> np.ndarray:
    heat = np.asarray(spec.run(engine, image, **values), dtype=np.float64)
    if heat.ndim == 3:  # a colour map: the maximum over the channels, as saliency does
        heat = np.abs(heat).max(axis=-1)
    if heat.ndim != 2:
        raise InvalidSettingError(
            f"{spec.name!r} returned an array of shape {heat.shape}; the sanity check "
            "needs 2-D heatmaps.")
    if not np.all(np.isfinite(heat)):
        heat = np.nan_to_num(heat, nan=0.0, posinf=0.0, neginf=0.0)
    return heat
