"""The elastic-net kernel: the scaled problem (weights, centring, constant columns) and the
solve at one alpha (its duality gap, its coordinate order), against scikit-learn.

The kernel is reached through its one caller, :func:`enet_path`, at one or two alphas.
"""

from __future__ import annotations

import numpy as np
import pytest

from torchlinear.exact.coordinate_descent import enet_path


def test_weighted_and_no_intercept_match_sklearn(
    enet_data, gram_stats, sklearn_enet, assert_same_coef
):
    X, y = enet_data(n=250, d=8, seed=2)
    w = np.random.default_rng(3).uniform(0.0, 2.0, 250)
    st = gram_stats(X, y, w)
    for fit_intercept in (True, False):
        path = enet_path(st, [0.05, 0.01], 0.7, fit_intercept=fit_intercept)
        for k, alpha in enumerate((0.05, 0.01)):
            ref = sklearn_enet(X, y, alpha, 0.7, w, fit_intercept=fit_intercept)
            assert_same_coef(path.coefs[k], ref.coef_)
            assert path.intercepts[k] == pytest.approx(ref.intercept_, rel=1e-8, abs=1e-9)


def test_constant_column_gets_zero(enet_data, gram_stats, sklearn_enet, assert_same_coef):
    X, y = enet_data(n=100, d=4)
    X[:, 2] = 7.0
    path = enet_path(gram_stats(X, y), [0.01], 1.0)
    ref = sklearn_enet(X, y, 0.01, 1.0)
    assert path.coefs[0, 2] == 0.0
    assert_same_coef(path.coefs[0], ref.coef_)


def test_duality_gap_certifies_the_objective(enet_data, gram_stats, sklearn_enet):
    X, y = enet_data(n=200, d=10, seed=4)
    path = enet_path(gram_stats(X, y), [0.02], 0.6)
    ref = sklearn_enet(X, y, 0.02, 0.6)

    def objective(coef, b):
        r = y - X @ coef - b
        return r @ r / (2 * len(y)) + 0.02 * (0.6 * np.abs(coef).sum() + 0.2 * coef @ coef)

    ours = objective(path.coefs[0], path.intercepts[0])
    best = objective(ref.coef_, ref.intercept_)
    assert 0 <= path.dual_gaps[0] <= 1e-4 * np.var(y)
    assert ours <= best + path.dual_gaps[0] + 1e-12 * best


def test_random_selection_reaches_the_same_answer(
    enet_data, gram_stats, sklearn_enet, assert_same_coef
):
    X, y = enet_data(n=150, d=10, seed=6)
    a = enet_path(gram_stats(X, y), [0.05], 0.5, selection="random", random_state=0)
    ref = sklearn_enet(X, y, 0.05, 0.5)
    assert_same_coef(a.coefs[0], ref.coef_)


@pytest.mark.parametrize("offset", [1e9, 1e12, 1e15])
def test_a_large_offset_with_a_small_spread_is_not_constant(
    offset, gram_stats, sklearn_enet, assert_same_coef
):
    # offset + k is exact, and so is its centring: its coefficient is that of k
    rng = np.random.default_rng(9)
    k = rng.integers(0, 11, 200).astype(float)
    z = rng.normal(size=200)
    y = 2 * k + 3 * z + 0.01 * rng.normal(size=200)
    path = enet_path(gram_stats(np.c_[offset + k, z], y), [1e-3], 1.0)
    ref = sklearn_enet(np.c_[k, z], y, 1e-3, 1.0)
    assert_same_coef(path.coefs[0], ref.coef_)
    assert path.coefs[0, 0] == pytest.approx(2.0, abs=1e-3)
