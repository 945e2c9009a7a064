"""Tests for the streaming CSV/Parquet reader and the atomic prediction writer.

The reference for every read is pandas (``read_csv`` with round-trip float parsing, or
``read_parquet``) on the same file; files are generated in ``tmp_path``.
"""

import os
import stat

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from torchlinear.data import PredictionWriter, TabularSource, check_columns


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x1": rng.standard_normal(n),
            "count": rng.integers(-50, 50, n),
            "x3": rng.standard_normal(n) * 1e-5,
            "big": rng.standard_normal(n) * 1e12,
            "y": rng.standard_normal(n),
        }
    )


def _write_csv(path, frame: pd.DataFrame, **kwargs) -> None:
    frame.to_csv(path, index=False, **kwargs)


def _read(source: TabularSource):
    chunks = list(source.iter_chunks())
    X = np.concatenate([X for X, _ in chunks])
    y = None if source.target is None else np.concatenate([y for _, y in chunks])
    return chunks, X, y


def _one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


# --- reading equals pandas -----------------------------------------------------------------


@pytest.mark.parametrize("batch_rows", [1, 7, 1000])
def test_csv_chunks_equal_pandas(tmp_path, batch_rows):
    path = tmp_path / "data.csv"
    _write_csv(path, _frame(250, seed=1))
    source = TabularSource(path, target="y", batch_rows=batch_rows)
    assert source.format == "csv" and source.feature_names == ["x1", "count", "x3", "big"]
    assert source.n_rows is None  # unknown for CSV until a pass is complete

    chunks, X, y = _read(source)
    expected = pd.read_csv(path)
    np.testing.assert_array_equal(X, expected[["x1", "count", "x3", "big"]].to_numpy(float))
    np.testing.assert_array_equal(y, expected["y"].to_numpy())
    sizes = [len(X) for X, _ in chunks]
    assert all(s == batch_rows for s in sizes[:-1]) and 0 < sizes[-1] <= batch_rows
    assert all(X.dtype == np.float64 and X.flags.c_contiguous for X, _ in chunks)
    assert source.n_rows == 250 and source.n_dropped == 0


def test_large_csv_streams_across_parser_blocks(tmp_path):
    # About 2.6 MB: several parser blocks, and chunk edges that do not align with them.
    path = tmp_path / "large.csv"
    frame = _frame(30_000, seed=2)
    _write_csv(path, frame)
    assert path.stat().st_size > 2 * (1 << 20)
    source = TabularSource(path, target="y", features=["big", "x1"], batch_rows=4_099)
    _, X, y = _read(source)
    expected = pd.read_csv(path)
    np.testing.assert_array_equal(X, expected[["big", "x1"]].to_numpy())
    np.testing.assert_array_equal(y, expected["y"].to_numpy())


def test_parquet_chunks_equal_pandas(tmp_path):
    path = tmp_path / "data.parquet"
    frame = _frame(500, seed=3)
    frame["flag"] = frame["x1"] > 0
    frame["small"] = frame["count"].astype("int16")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=64)
    source = TabularSource(path, target="y", batch_rows=37)
    assert source.format == "parquet" and source.n_rows == 500  # from the metadata
    chunks, X, y = _read(source)
    expected = pd.read_parquet(path)
    names = ["x1", "count", "x3", "big", "flag", "small"]
    assert source.feature_names == names
    np.testing.assert_array_equal(X, expected[names].to_numpy(float))
    np.testing.assert_array_equal(y, expected["y"].to_numpy())
    assert all(len(c[0]) == 37 for c in chunks[:-1])


def test_reiteration_gives_the_same_data(tmp_path):
    path = tmp_path / "data.csv"
    _write_csv(path, _frame(100, seed=4))
    source = TabularSource(path, target="y", batch_rows=30)
    first, second = _read(source), _read(source)
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(first[2], second[2])
    # Stopping a pass early does not disturb the next one.
    next(iter(source))
    np.testing.assert_array_equal(_read(source)[1], first[1])
    # read_all gives the same table in one piece.
    X, y = source.read_all()
    np.testing.assert_array_equal(X, first[1])
    np.testing.assert_array_equal(y, first[2])


def test_features_subset_order_and_no_target(tmp_path):
    path = tmp_path / "data.csv"
    frame = _frame(20, seed=5)
    _write_csv(path, frame)
    source = TabularSource(path, features=["x3", "x1"])
    X, y = source.read_all()
    assert y is None and source.target is None and source.n_features == 2
    np.testing.assert_array_equal(X, pd.read_csv(path)[["x3", "x1"]])
    X_all, _ = TabularSource(path).read_all()  # no target: every column is a feature
    assert X_all.shape == (20, 5)


def test_tsv_and_explicit_delimiter(tmp_path):
    frame = _frame(15, seed=6)
    tsv, semi = tmp_path / "data.tsv", tmp_path / "data.txt"
    _write_csv(tsv, frame, sep="\t")
    _write_csv(semi, frame, sep=";")
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


def test_classification_from_dictionary_encoded_parquet(tmp_path):
    path = tmp_path / "labels.parquet"
    table = pa.table(
        {"x": [1.0, 2.0, 3.0, 4.0], "label": pa.array(["a", "b", None, "a"]).dictionary_encode()}
    )
    pq.write_table(table, path)
    source = TabularSource(path, target="label", task="classification", drop_na=True)
    X, y = source.read_all()
    assert y.tolist() == ["a", "b", "a"] and X.ravel().tolist() == [1.0, 2.0, 4.0]
    assert source.n_dropped == 1


def test_string_target_for_regression_suggests_classification(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text("a,species\n1,setosa\n")
    with pytest.raises(ValueError, match="task='classification'") as info:
        TabularSource(path, target="species")
    assert "'setosa' in data row 1" in _one_line_error(info)


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
    message = _one_line_error(info)
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


def test_parquet_nulls_are_missing_values(tmp_path):
    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"x": pa.array([1, None, 3], pa.int64()), "y": [1.0, 2.0, 3.0]}), path)
    with pytest.raises(ValueError, match=r"column 'x' 1 \(first in data row 2\)"):
        TabularSource(path, target="y").read_all()
    X, y = TabularSource(path, target="y", drop_na=True).read_all()
    assert X.ravel().tolist() == [1.0, 3.0] and y.tolist() == [1.0, 3.0]


# --- malformed files: one line each --------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, kwargs, expected",
    [
        ("empty.csv", "", {"target": "y"}, "the file is empty"),
        ("blank.csv", "\n\n  \n", {"target": "y"}, "only blank lines"),
        ("header.csv", "a,b,y\n", {"target": "y"}, "has a header but no data rows"),
        ("header2.csv", "a,b,y", {"target": "y"}, "has a header but no data rows"),
        ("data.xlsx", "a,b\n1,2\n", {}, "cannot tell the data format from suffix '.xlsx'"),
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
    message = _one_line_error(info)
    assert expected in message
    assert str(path) in message


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ValueError, match="no such file") as info:
        TabularSource(tmp_path / "nope.csv", target="y")
    assert "nope.csv" in _one_line_error(info)
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        TabularSource(tmp_path / "folder.csv")


def test_text_value_far_down_a_numeric_column(tmp_path):
    # The first megabyte looks numeric, so the bad value is met while streaming.
    path = tmp_path / "late.csv"
    n = 120_000
    with open(path, "w") as f:
        f.write("a,b,y\n")
        f.write("1.25,2.5,3\n" * n)
        f.write("4,n/a?,6\n")
        f.write("1,2,3\n" * 10)
    assert path.stat().st_size > 1 << 20
    source = TabularSource(path, target="y")
    with pytest.raises(ValueError) as info:
        list(source.iter_chunks())
    message = _one_line_error(info)
    assert f"column 'b' has the non-numeric value 'n/a?' in data row {n + 1}" in message
    assert "leave the column out with features" in message


def test_ragged_row_far_down_is_located(tmp_path):
    path = tmp_path / "late_ragged.csv"
    n = 120_000
    with open(path, "w") as f:
        f.write("a,b,y\n" + "1.25,2.5,3\n" * n + "4,5\n" + "1,2,3\n" * 5)
    with pytest.raises(ValueError) as info:
        TabularSource(path, target="y").read_all()
    assert f"data row {n + 1} has 2 field(s) but the header has 3" in _one_line_error(info)


def test_inconsistent_class_labels(tmp_path):
    path = tmp_path / "labels.csv"
    with open(path, "w") as f:
        f.write("x,label\n" + "1.5,1\n" * 250_000 + "2,cat\n")
    with pytest.raises(ValueError, match=r"'label' has the value 'cat' in data row 250001"):
        TabularSource(path, target="label", task="classification").read_all()


def test_corrupt_parquet(tmp_path):
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"this is not a parquet file at all")
    with pytest.raises(ValueError, match="not a valid Parquet file") as info:
        TabularSource(junk)
    assert "junk.parquet" in _one_line_error(info)

    good = tmp_path / "good.parquet"
    rng = np.random.default_rng(7)
    pq.write_table(pa.table({"x": rng.standard_normal(5000), "y": rng.standard_normal(5000)}), good)
    raw = bytearray(good.read_bytes())
    raw[4:40] = b"\x07" * 36  # garble the first page header, keep the footer
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(bytes(raw))
    source = TabularSource(damaged, target="y")  # the footer still reads
    with pytest.raises(ValueError, match="Parquet file is corrupt") as info:
        source.read_all()
    assert "damaged.parquet" in _one_line_error(info)


def test_empty_parquet(tmp_path):
    path = tmp_path / "empty.parquet"
    pq.write_table(
        pa.table({"x": pa.array([], pa.float64()), "y": pa.array([], pa.float64())}), path
    )
    with pytest.raises(ValueError, match="no data rows"):
        TabularSource(path, target="y")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"target": "y", "features": ["a", "y"]}, "also listed in features"),
        ({"target": "y", "features": "a,b"}, r"write features=\['a', 'b'\]"),
        ({"target": "y", "features": []}, "features is empty"),
        ({"target": "y", "features": ["a", "a"]}, "more than once"),
        ({"target": "y", "batch_rows": 0}, "batch_rows must be a positive integer"),
        ({"target": "y", "task": "clustering"}, "task must be"),
        ({"target": "y", "delimiter": ";;"}, "delimiter must be a single character"),
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
    assert _one_line_error(info).startswith("new.csv is missing")
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


# --- parallel blocks: every block reads as the sequential reader reads it -----------------


@pytest.fixture
def small_blocks(monkeypatch):
    """CSV blocks of 2 kB, so that small files span dozens of blocks."""
    import torchlinear.data.csv_reader as csv_reader

    monkeypatch.setattr(csv_reader, "_CSV_BLOCK_BYTES", 2048)


def test_blocks_with_gaps_blank_lines_and_nan_texts_equal_pandas(tmp_path, small_blocks):
    # Clean blocks go through the fast parser; blocks with an empty cell, a blank line,
    # NA or nan go through pyarrow: the rows, their order and the gaps equal pandas'.
    frame = _frame(3_000, seed=7)
    lines = frame.to_csv(index=False).splitlines()
    lines[700] = ",".join(["", *lines[700].split(",")[1:]])  # empty cell
    lines[1500] = lines[1500].replace(lines[1500].split(",")[2], "NA", 1)
    lines[2200] = lines[2200].replace(lines[2200].split(",")[0], "nan", 1)
    lines.insert(2600, "")  # a blank line, skipped
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join(lines) + "\n\n")
    expected = pd.read_csv(path).dropna()
    source = TabularSource(path, target="y", drop_na=True, batch_rows=333)
    chunks, X, y = _read(source)
    np.testing.assert_array_equal(X, expected[["x1", "count", "x3", "big"]].to_numpy(float))
    np.testing.assert_array_equal(y, expected["y"].to_numpy())
    assert source.n_rows == 3_000 and source.n_dropped == 3
    with pytest.raises(ValueError, match=r"'x1' 2 \(first in data row 700\)") as excinfo:
        list(TabularSource(path, target="y").iter_chunks())
    assert "'x3' 1 (first in data row 1500)" in _one_line_error(excinfo)


def test_blocks_equal_a_sequential_read_of_a_part(tmp_path, small_blocks):
    path = tmp_path / "part.csv"
    _write_csv(path, _frame(2_000, seed=8))
    source = TabularSource(path, target="y")
    with open(path, "rb") as f:
        f.seek(30_000)
        f.readline()
        start = f.tell()
        f.seek(90_000)
        f.readline()
        stop = f.tell()
    X, y = source.restrict(byte_range=(start, stop)).read_all()
    skipped = path.read_bytes()[source.data_offset : start].count(b"\n")
    kept = path.read_bytes()[start:stop].count(b"\n")
    expected = pd.read_csv(path).iloc[skipped : skipped + kept]
    np.testing.assert_array_equal(X, expected[["x1", "count", "x3", "big"]].to_numpy(float))
    np.testing.assert_array_equal(y, expected["y"].to_numpy())


@pytest.mark.parametrize("row", ["1.5,2.5", "1.5,2.5,3.5,4.5,5.5,6.5"])
def test_ragged_row_in_a_late_block_is_located(tmp_path, small_blocks, row):
    # A row too short (in a column not even selected) or too long, far into the file.
    path = tmp_path / "ragged.csv"
    lines = ["a,b,c,d,e"] + [f"{i},{i + 1},{i + 2},{i + 3},{i + 4}" for i in range(60_000)]
    lines[51_234] = row  # beyond the first megabyte, which is checked on opening
    path.write_text("\n".join(lines) + "\n")
    source = TabularSource(path, target="a", features=["b"])
    with pytest.raises(ValueError, match="data row 51234 has") as excinfo:
        list(source.iter_chunks())
    assert "ragged row" in _one_line_error(excinfo)


def test_text_in_a_numeric_column_in_a_late_block(tmp_path, small_blocks):
    path = tmp_path / "text.csv"
    lines = ["a,b"] + [f"{i},{i * 0.5}" for i in range(120_000)]
    lines[112_345] = "7,seven"  # beyond the first megabyte, which is checked on opening
    path.write_text("\n".join(lines) + "\n")
    source = TabularSource(path, target="b")
    message = r"column 'b' has the non-numeric value 'seven' in data row 112345"
    with pytest.raises(ValueError, match=message):
        list(source.iter_chunks())


# --- Parquet: the streaming reader, its slices and parts ------------------------------------


def _numeric_parquet(path, n=2_000, row_group_size=300):
    frame = _frame(n, seed=11)
    frame["flag"] = frame["x1"] > 0
    frame["small"] = frame["count"].astype("int16")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    x3 = table.column("x3").to_pylist()
    x3[5] = None  # a null, read as a missing value
    table = table.set_column(2, "x3", pa.array(x3, pa.float64()))
    pq.write_table(table, path, row_group_size=row_group_size)
    return pd.read_parquet(path)


@pytest.mark.parametrize("slice_bytes, group_bytes", [(None, None), (4_000, None), (None, 1)])
def test_parquet_reads_like_pandas_in_every_reader(tmp_path, monkeypatch, slice_bytes, group_bytes):
    """Default, slices smaller than a row group, and pyarrow for row groups too large."""
    import torchlinear.data.parquet_reader as parquet_reader

    if slice_bytes:
        monkeypatch.setattr(parquet_reader, "_POLARS_SLICE_BYTES", slice_bytes)
    if group_bytes:
        monkeypatch.setattr(parquet_reader, "_POLARS_ROW_GROUP_BYTES", group_bytes)
    path = tmp_path / "numbers.parquet"
    expected = _numeric_parquet(path).dropna()
    source = TabularSource(path, target="y", drop_na=True, batch_rows=128)
    chunks, X, y = _read(source)
    names = ["x1", "count", "x3", "big", "flag", "small"]
    np.testing.assert_array_equal(X, expected[names].to_numpy(float))
    np.testing.assert_array_equal(y, expected["y"].to_numpy())
    assert all(c[0].flags.c_contiguous and c[0].dtype == np.float64 for c in chunks)
    assert source.n_dropped == 1 and source.n_rows == 2_000
    whole = TabularSource(path, target="y", features=["x1", "flag"], batch_rows=128)
    assert [len(X) for X, _ in whole.iter_chunks()] == [128] * 15 + [80]  # exact sizes
    with pytest.raises(ValueError, match=r"column 'x3' 1 \(first in data row 6\)"):
        TabularSource(path, target="y").read_all()


@pytest.mark.parametrize("slice_bytes", [None, 4_000])
def test_parquet_row_group_parts_keep_their_order(tmp_path, monkeypatch, slice_bytes):
    import torchlinear.data.parquet_reader as parquet_reader

    if slice_bytes:
        monkeypatch.setattr(parquet_reader, "_POLARS_SLICE_BYTES", slice_bytes)
    path = tmp_path / "groups.parquet"
    frame = _numeric_parquet(path, n=1_000, row_group_size=100).fillna(0.0)
    source = TabularSource(path, target="y", features=["x1", "count"], drop_na=True)
    groups = [3, 4, 0, 9, 8]
    part = source.restrict(row_groups=groups)
    X, y = part.read_all()
    rows = np.concatenate([np.arange(100 * g, 100 * g + 100) for g in groups])
    np.testing.assert_array_equal(X, frame[["x1", "count"]].to_numpy(float)[rows])
    np.testing.assert_array_equal(y, frame["y"].to_numpy()[rows])
    assert part.n_rows == 500
    assert source.restrict(row_groups=[]).read_all()[0].shape == (0, 2)
