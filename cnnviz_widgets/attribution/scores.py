"""Score objects and targets: what an attribution method explains or maximises.

A score is a small callable object that maps a batch of values (the model's output,
or a layer's output) to one number per image, shape ``(batch,)``. It follows
tf-keras-vis's score objects; any callable with that contract works as ``target=``.

The *targets* say what to explain for each kind of model output (as pytorch-grad-cam's
``ClassifierOutputTarget``, ``SemanticSegmentationTarget`` and ``RawScoresOutputTarget``):

- a vector output (batch, classes) of a classifier: :class:`ClassTarget` (one class);
- a per-pixel output (batch, height, width, classes) of a segmentation model:
  :class:`ClassTarget` (one class over the whole image) or :class:`SegmentationTarget`
  (one class over a region, as Seg-Grad-CAM does);
- the values (batch, outputs) of a regression model: :class:`RegressionTarget`.

Each is written with ``keras.ops``, so every Keras backend differentiates it, and says
clearly when it does not fit the output it is given. :func:`resolve_score` turns what a
user passes as ``target=`` into a score.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..checks import index_in
from ..errors import ArgumentTypeError, InvalidSettingError

__all__ = ["ChannelScore", "ClassScore", "ClassTarget", "RegressionTarget", "Score",
           "SegmentationTarget", "TopClassScore", "class_values", "fixed_by_output",
           "fixed_target", "is_per_pixel", "resolve_score"]

#: Maps a backend tensor of shape (batch, ...) to a tensor of shape (batch,).
Score = Callable[[Any], Any]


def _ops() -> Any:
    from .._keras import keras

    return keras.ops


def _rows(output: Any) -> Any:
    """``output`` as (batch, values): a numpy array stays numpy, anything else becomes a
    backend tensor (written with ``keras.ops``, so any Keras backend differentiates it)."""
    if isinstance(output, np.ndarray):
        return output if output.ndim == 2 else output.reshape(output.shape[0], -1)
    ops = _ops()
    output = ops.convert_to_tensor(output)
    if len(output.shape) != 2:
        output = ops.reshape(output, (ops.shape(output)[0], -1))
    return output


def is_per_pixel(output: Any) -> bool:
    """True for a per-pixel output, shape (batch, height, width, classes)."""
    return len(getattr(output, "shape", ())) == 4


def _tensor(output: Any) -> Any:
    return output if isinstance(output, np.ndarray) else _ops().convert_to_tensor(output)


def _pixel_sum(values: Any) -> Any:
    """(batch, height, width) -> (batch,): the sum over the pixels."""
    if isinstance(values, np.ndarray):
        return values.sum(axis=(1, 2))
    return _ops().sum(values, axis=(1, 2))


def class_values(output: Any, index: Any) -> Any:
    """The score of class ``index`` for each image: ``output[:, index]`` for a vector
    output, the class channel summed over every pixel for a per-pixel output.

    ``index`` may be a backend integer tensor (a compiled program's input); it is not
    checked here (:class:`ClassScore` checks it).
    """
    if is_per_pixel(output):
        output = _tensor(output)
        if isinstance(output, np.ndarray):
            return _pixel_sum(output[..., index])
        return _pixel_sum(_ops().take(output, index, axis=-1))
    output = _rows(output)
    if isinstance(output, np.ndarray):
        return output[:, index]
    return _ops().take(output, index, axis=1)


def _check_class(index: int, output: Any) -> None:
    size = output.shape[-1]
    if size is not None:
        where = "the per-pixel output" if is_per_pixel(output) else "the output"
        index_in(index, size, "class", where, from_end=True)


@dataclass(frozen=True)
class ClassScore:
    """The output for one class: ``output[:, index]``.

    For a per-pixel output (batch, height, width, classes) it is the class channel summed
    over every pixel: what raises the class over the whole image. Also exported as
    :data:`ClassTarget`.

    Parameters
    ----------
    index : int
        Index of the class in the model's output vector (or on its last axis).
    """

    index: int

    def __call__(self, output: Any) -> Any:
        if is_per_pixel(output):
            _check_class(self.index, output)
            return class_values(output, self.index)
        output = _rows(output)
        _check_class(self.index, output)
        return output[:, self.index]


#: The target of one class: :class:`ClassScore` under the name of the targets.
ClassTarget = ClassScore


def _predicted_region(output: Any, classes: Any) -> Any:
    """(batch, H, W) float: 1 where the pixel's predicted class is ``classes`` (a class
    per image, shape (batch,), or one int), found from ``output`` itself."""
    if isinstance(output, np.ndarray):
        labels = np.argmax(output, axis=-1)
        picked = np.reshape(classes, (-1, 1, 1))
        return (labels == picked).astype(output.dtype)
    ops = _ops()
    labels = ops.argmax(output, axis=-1)
    picked = ops.reshape(ops.cast(classes, labels.dtype), (-1, 1, 1))
    return ops.stop_gradient(ops.cast(ops.equal(labels, picked), output.dtype))


def _pixel_mismatch(kind: str, output: Any) -> InvalidSettingError:
    shape = tuple(output.shape[1:])
    if kind == "SegmentationTarget":
        return InvalidSettingError(
            f"SegmentationTarget explains a region of a per-pixel output (batch, height, width, "
            f"classes), but this model's output has shape (batch, {', '.join(map(str, shape))}). "
            "For a classifier use ClassTarget(class) (or an int); for a regression model "
            "RegressionTarget(output).")
    return InvalidSettingError(
        f"RegressionTarget explains one value of a vector output, but this model gives a "
        f"per-pixel output of shape (batch, {', '.join(map(str, shape))}). Use "
        "SegmentationTarget(class, mask) for a region, or ClassTarget(class) for the class "
        "over the whole image.")


@dataclass(frozen=True)
class TopClassScore:
    """Each image's largest output: the score of its own predicted class.

    Its gradient is that of ``output[i, argmax_i]`` for every image ``i`` of the batch,
    found in the same forward pass (no second run to learn the predicted class). For a
    per-pixel output it is the class predicted at the most pixels, summed over the pixels
    predicted as it (:class:`SegmentationTarget` of that class without a mask).
    """

    def __call__(self, output: Any) -> Any:
        if is_per_pixel(output):
            output = _tensor(output)
            classes = output.shape[-1]
            if isinstance(output, np.ndarray):
                labels = np.argmax(output, axis=-1)
                counts = np.stack([(labels == c).sum(axis=(1, 2)) for c in range(classes)], -1)
                top = np.argmax(counts, axis=-1)
                picked = np.take_along_axis(output, top.reshape(-1, 1, 1, 1), axis=-1)[..., 0]
                return _pixel_sum(picked * _predicted_region(output, top))
            ops = _ops()
            labels = ops.argmax(output, axis=-1)
            counts = ops.sum(ops.one_hot(labels, classes, dtype=output.dtype), axis=(1, 2))
            top = ops.argmax(counts, axis=-1)
            choose = ops.stop_gradient(ops.one_hot(top, classes, dtype=output.dtype))
            picked = ops.sum(output * ops.reshape(choose, (-1, 1, 1, classes)), axis=-1)
            return _pixel_sum(picked * _predicted_region(output, top))
        output = _rows(output)
        if isinstance(output, np.ndarray):
            return output.max(axis=-1)
        return _ops().max(output, axis=-1)


@dataclass(frozen=True, eq=False)
class SegmentationTarget:
    """One class of a per-pixel output over a region: ``sum(output[..., class_index] * mask)``.

    As Seg-Grad-CAM (Vinogradova et al. 2020) and pytorch-grad-cam's
    ``SemanticSegmentationTarget``: an attribution of this score shows what makes the
    model call the region's pixels ``class_index``.

    Parameters
    ----------
    class_index : int
        The class (index on the output's last axis).
    mask : array-like of bool, shape (height, width), optional
        The region, at the output's resolution; ``None``: the pixels each image's own
        forward pass predicts as ``class_index`` (its argmax over the classes). Methods
        that score changed copies of an image (Score-CAM, deletion curves, integrated
        gradients) fix that region from the image itself first.

    Raises
    ------
    InvalidSettingError
        If the mask is not 2-D; when called, if the output is not per-pixel or the mask's
        shape is not the output's (height, width).
    SelectionOutOfRangeError
        When called, if the class is not one of the output's.
    """

    class_index: int
    mask: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.class_index, bool) or not isinstance(self.class_index,
                                                                  (int, np.integer)):
            raise ArgumentTypeError(
                f"SegmentationTarget's class_index is a class number (an int), not "
                f"{type(self.class_index).__name__}.")
        object.__setattr__(self, "class_index", int(self.class_index))
        if self.mask is not None:
            mask = np.asarray(self.mask)
            if mask.ndim == 3 and mask.shape[-1] == 1:
                mask = mask[..., 0]
            if mask.ndim != 2:
                raise InvalidSettingError(
                    f"A SegmentationTarget mask is a 2-D (height, width) array of True/False, one "
                    f"value per pixel of the output; got shape {mask.shape}.")
            object.__setattr__(self, "mask", mask.astype(bool))

    def __repr__(self) -> str:
        region = "predicted region" if self.mask is None else \
            f"mask {self.mask.shape[0]}x{self.mask.shape[1]}, {int(self.mask.sum())} pixels"
        return f"SegmentationTarget(class_index={self.class_index}, {region})"

    def region(self, output: Any) -> Any:
        """(batch, H, W) weights of the pixels scored: the mask, or the predicted region."""
        if not is_per_pixel(output):
            raise _pixel_mismatch("SegmentationTarget", output)
        _check_class(self.class_index, output)
        height, width = output.shape[1:3]
        if self.mask is None:
            return _predicted_region(_tensor(output), self.class_index)
        if (height, width) != self.mask.shape and None not in (height, width):
            raise InvalidSettingError(
                f"The SegmentationTarget mask has shape {self.mask.shape} but the model's output "
                f"has {height} x {width} pixels: give a mask of shape ({height}, {width}).")
        return self.mask[None].astype(np.float32)

    def fixed(self, output: Any) -> SegmentationTarget:
        """This target with the region predicted for the first image of ``output`` fixed as
        its mask (itself when it has a mask)."""
        if self.mask is not None:
            return self
        region = np.asarray(_to_numpy(self.region(output)))[0] > 0.5
        return SegmentationTarget(self.class_index, region)

    def __call__(self, output: Any) -> Any:
        region = self.region(output)
        output = _tensor(output)
        if isinstance(output, np.ndarray):
            return _pixel_sum(output[..., self.class_index] * region)
        ops = _ops()
        region = ops.cast(ops.convert_to_tensor(region), output.dtype)
        return _pixel_sum(ops.take(output, self.class_index, axis=-1) * region)


@dataclass(frozen=True)
class RegressionTarget:
    """One value of a regression model's output: ``output[:, index]``.

    Its attributions show what raises that value. For a model with a single output,
    ``index=0`` (the default).

    Parameters
    ----------
    index : int, default 0
        Which output value.

    Raises
    ------
    InvalidSettingError
        When called on a per-pixel output (use :class:`SegmentationTarget`).
    SelectionOutOfRangeError
        When called, if the model has no output ``index``.
    """

    index: int = 0

    def __call__(self, output: Any) -> Any:
        if is_per_pixel(output):
            raise _pixel_mismatch("RegressionTarget", output)
        output = _rows(output)
        size = output.shape[-1]
        if size is not None:
            index_in(self.index, size, "output value", "the regression output", from_end=True)
        return output[:, self.index]


@dataclass(frozen=True)
class ChannelScore:
    """The mean of one channel of a layer's output over its spatial positions.

    For a vector output (a dense layer) this is simply the value of one unit.

    Parameters
    ----------
    channel : int
        Index on the last (channel) axis.
    """

    channel: int

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, np.ndarray):
            value = _ops().convert_to_tensor(value)
        size = value.shape[-1]
        if size is not None:
            index_in(self.channel, size, "channel", "the layer", from_end=True)
        picked = value[..., self.channel]
        axes = tuple(range(1, len(picked.shape)))
        if not axes:
            return picked
        return picked.mean(axis=axes) if isinstance(picked, np.ndarray) else \
            _ops().mean(picked, axis=axes)


def _to_numpy(value: Any) -> np.ndarray:
    from .autodiff import to_numpy

    return to_numpy(value)


def fixed_by_output(target: Any) -> bool:
    """True when what ``target`` scores depends on the image's own output (``None``,
    :class:`TopClassScore`, a :class:`SegmentationTarget` without a mask): give that
    output to :func:`resolve_score` to fix it for changed copies of the image."""
    return target is None or isinstance(target, TopClassScore) or \
        (isinstance(target, SegmentationTarget) and target.mask is None)


def fixed_target(output: Any, target: Any = None) -> Any:
    """``target`` fixed for the first image of ``output``, as a method's ``target=`` takes it.

    ``None`` becomes the image's class index (an int) for a vector output, the
    :class:`SegmentationTarget` of its top class and predicted region for a per-pixel one;
    a :class:`SegmentationTarget` without a mask gets the image's predicted region; any
    other target is returned as it is. Checks that change the model or the image (a
    sanity check, a stability test) then explain the same thing every time.
    """
    if not fixed_by_output(target):
        return target
    score = resolve_score(target, output)
    return score.index if isinstance(score, ClassScore) else score


def resolve_score(target: Any, output: Any | None = None) -> Callable[[Any], Any]:
    """Turn ``target`` (None, a class index, a target or a score callable) into a score.

    Parameters
    ----------
    target : None, int or callable
        ``None`` picks the top class of ``output`` when it is given, else each image's
        own top class (:class:`TopClassScore`); an int is a class index
        (:class:`ClassTarget`); a target (:class:`ClassTarget`, :class:`SegmentationTarget`,
        :class:`RegressionTarget`) or any other callable is returned as it is.
    output : array or tensor, optional
        The model's output for the image, shape (1, classes) or (1, H, W, classes). When
        given, the score is fixed for that image, so changed copies of it (masked,
        blurred, on a path) are scored the same way: for a per-pixel output, ``None``
        becomes the class predicted at the most pixels over the pixels predicted as it,
        and a :class:`SegmentationTarget` without a mask gets the image's predicted region
        of its class as its mask.

    Returns
    -------
    callable
        A score mapping a batch of outputs to shape ``(batch,)``.
    """
    if isinstance(target, TopClassScore) and output is not None:
        target = None
    if target is None:
        if output is None:
            return TopClassScore()
        values = _to_numpy(output)
        if is_per_pixel(values):
            labels = np.argmax(values[0], axis=-1)
            top = int(np.argmax(np.bincount(labels.ravel(), minlength=values.shape[-1])))
            return SegmentationTarget(top, labels == top)
        flat = values.reshape(values.shape[0], -1)
        return ClassScore(int(np.argmax(flat[0])))
    if isinstance(target, bool):
        raise ArgumentTypeError(
            "target must be None, a class index or a score callable, not a bool")
    if isinstance(target, (int, np.integer)):
        return ClassScore(int(target))
    if isinstance(target, SegmentationTarget) and output is not None:
        return target.fixed(output)
    if callable(target):
        return target
    raise ArgumentTypeError(
        f"target must be None (top class), an int (class index), a target such as "
        f"ClassTarget(3), SegmentationTarget(1, mask) or RegressionTarget(0), or a callable "
        f"score; got {type(target).__name__}."
    )
