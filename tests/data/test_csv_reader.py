"""Tests for the CSV reader (torchlinear.data.csv_reader) through TabularSource.

The parallel block parser, the sequential fallback and the location of a bad row or value
far down a file. The reference for every read is pandas' ``read_csv`` on the same file.
"""

import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from _tables import numbers, one_line_error, read, write_csv

import torchlinear.data.csv_errors as csv_errors
import torchlinear.data.csv_reader as csv_reader
from torchlinear.data import TabularSource


def test_large_csv_streams_across_parser_blocks(tmp_path):
    # About 2.6 MB: several parser blocks, and chunk edges that do not align with them.
    path = tmp_path / "large.csv"
    frame = numbers(30_000, seed=2)
    write_csv(path, frame)
    assert path.stat().st_size > 2 * (1 << 20)
    source = TabularSource(path, target="y", features=["big", "x1"], batch_rows=4_099)
    _, X, y = read(source)
    expected = pd.read_csv(path)
    np.testing.assert_array_equal(X, expected[["big", "x1"]].to_numpy())
    np.testing.assert_array_equal(y, expected["y"].to_numpy())


@pytest.fixture(params=["arrow threads", "one arrow thread"])
def arrow_threads(request):
    """pyarrow's CSV reader on its thread pool, and on one thread (one core, or
    OMP_NUM_THREADS=1), where its error messages also number the row ("Row #N: "): the
    messages must name the cell either way."""
    before = pa.cpu_count()
    pa.set_cpu_count(1 if request.param == "one arrow thread" else max(2, before))
    yield
    pa.set_cpu_count(before)


def test_text_value_far_down_a_numeric_column(tmp_path, arrow_threads):
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
    message = one_line_error(info)
    assert f"column 'b' has the non-numeric value 'n/a?' in data row {n + 1}" in message
    assert "leave the column out with features" in message


def test_ragged_row_far_down_is_located(tmp_path):
    path = tmp_path / "late_ragged.csv"
    n = 120_000
    with open(path, "w") as f:
        f.write("a,b,y\n" + "1.25,2.5,3\n" * n + "4,5\n" + "1,2,3\n" * 5)
    with pytest.raises(ValueError) as info:
        TabularSource(path, target="y").read_all()
    assert f"data row {n + 1} has 2 field(s) but the header has 3" in one_line_error(info)


def test_inconsistent_class_labels(tmp_path):
    path = tmp_path / "labels.csv"
    with open(path, "w") as f:
        f.write("x,label\n" + "1.5,1\n" * 250_000 + "2,cat\n")
    with pytest.raises(ValueError, match=r"'label' has the value 'cat' in data row 250001"):
        TabularSource(path, target="label", task="classification").read_all()


@pytest.fixture
def small_blocks(monkeypatch):
    """CSV blocks of 2 kB, so that small files span dozens of blocks."""
    monkeypatch.setattr(csv_reader, "_CSV_BLOCK_BYTES", 2048)


def test_blocks_with_gaps_blank_lines_and_nan_texts_equal_pandas(tmp_path, small_blocks):
    # Clean blocks go through the fast parser; blocks with an empty cell, a blank line,
    # NA or nan go through pyarrow: the rows, their order and the gaps equal pandas'.
    frame = numbers(3_000, seed=7)
    lines = frame.to_csv(index=False).splitlines()
    lines[700] = ",".join(["", *lines[700].split(",")[1:]])  # empty cell
    lines[1500] = lines[1500].replace(lines[1500].split(",")[2], "NA", 1)
    lines[2200] = lines[2200].replace(lines[2200].split(",")[0], "nan", 1)
    lines.insert(2600, "")  # a blank line, skipped
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join(lines) + "\n\n")
    expected = pd.read_csv(path).dropna()
    source = TabularSource(path, target="y", drop_na=True, batch_rows=333)
    chunks, X, y = read(source)
    np.testing.assert_array_equal(X, expected[["x1", "count", "x3", "big"]].to_numpy(float))
    np.testing.assert_array_equal(y, expected["y"].to_numpy())
    assert source.n_rows == 3_000 and source.n_dropped == 3
    with pytest.raises(ValueError, match=r"'x1' 2 \(first in data row 700\)") as excinfo:
        list(TabularSource(path, target="y").iter_chunks())
    assert "'x3' 1 (first in data row 1500)" in one_line_error(excinfo)


def test_blocks_equal_a_sequential_read_of_a_part(tmp_path, small_blocks):
    path = tmp_path / "part.csv"
    write_csv(path, numbers(2_000, seed=8))
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
    assert "ragged row" in one_line_error(excinfo)


def test_text_in_a_numeric_column_in_a_late_block(tmp_path, small_blocks, arrow_threads):
    path = tmp_path / "text.csv"
    lines = ["a,b"] + [f"{i},{i * 0.5}" for i in range(120_000)]
    lines[112_345] = "7,seven"  # beyond the first megabyte, which is checked on opening
    path.write_text("\n".join(lines) + "\n")
    source = TabularSource(path, target="b")
    message = r"column 'b' has the non-numeric value 'seven' in data row 112345"
    with pytest.raises(ValueError, match=message):
        list(source.iter_chunks())


@pytest.mark.parametrize("row", [10, 112_345])
def test_a_quote_never_closed_is_named_with_its_row(tmp_path, row, arrow_threads):
    # In the first megabyte the sample shows the value swallowing the next lines; further
    # down pyarrow loses its place; either way the row that opens the quote is named.
    path = tmp_path / "quote.csv"
    lines = ["a,b"] + [f"{i},{i * 0.5}" for i in range(120_000)]
    lines[row] = '7,"3.5'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as excinfo:
        list(TabularSource(path, target="b").iter_chunks())
    message = one_line_error(excinfo)
    assert f"runs over several lines from data row {row} (a quote that is never closed?)" in (
        message
    )
    assert message.endswith("close the quote, or take the line breaks out of quoted values")


def test_a_line_longer_than_the_limit_is_refused_not_held(tmp_path, monkeypatch, small_blocks):
    monkeypatch.setattr(csv_reader, "MAX_LINE_BYTES", 1 << 16)
    monkeypatch.setattr(csv_errors, "MAX_LINE_BYTES", 1 << 16)
    monkeypatch.setattr(csv_reader, "_BLOCK_BYTES", 2048)  # blocks of 2 kB: the line spans many
    path = tmp_path / "long.csv"
    lines = ["a,b"] + [f"{i},{i * 0.5}" for i in range(120_000)]
    lines[110_000] = "1," + "9" * (1 << 17)  # 128 kB, past the first megabyte
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as excinfo:
        list(TabularSource(path, target="b").iter_chunks())
    message = one_line_error(excinfo)
    assert "no line break in the 65,536 bytes from byte" in message
    assert "(a quote that is never closed, or not a CSV file?)" in message


def _gzip_with_line(path, line: str, row: int, n: int = 3_000):
    lines = ["a,b"] + [f"{i},{i * 0.5}" for i in range(n)]
    lines[row] = line
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    return lines


def test_a_gzip_line_longer_than_the_limit_is_refused_naming_the_file_and_row(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(csv_reader, "MAX_LINE_BYTES", 1 << 16)
    monkeypatch.setattr(csv_errors, "MAX_LINE_BYTES", 1 << 16)
    monkeypatch.setattr(csv_reader, "_HEAD_BYTES", 4096)  # the long line lies past the head
    monkeypatch.setattr(csv_reader, "_BLOCK_BYTES", 2048)
    path = tmp_path / "long.csv.gz"
    lines = _gzip_with_line(path, "1," + "9" * (1 << 17), row=2_000)
    offset = sum(len(line) + 1 for line in lines[:2_000])
    with pytest.raises(ValueError) as excinfo:
        list(TabularSource(path, target="b").iter_chunks())
    assert one_line_error(excinfo) == (
        f"{path}: no line break in the 65,536 bytes from byte {offset:,} of the decompressed "
        "data (data row 2000: a quote that is never closed, or not a CSV file?); every row "
        "of a CSV file is one line"
    )


@pytest.mark.parametrize("extra_rows", [0, 2])
def test_a_first_data_row_longer_than_the_limit_is_refused_like_any_other(
    tmp_path, monkeypatch, extra_rows
):
    # the first data row is read with the header (types are inferred from it): it was read
    # up to twice the limit, then parsed in blocks of 8 times its length (a 100 MB row of a
    # 97 kB gzip aborted the process), or called "a header but no data rows"
    monkeypatch.setattr(csv_reader, "MAX_LINE_BYTES", 1 << 16)
    monkeypatch.setattr(csv_errors, "MAX_LINE_BYTES", 1 << 16)
    monkeypatch.setattr(csv_reader, "_HEAD_BYTES", 4096)
    path = tmp_path / "first.csv.gz"
    rows = "".join(f"{i},{i}\n" for i in range(extra_rows))
    path.write_bytes(gzip.compress(("a,b\n1" + "1" * (1 << 18) + ",2\n" + rows).encode()))
    with pytest.raises(ValueError) as excinfo:
        TabularSource(path, target="b")
    assert one_line_error(excinfo) == (
        f"{path}: no line break in the 65,536 bytes from byte 4 of the decompressed data "
        "(data row 1: a quote that is never closed, or not a CSV file?); every row of a CSV "
        "file is one line"
    )


def test_a_gzip_line_longer_than_the_parser_blocks_is_read(tmp_path, monkeypatch):
    # Longer than the blocks the first rows set, shorter than the limit: read as the
    # uncompressed file is, rows before and after it included.
    monkeypatch.setattr(csv_reader, "_HEAD_BYTES", 4096)
    path = tmp_path / "long.csv.gz"
    lines = _gzip_with_line(path, "1," + "0" * 3_000_000 + "7", row=2_000)
    X, y = TabularSource(path, target="b").read_all()
    assert X.shape == (3_000, 1)
    expected = [float(line.split(",")[1]) for line in lines[1:]]
    np.testing.assert_array_equal(y, expected)
    assert y[1_999] == 7.0


@pytest.mark.parametrize("row", [3, 110_000])  # in the first rows; far down (streamed)
@pytest.mark.parametrize("column", ["b", "y"])
def test_a_value_that_is_not_utf8_is_named_with_its_row(tmp_path, column, row, arrow_threads):
    path = tmp_path / "latin1.csv"
    lines = ["a,b,y"] + [f"{i},{'pq'[i % 2]},{'uv'[i % 2]}" for i in range(120_000)]
    lines[row] = "1,été,u" if column == "b" else "1,p,été"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    with pytest.raises(ValueError) as excinfo:  # on opening, or when the row is read
        source = TabularSource(path, target="y", task="classification", allow_text=True)
        list(source.iter_tables())
    assert one_line_error(excinfo) == (
        f"{path}: column {column!r} is not valid UTF-8 text (byte 0xe9 in data row {row}); "
        "re-encode the file as UTF-8 (from Latin-1 or Windows-1252, most often)"
    )


def test_a_long_non_numeric_value_is_shown_shortened(tmp_path, small_blocks, arrow_threads):
    path = tmp_path / "long_text.csv"
    lines = ["a,b"] + [f"{i},{i * 0.5}" for i in range(120_000)]
    lines[110_000] = "1," + "x" * 100_000  # longer than a block: read whole, shown short
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as excinfo:
        list(TabularSource(path, target="b").iter_chunks())
    message = one_line_error(excinfo)
    assert f"non-numeric value '{'x' * 57}…' in data row 110000" in message
    assert len(message) < 300


def test_quoted_values_over_several_lines_are_still_read(tmp_path):
    # A note over two lines is a closed quote, not swallowed rows: the file reads whole.
    path = tmp_path / "notes.csv"
    rows = [f'{i},"line one\nline two, {i}",{2 * i}' if i % 997 == 0 else f"{i},n,{2 * i}"
            for i in range(120_000)]  # fmt: skip
    path.write_text("x,note,y\n" + "\n".join(rows) + "\n")
    source = TabularSource(path, target="y", features=["x"])
    _, X, y = read(source)
    np.testing.assert_array_equal(X[:, 0], np.arange(120_000.0))
    np.testing.assert_array_equal(y, 2 * np.arange(120_000.0))


def case_wide_two_rows():
    """Run in a capped child: 100,000 columns of 4-decimal numbers (a header of 700 kB,
    over half the bytes read to infer the types), two rows."""
    import tempfile
    from pathlib import Path

    from torchlinear._memory import memory_limit

    path = Path(tempfile.mkdtemp()) / "wide.csv"
    d = 100_000
    values = np.round(np.random.default_rng(0).normal(size=(2, d + 1)), 4)
    with open(path, "w") as f:
        f.write(",".join([f"x{j}" for j in range(d)] + ["y"]) + "\n")
        for row in values:
            f.write(",".join(f"{v:.4f}" for v in row) + "\n")
    # the budget planned for a parser's converters, not the cap the child runs under
    with memory_limit("4G"):
        X, y = TabularSource(path, target="y").read_all()
    ref = np.loadtxt(path, delimiter=",", skiprows=1)
    return [float(np.abs(X - ref[:, :-1]).max()), float(np.abs(y - ref[:, -1]).max()), X.shape]


def test_a_file_of_many_columns_and_two_rows_is_read_in_little_memory():
    # a parser's converter per column held about 1 GB here (and the first data row lay
    # beyond the first megabyte, so the file was refused as having none)
    import _capped

    outcome = _capped.run_capped(__file__, ["case_wide_two_rows"])["case_wide_two_rows"]
    assert outcome["returned"], outcome.get("traceback", outcome)
    assert outcome["value"] == [0.0, 0.0, [2, 100_000]]
    assert outcome["peak_rss"] - outcome["baseline_rss"] < 200 * 2**20


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_utf16_or_utf32_file_is_named_as_such(tmp_path, encoding):
    # it was read as a ragged row '\x00'
    path = tmp_path / "wide.csv"
    path.write_bytes("a,b,y\n1,2,3\n2,5,4\n".encode(encoding))
    with pytest.raises(ValueError) as excinfo:
        TabularSource(path, target="y")
    assert one_line_error(excinfo) == (
        f"{path}: the file is UTF-16 or UTF-32 text, not UTF-8; save it as UTF-8"
    )


def _zip_bytes() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr("xl/workbook.xml", "<workbook/>" * 50)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: pd.DataFrame({"a": [1.0], "y": [2.0]}).to_parquet(p), "is a Parquet file"),
        (lambda p: p.write_bytes(gzip.compress(b"a,y\n1,2\n3,4\n")), "is gzip-compressed; name"),
        (lambda p: p.write_bytes(_zip_bytes()), r"is a ZIP archive \(an Excel \.xlsx"),
    ],
    ids=["parquet", "gzip", "xlsx"],
)
def test_a_binary_file_named_csv_is_named_for_what_it_is(tmp_path, make, needle):
    # read as text, its bytes were reported as a ragged row or a header without rows
    path = tmp_path / "data.csv"
    make(path)
    with pytest.raises(ValueError, match=rf"data\.csv: the file {needle}") as err:
        TabularSource(path, target="y")
    assert "ragged" not in str(err.value) and "\n" not in str(err.value)
    # a header that merely starts with the letters of a signature is text
    path.write_text("PAR1,y\n1,2\n3,5\n")
    assert TabularSource(path, target="y").read_all()[0].tolist() == [[1.0], [3.0]]
