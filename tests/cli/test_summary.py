"""`torchlinear summary`: the statistical table agrees with statsmodels."""

import pytest

from torchlinear import cli

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.filterwarnings("ignore:X does not have valid feature names"),
]


def test_summary_prints_the_statsmodels_table(houses_csv, tmp_path, capsys, run_cli, numbers):
    import statsmodels.api as sm

    path, X, y = houses_csv
    out = tmp_path / "run"
    assert (
        cli.main(["fit", str(path), "--target", "price", "--val-split", "0", "--out", str(out)])
        == 0
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
