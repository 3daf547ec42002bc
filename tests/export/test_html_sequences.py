"""export_html on a 1-D convolution model and a vision transformer: token grids are
exported as maps, sequences are left out with a note, and nothing crashes."""

from __future__ import annotations

import base64
import io

import keras
import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets import explore
from cnnviz_widgets.engine.activations import ActivationEngine
from cnnviz_widgets.errors import LayerNotViewableError
from cnnviz_widgets.export import default_export_layers, export_html
from cnnviz_widgets.testing import tiny_conv1d, tiny_vit
from tests.export.test_html import assert_within_quantisation, decode_layer, read_payload


@pytest.fixture(scope="module")
def signal_engine():
    return ActivationEngine(tiny_conv1d())


@pytest.fixture(scope="module")
def signals():
    return np.random.default_rng(2).normal(size=(2, 64, 2)).astype(np.float32)


def test_a_signal_model_exports_its_vectors_and_says_what_is_left_out(
        signal_engine, signals, tmp_path):
    assert default_export_layers(signal_engine) == ["gap1d", "probs"]
    report = export_html(signal_engine, signals, tmp_path / "signal.html")
    assert report.layers == ("gap1d", "probs")
    assert report.images == ("signal 0", "signal 1")
    text = report.path.read_text("utf-8")
    assert 'id="skipped"' in text
    for name in ("conv1d_a", "pool1d", "conv1d_b"):
        assert f"{name} (a sequence (channels over time))" in text
    payload = read_payload(text)
    assert [s["name"] for s in payload["skipped"]] == ["conv1d_a", "pool1d", "conv1d_b"]
    got = np.asarray(payload["data"][1][0]["values"], dtype=np.float32)
    np.testing.assert_array_equal(got, signal_engine.activation("probs", signals[0]))
    # the image buttons show the signals as small line plots
    thumb = payload["images"][0]["thumb"]
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(thumb.split(",", 1)[1]))))
    drawn = (picture[..., :3] != 255).any(axis=2)
    assert drawn.any(axis=0).all()


def test_named_sequence_layers_are_skipped_not_fatal(signal_engine, signals, tmp_path):
    report = export_html(signal_engine, signals, tmp_path / "named.html",
                         layers=["conv1d_b", "probs"])
    assert report.layers == ("probs",)
    assert "conv1d_b (a sequence (channels over time))" in report.path.read_text("utf-8")
    with pytest.raises(LayerNotViewableError, match="conv1d_a"):
        export_html(signal_engine, signals, tmp_path / "none.html", layers=["conv1d_a"])


def test_token_layers_with_a_grid_are_exported_as_its_maps(tmp_path):
    model = tiny_vit()
    engine = ActivationEngine(model)
    images = np.random.default_rng(4).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    report = export_html(
        engine, images, tmp_path / "vit.html", layers=["patch_embed", "residual2", "pooled"],
    )
    assert report.layers == ("patch_embed", "residual2", "pooled")
    payload = read_payload(report.path.read_text("utf-8"))
    assert "skipped" in payload and payload["skipped"] == []
    oracle = keras.Model(model.inputs, model.get_layer("residual2").output)
    for i in range(2):
        tokens = oracle(engine.prepare(images[i])).numpy()[0].astype(np.float64)
        expected = tokens[1:].reshape(4, 4, 12)  # the class token left out
        decoded = decode_layer(payload, "residual2", i)
        assert decoded.shape == (4, 4, 12)
        assert_within_quantisation(decoded, expected)


def test_the_explorer_exports_a_signal_model(signals, tmp_path):
    ex = explore(tiny_conv1d(), signals)
    report = ex.export_html(tmp_path / "ex.html")
    assert report.layers == ("gap1d", "probs")
    assert report.images == ("signal 0", "signal 1")


def test_the_top_signals_of_a_channel_go_into_the_page_as_lines(signals, tmp_path):
    ex = explore(tiny_conv1d(), signals)
    ex.dataset = np.concatenate([signals, signals[::-1] * 0.5])
    report = ex.export_html(tmp_path / "top.html", layers=["gap1d"])
    payload = read_payload(report.path.read_text("utf-8"))
    top = payload["top"][0]  # gap1d: one list of crops per channel
    assert len(top) == 16 and all(len(channel) == 4 for channel in top)
    crop = top[0][0]
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(crop["src"].split(",")[1]))))
    assert picture.shape[:2] == (96, 96)
    assert "marker" not in crop  # a vector layer: the whole signal


def test_a_transformer_exports_its_blocks_by_default():
    assert default_export_layers(ActivationEngine(tiny_vit())) == [
        "patch_embed", "residual1", "residual2"]


def test_many_blocks_are_spread_evenly_and_keep_the_last():
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 4, strides=4, name="embed")(inp)
    x = keras.layers.Reshape((4, 4), name="tokens")(x)
    for i in range(15):
        x = keras.layers.Add(name=f"block{i}")([x, keras.layers.Dense(4, name=f"mix{i}")(x)])
    model = keras.Model(inp, keras.layers.Dense(2, name="probs")(keras.layers.Flatten()(x)))
    names = default_export_layers(ActivationEngine(model))
    assert names[0] == "embed" and names[-1] == "block14"
    assert len(names) == 1 + 12 and "block0" in names
