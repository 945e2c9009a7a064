"""The active-set solver of non-negative quadratic programs, against SciPy's NNLS on the
design (which never forms the Gram matrix), and through the penalized path on the
statistics of a non-negative problem (weights, centring, ridge and L1 terms)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import nnls

from torchlinear.exact.coordinate_descent import enet_path
from torchlinear.exact.nnqp import kkt_violation, solve_nnqp


def _correlated(seed, n=188, d=16, offset=1e4):
    """Columns ``offset`` plus noise of spread 1 or 1e-3: nearly collinear without an
    intercept (coordinate descent stalls on such problems with the wrong support)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.choice([1e-3, 1.0], size=d) + offset
    return X, X @ rng.normal(size=d) + rng.normal(size=n)


def _sq(X, y, c):
    r = y - X @ c
    return float(r @ r)


@pytest.mark.parametrize("seed", range(6))
def test_random_problems_reach_the_nnls_optimum(seed):
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(20, 120)), int(rng.integers(2, 25))
    X = rng.normal(size=(n, d)) * rng.choice([1e-3, 1, 1e3], size=d) + rng.choice([0, 5])
    y = X @ rng.normal(size=d) + rng.normal(size=n)
    res = solve_nnqp(X.T @ X, X.T @ y)
    ref = nnls(X, y, maxiter=100 * d)[0]
    assert res.converged and res.kkt <= 1e-12
    assert _sq(X, y, res.x) <= _sq(X, y, ref) * (1 + 1e-10)
    if n >= d:  # full column rank: the minimiser is unique
        np.testing.assert_allclose(res.x, ref, rtol=1e-6, atol=1e-8 * np.abs(ref).max())


@pytest.mark.parametrize("seed", [0, 4, 7])
def test_nearly_collinear_columns_without_intercept(seed):
    X, y = _correlated(seed)
    res = solve_nnqp(X.T @ X, X.T @ y)
    ref = nnls(X, y, maxiter=10_000)[0]
    assert res.converged
    assert _sq(X, y, res.x) <= _sq(X, y, ref) * (1 + 1e-10)
    np.testing.assert_array_equal(res.x > 0, ref > 0)


def test_duplicated_and_rescaled_columns_keep_a_finite_exact_solution():
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(80, 4))
    X = np.c_[Z, Z[:, 0], 2.5 * Z[:, 1], Z[:, 2] + Z[:, 3]]  # rank 4 of 7
    y = Z @ np.array([1.0, 2.0, -1.0, 0.5]) + 0.1 * rng.normal(size=80)
    A, b = X.T @ X, X.T @ y
    res = solve_nnqp(A, b)
    ref = nnls(X, y, maxiter=1000)[0]
    assert res.converged and np.isfinite(res.x).all()
    assert _sq(X, y, res.x) == pytest.approx(_sq(X, y, ref), rel=1e-10)
    assert kkt_violation(A, b, res.x) <= 1e-12


def test_a_warm_start_anywhere_reaches_the_same_minimiser():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 12))
    y = X @ rng.normal(size=12) + rng.normal(size=60)
    A, b = X.T @ X, X.T @ y
    cold = solve_nnqp(A, b)
    for start in (rng.uniform(0, 3, 12), rng.normal(size=12), np.full(12, np.nan)):
        warm = solve_nnqp(A, b, start)
        np.testing.assert_allclose(warm.x, cold.x, rtol=1e-10, atol=1e-12)
    again = solve_nnqp(A, b, cold.x)
    assert again.n_iter == 1  # one solve on the right passive set
    np.testing.assert_allclose(again.x, cold.x, rtol=1e-12, atol=1e-14)


def test_kkt_violation_names_the_broken_condition():
    A = np.eye(2)
    assert kkt_violation(A, np.array([1.0, -1.0]), np.array([1.0, 0.0])) == 0.0
    assert kkt_violation(A, np.array([1.0, 1.0]), np.array([1.0, 0.0])) == 1.0  # g_1 > 0
    # g_0 = 0.5 != 0 on the support, relative to |b_0| + |A_00 x_0| = 1.5
    assert kkt_violation(A, np.array([1.0, -1.0]), np.array([0.5, 0.0])) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("fit_intercept", "weighted", "alpha", "l1_ratio"),
    [
        (False, False, 0.0, 1.0),
        (False, True, 0.0, 1.0),
        (True, True, 0.0, 1.0),
        (False, True, 0.5, 0.0),
        (True, False, 0.05, 1.0),
        (False, True, 0.05, 0.5),
    ],
)
def test_the_positive_path_is_exact_on_the_statistics(
    fit_intercept, weighted, alpha, l1_ratio, gram_stats, nonnegative_reference
):
    X, y = _correlated(0)
    w = np.random.default_rng(1).uniform(0.1, 3.0, len(y)) if weighted else None
    W = len(y) if w is None else float(w.sum())
    path = enet_path(
        gram_stats(X, y, w), [alpha], l1_ratio, fit_intercept=fit_intercept, positive=True
    )
    coef, b = path.coefs[0], float(path.intercepts[0])
    l1, l2 = W * alpha * l1_ratio, W * alpha * (1 - l1_ratio)
    ref, ref_b, objective = nonnegative_reference(
        X, y, w=w, fit_intercept=fit_intercept, l1=l1, l2=l2
    )
    assert (coef >= 0).all() and bool(path.converged[0])
    assert objective(coef, b) <= objective(ref, ref_b) * (1 + 1e-10)
    assert 0 <= path.dual_gaps[0] <= 1e-10 * objective(ref, ref_b) / W
    np.testing.assert_array_equal(coef > 0, ref > 0)


def test_a_positive_path_with_a_duplicated_column(gram_stats, nonnegative_reference):
    X, y = _correlated(2, n=120, d=6, offset=3.0)
    X = np.c_[X, X[:, 1]]
    path = enet_path(gram_stats(X, y), [0.0, 0.0], 1.0, positive=True)
    ref, ref_b, objective = nonnegative_reference(X, y)
    for k in range(2):
        ours = objective(path.coefs[k], path.intercepts[k])
        assert ours == pytest.approx(objective(ref, ref_b), rel=1e-10)
        # the duplicate pair shares the reference's weight
        assert path.coefs[k, 1] + path.coefs[k, 6] == pytest.approx(ref[1] + ref[6], rel=1e-8)
    assert path.converged.all()
