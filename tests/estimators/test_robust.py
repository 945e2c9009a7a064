"""QuantileRegressor and HuberRegressor against scikit-learn (fit_lad: test_lad.py)."""

import re
import warnings

import numpy as np
import pytest
from scipy import optimize
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import HuberRegressor as SkHuber
from sklearn.linear_model import QuantileRegressor as SkQuantile
from sklearn.utils.estimator_checks import parametrize_with_checks

from torchlinear import HuberRegressor, QuantileRegressor

# ------------------------------------------------------------------ quantile regression


@pytest.mark.parametrize(
    ("q", "alpha", "weighted"),
    [(0.5, 0.0, False), (0.1, 0.0, False), (0.8, 0.05, False), (0.3, 0.01, True)],
)
def test_quantile_regressor_matches_sklearn(q, alpha, weighted, heavy_tailed, pinball_objective):
    X, y = heavy_tailed(300, 4, seed=int(q * 10))
    s = np.random.default_rng(1).uniform(0, 2, size=len(y)) if weighted else None
    ours = QuantileRegressor(quantile=q, alpha=alpha).fit(X, y, sample_weight=s)
    reference = SkQuantile(quantile=q, alpha=alpha, solver="highs").fit(X, y, sample_weight=s)
    ours_obj = pinball_objective(X, y, ours.coef_, ours.intercept_, q, alpha, s)
    ref_obj = pinball_objective(X, y, reference.coef_, reference.intercept_, q, alpha, s)
    assert ours_obj == pytest.approx(ref_obj, rel=1e-9)
    assert ours.objective_ == pytest.approx(ours_obj, rel=1e-12)
    # the LP's vertex is unique here: the same coefficients
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=1e-6, atol=1e-8)
    assert ours.intercept_ == pytest.approx(reference.intercept_, rel=1e-6, abs=1e-8)
    np.testing.assert_allclose(ours.predict(X), reference.predict(X), rtol=1e-6, atol=1e-7)


def test_highs_solver_and_no_intercept(heavy_tailed, pinball_objective):
    X, y = heavy_tailed(200, 3, seed=5)
    ref = SkQuantile(quantile=0.7, alpha=0.0, fit_intercept=False, solver="highs").fit(X, y)
    for solver in ("ipm", "highs", "highs-ds"):
        ours = QuantileRegressor(quantile=0.7, alpha=0.0, fit_intercept=False, solver=solver)
        ours.fit(X, y)
        assert ours.intercept_ == 0.0
        assert pinball_objective(X, y, ours.coef_, 0.0, 0.7, 0.0) == pytest.approx(
            pinball_objective(X, y, ref.coef_, 0.0, 0.7, 0.0), rel=1e-9
        )


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"quantile": 0.0}, "quantile must be strictly between 0 and 1, got 0.0"),
        ({"quantile": 1.5}, "quantile must be strictly between 0 and 1, got 1.5"),
        ({"alpha": -0.1}, r"alpha must be a finite number >= 0, got -0.1"),
        ({"solver": "simplex"}, "solver must be one of"),
    ],
)
def test_quantile_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        QuantileRegressor(**params).fit(np.eye(3), [1.0, 2.0, 3.0])


# ------------------------------------------------------------------ Huber


def _relative(a, b):
    return np.max(np.abs(np.asarray(a) - b)) / max(np.max(np.abs(b)), 1e-12)


def _huber_objective(X, y, s, coef, intercept, scale, epsilon, alpha):
    """scikit-learn's Huber objective, written out from its definition."""
    z = np.abs(y - X @ coef - intercept) / scale
    H = np.where(z <= epsilon, z * z, 2 * epsilon * z - epsilon**2)
    return s.sum() * scale + scale * (s @ H) + alpha * coef @ coef


def _huber_referee(X, y, s, epsilon, alpha, fit_intercept, start):
    """The minimiser of :func:`_huber_objective`, polished by SciPy from ``start``
    (scikit-learn's fit) to a projected gradient of 1e-9, in coefficients scaled by each
    column's root mean square so that L-BFGS-B is not stalled by the columns' units."""
    d = X.shape[1]
    D = np.sqrt((X * X).mean(axis=0))

    def f(t):
        b = t[d] if fit_intercept else 0.0
        return _huber_objective(X, y, s, t[:d] / D, b, t[-1], epsilon, alpha)

    coef, intercept, scale = start
    t0 = np.r_[coef * D, [intercept] if fit_intercept else [], scale]
    bounds = [(None, None)] * (len(t0) - 1) + [(1e-12, None)]
    t = optimize.minimize(
        f, t0, method="L-BFGS-B", bounds=bounds, options={"ftol": 0, "gtol": 1e-9}
    ).x
    return t[:d] / D, (t[d] if fit_intercept else 0.0), t[-1]


@pytest.mark.parametrize(
    ("params", "weighted"),
    [({}, False), ({}, True), ({"epsilon": 1.1, "alpha": 1.0}, False), ({"epsilon": 2.0}, True)],
)
def test_huber_matches_sklearn(params, weighted):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)) * [1, 10, 0.1, 3]
    y = X @ [1, -2, 3, 0.5] + rng.standard_t(1.5, size=300) + 2
    s = rng.uniform(0, 2, size=300) if weighted else None
    ours = HuberRegressor(**params).fit(X, y, sample_weight=s)
    ref = SkHuber(**params).fit(X, y, sample_weight=s)
    assert ours.converged_
    # scikit-learn stops when the objective's relative decrease falls below 2e-9, which
    # can leave its coefficients 1e-4 (relative) from the minimiser
    assert _relative(ours.coef_, ref.coef_) < 1e-3
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-3)
    assert ours.scale_ == pytest.approx(ref.scale_, rel=1e-3)
    np.testing.assert_array_equal(ours.outliers_, ref.outliers_)
    eps, alpha = params.get("epsilon", 1.35), params.get("alpha", 1e-4)
    w = np.ones(300) if s is None else s
    coef, intercept, scale = _huber_referee(
        X, y, w, eps, alpha, True, (ref.coef_, ref.intercept_, ref.scale_)
    )
    assert _relative(ours.coef_, coef) < 1e-6
    assert ours.scale_ == pytest.approx(scale, rel=1e-6)
    obj = _huber_objective(X, y, w, ours.coef_, ours.intercept_, ours.scale_, eps, alpha)
    assert obj <= _huber_objective(X, y, w, coef, intercept, scale, eps, alpha) * (1 + 1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_huber_finds_the_minimum_on_columns_of_very_different_scales(fit_intercept):
    # On raw columns of scale 1e-3 and 1e4, L-BFGS-B in the original coefficients stops
    # (its relative decrease criterion) 7 % above the minimum with large gradients,
    # claiming success; scikit-learn does. The fit is invariant to rescaling columns
    # (alpha=0), so scikit-learn on well-scaled columns gives the reference.
    rng = np.random.default_rng(8)
    units = np.array([1e-3, 1.0, 1e4, 1.0])
    Z = rng.normal(size=(200, 4))
    y = Z @ rng.normal(size=4) + rng.standard_t(2, size=200) + 3
    y[:10] += 30
    X = Z * units
    ours = HuberRegressor(alpha=0.0, fit_intercept=fit_intercept).fit(X, y)
    ref = SkHuber(alpha=0.0, fit_intercept=fit_intercept).fit(Z, y)
    coef, intercept, scale = _huber_referee(
        Z, y, np.ones(200), 1.35, 0.0, fit_intercept, (ref.coef_, ref.intercept_, ref.scale_)
    )
    assert ours.converged_
    assert _relative(ours.coef_ * units, coef) < 1e-6
    assert ours.intercept_ == pytest.approx(intercept, rel=1e-6, abs=1e-9)
    assert ours.scale_ == pytest.approx(scale, rel=1e-6)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_huber_with_epsilon_one_is_least_absolute_deviations(fit_intercept):
    # epsilon=1: sigma + r^2 / sigma >= 2|r| makes the infimum least absolute deviations,
    # approached as the scale falls to 0; it is solved exactly and certified (before, the
    # fit stopped near it with a warning that it could not be certified)
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 4))
    y = X @ rng.normal(size=4) + rng.standard_t(2, size=200) + 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = HuberRegressor(epsilon=1.0, alpha=0.0, fit_intercept=fit_intercept).fit(X, y)
    ref = SkQuantile(quantile=0.5, alpha=0.0, fit_intercept=fit_intercept, solver="highs")
    ref.fit(X, y)
    lad = 2 * np.abs(y - ref.predict(X)).sum()  # the objective's limit at scale 0
    ours = _huber_objective(X, y, np.ones(200), model.coef_, model.intercept_, model.scale_, 1, 0)
    assert model.converged_ and model.scale_ < 1e-12
    assert ours == pytest.approx(lad, rel=1e-12)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-7)
    # the rows the fit interpolates (one per parameter) are the inliers
    assert (~model.outliers_).sum() == 4 + fit_intercept


def _few_rows_per_coefficient():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(24, 8)) + 100
    y = X @ rng.normal(size=8) + rng.standard_t(2, size=24)
    return X, y


def test_huber_finds_the_minimum_where_the_scale_falls_to_zero():
    # 3 rows per coefficient, epsilon=1.1: the infimum is approached as the scale falls to 0,
    # at 2 * epsilon * sum |r| + alpha ||w||^2; L-BFGS-B stalled near it (scale 3e-10,
    # objective 46.03, 4.6 % too high) and reported convergence
    X, y = _few_rows_per_coefficient()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = HuberRegressor(epsilon=1.1, alpha=0.01, fit_intercept=False, max_iter=1000)
        model.fit(X, y)
    ones = np.ones(24)
    ours = _huber_objective(X, y, ones, model.coef_, 0.0, model.scale_, 1.1, 0.01)

    # the limit problem as a QP in (w, t), t_i >= |r_i|, by SciPy's SLSQP: the reference
    def objective(z):
        return 2.2 * z[8:].sum() + 0.01 * z[:8] @ z[:8], np.r_[0.02 * z[:8], np.full(24, 2.2)]

    constraints = [
        {"type": "ineq", "fun": lambda z, k=k: z[8:] - k * (y - X @ z[:8]),
         "jac": lambda z, k=k: np.hstack([k * X, np.eye(24)])}
        for k in (1, -1)
    ]  # fmt: skip
    qp = optimize.minimize(
        objective, np.r_[np.zeros(8), np.abs(y)], jac=True, method="SLSQP",
        constraints=constraints, options={"ftol": 1e-15, "maxiter": 1000},
    )  # fmt: skip
    reference = 2.2 * np.abs(y - X @ qp.x[:8]).sum() + 0.01 * qp.x[:8] @ qp.x[:8]
    assert ours == pytest.approx(reference, rel=1e-9)
    assert ours == pytest.approx(43.99091236, rel=1e-8)
    assert model.converged_ and model.scale_ < 1e-12
    sk = SkHuber(epsilon=1.1, alpha=0.01, fit_intercept=False, max_iter=10000, tol=1e-10)
    sk.fit(X, y)
    assert ours < _huber_objective(X, y, ones, sk.coef_, 0.0, sk.scale_, 1.1, 0.01)
    residual = np.abs(y - model.predict(X))
    np.testing.assert_array_equal(model.outliers_, residual > 1.1 * model.scale_)
    assert (~model.outliers_).sum() == 8  # the rows it interpolates


def test_huber_does_not_claim_a_criterion_it_did_not_meet():
    # tol=0 cannot be met: L-BFGS-B stops on its relative-reduction test, which is not
    # the stated criterion (before, converged_ was True without a warning)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    y = X @ [2.0, -1.0, 0.5] + rng.standard_t(2, size=200)
    with pytest.warns(ConvergenceWarning) as caught:
        model = HuberRegressor(tol=0.0).fit(X, y)
    assert not model.converged_
    message = str(caught[0].message)
    assert re.fullmatch(
        r"HuberRegressor did not converge: L-BFGS-B stopped after \d+ iterations \(.*\) with "
        r"the largest projected gradient component \S+ > tol 0; rescale the features, or "
        r"raise tol to accept this fit",
        message,
    ), message
    ref = SkHuber().fit(X, y)
    coef, _, scale = _huber_referee(
        X, y, np.ones(200), 1.35, 1e-4, True, (ref.coef_, ref.intercept_, ref.scale_)
    )
    assert _relative(model.coef_, coef) < 1e-7  # the fit itself is the minimum
    assert model.scale_ == pytest.approx(scale, rel=1e-7)


@pytest.mark.parametrize("epsilon", [1.35, 10.0])
def test_huber_fits_data_a_line_fits_exactly_without_a_warning(epsilon):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = X @ [1.0, -2.0, 0.5] + 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the scale collapses, but no row is an outlier
        model = HuberRegressor(epsilon=epsilon).fit(X, y)
    assert model.converged_ and not model.outliers_.any()
    np.testing.assert_allclose(model.coef_, [1.0, -2.0, 0.5], rtol=1e-12)
    assert abs(model.intercept_ - 3.0) < 1e-12


def test_huber_warns_when_and_only_when_max_iter_comes_first():
    X, y = load_diabetes(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match=r"did not converge in 5 iterations.*> tol"):
        short = HuberRegressor(max_iter=5).fit(X, y)
    assert not short.converged_ and short.n_iter_ == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        full = HuberRegressor(max_iter=2000).fit(X, y)
    assert full.converged_ and full.n_iter_ < 2000


def test_huber_warm_start_continues_from_the_last_fit():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    y = X @ [2.0, -1.0, 0.5] + rng.standard_t(2, size=200)
    model = HuberRegressor(warm_start=True).fit(X, y)
    first = model.n_iter_
    model.fit(X, y)  # starts at the optimum: hardly any work
    ref = SkHuber().fit(X, y)
    assert model.n_iter_ < first / 3
    assert _relative(model.coef_, ref.coef_) < 1e-5
    cold = HuberRegressor().fit(X, y)
    assert cold.n_iter_ == first


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"epsilon": 0.9}, "epsilon must be a finite number >= 1, got 0.9"),
        ({"alpha": -1.0}, r"alpha must be a finite number >= 0, got -1.0"),
        ({"max_iter": 0}, "max_iter must be an integer >= 1, got 0"),
    ],
)
def test_huber_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        HuberRegressor(**params).fit(np.eye(3), [1.0, 2.0, 3.0])


# ------------------------------------------------------------------ scikit-learn's checks


def _expected_failures(estimator):
    # On the check's tiny integer data the LP's minimiser is not unique: both fits are
    # optimal but end at different points.
    if not isinstance(estimator, QuantileRegressor):
        return {}
    reason = "the minimiser is not unique on the check's tiny data"
    return {"check_sample_weight_equivalence_on_dense_data": reason}


@parametrize_with_checks(
    [QuantileRegressor(alpha=0.0), HuberRegressor()], expected_failed_checks=_expected_failures
)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("quantile", [0.5, 0.9])
def test_quantile_fit_of_a_column_far_from_zero(quantile):
    # millisecond timestamps: 1e12 + 0..100; the LP is solved on centred columns (it
    # failed in HiGHS before), with the slopes of the same data near 0
    rng = np.random.default_rng(0)
    t = np.round(100 * rng.uniform(size=200))
    b = rng.normal(size=200)
    y = 0.03 * t + b + 0.1 * rng.normal(size=200)
    ours = QuantileRegressor(quantile=quantile, alpha=0.0).fit(np.c_[1e12 + t, b], y)
    ref = SkQuantile(quantile=quantile, alpha=0.0, solver="highs").fit(np.c_[t, b], y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    assert abs(ours.intercept_ + 1e12 * ours.coef_[0] - ref.intercept_) < 1e-3


@pytest.mark.parametrize("scale", [1e-12, 1e-8, 1e8, 1e20])
@pytest.mark.parametrize("make", ["huber", "quantile", "l1"])
def test_rescaled_sample_weights_give_the_same_fit(make, scale):
    # the objectives do not change when every weight is multiplied by one number (Huber's
    # alpha aside: here 0); with weights of 1e-8 Huber stopped at 0 with converged_=True,
    # and the linear programs of the quantile and absolute losses moved a coefficient by
    # 0.8 (HiGHS's absolute tolerances); at 1e20 HiGHS failed
    import torchlinear as tl

    rng = np.random.default_rng(11)
    X = rng.normal(size=(150, 3))
    y = X @ [0.6, -0.5, 0.9] + 1.8 + rng.standard_t(2, size=150)
    w = rng.uniform(0.2, 3.0, size=150)
    build = {
        "huber": lambda: tl.HuberRegressor(alpha=0.0, max_iter=500),
        "quantile": lambda: tl.QuantileRegressor(quantile=0.3, alpha=0.01),
        "l1": lambda: tl.LinearRegression(loss="l1"),
    }[make]
    base = build().fit(X, y, sample_weight=w)
    scaled = build().fit(X, y, sample_weight=w * scale)
    np.testing.assert_allclose(scaled.coef_, base.coef_, rtol=1e-6, atol=1e-8)
    assert scaled.intercept_ == pytest.approx(base.intercept_, rel=1e-6, abs=1e-8)
    if make == "huber":
        assert scaled.converged_ and scaled.scale_ == pytest.approx(base.scale_, rel=1e-6)
