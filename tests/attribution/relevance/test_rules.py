"""Each relevance rule against its published formula, in numpy, on a tiny layer.

A dense layer is its own matrix; a convolution is checked through its matrix (the
output for each unit input), on which the formulas are written the same way.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.attribution import autodiff
from cnnviz_widgets.attribution.relevance import (
    AlphaBeta,
    Epsilon,
    Flat,
    Gamma,
    WSquare,
    ZBox,
    ZPlus,
)
from cnnviz_widgets.attribution.relevance.rules import Linear

RNG = np.random.default_rng(3)
LOW, HIGH = -1.5, 2.0


def pos(a):
    return np.maximum(a, 0.0)


def neg(a):
    return np.minimum(a, 0.0)


def ratio(numerators, denominator, relevance):
    """``sum_j numerators[n, i, j] * relevance[n, j] / denominator[n, j]``; a denominator of
    exactly 0 (an output no input reaches through the rule's part, e.g. z+ at a padded corner
    whose inputs all have the wrong sign; its numerators are 0 too) is Zennit's stabiliser."""
    denominator = np.where(denominator == 0, 1e-6, denominator)
    return np.einsum("nij,nj->ni", numerators, relevance / denominator)


def oracle(rule, x, w, b, r):
    """The formula of ``rule`` for z = x w + b, batch (N, I), w (I, J)."""
    contrib = x[:, :, None] * w[None]  # (N, I, J)
    if isinstance(rule, Epsilon):
        z = contrib.sum(1) + b
        return ratio(contrib, z + rule.epsilon * np.where(z >= 0, 1.0, -1.0), r)
    if isinstance(rule, ZPlus | AlphaBeta):
        up = pos(x)[:, :, None] * pos(w) + neg(x)[:, :, None] * neg(w)
        down = pos(x)[:, :, None] * neg(w) + neg(x)[:, :, None] * pos(w)
        up_rel = ratio(up, up.sum(1) + pos(b), r)
        if isinstance(rule, ZPlus):
            return up_rel
        return rule.alpha * up_rel - rule.beta * ratio(down, down.sum(1) + neg(b), r)
    if isinstance(rule, Gamma):
        g = rule.gamma
        z = contrib.sum(1) + b
        up = pos(x)[:, :, None] * (w + g * pos(w)) + neg(x)[:, :, None] * (w + g * neg(w))
        down = pos(x)[:, :, None] * (w + g * neg(w)) + neg(x)[:, :, None] * (w + g * pos(w))
        return (ratio(up, up.sum(1) + b + g * pos(b), r * (z > 0))
                + ratio(down, down.sum(1) + b + g * neg(b), r * (z < 0)))
    if isinstance(rule, Flat | WSquare):
        v = (w != 0).astype(np.float64) if isinstance(rule, Flat) else w * w  # connections
        return ratio(np.broadcast_to(v, contrib.shape), v.sum(0)[None], r)
    if isinstance(rule, ZBox):
        terms = contrib - LOW * pos(w)[None] - HIGH * neg(w)[None]
        return ratio(terms, terms.sum(1), r)
    raise AssertionError(rule)


RULES = [Epsilon(0.1), ZPlus(), AlphaBeta(2.0, 1.0), Gamma(0.25), Flat(), WSquare(),
         ZBox(LOW, HIGH)]


def _dense(w, b):
    import keras

    def forward(x, weight, bias):
        z = keras.ops.matmul(x, weight)
        return z if bias is None else z + bias

    return Linear("dense", "dense", autodiff.to_tensor(w), autodiff.to_tensor(b), forward)


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_each_rule_on_a_dense_layer_is_its_formula(rule):
    x = RNG.uniform(LOW, HIGH, (2, 5)).astype(np.float32)
    w = RNG.normal(size=(5, 3)).astype(np.float32)
    b = RNG.normal(scale=0.3, size=3).astype(np.float32)
    r = RNG.normal(size=(2, 3)).astype(np.float32)
    ours = autodiff.to_numpy(rule.propagate(_dense(w, b), autodiff.to_tensor(x),
                                            autodiff.to_tensor(r)))
    expected = oracle(rule, x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                      r.astype(np.float64))
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("rule", [Epsilon(0.1), ZPlus(), Gamma(0.25), Flat(), ZBox(LOW, HIGH)],
                         ids=repr)
def test_each_rule_on_a_convolution_is_its_formula_on_the_convolution_matrix(rule):
    import keras

    rng = np.random.default_rng(3)  # its own draws, whatever ran before

    layer = keras.layers.Conv2D(3, 2, strides=1, padding="same")
    layer.build((None, 3, 3, 2))
    layer.set_weights([rng.normal(size=(2, 2, 2, 3)).astype(np.float32),
                       rng.normal(scale=0.3, size=3).astype(np.float32)])
    from cnnviz_widgets.attribution.relevance.canonizers import linear_maps

    (linear,) = linear_maps(layer)
    kernel = autodiff.to_numpy(linear.weight)
    # the matrix of the convolution without bias: its output for each unit input
    basis = np.eye(3 * 3 * 2, dtype=np.float32).reshape(-1, 3, 3, 2)
    matrix = autodiff.to_numpy(linear.forward(autodiff.to_tensor(basis),
                                              autodiff.to_tensor(kernel), None))
    matrix = matrix.reshape(len(basis), -1).astype(np.float64)  # (I, J)
    bias = np.tile(layer.get_weights()[1], 9).astype(np.float64)
    x = rng.uniform(LOW, HIGH, (2, 3, 3, 2)).astype(np.float32)
    r = rng.normal(size=(2, 3, 3, 3)).astype(np.float32)
    ours = autodiff.to_numpy(rule.propagate(linear, autodiff.to_tensor(x),
                                            autodiff.to_tensor(r)))
    expected = oracle(rule, x.reshape(2, -1).astype(np.float64), matrix, bias,
                      r.reshape(2, -1).astype(np.float64))
    # float32 against float64: a small denominator magnifies the last bits
    np.testing.assert_allclose(ours.reshape(2, -1), expected, rtol=1e-3,
                               atol=1e-4 * np.abs(expected).max())


def test_alpha_beta_must_conserve():
    from cnnviz_widgets.errors import InvalidSettingError

    with pytest.raises(InvalidSettingError, match="alpha - beta = 1"):
        AlphaBeta(2.0, 2.0)


@pytest.mark.parametrize("rule", [ZPlus(), AlphaBeta(2.0, 1.0), Gamma(0.25)], ids=repr)
def test_skipping_the_negative_part_of_a_nonnegative_input_changes_nothing(rule):
    x = np.maximum(RNG.normal(size=(2, 5)), 0).astype(np.float32)
    w = RNG.normal(size=(5, 3)).astype(np.float32)
    b = RNG.normal(scale=0.3, size=3).astype(np.float32)
    r = autodiff.to_tensor(RNG.normal(size=(2, 3)).astype(np.float32))
    full = rule.propagate(_dense(w, b), autodiff.to_tensor(x), r)
    short = rule.propagate(_dense(w, b), autodiff.to_tensor(x), r, nonnegative=True)
    np.testing.assert_allclose(autodiff.to_numpy(short), autodiff.to_numpy(full), rtol=1e-6,
                               atol=1e-7)
