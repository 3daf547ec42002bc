"""The lazy activation engine: layer outputs as numpy arrays, computed only when asked."""

from __future__ import annotations

import hashlib
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import (
    CnnvizError,
    ImageShapeError,
    LayerComputeError,
    LayerNotFoundError,
    LayerNotViewableError,
)
from .cache import ActivationCache, CacheStats
from .inputs import (
    ImageLike,
    Preprocess,
    decode_image,
    default_preprocess,
    fit_channels,
    resize,
    signal_values,
    stack_pixels,
)
from .layers import LayerInfo, Plan, build_plan

__all__ = ["ActivationEngine"]


def _fingerprint(x: np.ndarray) -> str:
    """Digest of an array's shape, dtype and values (SHA-256: fast where the CPU has it)."""
    digest = hashlib.sha256(str((x.shape, x.dtype.str)).encode())
    digest.update(np.ascontiguousarray(x).data)
    return digest.hexdigest()


#: Fingerprints of frozen arrays by id, checked by a weak reference (bounded).
_FROZEN_KEYS: dict[int, tuple[weakref.ref, str]] = {}
_FROZEN_MAX = 4096


def _is_frozen(x: np.ndarray) -> bool:
    """True when ``x`` and every array it is a view of are read-only (or it views bytes).

    Such an array cannot change through any array numpy hands out; a read-only view of a
    writeable array can, so it is not frozen.
    """
    a: Any = x
    while isinstance(a, np.ndarray):
        if a.flags.writeable:
            return False
        a = a.base
    return a is None or isinstance(a, bytes)


def _array_key(x: np.ndarray) -> str:
    """The fingerprint of an array, remembered for frozen arrays (an image list's own
    read-only copies), so asking again for a cached activation does not hash the image."""
    if not _is_frozen(x):
        return _fingerprint(x)
    hit = _FROZEN_KEYS.get(id(x))
    if hit is not None and hit[0]() is x:
        return hit[1]
    key = _fingerprint(x)
    if len(_FROZEN_KEYS) >= _FROZEN_MAX:
        _FROZEN_KEYS.clear()
    _FROZEN_KEYS[id(x)] = (weakref.ref(x), key)
    return key


def _content_key(image: ImageLike) -> tuple[str, str] | None:
    """Key of an image by its own content, for arrays of numbers and encoded bytes.

    Other kinds (paths, PIL images, tensors) return None: a file or an image object can
    change behind the same name, so only their prepared values can be fingerprinted.
    """
    if isinstance(image, np.ndarray):
        if image.dtype.kind not in "biuf":
            return None
        return ("prepared", "array:" + _array_key(image))
    if isinstance(image, (bytes, bytearray)):
        return ("prepared", "bytes:" + hashlib.sha256(image).hexdigest())
    return None


class ActivationEngine:
    """Compute the activations of any layer of a Keras model, lazily and with a cache.

    The engine never displays anything: it returns numpy arrays. Asking for a layer
    runs only the layers that it depends on, starting from the deepest activation
    already cached on its path. Every computed layer output is cached per
    (image, layer) under a byte budget with least-recently-used eviction, so walking
    all layers of a model in any order costs about one forward pass.

    Parameters
    ----------
    model : keras.Model
        A built Sequential or Functional model with one image input. Models used as
        layers inside it (backbones) are expanded into their own layers, named by
        path such as ``"vgg16/block3_conv1"``.
    preprocess : callable, optional
        Maps a batch of 0-255 pixel values, shape (1, H, W, C), to what the model
        expects. By default: the matching ``keras.applications`` ``preprocess_input``
        for the models it knows by name (vgg16, vgg19, resnet50, ...), and division
        by 255 for every other model. Pass ``lambda x: x`` to feed raw 0-255 values.
    cache_bytes : int, optional
        Byte budget of the cache (default 512 MiB). It holds the activations and the
        prepared inputs of array and bytes images (memoised by content), so the engine
        never keeps more than this many bytes however many images it sees.

    Examples
    --------
    >>> from cnnviz_widgets import ActivationEngine
    >>> from cnnviz_widgets.testing import tiny_cnn
    >>> engine = ActivationEngine(tiny_cnn())
    >>> engine.activation("conv_a", np.zeros((8, 8))).shape
    (8, 8, 4)
    """

    def __init__(
        self,
        model: Any,
        preprocess: Preprocess | None = None,
        cache_bytes: int = 512 * 2**20,
    ):
        self.model = model
        self._plan: Plan = build_plan(model)
        self._check_image_input(self._plan.input_shape)
        self.stats = CacheStats()
        self._cache = ActivationCache(cache_bytes, self.stats)
        self.preprocess = (preprocess if preprocess is not None
                           else default_preprocess(model, self._plan.input_axes))

    @property
    def preprocess(self) -> Preprocess:
        """The function from 0-255 pixels to model input; setting it clears the cache."""
        return self._preprocess

    @preprocess.setter
    def preprocess(self, function: Preprocess) -> None:
        self._preprocess = function
        self._cache.clear()  # prepared inputs were made with the old function

    # -- layers ----------------------------------------------------------------------
    @staticmethod
    def _check_image_input(shape: tuple[int | None, ...]) -> None:
        from ..errors import UnsupportedModelError

        ok = (len(shape) == 2 and (getattr(shape, "axes", "") != "sequence"
                                   or shape[-1] is not None)
              or (len(shape) == 3 and shape[-1] is not None))
        if not ok:
            raise UnsupportedModelError(
                f"The model's input has shape {(None, *shape)}, which is not an image. "
                "Expected (batch, height, width, channels) or (batch, height, width)."
            )

    @property
    def layers(self) -> list[LayerInfo]:
        """Every viewable layer, in the order the model computes them."""
        return self._plan.layers

    @property
    def plan(self) -> Plan:
        """The flattened, topologically ordered plan of layer calls (read-only use)."""
        return self._plan

    @property
    def layer_names(self) -> list[str]:
        """Names of :attr:`layers`, in order."""
        return [info.name for info in self._plan.layers]

    def layer(self, name: str) -> LayerInfo:
        """Return the :class:`LayerInfo` of the layer called ``name``.

        Raises
        ------
        LayerNotFoundError
            If there is no such layer; the message lists close matches.
        """
        step = self._plan.by_name.get(name)
        if step is None:
            raise LayerNotFoundError(name, self._plan.by_name)
        return step.info

    def keras_layer(self, name: str) -> Any:
        """Return the Keras layer object behind the viewable layer ``name``."""
        self.layer(name)
        return self._plan.by_name[name].layer

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        """The model's input shape without the batch axis; None marks a flexible size."""
        return self._plan.input_shape

    # -- inputs ----------------------------------------------------------------------
    def pixels(self, image: ImageLike) -> np.ndarray:
        """Decode, convert channels and resize ``image``; 0-255 float32, before preprocessing.

        The result has the model's input shape (without the batch axis). For a model whose
        input is a signal (:attr:`Plan.input_axes` ``"sequence"``) it is the signal itself,
        float32 (T, C), read by :func:`~cnnviz_widgets.engine.inputs.signal_values`: no
        pixel scale, no resizing.
        """
        shape = self._plan.input_shape
        if self._plan.input_axes == "sequence":
            return signal_values(image, shape)
        channels = shape[-1] if len(shape) == 3 else None
        pixels = fit_channels(decode_image(image), channels)
        return resize(pixels, shape[0], shape[1])

    def prepare(self, image: ImageLike) -> np.ndarray:
        """Return the batch of one that the model receives for ``image``.

        See :mod:`cnnviz_widgets.engine.inputs` for the exact steps.

        Raises
        ------
        ImageDecodeError, ImageShapeError
            If the image cannot be read or does not fit the model (a
            :class:`~cnnviz_widgets.errors.SignalShapeError` for a signal).
        """
        return self._prepare(image)[0]

    def _stacked_pixels(self, items: Any) -> np.ndarray | None:
        """:meth:`pixels` of a whole stack at once when that gives the same values, else None.

        A uint8 image stack that fits the model (see ``stack_pixels``), or a stack of
        signals (N, T, C) of numbers.
        """
        if self._plan.input_axes != "sequence":
            return stack_pixels(items, self._plan.input_shape)
        shape = self._plan.input_shape
        if (isinstance(items, np.ndarray) and items.ndim == 3 and items.shape[2] == shape[1]
                and items.shape[1] == (shape[0] or items.shape[1]) and items.shape[1] > 0
                and items.dtype.kind in "biuf"):
            return items.astype(np.float32)
        return None

    def _prepare(self, image: ImageLike, remember: bool = True) -> tuple[np.ndarray, str]:
        """Return the prepared batch of ``image`` and its cache key.

        The preparation of an array or of encoded bytes is memoised in the activation
        cache, keyed by the image's own content (so a changed array is prepared again)
        and counted against the cache's byte budget like any activation.
        """
        memo_key = _content_key(image)
        if memo_key is not None:
            hit = self._cache.get(memo_key)
            if hit is not None:
                return hit, str(self._cache.source(memo_key))
        batch = np.asarray(self.preprocess(self.pixels(image)[None, ...]), dtype=np.float32)
        self.stats.preparations += 1
        if not np.all(np.isfinite(batch)):
            raise ImageShapeError(
                "Preprocessing the image produced NaN or infinite values; check the "
                "preprocess function given to the engine."
            )
        batch.flags.writeable = False
        key = _fingerprint(batch)
        if memo_key is not None and remember:
            self._cache.put(memo_key, batch, source=key)
        return batch, key

    # -- activations -----------------------------------------------------------------
    def activation(self, name: str, image: ImageLike) -> np.ndarray:
        """Return the output of layer ``name`` for ``image``, without the batch axis.

        Parameters
        ----------
        name : str
            A name from :attr:`layer_names`.
        image : path, bytes, PIL image or numpy array
            The image; see :meth:`prepare`.

        Returns
        -------
        numpy.ndarray
            Read-only array of shape (H, W, C) for spatial layers, (C,) for vectors.

        Raises
        ------
        LayerNotFoundError
            If the model has no such layer.
        LayerNotViewableError
            If the layer's output cannot be returned as one array.
        """
        return self.activations([name], image)[name]

    def activations(self, names: Iterable[str], image: ImageLike) -> dict[str, np.ndarray]:
        """Return ``{name: activation}`` for several layers of one image.

        Shared layers are computed once; see :meth:`activation`.
        """
        names = list(names)
        steps = [self._step(name) for name in names]
        batch, key = self._prepare(image)
        values = self._compute([s.outputs[0] for s in steps], batch, key, count=True)
        return {n: values[s.outputs[0]][0] for n, s in zip(names, steps, strict=True)}

    def features(self, name: str, images: Sequence[ImageLike] | np.ndarray,
                 batch_size: int = 32) -> np.ndarray:
        """Return the activations of layer ``name`` for many images, shape (N, ...).

        Images are run in batches of ``batch_size`` and the results are not cached,
        so this suits exporting features of a whole data set.
        """
        step = self._step(name)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        images = list(images) if not isinstance(images, np.ndarray) else images
        if len(images) == 0:
            return np.zeros((0, *step.info.output_shape), dtype=np.float32)
        chunks = []
        for start in range(0, len(images), batch_size):
            batch = np.concatenate(
                [self._prepare(img, remember=False)[0]
                 for img in images[start:start + batch_size]], axis=0
            )
            values = self._run({self._plan.input_key: batch}, self._needed([step.outputs[0]],
                               lambda k: False))
            chunks.append(np.asarray(values[step.outputs[0]]))
        return np.concatenate(chunks, axis=0)

    def prepared_activation(self, name: str, batch: np.ndarray) -> np.ndarray:
        """Return the output of layer ``name`` for a prepared batch of one, through the cache.

        The batch is keyed by its values, like :meth:`prepare`'s output, so an image the
        user has already explored costs no forward pass at all; otherwise only the layers
        that ``name`` depends on run (without a gradient tape) and their outputs are
        cached. This is how a gradient method starts from the cache and runs only the
        layers after ``name`` under its tape (see ``given=`` of :meth:`forward`).

        Parameters
        ----------
        name : str
            A name from :attr:`layer_names`.
        batch : numpy.ndarray
            A prepared batch of one image, e.g. :meth:`prepare`'s output.

        Returns
        -------
        numpy.ndarray
            Read-only array with the batch axis, shape (1, ...).
        """
        step = self._step(name)
        batch = np.asarray(batch, dtype=np.float32)
        if batch.shape[:1] != (1,):
            raise ValueError(f"prepared_activation needs a batch of one, not {batch.shape}")
        values = self._compute([step.outputs[0]], batch, _array_key(batch), count=True)
        return values[step.outputs[0]]

    def forward(self, batch: Any, layers: Sequence[str] = (),
                on_value: Callable[[str, Any], Any] | None = None,
                stop_at_layers: bool = False,
                given: Mapping[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Run the whole model on ``batch`` as backend tensors, without the cache.

        This is the hook for gradient-based methods: values stay backend tensors, so a
        ``tf.GradientTape`` around the call sees every operation, including those of
        layers inside nested models.

        Parameters
        ----------
        batch : array or tensor
            A prepared batch, e.g. from :meth:`prepare`.
        layers : sequence of str
            Layers whose outputs are also returned.
        on_value : callable, optional
            Called as ``on_value(name, value)`` for each layer in ``layers`` as soon as
            it is computed; if it returns a value, that value replaces the layer's
            output downstream (e.g. a watched or perturbed tensor).
        stop_at_layers : bool
            Run only what ``layers`` need, not the rest of the model; ``output`` is then
            None. Optimising a filter of an early layer then costs only its prefix.
        given : mapping, optional
            ``{name: value}``: outputs of these layers, used instead of computing them;
            only the layers that still need computing run, so a value from
            :meth:`prepared_activation` makes a forward pass that starts there. A given
            layer listed in ``layers`` is passed to ``on_value`` (to be watched) before
            anything else runs. ``batch`` may be None when the given values are enough.

        Returns
        -------
        output : tensor or None
            The model's (first) output.
        values : dict
            ``{name: tensor}`` for the requested ``layers``.
        """
        wanted = {self._step(name).outputs[0]: name for name in layers}
        plan = self._plan
        values: dict[int, Any] = {} if batch is None else {plan.input_key: batch}
        found: dict[str, Any] = {}

        def visit(k: int, v: Any) -> None:
            name = wanted.get(k)
            if name is None:
                return
            if on_value is not None:
                replaced = on_value(name, v)
                if replaced is not None:
                    values[k] = v = replaced
            found[name] = v

        for name, value in (given or {}).items():
            key = self._step(name).outputs[0]
            values[key] = value
            visit(key, value)
        targets = list(wanted) if stop_at_layers else list(plan.output_keys)
        order = self._needed(targets, lambda k: k in values)
        if batch is None and any(plan.input_key in plan.steps[i].inputs for i in order):
            raise ValueError(
                "forward(None, given=...) needs the input batch too: the layers to run "
                f"depend on the model input, not only on {sorted(given or {})}.")
        self._run(values, order, on_output=visit)
        return (None if stop_at_layers else values[plan.output_keys[0]]), found

    def clear_cache(self) -> None:
        """Drop every cached activation and prepared input (other counters are kept)."""
        self._cache.clear()

    # -- internals -------------------------------------------------------------------
    def _step(self, name: str):
        step = self._plan.by_name.get(name)
        if step is None:
            raise LayerNotFoundError(name, self._plan.by_name)
        if len(step.outputs) != 1:
            outputs = set(step.outputs)
            users = [s.info.name for s in self._plan.steps if outputs.intersection(s.inputs)]
            raise LayerNotViewableError(
                f"The layer {name!r} has {len(step.outputs)} outputs; only layers with one "
                "output can be shown. Pick one of the layers that consume its outputs"
                + (f": {', '.join(users)}." if users else ".")
            )
        return step

    def _needed(self, targets: list[int], is_available) -> list[int]:
        """Indices of the steps to run, in plan order, to produce ``targets``."""
        plan = self._plan
        needed: set[int] = set()
        stack = [k for k in targets if not is_available(k)]
        seen: set[int] = set()
        while stack:
            key = stack.pop()
            if key in seen or key == plan.input_key:
                continue
            seen.add(key)
            index = plan.producer[key]
            if index in needed:
                continue
            needed.add(index)
            for k in plan.steps[index].inputs:
                if not is_available(k):
                    stack.append(k)
        return sorted(needed)

    def _run(self, values: dict[int, Any], order: list[int], on_output=None) -> dict[int, Any]:
        steps = self._plan.steps
        for index in order:
            step = steps[index]
            try:
                outputs = step.call(values)
            except CnnvizError:
                raise
            except Exception as exc:  # noqa: BLE001 - a backend error becomes a clear message
                raise self._compute_error(step, values, exc) from exc
            self.stats.layer_evaluations += 1
            for k, v in zip(step.outputs, outputs, strict=True):
                values[k] = v
                if on_output is not None:
                    on_output(k, v)  # may replace values[k]
        return values

    def _compute_error(self, step: Any, values: dict[int, Any], exc: Exception) -> CnnvizError:
        shapes = [tuple(getattr(values.get(k), "shape", ())) for k in step.inputs]
        shown = ", ".join(str(s) for s in shapes) or "?"
        reason = re.sub(r"\x1b\[[0-9;]*m|\{\{function_node [^}]*\}\}", "", str(exc))
        reason = reason.split("Arguments received by")[0]
        reason = " ".join(reason.replace("Exception encountered when calling", "")
                          .split())[:300] or type(exc).__name__
        hint = "Check that the model itself runs on this input: model(engine.prepare(image))."
        if self._plan.input_axes != "sequence" and None in self._plan.input_shape[:2]:
            size = "x".join(str(s) for s in shapes[0][1:3]) if shapes and shapes[0] else "?"
            hint = (f"This model accepts any image size, and the input ({size} pixels at this "
                    "layer) may be too small for it; use a larger image (e.g. at least 32 x 32 "
                    "pixels) or resize it first.")
        return LayerComputeError(
            f"The layer {step.info.name!r} ({step.info.class_name}) failed on an input of "
            f"shape {shown}: {type(exc).__name__}: {reason} {hint}"
        )

    def _compute(self, targets: list[int], batch: np.ndarray, image_key: str,
                 count: bool) -> dict[int, np.ndarray]:
        cache = self._cache
        values: dict[int, Any] = {}
        for k in targets:
            hit = cache.get((image_key, k))
            if hit is not None:
                values[k] = hit
        if len(values) == len(set(targets)):
            if count:
                self.stats.cache_hits += 1
            return values
        if count:
            self.stats.cache_misses += 1

        def available(k: int) -> bool:
            if k in values:
                return True
            cached = cache.get((image_key, k))
            if cached is not None:
                source = cache.source((image_key, k))
                values[k] = cached if source is None else source
                return True
            return False

        values[self._plan.input_key] = batch
        order = self._needed(targets, available)

        arrays: dict[int, np.ndarray] = {k: v for k, v in values.items() if k in targets}

        def store(k: int, v: Any) -> None:
            # a numpy view of the backend tensor (no copy) goes to the cache; the tensor
            # itself stays in ``values`` so the next layer needs no conversion either
            arr = np.asarray(v)
            arr.flags.writeable = False  # read-only even when the cache cannot keep it
            cache.put((image_key, k), arr, source=None if isinstance(v, np.ndarray) else v)
            arrays[k] = arr

        self._run(values, order, on_output=store)
        return {k: arrays[k] for k in targets}
