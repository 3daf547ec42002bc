"""Model introspection: the viewable layers of a Keras model and a flat plan to run them.

- :mod:`.kinds`: what the engine knows about one layer (:class:`LayerInfo`, its kind and
  the meaning of its output's axes) and about one model input.
- :mod:`.plan`: the flattened, topologically ordered :class:`Plan` of layer calls, built by
  :func:`build_plan` (the only reader of a Keras graph's structure).
- :mod:`.direct`: the direct-call fast path that skips ``Layer.__call__`` where it adds
  nothing (the only reader of private Keras state).
- :mod:`.checks`: whether the engine can show a model's input, with what to do instead.
"""

from __future__ import annotations

from .checks import check_input
from .kinds import AXES, InputShape, LayerInfo, ModelInput, layer_kind, token_grid
from .plan import Plan, Step, View, build_plan, inputs_call

__all__ = ["AXES", "InputShape", "LayerInfo", "ModelInput", "Plan", "Step", "View",
           "build_plan", "check_input", "inputs_call", "layer_kind", "token_grid"]
