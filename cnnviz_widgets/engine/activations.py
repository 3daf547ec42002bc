"""The lazy activation engine: layer outputs as numpy arrays, computed only when asked."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..checks import whole_number
from ..errors import CnnvizError, ImageShapeError, InvalidSettingError
from .backend import no_gradient
from .cache import ActivationCache, CacheStats, array_key, content_key, fingerprint
from .fixed import FixedInputs
from .inputs import (
    ImageLike,
    Preprocess,
    decode_image,
    default_preprocess,
    fit_channels,
    resize,
    signal_values,
)
from .layers import LayerInfo, Plan, View, build_plan, check_input
from .lookup import compute_error, lookup, view_of
from .volumes import volume_values

__all__ = ["ActivationEngine"]


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
        A built Sequential or Functional model whose input is an image, (H, W, C) or
        (H, W), a signal (T, C) for a model of 1-D layers, or a volume or video
        (D, H, W, C) for a model of 3-D layers (see ``image_input`` for a
        model with several inputs). Models used as layers inside it (backbones) are
        expanded into their own layers, named by path such as ``"vgg16/block3_conv1"``.
    preprocess : callable, optional
        Maps a batch of 0-255 pixel values, shape (1, H, W, C), to what the model
        expects. By default: the matching ``keras.applications`` ``preprocess_input``
        for the models it knows by name (vgg16, vgg19, resnet50, ...), and division
        by 255 for every other model. Pass ``lambda x: x`` to feed raw 0-255 values.
        A signal is not pixels: its default is the identity, and the function gets
        the batch of the signal's own values, shape (1, T, C).
    cache_bytes : int, optional
        Byte budget of the cache (default 512 MiB). It holds the activations and the
        prepared inputs of array and bytes images (memoised by content), so the engine
        never keeps more than this many bytes however many images it sees.
    output : int or str, optional
        For a model with several outputs, the one :meth:`forward` returns as ``output``
        (what Grad-CAM and saliency differentiate): its index or its name, one of
        :attr:`output_names` (default: the first).
    image_input : int or str, optional
        For a model with several inputs, the one that takes the image (or signal): its
        name or index. Required for such a model.
    other_inputs : mapping, optional
        For a model with several inputs, ``{name: values}`` for every other input, each
        without a batch axis (or with a batch axis of 1). They are held fixed: every
        image the engine runs, alone or in a batch (scans, features, gradients), is fed
        with them. See :attr:`other_inputs`.

    Notes
    -----
    Each output of a layer with several outputs is a layer of its own, named
    ``name[i]`` (``"split[0]"``, ``"split[1]"``); ``"split:0"`` is accepted too, unless
    a layer call has that name (the second call of a shared layer is ``name:2``).

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
        output: int | str = 0,
        image_input: int | str | None = None,
        other_inputs: Mapping[str, Any] | None = None,
    ):
        self.model = model
        self._plan: Plan = build_plan(model, output=output, image_input=image_input)
        check_input(self._plan)
        self.stats = CacheStats()
        self._cache = ActivationCache(cache_bytes, self.stats)
        self.other_inputs = other_inputs
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

    @property
    def other_inputs(self) -> dict[str, np.ndarray]:
        """``{name: values}`` held fixed for the model's other inputs (read-only arrays
        without the batch axis); empty for a model with one input.

        Setting it checks the values against the model's inputs and clears the cache
        (activations depend on them), like setting :attr:`preprocess`.
        """
        return self._fixed.by_name()

    @other_inputs.setter
    def other_inputs(self, values: Mapping[str, Any] | None) -> None:
        self._fixed = FixedInputs(self._plan, values)
        self._cache.clear()
        for compiled in ("_scan_reducers", "_gradient_functions"):  # traced with the old values
            self.__dict__.pop(compiled, None)

    # -- layers ----------------------------------------------------------------------
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
        return list(self._plan.views)

    @property
    def output_names(self) -> list[str]:
        """Names of the model's outputs (the layers that give them), in the model's order."""
        return list(self._plan.output_names)

    @property
    def output(self) -> str:
        """Name of the output :meth:`forward` returns (``output=`` of the constructor)."""
        return self._plan.output_names[self._plan.output_index]

    def layer(self, name: str) -> LayerInfo:
        """Return the :class:`LayerInfo` of the layer called ``name``.

        A layer with several outputs has an entry per output (``"split[0]"``) and one
        under its own name (``"split"``), which describes the layer but cannot be shown.

        Raises
        ------
        LayerNotFoundError
            If there is no such layer; the message lists close matches.
        InvalidSettingError
            If ``name`` is not a string (a layer is named, never numbered).
        """
        view, step = self._lookup(name)
        return view.info if view is not None else step.info

    def viewable(self, name: str) -> LayerInfo:
        """Return the :class:`LayerInfo` of ``name`` when its output can be computed as one
        array (by :meth:`activation`, :meth:`batch_activations`, a scan), else say why not.

        Every name of :attr:`layer_names` can; a layer with several outputs cannot under
        its own name, only each of its outputs (``"split[0]"``, ``"split[1]"``).

        Raises
        ------
        LayerNotFoundError
            If there is no such layer; the message lists close matches.
        LayerNotViewableError
            If the layer's output cannot be returned as one array; the message says which
            names to pick instead.
        InvalidSettingError
            If ``name`` is not a string.
        """
        return self._view(name).info

    def keras_layer(self, name: str) -> Any:
        """Return the Keras layer object behind the viewable layer ``name``."""
        return self._lookup(name)[1].layer

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
        pixel scale, no resizing. A volume (``"volume"``) is float32 (D, H, W, C), read by
        :func:`~cnnviz_widgets.engine.volumes.volume_values`: 0-255 like an image, not resized.
        """
        shape = self._plan.input_shape
        if self._plan.input_axes == "sequence":
            return signal_values(image, shape)
        if self._plan.input_axes == "volume":
            return volume_values(image, shape)
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

    def _prepare(self, image: ImageLike, remember: bool = True) -> tuple[np.ndarray, str]:
        """Return the prepared batch of ``image`` and its cache key.

        The preparation of an array or of encoded bytes is memoised in the activation
        cache, keyed by the image's own content (so a changed array is prepared again)
        and counted against the cache's byte budget like any activation.
        """
        memo_key = content_key(image)
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
        key = fingerprint(batch)
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
            Read-only array of shape (H, W, C) for spatial layers, (D, H, W, C) for the
            layers of a volume, (C,) for vectors.

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
        keys = [self._view(name).key for name in names]
        batch, key = self._prepare(image)
        values = self._compute(keys, batch, key, count=True)
        return {n: values[k][0] for n, k in zip(names, keys, strict=True)}

    def features(self, name: str, images: Sequence[ImageLike] | np.ndarray,
                 batch_size: int = 32) -> np.ndarray:
        """Return the activations of layer ``name`` for many images, shape (N, ...).

        Images are run in batches of ``batch_size`` and the results are not cached,
        so this suits exporting features of a whole data set.
        """
        view = self._view(name)
        batch_size = whole_number(batch_size, "batch_size")
        images = list(images) if not isinstance(images, np.ndarray) else images
        if len(images) == 0:
            return np.zeros((0, *view.info.output_shape), dtype=np.float32)
        chunks = []
        for start in range(0, len(images), batch_size):
            batch = np.concatenate(
                [self._prepare(img, remember=False)[0]
                 for img in images[start:start + batch_size]], axis=0
            )
            chunks.append(np.asarray(self.batch_activations(batch, [name])[name]))
        return np.concatenate(chunks, axis=0)

    def batch_activations(self, batch: Any, layers: Sequence[str]) -> dict[str, Any]:
        """Return the outputs of ``layers`` for a prepared batch, as backend tensors.

        Only the layers that ``layers`` depend on run, each once, all in one pass, without
        the cache and without recording gradients; the model's other inputs get their
        fixed values (:attr:`other_inputs`) repeated to the size of the batch. This is the
        batch entry of the engine, for many images at a time (:meth:`features`, a scan):
        it can run inside a compiled function (``tf.function``, ``jax.jit``), where the
        size of the batch may not be known.

        Parameters
        ----------
        batch : array or tensor
            A prepared batch (N, ...) for the image input: :attr:`preprocess` of
            :meth:`pixels` stacked, e.g. :meth:`prepare` outputs concatenated.
        layers : sequence of str
            Names from :attr:`layer_names`.

        Returns
        -------
        dict
            ``{name: tensor}``: each layer's output (N, ...) as a backend tensor
            (``np.asarray`` makes an array of it).

        Raises
        ------
        LayerNotFoundError, LayerNotViewableError, InvalidSettingError
            For a name that is not one of :attr:`layer_names` (see :meth:`viewable`).
        LayerComputeError
            If a layer fails on the batch.
        """
        keys = {name: self._view(name).key for name in layers}
        order = self._plan.needed(list(keys.values()))
        with no_gradient():  # the values feed numpy only
            values = self._run(self._fixed.feed(batch), order)
        return {name: values[key] for name, key in keys.items()}

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
        key = self._view(name).key
        batch = np.asarray(batch, dtype=np.float32)
        if batch.shape[:1] != (1,):
            raise ImageShapeError(f"prepared_activation needs a batch of one, shape (1, ...); "
                                  f"got shape {batch.shape}. Pass engine.prepare(image).")
        values = self._compute([key], batch, array_key(batch), count=True)
        return values[key]

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
            The model's output (for a model with several, the one chosen by ``output=``
            of the constructor, see :attr:`output`).
        values : dict
            ``{name: tensor}`` for the requested ``layers``.
        """
        wanted = {self._view(name).key: name for name in layers}
        plan = self._plan
        values = self._fixed.feed(batch, next(iter((given or {}).values()), None))
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
            key = self._view(name).key
            values[key] = value
            visit(key, value)
        targets = list(wanted) if stop_at_layers else [plan.output_key]
        order = self._needed(targets, lambda k: k in values)
        if batch is None and any(plan.input_key in plan.steps[i].inputs for i in order):
            raise InvalidSettingError(
                "forward(None, given=...) needs the input batch too: the layers to run "
                f"depend on the model input, not only on {sorted(given or {})}.")
        self._run(values, order, on_output=visit)
        return (None if stop_at_layers else values[plan.output_key]), found

    def clear_cache(self) -> None:
        """Drop every cached activation and prepared input (other counters are kept)."""
        self._cache.clear()

    def forget_after(self, name: str) -> int:
        """Drop the cached activations that depend on layer ``name``'s weights.

        Those are the outputs of every call of the layer and of every layer computed from
        them; the layers before it, and the prepared inputs, stay cached. Call it after
        changing the layer's weights in place.

        Returns
        -------
        int
            How many cached arrays were dropped.
        """
        layer = self._lookup(name)[1].layer
        stale: set[int] = set()
        for step in self._plan.steps:  # topological order
            if step.layer is layer or stale.intersection(step.inputs):
                stale.update(step.outputs)
        return self._cache.discard(
            lambda key: not (isinstance(key, tuple) and len(key) == 2
                             and isinstance(key[1], int) and key[1] in stale))

    # -- internals -------------------------------------------------------------------
    def _lookup(self, name: str) -> tuple[View | None, Any]:
        """The view called ``name`` and its step (see :func:`.lookup.lookup`)."""
        return lookup(self._plan, name)

    def _view(self, name: str) -> View:
        """The viewable output called ``name`` (see :func:`.lookup.view_of`)."""
        return view_of(self._plan, name)

    def _needed(self, targets: list[int], is_available: Callable[[int], bool]) -> list[int]:
        """Indices of the steps to run, in plan order, to produce ``targets``."""
        return self._plan.needed(targets, is_available)

    def _run(self, values: dict[int, Any], order: list[int], on_output=None) -> dict[int, Any]:
        steps = self._plan.steps
        for index in order:
            step = steps[index]
            try:
                outputs = step.call(values)
            except CnnvizError:
                raise
            except Exception as exc:  # noqa: BLE001 - a backend error becomes a clear message
                raise compute_error(self._plan, step, values, exc) from exc
            self.stats.layer_evaluations += 1
            for k, v in zip(step.outputs, outputs, strict=True):
                values[k] = v
                if on_output is not None:
                    on_output(k, v)  # may replace values[k]
        return values

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

        values.update(self._fixed.feed(batch))
        order = self._needed(targets, available)

        arrays: dict[int, np.ndarray] = {k: v for k, v in values.items() if k in targets}

        def store(k: int, v: Any) -> None:
            # a numpy view of the backend tensor (no copy) goes to the cache; the tensor
            # itself stays in ``values`` so the next layer needs no conversion either
            arr = np.asarray(v)
            arr.flags.writeable = False  # read-only even when the cache cannot keep it
            cache.put((image_key, k), arr, source=None if isinstance(v, np.ndarray) else v)
            arrays[k] = arr

        with no_gradient():
            self._run(values, order, on_output=store)
        return {k: arrays[k] for k in targets}
