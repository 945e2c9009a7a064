"""Tests for torchlinear.exact.solution: rank decisions on the scale of the values, and
Gram matrices of thousands of columns.

Columns far from zero with small spreads (``1e15 + k``) are exact in float64, and so is
their centring: they are neither constant nor collinear, on every solver, weighted or
not; a spread within the rounding of the values (``c (1 + k eps)``, ``0.1 + 0.2`` beside
``0.3``) and a copy of a column up to rounding still are. References: exact rational
arithmetic and NumPy's least squares on the exactly centred columns.

A design of one-hot encoded categories with a few rows more than columns: solved through
the normal equations, with the condition number from Lanczos iterations. References:
NumPy's solve of the centred normal equations and its eigenvalues; the peak memory is
measured in a fresh process (``tests/data/_capped.py``).
"""

from __future__ import annotations

import importlib.util
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from torchlinear import LinearRegression
from torchlinear.exact import GramStats, lstsq, solve_exact
from torchlinear.exact.driver import solve_statistics

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


EPS = float(np.finfo(np.float64).eps)
SOLVERS = ["auto", "cholesky", "qr", "svd"]


def _exact_coef(K: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Coefficients of the weighted least-squares fit with an intercept, in rationals."""
    n, d = K.shape
    ws = [Fraction(1)] * n if w is None else [Fraction(float(v)) for v in w]
    W = sum(ws)
    cols = [[Fraction(float(v)) for v in K[:, j]] for j in range(d)]
    cols.append([Fraction(float(v)) for v in y])
    means = [sum(a * b for a, b in zip(ws, c, strict=True)) / W for c in cols]
    cen = [[v - m for v in c] for c, m in zip(cols, means, strict=True)]
    M = [
        [sum(ws[i] * cen[a][i] * cen[b][i] for i in range(n)) for b in range(d + 1)]
        for a in range(d)
    ]
    for c in range(d):  # Gauss-Jordan on [G | b], exact
        for r in range(d):
            if r != c:
                f = M[r][c] / M[c][c]
                M[r] = [a - f * b for a, b in zip(M[r], M[c], strict=True)]
    return np.array([float(M[j][d] / M[j][j]) for j in range(d)])


def _fit(X, y, w, solver):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sol = lstsq(X, y, sample_weight=w, solver=solver)
    return sol.coef[:, 0].numpy(), [str(c.message) for c in caught]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("offset", "spread"), [(1e12, 3), (1e15, 11), (4e15, 11), (4e15, 1001)])
def test_a_large_offset_with_a_small_spread_is_not_constant(offset, spread, weighted, solver):
    rng = np.random.default_rng(int(offset) % 97 + spread)
    k = rng.integers(0, spread, 120).astype(float)
    z = rng.normal(size=120)
    y = 2 * k + 3 * z + 0.01 * rng.normal(size=120)
    w = rng.uniform(0.1, 2.0, 120) if weighted else None
    coef, messages = _fit(np.c_[offset + k, z], y, w, solver)  # offset + k is exact
    assert messages == []
    np.testing.assert_allclose(coef, _exact_coef(np.c_[k, z], y, w), rtol=1e-12)


def test_the_reported_case_recovers_its_coefficients():
    rng = np.random.default_rng(0)
    x = 1e15 + rng.integers(0, 11, 200).astype(float)
    z = rng.normal(size=200)
    y = 2 * (x - 1e15) + 3 * z + 0.01 * rng.normal(size=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LinearRegression().fit(np.c_[x, z], y)
    np.testing.assert_allclose(model.coef_, _exact_coef(np.c_[x - 1e15, z], y, None), rtol=1e-12)
    assert model.coef_[0] == pytest.approx(2.0, abs=1e-3)


def _values_within_rounding(rng, n):
    c = 1.7 * (1 + rng.integers(0, 4, n) * EPS)  # c (1 + k eps): a few units in the last place
    sums = np.where(rng.random(n) < 0.5, 0.1 + 0.2, 0.3)  # 0.30000000000000004 or 0.3
    two = 4e15 + rng.integers(0, 2, n)  # one step of 0.5 at 4e15
    return {"c(1+k eps)": c, "0.1+0.2 vs 0.3": sums, "4e15+{0,1}": two}


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("case", ["c(1+k eps)", "0.1+0.2 vs 0.3", "4e15+{0,1}"])
def test_a_spread_within_the_rounding_of_the_values_is_still_constant(case, solver):
    rng = np.random.default_rng(5)
    x = _values_within_rounding(rng, 150)[case]
    z = rng.normal(size=150)
    y = 3 * z + 0.01 * rng.normal(size=150)
    coef, messages = _fit(np.c_[z, x], y, None, solver)
    assert len(messages) == 1 and "constant (collinear with the intercept): x1" in messages[0]
    assert coef[1] == 0.0
    np.testing.assert_allclose(coef[0], _exact_coef(z[:, None], y, None)[0], rtol=1e-12)


@pytest.mark.parametrize("solver", ["auto", "qr", "svd"])  # (the Gram's own limit aside)
@pytest.mark.parametrize("offset", [1e12, 1e15, 4e15])
def test_a_column_equal_to_an_offset_plus_another_is_collinear(offset, solver):
    rng = np.random.default_rng(6)
    k = rng.integers(0, 11, 150).astype(float)
    z = rng.normal(size=150)
    y = 2 * k + 3 * z + 0.01 * rng.normal(size=150)
    for X in (np.c_[k, offset + k, z], np.c_[offset + k, (offset + k) * (1 + EPS), z]):
        coef, messages = _fit(X, y, None, solver)
        assert len(messages) == 1 and "rank 2 of 3" in messages[0]
        assert "x0, x1" in messages[0] and "constant" not in messages[0]
        # the minimum-norm answer: the weight of k shared equally by its two copies
        ref = np.linalg.lstsq(np.c_[k, k, z] - np.c_[k, k, z].mean(0), y - y.mean(), rcond=None)
        np.testing.assert_allclose(coef, ref[0], rtol=1e-10)


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_copy_up_to_the_rounding_of_its_values_is_collinear(solver):
    # 1e12 + z keeps z to about 1e-4: its difference from z is rounding, not a signal
    rng = np.random.default_rng(7)
    z, u = rng.normal(size=(2, 150))
    y = 2 * z + 3 * u + 0.01 * rng.normal(size=150)
    coef, messages = _fit(np.c_[z, 1e12 + z, u], y, None, solver)
    assert len(messages) == 1 and "rank 2 of 3" in messages[0] and "x0, x1" in messages[0]
    ref = np.linalg.lstsq(np.c_[z, z, u] - np.c_[z, z, u].mean(0), y - y.mean(), rcond=None)[0]
    np.testing.assert_allclose(coef, ref, rtol=1e-4)  # (within the rounding of 1e12 + z)


def test_statistics_in_chunks_decide_like_the_rows():
    rng = np.random.default_rng(8)
    k = rng.integers(0, 11, 300).astype(float)
    z = rng.normal(size=300)
    y = 2 * k + 3 * z + 0.01 * rng.normal(size=300)
    X = np.c_[1e15 + k, z]
    stats = GramStats.zeros(2)
    for rows in np.array_split(np.arange(300), 4):
        stats.update(torch.from_numpy(X[rows]), torch.from_numpy(y[rows]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sol = solve_statistics(stats)
    np.testing.assert_allclose(
        sol.coef[:, 0].numpy(), _exact_coef(np.c_[k, z], y, None), rtol=1e-12
    )


@pytest.mark.parametrize("solver", ["auto", "qr", "svd"])
def test_columns_spanning_the_constant_keep_the_centred_total(solver) -> None:
    # one-hot levels without an intercept span the constant: the solution records the
    # targets' sum of squares about their weighted mean and the coefficients giving 1
    rng = np.random.default_rng(1)
    X = np.column_stack([np.eye(3)[rng.integers(0, 3, 40)], rng.normal(size=40)])
    y, w = rng.normal(size=40) + 5.0, rng.uniform(0.5, 2.0, 40)
    sol = lstsq(X, y, sample_weight=w, fit_intercept=False, solver=solver)
    mean = np.average(y, weights=w)
    assert float(sol.centred_tss[0]) == pytest.approx(float(w @ (y - mean) ** 2), rel=1e-12)
    np.testing.assert_allclose(X @ sol.constant_coef.numpy(), 1.0, atol=1e-12)
    tensors, scalars = sol.to_state()
    again = type(sol).from_state(tensors, scalars)
    assert torch.equal(again.centred_tss, sol.centred_tss)
    del tensors["constant_coef"]
    with pytest.raises(ValueError, match="only one of centred_tss, constant_coef"):
        type(sol).from_state(tensors, scalars)
    other = lstsq(X[:, 1:], y, sample_weight=w, fit_intercept=False, solver=solver)
    assert other.centred_tss is None and other.constant_coef is None  # a level left out
