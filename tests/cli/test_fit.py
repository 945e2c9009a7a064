import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import torch
from sklearn.linear_model import LinearRegression as SkLinearRegression
from sklearn.metrics import accuracy_score, log_loss, mean_absolute_error, r2_score

from torchlinear import SoftmaxRegression, cli
from torchlinear.io import FORMAT_VERSION
from torchlinear.workflow import holdout_mask

pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _houses(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = np.c_[rng.uniform(30, 200, n), rng.integers(1, 7, n), rng.normal(0, 1, n)]
    y = 1200 * X[:, 0] + 5000 * X[:, 1] - 3000 * X[:, 2] + 20000 + rng.normal(0, 8000, n)
    return X, y


def _run(argv, capsys):
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _numbers(line):
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", line)]


@pytest.fixture(scope="module")
def houses_csv(tmp_path_factory):
    X, y = _houses()
    path = tmp_path_factory.mktemp("cli") / "houses.csv"
    pacsv.write_csv(
        pa.table({"area": X[:, 0], "rooms": X[:, 1], "noise": X[:, 2], "price": y}), path
    )
    return path, X, y


def test_fit_predict_evaluate_round_trip_on_csv(houses_csv, tmp_path, capsys):
    path, X, y = houses_csv
    out = tmp_path / "run"
    code, stdout, err = _run(["fit", str(path), "--target", "price", "--out", str(out)], capsys)
    assert code == 0, err
    assert "Fitted LinearRegression (regression, exact least squares, cholesky)" in stdout
    held = holdout_mask(0, len(X), 0.2, seed=0)
    reference = SkLinearRegression().fit(X[~held], y[~held])
    val_r2 = r2_score(y[held], reference.predict(X[held]))
    validation = next(line for line in stdout.splitlines() if "validation:" in line)
    assert _numbers(validation)[0] == pytest.approx(val_r2, rel=1e-5)  # "R² 0.97..."
    files = {p.name for p in out.iterdir()}
    assert {"model.json", "metrics.json", "report.md", "residuals.png"} <= files
    assert any(name.endswith(".safetensors") for name in files)
    assert "progress" not in err  # the exact fit shows no epoch bars

    # predict on the file without its target column, as new data comes
    new = tmp_path / "new.csv"
    pacsv.write_csv(pa.table({"rooms": X[:, 1], "area": X[:, 0], "noise": X[:, 2]}), new)
    preds = tmp_path / "preds.csv"
    code, stdout, err = _run(["predict", str(out), str(new), "-o", str(preds)], capsys)
    assert code == 0, err
    assert f"Wrote {len(X)} prediction(s) to {preds}" in stdout
    written = pacsv.read_csv(preds)["prediction"].to_numpy()
    np.testing.assert_allclose(written, reference.predict(X), rtol=1e-9)

    code, stdout, err = _run(["evaluate", str(out / "model.json"), str(path), "--json"], capsys)
    assert code == 0, err
    scores = json.loads(stdout)
    pred = reference.predict(X)
    assert scores["r2"] == pytest.approx(r2_score(y, pred), rel=1e-9)
    assert scores["mae"] == pytest.approx(mean_absolute_error(y, pred), rel=1e-9)
    assert scores["n"] == len(X)


def test_round_trip_on_parquet_classification(tmp_path, capsys):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    y = np.where(X @ [1.0, -1.0, 0.5] + 0.3 * rng.normal(size=200) > 0, "buy", "sell")
    data = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"f1": X[:, 0], "f2": X[:, 1], "f3": X[:, 2], "action": y}), data)
    out = tmp_path / "run"
    code, stdout, err = _run(
        ["fit", str(data), "--target", "action", "--out", str(out), "--val-split", "0.25"], capsys
    )
    assert code == 0, err
    assert "SoftmaxRegression (classification" in stdout
    held = holdout_mask(0, len(X), 0.25, seed=0)
    reference = SoftmaxRegression(device="cpu").fit(X[~held], y[~held])
    code, stdout, err = _run(
        ["predict", str(out), str(data), "-o", str(tmp_path / "p.csv"), "--proba"], capsys
    )
    assert code == 0, err
    table = pacsv.read_csv(tmp_path / "p.csv")
    assert table.column_names == ["prediction", "proba_buy", "proba_sell"]
    assert table["prediction"].to_pylist() == reference.predict(X).tolist()
    code, stdout, err = _run(["evaluate", str(out), str(data)], capsys)
    assert code == 0, err
    lines = stdout.splitlines()
    accuracy = next(line for line in lines if line.strip().startswith("accuracy"))
    assert _numbers(accuracy)[0] == pytest.approx(accuracy_score(y, reference.predict(X)))
    loss = next(line for line in lines if "log-loss" in line)
    assert _numbers(loss)[0] == pytest.approx(
        log_loss(y, reference.predict_proba(X), labels=reference.classes_), rel=1e-5
    )
    assert "Confusion matrix" in stdout and "buy" in stdout


def test_summary_prints_the_statsmodels_table(houses_csv, tmp_path, capsys):
    import statsmodels.api as sm

    path, X, y = houses_csv
    out = tmp_path / "run"
    assert (
        cli.main(["fit", str(path), "--target", "price", "--val-split", "0", "--out", str(out)])
        == 0
    )
    capsys.readouterr()
    code, stdout, _ = _run(["summary", str(out)], capsys)
    assert code == 0
    ols = sm.OLS(y, sm.add_constant(X)).fit()
    rows = {line.split()[0]: _numbers(line) for line in stdout.splitlines() if line.split()}
    for term, coef, se, t in zip(
        ["const", "area", "rooms", "noise"], ols.params, ols.bse, ols.tvalues, strict=True
    ):
        got = rows[term]
        assert got[0] == pytest.approx(coef, rel=1e-4)
        assert got[1] == pytest.approx(se, rel=1e-3)
        assert got[2] == pytest.approx(t, rel=1e-3)
    r2_line = next(
        line for line in stdout.splitlines() if "R-squared:" in line and "Adj" not in line
    )
    assert _numbers(r2_line)[-1] == pytest.approx(ols.rsquared, abs=1e-4)


@pytest.mark.parametrize("command", ["fit", "predict", "evaluate", "summary"])
def test_help_shows_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and f"torchlinear {command} " in text


# ------------------------------------------------------------------------ bad input


def _files(tmp_path):
    good = "a,b,y\n1,2,3\n4,5,6\n7,8,10\n2,1,4\n5,5,9\n"
    files = {
        "ragged.csv": "a,b,y\n1,2,3\n4,5\n7,8,9\n",
        "semicolon.csv": "a;b;y\n1;2;3\n4;5;6\n",
        "empty.csv": "",
        "header.csv": "a,b,y\n",
        "one.csv": "a,b,y\n1,2,3\n",
        "good.csv": good,
        "text.csv": "a,city,y\n1,Paris,3\n4,Rome,6\n7,Oslo,9\n",
        "gaps.csv": "a,b,y\n1,,3\n4,5,6\n7,8,NA\n2,1,4\n5,5,9\n3,3,3\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("file", "extra", "message"),
    [
        ("missing.csv", [], r"missing\.csv: no such file"),
        ("ragged.csv", [], r"data row 2 has 2 field\(s\) but the header has 3"),
        ("semicolon.csv", [], r"semicolon-separated.*pass --delimiter ';'$"),
        ("empty.csv", [], r"the file is empty"),
        ("header.csv", [], r"a header but no data rows"),
        ("one.csv", [], r"only 1 data row\(s\) to fit; a model needs at least 2 rows"),
        ("good.csv", ["--target", "price"], r"no column 'price' for the target; the columns "
         r"are 'a', 'b', 'y'"),
        ("text.csv", [], r"non-numeric feature column\(s\) 'city' \('Paris' in data row 1\); "
         r"encode them as numbers"),
        ("gaps.csv", [], r"2 row\(s\) have missing or non-finite values.*column 'b' 1.*"
         r"column 'y' 1.*pass --drop-na"),
        ("good.csv", ["--solver", "sgd", "--lr", "10", "--epochs", "5"],
         r"training diverged .* e\.g\. --lr 1 \(one tenth of 10\)"),
        ("good.csv", ["--val-split", "1.5"], r"--val-split must lie in \[0, 1\)"),
        ("good.csv", ["--loss", "huber", "--solver", "exact"], r"--solver 'exact' solves least"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, file, extra, message):
    folder = _files(tmp_path)
    out = tmp_path / "out"
    argv = ["fit", str(folder / file), "--out", str(out), "--no-progress"]
    argv += extra if "--target" in extra else ["--target", "y", *extra]
    code, stdout, err = _run(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("torchlinear: error: ")
    assert re.search(message, err.strip()), err
    assert "Traceback" not in err and stdout == ""
    assert not out.exists()


def test_drop_na_skips_and_counts(tmp_path, capsys):
    folder = _files(tmp_path)
    argv = ["fit", str(folder / "gaps.csv"), "--target", "y", "--drop-na", "--val-split", "0"]
    code, stdout, err = _run([*argv, "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert "skipped 2 row(s) with missing values" in stdout
    assert "4 training and 0 validation rows" in stdout


def test_output_folder_that_cannot_be_written(tmp_path, capsys):
    folder = _files(tmp_path)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    argv = ["fit", str(folder / "good.csv"), "--target", "y", "--out", str(blocker / "run")]
    code, _, err = _run(argv, capsys)
    assert code == 2 and "--out" in err and "is a file, not a folder" in err
    assert err.count("\n") == 1
    if Path("/proc/self").is_dir():  # a folder nobody may create files in, not even root
        argv[-1] = "/proc/torchlinear-run"
        code, _, err = _run(argv, capsys)
        assert code == 2 and "--out '/proc/torchlinear-run' is not writable" in err
    model = tmp_path / "m"
    assert cli.main(["fit", str(folder / "good.csv"), "--target", "y", "--out", str(model)]) == 0
    capsys.readouterr()
    argv = ["predict", str(model), str(folder / "good.csv"), "-o", str(blocker / "p.csv")]
    code, _, err = _run(argv, capsys)
    assert code == 2 and "output folder" in err and "is a file, not a folder" in err
    assert err.count("\n") == 1


def test_predict_with_missing_or_extra_columns_names_them(tmp_path, capsys):
    folder = _files(tmp_path)
    model = tmp_path / "m"
    assert cli.main(["fit", str(folder / "good.csv"), "--target", "y", "--out", str(model)]) == 0
    (tmp_path / "less.csv").write_text("a\n1\n2\n")
    (tmp_path / "more.csv").write_text("a,b,c\n1,2,3\n")
    capsys.readouterr()
    code, _, err = _run(["predict", str(model), str(tmp_path / "less.csv"), "-o", "p.csv"], capsys)
    assert code == 2 and "is missing column(s) 'b' that the model was fitted on" in err
    code, _, err = _run(["predict", str(model), str(tmp_path / "more.csv"), "-o", "p.csv"], capsys)
    assert code == 2 and "has extra column(s) 'c' that the model was not fitted on" in err
    assert err.count("\n") == 1


def test_damaged_model_files(tmp_path, capsys):
    folder = _files(tmp_path)
    model = tmp_path / "m"
    assert cli.main(["fit", str(folder / "good.csv"), "--target", "y", "--out", str(model)]) == 0
    capsys.readouterr()
    sidecar = model / "model.json"
    document = json.loads(sidecar.read_text())
    weights = model / document["weights"]["file"]
    argv = ["predict", str(model), str(folder / "good.csv"), "-o", str(tmp_path / "p.csv")]

    def fails(pattern):
        code, _, err = _run(argv, capsys)
        assert code == 2 and re.search(pattern, err) and err.count("\n") == 1, err
        assert not (tmp_path / "p.csv").exists()

    blob = weights.read_bytes()
    weights.write_bytes(blob[:-10])  # truncated
    fails("does not match the SHA-256")
    weights.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))  # tampered
    fails("does not match the SHA-256")
    weights.write_bytes(blob)
    sidecar.write_text(sidecar.read_text()[:-40])  # truncated sidecar
    fails("not valid JSON")
    sidecar.write_text(json.dumps({**document, "format_version": FORMAT_VERSION + 1}))
    fails("newer than this torchlinear")
    code, _, err = _run(["summary", str(tmp_path / "nothing")], capsys)
    assert code == 2 and "does not exist" in err


def test_cli_runs_as_a_program_missing_file(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "torchlinear", "fit", str(tmp_path / "nope.csv"), "--target", "y"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr == f"torchlinear: error: {tmp_path / 'nope.csv'}: no such file\n"
    assert proc.stdout == "" and not (tmp_path / "runs").exists()


def test_cli_runs_as_a_program_newer_model_format(tmp_path, capsys):
    folder = _files(tmp_path)
    model = tmp_path / "m"
    assert cli.main(["fit", str(folder / "good.csv"), "--target", "y", "--out", str(model)]) == 0
    sidecar = model / "model.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "format_version": 99}))
    proc = subprocess.run(
        [sys.executable, "-m", "torchlinear", "evaluate", str(model), str(folder / "good.csv")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "has format version 99" in proc.stderr and "upgrade torchlinear" in proc.stderr
