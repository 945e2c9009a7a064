"""Exact elastic net on statistics: scikit-learn agreement, gap, warnings, folds, memory."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.model_selection import KFold

from torchlinear.exact import GramStats
from torchlinear.exact.coordinate_descent import (
    ScaledProblem,
    alpha_grid,
    check_stats_memory,
    enet_path,
    fit_cv_from_fold_stats,
)
from torchlinear.exact.fold_stats import (
    FoldGramStats,
    contiguous_fold_ids,
    hashed_fold_ids,
    sparse_gram_stats,
    subtract_stats,
)


def _data(n=300, d=12, seed=0, offset=5.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ (np.eye(d) + 0.3 * rng.normal(size=(d, d)))
    X = X * rng.uniform(0.2, 4, d) + offset * rng.uniform(-1, 1, d)
    beta = np.where(rng.random(d) < 0.5, rng.normal(size=d) * 2, 0.0)
    y = X @ beta + rng.normal(size=n) + 3.0
    return X, y


def _stats(X, y, w=None):
    t = torch.from_numpy
    return GramStats.zeros(X.shape[1]).update(t(X), t(y), None if w is None else t(w))


def _reference(X, y, alpha, l1_ratio, w=None, **kw):
    m = SkElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=200_000, **kw)
    return m.fit(X, y, sample_weight=w)


def _assert_same(coef, ref_coef, rtol=1e-6):
    scale = max(np.max(np.abs(ref_coef)), 1e-300)
    assert np.max(np.abs(coef - ref_coef)) <= rtol * scale
    np.testing.assert_array_equal(coef == 0, ref_coef == 0)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.05])
@pytest.mark.parametrize("positive", [False, True])
def test_path_matches_sklearn(l1_ratio, positive):
    X, y = _data()
    problem = ScaledProblem.from_stats(_stats(X, y))
    grid = alpha_grid(problem, l1_ratio, n_alphas=30, positive=positive)
    path = enet_path(problem, grid, l1_ratio, positive=positive)
    assert path.converged.all()
    for k in (0, 7, 15, 29):
        ref = _reference(X, y, grid[k], l1_ratio, positive=positive)
        _assert_same(path.coefs[k], ref.coef_)
        assert path.intercepts[k] == pytest.approx(ref.intercept_, rel=1e-9, abs=1e-9)


def test_alpha_grid_is_sklearns_formula():
    X, y = _data(n=200, d=6)
    w = np.random.default_rng(1).uniform(0.1, 3, 200)
    problem = ScaledProblem.from_stats(_stats(X, y, w))
    xm, ym = np.average(X, axis=0, weights=w), np.average(y, weights=w)
    alpha_max = np.max(np.abs((X - xm).T @ (w * (y - ym)))) / (w.sum() * 0.3)
    grid = alpha_grid(problem, 0.3, eps=1e-2, n_alphas=5)
    np.testing.assert_allclose(grid, alpha_max * np.logspace(0, -2, 5), rtol=1e-12)
    with pytest.raises(ValueError, match="l1_ratio > 0"):
        alpha_grid(problem, 0.0)


def test_weighted_and_no_intercept_match_sklearn():
    X, y = _data(n=250, d=8, seed=2)
    w = np.random.default_rng(3).uniform(0.0, 2.0, 250)
    st = _stats(X, y, w)
    for fit_intercept in (True, False):
        path = enet_path(st, [0.05, 0.01], 0.7, fit_intercept=fit_intercept)
        for k, alpha in enumerate((0.05, 0.01)):
            ref = _reference(X, y, alpha, 0.7, w, fit_intercept=fit_intercept)
            _assert_same(path.coefs[k], ref.coef_)
            assert path.intercepts[k] == pytest.approx(ref.intercept_, rel=1e-8, abs=1e-9)


def test_constant_column_gets_zero():
    X, y = _data(n=100, d=4)
    X[:, 2] = 7.0
    path = enet_path(_stats(X, y), [0.01], 1.0)
    ref = _reference(X, y, 0.01, 1.0)
    assert path.coefs[0, 2] == 0.0
    _assert_same(path.coefs[0], ref.coef_)


def test_duality_gap_certifies_the_objective():
    X, y = _data(n=200, d=10, seed=4)
    path = enet_path(_stats(X, y), [0.02], 0.6)
    ref = _reference(X, y, 0.02, 0.6)

    def objective(coef, b):
        r = y - X @ coef - b
        return r @ r / (2 * len(y)) + 0.02 * (0.6 * np.abs(coef).sum() + 0.2 * coef @ coef)

    ours = objective(path.coefs[0], path.intercepts[0])
    best = objective(ref.coef_, ref.intercept_)
    assert 0 <= path.dual_gaps[0] <= 1e-4 * np.var(y)
    assert ours <= best + path.dual_gaps[0] + 1e-12 * best


def test_convergence_warning_when_and_only_when_unmet():
    X, y = _data(n=300, d=30, seed=5)
    st = _stats(X, y)
    with pytest.warns(ConvergenceWarning, match="duality gap"):
        path = enet_path(st, [1e-4], 1.0, max_iter=1, tol=1e-12)
    assert not path.converged[0] and path.dual_gaps[0] > 1e-12 * np.var(y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        path = enet_path(st, [1e-4], 1.0)
    assert path.converged[0] and path.dual_gaps[0] <= 1e-4 * np.var(y)


def test_random_selection_reaches_the_same_answer():
    X, y = _data(n=150, d=10, seed=6)
    a = enet_path(_stats(X, y), [0.05], 0.5, selection="random", random_state=0)
    ref = _reference(X, y, 0.05, 0.5)
    _assert_same(a.coefs[0], ref.coef_)


def test_bad_arguments():
    st = _stats(*_data(n=50, d=3))
    with pytest.raises(ValueError, match="l1_ratio"):
        enet_path(st, [0.1], 1.5)
    with pytest.raises(ValueError, match="alphas is empty"):
        enet_path(st, [], 0.5)
    with pytest.raises(ValueError, match=">= 0"):
        enet_path(st, [-1.0], 0.5)


def test_memory_refused_before_allocating():
    from torchlinear._validation import memory_limit

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


# ----------------------------------------------------------------------------- folds


def test_contiguous_folds_are_sklearn_kfold():
    for n, k in [(10, 3), (101, 5), (5, 5), (37, 4)]:
        ids = contiguous_fold_ids(np.arange(n), n, k)
        expected = np.empty(n, dtype=int)
        for f, (_, test) in enumerate(KFold(k).split(np.zeros((n, 1)))):
            expected[test] = f
        np.testing.assert_array_equal(ids, expected)


def test_hashed_folds_depend_only_on_row_numbers():
    rows = np.arange(1000, 3000)
    np.testing.assert_array_equal(
        hashed_fold_ids(rows, 5, 7),
        np.concatenate([hashed_fold_ids(r, 5, 7) for r in np.split(rows, 8)]),
    )
    assert not np.array_equal(hashed_fold_ids(rows, 5, 7), hashed_fold_ids(rows, 5, 8))


@pytest.mark.parametrize("shuffle", [False, True])
def test_fold_stats_equal_direct_per_fold_statistics(shuffle):
    X, y = _data(n=503, d=5, seed=7, offset=1e6)  # badly centred: column means ~1e6
    w = np.random.default_rng(8).uniform(0.5, 1.5, 503)
    t = torch.from_numpy
    one = FoldGramStats(5, 5, n_samples=503, shuffle=shuffle, seed=3).update(t(X), t(y), t(w))
    chunked = FoldGramStats(5, 5, n_samples=503, shuffle=shuffle, seed=3)
    for lo in range(0, 503, 97):
        chunked.update(t(X[lo : lo + 97]), t(y[lo : lo + 97]), t(w[lo : lo + 97]))
    ids = one.fold_ids(np.arange(503))
    for k in range(5):
        train = ~(ids == k)
        xm = np.average(X[train], axis=0, weights=w[train])
        Xc = X[train] - xm
        G_direct = Xc.T @ (w[train, None] * Xc)
        for fs in (one, chunked):
            G = fs.training(k).system(True)[0].numpy()
            np.testing.assert_allclose(G, G_direct, rtol=1e-9, atol=1e-9 * np.abs(G_direct).max())
            np.testing.assert_allclose(fs.training(k).means()[0].numpy(), xm, rtol=1e-14)
        assert one.folds[k].n_samples == int((ids == k).sum())


def test_subtract_then_merge_round_trip():
    X, y = _data(n=80, d=3, seed=9)
    a, b = _stats(X[:30], y[:30]), _stats(X[30:], y[30:])
    rest = subtract_stats(a + b, a)
    for u, v in zip(rest.system(True), b.system(True), strict=True):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-10, atol=1e-9)
    with pytest.raises(ValueError, match="cannot remove"):
        subtract_stats(a, a + b)


def test_sparse_statistics_equal_dense():
    X, y = _data(n=120, d=6, seed=10, offset=0.0)
    X[np.abs(X) < 1.0] = 0.0
    w = np.random.default_rng(11).uniform(0.1, 2.0, 120)
    dense = _stats(X, y, w)
    for fmt in (sp.csr_matrix, sp.csc_array, sp.coo_matrix):
        sparse = sparse_gram_stats(fmt(X), y, w, shift_y=2.0)
        for u, v in zip(sparse.system(True), dense.system(True), strict=True):
            np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-10, atol=1e-10)


def test_cv_from_fold_stats_matches_per_fold_fits():
    X, y = _data(n=200, d=6, seed=12)
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
                ref = _reference(X[train], y[train], res.alphas[i, j], r)
                mse = np.mean((y[test] - ref.predict(X[test])) ** 2)
                assert res.mse_path[i, j, f] == pytest.approx(mse, rel=1e-7)
    mean = res.mse_path.mean(axis=2)
    assert res.alpha == res.alphas.flat[np.argmin(mean)]
    assert res.alpha_1se >= res.alpha


@pytest.mark.parametrize("shuffle", [False, True])
def test_shards_with_row_offsets_merge_to_the_single_pass(shuffle):
    X, y = _data(n=301, d=4, seed=13)
    t = torch.from_numpy
    single = FoldGramStats(4, 3, n_samples=301, shuffle=shuffle).update(t(X), t(y))
    rank0 = FoldGramStats(4, 3, n_samples=301, shuffle=shuffle).update(t(X[:120]), t(y[:120]))
    rank1 = FoldGramStats(4, 3, n_samples=301, shuffle=shuffle)
    rank1.update(t(X[120:]), t(y[120:]), row_offset=120)
    merged = rank0.merge(rank1)
    for a, b in zip(merged.folds, single.folds, strict=True):
        assert a.n_samples == b.n_samples
        for u, v in zip(a.system(True), b.system(True), strict=True):
            np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-10, atol=1e-10)
