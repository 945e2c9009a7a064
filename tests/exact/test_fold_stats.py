"""Statistics per fold: scikit-learn's folds, hashed folds, per-fold Gram statistics
(chunked, sharded, sparse) and their subtraction."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.model_selection import KFold

from torchlinear.exact.fold_stats import (
    FoldGramStats,
    contiguous_fold_ids,
    hashed_fold_ids,
    sparse_gram_stats,
    subtract_stats,
)


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
def test_fold_stats_equal_direct_per_fold_statistics(shuffle, enet_data):
    X, y = enet_data(n=503, d=5, seed=7, offset=1e6)  # badly centred: column means ~1e6
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


def test_subtract_then_merge_round_trip(enet_data, gram_stats):
    X, y = enet_data(n=80, d=3, seed=9)
    a, b = gram_stats(X[:30], y[:30]), gram_stats(X[30:], y[30:])
    rest = subtract_stats(a + b, a)
    for u, v in zip(rest.system(True), b.system(True), strict=True):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-10, atol=1e-9)
    with pytest.raises(ValueError, match="cannot remove"):
        subtract_stats(a, a + b)


def test_sparse_statistics_equal_dense(enet_data, gram_stats):
    X, y = enet_data(n=120, d=6, seed=10, offset=0.0)
    X[np.abs(X) < 1.0] = 0.0
    w = np.random.default_rng(11).uniform(0.1, 2.0, 120)
    dense = gram_stats(X, y, w)
    for fmt in (sp.csr_matrix, sp.csc_array, sp.coo_matrix):
        sparse = sparse_gram_stats(fmt(X), y, w, shift_y=2.0)
        for u, v in zip(sparse.system(True), dense.system(True), strict=True):
            np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("shuffle", [False, True])
def test_shards_with_row_offsets_merge_to_the_single_pass(shuffle, enet_data):
    X, y = enet_data(n=301, d=4, seed=13)
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
