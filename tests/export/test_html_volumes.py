"""A model of volumes in the exported page: each volume layer written as its slices."""

from __future__ import annotations

import keras
import numpy as np

from cnnviz_widgets import ActivationEngine, explore
from cnnviz_widgets.export import default_export_layers, export_html
from cnnviz_widgets.testing.volumes import tiny_volume_cnn
from tests.export.test_html import assert_within_quantisation, decode_layer, read_payload


def test_a_volume_layer_is_written_as_its_slices(tmp_path):
    model = tiny_volume_cnn()
    engine = ActivationEngine(model)
    assert default_export_layers(engine) == ["conv3d_a", "pool3d", "conv3d_b", "avg3d",
                                             "deconv3d"]
    volumes = np.random.default_rng(0).integers(0, 256, (2, 4, 8, 8, 1), dtype=np.uint8)
    report = export_html(engine, volumes, tmp_path / "volume.html",
                         layers=["conv3d_a", "gap3d"])
    payload = read_payload(report.path.read_text("utf-8"))
    names = [layer["name"] for layer in payload["layers"]]
    assert names == [f"conv3d_a [slice {d}]" for d in range(4)] + ["gap3d"]
    assert report.layers == ("conv3d_a", "gap3d") and payload["skipped"] == []
    oracle = keras.Model(model.inputs, model.get_layer("conv3d_a").output)
    for i, volume in enumerate(volumes):
        expected = np.asarray(oracle([engine.prepare(volume)]))[0]  # (4, 8, 8, 4)
        for d in range(4):
            decoded = decode_layer(payload, f"conv3d_a [slice {d}]", i)
            assert decoded.shape == (8, 8, 4)
            assert_within_quantisation(decoded, expected[d])
    assert payload["images"][0]["thumb"].startswith("data:image/")


def test_the_explorer_exports_a_volume_model(tmp_path):
    volumes = np.random.default_rng(1).integers(0, 256, (2, 4, 8, 8, 1), dtype=np.uint8)
    ex = explore(tiny_volume_cnn(), volumes, include_samples=False)
    report = ex.export_html(tmp_path / "explorer.html", layers=["pool3d"])
    payload = read_payload(report.path.read_text("utf-8"))
    assert [layer["name"] for layer in payload["layers"]] == ["pool3d [slice 0]",
                                                              "pool3d [slice 1]"]
