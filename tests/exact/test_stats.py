"""Tests for torchlinear.exact.stats: statistics of many columns updated chunk by chunk.

References: NumPy's products of the whole matrix, and NumPy's QR.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchlinear.exact import GramStats, TSQRStats
from torchlinear.exact.stats import joined_chunks


def _rows(n: int, d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + 3.0
    return torch.from_numpy(X), torch.from_numpy(X[:, :3].sum(1) + rng.normal(size=n))


@pytest.mark.parametrize("kind", [GramStats, TSQRStats])
def test_chunks_of_many_columns_update_the_statistics_in_place(kind, monkeypatch) -> None:
    # a stream's chunk of a few rows used to be accumulated into d x d statistics of its
    # own, then merged: O(d^2) memory and time per chunk, O(d^3) for the factor
    d = 1100
    X, y = _rows(1400, d)

    def refuse(self, other):
        raise AssertionError("a chunk's statistics were merged")

    monkeypatch.setattr(kind, "merge", refuse)
    stats = kind.zeros(d)
    for start, stop in [(0, 90), (90, 400), (400, 1400)]:  # BLAS gemm, then syrk
        stats.update(X[start:stop], y[start:stop])
    assert stats.n_samples == 1400
    Z = np.column_stack([np.ones(1400), X.numpy() - stats.shift_x.numpy(), y.numpy()])
    Z[:, -1] -= stats.shift_y.numpy()
    if kind is GramStats:
        expected = Z[:, 1:-1].T @ Z[:, 1:-1]
        assert np.abs(stats.xtx.numpy() - expected).max() < 1e-13 * np.abs(expected).max()
        assert np.array_equal(stats.xtx.numpy(), stats.xtx.numpy().T)
    else:
        R = stats.r.numpy()
        np.testing.assert_allclose(np.abs(R), np.abs(np.linalg.qr(Z, mode="r")), atol=1e-9)
        assert not np.tril(R, -1).any()


def test_statistics_given_to_a_pass_are_updated_in_place() -> None:
    X, y = _rows(50, 4)
    stats = GramStats.zeros(4)
    xtx = stats.xtx
    assert stats.update(X, y) is stats and stats.xtx is xtx


def test_small_chunks_of_many_columns_are_joined_in_order() -> None:
    X, y = _rows(700, 1100)
    Y = y[:, None]
    parts = [(X[i : i + 70], Y[i : i + 70], None) for i in range(0, 700, 70)]
    joined = list(joined_chunks(parts))
    assert [len(c[0]) for c in joined] == [700]  # 1,024 rows wanted: all of them
    assert torch.equal(joined[0][0], X) and torch.equal(joined[0][1], Y)
    narrow = [(X[:10, :5], Y[:10], None)] * 3  # few columns: as they come
    assert all(a is b for a, b in zip(joined_chunks(narrow), narrow, strict=True))
    weighted = [(X[:10], Y[:10], None), (X[10:20], Y[10:20], torch.ones(10))]
    assert [c[2] is None for c in joined_chunks(weighted)] == [True, False]
