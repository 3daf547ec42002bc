"""Filter banks and grids: exact values from kernels set by hand."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import keras
import numpy as np
import pytest
from hypothesis import given, settings

from cnnviz_widgets import ActivationEngine
from cnnviz_widgets.errors import LayerNotFoundError, LayerNotViewableError
from cnnviz_widgets.weights import (
    conv_filters,
    filter_grid,
    kernel_layers,
    rgb_filters,
)


@pytest.fixture(scope="module")
def known():
    """Input (5, 5, 2) -> conv (2x2, 3 filters) with kernel = arange(24) -> dense."""
    model = keras.Sequential([
        keras.Input((5, 5, 2)),
        keras.layers.Conv2D(3, 2, name="conv"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(2, name="out"),
    ], name="known")
    kernel = np.arange(24, dtype=np.float32).reshape(2, 2, 2, 3)
    model.get_layer("conv").set_weights([kernel, np.array([1, 2, 3], np.float32)])
    return model


@pytest.fixture(scope="module")
def rgb():
    """Input (4, 4, 3) -> conv 1x1 with filters [1, 2, 3], [-1, -1, -1], [0, 6, 3]; no bias."""
    model = keras.Sequential([
        keras.Input((4, 4, 3)),
        keras.layers.Conv2D(3, 1, use_bias=False, name="rgb_conv"),
        keras.layers.Conv2D(2, 1, name="second"),
    ])
    k = np.array([[1, -1, 0], [2, -1, 6], [3, -1, 3]], np.float32)  # (in, out)
    model.get_layer("rgb_conv").set_weights([k.reshape(1, 1, 3, 3)])
    return model


def test_bank_holds_kernel_and_bias(known):
    bank = conv_filters(known, "conv")
    assert bank.kernels.shape == (2, 2, 2, 3) and bank.kernels.dtype == np.float32
    np.testing.assert_array_equal(bank.kernels, np.arange(24).reshape(2, 2, 2, 3))
    np.testing.assert_array_equal(bank.biases, [1, 2, 3])
    assert (bank.n_filters, bank.n_channels, bank.kernel_size) == (3, 2, (2, 2))
    assert not bank.kernels.flags.writeable


def test_grid_per_filter_exact(known):
    bank = conv_filters(known, "conv")
    grid = filter_grid(bank)
    assert grid.shape == (3, 2, 2, 2) and grid.dtype == np.float32
    # kernel[i, j, c, f] = 3 * (4i + 2j + c) + f: per filter, the value is (4i + 2j + c) / 7
    i, j, c = np.meshgrid(range(2), range(2), range(2), indexing="ij")
    expected = ((4 * i + 2 * j + c) / 7).transpose(2, 0, 1)  # (c, i, j)
    for f in range(3):
        np.testing.assert_allclose(grid[f], expected, rtol=0, atol=1e-6)
    # channel paging does not change the normalisation of a filter
    np.testing.assert_allclose(filter_grid(bank, filters=[2], channels=range(1, 2)),
                               expected[None, 1:2], atol=1e-6)


def test_grid_per_layer_exact(known):
    bank = conv_filters(known, "conv")
    grid = filter_grid(bank, filters=range(1, 3), normalization="layer")
    k = np.arange(24, dtype=np.float64).reshape(2, 2, 2, 3) / 23
    np.testing.assert_allclose(grid, k.transpose(3, 2, 0, 1)[1:3], atol=1e-6)
    assert grid.min() >= 0 and grid.max() <= 1
    with pytest.raises(ValueError, match="normalization"):
        filter_grid(bank, normalization="channel")
    with pytest.warns(DeprecationWarning, match="normalization="):
        old = filter_grid(bank, filters=range(1, 3), mode="layer")
    np.testing.assert_array_equal(old, grid)
    with pytest.raises(IndexError, match="has 3 filter"):
        filter_grid(bank, filters=[3])
    assert filter_grid(bank, filters=[]).shape == (0, 2, 2, 2)
    assert filter_grid(bank, filters=slice(None, None, 2)).shape == (2, 2, 2, 2)


def test_rgb_filters_exact(rgb, known):
    bank = conv_filters(rgb, "rgb_conv")
    assert bank.biases is None
    tiles = rgb_filters(bank)
    assert tiles.shape == (3, 1, 1, 3)
    # the constant filter is 0 everywhere, like every constant input of unit_scale
    np.testing.assert_allclose(tiles[:, 0, 0], [[0, 0.5, 1], [0, 0, 0], [0, 1, 0.5]])
    np.testing.assert_allclose(rgb_filters(bank, filters=[2], normalization="layer")[0, 0, 0],
                               [1 / 7, 1, 4 / 7], atol=1e-6)
    with pytest.raises(LayerNotViewableError, match="2 input channel.*exactly 3"):
        rgb_filters(conv_filters(known, "conv"))


def test_layer_without_kernel_is_explained(known, nested):
    with pytest.raises(LayerNotViewableError, match="'conv'") as info:
        conv_filters(known, "flat")
    assert "Flatten" in str(info.value)
    with pytest.raises(LayerNotViewableError, match="Layers with a kernel: 'conv'"):
        conv_filters(known, "out")  # Dense has a kernel, but no convolution kernel
    with pytest.raises(LayerNotFoundError):
        conv_filters(known, "nope")
    assert kernel_layers(nested) == ["backbone/conv1", "backbone/block/conv", "backbone/conv2"]


def test_nested_layers_by_path(nested):
    engine = ActivationEngine(nested)
    bank = conv_filters(engine, "backbone/block/conv")
    inner = nested.get_layer("backbone").get_layer("block").get_layer("conv")
    np.testing.assert_array_equal(bank.kernels, inner.get_weights()[0])
    assert bank.layer == "backbone/block/conv" and bank.kernels.shape == (3, 3, 8, 8)


def test_depthwise_and_1d_kernels_are_reshaped():
    model = keras.Sequential([
        keras.Input((6, 6, 2)),
        keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw"),
        keras.layers.SeparableConv2D(4, 3, name="sep"),
    ])
    dw = conv_filters(model, "dw")
    assert dw.kernels.shape == (3, 3, 1, 4) and dw.biases.shape == (4,)
    raw = model.get_layer("dw").get_weights()[0]  # (3, 3, 2, 2)
    np.testing.assert_array_equal(dw.kernels[..., 3], raw[:, :, 1:2, 1])
    sep = conv_filters(model, "sep")
    assert sep.kernels.shape == (3, 3, 1, 4) and sep.biases is None  # depthwise part


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=4, max_dims=4, max_side=4),
               elements=st.floats(-1e3, 1e3, width=32)),
)
def test_grid_is_unit_range_for_any_kernel(kernel):
    from cnnviz_widgets.weights import FilterBank

    bank = FilterBank("k", kernel, None)
    for normalization in ("filter", "layer"):
        grid = filter_grid(bank, normalization=normalization)
        assert grid.shape == (kernel.shape[3], kernel.shape[2], *kernel.shape[:2])
        assert grid.dtype == np.float32 and np.all((grid >= 0) & (grid <= 1))
    grid = filter_grid(bank).reshape(kernel.shape[3], -1)
    for f, row in enumerate(grid):
        if np.ptp(kernel[..., f]) > 0:
            assert row.min() == 0 and row.max() == 1
        else:
            assert np.all(row == 0)
