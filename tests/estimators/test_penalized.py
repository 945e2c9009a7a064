"""Lasso and ElasticNet: scikit-learn conformance and agreement, sparse and chunked input
(with their cross-validated forms where one test covers both)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn import linear_model as sk
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from torchlinear import ElasticNet, ElasticNetCV, Lasso, LassoCV
from torchlinear.exact.fold_stats import HashedKFold


@parametrize_with_checks([Lasso(), ElasticNet()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "ours, ref",
    [
        (Lasso(alpha=0.3), sk.Lasso(alpha=0.3)),
        (Lasso(alpha=0.05, positive=True), sk.Lasso(alpha=0.05, positive=True)),
        (ElasticNet(alpha=0.2, l1_ratio=0.3), sk.ElasticNet(alpha=0.2, l1_ratio=0.3)),
        (
            ElasticNet(alpha=0.1, fit_intercept=False),
            sk.ElasticNet(alpha=0.1, fit_intercept=False),
        ),
        (ElasticNet(alpha=1.0, l1_ratio=0.0), sk.ElasticNet(alpha=1.0, l1_ratio=0.0)),
    ],
)
def test_default_tolerance_matches_fully_converged_sklearn(
    ours, ref, penalized_data, assert_same_fit, tight
):
    ref = tight(ref)
    X, y = penalized_data()
    w = np.random.default_rng(1).uniform(0.2, 3.0, len(y))
    for sw in (None, w):
        assert_same_fit(ours.fit(X, y, sample_weight=sw), ref.fit(X, y, sample_weight=sw))
        assert ours.converged_ and ours.dual_gap_ <= ours.tol * np.var(y)
        np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-8)


@pytest.mark.parametrize("model", [Lasso(alpha=1e-3), ElasticNet(alpha=1e-3, l1_ratio=0.7)])
def test_positive_is_exact_on_nearly_collinear_columns(model, nonnegative_reference):
    """Columns 1e4 plus noise of spread 1 or 1e-3, no intercept: coordinate descent stalled
    on the wrong support; the active set reaches the optimum of SciPy's NNLS."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(188, 16)) * rng.choice([1e-3, 1.0], size=16) + 1e4
    y = X @ rng.normal(size=16) + rng.normal(size=188)
    w = rng.uniform(0.1, 3.0, 188)
    model.set_params(positive=True, fit_intercept=False).fit(X, y, sample_weight=w)
    ratio = getattr(model, "l1_ratio", 1.0)
    scale = w.sum() * model.alpha  # scikit-learn's alpha is on the weighted mean loss
    ref, _, objective = nonnegative_reference(
        X, y, w=w, fit_intercept=False, l1=scale * ratio, l2=scale * (1 - ratio)
    )
    assert model.converged_ and (model.coef_ >= 0).all()
    assert objective(model.coef_, 0.0) <= objective(ref, 0.0) * (1 + 1e-10)
    np.testing.assert_array_equal(model.coef_ > 0, ref > 0)


def test_positive_cv_paths_are_exact_at_every_alpha(nonnegative_reference):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(150, 8)) * rng.choice([1e-3, 1.0], size=8) + 1e4
    y = X @ rng.normal(size=8) + rng.normal(size=150)
    cv = LassoCV(alphas=[1e-2, 1e-3, 1e-4], cv=3, positive=True, fit_intercept=False).fit(X, y)
    ref, _, objective = nonnegative_reference(X, y, fit_intercept=False, l1=150 * cv.alpha_)
    assert (cv.coef_ >= 0).all()
    assert objective(cv.coef_, 0.0) <= objective(ref, 0.0) * (1 + 1e-10)


@pytest.mark.parametrize("fmt", [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array])
def test_sparse_equals_dense(fmt, penalized_data):
    X, y = penalized_data(n=200, d=8, offset=0.0)
    X[np.abs(X) < 1.5] = 0.0
    for model in (ElasticNet(alpha=0.05), LassoCV(cv=4, alphas=10)):
        dense = model.fit(X, y)
        coef, intercept = dense.coef_.copy(), dense.intercept_
        sparse = model.fit(fmt(X), y)
        np.testing.assert_allclose(sparse.coef_, coef, rtol=1e-9, atol=1e-12)
        assert sparse.intercept_ == pytest.approx(intercept, rel=1e-9)
        np.testing.assert_allclose(sparse.predict(fmt(X)), dense.predict(X), rtol=1e-9)


def test_chunked_partial_fit_equals_fit(penalized_data):
    X, y = penalized_data(n=400, d=6)
    w = np.random.default_rng(2).uniform(0.5, 2.0, 400)
    whole = ElasticNet(alpha=0.1, l1_ratio=0.8).fit(X, y, sample_weight=w)
    chunked = ElasticNet(alpha=0.1, l1_ratio=0.8)
    for lo in range(0, 400, 70):
        chunked.partial_fit(X[lo : lo + 70], y[lo : lo + 70], sample_weight=w[lo : lo + 70])
    np.testing.assert_allclose(chunked.coef_, whole.coef_, rtol=1e-10, atol=1e-13)
    for cv in (5, HashedKFold(5, seed=3)):
        whole_cv = ElasticNetCV(l1_ratio=[0.3, 0.9], cv=cv, alphas=12).fit(X, y)
        part = ElasticNetCV(l1_ratio=[0.3, 0.9], cv=cv, alphas=12)
        for lo in range(0, 400, 150):
            part.partial_fit(X[lo : lo + 150], y[lo : lo + 150], n_samples=400)
        assert part.alpha_ == pytest.approx(whole_cv.alpha_, rel=1e-12)
        assert part.l1_ratio_ == whole_cv.l1_ratio_
        np.testing.assert_allclose(part.mse_path_, whole_cv.mse_path_, rtol=1e-9)
        np.testing.assert_allclose(part.coef_, whole_cv.coef_, rtol=1e-9, atol=1e-13)


def test_tensor_input_gives_tensor_predictions(penalized_data):
    X, y = penalized_data(n=100, d=3)
    model = Lasso(alpha=0.1).fit(torch.from_numpy(X), torch.from_numpy(y))
    ref = Lasso(alpha=0.1).fit(X, y)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-12)
    pred = model.predict(torch.from_numpy(X).float())
    assert isinstance(pred, torch.Tensor) and pred.dtype == torch.float32


def test_convergence_warning_when_and_only_when_unmet(penalized_data):
    X, y = penalized_data(n=300, d=30, seed=6)
    with pytest.warns(ConvergenceWarning, match="duality gap"):
        m = Lasso(alpha=1e-4, max_iter=1, tol=1e-12).fit(X, y)
    assert not m.converged_ and m.n_iter_ == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        m = Lasso(alpha=1e-4).fit(X, y)
        assert m.converged_ and m.dual_gap_ <= 1e-4 * np.var(y)
    with pytest.warns(ConvergenceWarning, match="cross-validated"):
        LassoCV(cv=3, alphas=5, max_iter=1, tol=1e-12).fit(X, y)


@pytest.mark.parametrize(
    "model, match",
    [
        (ElasticNet(l1_ratio=1.5), r"l1_ratio must be in \[0, 1\], got 1.5"),
        (ElasticNet(l1_ratio=-0.1), r"l1_ratio must be in \[0, 1\], got -0.1"),
        (Lasso(alpha=-1.0), r"alpha must be >= 0, got -1.0"),
    ],
)
def test_bad_parameters_name_themselves(model, match, penalized_data):
    X, y = penalized_data(n=60, d=3)
    with pytest.raises(ValueError, match=match):
        model.fit(X, y)


def test_bad_targets(penalized_data):
    X, y = penalized_data(n=60, d=3)
    with pytest.raises(ValueError, match="2 target columns"):
        Lasso().fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match="sample_weight"):
        Lasso().fit(X, y, sample_weight=-np.ones(60))


def test_warm_start_continues_from_the_previous_coefficients(penalized_data, assert_same_fit):
    X, y = penalized_data(n=300, d=20, seed=7)
    cold = ElasticNet(alpha=0.01, l1_ratio=0.9).fit(X, y)
    warm = ElasticNet(alpha=0.0101, l1_ratio=0.9, warm_start=True).fit(X, y)
    warm.set_params(alpha=0.01).fit(X, y)
    assert_same_fit(warm, cold, rtol=1e-9)
    assert warm.n_iter_ <= cold.n_iter_
