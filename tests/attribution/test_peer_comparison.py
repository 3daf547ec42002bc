"""Our Grad-CAM against tf-keras-vis 0.8.7, the closest peer on Keras 3.

These tests document the peer comparison of NOTES.md with code that runs:

* on a flat model, tf-keras-vis is an independent oracle: its Grad-CAM and ours agree
  (on a Keras 3 ``Sequential`` model only for the probabilities: its ``ReplaceToLinear``
  raises ``AttributeError`` there, as it reads ``model.output_names``);
* on a transfer-learning model whose target layer sits inside a nested backbone
  (``backbone/conv2``), ours works and equals a hand-written GradientTape computation,
  while tf-keras-vis cannot address the layer at all: every way of naming it raises
  ``ValueError`` (it builds ``keras.Model(model.inputs, [layer.output, ...])``, and the
  nested layer's output is not connected to the outer model's inputs).

On the shipped trained digits CNN and real held-out digits, our Score-CAM equals
tf-keras-vis's ``Scorecam`` and our Grad-CAM++ with ``normalize_alphas=True`` its
``GradcamPlusPlus`` (up to one factor per map); our default Grad-CAM++ (the paper's
equations, as pytorch-grad-cam) differs from it where the gradient varies across the
layer. The maps are compared at the layer's resolution.

The tests that need tf-keras-vis skip when it is missing (it is the ``bench`` extra:
``pip install -e .[bench]``); the test of our own nested Grad-CAM always runs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cnnviz_widgets.attribution import GradCAM, GradCAMPlusPlus, ScoreCAM
from cnnviz_widgets.testing import nested_backbone_model, skip_connection_model, tiny_cnn

from .helpers import backend_gradient, numpy, tensor

try:
    with warnings.catch_warnings():  # it imports the deprecated scipy.ndimage.interpolation
        warnings.simplefilter("ignore", DeprecationWarning)
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
        from tf_keras_vis.scorecam import Scorecam
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
except ImportError:  # pragma: no cover - the fixture below says what to install
    pass

pytestmark = pytest.mark.slow

@pytest.fixture
def peer(require):
    """tf-keras-vis: these tests compare our Grad-CAM with it and document that it cannot
    reach nested layers (skipped without it, a failure with CNNVIZ_REQUIRE_ALL=1; skipped
    under another Keras backend than TensorFlow, the only one tf-keras-vis runs on)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf-keras-vis runs on TensorFlow only; KERAS_BACKEND is "
                    f"{keras.backend.backend()!r}")
    return require("tf_keras_vis", "bench")


needs_peer = pytest.mark.usefixtures("peer")

NESTED_LAYER = "backbone/conv2"


def _image(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    assert a.std() > 0 and b.std() > 0, "a constant map makes the comparison meaningless"
    return float(np.corrcoef(a, b)[0, 1])


def _peer_cam(model, batch: np.ndarray, target: int, layer, logits: bool = True) -> np.ndarray:
    """tf-keras-vis Grad-CAM at the layer's resolution, unnormalised.

    ``logits=True`` differentiates the logits (``ReplaceToLinear``), else the probabilities.
    ``seek_penultimate_conv_layer=False``: otherwise, given a layer that is not a
    convolution (``res_out``, an Activation), tf-keras-vis silently explains the
    convolution before it instead.
    """
    modifier = ReplaceToLinear() if logits else None
    gradcam = Gradcam(model, model_modifier=modifier, clone=True)
    cam = gradcam(CategoricalScore([target]), batch, penultimate_layer=layer,
                  seek_penultimate_conv_layer=False, expand_cam=False,
                  normalize_cam=False)
    return np.asarray(cam)[0]


def _nested_oracle(model, batch: np.ndarray, target: int) -> np.ndarray:
    """Grad-CAM of ``backbone/conv2`` by calling the model's layers one by one.

    Independent of our engine: the backbone is unrolled by hand (conv1, pool1, the
    nested ``block``, conv2), the tape watches conv2's output and the score is the
    target's logit, computed from the last Dense layer's kernel and bias.
    """
    import keras

    backbone = model.get_layer("backbone")
    last = model.get_layer("probs")
    h = model.get_layer("identity_scale")(tensor(batch))
    for name in ("conv1", "pool1", "block"):
        h = backbone.get_layer(name)(h, training=False)
    feature = backbone.get_layer("conv2")(h)

    def score(f):
        h = model.get_layer("head")(model.get_layer("gap")(f))
        return (keras.ops.matmul(h, last.kernel) + last.bias)[:, target]

    grads = backend_gradient(score, feature)[0].astype(np.float64)
    feature = numpy(feature)[0].astype(np.float64)
    return np.maximum((feature * grads.mean(axis=(0, 1))).sum(axis=-1), 0.0)


@pytest.fixture(scope="module")
def nested():
    return nested_backbone_model()


def test_our_gradcam_reaches_the_nested_layer(nested):
    cam = GradCAM(nested, NESTED_LAYER)
    nonzero = []
    for seed in range(3):
        image = _image(seed, (32, 32, 3))
        batch = cam.engine.prepare(image)
        for target in range(4):
            want = _nested_oracle(nested, batch, target)
            got = cam(image, target=target, upsample=False)
            assert got.shape == want.shape == (8, 8)
            np.testing.assert_allclose(got, want, rtol=1e-4,
                                       atol=1e-6 * max(want.max(), 1e-12))
            if want.max() > 0:
                nonzero.append((image, target))
    assert len(nonzero) >= 3, "too few non-zero maps for the comparison to mean anything"
    image, target = nonzero[0]
    heat = cam(image, target=target)
    assert heat.shape == (32, 32) and heat.max() == pytest.approx(1.0)


@needs_peer
@pytest.mark.parametrize(
    ("how", "kwargs", "message"),
    [
        # the path our API uses: tf-keras-vis only looks at the outer model's layers
        ("by path", {"penultimate_layer": NESTED_LAYER},
         "Unable to determine penultimate `Conv` layer"),
        ("by path, no seeking", {"penultimate_layer": NESTED_LAYER,
                                 "seek_penultimate_conv_layer": False},
         "Unable to determine penultimate `Conv` layer"),
        # the layer object itself is not among the outer model's layers either
        ("by layer object", {"penultimate_layer": "OBJECT"},
         "Unable to determine penultimate `Conv` layer"),
        # a bare name or the default search finds conv2 inside the backbone, but its
        # output belongs to the backbone's own graph, so the probe model cannot be built
        ("by bare name", {"penultimate_layer": "conv2"},
         "Output with path `1` is not connected to `inputs`"),
        ("default layer", {}, "Output with path `1` is not connected to `inputs`"),
        # even the whole backbone, whose output is conv2's, cannot be used
        ("the backbone layer", {"penultimate_layer": "backbone"},
         "Output with path `1` is not connected to `inputs`"),
    ],
)
def test_tf_keras_vis_cannot_address_the_nested_layer(nested, how, kwargs, message):
    if kwargs.get("penultimate_layer") == "OBJECT":
        kwargs = {"penultimate_layer": nested.get_layer("backbone").get_layer("conv2")}
    batch = GradCAM(nested, NESTED_LAYER).engine.prepare(_image(0, (32, 32, 3)))
    gradcam = Gradcam(nested, model_modifier=ReplaceToLinear(), clone=True)
    with pytest.raises(ValueError, match=message):
        gradcam(CategoricalScore([1]), batch, **kwargs)
    assert nested.get_layer("probs").activation.__name__ == "softmax"  # ours untouched


@needs_peer
def test_tf_keras_vis_agrees_once_the_model_is_flattened_by_hand(nested):
    """The workaround a tf-keras-vis user needs: rebuild the model flat, same layers."""
    import keras

    backbone = nested.get_layer("backbone")
    inp = keras.Input((32, 32, 3))
    h = nested.get_layer("identity_scale")(inp)
    for name in ("conv1", "pool1", "block", "conv2"):
        h = backbone.get_layer(name)(h)
    h = nested.get_layer("head")(nested.get_layer("gap")(h))
    flat = keras.Model(inp, nested.get_layer("probs")(h))

    cam = GradCAM(nested, NESTED_LAYER)
    image = _image(4, (32, 32, 3))
    batch = cam.engine.prepare(image)
    np.testing.assert_allclose(flat(batch), nested(batch), rtol=1e-5, atol=1e-7)
    maps = [(cam(image, target=target, upsample=False),
             _peer_cam(flat, batch, target, "conv2")) for target in range(4)]
    scale = max(float(ours.max()) for ours, _ in maps)
    assert scale > 0
    for ours, theirs in maps:
        if ours.max() <= 1e-6 * scale:
            # a ReLU of a sum that cancels: zero up to either side's rounding
            assert theirs.max() <= 1e-6 * scale
            continue
        assert _corr(ours, theirs) > 0.99
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6 * ours.max())


@needs_peer
def test_tf_keras_vis_replace_to_linear_fails_on_a_sequential_model():
    """ReplaceToLinear reads ``model.output_names``, which Keras 3 Sequential lacks."""
    model = tiny_cnn()
    with pytest.raises(AttributeError, match="output_names"):
        Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
    # ours differentiates the logits of the same model without cloning it
    heat = GradCAM(model, "conv_b")(_image(0, (8, 8, 1)), target=0, upsample=False)
    assert heat.shape == (4, 4)


@needs_peer
def test_tf_keras_vis_silently_swaps_a_non_conv_layer_for_the_conv_before_it():
    """Asked for ``res_out`` (ReLU after the Add), tf-keras-vis explains ``res_conv2``.

    Its default ``seek_penultimate_conv_layer=True`` treats a non-convolutional
    ``penultimate_layer`` as an offset; ours explains the layer it is given.
    """
    model = skip_connection_model()
    image = _image(0, (16, 16, 3))
    batch = GradCAM(model, "res_out").engine.prepare(image)
    gradcam = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
    for target in (1, 3):
        theirs = np.asarray(gradcam(CategoricalScore([target]), batch, penultimate_layer="res_out",
                                    expand_cam=False, normalize_cam=False))[0]
        conv = GradCAM(model, "res_conv2")(image, target=target, upsample=False)
        asked = GradCAM(model, "res_out")(image, target=target, upsample=False)
        assert conv.max() > 0
        np.testing.assert_allclose(theirs, conv, rtol=1e-4, atol=1e-6 * conv.max())
        assert np.abs(theirs - asked).max() > 0.1 * asked.max()


@needs_peer
@pytest.mark.parametrize(
    ("builder", "shape", "layer", "logits"),
    [
        # tiny_cnn is Sequential: tf-keras-vis can only explain its probabilities
        (tiny_cnn, (8, 8, 1), "conv_b", False),
        (tiny_cnn, (8, 8, 1), "conv_a", False),
        (skip_connection_model, (16, 16, 3), "res_conv2", True),
        (skip_connection_model, (16, 16, 3), "stem", True),
        (skip_connection_model, (16, 16, 3), "res_out", True),
    ],
)
def test_gradcam_agrees_with_tf_keras_vis_on_flat_models(builder, shape, layer, logits):
    model = builder()
    cam = GradCAM(model, layer, logits=logits)
    pairs = []
    for seed in range(2):
        image = _image(seed, shape)
        batch = cam.engine.prepare(image)
        for target in range(model.output_shape[-1]):
            ours = cam(image, target=target, upsample=False)
            theirs = _peer_cam(model, batch, target, layer, logits=logits)
            assert ours.shape == theirs.shape
            pairs.append((ours, theirs))
    scale = max(float(ours.max()) for ours, _ in pairs)
    assert scale > 0
    compared = 0
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * scale)
        # a map that is zero up to rounding (ReLU of a cancelling sum) has no shape to
        # correlate; every other map must match the peer's pattern
        if ours.max() > 1e-2 * scale:
            assert _corr(ours, theirs) > 0.99
            compared += 1
    assert compared >= 2
    assert model.layers[-1].activation.__name__ == "softmax"  # the peer cloned its copy


# --- Score-CAM and Grad-CAM++ on the trained digits CNN --------------------------------


@pytest.fixture(scope="module")
def digits():
    """The shipped digits CNN, a functional twin of it (same layer objects, for
    tf-keras-vis's ``ReplaceToLinear``, which fails on Sequential models) and six
    held-out digits with their labels."""
    import keras

    from cnnviz_widgets.zoo import digits_cnn
    from cnnviz_widgets.zoo.digits import digit_samples

    model = digits_cnn()
    inputs = keras.Input((28, 28, 1))
    out = inputs
    for layer in model.layers:
        out = layer(out)
    twin = keras.Model(inputs, out)
    images, labels = digit_samples(6)
    return model, twin, images, labels


def _digit_cases(model, cam, images, labels):
    """(image, prepared batch, target): each digit's true class and its runner-up."""
    for image, label in zip(images, labels, strict=True):
        batch = cam.prepare(image)
        probs = np.asarray(model(batch))[0]
        runner_up = int(np.argsort(probs)[-2])
        for target in (int(label), runner_up):
            yield image, batch, target


def _peer_map(peer_class, twin, batch, target, layer, **kwargs) -> np.ndarray:
    peer = peer_class(twin, model_modifier=ReplaceToLinear(), clone=True)
    cam = peer(CategoricalScore([target]), batch, penultimate_layer=layer,
               seek_penultimate_conv_layer=False, expand_cam=False, normalize_cam=False,
               **kwargs)
    return np.asarray(cam, dtype=np.float64)[0]


@needs_peer
@pytest.mark.parametrize("layer", ["conv3", "conv2"])
def test_scorecam_agrees_with_tf_keras_vis_on_the_digits_cnn(digits, layer):
    """Ours on the Sequential model (probabilities: ``logits=False``, the default) and
    tf-keras-vis on the twin with ``ReplaceToLinear`` (its softmax of the logits gives
    the same probabilities); its masks are zoomed by scipy, ours by our own interpolation."""
    model, twin, images, labels = digits
    cam = ScoreCAM(model, layer)
    compared = 0
    for image, batch, target in _digit_cases(model, cam, images, labels):
        ours = cam(image, target=target, upsample=False)
        theirs = _peer_map(Scorecam, twin, batch, target, layer)
        assert ours.shape == theirs.shape == {"conv3": (3, 3), "conv2": (11, 11)}[layer]
        assert ours.max() > 0
        assert _corr(ours, theirs) >= 0.99
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * theirs.max())
        compared += 1
    assert compared == 12
    # tf-keras-vis's max_N is our max_channels: the channels of largest spatial spread
    image, batch, target = next(_digit_cases(model, cam, images, labels))
    ours = ScoreCAM(model, layer, max_channels=16)(image, target=target, upsample=False)
    theirs = _peer_map(Scorecam, twin, batch, target, layer, max_N=16)
    assert _corr(ours, theirs) >= 0.99
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * theirs.max())


@needs_peer
@pytest.mark.parametrize("layer", ["conv3", "conv2"])
def test_gradcam_plusplus_agrees_with_tf_keras_vis_with_normalised_alphas(digits, layer):
    """tf-keras-vis divides each channel's alphas by their sum and scales the map by
    ``exp(score)``: with ``normalize_alphas=True`` ours equals it up to that factor."""
    model, twin, images, labels = digits
    cam = GradCAMPlusPlus(model, layer, normalize_alphas=True)
    default = GradCAMPlusPlus(model, layer)
    correlations = []
    for image, batch, target in _digit_cases(model, cam, images, labels):
        ours = cam(image, target=target, upsample=False)
        theirs = _peer_map(GradcamPlusPlus, twin, batch, target, layer)
        assert ours.max() > 0
        assert _corr(ours, theirs) >= 0.99
        factor = theirs.max() / ours.max()
        np.testing.assert_allclose(ours * factor, theirs, rtol=1e-3, atol=1e-4 * theirs.max())
        correlations.append(_corr(default(image, target=target, upsample=False), theirs))
    if layer == "conv2":
        # the paper's alphas weigh the channels differently where the gradient varies
        assert min(correlations) < 0.9
