import json
import os
import signal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)

from torchlinear import (
    LinearRegression,
    MLPClassifier,
    MLPRegressor,
    SoftmaxRegression,
    workflow,
)
from torchlinear.engine import Callback, DivergenceError
from torchlinear.io import FORMAT_VERSION
from torchlinear.workflow import (
    TrainingInterrupted,
    evaluate,
    fit,
    holdout_mask,
    load_estimator,
    model_summary,
    predict,
    save_estimator,
)

pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _regression_table(n=400, seed=0):
    rng = np.random.default_rng(seed)
    # offsets and scales that make the normal equations work for their accuracy
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, -3.0]
    y = X @ [1.5, -0.2, 20.0] + 4.0 + 0.5 * rng.normal(size=n)
    return X, y


def _write(path, columns):
    table = pa.table(columns)
    if str(path).endswith(".parquet"):
        pq.write_table(table, path, row_group_size=50)
    else:
        pacsv.write_csv(table, path)
    return path


@pytest.fixture(scope="module")
def reg_csv(tmp_path_factory):
    X, y = _regression_table()
    path = tmp_path_factory.mktemp("data") / "houses.csv"
    return _write(path, {"area": X[:, 0], "age": X[:, 1], "dist": X[:, 2], "price": y}), X, y


@pytest.fixture(scope="module")
def cls_parquet(tmp_path_factory):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 2))
    labels = np.array(["setosa", "versicolor", "virginica"])
    score = X @ np.array([[2.0, -1.0, 0.0], [0.0, 1.5, -2.0]]) + rng.normal(size=(300, 3))
    y = labels[score.argmax(axis=1)]
    path = tmp_path_factory.mktemp("data") / "flowers.parquet"
    return _write(path, {"length": X[:, 0], "width": X[:, 1], "species": y}), X, y


# ------------------------------------------------------------------- the holdout rule


def test_holdout_mask_is_a_fixed_function_of_the_row_index():
    full = holdout_mask(0, 20_000, 0.25, seed=7)
    assert abs(full.mean() - 0.25) < 0.01
    pieces = np.concatenate([holdout_mask(s, 1_000, 0.25, seed=7) for s in range(0, 20_000, 1_000)])
    np.testing.assert_array_equal(pieces, full)
    other = holdout_mask(0, 20_000, 0.25, seed=8)
    assert 0.5 < (other == full).mean() < 0.75  # a different seed: an independent split
    assert not holdout_mask(0, 100, 0.0).any()
    with pytest.raises(ValueError, match=r"val_split must lie in \[0, 1\)"):
        holdout_mask(0, 10, 1.0)


# ------------------------------------------------------------------- exact least squares


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_streamed_exact_fit_in_small_batches_equals_the_in_memory_fit(tmp_path, suffix):
    X, y = _regression_table(n=300, seed=1)
    path = _write(tmp_path / f"d{suffix}", {"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y})
    result = fit(path, "y", val_split=0, batch_rows=7, out=tmp_path / "out", figures=False)
    reference = LinearRegression().fit(X, y)  # in memory, in one piece
    np.testing.assert_allclose(result.estimator.coef_, reference.coef_, rtol=1e-10, atol=1e-10)
    assert result.estimator.intercept_ == pytest.approx(reference.intercept_, rel=1e-10)
    assert result.solver == "cholesky" and result.streamed and result.n_train == 300
    # and the classical summary agrees with statsmodels' OLS on the same data
    import statsmodels.api as sm

    ols = sm.OLS(y, sm.add_constant(X)).fit()
    summary = result.estimator.summary()
    np.testing.assert_allclose(summary.coef, ols.params, rtol=1e-9)
    np.testing.assert_allclose(summary.std_err, ols.bse, rtol=1e-8)
    assert summary.r_squared == pytest.approx(ols.rsquared, rel=1e-10)


def test_exact_fit_with_validation_split_metrics_match_sklearn(reg_csv, tmp_path):
    path, X, y = reg_csv
    result = fit(path, "price", val_split=0.3, seed=4, batch_rows=64, out=tmp_path, figures=False)
    held = holdout_mask(0, len(X), 0.3, seed=4)
    reference = LinearRegression().fit(X[~held], y[~held])
    np.testing.assert_allclose(result.estimator.coef_, reference.coef_, rtol=1e-9)
    assert (result.n_train, result.n_val) == (int((~held).sum()), int(held.sum()))
    for rows, split in ((~held, "train"), (held, "validation")):
        pred = reference.predict(X[rows])
        metrics = result.metrics[split]
        assert metrics["n"] == rows.sum()
        assert metrics["r2"] == pytest.approx(r2_score(y[rows], pred), rel=1e-9)
        assert metrics["mse"] == pytest.approx(mean_squared_error(y[rows], pred), rel=1e-9)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["validation"]["r2"] == pytest.approx(result.metrics["validation"]["r2"])
    assert written["data"]["train_rows"] == result.n_train


def test_an_open_tabular_source_is_fitted_like_its_path(reg_csv, tmp_path):
    from torchlinear.data.tabular import TabularSource

    path, X, y = reg_csv
    source = TabularSource(path, target="price", features=["dist", "area"], batch_rows=9)
    result = fit(source, val_split=0, out=tmp_path, figures=False)
    reference = LinearRegression().fit(X[:, [2, 0]], y)
    np.testing.assert_allclose(result.estimator.coef_, reference.coef_, rtol=1e-10)
    assert result.estimator.feature_names_in_.tolist() == ["dist", "area"]
    with pytest.raises(ValueError, match="differs from the source's target"):
        fit(source, "area", out=tmp_path)


def test_ill_conditioned_design_takes_the_qr_pass(tmp_path):
    rng = np.random.default_rng(5)
    t = rng.normal(size=200)
    X = np.c_[t, t + 1e-7 * rng.normal(size=200), rng.normal(size=200)]
    y = X @ [1.0, 1.0, -2.0] + 0.01 * rng.normal(size=200)
    path = _write(tmp_path / "c.csv", {"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y})
    result = fit(path, "y", val_split=0, batch_rows=50, out=tmp_path / "out", figures=False)
    assert result.solver == "qr"
    # a small problem: the file's rows are refined in extended precision, exactly as the
    # estimator refines arrays, so no digits are lost and both give the same answer
    assert not any("ill-conditioned" in w for w in result.warnings)
    A = np.c_[np.ones(200), X]
    beta = np.linalg.lstsq(A, y, rcond=None)[0]
    np.testing.assert_allclose(result.estimator.coef_, beta[1:], rtol=1e-6)
    api = LinearRegression().fit(X, y)
    np.testing.assert_allclose(result.estimator.coef_, api.coef_, rtol=1e-12)


def test_a_pass_the_probe_stops_early_leaves_the_counts_and_metrics_to_the_next(tmp_path):
    # a file sorted by a dummy: its first chunk has a constant column, so the probe stops
    # the first pass there and the QR pass reads the file again; the row counts, the
    # validation metrics and the figures must still cover every row
    rng = np.random.default_rng(2)
    a = np.r_[np.ones(300), np.zeros(300)]
    y = 3 - a + 0.1 * rng.normal(size=600)
    path = _write(tmp_path / "sorted.csv", {"a": a, "y": y})
    early = fit(
        path, "y", val_split=0.3, batch_rows=50, out=tmp_path / "small_chunks", figures=False
    )
    whole = fit(
        path, "y", val_split=0.3, batch_rows=10_000, out=tmp_path / "one_chunk", figures=False
    )
    assert early.solver == "qr" and whole.solver == "cholesky"
    assert (early.n_train, early.n_val) == (whole.n_train, whole.n_val)
    assert early.n_train + early.n_val == 600
    for part in ("train", "validation"):
        for key, value in whole.metrics[part].items():
            assert early.metrics[part][key] == pytest.approx(value, rel=1e-9), (part, key)


# ------------------------------------------------------------------- gradient training


def test_robust_fit_uses_exactly_the_estimators_settings(reg_csv, tmp_path):
    path, X, y = reg_csv
    result = fit(path, "price", loss="huber", solver="adam", epochs=4, lr=0.05, out=tmp_path)
    held = holdout_mask(0, len(X), 0.2, seed=0)
    reference = LinearRegression(
        loss="huber", solver="adam", max_iter=4, lr=0.05, random_state=0
    ).fit(X[~held], y[~held])
    np.testing.assert_allclose(result.estimator.coef_, reference.coef_, rtol=1e-12)
    assert result.estimator.intercept_ == pytest.approx(reference.intercept_, rel=1e-12)
    h = result.history
    assert len(h) == 4 and len(h.val_loss) == 4 and "val_mae" in h.metrics
    pred = reference.predict(X[held])
    assert result.metrics["validation"]["mae"] == pytest.approx(
        mean_absolute_error(y[held], pred), rel=1e-9
    )


def test_lasso_gives_exact_zeros_and_the_report_says_so(tmp_path):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 6))
    y = X[:, 0] * 3.0 - X[:, 1] * 2.0 + 0.1 * rng.normal(size=300)
    path = _write(tmp_path / "l.csv", {f"x{j}": X[:, j] for j in range(6)} | {"y": y})
    result = fit(
        path, "y", alpha=0.1, l1_ratio=1.0, solver="adam", epochs=50, lr=0.05, batch_size=32,
        val_split=0, out=tmp_path / "o",
    )  # fmt: skip
    coef = result.estimator.coef_
    assert (coef[2:] == 0).all() and (coef[:2] != 0).all()
    # the command line's alpha is scikit-learn's Lasso's (on the mean loss over two)
    from sklearn.linear_model import Lasso

    reference = Lasso(alpha=0.1).fit(X, y)
    np.testing.assert_allclose(coef, reference.coef_, atol=0.01)
    report = (tmp_path / "o" / "report.md").read_text()
    assert "4 coefficient(s) are exactly zero" in report


def test_softmax_lbfgs_fit_equals_softmax_regression(cls_parquet, tmp_path):
    path, X, y = cls_parquet
    result = fit(path, "species", out=tmp_path)
    assert result.task == "classification" and result.solver == "lbfgs"
    held = holdout_mask(0, len(X), 0.2, seed=0)
    reference = SoftmaxRegression(device="cpu").fit(X[~held], y[~held])
    np.testing.assert_allclose(result.estimator.coef_, reference.coef_, rtol=1e-9, atol=1e-12)
    proba = reference.predict_proba(X[held])
    metrics = result.metrics["validation"]
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y[held], reference.predict(X[held])))
    assert metrics["log_loss"] == pytest.approx(
        log_loss(y[held], proba, labels=reference.classes_), rel=1e-9
    )
    assert (
        metrics["confusion_matrix"]
        == confusion_matrix(y[held], reference.predict(X[held]), labels=reference.classes_).tolist()
    )
    assert {p.name for p in result.files} >= {"confusion_matrix.png", "loss_curves.png"}


def test_minibatch_softmax_and_streamed_training(cls_parquet, tmp_path):
    path, X, y = cls_parquet
    result = fit(path, "species", solver="adam", epochs=3, lr=0.05, out=tmp_path / "a")
    held = holdout_mask(0, len(X), 0.2, seed=0)
    reference = SoftmaxRegression(
        solver="adam", max_iter=3, lr=0.05, random_state=0, device="cpu"
    ).fit(X[~held], y[~held])
    np.testing.assert_allclose(result.estimator.coef_, reference.coef_, rtol=1e-10, atol=1e-12)
    streamed = fit(path, "species", stream=True, epochs=5, lr=0.05, out=tmp_path / "b")
    assert streamed.streamed and streamed.solver == "adam" and len(streamed.history) == 5
    assert streamed.history.val_loss and streamed.metrics["validation"]["accuracy"] > 0.6
    assert streamed.estimator.classes_.tolist() == ["setosa", "versicolor", "virginica"]


def test_mlp_fit_equals_the_mlp_estimator(reg_csv, tmp_path):
    path, X, y = reg_csv
    result = fit(path, "price", model="mlp", hidden=8, epochs=3, out=tmp_path)
    held = holdout_mask(0, len(X), 0.2, seed=0)
    reference = MLPRegressor(hidden=8, max_iter=3, random_state=0, device="cpu").fit(
        X[~held], y[~held]
    )
    np.testing.assert_allclose(
        result.estimator.predict(X[held]), reference.predict(X[held]), rtol=1e-10
    )
    assert result.estimator.feature_names_in_.tolist() == ["area", "age", "dist"]
    assert "## Network" in (tmp_path / "report.md").read_text()


def test_streamed_gradient_fit_of_a_file(reg_csv, tmp_path):
    path, X, y = reg_csv
    result = fit(
        path, "price", loss="l1", stream=True, epochs=20, lr=0.1, batch_rows=100, out=tmp_path
    )
    assert result.streamed and result.solver == "adam"
    h = result.history
    assert h.train_loss[-1] < h.train_loss[0] and len(h.val_loss) == 20
    held = holdout_mask(0, len(X), 0.2, seed=0)
    pred = result.estimator.predict(X[held])
    assert result.metrics["validation"]["mae"] == pytest.approx(
        mean_absolute_error(y[held], pred), rel=1e-9
    )


def test_builtin_dataset_uses_its_test_split(tmp_path):
    result = fit("digits", model="mlp", hidden=16, epochs=2, out=tmp_path)
    assert (result.n_train, result.n_val) == (1347, 450)
    assert result.estimator.classes_.tolist() == [str(d) for d in range(10)]
    scores = evaluate(tmp_path, "digits")
    assert scores["n"] == 450 and scores["accuracy"] == pytest.approx(
        result.metrics["validation"]["accuracy"]
    )


# ------------------------------------------------------------------- resume and crashes


class _CtrlC(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, epoch, history):
        if epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_then_resume_equals_an_uninterrupted_run(reg_csv, tmp_path):
    path, _, _ = reg_csv
    kwargs = {"model": "mlp", "hidden": 8, "epochs": 4, "out": tmp_path / "a"}
    whole = fit(path, "price", **kwargs)
    kwargs["out"] = tmp_path / "b"
    with pytest.raises(TrainingInterrupted, match="--resume to continue"):
        fit(path, "price", callbacks=[_CtrlC(1)], **kwargs)
    assert not (tmp_path / "b").exists()  # the checkpoint stays with the unfinished run
    staged = tmp_path / ".b.partial"
    assert sorted(p.name for p in staged.iterdir()) == ["checkpoint"]
    resumed = fit(path, "price", resume=True, **kwargs)
    for name, value in whole.estimator.module_.state_dict().items():
        torch.testing.assert_close(resumed.estimator.module_.state_dict()[name], value)
    assert resumed.history.epoch == [1, 2, 3, 4]


def test_resume_without_a_checkpoint_or_for_an_exact_fit_is_refused(reg_csv, tmp_path):
    path, _, _ = reg_csv
    with pytest.raises(ValueError, match="no checkpoint"):
        fit(path, "price", model="mlp", resume=True, out=tmp_path / "x")
    with pytest.raises(ValueError, match="exact least squares"):
        fit(path, "price", resume=True, out=tmp_path / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_divergence_is_one_line_with_advice_and_leaves_nothing(reg_csv, tmp_path):
    path, _, _ = reg_csv
    out = tmp_path / "div"
    with pytest.raises(DivergenceError, match=r"lr=1 \(one tenth of 10\)"):
        fit(path, "price", solver="sgd", lr=10.0, epochs=3, out=out)
    assert not out.exists()


def test_a_crash_while_writing_keeps_the_previous_model(reg_csv, tmp_path, monkeypatch):
    path, X, _ = reg_csv
    first = fit(path, "price", out=tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("torchlinear.io.save_model", crash)
    with pytest.raises(OSError, match="disk full"):
        fit(path, "price", alpha=5.0, out=tmp_path, overwrite=True)
    monkeypatch.undo()
    model = load_estimator(tmp_path)
    np.testing.assert_array_equal(model.predict(X), first.estimator.predict(X))
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after["model.json"] == before["model.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_bad_data_writes_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,y\n1,2,3\n4,,6\n7,8,9\n")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"1 row\(s\) have missing"):
        fit(bad, "y", out=out)
    with pytest.raises(ValueError, match="no column 'z' for the target"):
        fit(bad, "z", out=out)
    assert not out.exists()
    with pytest.warns(UserWarning, match="not unique"):  # 2 rows, 3 parameters
        result = fit(bad, "y", drop_na=True, val_split=0, out=out)
    assert result.n_dropped == 1 and result.n_train == 2


# ------------------------------------------------------------------- model files


def _fitted_estimators():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(80, 3))
    y = X @ [1.0, 2.0, -1.0] + 0.1 * rng.normal(size=80)
    labels = np.where(X[:, 0] > 0, 1, 7)
    return X, [
        LinearRegression().fit(X, y),
        LinearRegression(alpha=0.5).fit(X, y),
        LinearRegression(loss="huber", solver="lbfgs", max_iter=3).fit(X, y),
        SoftmaxRegression(device="cpu").fit(X, labels),
        SoftmaxRegression(device="cpu").fit(X, np.where(labels > 1, "big", "small")),
        MLPRegressor(hidden=4, max_iter=2, random_state=0).fit(X, y),
        MLPClassifier(hidden=4, max_iter=2, random_state=0).fit(X, labels > 1),
    ]


def test_every_estimator_round_trips_through_its_model_files(tmp_path):
    X, estimators = _fitted_estimators()
    for i, est in enumerate(estimators):
        folder = tmp_path / str(i)
        save_estimator(est, folder, metadata={"note": "test"})
        loaded, meta = load_estimator(folder, with_metadata=True)
        assert type(loaded) is type(est) and meta["note"] == "test"
        np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
        if hasattr(est, "classes_"):
            assert loaded.classes_.tolist() == est.classes_.tolist()
            assert loaded.classes_.dtype == est.classes_.dtype
            np.testing.assert_allclose(loaded.predict_proba(X), est.predict_proba(X))
        assert loaded.get_params() == {
            k: (str(v) if k == "device" and v is not None else v)
            for k, v in est.get_params().items()
        }
    exact = load_estimator(tmp_path / "0")
    assert str(exact.summary()) == str(estimators[0].summary())
    assert "pickle" not in (tmp_path / "0" / "model.json").read_text()


def test_damaged_model_files_are_refused_in_one_line(tmp_path):
    X, estimators = _fitted_estimators()
    folder = tmp_path / "m"
    save_estimator(estimators[0], folder)
    sidecar = folder / "model.json"
    document = json.loads(sidecar.read_text())
    weights = folder / document["weights"]["file"]

    def refused(match):
        with pytest.raises(ValueError, match=match) as info:
            load_estimator(folder)
        assert "\n" not in str(info.value)

    blob = weights.read_bytes()
    weights.write_bytes(blob[: len(blob) // 2])
    refused("does not match the SHA-256")
    weights.write_bytes(blob)
    sidecar.write_text(sidecar.read_text()[:200])
    refused("not valid JSON")
    sidecar.write_text(json.dumps({**document, "format_version": FORMAT_VERSION + 1}))
    refused("newer than this torchlinear")
    sidecar.write_text(json.dumps({**document, "feature_names": ["only", "two"]}))
    refused("inconsistent")
    broken = json.loads(json.dumps(document))
    del broken["estimator"]["attributes"]
    sidecar.write_text(json.dumps(broken))
    refused("inconsistent")


def test_predict_and_evaluate_with_a_saved_model(reg_csv, tmp_path):
    path, X, y = reg_csv
    fit(path, "price", val_split=0, out=tmp_path / "m")
    reference = LinearRegression().fit(X, y)
    # a file without the target, columns in another order
    new = _write(tmp_path / "new.parquet", {"dist": X[:, 2], "area": X[:, 0], "age": X[:, 1]})
    result = predict(tmp_path / "m", new, tmp_path / "p.csv")
    written = pacsv.read_csv(tmp_path / "p.csv")
    assert written.column_names == ["prediction"] and result.n_rows == len(X)
    np.testing.assert_allclose(written["prediction"].to_numpy(), reference.predict(X), rtol=1e-9)
    scores = evaluate(tmp_path / "m", path)
    pred = reference.predict(X)
    assert scores["r2"] == pytest.approx(r2_score(y, pred), rel=1e-9)
    assert scores["mae"] == pytest.approx(mean_absolute_error(y, pred), rel=1e-9)
    missing = _write(tmp_path / "x.csv", {"dist": X[:, 2], "area": X[:, 0]})
    with pytest.raises(ValueError, match=r"missing column\(s\) 'age'"):
        predict(tmp_path / "m", missing, tmp_path / "q.csv")
    assert not (tmp_path / "q.csv").exists()
    extra = _write(
        tmp_path / "z.csv", {"dist": X[:, 2], "area": X[:, 0], "age": X[:, 1], "zip": X[:, 1]}
    )
    predict(tmp_path / "m", extra, tmp_path / "q.csv")  # a column the model does not use
    ignored = pacsv.read_csv(tmp_path / "q.csv")["prediction"].to_numpy()
    np.testing.assert_allclose(ignored, written["prediction"].to_numpy(), rtol=0)
    with pytest.raises(ValueError, match="evaluate needs the true values"):
        evaluate(tmp_path / "m", new)


def test_predict_classifier_probabilities(cls_parquet, tmp_path):
    path, X, y = cls_parquet
    fit(path, "species", val_split=0, out=tmp_path / "m")
    reference = SoftmaxRegression(device="cpu").fit(X, y)
    predict(tmp_path / "m", path, tmp_path / "p.parquet", proba=True)
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.column_names == [
        "prediction", "proba_setosa", "proba_versicolor", "proba_virginica"
    ]  # fmt: skip
    assert table["prediction"].to_pylist() == reference.predict(X).tolist()
    P = np.c_[[table[c].to_numpy() for c in table.column_names[1:]]].T
    np.testing.assert_allclose(P, reference.predict_proba(X), rtol=1e-8, atol=1e-12)
    regression = tmp_path / "reg"
    save_estimator(LinearRegression().fit(X, X[:, 0]), regression)
    with pytest.raises(ValueError, match="proba: class probabilities need a classification"):
        predict(regression, path, tmp_path / "r.csv", proba=True)


def test_model_summary_text(reg_csv, tmp_path):
    path, X, y = reg_csv
    fit(path, "price", val_split=0, out=tmp_path / "exact")
    text = model_summary(tmp_path / "exact")
    assert text.splitlines()[0] == (
        "LinearRegression (regression, least squares) of 'price' on 3 features"
    )
    assert "Least-squares regression" in text and "P>|t|" in text
    fit(path, "price", loss="huber", epochs=2, out=tmp_path / "huber")
    text = model_summary(tmp_path / "huber")
    assert "(intercept)" in text and "area" in text and "Least-squares" not in text


def test_checkpoint_folder_is_not_a_model(reg_csv, tmp_path):
    path, _, _ = reg_csv
    fit(path, "price", model="mlp", hidden=4, epochs=1, out=tmp_path)
    with pytest.raises(ValueError, match="training checkpoint, not a model"):
        load_estimator(tmp_path / "checkpoint")
    assert workflow.MODEL_KIND == json.loads((tmp_path / "model.json").read_text())["kind"]


def test_a_target_of_whole_numbers_is_a_regression_target(tmp_path):
    # integer labels of a classification are read as text ("01" stays "01"), but a
    # numeric column of whole numbers is still a regression target
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = np.round(1000 + 100 * X[:, 0] - 50 * X[:, 1]).astype(int)
    path = tmp_path / "counts.csv"
    path.write_text(
        "a,b,y\n" + "".join(f"{a:.17g},{b:.17g},{t}\n" for (a, b), t in zip(X, y, strict=True))
    )
    result = fit(path, "y", out=tmp_path / "run")
    assert result.task == "regression"
    ref = np.linalg.lstsq(np.c_[np.ones(40), X], y, rcond=None)[0]
    np.testing.assert_allclose(result.estimator.coef_, ref[1:], rtol=1e-10)
