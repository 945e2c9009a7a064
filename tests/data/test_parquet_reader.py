"""Tests for the Parquet reader (torchlinear.data.parquet_reader) through TabularSource.

Reads in batches smaller and larger than the row groups, parts of the file, nulls,
dictionary-encoded labels, corrupt files and the memory a pass over large row groups holds.
The reference for every read is pandas' ``read_parquet`` on the same file.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _tables import numbers, one_line_error, read

import torchlinear.data.parquet_reader as parquet_reader
from torchlinear._memory import memory_limit
from torchlinear.data import TabularSource


def test_parquet_chunks_equal_pandas(tmp_path):
    path = tmp_path / "data.parquet"
    frame = numbers(500, seed=3)
    frame["flag"] = frame["x1"] > 0
    frame["small"] = frame["count"].astype("int16")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=64)
    source = TabularSource(path, target="y", batch_rows=37)
    assert source.format == "parquet" and source.n_rows == 500  # from the metadata
    chunks, X, y = read(source)
    expected = pd.read_parquet(path)
    names = ["x1", "count", "x3", "big", "flag", "small"]
    assert source.feature_names == names
    np.testing.assert_array_equal(X, expected[names].to_numpy(float))
    np.testing.assert_array_equal(y, expected["y"].to_numpy())
    assert all(len(c[0]) == 37 for c in chunks[:-1])


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


def test_parquet_nulls_are_missing_values(tmp_path):
    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"x": pa.array([1, None, 3], pa.int64()), "y": [1.0, 2.0, 3.0]}), path)
    with pytest.raises(ValueError, match=r"column 'x' 1 \(first in data row 2\)"):
        TabularSource(path, target="y").read_all()
    X, y = TabularSource(path, target="y", drop_na=True).read_all()
    assert X.ravel().tolist() == [1.0, 3.0] and y.tolist() == [1.0, 3.0]


def test_corrupt_parquet(tmp_path):
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"this is not a parquet file at all")
    with pytest.raises(ValueError, match="not a valid Parquet file") as info:
        TabularSource(junk)
    assert "junk.parquet" in one_line_error(info)

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
    assert "damaged.parquet" in one_line_error(info)


def test_empty_parquet(tmp_path):
    path = tmp_path / "empty.parquet"
    pq.write_table(
        pa.table({"x": pa.array([], pa.float64()), "y": pa.array([], pa.float64())}), path
    )
    with pytest.raises(ValueError, match="no data rows"):
        TabularSource(path, target="y")


def _numeric_parquet(path, n=2_000, row_group_size=300):
    frame = numbers(n, seed=11)
    frame["flag"] = frame["x1"] > 0
    frame["small"] = frame["count"].astype("int16")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    x3 = table.column("x3").to_pylist()
    x3[5] = None  # a null, read as a missing value
    table = table.set_column(2, "x3", pa.array(x3, pa.float64()))
    pq.write_table(table, path, row_group_size=row_group_size)
    return pd.read_parquet(path)


@pytest.mark.parametrize("read_buffer", [None, 64])
@pytest.mark.parametrize("batch_rows", [128, 1_000])
def test_parquet_reads_like_pandas(tmp_path, monkeypatch, read_buffer, batch_rows):
    """Batches smaller and larger than the row groups, and a read buffer of a few bytes."""
    if read_buffer:
        monkeypatch.setattr(parquet_reader, "_READ_BUFFER_BYTES", read_buffer)
    path = tmp_path / "numbers.parquet"
    expected = _numeric_parquet(path).dropna()
    source = TabularSource(path, target="y", drop_na=True, batch_rows=batch_rows)
    chunks, X, y = read(source)
    names = ["x1", "count", "x3", "big", "flag", "small"]
    np.testing.assert_array_equal(X, expected[names].to_numpy(float))
    np.testing.assert_array_equal(y, expected["y"].to_numpy())
    assert all(c[0].strides[0] == 8 and c[0].dtype == np.float64 for c in chunks)
    assert source.n_dropped == 1 and source.n_rows == 2_000
    whole = TabularSource(path, target="y", features=["x1", "flag"], batch_rows=128)
    assert [len(X) for X, _ in whole.iter_chunks()] == [128] * 15 + [80]  # exact sizes
    with pytest.raises(ValueError, match=r"column 'x3' 1 \(first in data row 6\)"):
        TabularSource(path, target="y").read_all()


@pytest.mark.parametrize("batch_rows", [None, 30])
def test_parquet_row_group_parts_keep_their_order(tmp_path, batch_rows):
    path = tmp_path / "groups.parquet"
    frame = _numeric_parquet(path, n=1_000, row_group_size=100).fillna(0.0)
    source = TabularSource(
        path, target="y", features=["x1", "count"], drop_na=True, batch_rows=batch_rows
    )
    groups = [3, 4, 0, 9, 8]
    part = source.restrict(row_groups=groups)
    X, y = part.read_all()
    rows = np.concatenate([np.arange(100 * g, 100 * g + 100) for g in groups])
    np.testing.assert_array_equal(X, frame[["x1", "count"]].to_numpy(float)[rows])
    np.testing.assert_array_equal(y, frame["y"].to_numpy()[rows])
    assert part.n_rows == 500
    assert source.restrict(row_groups=[]).read_all()[0].shape == (0, 2)


_HELD_BY_A_PASS = """
import sys
from pathlib import Path
from torchlinear.data import TabularSource


def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024


# a first pass over a small file of the same columns loads what reading needs
sum(len(X) for X, _ in TabularSource(sys.argv[2], target="y").iter_chunks())
source = TabularSource(sys.argv[1], target="y", batch_rows=10_000)
Path("/proc/self/clear_refs").write_text("5")  # the peak restarts from the current size
start = status("VmRSS")
rows = sum(len(X) for X, _ in source.iter_chunks())
print(rows, status("VmHWM") - start)
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_a_pass_over_one_large_row_group_holds_a_batch_not_the_row_group(tmp_path):
    """One row group of 60 MB: the pass streams its pages instead of reading it whole."""
    n, rng = 1_500_000, np.random.default_rng(0)
    columns = {f"x{j}": rng.standard_normal(n) for j in range(4)} | {"y": rng.standard_normal(n)}
    path, small = tmp_path / "one_group.parquet", tmp_path / "small.parquet"
    pq.write_table(pa.table(columns), path, row_group_size=n, compression="none")
    pq.write_table(pa.table(columns).slice(0, 100), small)
    assert pq.ParquetFile(path).metadata.num_row_groups == 1
    done = subprocess.run(
        [sys.executable, "-c", _HELD_BY_A_PASS, str(path), str(small)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows, grown = map(int, done.stdout.split())
    assert rows == n
    assert grown < 40 << 20, f"the pass grew by {grown / 2**20:.0f} MB (row group: 60 MB)"


def test_long_text_is_read_a_few_rows_at_a_time(tmp_path):
    """A column repeating a 1 MB value compresses to almost nothing: the metadata's
    uncompressed sizes size the chunks, so a pass never holds more than a few MB of it."""
    path = tmp_path / "long.parquet"
    big = "z" * 1_000_000
    pq.write_table(
        pa.table({"a": np.arange(40.0), "s": [big] * 40, "y": np.arange(40.0) * 2}),
        path, use_dictionary=False, compression="zstd", row_group_size=40,
    )  # fmt: skip
    assert path.stat().st_size < 200_000
    source = TabularSource(path, target="y", features=["a", "s"], allow_text=True)
    assert source.read_rows <= 20
    tables = list(source.iter_tables())
    assert max(t.num_rows for t in tables) == source.read_rows
    assert sum(t.num_rows for t in tables) == 40
    assert pd.read_parquet(path)["s"].eq(big).all()


def test_a_dictionary_of_long_text_is_refused_before_decoding(tmp_path):
    path = tmp_path / "dict.parquet"
    values = pa.DictionaryArray.from_arrays(pa.array(np.zeros(300, np.int32)), ["z" * 1_000_000])
    pq.write_table(pa.table({"a": np.arange(300.0), "s": values, "y": np.arange(300.0)}), path)
    with memory_limit("200M"):
        source = TabularSource(path, target="y", allow_text=True)
        with pytest.raises(ValueError, match="dictionary-encoded text columns") as info:
            list(source.iter_tables())
    assert "--" not in one_line_error(info)


@pytest.mark.parametrize(
    "column",
    [
        pa.array([[1.0], [2.0], [3.0]]),
        pa.array([{"p": 1}, {"p": 2}, {"p": 3}]),
        pa.array([1, 2, 3], pa.timestamp("s")),
        pa.array([b"x", b"y", b"z"]),
    ],
)
def test_columns_neither_numbers_nor_text_are_refused_as_features(tmp_path, column):
    path = tmp_path / "odd.parquet"
    pq.write_table(pa.table({"a": column, "b": [1.0, 2.0, 3.0], "y": [1.0, 2, 4]}), path)
    with pytest.raises(ValueError, match=r"column\(s\) 'a' hold .*neither numbers nor text"):
        TabularSource(path, target="y", allow_text=True)
    source = TabularSource(path, target="y", features=["b"], allow_text=True)
    assert source.read_all()[0].ravel().tolist() == [1.0, 2.0, 3.0]


def test_unsigned_integers_beyond_2_53_are_read_as_the_nearest_float(tmp_path):
    path = tmp_path / "u64.parquet"
    values = np.array([1, 2**53 + 1, 2**64 - 1], dtype=np.uint64)
    pq.write_table(pa.table({"a": values, "y": [1.0, 2.0, 3.0]}), path)
    X, _ = TabularSource(path, target="y").read_all()
    assert X.ravel().tolist() == values.astype(np.float64).tolist()
