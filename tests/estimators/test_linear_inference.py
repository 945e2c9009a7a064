"""Exact inference of LinearRegression (summary, predict_interval, robust covariances)
against statsmodels, with frequency weights, streaming, saving and bad requests."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from torchlinear import LinearRegression


def _hetero(n=250, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)) * [2.0, 0.5] + [10.0, -3.0]
    y = X @ [1.5, -2.0] + 4.0 + rng.normal(size=n) * (0.1 + np.abs(X[:, 0] - 10.0))
    w = rng.uniform(0.5, 2.0, size=n)
    return X, y, w


def test_summary_cov_type_after_fit_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    X, y, w = _hetero()
    model = LinearRegression().fit(X, y, sample_weight=w)  # default: nonrobust
    assert model.cov_type_ == "nonrobust"
    for cov_type in ("nonrobust", "HC0", "HC1", "HC2", "HC3"):
        res = sm.WLS(y, sm.add_constant(X), weights=w).fit(cov_type=cov_type)
        s = model.summary(cov_type=cov_type)
        np.testing.assert_allclose(s.std_err, res.bse, rtol=1e-8)
        np.testing.assert_allclose(s.p_value, res.pvalues, rtol=1e-8)
        np.testing.assert_allclose(np.c_[s.ci_low, s.ci_high], res.conf_int(), rtol=1e-8)
        np.testing.assert_allclose(s.f_statistic, res.fvalue, rtol=1e-8)
        frame = res.get_prediction(sm.add_constant(X[:5] * 1.1)).summary_frame(alpha=0.05)
        for kind, col in (("prediction", "obs"), ("confidence", "mean")):
            pred, lower, upper = model.predict_interval(X[:5] * 1.1, kind=kind, cov_type=cov_type)
            np.testing.assert_allclose(pred, model.predict(X[:5] * 1.1), rtol=1e-12)
            np.testing.assert_allclose(lower, frame[f"{col}_ci_lower"], rtol=1e-8)
            np.testing.assert_allclose(upper, frame[f"{col}_ci_upper"], rtol=1e-8)
    # analytic weights: the table does not change when every weight is scaled
    scaled = LinearRegression().fit(X, y, sample_weight=10 * w).summary(cov_type="HC3")
    np.testing.assert_allclose(scaled.std_err, model.summary(cov_type="HC3").std_err, rtol=1e-10)


def test_frequency_weights_summary_equals_repeated_rows():
    X, y, _ = _hetero(seed=1)
    w = np.random.default_rng(2).integers(1, 4, len(y))
    rows = np.repeat(np.arange(len(y)), w)
    weighted = LinearRegression().fit(X, y, sample_weight=w)
    repeated = LinearRegression().fit(X[rows], y[rows])
    for cov_type in ("nonrobust", "HC1", "HC3"):
        a = weighted.summary(cov_type=cov_type, weights="frequency")
        b = repeated.summary(cov_type=cov_type)
        for field in ("std_err", "t", "p_value", "ci_low", "ci_high"):
            np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-9)
        assert a.n_obs == b.n_obs == len(rows)
    assert weighted.summary().n_obs == len(y)  # analytic: one observation per row


def test_robust_cov_type_streamed_and_saved(tmp_path):
    sm = pytest.importorskip("statsmodels.api")
    from torchlinear.estimators.persist import load_estimator, save_estimator

    X, y, _ = _hetero(seed=3)
    parts = lambda: [(X[i : i + 40], y[i : i + 40]) for i in range(0, len(y), 40)]  # noqa: E731
    model = LinearRegression(cov_type="HC2").fit_chunks(parts, n_features=2)
    assert model.cov_type_ == "HC2" and model.n_iter_ == 2  # the fit's pass, the meat's pass
    res = sm.OLS(y, sm.add_constant(X)).fit(cov_type="HC2")
    np.testing.assert_allclose(model.summary().std_err, res.bse, rtol=1e-8)
    save_estimator(model, tmp_path / "m")
    loaded = load_estimator(tmp_path / "m")
    s = loaded.summary()
    assert s.cov_type == "HC2"
    np.testing.assert_allclose(s.std_err, res.bse, rtol=1e-8)
    hc0 = sm.OLS(y, sm.add_constant(X)).fit(cov_type="HC0")
    np.testing.assert_allclose(loaded.summary(cov_type="HC0").std_err, hc0.bse, rtol=1e-8)
    # a streamed nonrobust fit keeps no rows: a robust summary asks for a refit
    plain = LinearRegression().fit_chunks(parts, n_features=2)
    with pytest.raises(ValueError, match="cov_type='HC1' needs the meat matrix"):
        plain.summary(cov_type="HC1")


def test_kept_rows_are_not_pickled():
    import pickle

    X, y, _ = _hetero(n=60)
    model = LinearRegression().fit(X, y)
    assert model._fit_data is not None
    clone = pickle.loads(pickle.dumps(model))
    assert clone._fit_data is None and "_fit_data" not in vars(clone)
    np.testing.assert_allclose(clone.summary().std_err, model.summary().std_err)
    with pytest.raises(ValueError, match="needs the meat matrix"):
        clone.summary(cov_type="HC3")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m, X: LinearRegression(cov_type="HC5").fit(X, X[:, 0]), "cov_type must be one"),
        (lambda m, X: m.summary(cov_type="robust"), "cov_type must be one of"),
        (lambda m, X: m.summary(weights="importance"), "weights must be 'analytic'"),
        (lambda m, X: m.predict_interval(X, level=95), "level must lie in"),
        (lambda m, X: m.predict_interval(X, kind="mean"), "kind must be 'prediction'"),
        (
            lambda m, X: LinearRegression(cov_type="HC1").partial_fit(X, X[:, 0]),
            "partial_fit cannot compute cov_type='HC1'",
        ),
        (
            lambda m, X: LinearRegression(solver="adam", max_iter=2).fit(X, X[:, 0]).summary(),
            "needs an exact least-squares fit",
        ),
    ],
)
def test_bad_inference_requests(call, match):
    X, y, _ = _hetero(n=40)
    model = LinearRegression().fit(X, y)
    with pytest.raises(ValueError, match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        call(model, X)
