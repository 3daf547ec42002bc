"""Normalisation: exact values on tiny arrays, flat channels, missing values, properties."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cnnviz_widgets.colour.normalize import (
    NORMALIZATIONS,
    apply_normalization,
    default_colormap,
    normalization_stats,
    normalize,
)
from cnnviz_widgets.errors import InvalidSettingError


def maps(*channels):
    """Stack 2-D channels into (H, W, C)."""
    return np.stack([np.asarray(c, dtype=np.float32) for c in channels], axis=-1)


def test_channel_min_max_by_hand():
    out = normalize(np.array([[0.0, 5.0, 10.0]]), "channel")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0.0, 0.5, 1.0]])


def test_channel_mode_scales_each_channel():
    x = maps([[0, 5, 10]], [[0, 1, 2]])
    out = normalize(x, "channel")
    np.testing.assert_array_equal(out[..., 0], [[0, 0.5, 1]])
    np.testing.assert_array_equal(out[..., 1], [[0, 0.5, 1]])


def test_layer_mode_shares_one_scale():
    x = maps([[0, 5, 10]], [[0, 1, 2]])
    out = normalize(x, "layer")
    np.testing.assert_allclose(out[..., 0], [[0, 0.5, 1]])
    np.testing.assert_allclose(out[..., 1], [[0, 0.1, 0.2]], rtol=1e-6)


def test_signed_zero_is_half_and_scale_is_max_abs():
    x = maps([[-2, 0, 4]], [[1, 0, -4]])
    out = normalize(x, "signed")
    np.testing.assert_allclose(out[..., 0], [[0.25, 0.5, 1.0]])
    np.testing.assert_allclose(out[..., 1], [[0.625, 0.5, 0.0]])
    assert out[0, 1, 0] == 0.5  # exactly


def test_standardize_by_hand():
    x = np.array([[-1.0, 1.0]])  # mean 0, std 1
    out = normalize(x, "standardize")
    np.testing.assert_allclose(out, [[64 / 255, 192 / 255]], rtol=1e-6)
    wide = np.array([[-10.0, 10.0]])  # still std-normalised, no clipping beyond 2 std
    np.testing.assert_allclose(normalize(wide, "standardize"), out, rtol=1e-6)
    outlier = np.array([[0.0] * 99 + [100.0]])
    assert normalize(outlier, "standardize")[0, -1] == 1.0  # clipped at 255


@pytest.mark.parametrize("mode,flat", [("channel", 0.0), ("layer", 0.0),
                                       ("standardize", 0.5), ("signed", 0.5)])
def test_constant_channel_is_flat_without_warnings(mode, flat):
    # signed mode is degenerate only when max|x| == 0
    x = np.full((3, 4, 2), 0.0 if mode == "signed" else 7.0, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            out = normalize(x, mode)
    assert not np.isnan(out).any()
    np.testing.assert_array_equal(out, np.full_like(out, flat))


def test_all_zero_signed_is_half():
    out = normalize(np.zeros((2, 2, 3)), "signed")
    np.testing.assert_array_equal(out, 0.5)


def test_signed_constant_nonzero_layer_sits_at_its_sign():
    # "signed" is centred on zero, not on the constant: +7 everywhere is +max|x|
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = normalize(np.full((2, 2, 1), 7.0), "signed")
    np.testing.assert_array_equal(out, 1.0)


@pytest.mark.parametrize("mode", NORMALIZATIONS)
def test_non_finite_values_are_missing(mode):
    x = maps([[0, np.nan, 10, np.inf], [5, -np.inf, 0, 10]], [[1, 2, 3, 4], [1, 2, 3, 4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = normalize(x, mode)
    bad = ~np.isfinite(x)
    assert np.isnan(out[bad]).all()
    assert np.isfinite(out[~bad]).all()
    if mode == "channel":  # statistics ignore the missing values
        np.testing.assert_array_equal(out[..., 0][~bad[..., 0]], [0, 1, 0.5, 0, 1])


def test_all_missing_channel():
    x = maps([[np.nan, np.nan]], [[1, 2]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = normalize(x, "layer")
    assert np.isnan(out[..., 0]).all()
    np.testing.assert_array_equal(out[..., 1], [[0, 1]])


def test_unknown_mode_lists_valid_ones():
    with pytest.raises(ValueError, match="'channel', 'layer', 'standardize', 'signed'"):
        normalize(np.zeros((2, 2)), "minmax")
    with pytest.raises(InvalidSettingError):
        default_colormap("nope")


def test_default_colormap():
    assert default_colormap("signed") in ("RdBu_r", "coolwarm")
    assert default_colormap("channel") == "viridis"


def test_stats_of_a_subset_keep_layer_scale():
    x = maps([[0, 5, 10]], [[0, 1, 2]])
    stats = normalization_stats(x, "layer", [1])
    np.testing.assert_allclose(apply_normalization(x[..., 1], stats), [[0, 0.1, 0.2]],
                               rtol=1e-6)
    per = normalization_stats(x, "channel", [1])
    np.testing.assert_array_equal(apply_normalization(x[..., 1], per), [[0, 0.5, 1]])


def test_integer_input_and_2d_shape():
    out = normalize(np.array([[0, 2], [4, 8]], dtype=np.uint8), "channel")
    assert out.shape == (2, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 0.25], [0.5, 1]])


def test_bad_shape():
    with pytest.raises(ValueError, match="shape"):
        normalize(np.zeros(5), "channel")


floats = st.floats(width=32, allow_nan=True, allow_infinity=True)


@settings(max_examples=200, deadline=None)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=3, max_dims=3, max_side=6),
                    elements=floats),
       mode=st.sampled_from(NORMALIZATIONS))
def test_property_range_shape_and_nan_only_where_missing(x, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = normalize(x, mode)
    assert out.shape == x.shape
    assert out.dtype == np.float32
    finite = np.isfinite(x)
    assert np.array_equal(np.isnan(out), ~finite)
    good = out[finite]
    assert ((good >= 0) & (good <= 1)).all()


@settings(max_examples=100, deadline=None)
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=3, max_side=5),
                    elements=st.floats(-1e6, 1e6)))
def test_property_channel_mode_hits_both_ends(x):
    out = normalize(x, "channel")
    c = out if out.ndim == 3 else out[..., None]
    xs = x if x.ndim == 3 else x[..., None]
    for k in range(c.shape[2]):
        if xs[..., k].max() > xs[..., k].min():
            assert c[..., k].min() == 0.0 and c[..., k].max() == 1.0


def brute_force_range(x: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Data values at the two ends of the colours, from the definitions in the docs."""
    c = x.shape[-1]
    lo, hi = np.empty(c), np.empty(c)
    for k in range(c):
        v = x[..., k].astype(np.float64).ravel()
        if mode == "channel":
            lo[k], hi[k] = v.min(), v.max()
        elif mode == "layer":
            lo[k], hi[k] = x.min(), x.max()
        elif mode == "standardize":
            lo[k], hi[k] = v.mean() - 2 * v.std(), v.mean() + 127 / 64 * v.std()
        else:
            top = np.abs(x.astype(np.float64)).max()
            lo[k], hi[k] = -top, top
    return lo, hi


@pytest.mark.parametrize("mode", NORMALIZATIONS)
def test_value_range_matches_brute_force_and_maps_to_0_and_1(mode):
    x = np.random.default_rng(3).normal(2.0, 3.0, size=(6, 5, 4)).astype(np.float32)
    stats = normalization_stats(x, mode)
    lo, hi = stats.value_range()
    assert lo.dtype == np.float64 and lo.shape == (4,)
    want_lo, want_hi = brute_force_range(x, mode)
    np.testing.assert_allclose(lo, want_lo, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(hi, want_hi, rtol=1e-5, atol=1e-5)
    # the ends really map to 0 and 1 under the statistics (a check of the inversion)
    ends = np.stack([lo, hi])[None].astype(np.float64)  # (1, 2, C)
    np.testing.assert_allclose(apply_normalization(ends, stats), [[[0.0] * 4, [1.0] * 4]],
                               atol=1e-5)


def test_value_range_of_a_subset_is_in_layout_order():
    x = np.random.default_rng(4).normal(size=(3, 3, 5))
    lo, hi = normalization_stats(x, "channel", [4, 0]).value_range()
    np.testing.assert_allclose(lo, [x[..., 4].min(), x[..., 0].min()])
    np.testing.assert_allclose(hi, [x[..., 4].max(), x[..., 0].max()])


@pytest.mark.parametrize("mode", NORMALIZATIONS)
def test_value_range_of_a_flat_channel_is_its_value_twice(mode):
    value = 0.0 if mode == "signed" else 7.5
    x = np.concatenate([np.full((2, 2, 1), value), np.full((2, 2, 1), np.nan)], axis=-1)
    lo, hi = normalization_stats(x, mode).value_range()
    assert lo[0] == hi[0] == value
    # a channel with no finite value: 0, unless it shares the layer's scale
    assert lo[1] == hi[1] == (value if mode in ("layer", "signed") else 0.0)


def test_stats_mode_is_a_deprecated_alias():
    stats = normalization_stats(np.ones((2, 2, 1)), "layer")
    assert stats.normalization == "layer"
    with pytest.warns(DeprecationWarning):
        assert stats.mode == "layer"
