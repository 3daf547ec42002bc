"""The one place where "a model or an engine" becomes an engine, and images become a list.

A model given as the path of a ``.keras`` file, where an entry point takes one (a scan
does, ``paths=True``), is opened here too, with :func:`cnnviz_widgets.io.load_model`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidSettingError
from ..io import load_model
from .activations import ActivationEngine
from .volumes import is_one_volume

__all__ = ["as_engine", "image_list", "image_names", "unwrap_sample"]


def as_engine(model_or_engine: Any, *, preprocess: Any = None,
              cache_bytes: int | None = None, image_input: int | str | None = None,
              other_inputs: Any = None, output: int | str | None = None,
              paths: bool = False, safe_mode: bool = True) -> ActivationEngine:
    """Return ``model_or_engine`` when it is an engine, else a new engine around the model.

    Parameters
    ----------
    model_or_engine : keras.Model, ActivationEngine, str or path
        What the caller was given; with ``paths=True`` a ``str`` or ``os.PathLike`` is the
        path of a model file, opened with :func:`cnnviz_widgets.io.load_model`.
    preprocess, cache_bytes : optional
        Passed to :class:`ActivationEngine` when a new engine is built; ignored for an
        engine (it keeps its own).
    image_input, other_inputs, output : optional
        Passed to :class:`ActivationEngine` when a new engine is built (a model with
        several inputs or outputs). An engine keeps its own; giving values that differ
        from the engine's is an error rather than silently ignored.
    paths : bool
        Accept the path of a model file (without it, a path is refused like any other
        object that is not a model: panels take a model or an engine).
    safe_mode : bool
        For a path: passed to :func:`~cnnviz_widgets.io.load_model` (False only for a
        file you trust).

    Returns
    -------
    ActivationEngine

    Raises
    ------
    ModelFileError, UnsafeModelFileError
        For a path whose file is not a model that can be opened safely.
    InvalidSettingError
        If an engine is given with ``image_input``, ``other_inputs`` or ``output`` that
        differ from its own.
    """
    if isinstance(model_or_engine, ActivationEngine):
        _check_same_inputs(model_or_engine, image_input, other_inputs, output)
        return model_or_engine
    if paths and isinstance(model_or_engine, (str, os.PathLike)):
        model_or_engine = load_model(model_or_engine, safe_mode=safe_mode)
    kwargs: dict[str, Any] = {"preprocess": preprocess, "image_input": image_input,
                              "other_inputs": other_inputs}
    if cache_bytes is not None:
        kwargs["cache_bytes"] = int(cache_bytes)
    if output is not None:
        kwargs["output"] = output
    return ActivationEngine(model_or_engine, **kwargs)


def _check_same_inputs(engine: ActivationEngine, image_input: Any, other_inputs: Any,
                       output: Any) -> None:
    """Refuse settings for an engine that it was not built with."""
    if image_input is None and other_inputs is None and output is None:
        return
    plan = engine.plan
    names = [i.name for i in plan.inputs]
    differs = []
    if image_input is not None and image_input not in (plan.input_name,
                                                       names.index(plan.input_name)):
        differs.append(f"image_input={image_input!r} (the engine's is {plan.input_name!r})")
    if output is not None and output not in (engine.output, plan.output_index):
        differs.append(f"output={output!r} (the engine's is {engine.output!r})")
    if other_inputs is not None and not _same_values(other_inputs, engine.other_inputs):
        differs.append("other_inputs (not the engine's values)")
    if differs:
        raise InvalidSettingError(
            "An engine was given with settings it was not built with: " + "; ".join(differs)
            + ". Set engine.other_inputs = {...} to change the fixed inputs, or pass the "
            "model instead of the engine to build a new one."
        )


def _same_values(given: Any, mine: dict[str, np.ndarray]) -> bool:
    """True when ``given`` holds the same inputs and values as ``mine``."""
    if not isinstance(given, Mapping) or set(given) != set(mine):
        return False
    for name, value in mine.items():
        arr = np.asarray(given[name])
        if arr.size != value.size or not np.array_equal(arr.reshape(value.shape), value):
            return False
    return True


def _frozen(image: Any) -> Any:
    """A read-only copy of an array image; other kinds of image are kept as they are."""
    if isinstance(image, np.ndarray) and image.flags.writeable:
        image = image.copy()
        image.flags.writeable = False
    return image


def _is_one_array_image(images: np.ndarray, input_shape: tuple[int | None, ...]) -> bool:
    """True when an array is one image of a model with ``input_shape`` (no batch axis).

    (H, W) is one image; (H, W, C) is one image when C is 1, 3 or 4 and suits the model
    (its channel count, or RGB(A) that can be converted); everything else with a
    leading axis is a stack. For a model whose input is a signal (T, C) (an
    ``input_shape`` whose ``axes`` is ``"sequence"``, as ``engine.input_shape``), (T, C)
    and (T,) are one signal and (N, T, C) a stack, as is (N, T) for one channel. For a
    volume (D, H, W, C) see :func:`~cnnviz_widgets.engine.volumes.is_one_volume`.
    """
    if getattr(input_shape, "axes", None) == "volume":
        return is_one_volume(images, input_shape)
    if _is_signal(input_shape):
        if images.ndim == 1:
            return True
        return images.ndim == 2 and (input_shape[-1] != 1 or images.shape[-1] == 1)
    if images.ndim == 2:
        return True
    if images.ndim != 3:
        return False
    channels = input_shape[-1] if len(input_shape) == 3 else None
    last = images.shape[-1]
    return last in (1, 3, 4) and last in (channels, 3, 4)


def _is_signal(input_shape: tuple[int | None, ...]) -> bool:
    return getattr(input_shape, "axes", None) == "sequence"


def _items(images: Any, input_shape: tuple[int | None, ...]) -> list[Any]:
    """The items of ``images`` before unwrapping (see :func:`image_list`)."""
    if images is None:
        return []
    if isinstance(images, np.ndarray):
        if _is_one_array_image(images, input_shape):
            return [_frozen(images)]
        return list(_frozen(images))  # rows of a read-only array are read-only
    if (isinstance(images, (str, bytes, os.PathLike)) or hasattr(images, "getpixel")
            or _is_sample(images)):
        return [images]
    return [_frozen(image) for image in images]


def image_names(images: Any, input_shape: tuple[int | None, ...]) -> list[str]:
    """Display names of the images :func:`image_list` gives, in the same order.

    A zoo ``Sample`` gives its name, a path its file stem, anything else ``"image i"``
    (``"signal i"`` for a model whose input is a signal, ``"volume i"`` for a volume).
    """
    names = []
    what = ("signal" if _is_signal(input_shape) else
            "volume" if getattr(input_shape, "axes", None) == "volume" else "image")
    for i, item in enumerate(_items(images, input_shape)):
        if _is_sample(item) and isinstance(item.name, str) and item.name:
            names.append(item.name)
        elif isinstance(item, (str, os.PathLike)) and Path(item).stem:
            names.append(Path(item).stem)
        else:
            names.append(f"{what} {i}")
    return names


def image_list(images: Any, input_shape: tuple[int | None, ...]) -> list[Any]:
    """Split ``images`` into a list of single images, the same way everywhere.

    Parameters
    ----------
    images : image, sequence of images, or array
        One path, bytes, PIL image or array, or a sequence of them. A numpy array is
        one image when it is (H, W), or (H, W, C) with C of 1, 3 or 4 that suits the
        model; otherwise it is a stack (N, ...) of N images. An object with ``image``
        and ``name`` attributes (a zoo ``Sample``) stands for its pixels. For a model
        whose input is a signal, an array (T, C) (or (T,) for one channel) is one signal
        and (N, T, C) a stack of N signals.
    input_shape : tuple
        The model's input shape without the batch axis (``engine.input_shape``).

    Returns
    -------
    list
        Single images; arrays are read-only copies (so their preparation can be
        memoised safely). Empty for None.
    """
    return [_frozen(unwrap_sample(item)) for item in _items(images, input_shape)]


def _is_sample(obj: Any) -> bool:
    return hasattr(obj, "image") and hasattr(obj, "name") and not hasattr(obj, "getpixel")


def unwrap_sample(image: Any) -> Any:
    """A zoo ``Sample`` (anything with ``.image`` and ``.name``) stands for its pixels."""
    return image.image if _is_sample(image) else image
