"""LassoCV and ElasticNetCV: scikit-learn conformance, agreement with scikit-learn's
cross-validation, folds of a stream, parameter checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import linear_model as sk
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from torchlinear import ElasticNetCV, LassoCV
from torchlinear.exact.fold_stats import HashedKFold


# a shorter grid keeps the suite fast; the defaults pass too (same code)
@parametrize_with_checks([LassoCV(alphas=12), ElasticNetCV(alphas=12)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_partial_fit_without_row_count_hashes_the_folds(penalized_data):
    X, y = penalized_data(n=200, d=4)
    with pytest.warns(UserWarning, match="HashedKFold"):
        streamed = LassoCV(cv=4, alphas=10).partial_fit(X, y)
    direct = LassoCV(cv=HashedKFold(4, seed=0), alphas=10).fit(X, y)
    assert streamed.alpha_ == direct.alpha_


@pytest.mark.parametrize("sw", [False, True])
def test_elastic_net_cv_matches_sklearn(sw, penalized_data, assert_same_fit, tight):
    X, y = penalized_data(n=300, d=8, seed=3, offset=1e6)  # badly centred columns
    w = np.random.default_rng(4).uniform(0.2, 2.0, 300) if sw else None
    ours = ElasticNetCV(l1_ratio=[0.2, 0.5, 0.9], cv=5).fit(X, y, sample_weight=w)
    ref = tight(sk.ElasticNetCV(l1_ratio=[0.2, 0.5, 0.9], cv=KFold(5)))
    ref.fit(X, y, sample_weight=w)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-10)
    assert ours.l1_ratio_ == ref.l1_ratio_
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-10)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-6)
    assert_same_fit(ours, ref)


def test_lasso_cv_matches_sklearn_with_given_alphas_and_shuffled_folds(
    penalized_data, assert_same_fit, tight
):
    X, y = penalized_data(n=250, d=7, seed=5)
    alphas = [0.01, 0.3, 0.1, 1.0]
    cv = KFold(4, shuffle=True, random_state=0)
    ours = LassoCV(alphas=alphas, cv=cv, positive=True).fit(X, y)
    ref = tight(sk.LassoCV(alphas=alphas, cv=cv, positive=True)).fit(X, y)
    np.testing.assert_allclose(ours.alphas_, ref.alphas_)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-7)
    assert ours.alpha_ == ref.alpha_ and not hasattr(ours, "l1_ratio_")
    assert_same_fit(ours, ref)


@pytest.mark.parametrize(
    "model, match",
    [
        (ElasticNetCV(l1_ratio=[0.5, 2.0]), r"l1_ratio must be in \[0, 1\], got 2.0"),
        (LassoCV(cv=1), r"cv must be at least 2 folds, got cv=1"),
        (LassoCV(cv=500), r"cv=500 folds need at least 500 rows"),
        (LassoCV(alphas=[]), r"alphas must be a number of alphas or a non-empty list"),
        (LassoCV(alphas=[0.1, -2.0]), r"alphas\[1\] must be >= 0, got -2.0"),
        (LassoCV(alphas=0), r"alphas must be at least 1"),
        (ElasticNetCV(l1_ratio=[0.0, 0.5]), r"^l1_ratio 0 \(ridge\) has no automatic alpha grid "
         r"\(its largest useful alpha is infinite\): give l1_ratio > 0, or the alphas to try, "
         r"e\.g\. alphas=\[0\.1, 1, 10\]$"),
    ],
)  # fmt: skip
def test_bad_parameters_name_themselves(model, match, penalized_data):
    X, y = penalized_data(n=60, d=3)
    with pytest.raises(ValueError, match=match):
        model.fit(X, y)


def test_ridge_among_the_ratios_is_fitted_on_alphas_given(penalized_data):
    X, y = penalized_data(n=60, d=3)
    model = ElasticNetCV(l1_ratio=[0.0, 0.5], alphas=[0.1, 1.0], cv=3).fit(X, y)
    assert model.l1_ratio_ in (0.0, 0.5) and model.alpha_ in (0.1, 1.0)
