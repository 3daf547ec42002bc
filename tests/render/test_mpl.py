"""Static matplotlib figures without pyplot."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from cnnviz_widgets.render.maps import render_channel, render_grid
from cnnviz_widgets.render.mpl import (
    curves_figure,
    feature_figure,
    figure_to_png,
    new_figure,
    vector_figure,
)


def test_feature_figure_has_title_colorbar_and_labels():
    x = np.random.default_rng(0).random((8, 8, 6), dtype=np.float32)
    view = render_grid(x, [5, 3, 1], "signed")
    fig = feature_figure(view, title="block1_conv1")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2  # image + colour bar
    image_ax, bar_ax = fig.axes
    assert image_ax.get_title() == "block1_conv1"
    assert image_ax.images[0].colorbar is not None
    assert image_ax.images[0].colorbar.ax is bar_ax
    assert "signed" in bar_ax.get_ylabel()
    labels = sorted(t.get_text() for t in image_ax.texts)
    assert labels == ["1", "3", "5"]
    png = figure_to_png(fig)
    assert Image.open(io.BytesIO(png)).format == "PNG"


def test_feature_figure_from_array_without_colorbar():
    fig = feature_figure(np.array([[0.0, np.nan], [0.5, 1.0]]), title="t", colormap="magma",
                         colorbar=False)
    assert len(fig.axes) == 1


def test_single_channel_title_names_channel():
    x = np.random.default_rng(0).random((5, 5, 3), dtype=np.float32)
    fig = feature_figure(render_channel(x, 2, "channel"), title="conv")
    assert fig.axes[0].get_title() == "conv (channel 2)"
    assert not fig.axes[0].texts


def test_vector_figure_labels_top_k():
    values = np.array([0.1, 0.7, 0.05, 0.15])
    fig = vector_figure(values, title="predictions", labels=["cat", "dog", "cow", "owl"],
                        top_k=2)
    ax = fig.axes[0]
    assert ax.get_title() == "predictions"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["owl (3)", "dog (1)"]
    assert len(ax.patches) == 2
    assert figure_to_png(fig, dpi=50)[:4] == b"\x89PNG"


def test_vector_figure_without_labels_annotates_indices():
    fig = vector_figure(np.arange(20.0), top_k=3)
    ax = fig.axes[0]
    assert len(ax.patches) == 20
    assert sorted(t.get_text() for t in ax.texts) == ["17", "18", "19"]


def test_new_figure_is_outside_pyplot():
    import matplotlib

    fig = new_figure((2.0, 1.5), dpi=50)
    before = set(matplotlib._pylab_helpers.Gcf.figs)
    png = Image.open(io.BytesIO(figure_to_png(fig, dpi=50)))
    assert png.size == (100, 75)
    assert set(matplotlib._pylab_helpers.Gcf.figs) == before  # never registered


def test_curves_figure_draws_each_key_on_its_axes():
    history = {"loss": [1.0, 0.5, 0.25], "val_loss": [1.2, 0.7, 0.5],
               "accuracy": [0.5, 0.8, 0.9]}
    fig = curves_figure(history)
    loss, acc = fig.axes[:2]
    assert loss.get_title() == "loss" and acc.get_title() == "accuracy"
    assert [line.get_label() for line in loss.lines] == ["loss", "val_loss"]
    assert [line.get_label() for line in acc.lines] == ["accuracy"]
    np.testing.assert_array_equal(loss.lines[1].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(loss.lines[1].get_ydata(), history["val_loss"])
    assert Image.open(io.BytesIO(figure_to_png(fig))).size == (420, 220)


def test_no_pyplot_in_source():
    import cnnviz_widgets.render.mpl as mpl
    import cnnviz_widgets.render.overview as overview

    for module in (mpl, overview):
        with open(module.__file__, encoding="utf-8") as fh:
            src = fh.read()
        assert "import matplotlib.pyplot" not in src and "plt." not in src
