"""What a formula may evaluate (torchlinear.data.formula_checks): code, lag() and powers of
long sums are refused in one line, in a formula given to a fit and in one read back."""

import re

import pytest
from _tables import mixed

from torchlinear.data.design import design
from torchlinear.data.formula import Design, parse_formula
from torchlinear.data.formula_checks import check_evaluable


@pytest.mark.parametrize(
    ("formula", "part"),
    [
        ("y ~ {open(marker, 'w')} + x1", "open"),
        ("y ~ x1 + np.save(marker, x1)", "np.save"),
        ("np.load(marker) ~ x1", "np.load"),
        ("y ~ {x1.__class__}", "x1.__class__"),
        ("y ~ {(lambda: x1)()}", "lambda: x1"),
        ("y ~ {[v for v in x1]}", "[v for v in x1]"),
        ("y ~ {x1[0]}", "x1[0]"),
        ("y ~ I(eval('x1'))", "eval"),
        ("y ~ np.lib.npyio.load(x1)", "np.lib.npyio.load"),
        ("y ~ {__builtins__}", "__builtins__"),
    ],
)
def test_a_formula_never_runs_code_given_or_loaded(tmp_path, formula, part):
    """A formula is evaluated by formulaic as Python: only columns, arithmetic, formulaic's
    transforms and NumPy's element-wise functions may be used, in a formula given to a
    fit and in one read back from a model file (which anyone may have written)."""
    marker = tmp_path / "ran"
    formula = formula.replace("marker", repr(str(marker)))
    with pytest.raises(ValueError, match=re.escape(f"uses {part!r}")) as info:
        design(mixed(), formula=formula)
    assert "\n" not in str(info.value)
    saved = design(mixed(), formula="y ~ x1 + C(color)").to_dict()
    saved["formula"], saved["response"] = formula, formula.split("~")[0].strip()
    with pytest.raises(ValueError, match="may not evaluate"):
        Design.from_dict(saved)
    assert not marker.exists()


def test_the_usual_formulas_pass_the_evaluation_check():
    for formula in [
        "np.log(y) ~ x1 * C(color, contr.treatment('b')) + I(x2 ** 2) + {x1 + 1}",
        "y ~ np.clip(x1, 0, 1) + np.sqrt(np.abs(x2)) + Q('x1') + `x2` - 1",
        "y ~ C(cyl) + C(color):x2 + np.log(x2)",
    ]:
        check_evaluable(formula)


@pytest.mark.parametrize("formula", ["y ~ lag(a)", "y ~ x + lag(x, 2)"])
def test_lag_is_refused_as_the_rows_come_in_chunks(formula):
    # each chunk's first row would have no predecessor: NaN, rows dropped, the fit changed
    with pytest.raises(ValueError, match=r"uses lag\(\), .* compute the lagged column"):
        check_evaluable(formula)


@pytest.mark.parametrize(
    ("formula", "shown"),
    [
        ("y ~ (a+b+c+d+e+f+g)**7", "(a+b+c+d+e+f+g)**7 expands 7^7 products"),
        ("y ~ x + (a + np.log(b) + c + d + e + f + g + h + i + j + k)^6", "^6 expands 11^6"),
    ],
)
def test_a_power_of_a_long_sum_is_refused_before_minutes_of_expansion(formula, shown):
    # (a+...+g)**7 took over four minutes (formulaic expands 7^7 products per parse): it
    # is refused before formulaic sees it
    with pytest.raises(ValueError, match="'a \\* b \\* c' for all of them") as excinfo:
        parse_formula(formula)
    assert shown in str(excinfo.value)


def test_a_power_that_expands_quickly_is_accepted():
    parsed = parse_formula("y ~ (a + b + c)**2 + (d + e)^3")
    assert sorted(parsed.variables) == ["a", "b", "c", "d", "e"]
