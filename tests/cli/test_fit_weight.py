"""`torchlinear fit --weight COL`: sample weights from a column of the file, through every
route, checked against the estimators and scikit-learn's weighted metrics."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score

from torchlinear import LinearRegression, SoftmaxRegression, workflow
from torchlinear.data.split import holdout_mask


def fit(*args, **kwargs):
    """``workflow.fit`` without the report's figures: these tests compare numbers."""
    return workflow.fit(*args, figures=False, **kwargs)


pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

N = 300


@pytest.fixture(scope="module")
def weighted(tmp_path_factory):
    """A file whose noise shrinks with the weight, with some zero weights, and the arrays."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(N, 3))
    w = rng.uniform(0.0, 4.0, N)
    w[::17] = 0.0
    y = X @ [1.5, -2.0, 0.5] + 0.7 + rng.normal(size=N) / np.sqrt(np.maximum(w, 0.05))
    label = np.where(X[:, 0] - X[:, 1] + rng.normal(size=N) > 0, "up", "down")
    table = pa.table({"a": X[:, 0], "wt": w, "b": X[:, 1], "c": X[:, 2], "y": y, "label": label})
    folder = tmp_path_factory.mktemp("weighted")
    pacsv.write_csv(table, folder / "d.csv")
    pq.write_table(table, folder / "d.parquet", row_group_size=64)
    return folder, X, y, w, label


def _coef(result):
    est = result.estimator
    return np.r_[np.ravel(est.intercept_), np.ravel(est.coef_)]


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_exact_fit_and_metrics_are_weighted(weighted, tmp_path, ext):
    folder, X, y, w, _ = weighted
    result = fit(folder / f"d.{ext}", "y", features="a,b,c", weight="wt", val_split=0.25,
                 out=tmp_path / "run")  # fmt: skip
    held = holdout_mask(0, N, 0.25, 0)
    train, val = ~held, held
    api = LinearRegression().fit(X[train], y[train], sample_weight=w[train])
    np.testing.assert_allclose(_coef(result), np.r_[api.intercept_, api.coef_], rtol=1e-12)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["data"]["sample_weight"] == "wt"
    for split, rows in (("train", train), ("validation", val)):
        pred = api.predict(X[rows])
        assert metrics[split]["n"] == int(rows.sum())
        assert metrics[split]["r2"] == pytest.approx(
            r2_score(y[rows], pred, sample_weight=w[rows]), rel=1e-10
        )
        assert metrics[split]["mse"] == pytest.approx(
            mean_squared_error(y[rows], pred, sample_weight=w[rows]), rel=1e-10
        )


def test_streamed_and_in_memory_gradient_fits_reach_the_weighted_solution(weighted, tmp_path):
    folder, X, y, w, _ = weighted
    exact = LinearRegression().fit(X, y, sample_weight=w)
    expected = np.r_[exact.intercept_, exact.coef_]
    for stream in (False, True):
        out = tmp_path / f"s{stream}"
        result = fit(folder / "d.csv", "y", features="a,b,c", weight="wt", solver="lbfgs",
                     epochs=60, val_split=0, stream=stream, out=out)  # fmt: skip
        np.testing.assert_allclose(_coef(result), expected, rtol=1e-6, atol=1e-8)
        metrics = json.loads((out / "metrics.json").read_text())
        pred = exact.predict(X)
        assert metrics["train"]["mae"] == pytest.approx(
            np.average(np.abs(y - pred), weights=w), rel=1e-5
        )


def test_classification_weights_the_loss_and_the_accuracy(weighted, tmp_path):
    folder, X, _, w, label = weighted
    result = fit(folder / "d.csv", "label", features="a,b,c", weight="wt", val_split=0,
                 out=tmp_path / "run")  # fmt: skip
    api = SoftmaxRegression().fit(X, label, sample_weight=w)
    np.testing.assert_allclose(result.estimator.coef_, api.coef_, rtol=1e-6, atol=1e-8)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    expected = accuracy_score(label, api.predict(X), sample_weight=w)
    assert metrics["train"]["accuracy"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--weight", "nope"], "no column 'nope' for the sample weights"),
        (["--weight", "y"], "the weight column 'y' is also the target"),
        (["--weight", "wt", "--features", "a,wt"], "'wt' (--weight) is also listed in --features"),
        (["--weight", "label", "--features", "a"], "the weight column 'label' is not numeric"),
    ],
)
def test_weight_mistakes_are_one_line(weighted, tmp_path, run_cli, argv, message):
    folder = weighted[0]
    code, _, err = run_cli(["fit", str(folder / "d.csv"), "--target", "y", *argv,
                            "--out", str(tmp_path / "run")])  # fmt: skip
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()


def test_formulas_and_text_columns_take_weights(weighted, tmp_path, run_cli):
    folder, X, y, w, label = weighted
    result = fit(folder / "d.csv", formula="y ~ a + np.log(b**2 + 1) + c", weight="wt",
                 val_split=0, out=tmp_path / "f")  # fmt: skip
    design = np.c_[X[:, 0], np.log(X[:, 1] ** 2 + 1), X[:, 2]]
    api = LinearRegression().fit(design, y, sample_weight=w)
    np.testing.assert_allclose(_coef(result), np.r_[api.intercept_, api.coef_], rtol=1e-12)
    code, out, _ = run_cli(["evaluate", str(tmp_path / "f"), str(folder / "d.csv"),
                            "--weight", "wt", "--json"])  # fmt: skip
    expected = r2_score(y, api.predict(design), sample_weight=w)
    assert code == 0 and json.loads(out)["r2"] == pytest.approx(expected, rel=1e-10)
    text = fit(folder / "d.parquet", "y", features="a,b,label", weight="wt", val_split=0,
               out=tmp_path / "t")  # fmt: skip
    assert list(text.estimator.feature_names_in_) == ["a", "b", "C(label)[T.up]"]
    onehot = np.c_[X[:, :2], label == "up"]
    api = LinearRegression().fit(onehot, y, sample_weight=w)
    np.testing.assert_allclose(_coef(text), np.r_[api.intercept_, api.coef_], rtol=1e-12)


def test_weights_need_a_file_column(tmp_path, run_cli):
    code, _, err = run_cli(["fit", "diabetes", "--weight", "wt", "--out", str(tmp_path / "d")])
    assert code == 2 and "--weight 'wt'" in err and err.count("\n") == 1


def test_negative_and_missing_weights(tmp_path, run_cli):
    path = tmp_path / "bad.csv"
    path.write_text("x,w,y\n1,1,1\n2,-0.5,2\n3,,3\n4,2,5\n5,1,4\n")
    code, _, err = run_cli(["fit", str(path), "--target", "y", "--weight", "w",
                            "--out", str(tmp_path / "r")])  # fmt: skip
    assert code == 2 and "negative value(s), the first -0.5 at data row 2" in err
    path.write_text("x,w,y\n1,1,1\n2,,2\n3,1,3\n4,2,5\n5,1,4\n")
    code, _, err = run_cli(["fit", str(path), "--target", "y", "--weight", "w",
                            "--out", str(tmp_path / "r")])  # fmt: skip
    assert code == 2 and "column 'w' 1 (first in data row 2)" in err
    code, _, _ = run_cli(["fit", str(path), "--target", "y", "--weight", "w", "--drop-na",
                          "--val-split", "0", "--out", str(tmp_path / "r")])  # fmt: skip
    assert code == 0
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["data"]["rows_dropped"] == 1 and metrics["train"]["n"] == 4


def test_resume_refuses_another_weight_column(weighted, tmp_path, run_cli):
    folder = weighted[0]
    run = str(tmp_path / "run")
    base = ["fit", str(folder / "d.csv"), "--target", "y", "--features", "a,b,c",
            "--solver", "adam", "--out", run, "--no-progress"]  # fmt: skip
    assert run_cli([*base, "--weight", "wt", "--epochs", "2"])[0] == 0
    code, _, err = run_cli([*base, "--epochs", "4", "--resume"])
    assert code == 2 and "weight" in err


def test_evaluate_weights_the_metrics_and_ignores_columns_the_model_does_not_read(
    weighted, tmp_path, run_cli
):
    folder, X, y, w, _ = weighted
    run = tmp_path / "run"
    assert fit(folder / "d.parquet", "y", features="a,b,c", weight="wt", val_split=0, out=run)
    table = pq.read_table(folder / "d.parquet")  # with a text column the model never read
    pq.write_table(table.append_column("id", pa.array(np.arange(N))), tmp_path / "test.parquet")
    est = LinearRegression().fit(X, y, sample_weight=w)
    code, out, _ = run_cli(["evaluate", str(run), str(tmp_path / "test.parquet"), "--json"])
    unweighted = json.loads(out)
    assert code == 0 and unweighted["r2"] == pytest.approx(r2_score(y, est.predict(X)), rel=1e-10)
    code, out, _ = run_cli(["evaluate", str(run), str(tmp_path / "test.parquet"),
                            "--weight", "wt", "--json"])  # fmt: skip
    metrics = json.loads(out)
    assert metrics["r2"] == pytest.approx(r2_score(y, est.predict(X), sample_weight=w), rel=1e-10)
    assert metrics["sample_weight"] == "wt" and metrics["n"] == N
    code, out, _ = run_cli(["evaluate", str(run), str(tmp_path / "test.parquet"), "--weight", "wt"])
    assert code == 0 and "weighted by 'wt'" in out.splitlines()[0]
    code, _, err = run_cli(["evaluate", str(run), "diabetes", "--weight", "wt"])
    assert code == 2 and "--weight 'wt'" in err


def test_evaluate_refuses_weights_that_are_all_zero(weighted, tmp_path, run_cli):
    folder, X, y, w, _ = weighted
    run = tmp_path / "run"
    code, _, err = run_cli(["fit", str(folder / "d.csv"), "--target", "y", "--features",
                            "a,b,c", "--weight", "wt", "--out", str(run)])  # fmt: skip
    assert code == 0, err
    zero = pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y, "wt": np.zeros(len(y))})
    pacsv.write_csv(zero, tmp_path / "zero.csv")
    code, out, err = run_cli(["evaluate", str(run), str(tmp_path / "zero.csv"), "--weight", "wt"])
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "all sample weights are zero, so every weighted metric is undefined" in err


@pytest.mark.parametrize("features", ["a,b,c", "a,b,label"])  # numbers; a text column
def test_evaluate_refuses_a_feature_of_the_model_as_the_weights(
    weighted, tmp_path, run_cli, features
):
    """evaluate has no --features: the column is the model's, so it cannot be the weight."""
    folder, *_ = weighted
    run = tmp_path / "run"
    code, _, err = run_cli(["fit", str(folder / "d.csv"), "--target", "y", "--features",
                            features, "--out", str(run)])  # fmt: skip
    assert code == 0, err
    code, out, err = run_cli(["evaluate", str(run), str(folder / "d.csv"), "--weight", "b"])
    assert (code, out) == (2, "")
    assert err == (
        "torchlinear: error: the column 'b' (--weight) is one of the model's features, so it "
        "cannot hold the sample weights; name another column\n"
    )


def test_weights_whose_products_overflow_are_named_not_x_or_y(tmp_path, run_cli):
    # "values of X or y near 1e154" was the whole message: the weights were at fault
    path = tmp_path / "big_w.csv"
    path.write_text("a,b,y,w\n1,2,3,1e308\n2,5,4,1e308\n3,1,2,1e308\n4,4,5,1e308\n")
    code, _, err = run_cli(["fit", str(path), "--target", "y", "--weight", "w",
                            "--out", str(tmp_path / "run")])  # fmt: skip
    assert code == 2 and err.count("\n") == 1, err
    assert "--weight so large that weight times square passes 1e308" in err
    assert "rescale X and y, or --weight (only their ratios matter)" in err
