import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from torchlinear import LinearRegression, MLPClassifier, MLPRegressor, SoftmaxRegression


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny networks: one intra-op thread avoids thread hand-off costs on a busy machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _xor(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    y = np.where(X[:, 0] * X[:, 1] > 0, "same", "different")
    return X, y


def _forward(model, X):
    """The network's output computed with NumPy from its parameters (an independent
    re-implementation of standardize -> Linear -> ReLU -> Linear)."""
    state = {k: v.detach().double().numpy() for k, v in model.module_.state_dict().items()}
    Z = (X - state["mean"]) / state["scale"]
    H = np.maximum(Z @ state["module.hidden.weight"].T + state["module.hidden.bias"], 0.0)
    return H @ state["module.output.weight"].T + state["module.output.bias"]


def test_classifier_learns_xor_that_softmax_regression_cannot():
    X, y = _xor()
    linear = SoftmaxRegression(device="cpu").fit(X, y)
    mlp = MLPClassifier(hidden=16, solver="lbfgs", max_iter=20, random_state=0).fit(X, y)
    assert linear.score(X, y) < 0.75
    assert mlp.score(X, y) > 0.95
    X_new, y_new = _xor(200, seed=1)
    assert mlp.score(X_new, y_new) > 0.9
    assert mlp.classes_.tolist() == ["different", "same"]


def test_classifier_outputs_agree_with_a_numpy_forward_pass():
    X, y = _xor(120)
    clf = MLPClassifier(hidden=8, max_iter=5, tol=0, random_state=0).fit(X, y)
    logits = _forward(clf, X)
    # two classes: the log-odds of classes_[1], shape (n,), like scikit-learn's classifiers
    log_odds = logits[:, 1] - logits[:, 0]
    np.testing.assert_allclose(clf.decision_function(X), log_odds, rtol=1e-10, atol=1e-12)
    shifted = logits - logits.max(axis=1, keepdims=True)
    proba = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X), proba, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-9, atol=1e-12)
    assert clf.predict(X).tolist() == clf.classes_[logits.argmax(axis=1)].tolist()


def test_regressor_fits_a_nonlinear_curve_a_line_cannot():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(400, 1))
    y = np.abs(X[:, 0]) + 0.01 * rng.normal(size=400)
    line = LinearRegression().fit(X, y)
    mlp = MLPRegressor(hidden=16, solver="lbfgs", max_iter=20, random_state=0).fit(X, y)
    assert line.score(X, y) < 0.05
    assert mlp.score(X, y) > 0.99
    np.testing.assert_allclose(mlp.predict(X), _forward(mlp, X)[:, 0], rtol=1e-10, atol=1e-12)
    assert mlp.predict(X).shape == (400,) and mlp.n_outputs_ == 1


def test_regressor_multi_output_and_tensor_input():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 3))
    Y = np.c_[X[:, 0] ** 2, np.sin(X[:, 1])]
    model = MLPRegressor(hidden=8, max_iter=3, random_state=0).fit(X, Y)
    assert model.predict(X).shape == (100, 2) and model.n_outputs_ == 2
    out = model.predict(torch.from_numpy(X))
    assert isinstance(out, torch.Tensor) and out.shape == (100, 2)
    np.testing.assert_allclose(out.numpy(), model.predict(X))


def test_robust_loss_resists_outliers():
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, size=(300, 1))
    y = 2 * X[:, 0]
    y_bad = y.copy()
    y_bad[:15] += 50.0  # 5% gross outliers
    kwargs = {"hidden": 8, "solver": "lbfgs", "max_iter": 15, "random_state": 0}
    squared = MLPRegressor(**kwargs).fit(X, y_bad)
    huber = MLPRegressor(loss="huber", delta=0.5, **kwargs).fit(X, y_bad)
    clean = slice(15, None)
    err_sq = np.abs(squared.predict(X[clean]) - y[clean]).mean()
    err_hu = np.abs(huber.predict(X[clean]) - y[clean]).mean()
    assert err_hu < 0.5 * err_sq


def test_same_random_state_same_model_and_different_state_differs():
    X, y = _xor(100)
    a = MLPClassifier(hidden=8, max_iter=3, random_state=5).fit(X, y)
    b = MLPClassifier(hidden=8, max_iter=3, random_state=5).fit(X, y)
    c = MLPClassifier(hidden=8, max_iter=3, random_state=6).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.allclose(a.predict_proba(X), c.predict_proba(X))


def test_early_stopping_records_validation_and_keeps_the_best_epoch():
    X, y = _xor(400)
    clf = MLPClassifier(
        hidden=16,
        max_iter=200,
        lr=0.05,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=3,
        tol=0,
        random_state=0,
    ).fit(X, y)
    h = clf.history_
    assert len(h.val_loss) == len(h) == clf.n_iter_
    if h.stop_reason == "early_stopping":
        assert h.best_epoch == int(np.argmin(h.val_loss)) + 1
        assert len(h) - h.best_epoch == 3
    assert clf.loss_curve_ == h.train_loss


def test_dataframe_feature_names_are_checked():
    X, y = _xor(80)
    df = pd.DataFrame(X, columns=["u", "v"])
    clf = MLPClassifier(hidden=4, max_iter=2, random_state=0).fit(df, y)
    assert clf.feature_names_in_.tolist() == ["u", "v"]
    with pytest.raises(ValueError, match="Feature names seen at fit time, yet now missing"):
        clf.predict(df.rename(columns={"v": "w"}))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict(X)
    with pytest.raises(ValueError, match="expecting 2 features"):
        clf.predict(X[:, :1])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"hidden": 0}, "hidden must be a positive integer"),
        ({"solver": "newton"}, "solver must be one of"),
        ({"alpha": -1.0}, "alpha must be a finite number >= 0"),
        ({"l1_ratio": 2.0}, r"l1_ratio must lie in \[0, 1\]"),
        ({"solver": "lbfgs", "alpha": 0.1, "l1_ratio": 0.5}, "cannot handle an L1 penalty"),
        ({"early_stopping": True, "validation_fraction": 0.0}, "validation_fraction must lie"),
    ],
)
def test_bad_parameters_raise_one_line_errors(params, match):
    X, y = _xor(40)
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**params).fit(X, y)


def test_bad_data_and_unfitted_use():
    X, y = _xor(40)
    with pytest.raises(ValueError, match="only one class"):
        MLPClassifier().fit(X, np.zeros(40))
    with pytest.raises(ValueError, match="loss must be one of"):
        MLPRegressor(loss="ce").fit(X, X[:, 0])
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN/inf"):
        MLPRegressor().fit(X_nan, X[:, 0])
    with pytest.raises(ValueError, match="y has 39 rows but X has 40"):
        MLPRegressor().fit(X, X[:39, 0])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MLPRegressor().predict(X)


def test_sklearn_conventions_clone_and_params():
    model = MLPRegressor(hidden=7, alpha=0.1, random_state=3)
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert not hasattr(twin, "module_")


def test_binary_decision_function_is_the_log_odds_and_roc_auc_scoring_works():
    from sklearn.datasets import make_classification
    from sklearn.model_selection import cross_val_score

    X, y = make_classification(240, 4, n_informative=2, n_redundant=0, random_state=0)
    clf = MLPClassifier(hidden=8, solver="lbfgs", max_iter=10, tol=0, random_state=0)
    scores = cross_val_score(clf, X, y, cv=3, scoring="roc_auc")
    assert scores.shape == (3,) and np.all(scores > 0.8)
    clf.fit(X, y)
    decision = clf.decision_function(X)
    assert decision.shape == (240,)
    log_proba = clf.predict_log_proba(X)
    np.testing.assert_allclose(decision, log_proba[:, 1] - log_proba[:, 0], rtol=1e-9)
    three = MLPClassifier(hidden=8, max_iter=2, tol=0, random_state=0).fit(X, y % 2 + (X[:, 0] > 1))
    assert three.decision_function(X).shape == (240, 3)


def test_convergence_warning_fires_when_and_only_when_the_criterion_is_unmet():
    X, y = _xor(200)
    with pytest.warns(ConvergenceWarning, match=r"did not converge in 3 epochs.*> tol 1e-05"):
        short = MLPClassifier(hidden=8, max_iter=3, random_state=0).fit(X, y)
    assert short.n_iter_ == 3 and not short.converged_
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        loose = MLPClassifier(hidden=8, max_iter=200, tol=0.05, n_iter_no_change=2)
        loose.fit(X, y)
        fixed = MLPClassifier(hidden=8, max_iter=3, tol=0, random_state=0).fit(X, y)
    assert loose.converged_ and loose.n_iter_ < 200
    assert loose.history_.stop_reason == "converged"
    assert not fixed.converged_ and fixed.n_iter_ == 3


def test_a_wide_hidden_layer_is_budgeted_and_evaluated_a_few_rows_at_a_time(monkeypatch):
    # 256 rows x 30,000 hidden units of activations were not counted, and predict ran all
    # rows through the layer at once (5,000 x 30,000 float64: 1.2 GB)
    import torchlinear.engine.sources as sources
    from torchlinear import MLPRegressor
    from torchlinear._memory import set_memory_limit

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 3)), rng.normal(size=300)
    previous = set_memory_limit("100M")
    try:
        with pytest.raises(ValueError, match=r"256 rows x 30,000 hidden units need 246 MB"):
            MLPRegressor(hidden=30_000, max_iter=1).fit(X, y)
    finally:
        set_memory_limit(previous)
    model = MLPRegressor(hidden=64, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    whole = model.predict(X)
    monkeypatch.setattr(sources, "ACTIVATION_BYTES", 64 * 8 * 2 * 7)  # 7 rows at a time
    assert sources.eval_rows(model.module_) < 10
    np.testing.assert_array_equal(model.predict(X), whole)
