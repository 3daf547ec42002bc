"""Grad-CAM on an explored image and on a new one: ours against tf-keras-vis 0.8.7.

Grad-CAM's backward pass only needs the layers after the target layer. When the user
has explored the image, the engine's cache already holds the layer's activation, so
only the head runs forward and backward ("explored"); on a new image the prefix runs
once without a gradient tape (and fills the cache) and the head once with it ("new
image", every timed call starts from an empty cache). tf-keras-vis runs the whole model
under its tape at every call. Goals: an explored image at least 5x faster than
tf-keras-vis; a new image no slower than 1.2x tf-keras-vis (ratio >= 0.83x).

Two models: VGG16 with its classifier (224 px, random weights; block5_conv3) and the
shipped digits CNN (28 px, trained; its last convolution). The digits CNN is a Keras 3
``Sequential`` model, on which tf-keras-vis's ``ReplaceToLinear`` fails, so both
libraries explain the softmax probabilities there.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._models import vgg16_classifier
from ._table import Row, median_seconds

BASELINE = "tf-keras-vis 0.8.7"
EXPLORED_GOAL = 5.0
NEW_IMAGE_GOAL = 1 / 1.2


def _verdict(ratio: float, goal: float) -> str:
    return "met" if ratio >= goal else "MISSED"


def _peer_note() -> str:
    """Why there is no peer: tf-keras-vis runs on TensorFlow only, or is not installed."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return "tf-keras-vis runs on TensorFlow only"
    return "tf-keras-vis not installed"


def _peer_gradcam(model, linear: bool):
    """A tf-keras-vis Gradcam on a twin of ``model``, or None when it is not installed or
    Keras does not run on TensorFlow (which it needs)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from tf_keras_vis.gradcam import Gradcam
            from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    except ImportError:
        return None
    if linear:
        return Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
    return Gradcam(model, clone=False)


def _rows(label: str, model, twin, image: np.ndarray, layer: str, linear: bool,
          repeat: int) -> list[Row]:
    from cnnviz_widgets import ActivationEngine
    from cnnviz_widgets.attribution import GradCAM

    engine = ActivationEngine(model)
    cam = GradCAM(engine, layer=layer, logits=linear)
    batch = np.array(engine.prepare(image))
    target = int(np.argmax(model(batch, training=False)))

    ours = cam(image, target=target, upsample=False)  # warms TensorFlow up
    new_image = median_seconds(lambda: cam(image, target=target), repeat,
                               setup=engine.clear_cache)
    engine.activation(layer, image)  # the user explored the layer
    explored = median_seconds(lambda: cam(image, target=target), repeat)

    what_explored = f"Grad-CAM {layer}, explored image (activation cached)"
    what_new = f"Grad-CAM {layer}, new image (empty cache)"
    peer = _peer_gradcam(twin, linear)
    if peer is None:
        note = _peer_note()
        return [Row("cam", label, what_explored, explored, None, BASELINE, extra=note),
                Row("cam", label, what_new, new_image, None, BASELINE, extra=note)]

    from tf_keras_vis.utils.scores import CategoricalScore

    def peer_call(**kw):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The structure of `inputs`")
            return peer(CategoricalScore([target]), batch, penultimate_layer=layer, **kw)

    theirs = peer_call(expand_cam=False, normalize_cam=False)[0]
    base = median_seconds(peer_call, repeat)
    corr = float(np.corrcoef(ours.ravel(), np.asarray(theirs).ravel())[0, 1])
    explored_ratio, new_ratio = base / explored, base / new_image
    return [
        Row("cam", label, what_explored, explored, base, BASELINE,
            goal=f">= {EXPLORED_GOAL:.0f}x: {_verdict(explored_ratio, EXPLORED_GOAL)}",
            extra=f"corr {corr:.4f} with the peer's map"),
        Row("cam", label, what_new, new_image, base, BASELINE,
            goal=f">= {NEW_IMAGE_GOAL:.2f}x: {_verdict(new_ratio, NEW_IMAGE_GOAL)}"),
    ]


def run(repeat: int = 5) -> list[Row]:
    """Time Grad-CAM on an explored and on a new image, VGG16 and the digits CNN."""
    from cnnviz_widgets import zoo
    from cnnviz_widgets.attribution import default_gradcam_layer

    model, label = vgg16_classifier()
    twin, _ = vgg16_classifier()  # ReplaceToLinear clones and edits: never hand it ours
    twin.set_weights(model.get_weights())
    image = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    image.flags.writeable = False
    rows = _rows(label, model, twin, image, "block5_conv3", True, repeat)

    digits = zoo.digits_cnn()
    images, _ = zoo.digit_samples(1)
    layer = default_gradcam_layer(digits)
    rows += _rows("digits CNN (trained, 28x28)", digits, digits, images[0], layer, False,
                  repeat * 4)
    return rows
