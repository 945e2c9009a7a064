"""Formulas and the Design spec (torchlinear.data.formula): parsing, errors, persistence.

A design's matrices are checked against statsmodels' in ``test_design.py``; here, what a
formula reads, the one-line errors of a bad one, and a design rebuilt from its dict.
"""

import numpy as np
import pytest
from _tables import mixed

from torchlinear._memory import memory_limit
from torchlinear.data.design import design
from torchlinear.data.formula import Design, parse_formula, quote_name


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
    with pytest.raises(ValueError) as info:
        back.matrices(new)
    assert str(info.value) == (
        "the data: column 'color' has the level 'purple' (data row 4) that the model was not "
        "fitted on; its levels are 'blue', 'green', 'red', 'teal': give it one of them, or fit "
        "the model on data that has this level"
    )
    new = df.head(5).copy()
    new["color"] = 3  # numbers where the model learned text
    with pytest.raises(ValueError, match=r"column 'color' holds the number 3 \(data row 1\), but"):
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


@pytest.mark.parametrize("response", ["C(cyl)", "C(cyl, contr.sum)"])
def test_a_response_encoded_as_categories_is_refused(response):
    # formulaic would learn its levels from a prototype and cast the data's to NaN: the
    # fit of an empty target, R² nan, with nothing but a warning
    df = mixed()
    with pytest.raises(ValueError) as info:
        design(df, formula=f"{response} ~ x1 + C(color)")
    assert str(info.value) == (
        f"formula '{response} ~ x1 + C(color)': the left-hand side '{response}' encodes the "
        "target as categories, which a regression cannot fit; to classify it, write the "
        "column 'cyl' on the left with task='classification'"
    )
    X, y = design(df, formula="I(cyl > 5) ~ x1").matrices(df)  # a numeric response still fits
    np.testing.assert_array_equal(y, (df.cyl > 5).to_numpy(float))


def test_one_sided_and_multi_part_formulas_are_told_apart_from_syntax_errors():
    one_sided = parse_formula("~ x1 + C(color)")  # no response: the target comes from --target
    assert (one_sided.response, one_sided.target) == (None, None)
    assert one_sided.variables == {"x1", "color"}
    with pytest.raises(ValueError, match=r"has several parts; write one 'response ~ terms'"):
        parse_formula("y ~ x1 | x2")


def test_a_saved_design_with_many_levels_is_checked_against_the_budget():
    """formulaic builds a design from one row per level: a model file claiming 200,000
    levels would need a 200,000-square matrix."""
    saved = design(mixed(), formula="y ~ x1 + C(color)").to_dict()
    saved["levels"]["color"] = [f"level{i}" for i in range(200_000)]
    with memory_limit("1G"), pytest.raises(ValueError, match="levels of categorical columns"):
        Design.from_dict(saved)


def test_quoted_names_are_read_as_written():
    """Spaces, '#' and line breaks are part of a quoted column's name (not trimmed into
    another column's), and a name ending in a line break is quoted."""
    parsed = parse_formula("`y ` ~ `x#` + ` lead` + C(`c d`) + `z\n`")
    assert parsed.target == "y "
    assert parsed.variables == {"x#", " lead", "c d", "z\n"}
    assert quote_name("z\n") == "`z\n`" and quote_name("z") == "z"
