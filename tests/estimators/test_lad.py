"""fit_lad, the quantile linear program: its optimum against SciPy's HiGHS on the same LP
written independently, with weights, a penalty, ties and collinear columns."""

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse

from torchlinear.estimators._lad import fit_lad


def _lp_optimum(X, y, q, alpha, s=None):
    """The LP minimum straight from SciPy's HiGHS, written independently of the library:
    variables (w+, w-, b+, b-, u, v) >= 0 with X (w+ - w-) + (b+ - b-) + u - v = y."""
    n, d = X.shape
    s = np.ones(n) if s is None else s
    S = s.sum()
    c = np.concatenate([np.full(2 * d, alpha * S), [0, 0], q * s, (1 - q) * s])
    ones = np.ones((n, 1))
    A = scipy.sparse.hstack(
        [X, -X, ones, -ones, scipy.sparse.eye(n), -scipy.sparse.eye(n)], format="csc"
    )
    result = scipy.optimize.linprog(c, A_eq=A, b_eq=y, method="highs")
    assert result.status == 0
    return result.fun / S


@pytest.mark.parametrize("seed", range(4))
def test_lad_objective_is_the_lp_optimum(seed, heavy_tailed, pinball_objective):
    X, y = heavy_tailed(2000, 6, seed)
    coef, intercept, info = fit_lad(X, y)
    optimum = _lp_optimum(X, y, 0.5, 0.0)
    assert pinball_objective(X, y, coef, intercept, 0.5, 0.0) == pytest.approx(optimum, rel=1e-8)
    assert info["objective"] == pytest.approx(optimum, rel=1e-8)


def test_penalised_weighted_quantile_objective_is_the_lp_optimum(heavy_tailed, pinball_objective):
    X, y = heavy_tailed(1500, 5, seed=7)
    s = np.random.default_rng(2).integers(0, 4, size=len(y)).astype(float)
    coef, intercept, _ = fit_lad(X, y, s, quantile=0.25, alpha=0.02)
    optimum = _lp_optimum(X, y, 0.25, 0.02, s)
    assert pinball_objective(X, y, coef, intercept, 0.25, 0.02, s) == pytest.approx(
        optimum, rel=1e-8
    )
    # an integer weight is a repeated row
    rows = np.repeat(np.arange(len(y)), s.astype(int))
    coef_r, intercept_r, _ = fit_lad(X[rows], y[rows], quantile=0.25, alpha=0.02)
    assert pinball_objective(X, y, coef_r, intercept_r, 0.25, 0.02, s) == pytest.approx(
        optimum, rel=1e-8
    )


def test_degenerate_data_with_ties_and_collinear_columns(pinball_objective):
    rng = np.random.default_rng(3)
    X = rng.integers(0, 3, size=(400, 2)).astype(float)
    X = np.hstack([X, X[:, :1] * 2])  # collinear column
    y = rng.integers(0, 4, size=400).astype(float)  # many ties
    coef, intercept, _ = fit_lad(X, y, quantile=0.5)
    optimum = _lp_optimum(X, y, 0.5, 0.0)
    assert pinball_objective(X, y, coef, intercept, 0.5, 0.0) == pytest.approx(optimum, rel=1e-8)


@pytest.mark.parametrize("column", [0, "y"])
@pytest.mark.parametrize("solver", ["ipm", "highs"])
def test_values_whose_squares_overflow_are_refused_in_one_line(column, solver):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 2)), rng.normal(size=30)
    if column == "y":
        y = y * 1e300
    else:
        X[:, column] *= 1e300
    with pytest.raises(ValueError) as info:
        fit_lad(X, y, solver=solver)
    assert str(info.value) == (
        "the sums of squares overflow float64 (values of X or y near 1e154 or beyond); "
        "rescale X and y before fitting"
    )
    coef, _, _ = fit_lad(X / 1e300 if column != "y" else X, y / 1e300 if column == "y" else y)
    assert np.isfinite(coef).all()  # rescaled, the same data fits
