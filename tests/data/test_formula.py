"""Formulas and the Design spec (torchlinear.data.formula): parsing, errors, persistence.

A design's matrices are checked against statsmodels' in ``test_design.py``; here, what a
formula reads, the one-line errors of a bad one, and a design rebuilt from its dict.
"""

import numpy as np
import pytest
from _tables import mixed

from torchlinear.data.design import design
from torchlinear.data.formula import Design, parse_formula


def test_round_trip_through_a_dict_and_unseen_level(tmp_path):
    df = mixed()
    spec = design(df, formula="y ~ x1 + C(color) + C(cyl)")
    back = Design.from_dict(spec.to_dict())
    X1, _ = spec.matrices(df)
    X2, y2 = back.matrices(df.drop(columns="y"), target=False)
    np.testing.assert_array_equal(X1, X2)
    assert y2 is None
    new = df.head(5).copy()
    new.loc[3, "color"] = "purple"
    with pytest.raises(ValueError, match=r"column 'color' has the level 'purple' \(data row 4\)"):
        back.matrices(new)
    new = df.head(5).copy()
    new.loc[1, "cyl"] = 12
    with pytest.raises(ValueError, match=r"column 'cyl' has the level 12"):
        back.matrices(new)


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ x1 +", r"formula 'y ~ x1 \+' does not parse"),
        ("y ~ (x1", r"does not parse"),
        ("y ~ x1 + nope", r"no column\(s\) 'nope'"),
        ("y ~ center(x1)", r"learn\(s\) from the data"),
        ("y ~ C(np.round(x1))", r"must be a column or C\(column\)"),
    ],
)
def test_bad_formulas_are_one_line_value_errors(formula, message):
    with pytest.raises(ValueError, match=message) as info:
        design(mixed(), formula=formula)
    assert "\n" not in str(info.value)


def test_parse_formula_finds_target_and_variables():
    parsed = parse_formula("np.log(y) ~ x1 * C(color) + I(x2 ** 2)")
    assert (parsed.response, parsed.target) == ("np.log(y)", "y")
    assert parsed.variables == {"x1", "color", "x2"}
