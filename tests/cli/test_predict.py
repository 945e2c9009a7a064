"""`torchlinear predict`: refusing data and model files that do not fit."""

import json
import re

import pytest

from torchlinear import cli
from torchlinear.io import FORMAT_VERSION

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.filterwarnings("ignore:X does not have valid feature names"),
]


def fit_good(bad_files, model):
    """Least squares of ``good.csv`` into ``model`` (no figures: these tests read the model)."""
    argv = ["fit", "--no-figures", str(bad_files / "good.csv"), "--target", "y"]
    assert cli.main([*argv, "--out", str(model)]) == 0


def test_predict_names_missing_columns_and_ignores_extra_ones(tmp_path, capsys, run_cli, bad_files):
    model = tmp_path / "m"
    fit_good(bad_files, model)
    (tmp_path / "less.csv").write_text("a\n1\n2\n")
    (tmp_path / "more.csv").write_text("c,b,a\nx,2,1\ny,5,4\n")
    (tmp_path / "same.csv").write_text("a,b\n1,2\n4,5\n")
    capsys.readouterr()
    refused = tmp_path / "p.csv"
    code, _, err = run_cli(["predict", str(model), str(tmp_path / "less.csv"), "-o", str(refused)])
    assert code == 2 and "is missing column(s) 'b' that the model was fitted on" in err
    assert err.count("\n") == 1 and not refused.exists()
    for name in ("more", "same"):
        argv = ["predict", str(model), str(tmp_path / f"{name}.csv"), "-o"]
        assert run_cli([*argv, str(tmp_path / f"{name}_p.csv")])[0] == 0
    more, same = ((tmp_path / f"{n}_p.csv").read_text() for n in ("more", "same"))
    assert more == same and more.startswith("prediction\n")


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_text_in_a_models_column_is_to_be_fixed_not_left_out(
    tmp_path, capsys, run_cli, bad_files, command
):
    """The model fixes the feature columns: the advice is to fix the value, never to leave
    the column out with --features (which predict and evaluate do not have)."""
    model = tmp_path / "m"
    fit_good(bad_files, model)
    capsys.readouterr()
    early = tmp_path / "early.csv"  # a text column, seen when the file is opened
    early.write_text("a,b,y\n1,abc,3\n2,def,4\n")
    late = tmp_path / "late.csv"  # numbers for the first megabyte, then a text value
    late.write_text("a,b,y\n" + "1.25,2.5,3.75\n" * 90_000 + "1,oops,3\n")
    expected = {
        early: r"the model's feature column\(s\) 'b' \('abc' in data row 1\) hold text, but "
        r"the model was fitted on numbers there; fix those values$",
        late: r"column 'b' has the non-numeric value 'oops' in data row 90001, but the model "
        r"was fitted on numbers there; fix that cell$",
    }
    for data, message in expected.items():
        out = tmp_path / "p.csv"
        argv = [command, str(model), str(data)] + (["-o", str(out)] if command == "predict" else [])
        code, stdout, err = run_cli(argv)
        assert code == 2 and err.count("\n") == 1, err
        assert re.search(message, err.strip()) and "--features" not in err, err
        assert not out.exists()


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_a_text_column_of_the_model_that_holds_numbers_or_the_reverse(
    tmp_path, capsys, run_cli, command
):
    """The model says which columns are text: new data with numbers in a text column (or
    text in a number column) is named, with the type the model expects and what to do."""
    train = tmp_path / "train.csv"
    rows = [f"{i % 7},{'pqr'[i % 3]},{i % 7 + (i % 3)}" for i in range(30)]
    train.write_text("a,kind,y\n" + "\n".join(rows) + "\n")
    model = tmp_path / "m"
    assert cli.main(["fit", "--no-figures", str(train), "--target", "y", "--out", str(model)]) == 0
    capsys.readouterr()
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("a,kind,y\n1,2,3\n2,3,4\n")
    text = tmp_path / "text.csv"
    text.write_text("a,kind,y\nx,p,3\n2,q,4\n")
    expected = {
        numbers: f"{numbers}: column 'kind' holds the number 2 (data row 1), but the model was "
        "fitted on it as a text column with the levels 'p', 'q', 'r'; give it those values, "
        "as in the data the model was fitted on",
        text: f"{text}: the model's feature column(s) 'a' ('x' in data row 1) hold text, but "
        "the model was fitted on numbers there; fix those values",
    }
    for data, message in expected.items():
        out = tmp_path / "p.csv"
        argv = [command, str(model), str(data)] + (["-o", str(out)] if command == "predict" else [])
        code, _, err = run_cli(argv)
        assert (code, err) == (2, f"torchlinear: error: {message}\n")
        assert not out.exists()


def test_damaged_model_files(tmp_path, capsys, run_cli, bad_files):
    model = tmp_path / "m"
    fit_good(bad_files, model)
    capsys.readouterr()
    sidecar = model / "model.json"
    document = json.loads(sidecar.read_text())
    weights = model / document["weights"]["file"]
    argv = ["predict", str(model), str(bad_files / "good.csv"), "-o", str(tmp_path / "p.csv")]

    def fails(pattern):
        code, _, err = run_cli(argv)
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
    code, _, err = run_cli(["summary", str(tmp_path / "nothing")])
    assert code == 2 and "does not exist" in err


# ------------------------------------------------ kept columns, intervals, probabilities


@pytest.fixture(scope="module")
def priced(tmp_path_factory):
    """``(folder, X, y)``: a CSV and a Parquet file of 120 sales with an ID and a date."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(5)
    n = 120
    X = np.c_[rng.uniform(30, 200, n), rng.normal(0, 1, n)]
    y = 1000 * X[:, 0] - 3000 * X[:, 1] + rng.normal(0, 5000 + 100 * X[:, 0], n)
    folder = tmp_path_factory.mktemp("priced")
    ids = [f"{i:04d}" for i in range(n)]
    dates = [f"2024-01-{1 + i % 28:02d}" for i in range(n)]
    lines = ["id,area,date,noise,price"]
    lines += [
        f"{ids[i]},{float(X[i, 0])!r},{dates[i]},{float(X[i, 1])!r},{float(y[i])!r}"
        for i in range(n)
    ]
    (folder / "sales.csv").write_text("\n".join(lines) + "\n")
    table = pa.table(
        {"id": pa.array(range(n), pa.int64()), "area": X[:, 0], "noise": X[:, 1], "price": y}
    )
    pq.write_table(table, folder / "sales.parquet", row_group_size=50)
    return folder, X, y


def _read(path):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        return pq.read_table(path)
    options = pacsv.ConvertOptions(column_types={"id": "string", "date": "string"})
    return pacsv.read_csv(path, convert_options=options)


@pytest.mark.parametrize(("cov", "interval_type"), [("nonrobust", None), ("HC3", "confidence")])
def test_predict_keeps_columns_and_adds_statsmodels_intervals(
    priced, tmp_path, run_cli, cov, interval_type
):
    import numpy as np
    import statsmodels.api as sm

    folder, X, y = priced
    run = tmp_path / "run"
    argv = ["fit", "--no-figures", str(folder / "sales.csv"), "--target", "price"]
    assert run_cli([*argv, "--features", "area,noise", "--cov", cov, "--out", str(run)])[0] == 0
    out = tmp_path / "out.csv"
    argv = ["predict", str(run), str(folder / "sales.csv"), "-o", str(out)]
    argv += ["--keep", "date,id", "--interval", "0.9"]
    if interval_type:
        argv += ["--interval-type", interval_type]
    code, stdout, _ = run_cli(argv)
    assert code == 0 and "columns: date, id, prediction, lower, upper" in stdout
    table = _read(out)
    assert table.column_names == ["date", "id", "prediction", "lower", "upper"]
    assert table.column("id").to_pylist()[:3] == ["0000", "0001", "0002"]  # text kept as is
    assert table.column("date").to_pylist()[30] == "2024-01-03"
    res = sm.OLS(y, sm.add_constant(X)).fit(cov_type=cov)  # every row: no validation split
    frame = res.get_prediction(sm.add_constant(X)).summary_frame(alpha=0.1)
    col = "mean" if interval_type == "confidence" else "obs"
    for ours, theirs in (("prediction", "mean"), ("lower", f"{col}_ci_lower"),
                         ("upper", f"{col}_ci_upper")):  # fmt: skip
        np.testing.assert_allclose(table.column(ours).to_numpy(), frame[theirs], rtol=1e-8)


def test_predict_parquet_keeps_types_and_rows_through_drop_na(priced, tmp_path, run_cli):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from torchlinear.workflow import predict

    folder, X, y = priced
    run = tmp_path / "run"
    argv = ["fit", "--no-figures", str(folder / "sales.parquet"), "--target", "price", "--features"]
    assert run_cli([*argv, "area,noise", "--out", str(run)])[0] == 0
    table = pq.read_table(folder / "sales.parquet")
    area = table.column("area").to_numpy().copy()
    area[[3, 50, 51, 119]] = np.nan  # rows the prediction skips with drop_na
    gappy = tmp_path / "gappy.parquet"
    pq.write_table(table.set_column(1, "area", pa.array(area)), gappy, row_group_size=16)
    out = tmp_path / "p.parquet"
    result = predict(run, gappy, out, keep=["id"], drop_na=True, batch_rows=7)
    assert result.n_dropped == 4 and result.n_rows == 116
    got = pq.read_table(out)
    assert got.schema.field("id").type == pa.int64()
    kept = np.setdiff1d(np.arange(120), [3, 50, 51, 119])
    assert got.column("id").to_pylist() == kept.tolist()
    model = pytest.importorskip("sklearn.linear_model").LinearRegression().fit(X, y)
    np.testing.assert_allclose(got.column("prediction").to_numpy(), model.predict(X[kept]))
    # the same through a CSV with gaps, chunked finer than the reader's blocks
    csv = tmp_path / "gappy.csv"
    lines = ["id,area,noise"] + [
        f"{i:03d},{'' if np.isnan(area[i]) else repr(float(area[i]))},{float(X[i, 1])!r}"
        for i in range(120)
    ]
    csv.write_text("\n".join(lines) + "\n")
    result = predict(run, csv, tmp_path / "p.csv", keep="id", drop_na=True, batch_rows=5)
    ids = _read(tmp_path / "p.csv").column("id").to_pylist()
    assert ids == [f"{i:03d}" for i in kept]


def test_predict_proba_columns_are_named_by_class(tmp_path, run_cli):
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 2))
    labels = np.array(["cat", "dog", "eel"])[np.argmax(X @ [[1, -1, 0], [0, 1, -1]], axis=1)]
    data = tmp_path / "pets.csv"
    pairs = enumerate(zip(X.tolist(), labels, strict=True))
    rows = [f"{i},{a!r},{b!r},{c}" for i, ((a, b), c) in pairs]
    data.write_text("\n".join(["key,a,b,kind", *rows]) + "\n")
    run = tmp_path / "run"
    assert run_cli(["fit", str(data), "--target", "kind", "--features", "a,b", "--out",
                    str(run)])[0] == 0  # fmt: skip
    out = tmp_path / "p.parquet"
    argv = ["predict", str(run), str(data), "-o", str(out), "--proba", "--keep", "key"]
    assert run_cli(argv)[0] == 0
    table = _read(out)
    assert table.column_names == ["key", "prediction", "proba_cat", "proba_dog", "proba_eel"]
    P = np.c_[[table.column(f"proba_{c}").to_numpy() for c in ("cat", "dog", "eel")]].T
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    code, _, err = run_cli(["predict", str(run), str(data), "-o", str(out), "--interval", "0.9"])
    assert code == 2 and "--interval: intervals need an exact unpenalised" in err


def test_proba_columns_of_a_boolean_target_are_spelled_as_its_predictions(tmp_path, run_cli):
    import numpy as np

    rng = np.random.default_rng(1)
    x = rng.normal(size=60)
    data = tmp_path / "flags.csv"
    rows = [f"{v:.6f},{'True' if v + 0.3 * rng.normal() > 0 else 'False'}" for v in x]
    data.write_text("x,flag\n" + "\n".join(rows) + "\n")
    run, out = tmp_path / "run", tmp_path / "p.csv"
    assert run_cli(["fit", str(data), "--target", "flag", "--out", str(run)])[0] == 0
    assert run_cli(["predict", str(run), str(data), "-o", str(out), "--proba"])[0] == 0
    header, *lines = out.read_text().splitlines()
    assert header.split(",") == ["prediction", "proba_false", "proba_true"]
    assert {line.split(",")[0] for line in lines} == {"false", "true"}
    for line in lines:  # each row's prediction is its most probable class
        label, p_false, p_true = line.split(",")
        assert label == ("true" if float(p_true) > float(p_false) else "false")


def test_one_delimiter_serves_whichever_side_is_csv_text(tmp_path, run_cli):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    y = 2 * x + 1 + 0.1 * rng.normal(size=40)
    table = pa.table({"x": x, "y": y})
    semi, parquet = tmp_path / "semi.csv", tmp_path / "data.parquet"
    semi.write_text("x;y\n" + "".join(f"{a:.6f};{b:.6f}\n" for a, b in zip(x, y, strict=True)))
    pq.write_table(table, parquet)
    run = tmp_path / "run"
    assert (
        run_cli(["fit", "--no-figures", str(parquet), "--target", "y", "--out", str(run)])[0] == 0
    )
    # CSV data, Parquet output: the delimiter reads the data
    out = tmp_path / "p.parquet"
    assert run_cli(["predict", str(run), str(semi), "-o", str(out), "--delimiter", ";"])[0] == 0
    assert pq.read_table(out).num_rows == 40
    # Parquet data, CSV output: the delimiter writes the output
    out_csv = tmp_path / "p.csv"
    argv = ["predict", str(run), str(parquet), "-o", str(out_csv), "--delimiter", ";"]
    assert run_cli([*argv, "--keep", "x"])[0] == 0
    assert out_csv.read_text().splitlines()[0] == "x;prediction"
    # Parquet on both sides: nothing to separate
    code, _, err = run_cli(["predict", str(run), str(parquet), "-o", str(out), "--delimiter", ";"])
    assert code == 2 and err.count("\n") == 1
    assert "--delimiter ';' separates the fields of CSV text" in err
    assert "data.parquet is a Parquet file, which has none: leave out --delimiter" in err


def test_predict_bad_requests_write_nothing(priced, tmp_path, run_cli):
    folder, _, _ = priced
    data = str(folder / "sales.csv")
    run, adam = tmp_path / "run", tmp_path / "adam"
    base = ["fit", "--no-figures", data, "--target", "price", "--features", "area,noise", "--out"]
    assert run_cli([*base, str(run)])[0] == 0
    assert run_cli([*base, str(adam), "--solver", "adam", "--epochs", "2"])[0] == 0
    out = tmp_path / "p.csv"
    cases = [
        (run, ["--keep", "id,zip"], "--keep: .* has no column 'zip'"),
        (run, ["--keep", "id,prediction"], "--keep: column 'prediction' has the name of an"),
        (run, ["--keep", "id,id"], "--keep names 'id' twice"),
        (run, ["--interval", "1.5"], r"--interval is the interval's level and must lie in \(0,"),
        (run, ["--interval", "0"], r"must lie in \(0, 1\)"),
        (run, ["--interval-type", "confidence"], "--interval-type chooses the kind of interval"),
        (run, ["--proba"], "--proba: class probabilities need a classification model"),
        (adam, ["--interval", "0.95"], "--interval: intervals need an exact unpenalised"),
    ]
    for model, extra, pattern in cases:
        code, stdout, err = run_cli(["predict", str(model), data, "-o", str(out), *extra])
        assert code == 2 and re.search(pattern, err), (extra, err)
        assert err.count("\n") == 1 and not out.exists() and not stdout
    with pytest.raises(SystemExit) as exit_info:  # the parser's own one-line error
        cli.main(["predict", str(run), data, "-o", str(out), "--interval-type", "x"])
    assert exit_info.value.code == 2 and not out.exists()


@pytest.mark.parametrize(
    ("edit", "command"),
    [
        (lambda d: d.update(target={"a": 1}), "predict"),
        (lambda d: d.update(settings=[1, 2]), "summary"),
        (lambda d: d.update(design=5), "summary"),
        (lambda d: d.update(metrics={"train": 5}), "summary"),
    ],
)
def test_edited_and_re_hashed_metadata_is_refused_in_one_line(
    tmp_path, capsys, run_cli, bad_files, edit, command
):
    """The checksums catch accidents; a file edited on purpose (hashes recomputed) must
    still be refused in one line, never fail half-way with a traceback."""
    from torchlinear.io import load_model, save_model

    model, edited = tmp_path / "m", tmp_path / "edited"
    fit_good(bad_files, model)
    capsys.readouterr()
    tensors, document = load_model(model)
    for key in ("format", "format_version", "library_version", "weights"):
        document.pop(key)
    edit(document)
    save_model(edited, tensors, document)
    argv = [str(edited)]
    if command == "predict":
        argv += [str(bad_files / "good.csv"), "-o", str(tmp_path / "p.csv")]
    code, _, err = run_cli([command, *argv])
    assert code == 2 and err.count("\n") == 1 and "edited by hand" in err, err


def test_a_missing_model_is_named_as_missing(tmp_path, run_cli, bad_files):
    out = tmp_path / "p.csv"  # beside where the model would be: not "inside" it
    code, _, err = run_cli(["predict", str(tmp_path / "nope"), str(bad_files / "good.csv"),
                            "-o", str(out)])  # fmt: skip
    assert code == 2 and "does not exist" in err and "inside the model folder" not in err, err


def _full_disk(fd):
    raise OSError(28, "No space left on device")  # as fsync reports it: no file name


def _file_size_limit(limit):
    """Lower this process's file-size limit (as ``ulimit -f``); returns the one to restore."""
    resource = pytest.importorskip("resource")
    previous = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, previous[1]))
    return previous


@pytest.mark.parametrize("cause", ["too large", "disk full"])
def test_predictions_that_cannot_be_written_name_the_file_and_leave_nothing(
    tmp_path, capsys, run_cli, bad_files, monkeypatch, cause
):
    model = tmp_path / "m"
    fit_good(bad_files, model)
    data = tmp_path / "many.csv"
    data.write_text("a,b\n" + "1.5,2.25\n" * 200_000)
    capsys.readouterr()
    out = tmp_path / "preds" / "p.csv"
    out.parent.mkdir()
    argv = ["predict", str(model), str(data), "-o", str(out)]
    if cause == "disk full":
        monkeypatch.setattr("os.fsync", _full_disk)
        code, _, err = run_cli(argv)
        advice = "no space left on device; free some space, or choose a place on another disk"
    else:
        import resource

        previous = _file_size_limit(1 << 20)  # the predictions are about 4 MB
        try:
            code, _, err = run_cli(argv)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, previous)
        advice = (
            "file too large; the file is larger than the file system or the file-size limit "
            "(ulimit -f) allows: choose a place on another file system, or raise the limit"
        )
    assert (code, err) == (2, f"torchlinear: error: {str(out)!r}: {advice}\n")
    assert list(out.parent.iterdir()) == []  # no half-written file, no temporary one


def test_a_fit_on_labels_and_names_ending_in_nul_is_loadable_by_every_command(tmp_path, run_cli):
    """A NUL at the end of a class label or a column name (NumPy's fixed-width strings
    drop it) must not make the model the fit wrote unloadable."""
    data = tmp_path / "odd.csv"
    labels = ["q", "q\x00"]
    rows = [f'{i},{(i * 7) % 5},"{labels[i % 2]}"' for i in range(1, 13)]
    data.write_text("\n".join(["a,b\x00,kind", *rows]) + "\n")
    run, out = tmp_path / "run", tmp_path / "p.parquet"
    assert run_cli(["fit", str(data), "--target", "kind", "--out", str(run)])[0] == 0
    assert run_cli(["predict", str(run), str(data), "-o", str(out), "--proba"])[0] == 0
    table = _read(out)
    assert table.column_names == ["prediction", "proba_q", "proba_q\x00"]
    assert set(table.column("prediction").to_pylist()) <= {"q", "q\x00"}
    code, stdout, _ = run_cli(["summary", str(run)])
    assert code == 0 and "classes (2): q, q\\x00" in stdout and "b\\x00" in stdout
    code, stdout, _ = run_cli(["evaluate", str(run), str(data), "--json"])
    assert code == 0 and json.loads(stdout)["classes"] == ["q", "q\x00"]


@pytest.mark.parametrize("formula", [None, "y ~ C(color) + np.log(x)"])
@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_predict_keeps_columns_through_drop_na_with_a_design(tmp_path, formula, ext):
    # text columns or a formula: the kept read drops the rows the design's reader drops
    # (a missing level, a missing x, log of a non-positive x); it raised KeyError before
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from torchlinear.workflow import fit, load_estimator, predict

    train = tmp_path / "train.csv"
    train.write_text("x,color,y\n1,red,2\n2,blue,3.5\n3,red,5\n4,blue,6.1\n5,red,8\n6,blue,9.2\n")
    fit(train, "y", formula=formula, val_split=0, out=tmp_path / "run")
    ids = ["A", "B", "C", "D", "E"]
    xs = [1.5, None, 2.5, -1.0, 3.0]
    colors = ["red", "blue", None, "red", "blue"]
    new = tmp_path / f"new.{ext}"
    if ext == "csv":
        cells = ["" if v is None else str(v) for v in xs], ["" if c is None else c for c in colors]
        new.write_text(
            "id,x,color\n" + "".join(f"{i},{x},{c}\n" for i, x, c in zip(ids, *cells, strict=True))
        )
    else:
        pq.write_table(pa.table({"id": ids, "x": xs, "color": colors}), new)
    out = tmp_path / "p.csv"
    result = predict(tmp_path / "run", new, out, keep="id", drop_na=True, batch_rows=2)
    kept = ["A", "E"] if formula else ["A", "D", "E"]  # log(-1) only with the formula
    got = _read(out)
    assert got.column("id").to_pylist() == kept and result.n_rows == len(kept)
    est = load_estimator(tmp_path / "run")
    rows = {"A": (1.5, "red"), "D": (-1.0, "red"), "E": (3.0, "blue")}
    expected = [float(predict_one(est, *rows[k], formula)) for k in kept]
    np.testing.assert_allclose(got.column("prediction").to_numpy(), expected, rtol=1e-12)


def predict_one(est, x, color, formula):
    """The model's prediction for one row, from its coefficients."""
    import math

    values = {"C(color)[T.red]": float(color == "red"), "x": x}
    if formula:
        values["np.log(x)"] = math.log(x)
    names = list(est.feature_names_in_)
    return est.intercept_ + sum(c * values[n] for c, n in zip(est.coef_, names, strict=True))
