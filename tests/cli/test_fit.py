"""`torchlinear fit`: what it fits, what it prints, and how it refuses bad input."""

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
from sklearn.linear_model import LinearRegression as SkLinearRegression
from sklearn.metrics import accuracy_score, log_loss, mean_absolute_error, r2_score

from torchlinear import SoftmaxRegression, cli
from torchlinear.workflow import holdout_mask

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.filterwarnings("ignore:X does not have valid feature names"),
]


def test_fit_predict_evaluate_round_trip_on_csv(houses_csv, tmp_path, run_cli, numbers):
    path, X, y = houses_csv
    out = tmp_path / "run"
    argv = ["fit", str(path), "--target", "price", "--val-split", "0.2", "--out", str(out)]
    code, stdout, err = run_cli(argv)  # an exact fit holds rows out only when asked
    assert code == 0, err
    assert "Fitted LinearRegression (regression, exact least squares, cholesky)" in stdout
    held = holdout_mask(0, len(X), 0.2, seed=0)
    reference = SkLinearRegression().fit(X[~held], y[~held])
    val_r2 = r2_score(y[held], reference.predict(X[held]))
    validation = next(line for line in stdout.splitlines() if "validation:" in line)
    assert numbers(validation)[0] == pytest.approx(val_r2, rel=1e-5)  # "R² 0.97..."
    files = {p.name for p in out.iterdir()}
    assert {"model.json", "metrics.json", "report.md", "residuals.png"} <= files
    assert any(name.endswith(".safetensors") for name in files)
    assert "progress" not in err  # the exact fit shows no epoch bars

    # predict on the file without its target column, as new data comes
    new = tmp_path / "new.csv"
    pacsv.write_csv(pa.table({"rooms": X[:, 1], "area": X[:, 0], "noise": X[:, 2]}), new)
    preds = tmp_path / "preds.csv"
    code, stdout, err = run_cli(["predict", str(out), str(new), "-o", str(preds)])
    assert code == 0, err
    assert f"Wrote {len(X)} prediction(s) to {preds}" in stdout
    written = pacsv.read_csv(preds)["prediction"].to_numpy()
    np.testing.assert_allclose(written, reference.predict(X), rtol=1e-9)

    code, stdout, err = run_cli(["evaluate", str(out / "model.json"), str(path), "--json"])
    assert code == 0, err
    scores = json.loads(stdout)
    pred = reference.predict(X)
    assert scores["r2"] == pytest.approx(r2_score(y, pred), rel=1e-9)
    assert scores["mae"] == pytest.approx(mean_absolute_error(y, pred), rel=1e-9)
    assert scores["n"] == len(X)


def test_round_trip_on_parquet_classification(tmp_path, run_cli, numbers):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    y = np.where(X @ [1.0, -1.0, 0.5] + 0.3 * rng.normal(size=200) > 0, "buy", "sell")
    data = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"f1": X[:, 0], "f2": X[:, 1], "f3": X[:, 2], "action": y}), data)
    out = tmp_path / "run"
    code, stdout, err = run_cli(
        ["fit", str(data), "--target", "action", "--out", str(out), "--val-split", "0.25"]
    )
    assert code == 0, err
    assert "SoftmaxRegression (classification" in stdout
    held = holdout_mask(0, len(X), 0.25, seed=0)
    reference = SoftmaxRegression(device="cpu").fit(X[~held], y[~held])
    code, stdout, err = run_cli(
        ["predict", str(out), str(data), "-o", str(tmp_path / "p.csv"), "--proba"]
    )
    assert code == 0, err
    table = pacsv.read_csv(tmp_path / "p.csv")
    assert table.column_names == ["prediction", "proba_buy", "proba_sell"]
    assert table["prediction"].to_pylist() == reference.predict(X).tolist()
    code, stdout, err = run_cli(["evaluate", str(out), str(data)])
    assert code == 0, err
    lines = stdout.splitlines()
    accuracy = next(line for line in lines if line.strip().startswith("accuracy"))
    assert numbers(accuracy)[0] == pytest.approx(accuracy_score(y, reference.predict(X)))
    loss = next(line for line in lines if "log-loss" in line)
    assert numbers(loss)[0] == pytest.approx(
        log_loss(y, reference.predict_proba(X), labels=reference.classes_), rel=1e-5
    )
    assert "Confusion matrix" in stdout and "buy" in stdout


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
        ("text.csv", ["--formula", "y ~ a + C(town)"], r"--formula 'y ~ a \+ C\(town\)' reads "
         r"the column\(s\) 'town', which .*text\.csv does not have"),
        ("gaps.csv", [], r"2 row\(s\) have missing or non-finite values.*column 'b' 1.*"
         r"column 'y' 1.*pass --drop-na"),
        ("good.csv", ["--solver", "sgd", "--lr", "10", "--epochs", "5"],
         r"training diverged .* e\.g\. --lr 1 \(one tenth of 10\)"),
        ("good.csv", ["--val-split", "1.5"], r"--val-split must lie in \[0, 1\)"),
        ("good.csv", ["--loss", "huber", "--solver", "exact"], r"--solver 'exact' solves least"),
        ("text.csv", ["--target", "city", "--loss", "squared"], r"the target column 'city' is "
         r"not numeric \('Paris' in data row 1\); for class labels use --task classification$"),
        ("good.csv", ["--features", "a,y"], r"the target 'y' is also listed in --features; "
         r"leave it out$"),
        ("good.csv", ["--features", "a,zz"], r"no column\(s\) 'zz' \(asked for in --features\)"),
        ("good.csv", ["--features", "a,a"], r"--features lists 'a' more than once$"),
        ("good.csv", ["--alpha", "cv", "--l1-ratio", "1", "--cv", "9"], r"--cv 9 folds need at "
         r"least 9 rows, but .*good\.csv has 5: lower --cv$"),
        ("good.csv", ["--alpha", "cv", "--l1-ratio", "1", "--n-alphas", "1000000000"],
         r"1,000,000,000 alphas need [\d.]+ GB for the cross-validated paths, above the memory "
         r"budget of .*; use fewer alphas \(--n-alphas\)$"),
        ("stray.csv", [], r"column 'a' holds numbers, but also the text '\?' in data row 3; "
         r"fix that cell \(or leave it empty and pass --drop-na\), or if the column is "
         r"categorical, write it as C\(a\) in --formula$"),
        ("target_typo.csv", [], r"the target 'y' holds numbers, but also the text '17\.5x' in "
         r"data row 3; fix that cell \(or leave it empty and pass --drop-na\), or if its values "
         r"are class labels, pass --task classification$"),
        # a setting the fit would ignore is refused, never dropped silently
        ("good.csv", ["--epochs", "5"], r"--epochs counts the passes of gradient training; this "
         r"fit \(exact least squares\) is solved without them: leave out --epochs, or train by "
         r"gradient with --solver adam$"),
        ("good.csv", ["--lr", "0.1"], r"--lr is the step size .* \(exact least squares\)"),
        ("good.csv", ["--solver", "adam", "--val-split", "0", "--patience", "3"], r"--patience "
         r"\(early stopping\) watches the validation loss, but --val-split is 0: hold out rows "
         r"with --val-split > 0, or leave out --patience$"),
        ("good.csv", ["--loss", "l1", "--epochs", "9"], r"this fit \(least absolute deviations, "
         r"solved exactly as a linear program\)"),
        ("good.csv", ["--alpha", "0.1", "--l1-ratio", "1", "--lr", "0.1"],
         r"--lr .* \(exact coordinate descent\) takes no steps"),
        ("good.csv", ["--loss", "huber", "--batch-size", "64"], r"--batch-size sizes the "
         r"minibatches of gradient training; this fit \(full-batch L-BFGS\)"),
        ("good.csv", ["--hidden", "8"], r"--hidden is the width of the MLP's hidden layer; this "
         r"fit is a linear model: add --model mlp, or leave out --hidden$"),
        ("good.csv", ["--delta", "2"], r"--delta is the threshold of the Huber loss; this fit's "
         r"loss is 'squared': add --loss huber, or leave out --delta$"),
        ("good.csv", ["--l1-ratio", "0.5"], r"--l1-ratio 0.5 is the L1 share of the penalty "
         r"--alpha, which is 0: give --alpha > 0, or leave out --l1-ratio$"),
        ("late_text.csv", [], r"column 'y' has the non-numeric value 'high' in data row 60001, "
         r"but .* for class labels use --task classification$"),
        ("good.csv", ["--alpha", "cv", "--l1-ratio", "0,0.5"], r"error: --l1-ratio 0 \(ridge\) "
         r"has no automatic alpha grid \(its largest useful alpha is infinite\): give --l1-ratio "
         r"> 0, or the alphas to try, e\.g\. --alphas 0\.1,1,10$"),
        ("latin1.csv", [], r"latin1\.csv: column 'y' is not valid UTF-8 text \(byte 0xe9 in "
         r"data row 3\); re-encode the file as UTF-8 \(from Latin-1 or Windows-1252, most "
         r"often\)$"),
        ("latin1.csv", ["--task", "classification"], r"column 'y' is not valid UTF-8 text"),
        ("huge.csv", ["--loss", "l1"], r"error: the sums of squares overflow float64 \(values "
         r"of X or y near 1e154 or beyond\); rescale X and y before fitting$"),
        ("huge_y.csv", ["--solver", "adam"], r"error: the loss of the first batch is inf before "
         r"any training step: values of X or y are too large for float64"),
        *[("trailing.csv", extra, r"trailing\.csv: the unnamed column '' is empty \(no value "
           r"in any of the 3 data rows\): the header line ends with a delimiter, which makes an "
           r"unnamed column; remove the delimiter at the end of the lines, or leave it out, "
           r"e\.g\. --features a,b$") for extra in ([], ["--drop-na"])],
        ("fractions.csv", ["--task", "classification"], r"error: .*fractions\.csv: the target "
         r"column 'y' holds numbers with a fractional part \(3\.5 in data row 3\), not class "
         r"labels; classification needs whole numbers or text as labels: for a numeric target "
         r"use --task regression$"),
        ("good.csv", ["--max-classes", "5"], r"error: --max-classes caps the classes of a "
         r"classification; this fit is a regression of a numeric target: leave out "
         r"--max-classes, or add --task classification$"),
        ("good.csv", ["--download"], r"error: --download fetches the files of a built-in "
         r"image dataset; .*good\.csv is a file of your own: leave out --download$"),
        ("good.parquet", ["--delimiter", ";"], r"error: --delimiter ';' separates the fields "
         r"of CSV text; .*good\.parquet is a Parquet file, which has none: leave out "
         r"--delimiter$"),
        ("good.csv", ["--delimiter", "é"], r"error: --delimiter must be one ASCII character "
         r"other than a quote or a line break, e\.g\. --delimiter ';', --delimiter '\|' or "
         r"--delimiter '\\t' for a tab; got 'é'$"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path, run_cli, bad_files, file, extra, message
):
    out = tmp_path / "out"
    argv = ["fit", str(bad_files / file), "--out", str(out), "--no-progress"]
    argv += extra if "--target" in extra else ["--target", "y", *extra]
    code, stdout, err = run_cli(argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("torchlinear: error: ")
    assert re.search(message, err.strip()), err
    assert "Traceback" not in err and stdout == ""
    assert not out.exists()


def test_a_delimiter_typed_as_backslash_t_is_a_tab(tmp_path, run_cli):
    data = tmp_path / "tabs.csv"  # a .csv name: tab is not the default
    data.write_text("a\tb\ty\n" + "".join(f"{i}\t{i % 3}\t{2 * i + 1}\n" for i in range(8)))
    out = tmp_path / "run"
    code, _, err = run_cli(["fit", str(data), "--target", "y", "--delimiter", "\\t",
                            "--out", str(out), "--no-progress", "--val-split", "0"])  # fmt: skip
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["train"]["r2"] == pytest.approx(1.0)


def test_drop_na_skips_and_counts(tmp_path, run_cli, bad_files):
    argv = ["fit", str(bad_files / "gaps.csv"), "--target", "y", "--drop-na", "--val-split", "0"]
    code, stdout, err = run_cli([*argv, "--out", str(tmp_path / "o")])
    assert code == 0, err
    assert "skipped 2 row(s) with missing values" in stdout
    assert "4 training and 0 validation rows" in stdout


def test_output_folder_that_cannot_be_written(tmp_path, capsys, run_cli, bad_files):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    argv = ["fit", str(bad_files / "good.csv"), "--target", "y", "--out", str(blocker / "run")]
    code, _, err = run_cli(argv)
    assert code == 2 and "--out" in err and "is a file, not a folder" in err
    assert err.count("\n") == 1
    if Path("/proc/self").is_dir():  # a folder nobody may create files in, not even root
        argv[-1] = "/proc/torchlinear-run"
        code, _, err = run_cli(argv)
        assert code == 2 and "--out '/proc/torchlinear-run' is not writable" in err
    model = tmp_path / "m"
    assert cli.main(["fit", str(bad_files / "good.csv"), "--target", "y", "--out", str(model)]) == 0
    capsys.readouterr()
    argv = ["predict", str(model), str(bad_files / "good.csv"), "-o", str(blocker / "p.csv")]
    code, _, err = run_cli(argv)
    assert code == 2 and "output folder" in err and "is a file, not a folder" in err
    assert err.count("\n") == 1


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


@pytest.mark.parametrize(
    "extra",
    [
        ["--alpha", "0.1", "--l1-ratio", "1", "--epochs", "50"],  # sweeps of coordinate descent
        ["--loss", "huber", "--lr", "0.5", "--delta", "2"],  # torch's L-BFGS takes a step size
        ["--solver", "adam", "--lr", "0.01", "--epochs", "3", "--batch-size", "2"],
        ["--model", "mlp", "--hidden", "3", "--epochs", "2", "--loss", "huber", "--delta", "2"],
        ["--delta", "1", "--hidden", "64", "--batch-size", "256"],  # the defaults, written out
    ],
)
def test_settings_the_fit_uses_are_accepted(tmp_path, run_cli, bad_files, extra):
    argv = ["fit", str(bad_files / "good.csv"), "--target", "y", "--no-progress"]
    code, _, err = run_cli([*argv, "--out", str(tmp_path / "out"), "--val-split", "0", *extra])
    assert code == 0, err


def test_solver_warnings_name_the_flags(tmp_path, run_cli):
    data = tmp_path / "constant.csv"
    data.write_text("a,b,y\n1,7,3\n2,7,4\n3,7,9\n4,7,9\n5,7,11\n")
    argv = ["fit", str(data), "--target", "y", "--out", str(tmp_path / "out"), "--no-progress"]
    code, _, err = run_cli(argv)
    assert code == 0
    assert "constant (collinear with the intercept): 'b'" in err
    assert err.rstrip().endswith("drop or combine the redundant columns, or use --alpha > 0.")
    report = (tmp_path / "out" / "report.md").read_text()  # fit()'s own words: alpha
    assert "drop or combine the redundant columns, or use alpha > 0." in report


def test_too_few_epochs_to_judge_convergence_is_reported_as_such(tmp_path, run_cli):
    data = tmp_path / "exact.csv"
    data.write_text("a,y\n" + "".join(f"{i},5\n" for i in range(20)))  # a perfect fit: loss 0
    argv = ["fit", str(data), "--target", "y", "--out", str(tmp_path / "out"), "--no-progress"]
    code, stdout, _ = run_cli([*argv, "--solver", "adam", "--epochs", "3"])
    assert code == 0
    line = next(line for line in stdout.splitlines() if "solver:" in line)
    assert "<= tol" in line and "but convergence takes" in line and "> tol" not in line, line


def _full_disk(fd):
    raise OSError(28, "No space left on device")  # as fsync reports it: no file name


@pytest.mark.parametrize("cause", ["too large", "disk full"])
def test_a_run_that_cannot_be_written_names_the_file_and_leaves_nothing(
    tmp_path, run_cli, bad_files, monkeypatch, cause
):
    runs = tmp_path / "runs"
    runs.mkdir()
    argv = ["fit", str(bad_files / "good.csv"), "--target", "y", "--out", str(runs / "r")]
    if cause == "disk full":
        monkeypatch.setattr("os.fsync", _full_disk)
        code, _, err = run_cli(argv)
        advice = "no space left on device; free some space, or choose a place on another disk"
    else:
        resource = pytest.importorskip("resource")
        previous = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, previous[1]))  # a figure is larger
        try:
            code, _, err = run_cli(argv)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, previous)
        advice = "file too large; the file is larger than the file system or the file-size limit"
    assert code == 2 and err.count("\n") == 1, err
    # the file is named in the run folder, where it would have been (not in the staging one)
    assert re.match(rf"torchlinear: error: '{re.escape(str(runs))}/r/[\w.-]+': {advice}", err)
    assert list(runs.iterdir()) == []  # no run folder, staging folder or lock left behind


def test_an_unknown_feature_of_a_dataset_names_the_flag(tmp_path, run_cli):
    code, _, err = run_cli(["fit", "diabetes", "--features", "a,bmi", "--out", str(tmp_path / "r")])
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("torchlinear: error: --features: the dataset 'diabetes' has no column")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "extra", [[], ["--solver", "adam", "--epochs", "2"], ["--alpha", "cv", "--l1-ratio", "0.5"]]
)
def test_no_figures_writes_the_run_without_pictures(tmp_path, run_cli, houses_csv, extra):
    path, _, _ = houses_csv
    out = tmp_path / "run"
    argv = ["fit", str(path), "--target", "price", "--out", str(out), "--no-figures", *extra]
    code, stdout, err = run_cli([*argv, "--no-progress"])
    assert code == 0, err
    assert not list(out.glob("*.png")) and ".png" not in stdout
    assert "Not drawn: this fit was asked for no figures." in (out / "report.md").read_text()
    code, stdout, err = run_cli(["evaluate", str(out), str(path)])  # the model is whole
    assert code == 0 and "R²" in stdout, err
