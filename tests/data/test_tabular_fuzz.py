"""Property-based fuzzing of the CSV and Parquet readers (hypothesis).

Per CI run: 60 random CSV dialects, 150 byte-level mutations of a valid CSV file (plain
and gzip-compressed: 50 of them) and 80 of a valid Parquet file, i.e. about 340 cases,
each with a 5-second deadline and the readers under a 64 MB memory budget. The only
allowed outcomes are the correct table (checked against Python's ``csv`` module, or
against ``pyarrow.parquet.read_table`` for Parquet) or a ``ValueError`` that names the
file; any other exception type, a hang or a wrong value fails.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torchlinear._memory import memory_limit
from torchlinear.data.tabular import TabularSource

_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d{1,3})?$")
_SETTINGS = dict(
    deadline=5000,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _read(path: Path, **kwargs) -> tuple[np.ndarray, np.ndarray] | ValueError:
    """The reader's table, or the ``ValueError`` it raised (any other exception fails)."""
    try:
        with memory_limit("64M"):
            source = TabularSource(path, **kwargs)
            return source.read_all()
    except ValueError as exc:
        assert str(path) in str(exc), f"the message does not name the file: {exc}"
        return exc


# ----------------------------------------------------------------------------- dialects

cells = st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 4))


@st.composite
def dialects(draw):
    n = draw(st.integers(1, 6))
    d = draw(st.integers(1, 4))
    values = draw(st.lists(st.lists(cells, min_size=d + 1, max_size=d + 1), min_size=n, max_size=n))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    quote_all = draw(st.booleans())
    names = [f"c{j}" for j in range(d)] + ["target"]
    if draw(st.booleans()):
        names = [f"col {j}" for j in range(d)] + ["target"]  # spaces in the names
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    blank_lines = draw(st.lists(st.integers(0, n), max_size=3))
    bom = draw(st.booleans())
    trailing = draw(st.booleans())

    def field(text: str) -> str:
        return f'"{text}"' if quote_all else text

    lines = [delimiter.join(field(c) for c in names)]
    for i, row in enumerate(values):
        lines.append(delimiter.join(field(repr(v)) for v in row))
        lines.extend("" for b in blank_lines if b == i)
    text = newline.join(lines) + (newline if trailing else "")
    return ("\ufeff" if bom else "") + text, delimiter, np.array(values, dtype=np.float64)


@settings(max_examples=60, **_SETTINGS)
@given(case=dialects())
def test_csv_dialects_read_exactly(tmp_path_factory, case) -> None:
    text, delimiter, values = case
    path = tmp_path_factory.mktemp("dialect") / "data.csv"
    path.write_bytes(text.encode("utf-8"))
    found = _read(path, target="target", delimiter=delimiter)
    assert not isinstance(found, ValueError), found
    X, y = found
    np.testing.assert_array_equal(X, values[:, :-1])
    np.testing.assert_array_equal(y, values[:, -1])
    # the same bytes, gzip-compressed, read the same
    gz = path.with_name("data.csv.gz")
    gz.write_bytes(gzip.compress(path.read_bytes()))
    Xz, yz = _read(gz, target="target", delimiter=delimiter)
    np.testing.assert_array_equal(Xz, X)
    np.testing.assert_array_equal(yz, y)


# ----------------------------------------------------------------------------- mutations

_VALID_CSV = b"a,b,y\n1.5,2,3\n-4,5.25,6\n7,8e2,9\n10,11,12.5\n"


@st.composite
def mutated(draw, original: bytes):
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "byte"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from([b",", b"\n", b'"', b"\r", b"\x00", b";", b"-"]))
        elif kind == "delete" and data:
            del data[at]
        elif kind == "truncate":
            data = data[:at]
        else:
            data[at:at] = bytes([draw(st.integers(0, 255))])
    return bytes(data)


def _reference(data: bytes) -> tuple[list[str], list[list[str]]] | None:
    """Python's ``csv`` parse of the bytes: (header, data rows), blank lines dropped."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    return (rows[0], rows[1:]) if rows else None


def _check_against_csv_module(data: bytes, X: np.ndarray, y: np.ndarray) -> None:
    ref = _reference(data)
    if ref is None:
        return
    header, rows = ref
    if len(header) != 3 or "y" not in header or any(len(r) != 3 for r in rows):
        return  # quoting or a stray separator the two parsers may legitimately split apart
    if len(rows) != len(X):
        return
    order = [header.index(c) for c in header if c != "y"] + [header.index("y")]
    for i, row in enumerate(rows):
        got = list(X[i]) + [y[i]]
        for j, col in enumerate(order):
            cell = row[col]
            if _NUMBER.match(cell):
                assert got[j] == float(cell), (cell, got[j], data)


@settings(max_examples=100, **_SETTINGS)
@given(data=mutated(_VALID_CSV))
def test_mutated_csv_reads_correctly_or_raises_value_error(tmp_path_factory, data) -> None:
    path = tmp_path_factory.mktemp("mutated") / "data.csv"
    path.write_bytes(data)
    found = _read(path, target="y")
    if not isinstance(found, ValueError):
        X, y = found
        assert X.dtype == np.float64 and X.shape[1] == 2 and np.isfinite(X).all()
        _check_against_csv_module(data, X, y)


@settings(max_examples=50, **_SETTINGS)
@given(data=mutated(gzip.compress(_VALID_CSV, mtime=0)))
def test_mutated_gzip_csv_reads_correctly_or_raises_value_error(tmp_path_factory, data) -> None:
    path = tmp_path_factory.mktemp("mutated") / "data.csv.gz"
    path.write_bytes(data)
    found = _read(path, target="y")
    if not isinstance(found, ValueError):
        X, y = found
        _check_against_csv_module(gzip.decompress(data), X, y)


def _valid_parquet() -> bytes:
    table = pa.table({"a": [1.5, -4.0, 7.0, 10.0], "b": [2, 5, 800, 11], "y": [3.0, 6, 9, 12.5]})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="NONE")
    return sink.getvalue()


@settings(max_examples=80, **_SETTINGS)
@given(data=mutated(_valid_parquet()))
def test_mutated_parquet_reads_correctly_or_raises_value_error(tmp_path_factory, data) -> None:
    path = tmp_path_factory.mktemp("mutated") / "data.parquet"
    path.write_bytes(data)
    found = _read(path, target="y")
    if isinstance(found, ValueError):
        return
    X, y = found
    table = pq.read_table(path)  # the reference: pyarrow's own reading of the same bytes
    np.testing.assert_array_equal(y, table.column("y").to_numpy().astype(np.float64))
    names = [c for c in table.column_names if c != "y"]
    ref = np.column_stack([table.column(c).to_numpy().astype(np.float64) for c in names])
    np.testing.assert_array_equal(X, ref)


def test_the_valid_files_read_exactly(tmp_path: Path) -> None:
    (tmp_path / "v.csv").write_bytes(_VALID_CSV)
    X, y = TabularSource(tmp_path / "v.csv", target="y").read_all()
    np.testing.assert_array_equal(X, [[1.5, 2], [-4, 5.25], [7, 800], [10, 11]])
    np.testing.assert_array_equal(y, [3, 6, 9, 12.5])
    (tmp_path / "v.parquet").write_bytes(_valid_parquet())
    X, y = TabularSource(tmp_path / "v.parquet", target="y").read_all()
    np.testing.assert_array_equal(X, [[1.5, 2], [-4, 5], [7, 800], [10, 11]])


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".zst", ".lz4"])
def test_compressed_csv_reads_like_the_plain_file(tmp_path: Path, suffix: str) -> None:
    from torchlinear.data.formats import COMPRESSIONS

    if suffix not in COMPRESSIONS:
        pytest.skip(f"this pyarrow build has no {suffix} codec")
    rng = np.random.default_rng(0)
    values = np.round(rng.normal(size=(3000, 4)), 6)
    plain = tmp_path / "t.csv"
    np.savetxt(plain, values, delimiter=",", header="a,b,c,y", comments="", fmt="%.6f")
    packed = tmp_path / f"t.csv{suffix}"
    with pa.output_stream(str(packed), compression=COMPRESSIONS[suffix]) as out:
        out.write(plain.read_bytes())
    X, y = TabularSource(packed, target="y", batch_rows=500).read_all()
    np.testing.assert_array_equal(X, values[:, :3])
    np.testing.assert_array_equal(y, values[:, 3])
