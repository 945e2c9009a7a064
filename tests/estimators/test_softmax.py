"""SoftmaxRegression against scikit-learn's multinomial LogisticRegression, and its API."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.special import softmax as scipy_softmax
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import recall_score
from sklearn.utils.estimator_checks import check_estimator
from threadpoolctl import threadpool_limits

from torchlinear import SoftmaxRegression


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def sklearn_fit(X, y, C, **kwargs):
    # One thread: on a busy machine scikit-learn's BLAS threads mostly spin.
    with threadpool_limits(limits=1):
        return LogisticRegression(C=C, tol=1e-10, max_iter=10_000, **kwargs).fit(X, y)


# ------------------------------------------------------------------ agreement with sklearn


@pytest.mark.parametrize("C", [0.05, 1.0])
def test_matches_sklearn_multinomial_coefficients_on_digits(digits, C):
    X, y = digits
    reference = sklearn_fit(X, y, C)
    ours = SoftmaxRegression(alpha=1 / (C * len(y)), tol=1e-9, device="cpu").fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-4, rtol=0)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, atol=1e-4, rtol=0)
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=1e-5)


def test_float32_precision_lands_next_to_the_float64_solution(digits):
    X, y = digits
    exact = SoftmaxRegression(alpha=1e-3, tol=1e-8, device="cpu").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # may stop at float32's limit
        fast = SoftmaxRegression(alpha=1e-3, precision="float32", tol=1e-8, device="cpu")
        fast.fit(X.astype(np.float32), y)
    np.testing.assert_allclose(fast.coef_, exact.coef_, atol=2e-3)
    assert fast.coef_.dtype == np.float64
    np.testing.assert_array_equal(fast.predict(X), exact.predict(X))


def test_sample_weight_matches_sklearn_and_repetition(digits):
    X, y = digits[0][:600], digits[1][:600]
    weights = np.random.default_rng(0).integers(0, 4, size=len(y)).astype(float)
    C = 0.5
    with threadpool_limits(limits=1):
        reference = LogisticRegression(C=C, tol=1e-10, max_iter=10_000)
        reference.fit(X, y, sample_weight=weights)
    # alpha = 1 / (C * sum of sample weights)
    ours = SoftmaxRegression(alpha=1 / (C * weights.sum()), tol=1e-9, device="cpu")
    ours.fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-4, rtol=0)
    # An integer weight is the same as repeating the row (the objective's scaling makes
    # it so exactly).
    repeat = np.repeat(np.arange(len(y)), weights.astype(int))
    repeated = SoftmaxRegression(alpha=1 / (C * len(repeat)), tol=1e-9, device="cpu")
    repeated.fit(X[repeat], y[repeat])
    np.testing.assert_allclose(ours.coef_, repeated.coef_, atol=1e-5, rtol=0)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 3.0, 3: 0.5}])
def test_class_weight_matches_sklearn(digits, class_weight):
    X, y = digits[0][:500], digits[1][:500]
    C = 0.2
    with threadpool_limits(limits=1):
        reference = LogisticRegression(C=C, tol=1e-10, max_iter=10_000, class_weight=class_weight)
        reference.fit(X, y)
    ours = SoftmaxRegression(
        alpha=1 / (C * len(y)), class_weight=class_weight, tol=1e-9, device="cpu"
    ).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-4, rtol=0)
    if class_weight == "balanced":
        counts = np.bincount(y)
        np.testing.assert_allclose(ours.class_weight_, len(y) / (10 * counts))


@pytest.mark.parametrize("k", [2, 3])
def test_balanced_class_weight_counts_rows_in_sample_weight(k):
    # "balanced" counts each class in units of sample weight: integer weights are repeated
    # rows, as in scikit-learn (whose C multiplies the summed weighted loss)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = np.argmax(X @ rng.normal(size=(3, k)) + rng.gumbel(size=(120, k)), axis=1)
    s = rng.integers(0, 4, size=120).astype(float)
    alpha = 1e-2
    ours = SoftmaxRegression(alpha=alpha, class_weight="balanced", device="cpu", tol=1e-9)
    ours.fit(X, y, sample_weight=s)
    np.testing.assert_allclose(ours.class_weight_, s.sum() / (k * np.bincount(y, s)))
    reference = sklearn_fit(X, y, 1 / (alpha * s.sum()), class_weight="balanced")
    reference.fit(X, y, sample_weight=s)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-6, rtol=0)
    repeated = sklearn_fit(
        np.repeat(X, s.astype(int), axis=0),
        np.repeat(y, s.astype(int)),
        1 / (alpha * s.sum()),
        class_weight="balanced",
    )
    np.testing.assert_allclose(ours.coef_, repeated.coef_, atol=1e-6, rtol=0)


@pytest.mark.parametrize("class_weight", [{0: 10.0}, {0: 0.1, 2: 3.0}])
def test_minibatch_solver_minimises_the_same_objective_with_class_weights(class_weight):
    # full-batch gradient descent run to convergence lands on the L-BFGS minimiser only if
    # alpha is carried over for the class weights' total
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)) + rng.gumbel(size=(300, 3)), axis=1)
    common = {"alpha": 0.05, "class_weight": class_weight, "device": "cpu"}
    exact = SoftmaxRegression(tol=1e-10, **common).fit(X, y)
    gd = SoftmaxRegression(
        solver="sgd", batch_size=300, lr=1.0, max_iter=500, tol=0, random_state=0, **common
    ).fit(X, y)
    np.testing.assert_allclose(gd.coef_, exact.coef_, atol=1e-6, rtol=0)
    reference = sklearn_fit(X, y, 1 / (0.05 * 300), class_weight=class_weight)
    np.testing.assert_allclose(exact.coef_, reference.coef_, atol=1e-6, rtol=0)


@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_binary_problem_is_logistic_regression_with_the_same_C(C):
    X, y = make_classification(200, 5, n_informative=3, random_state=0)
    ours = SoftmaxRegression(alpha=1 / (C * len(y)), tol=1e-10, device="cpu").fit(X, y)
    reference = sklearn_fit(X, y, C, solver="newton-cholesky")
    assert ours.coef_.shape == (1, 5) and ours.intercept_.shape == (1,)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=1e-6)
    decision = ours.decision_function(X)
    assert decision.shape == (200,)
    np.testing.assert_allclose(decision, reference.decision_function(X), atol=1e-5)
    np.testing.assert_array_equal(ours.predict(X), reference.predict(X))


@pytest.mark.parametrize("C", [0.05, 5.0])
def test_binary_sample_weight_means_alpha_over_the_weight_total(C):
    X, y = make_classification(300, 6, n_informative=4, random_state=1)
    weights = np.random.default_rng(1).uniform(0, 3, size=len(y))
    with threadpool_limits(limits=1):
        reference = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=100)
        reference.fit(X, y, sample_weight=weights)
    ours = SoftmaxRegression(alpha=1 / (C * weights.sum()), tol=1e-10, device="cpu")
    ours.fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_binary_minibatch_solvers_keep_the_binary_conventions(solver):
    X, y = make_classification(400, 4, n_informative=2, n_redundant=0, random_state=2)
    alpha = 1e-2
    reference = sklearn_fit(X, y, 1 / (alpha * len(y)), solver="newton-cholesky")

    def objective(model):
        o = X @ model.coef_[0] + model.intercept_[0]
        return np.mean(np.logaddexp(0, o) - y * o) + alpha / 2 * np.sum(model.coef_**2)

    approx = SoftmaxRegression(
        alpha=alpha, solver=solver, lr=0.05, max_iter=100, random_state=0, device="cpu"
    )
    if solver == "sgd":  # its loss stops improving 0.9 % above the minimum: not converged
        with pytest.warns(ConvergenceWarning, match="sgd stalled after"):
            approx.fit(X, y)
        assert not approx.converged_ and approx.history_.stop_reason == "stalled"
    else:
        approx.fit(X, y)
        assert approx.converged_ and approx.history_.stop_reason == "converged"
    assert approx.coef_.shape == (1, 4) and approx.intercept_.shape == (1,)
    # within 2 % of the logistic objective either way
    assert objective(approx) < objective(reference) * 1.02
    assert np.mean(approx.predict(X) == reference.predict(X)) > 0.97


@pytest.mark.parametrize("k", [2, 3])
def test_fit_chunks_minimises_the_objective_of_fit(k):
    # full-batch gradient descent on one chunk per epoch, run to convergence, lands on
    # scikit-learn's minimiser: with two classes too (the logistic model's penalty)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = np.argmax(X @ rng.normal(size=(3, k)) + rng.gumbel(size=(300, k)), axis=1)
    params = {"alpha": 0.05, "solver": "sgd", "batch_size": 300, "lr": 1.0, "tol": 0}
    streamed = SoftmaxRegression(max_iter=200, device="cpu", random_state=0, **params)
    streamed.fit_chunks(lambda: [(X, y)], n_features=3)
    reference = sklearn_fit(X, y, 1 / (0.05 * 300))
    np.testing.assert_allclose(streamed.coef_, reference.coef_, atol=1e-4, rtol=0)


def test_roc_auc_scoring_through_cross_val_score():
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_score

    X, y = make_classification(300, 5, n_informative=3, random_state=3)
    scores = cross_val_score(SoftmaxRegression(device="cpu"), X, y, cv=3, scoring="roc_auc")
    reference = cross_val_score(LogisticRegression(), X, y, cv=3, scoring="roc_auc")
    np.testing.assert_allclose(scores, reference, atol=2e-3)
    clf = SoftmaxRegression(device="cpu").fit(X, y)
    assert roc_auc_score(y, clf.decision_function(X)) > 0.9


def test_fit_intercept_false_matches_sklearn(digits):
    X, y = digits[0][:400], digits[1][:400]
    reference = sklearn_fit(X, y, 0.3, fit_intercept=False)
    ours = SoftmaxRegression(alpha=1 / (0.3 * 400), fit_intercept=False, tol=1e-9, device="cpu")
    ours.fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-4, rtol=0)
    assert np.all(ours.intercept_ == 0)


# ------------------------------------------------------------------ behaviour


def test_balanced_class_weight_raises_minority_recall():
    X, y = make_classification(
        3000, 8, n_informative=4, weights=[0.93, 0.07], class_sep=0.6, flip_y=0.0, random_state=1
    )
    X_tr, y_tr, X_te, y_te = X[:2000], y[:2000], X[2000:], y[2000:]
    plain = SoftmaxRegression(alpha=1e-3, device="cpu").fit(X_tr, y_tr)
    balanced = SoftmaxRegression(alpha=1e-3, class_weight="balanced", device="cpu").fit(X_tr, y_tr)
    recall_plain = recall_score(y_te, plain.predict(X_te), pos_label=1)
    recall_balanced = recall_score(y_te, balanced.predict(X_te), pos_label=1)
    assert recall_balanced > recall_plain + 0.2, (recall_plain, recall_balanced)


def test_weighted_sampling_also_raises_minority_recall():
    X, y = make_classification(
        3000, 8, n_informative=4, weights=[0.93, 0.07], class_sep=0.6, flip_y=0.0, random_state=1
    )
    X_tr, y_tr, X_te, y_te = X[:2000], y[:2000], X[2000:], y[2000:]
    common = dict(solver="adam", lr=0.01, max_iter=15, batch_size=64, random_state=0)
    plain = SoftmaxRegression(device="cpu", **common).fit(X_tr, y_tr)
    sampled = SoftmaxRegression(
        device="cpu", class_weight="balanced", sampling="weighted", **common
    ).fit(X_tr, y_tr)
    recall_plain = recall_score(y_te, plain.predict(X_te), pos_label=1)
    recall_sampled = recall_score(y_te, sampled.predict(X_te), pos_label=1)
    assert recall_sampled > recall_plain + 0.2, (recall_plain, recall_sampled)
    assert sampled.solver_ == "adam" and len(sampled.loss_curve_) == sampled.n_iter_


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_minibatch_solvers_approach_the_lbfgs_solution(digits, solver):
    X, y = digits
    alpha = 1e-3
    exact = SoftmaxRegression(alpha=alpha, device="cpu").fit(X, y)
    lr = {"sgd": 0.1, "adam": 0.01}[solver]
    approx = SoftmaxRegression(
        alpha=alpha, solver=solver, lr=lr, max_iter=30, batch_size=64, random_state=0, device="cpu"
    ).fit(X, y)
    assert approx.history_ is not None and approx.n_iter_ == len(approx.history_)
    agreement = np.mean(approx.predict(X) == exact.predict(X))
    assert agreement > 0.97
    objective = _objective(X, y, approx, alpha)
    assert objective < _objective(X, y, exact, alpha) * 1.1


def _objective(X, y, model, alpha):
    P = scipy_softmax(X @ model.coef_.T + model.intercept_, axis=1)
    return -np.mean(np.log(P[np.arange(len(y)), y])) + alpha / 2 * np.sum(model.coef_**2)


def test_probabilities_decision_function_and_score(digits):
    X, y = digits[0][:300], digits[1][:300]
    clf = SoftmaxRegression(alpha=1e-2, device="cpu").fit(X, y)
    logits = X @ clf.coef_.T + clf.intercept_
    np.testing.assert_allclose(clf.decision_function(X), logits, atol=1e-10)
    np.testing.assert_allclose(clf.predict_proba(X), scipy_softmax(logits, axis=1), atol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(clf.predict_proba(X)), atol=1e-9)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[logits.argmax(1)])
    assert clf.score(X, y) == pytest.approx(np.mean(clf.predict(X) == y))
    assert clf.intercept_.sum() == pytest.approx(0, abs=1e-12)
    assert clf.loss_curve_[-1] == pytest.approx(_objective(X, y, clf, 1e-2), rel=1e-9)


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog", "emu"]),
        np.array([-7, 3, 40]),
        np.array([2.0, -1.0, 0.0]),
    ],
)
def test_classes_of_any_label_type(labels):
    X, y_index = make_classification(
        150, 4, n_informative=3, n_redundant=0, n_classes=3, random_state=2
    )
    y = labels[y_index]
    clf = SoftmaxRegression(alpha=1e-2, device="cpu").fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    predicted = clf.predict(X)
    assert predicted.dtype == y.dtype and set(predicted) <= set(labels)
    with_index = SoftmaxRegression(alpha=1e-2, device="cpu").fit(
        X, np.searchsorted(np.sort(labels), y)
    )
    np.testing.assert_allclose(clf.coef_, with_index.coef_)


def test_boolean_labels_and_tensor_input():
    X, y = make_classification(120, 3, n_informative=2, n_redundant=0, random_state=3)
    clf = SoftmaxRegression(alpha=1e-2, device="cpu").fit(torch.tensor(X), y.astype(bool))
    assert clf.classes_.tolist() == [False, True]
    assert clf.predict(torch.tensor(X, dtype=torch.float32)).dtype == bool
    assert clf.device_ == torch.device("cpu")


def test_dataframe_feature_names():
    X, y = make_classification(80, 3, n_informative=2, n_redundant=0, random_state=4)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    clf = SoftmaxRegression(device="cpu").fit(frame, y)
    assert clf.feature_names_in_.tolist() == ["a", "b", "c"]
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict(X)
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(frame[["c", "b", "a"]])


def test_unpenalised_separable_problem_is_classified_and_centred():
    X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
    y = np.array([0, 0, 1, 1, 2, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the minimum is at infinity
        clf = SoftmaxRegression(alpha=0.0, device="cpu").fit(X, y)
    assert clf.score(X, y) == 1.0
    assert clf.coef_.sum(axis=0) == pytest.approx(0, abs=1e-9)
    assert clf.intercept_.sum() == pytest.approx(0, abs=1e-9)


def test_too_few_iterations_warn(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="L-BFGS did not converge in 3 iterations"):
        clf = SoftmaxRegression(max_iter=3, device="cpu").fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3


# ------------------------------------------------------------------ bad input


def test_single_class_is_a_clear_error():
    with pytest.raises(ValueError, match=r"y has only one class \('a'\); a classifier needs"):
        SoftmaxRegression().fit(np.ones((5, 2)), ["a"] * 5)
    with pytest.raises(ValueError, match="only one class has positive total weight"):
        SoftmaxRegression().fit(np.eye(4), [0, 0, 1, 1], sample_weight=[1, 1, 0, 0])


def test_nan_features_error_counts_them():
    X = np.ones((6, 3))
    X[1, 2] = np.nan
    X[4, 0] = np.inf
    with pytest.raises(
        ValueError, match=r"X has 2 NaN/inf value\(s\); the first is at row 1, column 2"
    ):
        SoftmaxRegression().fit(X, [0, 1, 0, 1, 0, 1])


def test_predict_with_other_feature_count_names_both():
    clf = SoftmaxRegression(device="cpu").fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="X has 3 features, but SoftmaxRegression is expecting 4"):
        clf.predict(np.ones((2, 3)))


@pytest.mark.parametrize(
    ("kwargs", "fit_kwargs", "message"),
    [
        ({"solver": "newton"}, {}, "solver must be one of"),
        ({"alpha": -1.0}, {}, "alpha must be a finite number >= 0"),
        ({"class_weight": {"z": 2.0}}, {}, r"class_weight names label\(s\) \['z'\]"),
        ({"class_weight": "auto"}, {}, "class_weight must be None, 'balanced' or a dict"),
        ({}, {"sample_weight": [1.0, -1.0, 1.0, 1.0]}, "1 negative value"),
        ({}, {"sample_weight": [1.0, 1.0]}, r"sample_weight must have shape \(4,\)"),
        ({"sampling": "stratified"}, {}, "sampling must be one of"),
        ({"precision": "half"}, {}, "precision must be one of"),
    ],
)
def test_invalid_arguments(kwargs, fit_kwargs, message):
    with pytest.raises(ValueError, match=message):
        SoftmaxRegression(device="cpu", **kwargs).fit(np.eye(4), [0, 1, 0, 1], **fit_kwargs)


def test_length_mismatch_and_1d_X():
    with pytest.raises(ValueError, match="y has 3 rows but X has 4"):
        SoftmaxRegression().fit(np.eye(4), [0, 1, 0])
    with pytest.raises(ValueError, match="Reshape your data"):
        SoftmaxRegression().fit(np.arange(4.0), [0, 1, 0, 1])


def test_passes_sklearn_check_estimator():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(SoftmaxRegression(device="cpu"), on_fail=None)
    failed = {r["check_name"]: str(r["exception"]) for r in results if r["status"] == "failed"}
    assert failed == {}
    assert sum(r["status"] == "passed" for r in results) > 50


# ------------------------------------------------------------------ raw data, convergence


@pytest.mark.parametrize("dataset", ["wine", "breast_cancer"])
@pytest.mark.parametrize("C", [1.0, 100.0])
def test_default_fit_on_raw_data_converges_and_matches_sklearn(dataset, C):
    from sklearn.datasets import load_breast_cancer, load_wine

    X, y = {"wine": load_wine, "breast_cancer": load_breast_cancer}[dataset](return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning of any kind
        ours = SoftmaxRegression(alpha=1 / (C * len(y)), device="cpu").fit(X, y)
    assert ours.converged_ and ours.solver_ == "lbfgs"
    # Newton's method is indifferent to the features' scales: a trustworthy reference
    reference = sklearn_fit(X, y, C, solver="newton-cholesky")
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=1e-6)
    scale = np.abs(reference.coef_).max()
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-5 * scale, rtol=0)


def test_lbfgs_warns_when_and_only_when_the_gradient_criterion_is_unmet(digits):
    X, y = digits[0][:400], digits[1][:400]
    with pytest.warns(ConvergenceWarning, match=r"largest gradient component is .* > tol 1e-06"):
        short = SoftmaxRegression(alpha=1e-3, max_iter=2, device="cpu").fit(X, y)
    assert not short.converged_ and short.n_iter_ == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        full = SoftmaxRegression(alpha=1e-3, device="cpu").fit(X, y)
    assert full.converged_


def test_minibatch_warns_when_max_iter_comes_first_and_not_otherwise():
    X, y = make_classification(300, 4, n_informative=2, n_redundant=0, random_state=5)
    with pytest.warns(ConvergenceWarning, match=r"sgd did not converge in 2 epochs"):
        short = SoftmaxRegression(solver="sgd", max_iter=2, random_state=0, device="cpu")
        short.fit(X, y)
    assert not short.converged_ and short.n_iter_ == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        loose = SoftmaxRegression(solver="sgd", tol=0.01, max_iter=200, random_state=0)
        loose.fit(X, y)
    assert loose.converged_ and loose.n_iter_ < 200


def test_full_batch_lbfgs_refuses_rows_times_classes_beyond_the_memory_budget():
    from torchlinear._memory import set_memory_limit

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(3000, 2)), np.arange(3000) % 500
    previous = set_memory_limit("20M")  # 3,000 x 500 x 32 bytes = 48 MB
    try:
        refused = r"full-batch L-BFGS.*use minibatches \(solver='adam'\)"
        with pytest.raises(ValueError, match=refused):
            SoftmaxRegression(solver="lbfgs").fit(X, y)
    finally:
        set_memory_limit(previous)


def test_a_minibatch_fit_that_says_converged_is_at_the_optimum():
    # three overlapping classes: the penalised log-loss has a finite optimum (L-BFGS's);
    # SGD at a fixed rate stalls 1.4% above it
    rng = np.random.default_rng(0)
    n, alpha = 600, 1e-3
    X = rng.normal(size=(n, 6))
    logits = X @ rng.normal(size=(6, 3))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    y = (rng.random(n)[:, None] > np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)).sum(1)

    def objective(model):
        proba = model.predict_proba(X)[np.arange(n), y]
        return -np.mean(np.log(proba)) + alpha / 2 * np.sum(model.coef_**2)

    best = objective(SoftmaxRegression(alpha=alpha, solver="lbfgs").fit(X, y))
    model = SoftmaxRegression(
        alpha=alpha, solver="sgd", lr=0.05, batch_size=16, max_iter=200, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y)
    assert model.converged_ and (objective(model) - best) / best < 1e-3
    assert len(model.history_.lr_drops) == 3
