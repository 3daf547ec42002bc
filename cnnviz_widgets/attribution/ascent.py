"""One call of activation maximisation: the objective of the images, and its steps.

:class:`Ascent` is what the model sees and scores; :class:`Steps` takes the optimiser's
steps. A step (the input transforms, the forward and backward pass, the optimiser's
update and the parameters' constraint) is one compiled program
(:func:`.autodiff.program`) when every transform is split into ``draw`` and ``apply``
(:func:`~.transforms.compilable`): the random numbers are drawn in Python from the
call's seeded generator, as before, and given to the program as tensors, so no step
converts the image to numpy and a program is traced once per output shape of the
transforms: once a call under TensorFlow, whose programs take dynamic shapes (the scaled
image's size is picked in the program), and under JAX too, where lucid's standard
transforms scale on a canvas of the same size (:class:`~.transforms.RandomScale`'s
``keep_size``). The redirection of ReLU gradients is an input of the program too.
Otherwise (a transform that only has ``__call__``, a backend without compilation, a
model the program fails on) the same step runs eagerly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._keras import keras
from ..errors import CnnvizError, LayerNotViewableError
from . import autodiff
from .objectives import Objective
from .objectives import diversity as diversity_objective
from .optimizers import Adam
from .param import ImageParam, PixelMap, image_param
from .regularizers import Regularizer
from .relu import ReluSwitch
from .transforms import InputTransform, compilable, resize_images

__all__ = ["Ascent", "Steps"]


class Ascent:
    """One call's objective as a function of the images: what the model sees and scores.

    Parameters
    ----------
    engine : ActivationEngine
        Runs the model.
    objective : Objective
        What is maximised.
    pix : PixelMap
        From 0-1 images to the model input.
    fixed : (int, int) or None
        The input size the model needs; transformed images are resized back to it.
    n : int
        Images optimised together.
    diversity : float
        Weight of the diversity term (used with ``n > 1``).
    """

    def __init__(self, engine: Any, objective: Objective, pix: PixelMap,
                 fixed: tuple[int, int] | None, n: int, diversity: float):
        self.engine, self.objective, self.pix, self.fixed, self.n = \
            engine, objective, pix, fixed, n
        self.inner = [name for name in objective.layers if name is not None]
        first = self.inner[0] if self.inner else None
        self.diversity = float(diversity) if n > 1 and first is not None else 0.0
        self.diverse = diversity_objective(first) if self.diversity else None

    def values(self, x: Any) -> dict[str | None, Any]:
        """The values the objective reads for images ``x`` (the output under None)."""
        if self.fixed is not None and tuple(x.shape[1:3]) != self.fixed:
            x = resize_images(x, self.fixed)
        out, found = self.engine.forward(self.pix.to_model(x), layers=self.inner,
                                         stop_at_layers=not self.objective.reads_output)
        found[None] = out
        return found

    def per_image(self, x: Any) -> np.ndarray:
        """The objective of each of the images ``x``, float64 (n,)."""
        return autodiff.to_numpy(self.objective(self.values(x))).astype(np.float64) \
            .reshape(self.n)

    def responds(self, image: ImageParam, params: np.ndarray) -> bool:
        """Whether the objective has a gradient that is not zero everywhere at ``params``."""
        _, (grad,) = autodiff.value_and_gradient(
            lambda p: self.objective(self.values(image(p))), params)
        return grad is not None and bool(np.any(autodiff.to_numpy(grad) != 0))

    def start(self, kind: str, rng: np.random.Generator,
              retries: int) -> tuple[ImageParam, np.ndarray, int]:
        """A seeded starting parameterisation, its parameters and the restarts it took:
        up to ``retries`` times, stronger noise while the objective does not respond."""
        restarts = 0
        image = image_param(kind, self.n, self.pix, 0.1)
        params = image.initial(rng)
        while restarts < retries and not self.responds(image, params):
            restarts += 1
            image = image_param(kind, self.n, self.pix, 0.1 * 2**restarts)
            params = image.initial(rng)
        return image, params, restarts

    def total(self, x: Any, seen: Any, regularizers: Sequence[Regularizer]) -> tuple[Any, Any]:
        """What a step raises for images ``x`` seen (transformed) as ``seen``, and the
        objective per image.

        With several images the diversity term is added (scaled by the objective's size,
        held fixed); the regularisers' penalties on ``x`` are subtracted.
        """
        ops = keras.ops
        values = self.values(seen)
        scores = self.objective(values)
        total = ops.sum(scores)
        if self.diverse is not None:
            size_of = ops.stop_gradient(ops.mean(ops.abs(scores)))
            total = total + self.diversity * size_of * ops.sum(self.diverse(values))
        for regularizer in regularizers:
            penalty = regularizer.penalty(x)
            if penalty is not None:
                total = total - penalty
        return total, scores


class Steps:
    """The optimiser's steps of one call: ``steps(state, step, rng, redirect)``.

    ``state`` is ``(params, m, v)`` (backend tensors: the parameters and Adam's
    moments); a call returns the new state and the objective per image (a tensor).

    Parameters
    ----------
    ascent : Ascent
        The objective.
    image : ImageParam
        The parameterisation.
    transforms : sequence of InputTransform
        What the model sees the image through.
    regularizers : sequence of Regularizer
        Their penalties are part of the step (their updates are not).
    adam : Adam
        The optimiser (its pure :meth:`~.optimizers.Adam.update`).
    switch : ReluSwitch
        Set to the step's ``redirect`` while the step runs.

    Attributes
    ----------
    traces : int
        How many times a compiled program was traced.
    compiled : bool
        Whether the steps run compiled (False after a fallback to eager steps).
    """

    def __init__(self, ascent: Ascent, image: ImageParam,
                 transforms: Sequence[InputTransform], regularizers: Sequence[Regularizer],
                 adam: Adam, switch: ReluSwitch):
        self.ascent, self.image, self.adam, self.switch = ascent, image, adam, switch
        self.transforms, self.regularizers = tuple(transforms), tuple(regularizers)
        self.compiled = (autodiff.backend() in ("tensorflow", "jax")
                         and all(compilable(t) for t in self.transforms))
        self.dynamic_shapes = autodiff.backend() == "tensorflow"
        self.traces = 0
        self._programs: dict[tuple[Any, ...], Any] = {}
        self._rng: np.random.Generator | None = None

    def _function(self, fixed: tuple[Any, ...] | None, counted: bool) -> Any:
        """The step for transforms drawn as ``fixed`` (None: each draws from the rng)."""

        def see(x: Any, offsets: Any) -> Any:
            if fixed is None:
                for transform in self.transforms:
                    x = transform(x, self._rng)
                return x
            at = 0
            for transform, (size, shape, given) in zip(self.transforms, fixed, strict=True):
                x = transform.apply(x, shape, offsets[at:at + size] if given is None else given)
                at += size
            return x

        def step(params: Any, m: Any, v: Any, corrections: Any, offsets: Any,
                 redirect: Any) -> tuple[Any, Any, Any, Any]:
            if counted:
                self.traces += 1
            before, self.switch.on = self.switch.on, redirect
            try:
                def loss(p: Any) -> Any:
                    x = self.image(p)
                    return self.ascent.total(x, see(x, offsets), self.regularizers)

                (_, scores), (grad,) = autodiff.value_and_gradient(loss, params, has_aux=True)
            finally:
                self.switch.on = before
            if grad is None:
                raise LayerNotViewableError(
                    "The objective does not depend on the input; nothing to maximise.")
            params, m, v = self.adam.update(params, grad, m, v, corrections)
            return self.image.constrain(params), m, v, scores

        return step

    def __call__(self, state: tuple[Any, Any, Any], step: int, rng: np.random.Generator,
                 redirect: bool) -> tuple[tuple[Any, Any, Any], Any]:
        corrections = self.adam.corrections(step)
        if not self.compiled:
            self._rng = rng
            *state, scores = self._function(None, False)(*state, corrections, (), redirect)
            return tuple(state), scores
        fixed, dynamic = [], []
        for transform in self.transforms:
            shape, drawn = transform.draw(rng)
            if transform.shaping and not self.dynamic_shapes:  # one program per value
                fixed.append((0, shape, drawn))
            else:
                fixed.append((len(drawn), shape, None))
                dynamic.extend(drawn)
        fixed = tuple(fixed)
        offsets = np.asarray(dynamic, dtype=np.int32)
        if fixed not in self._programs:
            self._programs[fixed] = autodiff.program(self._function(fixed, True),
                                                     self.image_variables())
        args = (*state, autodiff.to_tensor(corrections), autodiff.to_tensor(offsets),
                autodiff.to_tensor(np.asarray(bool(redirect))))
        try:
            *state, scores = self._programs[fixed](*args)
        except CnnvizError:
            raise
        except Exception:  # noqa: BLE001 - the eager step below decides
            self.compiled = False
            *state, scores = self._function(fixed, False)(
                *state, corrections, tuple(int(o) for o in offsets), bool(redirect))
        return tuple(state), scores

    def image_variables(self) -> list[Any]:
        """The variables a compiled step reads (the model's)."""
        return list(self.ascent.engine.model.variables)
