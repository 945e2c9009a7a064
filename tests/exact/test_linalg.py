"""Tests for torchlinear.exact._linalg: the in-place kernels of wide statistics.

References: NumPy's products, Cholesky factor and eigenvalues.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchlinear.exact._linalg import (
    add_gram_inplace,
    cholesky_inplace,
    cholesky_solver,
    scaled,
    symmetrise_,
    top_eigenvalue,
)


def _spd(d: int, seed: int = 0) -> np.ndarray:
    A = np.random.default_rng(seed).normal(size=(d + 20, d))
    return A.T @ A


@pytest.mark.parametrize(("m", "order"), [(40, "C"), (600, "C"), (600, "F")])
def test_a_chunks_gram_matrix_is_added_in_place(m: int, order: str) -> None:
    rng = np.random.default_rng(m)
    A = np.asarray(rng.normal(size=(m, 300)), order=order)
    G = _spd(300)
    expected = G + A.T @ A
    buffer = G.__array_interface__["data"][0]
    add_gram_inplace(G, A)
    assert G.__array_interface__["data"][0] == buffer
    assert np.abs(G - expected).max() < 1e-12 * np.abs(expected).max()
    assert np.array_equal(G, G.T)


def test_symmetrise_and_scale_in_blocks_as_the_whole_matrix() -> None:
    M = torch.from_numpy(np.random.default_rng(1).normal(size=(700, 700)))
    D = torch.from_numpy(np.random.default_rng(2).uniform(0.5, 2.0, size=700))
    expected = 0.5 * (M + M.T)
    assert torch.equal(symmetrise_(M.clone(), step=128), expected)
    assert torch.equal(scaled(expected, D, step=100), expected / torch.outer(D, D))


def test_the_factor_written_over_the_matrix_is_choleskys() -> None:
    G = _spd(500)
    S = torch.from_numpy(G.copy())
    L, info = cholesky_inplace(S)
    assert info == 0 and L is S and L.is_contiguous()
    np.testing.assert_allclose(L.numpy(), np.linalg.cholesky(G), rtol=1e-10, atol=1e-10)
    v = np.random.default_rng(3).normal(size=500)
    np.testing.assert_allclose(cholesky_solver(L)(v), np.linalg.solve(G, v), rtol=1e-8)
    _, info = cholesky_inplace(torch.from_numpy(-G.copy()))  # not positive definite
    assert info > 0


def test_lanczos_finds_the_extreme_eigenvalues_numpy_finds() -> None:
    G = _spd(600)
    G[np.diag_indices(600)] += np.linspace(0, 1e3, 600)  # a spread of eigenvalues
    evals = np.linalg.eigvalsh(G)
    top = top_eigenvalue(G.dot, 600)
    L = torch.from_numpy(np.linalg.cholesky(G))
    inverse_top = top_eigenvalue(cholesky_solver(L), 600)
    assert top is not None and inverse_top is not None
    assert top == pytest.approx(evals[-1], rel=1e-8)
    assert 1.0 / inverse_top == pytest.approx(evals[0], rel=1e-8)
    assert top_eigenvalue(G.dot, 600) == top  # the same iterations every time
