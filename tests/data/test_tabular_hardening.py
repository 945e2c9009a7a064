"""Reader hardening: decimal commas, integer-looking labels, budgets, compressed files."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from torchlinear._memory import memory_limit
from torchlinear.data.tabular import TabularSource


def test_decimal_commas_in_a_semicolon_file_read_with_commas(tmp_path: Path) -> None:
    path = tmp_path / "dc.csv"
    path.write_text("a;b;y\n1,5;2,5;3\n2,0;1,25;4\n")
    with pytest.raises(ValueError, match="decimal commas") as err:
        TabularSource(path, target="y")
    message = str(err.value)
    assert "ragged" not in message and str(path) in message
    assert "delimiter=';'" in message and "'1,5'" in message


def test_decimal_commas_with_the_right_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "dc.csv"
    path.write_text("a;b;y\n1,5;2;3\n2,0;1;4\n")
    with pytest.raises(
        ValueError,
        match=r"'a' \('1,5' in data row 1\) hold numbers written "
        "with decimal commas",
    ) as err:
        TabularSource(path, target="y", delimiter=";")
    assert str(path) in str(err.value)


def test_decimal_commas_are_not_taken_for_text_levels(tmp_path: Path) -> None:
    # with text columns allowed (one-hot encoded), '0,5' must not become a category
    path = tmp_path / "dc.csv"
    path.write_text("a;b;y\n" + "0,5;1;2,5\n1,5;2;3\n" * 20)
    source = TabularSource(path, target="b", features=["a"], delimiter=";", allow_text=True)
    with pytest.raises(ValueError, match=r"column 'a' \('0,5' in data row 1\) holds numbers "):
        source.check_stray_text()
    # the target read as text would be taken for class labels
    labels = TabularSource(path, target="y", features=["b"], delimiter=";", task="classification")
    with pytest.raises(ValueError, match=r"target 'y' \('2,5' in data row 1\) holds numbers "):
        labels.check_stray_target()
    with pytest.raises(ValueError, match=r"the target 'y' \('2,5' in data row 1\) holds num"):
        TabularSource(path, target="y", features=["b"], delimiter=";")
    # text that merely contains a comma stays text
    path.write_text("a;b;y\n" + "x,1;1;2\n1,5;2;3\n" * 20)
    source = TabularSource(path, target="b", features=["a"], delimiter=";", allow_text=True)
    source.check_stray_text()
    assert source.text_features == ["a"]


def test_labels_one_and_zero_one_stay_distinct(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("x,y\n1,1\n2,01\n3,2\n4,1\n")
    _, y = TabularSource(path, target="y", task="classification").read_all()
    assert y.tolist() == ["1", "01", "2", "1"]
    assert len(set(y.tolist())) == 3
    # usual integers stay integers, and regression reads numbers
    path.write_text("x,y\n1,1\n2,3\n3,2\n")
    _, y = TabularSource(path, target="y", task="classification").read_all()
    assert y.dtype == np.int64 and y.tolist() == [1, 3, 2]
    path.write_text("x,y\n1,1\n2,01\n")
    _, y = TabularSource(path, target="y").read_all()
    assert y.tolist() == [1.0, 1.0]


def test_a_late_zero_padded_label_is_refused_with_its_row(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("x,y\n" + "1,1\n2,2\n" * 300_000 + "3,02\n")
    with pytest.raises(ValueError, match=r"'y' has the value '02' in data row 600001"):
        TabularSource(path, target="y", task="classification").read_all()


def test_the_header_width_is_checked_against_the_budget(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    d = 5000
    path.write_text(",".join(f"c{j}" for j in range(d)) + "\n" + ",".join("1" * d) + "\n")
    with memory_limit("10M"), pytest.raises(ValueError, match="5,000 columns need") as err:
        TabularSource(path, target="c0")
    assert str(path) in str(err.value) and "memory_limit" in str(err.value)
    with memory_limit("1G"):
        X, y = TabularSource(path, target="c0").read_all()
    assert X.shape == (1, d - 1) and y.tolist() == [1.0]


def test_chunks_shrink_under_a_small_budget(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    np.savetxt(path, np.ones((50, 10)), delimiter=",", header=",".join("abcdefghij"), comments="")
    with memory_limit("1M"):
        source = TabularSource(path, target="j")
    # 1 MiB / 8 of float64 bytes a chunk, 10 columns of 8 bytes each
    assert source.batch_rows == (1 << 20) // 8 // 80


def test_gzip_csv_streams_in_chunks_and_cannot_be_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    values = np.round(rng.normal(size=(2000, 3)), 5)
    text = "a,b,y\n" + "".join(f"{a},{b},{c}\n" for a, b, c in values)
    path = tmp_path / "t.tsv.gz"
    path.write_bytes(gzip.compress(text.replace(",", "\t").encode()))
    source = TabularSource(path, target="y", batch_rows=300)
    chunks = [X for X, _ in source.iter_chunks()]
    assert [len(X) for X in chunks] == [300] * 6 + [200]
    np.testing.assert_array_equal(np.concatenate(chunks), values[:, :2])
    assert source.data_offset is None
    with pytest.raises(ValueError, match="uncompressed CSV files only"):
        source.restrict(byte_range=(0, 10))


def test_a_truncated_gzip_file_is_one_value_error(tmp_path: Path) -> None:
    data = gzip.compress(("a,y\n" + "1,2\n" * 400_000).encode())
    path = tmp_path / "t.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated") as err:
        TabularSource(path, target="y").read_all()
    assert str(path) in str(err.value)


def test_a_compressed_parquet_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet.gz"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match="compressed data file must be a CSV"):
        TabularSource(path)


def test_lone_carriage_returns_are_refused_not_read_as_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(b"a,b,y\r1,2,3\r4,5,7\r6,1,2\r")
    with pytest.raises(ValueError, match="carriage return alone"):
        TabularSource(path, target="y")
    path.write_bytes(b"\xef\xbb\xbfa,b,y\r\n1,2,3\r\n4,5,7\r\n6,1,2\r\n")  # BOM and CRLF read
    X, y = TabularSource(path, target="y").read_all()
    assert X.tolist() == [[1, 2], [4, 5], [6, 1]] and y.tolist() == [3, 7, 2]


def test_a_pipe_or_device_is_not_called_a_folder(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    for path in (fifo, tmp_path / "zero.csv"):
        with pytest.raises(ValueError, match="is not a regular file"):
            TabularSource(path, target="y")


def test_a_text_column_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("a,b,y\n1,x,3\n4,\xe9t\xe9,6\n".encode("latin1"))
    with pytest.raises(ValueError, match=r"'b' is not valid UTF-8 text \(byte 0xe9 in data row 2"):
        TabularSource(path, target="y", allow_text=True)


def test_a_csv_date_column_is_not_called_bytes(tmp_path: Path) -> None:
    path = tmp_path / "dates.csv"
    path.write_text("day,a,y\n2024-01-01,1,2\n2024-01-02,2,3\n2024-01-03,3,5\n")
    with pytest.raises(ValueError) as info:
        TabularSource(path, target="y", allow_text=True)
    assert str(info.value) == (
        f"{path}: feature column(s) 'day' hold date32[day], neither numbers nor text; convert "
        "them to numbers or text first, or leave them out, e.g. features=['a']"
    )
