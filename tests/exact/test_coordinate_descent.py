"""Exact elastic-net paths on statistics: scikit-learn agreement, the alpha grid, warnings,
arguments, memory, and cross-validation from per-fold statistics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold

from torchlinear.exact.coordinate_descent import (
    ScaledProblem,
    alpha_grid,
    check_stats_memory,
    enet_path,
    fit_cv_from_fold_stats,
)
from torchlinear.exact.fold_stats import FoldGramStats


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.05])
@pytest.mark.parametrize("positive", [False, True])
def test_path_matches_sklearn(
    l1_ratio, positive, enet_data, gram_stats, sklearn_enet, assert_same_coef
):
    X, y = enet_data()
    problem = ScaledProblem.from_stats(gram_stats(X, y))
    grid = alpha_grid(problem, l1_ratio, n_alphas=30, positive=positive)
    path = enet_path(problem, grid, l1_ratio, positive=positive)
    assert path.converged.all()
    for k in (0, 7, 15, 29):
        ref = sklearn_enet(X, y, grid[k], l1_ratio, positive=positive)
        assert_same_coef(path.coefs[k], ref.coef_)
        assert path.intercepts[k] == pytest.approx(ref.intercept_, rel=1e-9, abs=1e-9)


def test_alpha_grid_is_sklearns_formula(enet_data, gram_stats):
    X, y = enet_data(n=200, d=6)
    w = np.random.default_rng(1).uniform(0.1, 3, 200)
    problem = ScaledProblem.from_stats(gram_stats(X, y, w))
    xm, ym = np.average(X, axis=0, weights=w), np.average(y, weights=w)
    alpha_max = np.max(np.abs((X - xm).T @ (w * (y - ym)))) / (w.sum() * 0.3)
    grid = alpha_grid(problem, 0.3, eps=1e-2, n_alphas=5)
    np.testing.assert_allclose(grid, alpha_max * np.logspace(0, -2, 5), rtol=1e-12)
    with pytest.raises(ValueError, match="l1_ratio > 0"):
        alpha_grid(problem, 0.0)


def test_convergence_warning_when_and_only_when_unmet(enet_data, gram_stats):
    X, y = enet_data(n=300, d=30, seed=5)
    st = gram_stats(X, y)
    with pytest.warns(ConvergenceWarning, match="duality gap"):
        path = enet_path(st, [1e-4], 1.0, max_iter=1, tol=1e-12)
    assert not path.converged[0] and path.dual_gaps[0] > 1e-12 * np.var(y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        path = enet_path(st, [1e-4], 1.0)
    assert path.converged[0] and path.dual_gaps[0] <= 1e-4 * np.var(y)


def test_bad_arguments(enet_data, gram_stats):
    st = gram_stats(*enet_data(n=50, d=3))
    with pytest.raises(ValueError, match="l1_ratio"):
        enet_path(st, [0.1], 1.5)
    with pytest.raises(ValueError, match="alphas is empty"):
        enet_path(st, [], 0.5)
    with pytest.raises(ValueError, match=">= 0"):
        enet_path(st, [-1.0], 0.5)


def test_memory_refused_before_allocating():
    from torchlinear._memory import memory_limit

    with memory_limit("1G"), pytest.raises(ValueError, match="gradient solver"):
        check_stats_memory(200_000, 6)
    assert check_stats_memory(10, 2, memory_limit=1600) == 1600
    # 8 * 8192**2 bytes = 537 MB against a budget of 2**28 bytes = 268 MB
    with pytest.raises(ValueError, match=r"need 537 MB .* budget of 268 MB \(memory_limit\)"):
        check_stats_memory(8192, 1, memory_limit=1 << 28)
    with pytest.raises(ValueError, match="memory budget"):
        FoldGramStats(5000, 5, n_samples=10, memory_limit=10**6)
    with memory_limit(10**6), pytest.raises(ValueError, match="memory budget"):
        FoldGramStats(5000, 5, n_samples=10)


def test_cv_from_fold_stats_matches_per_fold_fits(enet_data, sklearn_enet):
    X, y = enet_data(n=200, d=6, seed=12)
    t = torch.from_numpy
    folds = FoldGramStats(6, 4, n_samples=200).update(t(X), t(y))
    total = folds.total()
    res = fit_cv_from_fold_stats(
        [folds.training(k) for k in range(4)], folds.folds, total, l1_ratio=[0.5, 1.0], alphas=8
    )
    assert res.mse_path.shape == (2, 8, 4)
    for f, (train, test) in enumerate(KFold(4).split(X)):
        for i, r in enumerate((0.5, 1.0)):
            for j in (0, 4, 7):
                ref = sklearn_enet(X[train], y[train], res.alphas[i, j], r)
                mse = np.mean((y[test] - ref.predict(X[test])) ** 2)
                assert res.mse_path[i, j, f] == pytest.approx(mse, rel=1e-7)
    mean = res.mse_path.mean(axis=2)
    assert res.alpha == res.alphas.flat[np.argmin(mean)]
    assert res.alpha_1se >= res.alpha
