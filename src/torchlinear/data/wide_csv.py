"""CSV text of thousands of columns and few rows, read cell by cell instead of column by column.

pyarrow's and polars' CSV parsers hold a converter and a builder for every column: about
8.5 kB a column for pyarrow and 2.5 kB for polars, whatever the rows, and some tens of
microseconds each. For a file of 200,000 columns and two rows, that is 1.7 GB and several
seconds to read 2 MB. Here such text is split into its cells and the cells that are plainly
numbers (or missing) are read as Python and NumPy read them, which gives exactly what
pyarrow gives: both round a decimal number to the nearest float64.

Both functions accept only text they can read exactly as pyarrow does, and return ``None``
for anything else (a quote, a row of another length, a cell that is not plainly a number),
so that the caller reads it with pyarrow, whose messages name the problem:

- :func:`read_head` infers the columns' types from the first rows of a file (``null``,
  ``int64`` or ``double`` for columns of numbers, pyarrow's own inference, a group of
  columns at a time, for the others);
- :func:`numeric_block` reads a block of lines of numbers into a float64 array.

Examples
--------
>>> head = read_head(b"a,b,c,y\\n1,x,2.5,3\\n2,,NA,4\\n", ",")
>>> head.columns, [str(head.types[c]) for c in head.columns]
(['a', 'b', 'c', 'y'], ['int64', 'string', 'double', 'int64'])
>>> head.sample.column_names, head.sample.column("b").to_pylist()
(['b'], ['x', None])
>>> numeric_block(b"1,x,2.5,3\\n2,,NA,4\\n", ",", 4, [0, 2, 3]).tolist()
[[1.0, 2.5, 3.0], [2.0, nan, 4.0]]
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

__all__ = [
    "CELL_BYTES",
    "WIDE_COLUMNS",
    "WIDE_COLUMN_BYTES",
    "WideHead",
    "numeric_block",
    "read_head",
]

WIDE_COLUMNS = 1000
"""From this many columns on, a file's first rows are read cell by cell."""
CELL_BYTES = 96
"""Bytes a cell of a block read by :func:`numeric_block` holds at most while it is read:
the cell's bytes object and its place in the lists of rows, and its float64 value, in
the array and in the chunk cut from it."""
WIDE_COLUMN_BYTES = 1536
"""Bytes a column of a file read cell by cell takes besides its cells: its name, type and
index, its place in the selections, missing-value counts and chunks (measured: about
1.3 kB a column, fitting a file of 200,001 columns and two rows)."""

_GROUP_COLUMNS = 2048  # columns of other types handed to pyarrow at a time
_NULLS = frozenset(v.encode() for v in pacsv.ConvertOptions().null_values)
# what pyarrow infers as int64 (at most 18 digits: never out of range) and as double; an
# integer of more digits may be either, and is left to pyarrow
_INT = re.compile(rb"-?[0-9]{1,18}")
_LONG_INT = re.compile(rb"[-+]?[0-9]{19,}")
_FLOAT = re.compile(rb"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_NULL, _INT64, _DOUBLE, _OTHER = 0, 1, 2, 3
_TYPES = {_NULL: pa.null(), _INT64: pa.int64(), _DOUBLE: pa.float64()}


def _kind(cell: bytes) -> int:
    if cell in _NULLS:
        return _NULL
    if _INT.fullmatch(cell):
        return _INT64
    if _LONG_INT.fullmatch(cell):
        return _OTHER
    return _DOUBLE if _FLOAT.fullmatch(cell) else _OTHER


def split_rows(text: bytes, delimiter: str, width: int | None = None) -> list[list[bytes]] | None:
    """The non-empty lines of ``text`` split at ``delimiter``; ``None`` when pyarrow might
    read them otherwise (a quote, a byte-order mark, a line of another number of cells
    than ``width`` or than the first line).

    >>> split_rows(b"a,b\\r\\n\\n1,2\\n", ",")
    [[b'a', b'b'], [b'1', b'2']]
    >>> split_rows(b'a,b\\n"1",2\\n', ",") is None
    True
    """
    if len(delimiter) != 1 or not delimiter.isascii() or b'"' in text:
        return None
    if text.startswith(b"\xef\xbb\xbf"):
        return None
    sep = delimiter.encode()
    rows = [line.split(sep) for line in text.splitlines() if line]
    if not rows:
        return None
    n = len(rows[0]) if width is None else width
    if any(len(row) != n for row in rows):
        return None
    return rows


@dataclass
class WideHead:
    """The header and first rows of a file, as :func:`read_head` read them.

    Attributes
    ----------
    columns : list of str
        The header's names, in file order.
    types : dict of str to pyarrow.DataType
        The type pyarrow infers for each column (the first of a duplicated name).
    sample : pyarrow.Table
        The first rows of the columns that do not hold only numbers and missing values.
    numeric : set of str
        The columns that do.
    cells : list of list of bytes
        The data rows' cells.
    """

    columns: list[str]
    types: dict[str, pa.DataType]
    sample: pa.Table
    numeric: set[str]
    cells: list[list[bytes]]

    def column_cells(self, name: str) -> list[bytes]:
        """The cells of the first column called ``name``."""
        j = self.columns.index(name)
        return [row[j] for row in self.cells]


def read_head(head: bytes, delimiter: str) -> WideHead | None:
    """The columns and types of a file's first rows (whole lines), as pyarrow infers them
    with ``strings_can_be_null=True``; ``None`` when the text needs pyarrow's parser (see
    :func:`split_rows`), has no data row, or a name that is not UTF-8."""
    rows = split_rows(head, delimiter)
    if rows is None or len(rows) < 2:
        return None
    header, cells = rows[0], rows[1:]
    try:
        columns = [name.decode("utf-8") for name in header]
    except UnicodeDecodeError:
        return None
    known: dict[bytes, int] = {}
    kinds = []
    for j in range(len(header)):
        kind = _NULL
        for row in cells:
            cell = row[j]
            k = known.get(cell)
            if k is None:
                k = known[cell] = _kind(cell)
            kind = max(kind, k)
        kinds.append(kind)
    other = [j for j, k in enumerate(kinds) if k == _OTHER]
    sample = _pyarrow_columns([header[j] for j in other], [[r[j] for j in other] for r in cells],
                              delimiter)  # fmt: skip
    inferred = dict(zip(other, sample.schema.types, strict=True))
    types: dict[str, pa.DataType] = {}
    for j, name in enumerate(columns):
        types.setdefault(name, inferred[j] if j in inferred else _TYPES[kinds[j]])
    numeric = {columns[j] for j, k in enumerate(kinds) if k != _OTHER}
    return WideHead(columns, types, sample, numeric, cells)


def _pyarrow_columns(names: list[bytes], cells: list[list[bytes]], delimiter: str) -> pa.Table:
    """pyarrow's reading of some columns (their names and cells, free of quotes and
    delimiters), a group of columns at a time."""
    sep = delimiter.encode()
    arrays: list[pa.ChunkedArray] = []
    fields: list[pa.Field] = []
    for lo in range(0, len(names), _GROUP_COLUMNS):
        part = slice(lo, lo + _GROUP_COLUMNS)
        # one more column of zeros: a line of empty cells is never an empty line (skipped)
        lines = [sep.join([*names[part], b"0"]), *(sep.join([*row[part], b"0"]) for row in cells)]
        text = b"\n".join(lines)
        table = pacsv.read_csv(
            io.BytesIO(text + b"\n"),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=len(text) + 2),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        )
        arrays += table.columns[:-1]
        fields += list(table.schema)[:-1]
    if not arrays:
        return pa.table({})
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def numeric_block(
    data: bytes, delimiter: str, width: int, wanted: Sequence[int]
) -> np.ndarray | None:
    """The ``wanted`` columns (indices) of a block of whole lines of ``width`` cells, as a
    float64 array (a missing value is NaN, as pyarrow's nulls become); ``None`` unless
    every wanted cell is plainly a number or missing (see :func:`split_rows`).

    >>> numeric_block(b"1,2\\n3,x\\n", ",", 2, [0]).tolist()
    [[1.0], [3.0]]
    >>> numeric_block(b"1,2\\n3,x\\n", ",", 2, [1]) is None
    True
    """
    rows = split_rows(data, delimiter, width)
    if rows is None:
        return None
    if len(wanted) == width and list(wanted) == list(range(width)):
        cells = [cell for row in rows for cell in row]
    else:
        cells = [row[j] for row in rows for j in wanted]
    if all(map(_FLOAT.fullmatch, cells)):
        values = np.fromiter(map(float, cells), np.float64, len(cells))
    else:  # some cells missing, or not numbers
        values = np.empty(len(cells))
        for i, cell in enumerate(cells):
            if _FLOAT.fullmatch(cell):
                values[i] = float(cell)
            elif cell in _NULLS:
                values[i] = np.nan
            else:
                return None
    return values.reshape(len(rows), len(wanted))
