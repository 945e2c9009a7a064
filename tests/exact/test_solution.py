"""Tests for torchlinear.exact.solution on Gram matrices of thousands of columns.

A design of one-hot encoded categories with a few rows more than columns: solved through
the normal equations, with the condition number from Lanczos iterations. References:
NumPy's solve of the centred normal equations and its eigenvalues; the peak memory is
measured in a fresh process (``tests/data/_capped.py``).
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import torch

from torchlinear.exact import solve_exact

CAPPED = Path(__file__).resolve().parents[1] / "data" / "_capped.py"


def _onehot(k: int, levels: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Treatment-coded columns of ``k`` categories (every level present) and a target."""
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.permutation(np.arange(n) % levels) for _ in range(k)], axis=1)
    X = np.zeros((n, k * (levels - 1)))
    for j in range(k):
        hit = codes[:, j] > 0
        X[np.flatnonzero(hit), j * (levels - 1) + codes[hit, j] - 1] = 1.0
    return X, X @ rng.normal(size=X.shape[1]) + 0.1 * rng.normal(size=n)


def case_many_levels() -> list:
    """Run in a capped child: the solve's peak memory (in d x d matrices), then its
    coefficients and condition number against NumPy's."""
    X, y = _onehot(2, 1050, 2300)  # 2,098 columns, 2,300 rows
    d = X.shape[1]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    solve_exact(lambda: iter([(Xt[:40, :8], yt[:40], None)]))  # libraries loaded

    def high_water() -> int:
        with open("/proc/self/status") as status:
            return next(int(s.split()[1]) * 1024 for s in status if s.startswith("VmHWM:"))

    before = high_water()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # well conditioned: no warning
        sol = solve_exact(
            lambda: ((Xt[i : i + 100], yt[i : i + 100], None) for i in range(0, 2300, 100))
        )
    matrices = (high_water() - before) / (8 * d * d)
    Xc, yc = X - X.mean(0), y - y.mean()
    G = Xc.T @ Xc
    coef = np.linalg.solve(G, Xc.T @ yc)
    error = float(np.abs(sol.coef[:, 0].numpy() - coef).max() / np.abs(coef).max())
    D = np.sqrt(np.diag(G))
    evals = np.linalg.eigvalsh(G / np.outer(D, D))
    return [sol.solver, matrices, error, sol.cond / np.sqrt(evals[-1] / evals[0])]


def test_many_one_hot_columns_are_solved_in_a_few_d_by_d_matrices() -> None:
    # the d x d statistics were copied per chunk, centred, scaled, factorised and
    # eigendecomposed apart: about 7 d x d matrices at once, and an O(d^3) pass more
    spec = importlib.util.spec_from_file_location("capped", CAPPED)
    assert spec is not None and spec.loader is not None
    capped = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(capped)
    outcome = capped.run_capped(__file__, ["case_many_levels"], headroom=1 << 30)
    result = outcome["case_many_levels"]
    assert result["returned"], result.get("traceback", result)
    solver, matrices, error, cond_ratio = result["value"]
    assert solver == "cholesky"
    assert error < 1e-9
    assert abs(cond_ratio - 1) < 1e-6
    assert matrices < 5.0
