"""The values held fixed for a model's other inputs, fed with every batch of images.

A model with several inputs has one image input; the engine holds the others at fixed
values (``other_inputs=``). :class:`FixedInputs` checks those values against the model's
inputs (a clear error says what to give instead) and feeds them, repeated to the size of
each batch, next to the image batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._keras import keras
from ..errors import UnsupportedModelError
from .layers import ModelInput, Plan, inputs_call

__all__ = ["FixedInputs"]

#: Batch sizes whose repeated values are kept (a scan uses one or two).
_KEPT_SIZES = 8


class FixedInputs:
    """The fixed values of a model's inputs other than the image, and the feed of a batch.

    Parameters
    ----------
    plan : Plan
        The model's plan (its inputs, and which is the image input).
    values : mapping or None
        ``{name: values}`` for every input other than the image, each without a batch axis
        (or with a batch axis of 1); None for a model with one input.

    Raises
    ------
    UnsupportedModelError
        If the values do not match the model's other inputs (missing, unknown, of the
        wrong shape or not finite), or a model with one input is given some.
    """

    def __init__(self, plan: Plan, values: Mapping[str, Any] | None) -> None:
        self._plan = plan
        #: ``{input key: (1, ...) read-only array}``.
        self.values: dict[int, np.ndarray] = _checked(plan, values)
        self._batches: dict[int, dict[int, np.ndarray]] = {}

    def by_name(self) -> dict[str, np.ndarray]:
        """``{name: values}``: read-only arrays without the batch axis."""
        names = {i.key: i.name for i in self._plan.other_inputs}
        return {names[k]: v[0] for k, v in self.values.items()}

    def feed(self, batch: Any, size: Any = None) -> dict[int, Any]:
        """The plan's input values for a prepared ``batch``: the image batch under the
        image input's key and every fixed input repeated to the batch's size.

        ``batch`` may be None (then ``size``, a value whose first axis is the batch, gives
        the size). Inside a compiled function whose batch size is not known, the fixed
        inputs are broadcast in the graph.
        """
        values: dict[int, Any] = {} if batch is None else {self._plan.input_key: batch}
        if not self.values:
            return values
        like = batch if batch is not None else size
        n = None if like is None else like.shape[0]
        if isinstance(n, (int, np.integer)):
            # repeated once per size as numpy; made a tensor on each call, so that a call
            # inside a compiled function gets a constant of its own graph
            n = int(n)
            known = self._batches.get(n)
            if known is None:
                if len(self._batches) >= _KEPT_SIZES:
                    self._batches.clear()
                known = self._batches[n] = {k: np.repeat(v, n, axis=0)
                                            for k, v in self.values.items()}
            for k, v in known.items():
                values[k] = keras.ops.convert_to_tensor(v)
            return values
        count = keras.ops.shape(like)[0] if like is not None else 1
        for k, v in self.values.items():
            values[k] = keras.ops.broadcast_to(v, (count, *v.shape[1:]))
        return values


def _checked(plan: Plan, values: Mapping[str, Any] | None) -> dict[int, np.ndarray]:
    """``{input key: (1, ...) read-only array}`` for the other inputs, or a clear error."""
    others = plan.other_inputs
    call = inputs_call(plan.inputs, plan.input_name)
    listed = ", ".join(i.label for i in plan.inputs)
    if not others:
        if values:
            raise UnsupportedModelError(
                f"other_inputs={sorted(values)!r} was given, but the model has only "
                f"the input {plan.input_name!r}; leave other_inputs out."
            )
        return {}
    if not isinstance(values, Mapping):
        what = "no other_inputs" if values is None else f"other_inputs of type " \
            f"{type(values).__name__}"
        raise UnsupportedModelError(
            f"The model has {len(plan.inputs)} inputs ({listed}) and got {what}. Pass "
            f"the values of the inputs other than the image as a dict, e.g. {call}."
        )
    by_name = {i.name: i for i in others}
    unknown = [name for name in values if name not in by_name]
    missing = [name for name in by_name if name not in values]
    if unknown or missing:
        words = []
        if unknown:
            image = " (it is the image input)" if plan.input_name in unknown else ""
            words.append(f"not other inputs of the model: {unknown!r}{image}")
        if missing:
            words.append(f"missing: {missing!r}")
        raise UnsupportedModelError(
            f"other_inputs does not match the model's inputs ({listed}): "
            f"{'; '.join(words)}. Give every input except the image, e.g. {call}."
        )
    return {by_name[name].key: _fixed_value(by_name[name], values[name], call)
            for name in by_name}


def _fixed_value(spec: ModelInput, value: Any, call: str) -> np.ndarray:
    """One fixed input as a read-only (1, ...) array of the input's dtype."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    try:
        arr = np.array(value, dtype=spec.dtype)
    except (TypeError, ValueError) as exc:
        raise UnsupportedModelError(
            f"The value of the input {spec.name!r} cannot be read as {spec.dtype} "
            f"numbers ({exc}); pass an array of shape {spec.shape}, e.g. {call}."
        ) from exc
    shape = arr.shape[1:] if arr.ndim == len(spec.shape) + 1 and arr.shape[0] == 1 \
        else arr.shape
    fits = len(shape) == len(spec.shape) and all(
        want is None or want == got for want, got in zip(spec.shape, shape, strict=True))
    if not fits:
        raise UnsupportedModelError(
            f"The value of the input {spec.name!r} has shape {arr.shape}; the model takes "
            f"{spec.shape} (without the batch axis, or with a batch axis of 1). "
            f"For example: {call}."
        )
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise UnsupportedModelError(
            f"The value of the input {spec.name!r} contains NaN or infinite values; "
            "replace them, e.g. with np.nan_to_num(values)."
        )
    arr = arr.reshape((1, *shape))
    arr.flags.writeable = False
    return arr
