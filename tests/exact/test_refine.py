"""Tests for torchlinear.exact.refine: the extended-precision refinement (``polish``) of
columns far from zero, against exact rational arithmetic."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from torchlinear.exact import lstsq
from torchlinear.exact.refine import polish


def _exact_slope_and_z(k: np.ndarray, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The coefficients of ``y ~ 1 + k + z`` in rationals (centred normal equations)."""
    cols = [[Fraction(float(v)) for v in c] for c in (k, z, y)]
    n = len(y)
    cen = [[v - sum(c) / n for v in c] for c in cols]
    g = [
        [sum(a * b for a, b in zip(cen[i], cen[j], strict=True)) for j in range(3)]
        for i in range(3)
    ]
    det = g[0][0] * g[1][1] - g[0][1] * g[1][0]
    b0 = (g[0][2] * g[1][1] - g[0][1] * g[1][2]) / det
    b1 = (g[0][0] * g[1][2] - g[1][0] * g[0][2]) / det
    return np.array([float(b0), float(b1)])


@pytest.mark.parametrize("offset", [1e12, 1e15, 4e15])
def test_polish_keeps_the_centred_gradient_of_columns_far_from_zero(offset):
    # X^T r loses its centred part to rounding when the means dwarf the spreads; the
    # refinement once moved the slope of 1e15 + k from 2.00007 to 1.99966
    rng = np.random.default_rng(0)
    k = rng.integers(0, 11, 200).astype(float)
    z = rng.normal(size=200)
    y = 2 * k + 3 * z + 0.01 * rng.normal(size=200)
    X = np.c_[offset + k, z]
    sol = lstsq(X, y, solver="cholesky", refine=False)
    polished = polish(sol, X, y[:, None], None)
    exact = _exact_slope_and_z(k, z, y)
    np.testing.assert_allclose(polished.coef[:, 0].numpy(), exact, rtol=1e-13)
    np.testing.assert_allclose(sol.coef[:, 0].numpy(), exact, rtol=1e-11)
    assert torch.isfinite(polished.intercept).all()
