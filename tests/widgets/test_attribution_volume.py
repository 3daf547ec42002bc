"""The attribution panel and the explorer's "Explain channel" on a model of volumes
(D, H, W, C): the maps are the API's, shown slice by slice without calling the model
again, and methods that cannot explain a volume say so in the panel."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from matplotlib import colormaps

from cnnviz_widgets import explore
from cnnviz_widgets.attribution import GradCAM, IntegratedGradients, Saliency
from cnnviz_widgets.attribution.overlay import overlay
from cnnviz_widgets.attribution.registry import MethodSpec
from cnnviz_widgets.errors import CnnvizError
from cnnviz_widgets.layout.volume import slice_row
from cnnviz_widgets.render.encode import encode_png
from cnnviz_widgets.render.upscale import upscale_nearest
from cnnviz_widgets.testing.volumes import tiny_volume_cnn
from cnnviz_widgets.widgets.attribution import AttributionPanel
from cnnviz_widgets.widgets.attribution_volume import volume_overlays

TOL = {"rtol": 1e-4, "atol": 1e-5}
jet = colormaps["jet"]


@pytest.fixture(scope="module")
def model():
    return tiny_volume_cnn()


@pytest.fixture(scope="module")
def videos():
    return list(np.random.default_rng(5).integers(0, 256, (2, 4, 8, 8, 1), dtype=np.uint8))


@pytest.fixture
def panel(model, videos):
    return AttributionPanel(model, videos, show_faithfulness=False)


def test_the_panel_reads_videos_and_its_gradcam_is_the_api_result(panel, model, videos):
    assert "batch of" not in panel.errors.message and panel.errors.message == ""
    assert len(panel.images) == 2 and panel.picker.names == ["volume 0", "volume 1"]
    for layer in ("conv3d_a", "conv3d_b"):
        panel.controls["layer"].value = layer
        panel.controls["target"].value = 1
        expected = GradCAM(model, layer)(videos[0], target=1)
        assert panel.result.shape == (4, 8, 8)
        np.testing.assert_allclose(panel.result, expected, **TOL)
    panel.image_index = 1
    np.testing.assert_allclose(panel.result, GradCAM(model, "conv3d_b")(videos[1], target=1),
                               **TOL)
    assert "volume 1, slice" in panel.caption.value


def test_gradient_maps_reduce_the_channel_axis_as_for_images(panel, model, videos):
    panel.method = "saliency"
    panel.controls["target"].value = 2
    np.testing.assert_allclose(panel.result, Saliency(model)(videos[0], target=2), **TOL)
    panel.method = "integrated_gradients"
    panel.controls["target"].value = 2
    ig = IntegratedGradients(model, steps=panel.controls["steps"].value)
    assert panel.result.shape == (4, 8, 8) and panel.errors.message == ""
    np.testing.assert_allclose(panel.result, ig(videos[0], target=2), **TOL)


def test_a_depth_change_redraws_without_calling_the_model(panel, monkeypatch):
    calls = []
    original = MethodSpec.run
    monkeypatch.setattr(MethodSpec, "run", lambda *a, **k: calls.append(1) or original(*a, **k))
    engine = panel.engine
    evaluations, runs = engine.stats.layer_evaluations, panel.run_count
    requests = engine.stats.cache_hits + engine.stats.cache_misses
    view, before = panel.volume_view, panel.volume_view.draw_count
    pictures = []
    for depth in (0, 1, 2, 3):
        view.depth.value = depth  # as the front end would
        pictures.append(panel.picture.value)
        assert f"slice {depth} of 0-3" in panel.caption.value
    view.view.value = "montage"
    assert "all 4 slices" in panel.caption.value and view.depth.layout.display == "none"
    view.view.value = "slice"
    assert calls == [] and panel.run_count == runs
    assert engine.stats.layer_evaluations == evaluations
    assert engine.stats.cache_hits + engine.stats.cache_misses == requests
    assert view.draw_count - before == 6 and len(set(pictures)) == 4
    assert pictures[2] == encode_png(upscale_nearest(view.overlays[2], min_side=224))


def test_every_slice_is_coloured_on_the_whole_volume_scale(panel):
    pixels = panel.engine.pixels(panel.images[0])  # (4, 8, 8, 1), 0-255
    heat = panel.result
    got = volume_overlays(pixels, heat, 0.5)
    norm = (heat - heat.min()) / (heat.max() - heat.min())
    expected = 0.5 * np.repeat(pixels, 3, axis=-1) + 0.5 * 255 * jet(norm)[..., :3]
    assert got.shape == (4, 8, 8, 3)
    np.testing.assert_allclose(got, expected, atol=1.0)
    row = slice_row(got, gap=2)
    assert row.shape == (8, 4 * 10 - 2, 3) and np.isnan(row[:, 8:10]).all()
    np.testing.assert_array_equal(row[:, 30:], got[3])


def test_a_method_that_cannot_explain_a_volume_is_refused_in_the_panel(panel, model, videos):
    options = [value for _, value in panel.method_control.options]
    assert "activation_maximization" not in options
    assert "gradcam" in options and "saliency" in options and "scorecam" in options
    with pytest.raises(CnnvizError, match="support volumes"):
        panel.method = "activation_maximization"
    assert panel.method == "gradcam" and "Grad-CAM" in panel.errors.message
    # LRP has no rule for Conv3DTranspose (this model's deconv3d): our error, in the panel
    panel.method = "lrp"
    assert "Conv3DTranspose" in panel.errors.message
    assert "support volumes" in panel.errors.message
    panel.method = "gradcam"  # the panel still works
    assert panel.errors.message == ""
    np.testing.assert_allclose(panel.result, GradCAM(model)(videos[0]), **TOL)


def test_explain_channel_on_a_volume_layer_shows_the_slice(model, videos):
    ex = explore(model, np.stack(videos), include_samples=False)
    ex.channel, ex.depth, ex.volume_view = 2, 3, "slices"
    assert ex.explainer.button.layout.display is None  # offered on a volume layer
    ex.explainer.button.click()  # as the front end would: no crash, no error
    heat, made = ex.explainer.result
    sub = keras.Model(model.inputs, model.get_layer("conv3d_a").output)  # the oracle
    activation = keras.ops.convert_to_numpy(sub(ex.engine.prepare(videos[0])))[0]
    expected = overlay(ex.engine.pixels(videos[0])[3], activation[3, ..., 2], alpha=0.5)
    np.testing.assert_array_equal(heat, expected)
    assert made is None and ex.errors.message == ""
    assert "slice 3" in ex.explainer.caption.value
    assert "volumes" in ex.explainer.caption.value
    assert ex.explainer.maximum.layout.display == "none"
