"""Finding a layer of a plan by name, with a clear error for a name that is not one."""

from __future__ import annotations

import re
from typing import Any

from ..errors import (
    CnnvizError,
    InvalidSettingError,
    LayerComputeError,
    LayerNotFoundError,
    LayerNotViewableError,
)
from .layers import Plan, View

__all__ = ["compute_error", "lookup", "view_of"]


def lookup(plan: Plan, name: str) -> tuple[View | None, Any]:
    """The view called ``name`` (None for a layer not viewable under it) and its step.

    Every lookup of a layer by name passes here: a name that is not a string, or not a
    layer of the model, is refused with what to give instead.
    """
    if not isinstance(name, str):
        names = list(plan.views)
        example = f", such as {names[-1]!r}" if names else ""
        raise InvalidSettingError(
            f"A layer is named by a string{example}, not {name!r} "
            f"({type(name).__name__}). engine.layer_names lists the names of every "
            "layer that can be shown (engine.layers describes them).")
    view = plan.view(name)
    if view is not None:
        return view, view.step
    step = plan.by_name.get(name)
    if step is None:
        raise LayerNotFoundError(name, plan.views)
    return None, step


def view_of(plan: Plan, name: str) -> View:
    """The viewable output called ``name``; a clear error for any other name."""
    view, step = lookup(plan, name)
    if view is not None:
        return view
    if not step.output_infos:
        raise LayerNotViewableError(
            f"The layer {name!r} returns {step.info.n_outputs} tensors as one structure "
            "(a list, tuple or dict) that cannot be shown as one array. Pick a layer "
            "before it, or build the model with the functional API, where each of its "
            "outputs is a layer of its own (name[0], name[1], ...)."
        )
    shown = " or ".join(repr(info.name) for info in step.output_infos)
    raise LayerNotViewableError(
        f"The layer {name!r} has {step.info.n_outputs} outputs; each is shown on its "
        f"own: pick {shown}."
    )


def compute_error(plan: Plan, step: Any, values: dict[int, Any], exc: Exception) -> CnnvizError:
    """The error for a layer of ``plan`` that failed while computing: which layer, on which
    input shapes, the backend's reason in a few words, and what to check."""
    shapes = [tuple(getattr(values.get(k), "shape", ())) for k in step.inputs]
    shown = ", ".join(str(s) for s in shapes) or "?"
    reason = re.sub(r"\x1b\[[0-9;]*m|\{\{function_node [^}]*\}\}", "", str(exc))
    reason = reason.split("Arguments received by")[0]
    reason = " ".join(reason.replace("Exception encountered when calling", "")
                      .split())[:300] or type(exc).__name__
    hint = "Check that the model itself runs on this input: model(engine.prepare(image))."
    if plan.input_axes != "sequence" and None in plan.input_shape[:2]:
        size = "x".join(str(s) for s in shapes[0][1:3]) if shapes and shapes[0] else "?"
        hint = (f"This model accepts any image size, and the input ({size} pixels at this "
                "layer) may be too small for it; use a larger image (e.g. at least 32 x 32 "
                "pixels) or resize it first.")
    return LayerComputeError(
        f"The layer {step.info.name!r} ({step.info.class_name}) failed on an input of "
        f"shape {shown}: {type(exc).__name__}: {reason} {hint}"
    )
