"""Shared helpers of the estimator tests, as fixtures that return functions.

The penalized estimators (``test_penalized.py``, ``test_penalized_cv.py``) share their data,
their comparison and their fully converged scikit-learn reference; the robust estimators
(``test_robust.py``, ``test_lad.py``) share their heavy-tailed data and the pinball
objective.
"""

from __future__ import annotations

import numpy as np
import pytest

# ------------------------------------------------------------------------ penalized


def _penalized_data(n=300, d=10, seed=0, offset=10.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 4, d) + offset * rng.uniform(-1, 1, d)
    beta = np.where(rng.random(d) < 0.5, rng.normal(size=d) * 2, 0.0)
    return X, X @ beta + 2.0 * rng.normal(size=n) - 1.0


def _assert_same_fit(ours, ref, rtol=1e-6):
    scale = max(np.max(np.abs(ref.coef_)), 1e-300)
    assert np.max(np.abs(ours.coef_ - ref.coef_)) <= rtol * scale
    np.testing.assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-8, abs=1e-8)


def _tight(estimator):
    return estimator.set_params(tol=1e-12, max_iter=200_000)


@pytest.fixture
def penalized_data():
    """``penalized_data(n, d, seed, offset) -> (X, y)``: scaled and offset columns, a
    sparse true coefficient vector, noise of standard deviation 2."""
    return _penalized_data


@pytest.fixture
def assert_same_fit():
    """``assert_same_fit(ours, ref, rtol=1e-6)``: coefficients equal to ``rtol`` of the
    largest reference coefficient with exactly the same zeros, and the same intercept."""
    return _assert_same_fit


@pytest.fixture
def tight():
    """``tight(estimator)``: a scikit-learn coordinate-descent estimator set to converge
    fully (tol 1e-12, 200,000 sweeps), the reference of the penalized tests."""
    return _tight


# ------------------------------------------------------------------------ robust


def _heavy_tailed(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, size=d)
    y = X @ rng.normal(size=d) + rng.standard_t(2, size=n) + 3
    return X, y


def _pinball_objective(X, y, coef, intercept, q, alpha, s=None):
    s = np.ones(len(y)) if s is None else s
    r = y - X @ coef - intercept
    return s @ np.maximum(q * r, (q - 1) * r) / s.sum() + alpha * np.abs(coef).sum()


@pytest.fixture
def heavy_tailed():
    """``heavy_tailed(n, d, seed) -> (X, y)``: columns of very different scales and
    Student-t noise with 2 degrees of freedom."""
    return _heavy_tailed


@pytest.fixture
def pinball_objective():
    """``pinball_objective(X, y, coef, intercept, q, alpha, s=None)``: the weighted mean
    pinball loss at quantile ``q`` plus ``alpha`` times the L1 norm of ``coef``."""
    return _pinball_objective
