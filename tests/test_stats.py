"""OLS inference against statsmodels."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from torchlinear.exact import lstsq
from torchlinear.exact.sandwich import meat_pass
from torchlinear.stats import (
    COV_TYPES,
    OLSSummary,
    WeightInfo,
    ols_summary,
    prediction_interval,
)

sm = pytest.importorskip("statsmodels.api")

RTOL = 1e-8


def _compare(s: OLSSummary, res, has_const: bool = True, llf: bool = True) -> None:
    np.testing.assert_allclose(s.coef, res.params, rtol=RTOL)
    np.testing.assert_allclose(s.std_err, res.bse, rtol=RTOL)
    np.testing.assert_allclose(s.t, res.tvalues, rtol=RTOL)
    np.testing.assert_allclose(s.p_value, res.pvalues, rtol=RTOL)
    ci = np.asarray(res.conf_int(alpha=1 - s.confidence))
    np.testing.assert_allclose(s.ci_low, ci[:, 0], rtol=RTOL)
    np.testing.assert_allclose(s.ci_high, ci[:, 1], rtol=RTOL)
    for ours, theirs in [
        (s.r_squared, res.rsquared),
        (s.adj_r_squared, res.rsquared_adj),
        (s.f_statistic, res.fvalue),
        (s.f_pvalue, res.f_pvalue),
        (s.resid_std_err, np.sqrt(res.scale)),
        (s.rss, res.ssr),
        (s.df_resid, res.df_resid),
        (s.df_model, res.df_model),
        (s.n_obs, res.nobs),
    ]:
        np.testing.assert_allclose(ours, theirs, rtol=RTOL)
    if llf:
        for ours, theirs in [(s.log_likelihood, res.llf), (s.aic, res.aic), (s.bic, res.bic)]:
            np.testing.assert_allclose(ours, theirs, rtol=RTOL)
    assert s.has_intercept == has_const


@pytest.mark.parametrize("solver", ["auto", "qr", "svd"])
def test_diabetes_matches_statsmodels(solver):
    X, y = load_diabetes(return_X_y=True)
    res = sm.OLS(y, sm.add_constant(X)).fit()
    s = ols_summary(lstsq(X, y, solver=solver))
    _compare(s, res)
    assert s.terms == ("const", *(f"x{j}" for j in range(10)))


def test_without_intercept_matches_statsmodels():
    X, y = load_diabetes(return_X_y=True)
    y = y - 100.0
    res = sm.OLS(y, X).fit()
    s = ols_summary(lstsq(X, y, fit_intercept=False))
    _compare(s, res, has_const=False)  # R² about zero, as statsmodels does without a constant


def test_confidence_level_and_names():
    X, y = load_diabetes(return_X_y=True)
    res = sm.OLS(y, sm.add_constant(X)).fit()
    names = [f"f{j}" for j in range(10)]
    s = ols_summary(lstsq(X, y), confidence=0.9, feature_names=names, target_name="progression")
    _compare(s, res)
    assert s.terms[1:] == tuple(names) and s.target == "progression"


def test_longley_matches_statsmodels():
    data = sm.datasets.longley.load_pandas().data
    y = data["TOTEMP"].to_numpy(dtype=float)
    X = data.drop(columns="TOTEMP").to_numpy(dtype=float)
    res = sm.OLS(y, sm.add_constant(X)).fit()
    _compare(ols_summary(lstsq(X, y)), res)


def test_frequency_weights_equal_repeated_rows():
    X, y = load_diabetes(return_X_y=True)
    w = np.random.default_rng(0).integers(0, 4, len(y))
    a = ols_summary(lstsq(X, y, sample_weight=w), weights="frequency")
    b = ols_summary(lstsq(np.repeat(X, w, axis=0), np.repeat(y, w)))
    for field in ("coef", "std_err", "t", "p_value", "ci_low", "ci_high"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-9)
    for field in ("r_squared", "f_statistic", "log_likelihood", "df_resid", "n_obs"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-9)


def test_multi_output_per_target():
    X, y = load_diabetes(return_X_y=True)
    Y = np.c_[y, np.log(y)]
    sol = lstsq(X, Y)
    res = sm.OLS(np.log(y), sm.add_constant(X)).fit()
    _compare(ols_summary(sol, target=1), res)
    with pytest.raises(ValueError, match="target must be in"):
        ols_summary(sol, target=2)


def test_text_and_data_forms():
    X, y = load_diabetes(return_X_y=True)
    s = ols_summary(lstsq(X, y))
    text = str(s)
    assert text == s.as_text()
    for label in (
        "R-squared",
        "Adj. R-squared",
        "F-statistic",
        "Prob (F-statistic)",
        "Residual std. error",
        "No. observations",
        "Df residuals",
        "Cond. no.",
        "std err",
        "P>|t|",
        "[0.025",
        "0.975]",
    ):
        assert label in text, label
    assert "const" in text and "x9" in text and "0.5177" in text
    d = s.to_dict()
    assert d["terms"][0] == "const" and len(d["coef"]) == 11
    assert d["df_resid"] == 431 and isinstance(d["p_value"], list)
    pd = pytest.importorskip("pandas")
    frame = s.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["coef", "std_err", "t", "p_value", "[0.025", "0.975]"]
    np.testing.assert_allclose(frame.loc["x2", "coef"], s.coef[3])


def test_rank_deficient_summary_uses_pseudo_inverse():
    X, y = load_diabetes(return_X_y=True)
    X = np.c_[X, X[:, 0] + X[:, 1]]
    with pytest.warns(UserWarning, match="rank deficient"):
        sol = lstsq(X, y)
    s = ols_summary(sol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels notes the rank deficiency too
        res = sm.OLS(y, sm.add_constant(X)).fit()  # its default is the pseudo-inverse
    np.testing.assert_allclose(s.coef, res.params, rtol=1e-7)
    np.testing.assert_allclose(s.std_err, res.bse, rtol=1e-7)
    assert s.df_model == 10 and "rank deficient" in str(s)


def test_refuses_penalised_fits_and_bad_levels():
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ValueError, match="unpenalised"):
        ols_summary(lstsq(X, y, alpha=1.0))
    with pytest.raises(ValueError, match="confidence must lie in"):
        ols_summary(lstsq(X, y), confidence=1.5)
    with pytest.raises(ValueError, match="feature_names has 2 names"):
        ols_summary(lstsq(X, y), feature_names=["a", "b"])


# ---------------------------------------------------------------- weights and robust covariances


def _heteroscedastic(n: int = 300, seed: int = 0):
    """Features far from zero (so the centring matters) and noise growing with x0."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1] + [5.0, -100.0, 1.0]
    y = X @ [1.0, -0.1, 3.0] + rng.normal(size=n) * (0.2 + np.abs(X[:, 0] - 5.0))
    w = rng.uniform(0.2, 3.0, size=n)
    return X, y, w


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_robust_covariances_match_statsmodels(cov_type, weighted, fit_intercept):
    X, y, w = _heteroscedastic()
    sw = w if weighted else None
    sol = lstsq(X, y, sample_weight=sw, fit_intercept=fit_intercept)
    chunks = [(X[i : i + 70], y[i : i + 70], None if sw is None else sw[i : i + 70])
              for i in range(0, len(y), 70)]  # fmt: skip
    import torch

    meat = meat_pass(
        sol,
        [tuple(None if a is None else torch.from_numpy(a) for a in c) for c in chunks],
        weighted=weighted,
    )
    info = WeightInfo.of(w) if weighted else None
    s = ols_summary(sol, cov_type=cov_type, meat=meat, weight_info=info, confidence=0.9)
    A = sm.add_constant(X) if fit_intercept else X
    model = sm.WLS(y, A, weights=w) if weighted else sm.OLS(y, A)
    res = model.fit(cov_type=cov_type)
    _compare(s, res, has_const=fit_intercept)
    assert s.cov_type == cov_type and s.weights == ("analytic" if weighted else "none")
    line = next(li for li in str(s).splitlines() if li.startswith("Covariance type:"))
    assert line.split()[2] == cov_type
    # intervals of new rows, of a new observation and of the mean
    X_new = X[:7] + 0.5
    frame = res.get_prediction(sm.add_constant(X_new) if fit_intercept else X_new)
    frame = frame.summary_frame(alpha=0.1)
    for kind, col in (("prediction", "obs"), ("confidence", "mean")):
        pred, lo, hi = prediction_interval(
            sol, X_new, level=0.9, kind=kind, cov_type=cov_type, meat=meat, weight_info=info
        )
        np.testing.assert_allclose(pred, frame["mean"], rtol=RTOL)
        np.testing.assert_allclose(lo, frame[f"{col}_ci_lower"], rtol=RTOL)
        np.testing.assert_allclose(hi, frame[f"{col}_ci_upper"], rtol=RTOL)


def test_analytic_weights_do_not_depend_on_their_scale():
    X, y, w = _heteroscedastic(seed=1)
    a = ols_summary(lstsq(X, y, sample_weight=w), weight_info=WeightInfo.of(w))
    b = ols_summary(lstsq(X, y, sample_weight=7.5 * w), weight_info=WeightInfo.of(7.5 * w))
    for field in ("coef", "std_err", "t", "p_value", "ci_low", "ci_high"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-10)
    assert a.n_obs == b.n_obs == len(y) and a.weights == "analytic"
    # frequency weights do depend on it: 7.5 times the observations
    c = ols_summary(lstsq(X, y, sample_weight=7.5 * w), weights="frequency")
    assert c.n_obs == pytest.approx(7.5 * w.sum()) and c.weights == "frequency"
    assert np.all(c.std_err < a.std_err)


def test_frequency_weights_match_glm_and_repeated_rows():
    X, y, _ = _heteroscedastic(seed=2)
    w = np.random.default_rng(3).integers(1, 5, len(y)).astype(float)
    sol = lstsq(X, y, sample_weight=w)
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.Gaussian(), freq_weights=w)
    res = glm.fit(use_t=True)
    s = ols_summary(sol, weights="frequency")
    np.testing.assert_allclose(s.std_err, res.bse, rtol=RTOL)
    np.testing.assert_allclose(s.t, res.tvalues, rtol=RTOL)
    np.testing.assert_allclose(s.p_value, res.pvalues, rtol=RTOL)
    ci = np.asarray(res.conf_int(alpha=0.05))
    np.testing.assert_allclose(np.c_[s.ci_low, s.ci_high], ci, rtol=RTOL)
    np.testing.assert_allclose(s.log_likelihood, res.llf, rtol=RTOL)
    np.testing.assert_allclose(s.df_resid, res.df_resid, rtol=RTOL)
    # the robust covariances of frequency weights are those of the repeated rows
    import torch

    rows = np.repeat(np.arange(len(y)), w.astype(int))
    meat = meat_pass(sol, [tuple(map(torch.from_numpy, (X, y, w)))], weighted=True)
    for cov_type in ("HC0", "HC1", "HC2", "HC3"):
        robust = ols_summary(sol, weights="frequency", cov_type=cov_type, meat=meat)
        _compare(robust, sm.OLS(y[rows], sm.add_constant(X)[rows]).fit(cov_type=cov_type))


def test_robust_with_rank_deficient_design_matches_statsmodels():
    X, y, _ = _heteroscedastic(seed=4)
    X = np.c_[X, X[:, 0] - X[:, 2]]
    with pytest.warns(UserWarning, match="rank deficient"):
        sol = lstsq(X, y)
    import torch

    meat = meat_pass(sol, [(torch.from_numpy(X), torch.from_numpy(y), None)], weighted=False)
    s = ols_summary(sol, cov_type="HC1", meat=meat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.OLS(y, sm.add_constant(X)).fit(cov_type="HC1")
        f_value, f_pvalue = float(res.fvalue), float(res.f_pvalue)
    np.testing.assert_allclose(s.std_err, res.bse, rtol=1e-7)
    # the robust Wald F tests the 3 combinations the singular covariance spans, not 4
    np.testing.assert_allclose([s.f_statistic, s.f_pvalue], [f_value, f_pvalue], rtol=1e-7)


def test_bad_inference_parameters_name_themselves():
    X, y, _ = _heteroscedastic(n=50)
    sol = lstsq(X, y)
    with pytest.raises(ValueError, match="cov_type must be one of"):
        ols_summary(sol, cov_type="HC9")
    with pytest.raises(ValueError, match="cov_type='HC2' needs the meat"):
        ols_summary(sol, cov_type="HC2")
    with pytest.raises(ValueError, match="weights must be 'analytic' or 'frequency'"):
        ols_summary(sol, weights="probability")
    with pytest.raises(ValueError, match="level must lie in"):
        prediction_interval(sol, X[:2], level=1.0)
    with pytest.raises(ValueError, match="kind must be 'prediction' or 'confidence'"):
        prediction_interval(sol, X[:2], kind="mean")
    with pytest.raises(ValueError, match=r"X must have shape \(m, 3\)"):
        prediction_interval(sol, X[:2, :2])


@pytest.mark.parametrize("level", [0.0, 2.5])
@pytest.mark.parametrize("solver", ["auto", "qr"])
def test_constant_target_has_no_f_test(level, solver):
    """Nothing to explain: F is 0/0, so F and its p-value are NaN together, as statsmodels
    gives them when its rounding leaves the sums exact (a target of zeros)."""
    X = np.random.default_rng(0).normal(size=(30, 2))
    y = np.full(30, level)
    s = ols_summary(lstsq(X, y, solver=solver))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels divides 0 by 0
        res = sm.OLS(np.zeros(30), sm.add_constant(X)).fit()
        assert np.isnan([res.fvalue, res.f_pvalue, res.rsquared]).all()
    assert np.isnan([s.f_statistic, s.f_pvalue, s.r_squared]).all()
    assert s.rss == 0 and s.tss == 0
    perfect = ols_summary(lstsq(X, X @ [1.0, 2.0] + level, solver=solver))
    assert perfect.f_pvalue == 0.0 and perfect.f_statistic > 1e20  # a varying target, fitted


def test_constant_target_without_intercept_is_about_zero():
    X = np.random.default_rng(0).normal(size=(30, 2))
    s = ols_summary(lstsq(X, np.zeros(30), fit_intercept=False))
    assert np.isnan([s.f_statistic, s.f_pvalue]).all()


def test_a_feature_named_const_leaves_the_intercept_a_name_of_its_own():
    X, y = load_diabetes(return_X_y=True)
    names = ["const", "(const)", *(f"x{j}" for j in range(2, 10))]
    s = ols_summary(lstsq(X, y), feature_names=names)
    assert s.terms == ("((const))", *names)
    frame = s.to_frame()
    assert frame.index.is_unique
    res = sm.OLS(y, sm.add_constant(X)).fit()
    np.testing.assert_allclose(frame.loc["((const))", "coef"], res.params[0], rtol=RTOL)
    np.testing.assert_allclose(frame.loc["const", "coef"], res.params[1], rtol=RTOL)


def _cell_means_design(seed: int = 4, n: int = 90):
    """Every level of a three-level factor plus a slope (no intercept column, but the
    columns sum to one: an implicit constant), the same model with treatment coding and
    an intercept, and heteroscedastic targets and weights."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 3, n)
    x = rng.normal(size=n) * 2 + 1
    dummies = np.eye(3)[g]
    X = np.column_stack([dummies, x])
    X_treatment = np.column_stack([np.ones(n), dummies[:, 1:], x])
    y = 1 + 0.7 * g + 0.5 * x + rng.normal(size=n) * (1 + np.abs(x) / 2)
    return X, X_treatment, y, rng.uniform(0.3, 3.0, n)


@pytest.mark.parametrize("solver", ["auto", "qr", "svd"])
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC3"])
@pytest.mark.parametrize("weighted", [False, True])
def test_columns_spanning_the_constant_are_judged_with_an_intercept(solver, cov_type, weighted):
    # y ~ C(g) - 1 + x has an intercept after all: R², F and df_model are those of the
    # treatment-coded model with one (statsmodels' implicit constant), not about zero
    X, X_treatment, y, w = _cell_means_design()
    sw = w if weighted else None
    sol = lstsq(X, y, sample_weight=sw, fit_intercept=False, solver=solver)
    import torch

    rows = [
        (torch.from_numpy(X), torch.from_numpy(y), None if sw is None else torch.from_numpy(sw))
    ]
    meat = meat_pass(sol, rows, weighted=weighted)
    info = WeightInfo.of(w) if weighted else None
    s = ols_summary(sol, cov_type=cov_type, meat=meat, weight_info=info)
    model = sm.WLS(y, X_treatment, weights=w) if weighted else sm.OLS(y, X_treatment)
    res = model.fit(cov_type=cov_type)
    for ours, theirs in [
        (s.r_squared, res.rsquared),
        (s.adj_r_squared, res.rsquared_adj),
        (s.f_statistic, res.fvalue),
        (s.f_pvalue, res.f_pvalue),
        (s.df_model, res.df_model),
        (s.df_resid, res.df_resid),
        (s.aic, res.aic),
        (s.bic, res.bic),
    ]:
        np.testing.assert_allclose(ours, theirs, rtol=RTOL)
    direct = (sm.WLS(y, X, weights=w) if weighted else sm.OLS(y, X)).fit(cov_type=cov_type)
    np.testing.assert_allclose(s.std_err, direct.bse, rtol=RTOL)
    assert not s.has_intercept and s.terms == ("x0", "x1", "x2", "x3")


def test_an_explicit_column_of_ones_without_intercept_is_the_intercept():
    X, _, y, _ = _cell_means_design(seed=5)
    A = np.column_stack([np.ones(len(y)), X[:, 3], X[:, 3] ** 2])
    res = sm.OLS(y, A).fit(cov_type="HC1")  # statsmodels finds the constant column
    import torch

    sol = lstsq(A, y, fit_intercept=False)
    meat = meat_pass(sol, [(torch.from_numpy(A), torch.from_numpy(y), None)], weighted=False)
    _compare(ols_summary(sol, cov_type="HC1", meat=meat), res, has_const=False)


def test_few_rows_spanning_the_constant_without_intercept():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 9))
    y = rng.normal(size=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rank 6 of 9 columns
        s = ols_summary(lstsq(X, y, fit_intercept=False))  # 6 rows span everything
    assert s.df_model == 5 and s.tss == pytest.approx(((y - y.mean()) ** 2).sum(), rel=1e-12)
