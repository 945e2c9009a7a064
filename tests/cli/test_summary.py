"""`torchlinear summary`: the statistical table agrees with statsmodels.

The fits write no figures (``--no-figures``): the summary reads the model file alone."""

import re

import pytest

from torchlinear import cli

FIT = ["fit", "--no-figures"]

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.filterwarnings("ignore:X does not have valid feature names"),
]


def test_summary_prints_the_statsmodels_table(houses_csv, tmp_path, capsys, run_cli, numbers):
    import statsmodels.api as sm

    path, X, y = houses_csv
    out = tmp_path / "run"
    assert (
        cli.main([*FIT, str(path), "--target", "price", "--val-split", "0", "--out", str(out)]) == 0
    )
    capsys.readouterr()
    code, stdout, _ = run_cli(["summary", str(out)])
    assert code == 0
    ols = sm.OLS(y, sm.add_constant(X)).fit()
    rows = {line.split()[0]: numbers(line) for line in stdout.splitlines() if line.split()}
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
    assert numbers(r2_line)[-1] == pytest.approx(ols.rsquared, abs=1e-4)


SCHEMA = {
    "n_obs": int,
    "df_model": int,
    "df_resid": int,
    "r_squared": float,
    "adj_r_squared": float,
    "f_statistic": float,
    "f_pvalue": float,
    "cov_type": str,
    "terms": list,
}
TERM_SCHEMA = {
    "name": str,
    "coef": float,
    "std_err": float,
    "t": float,
    "p_value": float,
    "ci_low": float,
    "ci_high": float,
}


def _check_schema(doc, schema):
    assert set(doc) == set(schema), set(doc) ^ set(schema)
    for key, kind in schema.items():
        assert isinstance(doc[key], kind) and not isinstance(doc[key], bool), (key, doc[key])


@pytest.mark.parametrize("cov", ["nonrobust", "HC1"])
def test_summary_json_schema_and_numbers(houses_csv, tmp_path, run_cli, cov):
    import json

    import numpy as np
    import statsmodels.api as sm

    path, X, y = houses_csv
    out = tmp_path / "run"
    argv = [*FIT, str(path), "--target", "price", "--out", str(out), "--cov", cov.lower()]
    code, stdout, _ = run_cli(argv)  # no --val-split: an exact fit uses every row
    assert code == 0 and "240 training and 0 validation rows" in stdout
    assert "all 240 rows used for the fit" in (out / "report.md").read_text()
    code, stdout, err = run_cli(["summary", str(out), "--json"])
    assert code == 0 and not err
    doc = json.loads(stdout)  # one JSON object, nothing else
    _check_schema(doc, SCHEMA)
    for term in doc["terms"]:
        _check_schema(term, TERM_SCHEMA)
    res = sm.OLS(y, sm.add_constant(X)).fit(cov_type=cov)
    assert [t["name"] for t in doc["terms"]] == ["const", "area", "rooms", "noise"]
    assert (doc["n_obs"], doc["df_model"], doc["df_resid"], doc["cov_type"]) == (240, 3, 236, cov)
    ci = res.conf_int(alpha=0.05)
    for key, theirs in [
        ("coef", res.params), ("std_err", res.bse), ("t", res.tvalues),
        ("p_value", res.pvalues), ("ci_low", ci[:, 0]), ("ci_high", ci[:, 1]),
    ]:  # fmt: skip
        np.testing.assert_allclose([t[key] for t in doc["terms"]], theirs, rtol=1e-8)
    for key, theirs in [
        ("r_squared", res.rsquared), ("adj_r_squared", res.rsquared_adj),
        ("f_statistic", res.fvalue), ("f_pvalue", res.f_pvalue),
    ]:  # fmt: skip
        np.testing.assert_allclose(doc[key], theirs, rtol=1e-8)
    # the text summary names the covariance; a robust fit offers every HC type
    code, stdout, _ = run_cli(["summary", str(out)])
    assert code == 0 and re.search(rf"Covariance type:\s+{cov}\b", stdout)
    assert f"cov_type={cov}" in stdout
    code, stdout, err = run_cli(["summary", str(out), "--json", "--cov", "HC3"])
    if cov == "nonrobust":
        assert code == 2 and "--cov HC3: this model keeps no meat matrix" in err
        assert err.count("\n") == 1 and not stdout
    else:
        hc3 = sm.OLS(y, sm.add_constant(X)).fit(cov_type="HC3")
        got = [t["std_err"] for t in json.loads(stdout)["terms"]]
        np.testing.assert_allclose(got, hc3.bse, rtol=1e-8)


def test_validation_split_defaults_and_bad_cov(houses_csv, tmp_path, run_cli):
    import json

    path, _, _ = houses_csv
    held = tmp_path / "held"
    argv = [*FIT, str(path), "--target", "price", "--val-split", "0.25", "--out", str(held)]
    assert run_cli(argv)[0] == 0
    code, stdout, _ = run_cli(["summary", str(held), "--json"])
    doc = json.loads(stdout)
    metrics = json.loads((held / "metrics.json").read_text())
    assert doc["n_obs"] == metrics["data"]["train_rows"] < 240  # an explicit split still holds
    adam = tmp_path / "adam"
    argv = [*FIT, str(path), "--target", "price", "--solver", "adam", "--epochs", "2"]
    assert run_cli([*argv, "--out", str(adam)])[0] == 0
    assert json.loads((adam / "metrics.json").read_text())["data"]["validation_rows"] > 0
    code, stdout, err = run_cli(["summary", str(adam), "--json"])
    assert code == 2 and "has no statistical summary" in err and not stdout
    for extra, pattern in [
        (["--cov", "HC7"], "--cov must be one of nonrobust, HC0, HC1, HC2, HC3, got 'HC7'"),
        (["--cov", "HC1", "--solver", "sgd"], "error: --cov HC1 (robust standard errors) needs "
         "exact unpenalised least squares; this fit is trained by gradient steps (--solver sgd): "
         "leave out --solver (least squares is then solved exactly), or leave out --cov\n"),
        (["--cov", "HC1", "--alpha", "2"], "this fit is penalised by --alpha: leave out "
         "--alpha, or leave out --cov\n"),
        (["--cov", "HC1", "--loss", "huber"], "this fit's --loss is 'huber': leave out --loss, "
         "or leave out --cov\n"),
        (["--cov", "HC1", "--model", "mlp"], "this fit is regression with model 'mlp': leave "
         "out --cov\n"),
    ]:  # fmt: skip
        out = tmp_path / "never"
        code, _, err = run_cli([*FIT, str(path), "--target", "price", "--out", str(out), *extra])
        assert code == 2 and pattern in err and err.count("\n") == 1, err
        assert not out.exists()


@pytest.mark.parametrize(
    "extra, kind",
    [
        (["--alpha", "cv", "--l1-ratio", "0.5", "--cv", "3"],
         r"elastic net, alpha=[\d.e-]+, l1_ratio=0\.5 \(by cross-validation\)"),
        (["--alpha", "0.01", "--l1-ratio", "0.5"], r"elastic net, alpha=0\.01, l1_ratio=0\.5\)"),
        (["--model", "mlp", "--hidden", "8", "--epochs", "2"], r"two-layer MLP 3 -> 8 -> 1"),
        (["--loss", "huber", "--epochs", "2"], r"huber loss, solver \w+"),
        (["--loss", "l1"], r"l1 loss, solver \w+"),
    ],
)  # fmt: skip
def test_summary_describes_every_kind_of_regression_model(
    houses_csv, tmp_path, run_cli, extra, kind
):
    """Penalized, cross-validated, robust and MLP fits: one summary each, no traceback."""
    path = houses_csv[0]
    out = tmp_path / "run"
    code, _, err = run_cli([*FIT, str(path), "--target", "price", "--out", str(out), *extra])
    assert code == 0, err
    code, text, err = run_cli(["summary", str(out)])
    assert code == 0 and "Traceback" not in err, err
    assert re.search(kind, text.splitlines()[0]), text.splitlines()[0]


def test_a_ridge_fit_names_the_alpha_it_was_given_and_the_estimators(tmp_path, capsys):
    from torchlinear import cli

    data = tmp_path / "d.csv"
    data.write_text("a,y\n" + "".join(f"{i},{2 * i + (i % 3)}\n" for i in range(40)))
    model = tmp_path / "m"
    argv = [*FIT, str(data), "--target", "y", "--alpha", "0.5", "--out", str(model)]
    assert cli.main([*argv, "--no-progress"]) == 0
    capsys.readouterr()
    assert cli.main(["summary", str(model)]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert "ridge, alpha=0.5 as ElasticNet's = LinearRegression alpha=20)" in head, head
    out = tmp_path / "p.csv"
    assert cli.main(["predict", str(model), str(data), "-o", str(out), "--interval", "0.9"]) == 2
    err = capsys.readouterr().err
    assert err.rstrip().endswith(
        "this model is a ridge fit (alpha=0.5 as ElasticNet's = LinearRegression alpha=20)"
    ), err


def test_a_constant_target_has_no_f_test_in_summary_json_and_report(tmp_path, run_cli):
    import json

    data = tmp_path / "flat.csv"
    data.write_text("a,b,y\n1,2,3\n2,3,3\n3,5,3\n4,4,3\n5,1,3\n6,2,3\n")
    run = tmp_path / "run"
    assert run_cli([*FIT, str(data), "--target", "y", "--out", str(run)])[0] == 0
    code, stdout, _ = run_cli(["summary", str(run), "--json"])
    doc = json.loads(stdout)
    assert code == 0 and doc["f_statistic"] is None and doc["f_pvalue"] is None
    assert doc["r_squared"] is None
    for text in (run_cli(["summary", str(run)])[1], (run / "report.md").read_text()):
        assert re.search(r"F-statistic: +nan", text) and re.search(
            r"Prob \(F-statistic\): +nan", text
        )


def test_a_feature_named_const_is_not_confused_with_the_intercept(tmp_path, run_cli):
    import json

    data = tmp_path / "const.csv"
    data.write_text("const,b,y\n1,2,3\n2,3,5\n3,5,9\n4,4,7\n5,1,2\n6,2,2\n")
    run = tmp_path / "run"
    assert run_cli([*FIT, str(data), "--target", "y", "--out", str(run)])[0] == 0
    code, stdout, _ = run_cli(["summary", str(run), "--json"])
    assert code == 0 and [t["name"] for t in json.loads(stdout)["terms"]] == [
        "(const)",
        "const",
        "b",
    ]
    text = run_cli(["summary", str(run)])[1]
    rows = [line.split()[0] for line in text.splitlines() if re.match(r"\(?const\)? ", line)]
    assert rows == ["(const)", "const"]


@pytest.mark.parametrize(
    ("extra", "what"),
    [
        (["--alpha", "0.1", "--l1-ratio", "1"], "ElasticNet (elastic net, alpha=0.1, l1_ratio=1)"),
        (["--loss", "l1"], "LinearRegression (l1 loss, solver lad)"),
    ],
)
def test_summary_json_of_a_model_without_statistics_is_one_line(tmp_path, run_cli, extra, what):
    data = tmp_path / "d.csv"
    data.write_text("a,b,y\n1,2,3\n2,3,5\n3,5,9\n4,4,7\n5,1,2\n6,2,2\n7,1,4\n")
    run = tmp_path / "run"
    assert run_cli([*FIT, str(data), "--target", "y", "--out", str(run), *extra])[0] == 0
    code, stdout, err = run_cli(["summary", str(run), "--json"])
    assert code == 2 and not stdout and err.count("\n") == 1
    assert f"is a fit of {what}, which has no statistical summary" in err
    assert "(--solver exact, no --alpha)" in err
