"""OLS inference against statsmodels."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from torchlinear.exact import lstsq
from torchlinear.stats import OLSSummary, ols_summary

sm = pytest.importorskip("statsmodels.api")

RTOL = 1e-8


def _compare(s: OLSSummary, res, has_const: bool = True) -> None:
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
        (s.log_likelihood, res.llf),
        (s.aic, res.aic),
        (s.bic, res.bic),
        (s.rss, res.ssr),
        (s.df_resid, res.df_resid),
        (s.df_model, res.df_model),
        (s.n_obs, res.nobs),
    ]:
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
    a = ols_summary(lstsq(X, y, sample_weight=w))
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
