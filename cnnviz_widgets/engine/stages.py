"""The stages of a network: one layer per resolution, for overviews of a whole model.

A *stage* is a run of layers, in the order the model computes them, that share one
resolution: the *jump* of their positions in input pixels (see
:mod:`~cnnviz_widgets.engine.receptive`). :func:`stage_layers` is the one definition of a
stage used by the block overview, the exported page's default layers, a scan's default
layers and anything else that shows "one layer per stage".
"""

from __future__ import annotations

from typing import Any

from .receptive import has_positions, plan_of, receptive_fields

__all__ = ["FEATURE_KINDS", "stage_layers"]

#: Layer kinds that compute new features; pooling, dropout and reshaping layers only
#: move or drop values, so a stage never ends on one of them.
FEATURE_KINDS = frozenset({"conv", "activation", "normalization", "merge", "other"})


def stage_layers(model_or_engine: Any) -> list[str]:
    """Return the last feature layer of every stage (resolution) of the network.

    A stage is a run of layers, in the order the model computes them, that share the
    same resolution: the same *jump* along the rows and the columns (product of the
    strides of all convolutions and poolings so far, see
    :func:`~cnnviz_widgets.engine.receptive.receptive_fields`).
    Among spatial layers of the kinds in :data:`FEATURE_KINDS` (conv, activation,
    normalization, merge, other), the last one before each change of resolution ends a
    stage, and the last of them all ends the final stage. Using strides rather than
    output sizes makes the rule work for models with a flexible input size and ignores
    the slight shrinking of "valid" convolutions.

    Parameters
    ----------
    model_or_engine : keras.Model or ActivationEngine
        The model, or an engine built on it.

    Returns
    -------
    list of str
        Layer names in model order; for VGG16 ``block1_conv2``, ``block2_conv2``,
        ``block3_conv3``, ``block4_conv3``, ``block5_conv3``.
    """
    plan = plan_of(model_or_engine)
    fields = receptive_fields(plan)
    ends: list[str] = []
    last_name: str | None = None
    last_jump = None
    for info in plan.layers:
        if not has_positions(plan, info) or info.kind not in FEATURE_KINDS:
            continue
        field = fields[info.name]
        jump = (field.rows.jump, field.cols.jump)
        if last_name is not None and jump != last_jump:
            ends.append(last_name)
        last_name, last_jump = info.name, jump
    if last_name is not None:
        ends.append(last_name)
    return ends
