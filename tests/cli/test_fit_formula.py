"""``fit --formula`` and text columns through the command line and torchlinear.workflow,
against statsmodels; the design saved with the model and applied by predict/evaluate."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import statsmodels.formula.api as smf

from torchlinear import workflow
from torchlinear.estimators.persist import load_estimator

FORMULA = "y ~ x1 * C(color) + np.log(x2) + C(cyl)"


def sales(n=400, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.uniform(0.5, 3.0, size=n),
            "color": rng.choice(["red", "green", "blue"], n),
            "cyl": rng.choice([4, 6, 8], n),
            "note": rng.choice(["a", "b"], n),  # not read by the formula
        }
    )
    df["y"] = (
        1.0
        + 2.0 * df.x1
        + np.log(df.x2)
        + 0.5 * (df.color == "red") * df.x1
        + 0.1 * df.cyl
        + rng.normal(size=n)
    )
    return df


def write(df, path):
    if path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=50)
    else:
        df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("formula")
    df = sales()
    return folder, df, write(df, folder / "sales.csv")


def params_of(folder):
    est, meta = load_estimator(folder, with_metadata=True)
    params = dict(zip(meta["feature_names"], est.coef_, strict=True))
    if est.fit_intercept:
        params["Intercept"] = float(est.intercept_)
    return params, meta


def assert_same(params, reference):
    assert sorted(params) == sorted(reference.index)
    for name, value in reference.items():
        assert params[name] == pytest.approx(value, rel=1e-9, abs=1e-9), name


def test_cli_formula_fit_equals_statsmodels_and_predicts_raw_data(
    data, run_cli, tmp_path, one_thread
):
    folder, df, path = data
    code, out, err = run_cli(
        ["fit", "--no-figures", str(path), "--formula", FORMULA, "--val-split", "0", "--out",
         str(tmp_path / "run"), "--no-progress"]
    )  # fmt: skip
    assert code == 0, err
    reference = smf.ols(FORMULA, df).fit()
    params, meta = params_of(tmp_path / "run")
    assert_same(params, reference.params)
    assert meta["design"]["formula"] == FORMULA
    assert meta["design"]["levels"]["color"] == ["blue", "green", "red"]
    # predict: raw new data with text columns, in another column order, extra columns
    new = sales(n=30, seed=5).drop(columns="y")[["color", "note", "cyl", "x2", "x1"]]
    new_path = write(new, tmp_path / "new.csv")
    code, _, err = run_cli(["predict", str(tmp_path / "run"), str(new_path), "-o",
                            str(tmp_path / "p.csv")])  # fmt: skip
    assert code == 0, err
    predicted = pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy()
    np.testing.assert_allclose(predicted, reference.predict(new), rtol=1e-9, atol=1e-9)
    # evaluate reads the target through the same design
    code, out, err = run_cli(["evaluate", str(tmp_path / "run"), str(path), "--json"])
    assert code == 0, err
    assert json.loads(out)["r2"] == pytest.approx(reference.rsquared, rel=1e-9)


def test_python_formula_fit_streams_in_chunks_like_in_memory(data, tmp_path, one_thread):
    folder, df, path = data
    parquet = write(df, tmp_path / "sales.parquet")
    reference = smf.ols(FORMULA, df).fit().params
    for source, out in ((path, "csv"), (parquet, "pq")):
        result = workflow.fit(source, formula=FORMULA, val_split=0, batch_rows=64,
                              stream=True, out=tmp_path / out)  # fmt: skip
        assert result.streamed and result.n_rows == len(df)
        params, _ = params_of(tmp_path / out)
        assert_same(params, reference)
    new = sales(n=20, seed=7)
    write(new, tmp_path / "new.parquet")
    out = workflow.predict(tmp_path / "pq", tmp_path / "new.parquet", tmp_path / "p.parquet")
    predicted = pq.read_table(out.path).column("prediction").to_numpy()
    np.testing.assert_allclose(predicted, smf.ols(FORMULA, df).fit().predict(new), rtol=1e-9)


def test_text_columns_are_one_hot_encoded_without_a_formula(data, run_cli, tmp_path, one_thread):
    folder, df, path = data
    code, _, err = run_cli(
        ["fit", "--no-figures", str(path), "--target", "y", "--val-split", "0", "--out",
         str(tmp_path / "run"), "--no-progress"]
    )  # fmt: skip
    assert code == 0, err
    reference = smf.ols("y ~ x1 + x2 + C(color) + cyl + C(note)", df).fit()
    params, meta = params_of(tmp_path / "run")
    assert meta["feature_names"] == [
        "x1", "x2", "C(color)[T.green]", "C(color)[T.red]", "cyl", "C(note)[T.b]",
    ]  # fmt: skip
    assert_same(params, reference.params)
    new = sales(n=10, seed=3).drop(columns="y")
    new_path = write(new, tmp_path / "new.csv")
    result = workflow.predict(tmp_path / "run", new_path, tmp_path / "p.csv")
    predicted = pd.read_csv(result.path)["prediction"].to_numpy()
    np.testing.assert_allclose(predicted, reference.predict(new), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ x1 +", "--formula 'y ~ x1 +' does not parse"),
        ("y ~ x1 + nope", "reads the column(s) 'nope', which"),
        ("nope ~ x1", "reads the column(s) 'nope', which"),
        ("x1 + x2", "has no left-hand side"),
        ("C(cyl) ~ x1", "'C(cyl)' encodes the target as categories"),
    ],
)
def test_bad_formulas_exit_2_with_one_line_and_write_nothing(
    data, run_cli, tmp_path, formula, message
):
    _, _, path = data
    out = tmp_path / "run"
    code, stdout, err = run_cli(
        ["fit", "--no-figures", str(path), "--formula", formula, "--out", str(out)]
    )
    assert code == 2 and stdout == ""
    assert message in err and err.count("\n") == 1
    assert not out.exists()
    with pytest.raises(ValueError, match="formula"):
        workflow.fit(path, formula=formula, out=out)
    assert not out.exists()


def test_unseen_level_and_identifier_column_are_refused(data, run_cli, tmp_path, one_thread):
    folder, df, path = data
    code, _, err = run_cli(["fit", "--no-figures", str(path), "--formula", "y ~ x1 + C(color)",
                            "--out", str(tmp_path / "run"), "--no-progress"])  # fmt: skip
    assert code == 0, err
    new = write(pd.DataFrame({"x1": [1.0, 2.0], "color": ["red", "purple"]}), tmp_path / "n.csv")
    output = tmp_path / "p.csv"
    code, _, err = run_cli(["predict", str(tmp_path / "run"), str(new), "-o", str(output)])
    assert code == 2 and err.count("\n") == 1
    assert "column 'color' has the level 'purple' (data row 2)" in err
    assert not output.exists()
    with_id = df.assign(id=[f"u{i}" for i in range(len(df))])
    id_path = write(with_id, tmp_path / "ids.csv")
    code, _, err = run_cli(["fit", str(id_path), "--target", "y", "--out", str(tmp_path / "x")])
    assert code == 2 and err.count("\n") == 1
    assert "column 'id' has 400 distinct values" in err and "--features" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("odd", ["\x00", " ", "\n", "#", "~"])
@pytest.mark.parametrize("odd_target", [True, False])
def test_levels_and_names_ending_in_odd_characters_round_trip(run_cli, tmp_path, odd, odd_target):
    """A level, and the target's or a feature's name, ending in NUL (which NumPy's
    fixed-width strings drop), a space, a line break, '#' or '~', with or without a
    formula: the model the fit wrote predicts, evaluates and describes itself."""
    rng = np.random.default_rng(0)
    city = np.array(["Oslo", f"Rome{odd}", "Lima"])[np.arange(60) % 3]
    x = rng.normal(size=60)
    target, feature = (f"y{odd}", "x") if odd_target else ("y", f"x{odd}")
    frame = pd.DataFrame({feature: x, "city": city})
    frame[target] = 2 * x + (city == f"Rome{odd}") + rng.normal(0, 0.1, 60)
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    run = tmp_path / "run"
    formula = f"`{target}` ~ `{feature}` + C(city)"
    for argv in (
        ["fit", str(data), "--target", target, "--out", str(run)],
        ["fit", str(data), "--formula", formula, "--out", str(run), "--overwrite"],
    ):
        assert run_cli(argv)[0] == 0, argv
        code, stdout, err = run_cli(["summary", str(run)])
        assert code == 0 and "Rome" in stdout, err
        assert run_cli(["predict", str(run), str(data), "-o", str(tmp_path / "p.csv")])[0] == 0
        code, stdout, _ = run_cli(["evaluate", str(run), str(data), "--json"])
        assert code == 0 and json.loads(stdout)["r2"] > 0.9


@pytest.mark.parametrize("name", ["x`", "x\\"])
def test_a_column_name_no_formula_can_spell_is_named_in_one_line(run_cli, tmp_path, name):
    """Text columns are one-hot encoded through a formula; a name with a backtick or a
    backslash cannot be written in one: the fit says which column to rename."""
    frame = pd.DataFrame({name: [1.0, 2.0, 3.0, 4.0], "city": list("abab"), "y": [1, 2, 2, 4.0]})
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    code, _, err = run_cli(["fit", str(data), "--target", "y", "--out", str(tmp_path / "run")])
    assert code == 2 and err.count("\n") == 1
    assert f"the column name {name!r} cannot be written in the formula that one-hot" in err
    assert "rename the column" in err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("weighted", [False, True])
def test_r2_without_an_intercept_is_centred_everywhere(tmp_path, weighted):
    # the training R² was 1 - RSS / sum(y^2) (0.54) while validation and evaluate are
    # scikit-learn's centred R² (-0.42 on the same training rows)
    import numpy as np
    from sklearn.metrics import r2_score

    from torchlinear.data.split import holdout_mask
    from torchlinear.workflow import fit

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 2))
    y = X @ [1.0, -2.0] + 6.0 + rng.normal(size=300)  # an intercept the model may not fit
    w = rng.uniform(0.5, 2.0, size=300)
    path = tmp_path / "d.csv"
    rows = zip(X.tolist(), w.tolist(), y.tolist(), strict=True)
    path.write_text("a,b,w,y\n" + "".join(f"{a!r},{b!r},{s!r},{t!r}\n" for (a, b), s, t in rows))
    result = fit(path, "y", formula="y ~ a + b - 1", val_split=0.2, batch_rows=37,
                 weight="w" if weighted else None, out=tmp_path / "run")  # fmt: skip
    train = ~holdout_mask(0, 300, 0.2, 0)
    pred = result.estimator.predict(X)
    weights = w[train] if weighted else None
    expected = r2_score(y[train], pred[train], sample_weight=weights)
    assert result.metrics["train"]["r2"] == pytest.approx(expected, rel=1e-9)
    assert expected < 0.5  # the uncentred value would be far above
