"""Shared helpers of the exact elastic-net tests (kernel, path, folds), as fixtures.

Each fixture returns a function, so a test asks for the helper by name and calls it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import ElasticNet as SkElasticNet

from torchlinear.exact import GramStats


def _enet_data(n=300, d=12, seed=0, offset=5.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ (np.eye(d) + 0.3 * rng.normal(size=(d, d)))
    X = X * rng.uniform(0.2, 4, d) + offset * rng.uniform(-1, 1, d)
    beta = np.where(rng.random(d) < 0.5, rng.normal(size=d) * 2, 0.0)
    y = X @ beta + rng.normal(size=n) + 3.0
    return X, y


def _gram_stats(X, y, w=None):
    t = torch.from_numpy
    return GramStats.zeros(X.shape[1]).update(t(X), t(y), None if w is None else t(w))


def _sklearn_enet(X, y, alpha, l1_ratio, w=None, **kw):
    m = SkElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=200_000, **kw)
    return m.fit(X, y, sample_weight=w)


def _assert_same_coef(coef, ref_coef, rtol=1e-6):
    scale = max(np.max(np.abs(ref_coef)), 1e-300)
    assert np.max(np.abs(coef - ref_coef)) <= rtol * scale
    np.testing.assert_array_equal(coef == 0, ref_coef == 0)


@pytest.fixture
def enet_data():
    """``enet_data(n, d, seed, offset) -> (X, y)``: correlated, badly scaled and offset
    columns, a sparse true coefficient vector and unit noise."""
    return _enet_data


@pytest.fixture
def gram_stats():
    """``gram_stats(X, y, w=None)``: the float64 :class:`GramStats` of the arrays."""
    return _gram_stats


@pytest.fixture
def sklearn_enet():
    """``sklearn_enet(X, y, alpha, l1_ratio, w=None, **params)``: scikit-learn's
    ElasticNet fitted to full convergence (tol 1e-12), the reference of these tests."""
    return _sklearn_enet


@pytest.fixture
def assert_same_coef():
    """``assert_same_coef(coef, ref_coef, rtol=1e-6)``: equal to ``rtol`` of the largest
    reference coefficient, with exactly the same zeros."""
    return _assert_same_coef
