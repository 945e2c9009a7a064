"""Missing values of a pass and their errors (torchlinear.data.missing), through
TabularSource and DesignSource: an empty column is named as such, never left to drop_na."""

import pytest

from torchlinear.data import TabularSource
from torchlinear.data.design import DesignSource, learn_design


def _error(path, **kwargs):
    with pytest.raises(ValueError) as info:  # on opening, or at the end of the pass
        TabularSource(path, **kwargs).read_all()
    return str(info.value)


@pytest.mark.parametrize("drop_na", [False, True])
def test_a_trailing_delimiter_is_named_not_sent_to_drop_na(tmp_path, drop_na):
    path = tmp_path / "trailing.csv"
    path.write_text("a,b,y,\n1,2,3,\n2,3,5,\n3,5,9,\n")
    assert _error(path, target="y", drop_na=drop_na) == (
        f"{path}: the unnamed column '' is empty (no value in any of the 3 data rows): the "
        "header line ends with a delimiter, which makes an unnamed column; remove the "
        "delimiter at the end of the lines, or leave it out, e.g. features=['a', 'b']"
    )
    X, y = TabularSource(path, target="y", features=["a", "b"]).read_all()
    assert X.tolist() == [[1, 2], [2, 3], [3, 5]] and y.tolist() == [3, 5, 9]


@pytest.mark.parametrize("drop_na", [False, True])
def test_an_empty_column_target_or_weight_is_named(tmp_path, drop_na):
    path = tmp_path / "gaps.csv"
    path.write_text("a,b,y,w,z\n1,,3,,\n2,,NA,,\n3,,9,,\n")
    assert _error(path, target="y", features=["a", "b"], drop_na=drop_na) == (
        f"{path}: column 'b' is empty (no value in any of the 3 data rows); fill it in, or "
        "leave it out, e.g. features=['a']"
    )
    assert _error(path, target="z", features=["a"], drop_na=drop_na) == (
        f"{path}: the target column 'z' is empty (no value in any of the 3 data rows); fill "
        "it in, or choose another target"
    )
    assert _error(path, target="a", features=["y"], weight="w", drop_na=drop_na) == (
        f"{path}: the weight column 'w' is empty (no value in any of the 3 data rows); fill "
        "it in, or leave out weight"
    )
    fixed = _error(path, target="a", features=["b"], fixed_features=True, drop_na=drop_na)
    assert fixed == f"{path}: column 'b' is empty (no value in any of the 3 data rows); fill it in"


def test_a_column_empty_in_the_first_rows_only_is_named_with_them(tmp_path):
    # the first megabyte is checked on opening; further rows would change nothing without
    # drop_na (every empty cell is an error), so the column is named at once
    path = tmp_path / "late.csv"
    rows = 120_000  # past the first megabyte
    path.write_text("a,b,y\n" + "1.25,,2.5\n" * rows + "1,2,3\n")
    message = _error(path, target="y")
    assert message.startswith(f"{path}: column 'b' is empty (no value in the first ")
    assert message.endswith(" data rows); fill it in, or leave it out, e.g. features=['a']")
    X, _ = TabularSource(path, target="y", drop_na=True).read_all()  # rows with b: kept
    assert X.tolist() == [[1.0, 2.0]]


def test_a_design_names_an_empty_column_of_its_formula(tmp_path):
    path = tmp_path / "design.csv"
    path.write_text("a,b,kind,y\n1,,p,3\n2,,q,5\n3,,p,9\n")
    raw = TabularSource(path, "y", ["a", "b", "kind"], allow_text=True, drop_na=True)
    with pytest.raises(ValueError) as info:
        DesignSource(raw, learn_design(raw, "y ~ a + b + C(kind)")).read_all()
    assert str(info.value) == (
        f"{path}: column 'b' is empty (no value in any of the 3 data rows); fill it in, or "
        "take it out of formula"
    )


@pytest.mark.parametrize("drop_na", [False, True])
def test_a_column_of_only_infinite_values_is_named_not_called_empty(tmp_path, drop_na):
    # 1e400 overflows float64 and reads as inf: the column has values, none finite
    path = tmp_path / "overflow.csv"
    path.write_text("a,b,y\n1e400,1,2\n-2e400,2,3\n,3,5\n4e400,1,1\n")
    assert _error(path, target="y", drop_na=drop_na) == (
        f"{path}: column 'a' is not finite (no finite value in any of the 4 data rows: 3 are "
        "infinite, numbers beyond ±1.8e308 or inf); fill it in, or leave it out, e.g. "
        "features=['b']"
    )
    assert _error(path, target="a", features=["b"], drop_na=drop_na) == (
        f"{path}: the target column 'a' is not finite (no finite value in any of the 4 data "
        "rows: 3 are infinite, numbers beyond ±1.8e308 or inf); fill it in, or choose another "
        "target"
    )
    # an empty column is still named as empty, first
    path.write_text("a,b,c,y\n1e400,,1,2\n2e400,,2,3\n")
    assert "column 'b' is empty (no value" in _error(path, target="y", drop_na=drop_na)


def test_a_design_names_a_column_of_only_infinite_values(tmp_path):
    path = tmp_path / "design_inf.csv"
    path.write_text("a,b,kind,y\n1,inf,p,3\n2,-inf,q,5\n3,1e309,p,9\n")
    raw = TabularSource(path, "y", ["a", "b", "kind"], allow_text=True)
    with pytest.raises(ValueError) as info:
        DesignSource(raw, learn_design(raw, "y ~ a + b + C(kind)")).read_all()
    assert str(info.value) == (
        f"{path}: column 'b' is not finite (no finite value in any of the 3 data rows: 3 are "
        "infinite, numbers beyond ±1.8e308 or inf); fill it in, or take it out of formula"
    )


def test_some_infinite_values_are_counted_with_the_missing_ones(tmp_path):
    path = tmp_path / "some.csv"
    path.write_text("a,b,y\n1,2,3\n1e400,3,5\n3,,9\n4,5,6\n")
    assert _error(path, target="y") == (
        f"{path}: 2 row(s) have missing or non-finite values (empty, NA, NaN or inf): column "
        "'a' 1 (first in data row 2), column 'b' 1 (first in data row 3); pass drop_na=True to "
        "skip those rows, or fill them in"
    )
    X, y = TabularSource(path, target="y", drop_na=True).read_all()
    assert X.tolist() == [[1, 2], [4, 5]] and y.tolist() == [3, 6]
