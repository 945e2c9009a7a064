"""Estimators save and restore their own state; model files go through that alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression as SkLinearRegression

from torchlinear import LinearRegression, MLPClassifier, MLPRegressor, SoftmaxRegression
from torchlinear.estimators.persist import load_estimator, save_estimator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _fitted():
    Xd, yd = load_diabetes(return_X_y=True)
    Xi, yi = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[yi]
    binary = labels[yi < 2]
    return [
        (LinearRegression().fit(Xd, yd), Xd),
        (LinearRegression(alpha=3.0).fit(Xd, np.c_[yd, 2 * yd]), Xd),
        (LinearRegression(loss="huber", solver="lbfgs", max_iter=5).fit(Xd, yd), Xd),
        (SoftmaxRegression().fit(Xi, labels), Xi),
        (SoftmaxRegression().fit(Xi[yi < 2], binary), Xi),
        (MLPClassifier(hidden=4, max_iter=2, random_state=0).fit(Xi, labels), Xi),
        (MLPRegressor(hidden=4, max_iter=2, random_state=0).fit(Xd, yd), Xd),
    ]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("index", range(7))
def test_state_round_trip_predicts_identically(index, tmp_path):
    est, X = _fitted()[index]
    tensors, meta = est.get_state()
    json.dumps(meta)  # the metadata is plain JSON
    again = type(est).from_state(tensors, meta)
    np.testing.assert_array_equal(np.asarray(again.predict(X)), np.asarray(est.predict(X)))
    save_estimator(est, tmp_path)
    loaded = load_estimator(tmp_path)
    np.testing.assert_array_equal(np.asarray(loaded.predict(X)), np.asarray(est.predict(X)))
    if hasattr(est, "predict_proba"):
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


def test_restored_exact_fit_keeps_its_summary(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    est = LinearRegression().fit(X, y)
    save_estimator(est, tmp_path)
    loaded = load_estimator(tmp_path)
    assert str(loaded.summary()) == str(est.summary())  # the stored factor came back
    reference = SkLinearRegression().fit(X, y)
    np.testing.assert_allclose(loaded.coef_, reference.coef_, rtol=1e-10)


def test_state_of_another_class_is_refused():
    X, y = load_diabetes(return_X_y=True)
    tensors, meta = LinearRegression().fit(X, y).get_state()
    with pytest.raises(ValueError, match="not a SoftmaxRegression"):
        SoftmaxRegression.from_state(tensors, meta)


def test_model_files_from_before_estimator_state_are_refused_in_one_line(tmp_path):
    shutil.copytree(FIXTURES / "model_v1", tmp_path / "old")
    with pytest.raises(ValueError, match=r"format version 1 .*fit the model again") as info:
        load_estimator(tmp_path / "old")
    assert "\n" not in str(info.value)


def test_linear_gradient_fit_on_chunks_reaches_the_least_squares_solution():
    X, y = load_diabetes(return_X_y=True)
    parts = lambda: ((X[i : i + 100], y[i : i + 100]) for i in range(0, len(X), 100))  # noqa: E731
    est = LinearRegression(solver="lbfgs", max_iter=30).fit_chunks(parts, n_features=10)
    reference = SkLinearRegression().fit(X, y)
    np.testing.assert_allclose(est.coef_, reference.coef_, rtol=1e-4, atol=1e-3)
    assert est.solver_ == "lbfgs" and est.history_ is not None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_classifiers_train_on_chunks_with_their_labels():
    X, yi = load_iris(return_X_y=True)
    labels = np.array(["a", "b", "c"])[yi]
    order = np.random.default_rng(0).permutation(len(X))
    X, labels = X[order], labels[order]
    parts = lambda: ((X[i : i + 40], labels[i : i + 40]) for i in range(0, len(X), 40))  # noqa: E731
    soft = SoftmaxRegression(max_iter=60, lr=0.05, random_state=0).fit_chunks(parts, n_features=4)
    assert soft.classes_.tolist() == ["a", "b", "c"] and soft.score(X, labels) > 0.9
    mlp = MLPClassifier(hidden=8, max_iter=60, lr=0.02, random_state=0)
    mlp.fit_chunks(parts, n_features=4)
    assert mlp.classes_.tolist() == ["a", "b", "c"] and mlp.score(X, labels) > 0.9


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_penalized_and_robust_estimators_round_trip_through_model_files(tmp_path):
    from torchlinear import ElasticNetCV, HuberRegressor, Lasso, QuantileRegressor

    X, y = load_diabetes(return_X_y=True)
    fitted = [
        Lasso(alpha=0.1).fit(X, y),
        ElasticNetCV(alphas=5, cv=3).fit(X, y),
        QuantileRegressor(alpha=0.0).fit(X, y),
        HuberRegressor().fit(X, y),
    ]
    for i, est in enumerate(fitted):
        save_estimator(est, tmp_path / str(i))
        loaded = load_estimator(tmp_path / str(i))
        np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("odd", ["x\x00", "x\x00\x00", "\x00x", "x ", "x\t", "\u202ex", "x\ud800"])
def test_labels_and_names_round_trip_exactly_whatever_characters_they_hold(odd, tmp_path):
    """A trailing NUL is lost by NumPy's fixed-width strings: the saved classes and
    names must still compare equal to the estimator's own, and predict the same labels."""
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 2)), columns=pd.Index(["a", f"b{odd}"], dtype=object))
    labels = np.array(["x", odd], dtype=object)[(X["a"] > 0).to_numpy().astype(int)]
    for est in (
        SoftmaxRegression(max_iter=20).fit(X, labels),
        MLPClassifier(hidden=3, max_iter=2, random_state=0).fit(X, labels),
        LinearRegression().fit(X, X["a"] - X[f"b{odd}"]),
    ):
        folder = tmp_path / type(est).__name__
        save_estimator(est, folder)
        loaded = load_estimator(folder)
        assert loaded.feature_names_in_.tolist() == ["a", f"b{odd}"]
        assert loaded.predict(X).tolist() == est.predict(X).tolist()
        if hasattr(est, "classes_"):
            assert loaded.classes_.tolist() == sorted(["x", odd])
            assert odd in loaded.predict(X).tolist()


def _wide_model(folder: Path, d: int) -> Path:
    """A least-squares model of ``d`` features whose Cholesky factor (``d x d`` float64)
    is the identity: the state of a small fit, widened, saved and signed as a fit saves."""
    from torchlinear.io import load_model, save_model

    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    small = folder / "small"
    save_estimator(LinearRegression().fit(X, X @ [1.0, 2.0]), small)
    tensors, document = load_model(small)
    for key in ("format", "format_version", "library_version", "weights"):
        document.pop(key)
    wide = dict(tensors)
    for name, tensor in tensors.items():
        if tensor.shape and tensor.shape[0] == 2:  # the features' coefficients, means, scales
            wide[name] = tensor.new_ones((d, *tensor.shape[1:]))
    wide["state.extra.solution._factor"] = torch.eye(d, dtype=torch.float64)
    state = document["estimator"]
    state["attributes"]["n_features_in_"] = {"value": d}
    state["attributes"]["rank_"] = {"value": d}
    state["extra"]["solution"]["rank"] = d
    document["n_features"] = d
    document["feature_names"] = None
    state["attributes"].pop("feature_names_in_", None)
    save_model(folder / "wide", wide, document)
    return folder / "wide"


def _status(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field))


def predict_wide_model() -> dict:
    """Child process: load the small model and predict (the imports, the first tensors),
    then the memory that loading the wide model and predicting with it adds."""
    import os

    folder = Path(os.environ["TORCHLINEAR_TEST_WIDE_MODEL"])
    d = int(os.environ["TORCHLINEAR_TEST_WIDE_D"])
    load_estimator(folder.parent / "small").predict(np.ones((3, 2)))
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # the peak resident memory starts again from here
    before = _status("VmRSS:")
    prediction = float(load_estimator(folder).predict(np.ones((3, d)))[0])
    return {"prediction": prediction, "added": _status("VmHWM:") - before}


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux's peak RSS")
def test_predicting_does_not_load_the_factor_only_a_summary_reads(tmp_path, monkeypatch):
    # 2,000 features: a 32 MB factor, of which loading and predicting read nothing
    import importlib.util

    d = 2000
    model = _wide_model(tmp_path, d)
    spec = importlib.util.spec_from_file_location(
        "capped", Path(__file__).resolve().parents[1] / "data" / "_capped.py"
    )
    capped = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(capped)
    monkeypatch.setenv("TORCHLINEAR_TEST_WIDE_D", str(d))
    monkeypatch.setenv("TORCHLINEAR_TEST_WIDE_MODEL", str(model))
    outcome = capped.run_capped(__file__, ["predict_wide_model"], timeout=120)
    result = outcome["predict_wide_model"]
    assert result["returned"], result.get("traceback")
    loaded = load_estimator(model)
    assert result["value"]["prediction"] == pytest.approx(loaded.intercept_ + d)
    assert result["value"]["added"] < 16 * 2**20  # less than the factor alone, 32 MB
    assert loaded.solution_.centred_inverse().diagonal().tolist() == [1.0] * d  # read now
