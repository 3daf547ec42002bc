"""Turning a user's image into the batch of one that a model receives.

The steps are explicit and always happen in this order:

1. **Decode** a path, ``bytes``, a PIL image or a numpy array into a float32 array
   of pixel values on the 0-255 scale. ``uint8`` and ``uint16`` are rescaled to
   0-255; float arrays whose values all lie in [0, 1] are multiplied by 255, other
   float arrays are taken as 0-255 values already.
2. **Channels**: grayscale becomes RGB by repeating it, RGB becomes grayscale by the
   ITU-R 601 luma weights (Pillow's ``"L"`` conversion), an alpha channel is dropped.
3. **Resize** (bilinear) to the model's input height and width, when the model fixes
   them; a model with a flexible input size keeps the image's size.
4. **Preprocess** with the model's function (``preprocess=``): by default the matching
   ``keras.applications`` ``preprocess_input`` for the models it knows (and
   :func:`efficientnet_lite_preprocess` for EfficientNet-Lite0), and a division by 255
   (pixel values in 0-1) for every other model.

A model of 1-D layers (``Conv1D``, ...) whose input is a signal (T, C) takes no image: its
input is read by :func:`signal_values` (numbers as they are, no pixel scale, no resizing)
and its default preprocessing is :func:`unchanged`.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import ImageDecodeError, ImageShapeError, SignalShapeError

__all__ = [
    "ImageLike",
    "Preprocess",
    "decode_image",
    "default_preprocess",
    "efficientnet_lite_preprocess",
    "fit_channels",
    "resize",
    "scale_to_unit",
    "signal_values",
    "unchanged",
]

ImageLike = Any  # str | os.PathLike | bytes | PIL.Image.Image | np.ndarray
Preprocess = Callable[[np.ndarray], Any]

_RGB_TO_GRAY = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def scale_to_unit(x: np.ndarray) -> np.ndarray:
    """Divide 0-255 pixel values by 255, giving values in 0-1."""
    return x / np.float32(255.0)


def unchanged(x: np.ndarray) -> np.ndarray:
    """The values as they are: the default preprocessing of a signal (T, C)."""
    return x


def efficientnet_lite_preprocess(x: np.ndarray) -> np.ndarray:
    """EfficientNet-Lite's input scaling: ``(x - 127) / 128`` on RGB values 0-255, about -1 to 1.

    This is what the EfficientNet-Lite models were trained with: the TensorFlow reference
    (``models/official/efficientnet/lite/efficientnet_lite_builder.py`` of the
    ``tensorflow/tpu`` repository) sets ``MEAN_RGB = [127.0, 127.0, 127.0]`` and
    ``STDDEV_RGB = [128.0, 128.0, 128.0]`` ("Edge models use inception-style MEAN and
    STDDEV for better post-quantization"), unlike EfficientNet-B0..B7 (ImageNet mean and
    standard deviation). The weights of :func:`cnnviz_widgets.zoo.efficientnet_lite0` were
    converted from those TensorFlow checkpoints.
    """
    return (np.asarray(x, dtype=np.float32) - np.float32(127.0)) / np.float32(128.0)


efficientnet_lite_preprocess.__name__ = "efficientnet_lite.preprocess_input"


def _keras_app_preprocess(module: str) -> Preprocess:
    def preprocess(x: np.ndarray) -> np.ndarray:
        from cnnviz_widgets._keras import keras

        return getattr(keras.applications, module).preprocess_input(np.array(x, copy=True))

    preprocess.__name__ = f"{module}.preprocess_input"
    return preprocess


_KNOWN_PREPROCESS: dict[str, str] = {
    "vgg16": "vgg16",
    "vgg19": "vgg19",
    "resnet50": "resnet",
    "resnet101": "resnet",
    "resnet152": "resnet",
    "mobilenet": "mobilenet",
    "mobilenetv2": "mobilenet_v2",
    "mobilenetv2_1.00_224": "mobilenet_v2",
    "inception_v3": "inception_v3",
    "xception": "xception",
    "densenet121": "densenet",
    "densenet169": "densenet",
    "densenet201": "densenet",
}

#: Models known by name whose preprocessing is not a ``keras.applications`` module's.
_OWN_PREPROCESS: dict[str, Preprocess] = {
    "efficientnet_lite0": efficientnet_lite_preprocess,
}


def default_preprocess(model: Any, input_axes: str = "image") -> Preprocess:
    """Choose the preprocessing for ``model`` when the user gave none.

    Known ``keras.applications`` models (by model name, e.g. ``vgg16``) get their own
    ``preprocess_input``; ``efficientnet_lite0`` (:func:`cnnviz_widgets.zoo.efficientnet_lite0`)
    gets :func:`efficientnet_lite_preprocess`; models of :mod:`cnnviz_widgets.zoo` carry
    their own; a model whose input is a signal (``input_axes="sequence"``) gets
    :func:`unchanged`; any other model gets :func:`scale_to_unit`.
    """
    own = getattr(model, "cnnviz_preprocess", None)
    if callable(own):
        return own
    if input_axes == "sequence":
        return unchanged
    name = str(getattr(model, "name", "")).lower()
    if name in _OWN_PREPROCESS:
        return _OWN_PREPROCESS[name]
    module = _KNOWN_PREPROCESS.get(name)
    if module is not None:
        return _keras_app_preprocess(module)
    return scale_to_unit


def _open_pil(source: Any) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source)
            image.load()
        return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(
            f"The image is too large to open safely ({exc}). Resize it to a few thousand "
            "pixels per side before passing it."
        ) from exc
    except FileNotFoundError as exc:
        raise ImageDecodeError(f"There is no image file at {source!r}. Check the path.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        is_path = isinstance(source, (str, os.PathLike))
        what = f"the file {os.fspath(source)!r}" if is_path else "the data"
        if isinstance(exc, UnidentifiedImageError):
            reason = "not in an image format Pillow can read"
        else:  # Pillow's own words, without the repr of an in-memory buffer
            reason = str(exc).replace(repr(source), "it") or type(exc).__name__
        raise ImageDecodeError(
            f"Could not read {what} as an image ({reason}). Use a PNG, JPEG, BMP, GIF or "
            "TIFF file, or a numpy array of shape (H, W) or (H, W, C)."
        ) from exc


def _pil_to_array(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float32)
        top = 65535.0 if arr.max(initial=0) > 255 or mode.startswith("I;16") else 255.0
        return arr * np.float32(255.0 / top)
    if mode == "F":  # float images (e.g. TIFF) follow the rules of float arrays, NaN included
        return _array_to_pixels(np.asarray(image, dtype=np.float32))
    if mode in ("1", "L"):
        return np.asarray(image.convert("L"), dtype=np.float32)
    if mode == "LA":
        return np.asarray(image.convert("L"), dtype=np.float32)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return np.asarray(image.convert("RGB"), dtype=np.float32)


def decode_image(image: ImageLike) -> np.ndarray:
    """Decode ``image`` into a float32 array of 0-255 values, shape (H, W) or (H, W, C).

    Parameters
    ----------
    image : str, os.PathLike, bytes, PIL.Image.Image or numpy.ndarray
        A file path, encoded file bytes, a PIL image, or an array of shape (H, W),
        (H, W, 1), (H, W, 3) or (H, W, 4). A leading batch axis of length 1 is removed.

    Returns
    -------
    numpy.ndarray
        float32 pixel values on the 0-255 scale.

    Raises
    ------
    ImageDecodeError
        If the data cannot be decoded as an image.
    ImageShapeError
        If an array has an unusable shape, dtype, or non-finite values.
    """
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise ImageDecodeError(f"There is no image file at {str(path)!r}. Check the path.")
        return _pil_to_array(_open_pil(path))
    if isinstance(image, (bytes, bytearray, memoryview)):
        if len(image) == 0:
            raise ImageDecodeError("The image data is empty (0 bytes). Upload the file again.")
        return _pil_to_array(_open_pil(io.BytesIO(bytes(image))))
    if isinstance(image, Image.Image):
        return _pil_to_array(image)
    if hasattr(image, "numpy") and not isinstance(image, np.ndarray):
        image = image.numpy()
    if not isinstance(image, np.ndarray):
        not_an_image = ImageDecodeError(
            f"Cannot use an object of type {type(image).__name__} as an image. Pass a file "
            "path, bytes, a PIL image or a numpy array."
        )
        try:
            arr = np.asarray(image)
        except Exception as exc:  # noqa: BLE001 - any failure means "not an image"
            raise not_an_image from exc
        if arr.ndim == 0 or arr.dtype == object:  # None, a number, a dict, ragged lists
            raise not_an_image
        image = arr
    return _array_to_pixels(image)


def _array_to_pixels(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ImageShapeError(
            f"An image array must hold numbers, not {arr.dtype}. Convert it with "
            "np.asarray(image, dtype=np.float32)."
        )
    while arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 4:
        raise ImageShapeError(
            f"Got a batch of {arr.shape[0]} images (shape {arr.shape}); pass one image at a "
            "time, e.g. images[0], or pass the batch as the images of explore()."
        )
    if arr.ndim not in (2, 3):
        raise ImageShapeError(
            f"An image array must have shape (H, W) or (H, W, C); got shape {arr.shape}."
        )
    if arr.ndim == 3 and arr.shape[-1] not in (1, 2, 3, 4) and arr.shape[0] in (1, 3, 4):
        raise ImageShapeError(
            f"The image array has shape {arr.shape}, which looks channels-first. Use "
            "np.moveaxis(image, 0, -1) to put the channels last."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageShapeError(f"The image is empty (shape {arr.shape}).")
    if arr.dtype == np.bool_:
        return arr.astype(np.float32) * np.float32(255.0)
    if arr.dtype.kind in "iu":
        if arr.min(initial=0) < 0:
            raise ImageShapeError(
                "The integer image has negative values; pixel values must be 0-255 (or "
                "0-65535 for 16-bit images). Shift or clip it, e.g. np.clip(image, 0, 255)."
            )
        if arr.dtype.itemsize > 1 and arr.max(initial=0) > 255:
            top = 65535.0 if arr.dtype.itemsize == 2 else float(arr.max())
            return arr.astype(np.float32) * np.float32(255.0 / top)
        return arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ImageShapeError(
            "The image contains NaN or infinite values. Replace them, e.g. with "
            "np.nan_to_num(image), before passing it."
        )
    if arr.dtype.itemsize > 4 and np.abs(arr).max(initial=0) > np.finfo(np.float32).max:
        raise ImageShapeError(
            "The image has values too large for float32 (above 3.4e38); pixel values "
            "should be 0-255 or 0-1. Rescale it before passing it."
        )
    arr = arr.astype(np.float32)
    if arr.size and arr.min() >= 0.0 and arr.max() <= 1.0:
        return arr * np.float32(255.0)
    return arr


def fit_channels(pixels: np.ndarray, channels: int | None) -> np.ndarray:
    """Convert ``pixels`` (H, W) or (H, W, C) to ``channels`` channels (None: no channel axis)."""
    if pixels.ndim == 3 and pixels.shape[-1] == 4:
        pixels = pixels[..., :3]
    if pixels.ndim == 3 and pixels.shape[-1] == 2:  # gray + alpha
        pixels = pixels[..., 0]
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    have = 1 if pixels.ndim == 2 else pixels.shape[-1]
    if channels is None or channels == 1:
        if have == 3:
            pixels = pixels @ _RGB_TO_GRAY
        elif have != 1:
            raise ImageShapeError(
                f"The image has {have} channels but the model expects grayscale images."
            )
        return pixels if channels is None else pixels[..., None]
    if channels == 3:
        if have == 1:
            return np.repeat(pixels[..., None], 3, axis=-1)
        if have == 3:
            return pixels
    if have == channels:
        return pixels
    raise ImageShapeError(
        f"The image has {have} channel(s) but the model expects {channels}. Pass an image "
        f"with {channels} channels (an array of shape (H, W, {channels}))."
    )


def stack_pixels(stack: Any, input_shape: tuple[int | None, ...]) -> np.ndarray | None:
    """The pixels of a uint8 stack (N, H, W[, 1 or C]) that already fits the model, at once.

    For such a stack, decoding (uint8 to float32), :func:`fit_channels` and :func:`resize`
    are elementwise, so doing them on the whole stack gives exactly what they give image
    by image. For a model whose input is a signal (an ``input_shape`` whose ``axes`` is
    ``"sequence"``, as ``engine.input_shape``), a stack (N, T, C) of numbers that fits it
    is its own values, as float32. Any other stack returns None, and its images go through
    the usual steps one by one (``engine.pixels``).

    Parameters
    ----------
    stack : numpy.ndarray
        Images (or signals) stacked on the first axis.
    input_shape : tuple
        The model's input shape without the batch axis.
    """
    if getattr(input_shape, "axes", None) == "sequence":
        fits = (isinstance(stack, np.ndarray) and stack.ndim == 3
                and stack.shape[2] == input_shape[1]
                and stack.shape[1] == (input_shape[0] or stack.shape[1]) and stack.shape[1] > 0
                and stack.dtype.kind in "biuf")
        return stack.astype(np.float32) if fits else None
    if not isinstance(stack, np.ndarray) or stack.dtype != np.uint8 or stack.ndim not in (3, 4):
        return None
    height, width = input_shape[0], input_shape[1]
    if stack.shape[1] != (height or stack.shape[1]) or stack.shape[2] != (width or stack.shape[2]):
        return None
    if stack.shape[1] == 0 or stack.shape[2] == 0:
        return None
    channels = input_shape[-1] if len(input_shape) == 3 else None
    grey = stack.ndim == 3 or stack.shape[-1] == 1
    x = stack.reshape(stack.shape[:3]) if grey else stack
    if grey:
        if channels is None:
            return x.astype(np.float32)
        if channels == 1:
            return x.astype(np.float32)[..., None]
        if channels == 3:
            return np.repeat(x.astype(np.float32)[..., None], 3, axis=-1)
        return None
    if channels == 3 and x.shape[-1] == 3:
        return x.astype(np.float32)
    return None


def resize(pixels: np.ndarray, height: int | None, width: int | None,
           depth: int | None = None) -> np.ndarray:
    """Resize (bilinear) an (H, W) or (H, W, C) float array; None keeps that side.

    With ``depth``, ``pixels`` is a volume (D, H, W) or (D, H, W, C): each slice is resized
    to ``height`` x ``width`` as above, then the slices are interpolated linearly along the
    first axis to ``depth`` of them (trilinear, with the same pixel-centre convention on
    every axis).
    """
    if depth is not None:
        slices = np.stack([resize(s, height, width) for s in pixels]).astype(np.float32)
        if depth == slices.shape[0]:
            return slices
        flat = slices.reshape(slices.shape[0], -1)  # one column per pixel: only D changes
        return resize(flat, depth, flat.shape[1]).reshape((depth, *slices.shape[1:]))
    h, w = pixels.shape[:2]
    th, tw = height or h, width or w
    if (th, tw) == (h, w):
        return pixels
    planes = pixels[..., None] if pixels.ndim == 2 else pixels
    out = np.stack(
        [
            np.asarray(
                Image.fromarray(np.ascontiguousarray(planes[..., c], dtype=np.float32)).resize(
                    (tw, th), Image.Resampling.BILINEAR
                )
            )
            for c in range(planes.shape[-1])
        ],
        axis=-1,
    ).astype(np.float32)
    return out[..., 0] if pixels.ndim == 2 else out


def signal_values(signal: Any, input_shape: tuple[int | None, ...]) -> np.ndarray:
    """Read one signal for a model whose input is (T, C): float32 (T, C), values unchanged.

    Parameters
    ----------
    signal : numpy.ndarray, tensor or sequence of numbers
        Shape (T, C), or (T,) when the model takes one channel; leading batch axes of
        length 1 are removed.
    input_shape : tuple
        The model's input shape without the batch axis, (T, C); T may be None (any length).

    Returns
    -------
    numpy.ndarray
        float32 array of shape (T, C).

    Raises
    ------
    SignalShapeError
        If the signal is not numbers, has another length or channel count than the model
        takes, or holds NaN or infinite values.
    """
    length, channels = input_shape[0], input_shape[-1]
    want = f"({length if length is not None else 'T'}, {channels})"
    if isinstance(signal, (str, os.PathLike, bytes, bytearray, memoryview, Image.Image)):
        raise SignalShapeError(
            f"This model takes a signal, a numpy array of shape {want} (time steps, "
            f"channels), not {type(signal).__name__}. Load the values into an array first."
        )
    if hasattr(signal, "numpy") and not isinstance(signal, np.ndarray):
        signal = signal.numpy()
    try:
        arr = np.asarray(signal)
    except Exception as exc:  # noqa: BLE001 - any failure means "not a signal"
        raise SignalShapeError(
            f"Cannot use an object of type {type(signal).__name__} as a signal; pass a numpy "
            f"array of shape {want}."
        ) from exc
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise SignalShapeError(
            f"A signal must hold numbers, not {arr.dtype}; pass a numpy array of shape {want}."
        )
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 1 and channels == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != channels:
        hint = ""
        if arr.ndim == 2 and arr.shape[0] == channels and arr.shape[1] != channels:
            hint = " It looks like channels first: pass signal.T."
        elif arr.ndim == 3:
            hint = f" It looks like {arr.shape[0]} signals: pass one at a time, e.g. signals[0]."
        raise SignalShapeError(
            f"The model takes a signal of shape {want} (time steps, channels); got shape "
            f"{arr.shape}.{hint}"
        )
    if length is not None and arr.shape[0] != length:
        raise SignalShapeError(
            f"The model takes signals of exactly {length} time steps; this one has "
            f"{arr.shape[0]}. Cut or pad it to {length} steps (signals are not resized)."
        )
    if arr.shape[0] == 0:
        raise SignalShapeError("The signal is empty (0 time steps).")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise SignalShapeError(
            "The signal contains NaN or infinite values (or values too large for float32). "
            "Replace them, e.g. with np.nan_to_num(signal), before passing it."
        )
    return arr
