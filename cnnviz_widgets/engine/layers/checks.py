"""Whether the engine can show a model: its image input checked, with what to do instead."""

from __future__ import annotations

from ...errors import UnsupportedModelError
from .plan import Plan

__all__ = ["check_input"]

_SUPPORTED = ("The engine shows models whose input is an image, (H, W, C) or (H, W), a "
              "signal (T, C) of numbers for 1-D convolutions, or a volume or video "
              "(D, H, W, C) for 3-D convolutions.")


def check_input(plan: Plan) -> None:
    """Raise a clear :class:`UnsupportedModelError` when the engine cannot show the model.

    Supported image inputs are (H, W, C) with a fixed C and (H, W); a signal is (T, C)
    and a volume (D, H, W, C), each with a fixed C. The message says what the input looks
    like (token ids, more than three spatial axes, a vector of features, channels of unknown
    number) and what to do instead.
    """
    shape, axes = tuple(plan.input_shape), plan.input_axes
    spec = next((i for i in plan.inputs if i.key == plan.input_key), None)
    dtype = spec.dtype if spec is not None else "float32"
    shown = f"{(None, *shape)} {dtype}"
    integer = "int" in dtype
    readers = [step for step in plan.steps if plan.input_key in step.inputs]
    embedding = next((step for step in readers if step.info.class_name == "Embedding"), None)
    if integer and (len(shape) == 1 or embedding is not None):
        name = embedding.info.name if embedding is not None else "embedding"
        after = next((v.info.name for v in plan.views.values()
                      if embedding is not None and embedding.outputs[0] in v.step.inputs),
                     "a_layer")
        raise UnsupportedModelError(
            f"The model's input {shown} is integer token ids (text), not an image or a "
            f"signal. {_SUPPORTED} For a text model, explore what comes after the embedding, "
            "whose output is a signal (T, C): build "
            f"sub = keras.Model(model.get_layer({name!r}).output, model.output), embed the "
            f"tokens of a text with embedded = keras.Model(model.input, "
            f"model.get_layer({name!r}).output)(token_ids[None])[0], then use "
            f"ActivationEngine(sub).activation({after!r}, embedded)."
        )
    if len(shape) >= 5:
        what = (f"{len(shape) - 1} axes of positions and one of channels, more than a volume "
                "or a video (depth or frames, height, width, channels)")
        later = next((v.info.name for v in plan.views.values()
                      if v.info.layout in ("image", "volume")), None)
        todo = ("Explore one slice of it with a model of fewer axes, or build a sub-model that "
                "starts where the data is (D, H, W, C) or (H, W, C)"
                + (f", e.g. keras.Model(model.get_layer({later!r}).output, model.output)."
                   if later else "."))
        raise UnsupportedModelError(f"The model's input {shown} is {what}. {_SUPPORTED} "
                                    f"{todo}")
    if (len(shape) in (3, 4) or axes == "sequence") and shape[-1] is None:
        fixed = {3: (*shape[:2], 3), 4: (*shape[:3], 1)}.get(len(shape), (shape[0], 2))
        example = "(" + ", ".join(str(s) for s in fixed) + ")"
        raise UnsupportedModelError(
            f"The model's input {shown} has no fixed number of channels (the last axis is "
            f"None), so its layers have no fixed shape to show. {_SUPPORTED} Build the model "
            f"with a fixed channel count, e.g. keras.Input({example}), and load the weights "
            "into it (model.load_weights(...) or set_weights)."
        )
    if len(shape) == 1 or len(shape) == 0:
        raise UnsupportedModelError(
            f"The model's input {shown} is a vector of numbers, not an image or a signal. "
            f"{_SUPPORTED} A model of Dense layers on such features has no maps to show."
        )
