"""Tests for the streaming CSV/Parquet source (TabularSource) and the atomic prediction writer.

What only one format's reader does is tested beside it: ``test_csv_reader.py`` (parallel
blocks, rows located far down a file) and ``test_parquet_reader.py`` (streaming row
groups, parts, corrupt files).

The reference for every read is pandas (``read_csv`` with round-trip float parsing, or
``read_parquet``) on the same file; files are generated in ``tmp_path``.
"""

import os
import stat

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from _tables import numbers, one_line_error, read, write_csv

from torchlinear._validation import ParameterError
from torchlinear.data import PredictionWriter, TabularSource, check_columns
from torchlinear.data.csv_reader import is_number

# --- reading equals pandas -----------------------------------------------------------------


@pytest.mark.parametrize("batch_rows", [1, 7, 1000])
def test_csv_chunks_equal_pandas(tmp_path, batch_rows):
    path = tmp_path / "data.csv"
    write_csv(path, numbers(250, seed=1))
    source = TabularSource(path, target="y", batch_rows=batch_rows)
    assert source.format == "csv" and source.feature_names == ["x1", "count", "x3", "big"]
    assert source.n_rows is None  # unknown for CSV until a pass is complete

    chunks, X, y = read(source)
    expected = pd.read_csv(path)
    np.testing.assert_array_equal(X, expected[["x1", "count", "x3", "big"]].to_numpy(float))
    np.testing.assert_array_equal(y, expected["y"].to_numpy())
    sizes = [len(X) for X, _ in chunks]
    assert all(s == batch_rows for s in sizes[:-1]) and 0 < sizes[-1] <= batch_rows
    assert all(X.dtype == np.float64 and X.strides[0] == 8 for X, _ in chunks)
    assert source.n_rows == 250 and source.n_dropped == 0


def test_reiteration_gives_the_same_data(tmp_path):
    path = tmp_path / "data.csv"
    write_csv(path, numbers(100, seed=4))
    source = TabularSource(path, target="y", batch_rows=30)
    first, second = read(source), read(source)
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(first[2], second[2])
    # Stopping a pass early does not disturb the next one.
    next(iter(source))
    np.testing.assert_array_equal(read(source)[1], first[1])
    # read_all gives the same table in one piece.
    X, y = source.read_all()
    np.testing.assert_array_equal(X, first[1])
    np.testing.assert_array_equal(y, first[2])


def test_features_subset_order_and_no_target(tmp_path):
    path = tmp_path / "data.csv"
    frame = numbers(20, seed=5)
    write_csv(path, frame)
    source = TabularSource(path, features=["x3", "x1"])
    X, y = source.read_all()
    assert y is None and source.target is None and source.n_features == 2
    np.testing.assert_array_equal(X, pd.read_csv(path)[["x3", "x1"]])
    X_all, _ = TabularSource(path).read_all()  # no target: every column is a feature
    assert X_all.shape == (20, 5)


def test_tsv_and_explicit_delimiter(tmp_path):
    frame = numbers(15, seed=6)
    tsv, semi = tmp_path / "data.tsv", tmp_path / "data.txt"
    write_csv(tsv, frame, sep="\t")
    write_csv(semi, frame, sep=";")
    for path, delimiter in [(tsv, None), (semi, ";")]:
        X, y = TabularSource(path, target="y", delimiter=delimiter).read_all()
        expected = pd.read_csv(path, sep=delimiter or "\t")
        np.testing.assert_array_equal(y, expected["y"].to_numpy())
        np.testing.assert_array_equal(X, expected.drop(columns="y").to_numpy(float))


def test_single_data_row_is_valid(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("a,b,y\n1.5,2,3")  # no final line break either
    X, y = TabularSource(path, target="y").read_all()
    assert X.tolist() == [[1.5, 2.0]] and y.tolist() == [3.0]


def test_boolean_and_empty_first_block_columns_are_numeric(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("flag,x,y\ntrue,1,1\nfalse,2,2\n")
    X, _ = TabularSource(path, target="y").read_all()
    assert X.tolist() == [[1.0, 1.0], [0.0, 2.0]]


# --- classification labels -----------------------------------------------------------------


def test_classification_keeps_string_and_integer_labels(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text("a,b,species,code\n1,2,setosa,0\n3,4,virginica,2\n5,6,setosa,1\n")
    X, y = TabularSource(path, target="species", task="classification").read_all()
    assert y.tolist() == ["setosa", "virginica", "setosa"]
    assert X.tolist() == [[1.0, 2.0, 0.0], [3.0, 4.0, 2.0], [5.0, 6.0, 1.0]]
    _, codes = TabularSource(
        path, target="code", features=["a"], task="classification", batch_rows=2
    ).read_all()
    assert codes.tolist() == [0, 2, 1] and np.issubdtype(codes.dtype, np.integer)


def test_string_target_for_regression_suggests_classification(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text("a,species\n1,setosa\n")
    with pytest.raises(ValueError, match="task='classification'") as info:
        TabularSource(path, target="species")
    assert "'setosa' in data row 1" in one_line_error(info)


# --- missing values ------------------------------------------------------------------------


def _gappy_csv(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text(
        "x1,x2,y\n1,2,3\n4,,6\n7,NaN,9\n10,11,\n13,inf,15\n16,17,18\n19,NA,21\n22,23,24\n"
    )
    return path


def test_missing_values_are_counted_per_column(tmp_path):
    source = TabularSource(_gappy_csv(tmp_path), target="y", batch_rows=3)
    with pytest.raises(ValueError, match="drop_na=True") as info:
        list(source.iter_chunks())
    message = one_line_error(info)
    assert "5 row(s) have missing or non-finite values" in message
    assert "column 'x2' 4 (first in data row 2)" in message
    assert "column 'y' 1 (first in data row 4)" in message
    assert "drop_na=True" in message and "gaps.csv" in message


def test_drop_na_matches_pandas_dropna(tmp_path):
    path = _gappy_csv(tmp_path)
    source = TabularSource(path, target="y", drop_na=True, batch_rows=2)
    assert source.n_dropped is None
    X, y = source.read_all()
    expected = pd.read_csv(path).replace([np.inf, -np.inf], np.nan).dropna()
    np.testing.assert_array_equal(X, expected[["x1", "x2"]].to_numpy())
    np.testing.assert_array_equal(y, expected["y"].to_numpy())
    assert source.n_dropped == 5 and source.n_rows == 8


def test_nothing_left_after_drop_na(tmp_path):
    path = tmp_path / "empty_rows.csv"
    path.write_text("x,y\n,1\n2,\n")
    with pytest.raises(ValueError, match="all 2 data rows have a missing"):
        TabularSource(path, target="y", drop_na=True).read_all()


# --- malformed files: one line each --------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, kwargs, expected",
    [
        ("empty.csv", "", {"target": "y"}, "the file is empty"),
        ("blank.csv", "\n\n  \n", {"target": "y"}, "only blank lines"),
        ("header.csv", "a,b,y\n", {"target": "y"}, "has a header but no data rows"),
        ("header2.csv", "a,b,y", {"target": "y"}, "has a header but no data rows"),
        (
            "data.xlsx",
            "a,b\n1,2\n",
            {},
            "workbooks (.xlsx) are not read or written; save the sheet as CSV",
        ),
        ("noext", "a,b\n1,2\n", {}, "from no suffix"),
        (
            "semi.csv",
            "a;b;y\n1;2;3\n",
            {"target": "y"},
            "looks semicolon-separated, not comma-separated: pass delimiter=';'",
        ),
        (
            "tabs.csv",
            "a\tb\ty\n1\t2\t3\n",
            {"target": "y"},
            "looks tab-separated",
        ),
        (
            "comma.csv",
            "a,b,y\n1,2,3\n",
            {"target": "y", "delimiter": ";"},
            "pass delimiter=','",
        ),
        (
            "target.csv",
            "a,b,c\n1,2,3\n",
            {"target": "price"},
            "no column 'price' for the target; the columns are 'a', 'b', 'c'",
        ),
        (
            "features.csv",
            "a,b,y\n1,2,3\n",
            {"target": "y", "features": ["a", "q", "r"]},
            "no column(s) 'q', 'r' (asked for in features)",
        ),
        (
            "text.csv",
            "a,city,y\n1,Paris,3\n2,Rome,4\n",
            {"target": "y"},
            "non-numeric feature column(s) 'city' ('Paris' in data row 1); encode them as "
            "numbers (e.g. one-hot) or leave them out, e.g. features=['a']",
        ),
        ("dup.csv", "a,a,y\n1,2,3\n", {"target": "y"}, "'a' appear more than once"),
        (
            "ragged.csv",
            "a,b,y\n1,2,3\n4,5\n6,7,8\n",
            {"target": "y"},
            "data row 2 has 2 field(s) but the header has 3 (ragged row '4,5')",
        ),
        (
            "long.csv",
            "a,b,y\n1,2,3\n4,5,6,7\n",
            {"target": "y"},
            "data row 2 has 4 field(s) but the header has 3",
        ),
        ("only_target.csv", "y\n1\n", {"target": "y"}, "no feature columns"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, name, content, kwargs, expected):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError) as info:
        TabularSource(path, **kwargs).read_all()
    message = one_line_error(info)
    assert expected in message
    assert str(path) in message


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ValueError, match="no such file") as info:
        TabularSource(tmp_path / "nope.csv", target="y")
    assert "nope.csv" in one_line_error(info)
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        TabularSource(tmp_path / "folder.csv")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"target": "y", "features": ["a", "y"]}, "also listed in features"),
        ({"target": "y", "features": "a,b"}, r"write features=\['a', 'b'\]"),
        ({"target": "y", "features": []}, "features is empty"),
        ({"target": "y", "features": ["a", "a"]}, "more than once"),
        ({"target": "y", "batch_rows": 0}, "batch_rows must be a positive integer"),
        ({"target": "y", "task": "clustering"}, "task must be"),
        ({"target": "y", "delimiter": ";;"}, "delimiter must be one ASCII character"),
        ({"target": 3}, "target must be a column name"),
    ],
)
def test_invalid_arguments(tmp_path, kwargs, match):
    path = tmp_path / "ok.csv"
    path.write_text("a,b,y\n1,2,3\n")
    with pytest.raises(ValueError, match=match):
        TabularSource(path, **kwargs)


# --- check_columns -------------------------------------------------------------------------


def test_check_columns():
    check_columns(["a", "b"], ["b", "a"])
    check_columns(["a", "b"], ["a", "y", "b"], ignore=["y"])
    with pytest.raises(ValueError, match=r"missing column\(s\) 'b'") as info:
        check_columns(["a", "b"], ["a"], source="new.csv")
    assert one_line_error(info).startswith("new.csv is missing")
    with pytest.raises(ValueError, match=r"extra column\(s\) 'z', 'w'"):
        check_columns(["a"], ["a", "z", "w"])
    with pytest.raises(ValueError, match=r"missing .*'c'.* and has extra .*'q'"):
        check_columns(["a", "c"], ["a", "q"])


# --- writing predictions -------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_prediction_writer_round_trip(tmp_path, suffix):
    path = tmp_path / "out" / f"preds{suffix}"  # the folder is created
    rng = np.random.default_rng(8)
    parts = [rng.standard_normal(n) for n in (5, 3, 4)]
    labels = [np.array(["cat", "dog, big", 'say "hi"', "x", "y"]), np.array(["a"] * 3)]
    labels.append(np.array(["b"] * 4))
    with PredictionWriter(path) as writer:
        for values, label in zip(parts, labels, strict=True):
            writer.write({"prediction": values, "label": label})
    assert writer.n_rows == 12
    if suffix == ".parquet":
        back = pd.read_parquet(path)
    else:
        back = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    np.testing.assert_array_equal(back["prediction"].to_numpy(), np.concatenate(parts))
    assert back["label"].tolist() == np.concatenate(labels).tolist()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_prediction_csv_header_quotes_only_when_needed(tmp_path):
    path = tmp_path / "p.csv"
    with PredictionWriter(path) as writer:
        writer.write({"id": np.arange(2), "p(a, b)": np.array([0.5, 0.25])})
    assert path.read_text().splitlines() == ['id,"p(a, b)"', "0,0.5", "1,0.25"]
    X, _ = TabularSource(path).read_all()  # our own reader reads it back
    assert X.tolist() == [[0.0, 0.5], [1.0, 0.25]]


def test_prediction_writer_leaves_nothing_on_failure(tmp_path):
    path = tmp_path / "preds.csv"
    with pytest.raises(RuntimeError, match="boom"):
        with PredictionWriter(path) as writer:
            writer.write({"p": np.arange(3.0)})
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []

    path.write_text("old contents\n")  # an existing file survives a failed write
    with pytest.raises(ValueError, match="pass the same columns every time"):
        with PredictionWriter(path) as writer:
            writer.write({"p": np.arange(3.0)})
            writer.write({"q": np.arange(3.0)})
    assert path.read_text() == "old contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preds.csv"]


@pytest.mark.parametrize(
    "columns, match",
    [
        ({"p": np.zeros((3, 2))}, "must be 1-D"),
        ({"p": np.zeros(3), "q": np.zeros(2)}, "equal lengths"),
        ({}, "non-empty dict"),
    ],
)
def test_prediction_writer_rejects_bad_columns(tmp_path, columns, match):
    path = tmp_path / "p.parquet"
    with pytest.raises(ValueError, match=match):
        with PredictionWriter(path) as writer:
            writer.write(columns)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_prediction_writer_paths(tmp_path):
    with pytest.raises(ValueError, match="cannot tell the output format"):
        PredictionWriter(tmp_path / "preds.json")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        PredictionWriter(tmp_path / "d.csv")
    writer = PredictionWriter(tmp_path / "none.csv")
    with pytest.raises(ValueError, match="no rows were written"):
        writer.close()
    assert not os.path.exists(tmp_path / "none.csv")


def test_prediction_file_gets_ordinary_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        fresh, existing = tmp_path / "fresh.csv", tmp_path / "existing.parquet"
        existing.write_text("old")
        existing.chmod(0o640)
        for path in (fresh, existing):
            with PredictionWriter(path) as writer:
                writer.write({"p": np.arange(2.0)})
    finally:
        os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644  # not the private temporary mode
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640  # kept
    assert pd.read_parquet(existing)["p"].tolist() == [0.0, 1.0]


def test_weight_column_gives_triples_in_every_part(tmp_path):
    rows = [(i, float(i % 3), 2.0 * i, i % 2) for i in range(40)]
    table = pa.table({n: [r[k] for r in rows] for k, n in enumerate(["x", "w", "y", "z"])})
    csv, parquet = tmp_path / "t.csv", tmp_path / "t.parquet"
    pacsv.write_csv(table, csv)
    pq.write_table(table, parquet, row_group_size=16)
    for path in (csv, parquet):
        source = TabularSource(path, target="y", weight="w", batch_rows=7)
        assert source.feature_names == ["x", "z"]
        X, y, w = source.read_all()
        np.testing.assert_array_equal(w, [r[1] for r in rows])
        np.testing.assert_array_equal(X[:, 0], [r[0] for r in rows])
        assert all(len(chunk) == 3 for chunk in source.iter_chunks())
        part = (
            source.restrict(row_groups=[1, 2])
            if path == parquet
            else source.restrict(byte_range=(source.data_offset, csv.stat().st_size))
        )
        Xp, _, wp = part.read_all()
        np.testing.assert_array_equal(wp, w[len(w) - len(wp) :])
        assert Xp.shape[1] == 2


def test_a_column_of_numbers_with_a_few_text_cells_is_named_not_made_categorical(tmp_path):
    rng = np.random.default_rng(0)
    values = [f"{v:.4f}" for v in rng.normal(size=500)]
    values[17] = "1_000"  # a typo: Python's float() would accept it, a CSV reader does not
    path = tmp_path / "typo.csv"
    path.write_text("a,b,y\n" + "".join(f"{a},{i % 3},{i}\n" for i, a in enumerate(values)))
    source = TabularSource(path, target="y", allow_text=True)
    assert source.text_features == ["a"]
    with pytest.raises(ParameterError, match=r"column 'a' holds numbers, but also the text "
                       r"'1_000' in data row 18; fix that cell \(or leave it empty and pass "
                       r"drop_na=True\), or if the column is categorical, write it as C\(a\) "
                       r"in formula$"):  # fmt: skip
        source.check_stray_text()
    # a real categorical column, or one with too many text cells to be typos, passes
    for column in (["red", "blue"] * 250, ["1", "2", "x", "y", "z", "w"] * 83 + ["1", "2"]):
        path.write_text("a,y\n" + "".join(f"{a},{i}\n" for i, a in enumerate(column)))
        TabularSource(path, target="y", allow_text=True).check_stray_text()


@pytest.mark.parametrize(
    "value", ["1.5", "-2e-3", ".5", "5.", "inf", "-NaN", "1_000", "0x1A", "1,5", "?", "1e"]
)
def test_is_number_agrees_with_the_csv_reader(value):
    try:
        pacsv.read_csv(
            pa.py_buffer(f"a\n{value}\n".encode()),
            parse_options=pacsv.ParseOptions(delimiter=";"),
            convert_options=pacsv.ConvertOptions(column_types={"a": pa.float64()}),
        )
        parsed = True
    except pa.ArrowInvalid:
        parsed = False
    assert is_number(value) is parsed


def test_class_labels_with_a_fractional_part_are_refused_on_opening(tmp_path):
    path = tmp_path / "fractions.csv"
    path.write_text("a,y\n1,1\n2,2.0\n3,2.25\n")
    with pytest.raises(ValueError) as info:
        TabularSource(path, target="y", task="classification")
    assert str(info.value) == (
        f"{path}: the target column 'y' holds numbers with a fractional part (2.25 in data row "
        "3), not class labels; classification needs whole numbers or text as labels: for a "
        "numeric target use task='regression'"
    )
    whole = tmp_path / "whole.csv"  # whole numbers written as floats are labels
    whole.write_text("a,y\n1,1.0\n2,2.0\n")
    _, y = TabularSource(whole, target="y", task="classification").read_all()
    assert y.tolist() == [1.0, 2.0]


def test_an_unnamed_column_is_not_taken_for_a_feature(tmp_path):
    # pandas' to_csv writes its row index as a first column without a name: taken for a
    # feature, the row number became a regressor
    path = tmp_path / "indexed.csv"
    path.write_text(",a,b,y\n0,1.5,2,3\n1,2.5,1,4\n2,0.5,3,5\n")
    with pytest.raises(
        ParameterError, match=r"column 1 of the header has no name .*features=\['a', 'b'\]"
    ):
        TabularSource(path, target="y")
    X, y = TabularSource(path, target="y", features=["a", "b"]).read_all()
    assert X.tolist() == [[1.5, 2.0], [2.5, 1.0], [0.5, 3.0]] and y.tolist() == [3.0, 4.0, 5.0]
