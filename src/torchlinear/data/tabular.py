"""The one reader of the user's tabular files (CSV and Parquet), and the prediction writer.

A :class:`TabularSource` checks a file cheaply when it is opened (it exists, its format,
its header, the requested columns and their types) and then streams it as NumPy chunks
``(X, y)`` of at most ``batch_rows`` rows, one chunk in memory at a time, through
pyarrow's multithreaded CSV parser or Parquet reader. A file larger than memory can
therefore be fitted exactly in one pass (accumulating a Gram matrix chunk by chunk), or by
several streamed epochs for gradient solvers, since every call to
:meth:`TabularSource.iter_chunks` starts a fresh pass.

Every problem with the user's file is a one-line ``ValueError`` that names the file and
says what is wrong and what to do: a missing, empty or header-only file, an unknown
suffix, a ragged row, a wrong delimiter, a missing or non-numeric column, a text value
in a numeric column (with its row), missing values (counted per column), a corrupt
Parquet file.

Rows are numbered from 1 in messages, not counting the CSV header line (blank lines are
skipped, as the parser does).

Examples
--------
>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "houses.csv"
>>> _ = path.write_text("area,rooms,price\\n50,2,150\\n80,3,210\\n120,4,300\\n")
>>> source = TabularSource(path, target="price", batch_rows=2)
>>> source.feature_names
['area', 'rooms']
>>> [(X.shape, y.tolist()) for X, y in source.iter_chunks()]
[((2, 2), [150.0, 210.0]), ((1, 2), [300.0])]
>>> source.n_rows
3
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from torchlinear._format import format_names
from torchlinear._validation import (
    ParameterError,
    check_memory,
    check_positive_int,
    memory_budget,
)
from torchlinear.data.blocks import default_workers, line_blocks, ordered_map, read_bytes

__all__ = ["FORMATS", "TabularSource", "check_delimiter", "file_format"]

FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
"""File suffix -> format; the format of a data or prediction file comes from its suffix."""

#: A data file's last suffix -> the compression pyarrow streams it through (CSV only,
#: ``data.csv.gz``); the codecs this pyarrow build lacks are left out.
COMPRESSIONS: dict[str, str] = {
    suffix: codec
    for suffix, codec in {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}.items()
    if pa.Codec.is_available(codec)
}
#: Bytes pyarrow's CSV parser holds per column of a parsed block, whatever its rows
#: (measured: about 8.5 kB a column for a two-row file of a million columns).
_ARROW_COLUMN_BYTES = 10_000
#: Column overhead the parallel block parsers may hold together (one thread beyond it).
_PARALLEL_PARSE_BYTES = 64 << 20

_HEAD_BYTES = 1 << 20  # bytes of a CSV read up front to check the header and infer types
_BLOCK_BYTES = 1 << 20  # CSV parser block: pyarrow reads a bounded number of blocks ahead
_CSV_BLOCK_BYTES = 4 << 20  # CSV text parsed per block by one thread (see data.blocks)
_CHUNK_BYTES = 4 << 20  # default chunk: about this many bytes of float64 per (X, y)
_POLARS_ROW_GROUP_BYTES = 256 << 20  # larger row groups (as float64) stream through pyarrow
_POLARS_SLICE_BYTES = 32 << 20  # rows (as float64) of one streaming query of a Parquet file
_POLARS_CHUNK_ROWS = 1 << 16  # rows per batch asked of polars' streaming Parquet reader
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_DECIMAL_COMMA = re.compile(r"(?<![\d.,])-?\d+,\d+(?![\d.,])")
_CANONICAL_INT = r"^-?(0|[1-9][0-9]*)$"

Task = Literal["regression", "classification"]


def _compression_of(path: Path) -> str | None:
    """The compression of a data file named ``*.csv.gz`` and so on, else ``None``."""
    return COMPRESSIONS.get(path.suffix.lower()) if len(path.suffixes) > 1 else None


def file_format(path: Path, what: str) -> str:
    """``"csv"`` or ``"parquet"`` from the file name (``what``: "data" or "predictions").

    Data may be a compressed CSV (``data.csv.gz``); anything else raises ``ValueError``
    listing the suffixes understood.

    Examples
    --------
    >>> file_format(Path("houses.csv.gz"), "data"), file_format(Path("p.parquet"), "data")
    ('csv', 'parquet')
    """
    suffix = path.suffix.lower()
    if what == "data" and _compression_of(path) is not None:
        inner = Path(path.stem).suffix.lower()
        if FORMATS.get(inner) == "csv":
            return "csv"
        raise ValueError(
            f"{path}: a compressed data file must be a CSV named like data.csv{suffix}; "
            f"got {inner or 'no inner suffix'!s} (Parquet files compress internally)"
        )
    if suffix not in FORMATS:
        csv = ", ".join(s for s, f in FORMATS.items() if f == "csv")
        parquet = ", ".join(s for s, f in FORMATS.items() if f == "parquet")
        got = f"suffix {suffix!r}" if suffix else "no suffix"
        raise ValueError(
            f"{path}: cannot tell the {what} format from {got}; name the file with a CSV "
            f"({csv}) or Parquet ({parquet}) suffix"
        )
    return FORMATS[suffix]


def check_delimiter(delimiter: Any, path: Path) -> str:
    """The CSV field separator: ``delimiter`` checked, or by default tab for ``.tsv``, else comma.

    Examples
    --------
    >>> check_delimiter(None, Path("a.tsv")), check_delimiter(";", Path("a.csv"))
    ('\\t', ';')
    """
    if delimiter is None:
        plain = Path(path.stem) if _compression_of(path) is not None else path
        return "\t" if plain.suffix.lower() == ".tsv" else ","
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '\r\n"':
        raise ValueError(
            f"delimiter must be a single character such as ',', ';' or '\\t', got {delimiter!r}"
        )
    return delimiter


def _is_numeric_type(t: pa.DataType) -> bool:
    """Types that convert to float64 without loss of meaning (bool becomes 0/1)."""
    if pa.types.is_dictionary(t):
        return _is_numeric_type(t.value_type)
    return (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_decimal(t)
        or pa.types.is_null(t)
    )


def _is_label_type(t: pa.DataType) -> bool:
    """Types a class label may have: numbers, booleans and strings."""
    if pa.types.is_dictionary(t):
        return _is_label_type(t.value_type)
    return _is_numeric_type(t) or pa.types.is_string(t) or pa.types.is_large_string(t)


def _to_float64(chunked: pa.ChunkedArray, out: np.ndarray) -> None:
    """Copy a numeric Arrow column into the float64 NumPy view ``out`` (nulls -> NaN)."""
    offset = 0
    for chunk in chunked.chunks:
        if chunk.type != pa.float64():
            chunk = chunk.cast(pa.float64())
        out[offset : offset + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
        offset += len(chunk)


def _rechunk(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Regroup record batches of any size into tables of exactly ``rows`` rows (the last
    may be shorter). Slicing and regrouping are zero-copy."""
    pending: list[pa.RecordBatch] = []
    n_pending = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        n_pending += batch.num_rows
        if n_pending >= rows:
            table = pa.Table.from_batches(pending)
            start = 0
            while n_pending - start >= rows:
                yield table.slice(start, rows)
                start += rows
            pending = [b for b in table.slice(start).to_batches() if b.num_rows]
            n_pending -= start
    if n_pending:
        yield pa.Table.from_batches(pending)


def _slices(groups: Iterable[tuple[int, int]], limit: int) -> Iterator[tuple[int, int]]:
    """Row ranges ``(start, rows)`` of at most ``limit`` rows covering the row groups
    ``(start, rows)`` in order: consecutive groups are merged up to the limit, a larger
    group is cut into equal parts.

    >>> list(_slices([(0, 2), (2, 2), (4, 7), (20, 3)], 5))
    [(0, 4), (4, 4), (8, 3), (20, 3)]
    """
    start = rows = 0
    for first, count in groups:
        if count == 0:
            continue
        if rows and first == start + rows and rows + count <= limit:
            rows += count
            continue
        if rows:
            yield start, rows
        parts = -(-count // limit)
        step = -(-count // parts)
        for a in range(first, first + count - step, step):
            yield a, step
        start, rows = first + count - (count - (parts - 1) * step), count - (parts - 1) * step
    if rows:
        yield start, rows


class _BlockFailed(Exception):
    """A CSV block pyarrow cannot parse: the sequential reader then reports the problem."""


_Part = tuple[np.ndarray, Any, "np.ndarray | None"]  # X, y (NumPy or Arrow), y's null mask


_POLARS: Any = False  # imported on first use: it costs about 0.1 s


def _polars() -> Any:
    """The polars module, or ``None`` when it is not installed (pyarrow then reads CSV)."""
    global _POLARS
    if _POLARS is False:
        try:
            import polars
        except ImportError:  # pragma: no cover - polars is a dependency
            polars = None
        _POLARS = polars
    return _POLARS


def _skip_rows(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The batches without their first ``rows`` rows."""
    for batch in batches:
        if rows >= batch.num_rows:
            rows -= batch.num_rows
            continue
        yield batch.slice(rows) if rows else batch
        rows = 0


def _part_slice(part: _Part, start: int, stop: int) -> _Part:
    X, y, y_bad = part
    if isinstance(y, pa.ChunkedArray):
        y = y.slice(start, stop - start)
    elif y is not None:
        y = y[start:stop]
    return X[start:stop], y, None if y_bad is None else y_bad[start:stop]


def _part_join(parts: list[_Part]) -> _Part:
    if len(parts) == 1:
        return parts[0]
    X = np.concatenate([p[0] for p in parts])
    ys = [p[1] for p in parts]
    y: Any
    if ys[0] is None:
        y = None
    elif isinstance(ys[0], pa.ChunkedArray):
        y = pa.chunked_array([c for part in ys for c in part.chunks], type=ys[0].type)
    else:
        y = np.concatenate(ys)
    masks = [p[2] for p in parts]
    y_bad = None if masks[0] is None else np.concatenate(masks)
    return X, y, y_bad


def _regroup(parts: Iterable[_Part], rows: int) -> Iterator[_Part]:
    """Regroup parts ``(X, y, y_bad)`` into parts of exactly ``rows`` rows (the last may be
    shorter), copying only the rows of a chunk that straddles two parts."""
    held: list[_Part] = []
    n_held = 0
    for part in parts:
        m, offset = len(part[0]), 0
        while offset < m:
            take = min(rows - n_held, m - offset)
            piece = _part_slice(part, offset, offset + take) if take < m else part
            offset += take
            if not held and take == rows:
                yield piece
                continue
            held.append(piece)
            n_held += take
            if n_held == rows:
                yield _part_join(held)
                held, n_held = [], 0
    if held:
        yield _part_join(held)


class _MissingValues:
    """Counts of missing/non-finite cells per column, with the first row of each."""

    def __init__(self) -> None:
        self.per_column: dict[str, list[int]] = {}  # name -> [count, first row (1-based)]
        self.rows = 0

    def add(self, columns: list[tuple[str, np.ndarray]], row_mask: np.ndarray, offset: int):
        for name, mask in columns:
            count = int(mask.sum())
            if count:
                entry = self.per_column.setdefault(name, [0, offset + int(mask.argmax()) + 1])
                entry[0] += count
        self.rows += int(row_mask.sum())

    def error(self, label: str) -> ParameterError:
        items = list(self.per_column.items())
        shown = ", ".join(
            f"column {name!r} {count} (first in data row {first})"
            for name, (count, first) in items[:6]
        )
        if len(items) > 6:
            shown += f" and {len(items) - 6} more columns"
        return ParameterError(
            "drop_na",
            "{label}: {rows} row(s) have missing or non-finite values (empty, NA, NaN or "
            "inf): {shown}; pass {0} to skip those rows, or fill them in",
            value=False,
            suggestions=[("drop_na", True)],
            label=label,
            rows=self.rows,
            shown=shown,
        )


class TabularSource:
    """A CSV or Parquet file, checked on opening and streamed as NumPy ``(X, y)`` chunks.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Its suffix gives the format: ``.csv``, ``.tsv``, ``.txt`` (CSV) or
        ``.parquet``, ``.pq`` (Parquet). A CSV file has a header line.
    target : str, optional
        The target column. Without it (e.g. to predict) chunks are ``(X, None)``.
    features : sequence of str, optional
        The feature columns, in this order. By default every column except the target,
        in file order.
    task : {"regression", "classification"}, default "regression"
        ``"regression"`` reads the target as float64; ``"classification"`` keeps it as
        labels (integers, strings, ...), exactly as they are in the file.
    drop_na : bool, default False
        Skip rows with a missing or non-finite value (empty, ``NA``, ``NaN``, ``inf``,
        ...) in a selected column, counting them in :attr:`n_dropped`. By default such
        values raise a ``ValueError`` that counts them per column.
    delimiter : str, optional
        CSV field separator; ``','`` by default (``'\\t'`` for ``.tsv``).
    batch_rows : int, optional
        Maximum rows per chunk; by default about 4 MB of float64 per chunk.
    allow_text : bool, default False
        Accept text feature columns (listed in :attr:`text_features`). Such a source is
        read through :meth:`iter_tables` (see :mod:`torchlinear.data.design`, which
        encodes them), not :meth:`iter_chunks`.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    format : {"csv", "parquet"}
        Its format.
    columns : list of str
        All columns of the file, in file order.
    feature_names : list of str
        The feature columns, in the order of ``X``'s columns.
    target : str or None
        The target column.
    n_rows : int or None
        Data rows in the file: known on opening for Parquet (from its metadata), after
        the first complete pass for CSV.
    n_dropped : int or None
        Rows skipped by ``drop_na`` in the last complete pass (``None`` before one).
    label : str
        How messages name the source: the path, and for a part (:meth:`restrict`) which
        row groups or bytes it covers.
    row_offset : int
        The file's row number of this source's first row (a part of contiguous row
        groups), so messages give row numbers of the whole file; 0 otherwise.

    Raises
    ------
    ValueError
        One line naming the file and the problem, for any problem found on opening.

    Notes
    -----
    CSV is parsed by ``pyarrow.csv.open_csv`` in blocks of about 1 MB on all cores, with
    only the selected columns converted, straight to float64. Arrow reads a bounded
    number of blocks ahead, so memory stays at a few tens of megabytes plus one chunk
    whatever the file size. Column types are inferred once, from the first megabyte; a
    text value further down a numeric column is reported with its row when met.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "iris.csv"
    >>> _ = path.write_text("length,width,species\\n5.1,3.5,setosa\\n7.0,3.2,versicolor\\n")
    >>> source = TabularSource(path, target="species", task="classification")
    >>> X, y = source.read_all()
    >>> X.tolist(), y.tolist()
    ([[5.1, 3.5], [7.0, 3.2]], ['setosa', 'versicolor'])
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        target: str | None = None,
        features: Sequence[str] | None = None,
        *,
        task: Task = "regression",
        drop_na: bool = False,
        delimiter: str | None = None,
        batch_rows: int | None = None,
        allow_text: bool = False,
    ) -> None:
        if task not in ("regression", "classification"):
            raise ValueError(f"task must be 'regression' or 'classification', got {task!r}")
        if target is not None and not isinstance(target, str):
            raise ValueError(f"target must be a column name (str), got {target!r}")
        if isinstance(features, str):
            raise ValueError(
                f"features must be a list of column names, got the string {features!r}; "
                f"write features={features.split(',')!r}"
            )
        self.path = Path(path)
        self.label = str(path)
        self.task = task
        self.drop_na = bool(drop_na)
        self.target = target
        self.n_rows: int | None = None
        self.n_dropped: int | None = None
        self.allow_text = bool(allow_text)
        self.text_features: list[str] = []
        self._int_labels = False

        if not self.path.exists():
            raise ValueError(f"{self.label}: no such file")
        if not self.path.is_file():
            raise ValueError(f"{self.label}: is a folder, not a data file")
        self.format = file_format(self.path, "data")
        self.compression = _compression_of(self.path) if self.format == "csv" else None
        self.delimiter = check_delimiter(delimiter, self.path)
        if self.path.stat().st_size == 0:
            raise ValueError(f"{self.label}: the file is empty (0 bytes)")

        if self.format == "csv":
            try:
                self._inspect_csv()
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{self.label}: the header is not UTF-8 text (byte {exc.object[exc.start]:#x} "
                    f"at position {exc.start}); save the file as UTF-8"
                ) from None
        else:
            self._inspect_parquet()
        self.feature_names = self._select(features)
        self._sample = None  # only needed for the messages above
        pa.default_memory_pool().release_unused()  # a wide header's parse is large
        width = len(self.feature_names) + (target is not None)
        if batch_rows is None:  # about 4 MB a chunk, less under a small memory budget
            batch_rows = max(1, min(_CHUNK_BYTES, memory_budget() // 8) // (8 * width))
        self.batch_rows = check_positive_int("batch_rows", batch_rows)
        check_memory(
            width * (_ARROW_COLUMN_BYTES + 3 * 8 * self.batch_rows),
            f"{width:,} columns",
            f"reading {self.label} in chunks of {self.batch_rows:,} rows",
            advice="select fewer columns ({features}) or read fewer rows at a time ({batch_rows})",
        )
        self.row_groups: list[int] | None = None  # a part of the file: see restrict()
        self.byte_range: tuple[int, int] | None = None
        self.row_offset = 0

    # ----------------------------------------------------------------- opening checks

    def _parse_options(self, **kwargs: Any) -> pacsv.ParseOptions:
        return pacsv.ParseOptions(delimiter=self.delimiter, **kwargs)

    def _open_text(self) -> Any:
        """The file's bytes as a binary stream, decompressed on the fly when compressed."""
        if self.compression is None:
            return open(self.path, "rb")
        return pa.input_stream(str(self.path), compression=self.compression)

    def _read_head(self) -> tuple[bytes, bool]:
        """The first megabyte (more for a longer first line) and whether it is the file."""
        with self._open_text() as f:
            head = f.read(_HEAD_BYTES + 1)
            whole = len(head) <= _HEAD_BYTES
            while not whole and b"\n" not in head:  # a very long first line: read on
                if len(head) > 64 * _HEAD_BYTES:
                    raise ValueError(
                        f"{self.label}: no line break in the first 64 MB; is it a CSV file?"
                    )
                more = f.read(_HEAD_BYTES)
                head += more
                whole = not more
        return head, whole

    def _inspect_csv(self) -> None:
        """Read the first megabyte (whole lines): header, types, delimiter, data rows."""
        try:
            head, whole = self._read_head()
        except (pa.ArrowException, OSError, EOFError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(
                f"{self.label}: cannot read the {self.compression or 'CSV'} data, it may be "
                f"corrupt or truncated ({reason})"
            ) from None
        if not whole:
            head = head[: head.rfind(b"\n") + 1]
        lines = [line for line in head.splitlines() if line.strip()]
        if not lines:
            raise ValueError(f"{self.label}: the file holds only blank lines, no header or data")
        width = lines[0].count(self.delimiter.encode()) + 1  # at most: quotes may hide some
        check_memory(
            width * _ARROW_COLUMN_BYTES + 4 * len(head),
            f"{width:,} columns",
            f"parsing the header and first rows of {self.label}",
            advice="keep fewer columns in the file, or raise {param}",
        )
        longest = max(len(line) for line in lines)
        self._block_size = max(_BLOCK_BYTES, 8 * (longest + 2))
        try:
            sample = pacsv.read_csv(
                io.BytesIO(head),
                read_options=pacsv.ReadOptions(use_threads=False, block_size=len(head) + 2),
                parse_options=self._parse_options(),
                convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
            )
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc) and len(lines) == 1:
                raise ValueError(f"{self.label}: the file has a header but no data rows") from None
            self._check_decimal_commas(lines)
            raise self._csv_error(exc) from None
        self.columns = [str(c) for c in sample.column_names]
        self._check_delimiter_guess()
        if sample.num_rows == 0:
            raise ValueError(f"{self.label}: the file has a header but no data rows")
        self._types = {}
        for field in sample.schema:
            self._types.setdefault(str(field.name), field.type)
        self._sample = sample
        self._int_labels = False
        target = self.target
        if self.task == "classification" and target in self._types:
            if pa.types.is_integer(self._types[target]):
                # integer-looking labels are read as text, so that "01" never becomes 1
                self._types[target] = pa.string()
                text = pacsv.read_csv(
                    io.BytesIO(head),
                    read_options=pacsv.ReadOptions(use_threads=False, block_size=len(head) + 2),
                    parse_options=self._parse_options(),
                    convert_options=pacsv.ConvertOptions(
                        include_columns=[target], column_types={target: pa.string()}
                    ),
                )
                self._int_labels = self._canonical_integers(text.column(0))

    @staticmethod
    def _canonical_integers(labels: pa.ChunkedArray | pa.Array) -> bool:
        """Whether every label is an integer written the one usual way ("7", not "07")."""
        valid = pc.drop_null(labels)
        return bool(pc.all(pc.match_substring_regex(valid, _CANONICAL_INT)).as_py() is not False)

    def _check_decimal_commas(self, lines: Sequence[bytes]) -> None:
        """A row longer than the header because its numbers have decimal commas: say so."""
        if self.delimiter == ",":
            others = [c for c in _DELIMITERS if c != ","]
            header = lines[0].decode("utf-8", "replace")
            body = b"\n".join(lines[1:6]).decode("utf-8", "replace")
            if not _DECIMAL_COMMA.search(body):
                return
            for candidate in others:
                if candidate in header and all(
                    line.count(candidate.encode()) == lines[0].count(candidate.encode())
                    for line in lines[1:6]
                ):
                    raise ParameterError(
                        "delimiter",
                        "{label}: the rows have more commas than the header: the file looks "
                        "{word}-separated with decimal commas ({example!r}); pass {0} and "
                        "write the numbers with decimal points (1.5, not 1,5)",
                        value=self.delimiter,
                        suggestions=[("delimiter", candidate)],
                        label=self.label,
                        word=_DELIMITERS[candidate],
                        example=_DECIMAL_COMMA.search(body).group(0),  # type: ignore[union-attr]
                    )

    def _check_delimiter_guess(self) -> None:
        if len(self.columns) != 1:
            return
        name = self.columns[0]
        for candidate, word in _DELIMITERS.items():
            if candidate != self.delimiter and candidate in name:
                raise ParameterError(
                    "delimiter",
                    "{label}: the header was read as one column {name!r}, which contains "
                    "{word}s; the file looks {word}-separated, not {current}-separated: "
                    "pass {0}",
                    value=self.delimiter,
                    suggestions=[("delimiter", candidate)],
                    label=self.label,
                    name=name,
                    word=word,
                    current=_DELIMITERS.get(self.delimiter, repr(self.delimiter)),
                )

    def _inspect_parquet(self) -> None:
        parquet = self._open_parquet()
        try:
            schema = parquet.schema_arrow
            meta = parquet.metadata
            self.n_rows = meta.num_rows
            self._row_group_rows = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        finally:
            parquet.close()
        self.columns = [str(c) for c in schema.names]
        if not self.columns:
            raise ValueError(f"{self.label}: the Parquet file has no columns")
        if self.n_rows == 0:
            raise ValueError(f"{self.label}: the file has columns but no data rows")
        self._types = {}
        for field in schema:
            self._types.setdefault(field.name, field.type)
        self._sample = None

    def _open_parquet(self) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(
                f"{self.label}: not a valid Parquet file, it may be corrupt or truncated ({reason})"
            ) from None

    def _example(self, name: str) -> str:
        """The first value of a non-numeric column that is not a number, for messages."""
        if self._sample is not None:
            for row, value in enumerate(self._sample.column(name).to_pylist(), start=1):
                try:
                    float(value)  # None, dates and text raise; numbers in a text column pass
                except (TypeError, ValueError):
                    if value is not None:
                        return f"{str(value)!r} in data row {row}"
        return f"type {self._types[name]}"

    def _select(self, features: Sequence[str] | None) -> list[str]:
        label, target, columns = self.label, self.target, self.columns
        if target is not None and target not in columns:
            raise ValueError(
                f"{label}: no column {target!r} for the target; the columns are "
                f"{format_names(columns)}"
            )
        if features is None:
            selected = [c for c in columns if c != target]
        else:
            selected = list(features)
            if not selected:
                raise ValueError("features is empty; name at least one feature column")
            if not all(isinstance(f, str) for f in selected):
                raise ValueError(f"features must be column names (str), got {selected!r}")
            twice = sorted(f for f, times in Counter(selected).items() if times > 1)
            if twice:
                raise ValueError(f"features lists {format_names(twice)} more than once")
            if target is not None and target in selected:
                raise ValueError(f"the target {target!r} is also listed in features; leave it out")
            present = set(columns)
            missing = [f for f in selected if f not in present]
            if missing:
                raise ValueError(
                    f"{label}: no column(s) {format_names(missing)} (asked for in features); the "
                    f"columns are {format_names(columns)}"
                )
        if not selected:
            raise ValueError(
                f"{label}: no feature columns, the file has only the target column {target!r}"
            )
        wanted = selected + ([target] if target is not None else [])
        counts = Counter(columns)
        duplicated = sorted({c for c in wanted if counts[c] > 1})
        if duplicated:
            raise ValueError(
                f"{label}: the column name(s) {format_names(duplicated)} appear more than once in "
                "the header; give every column a unique name"
            )
        text = [f for f in selected if not _is_numeric_type(self._types[f])]
        if self.allow_text:
            self.text_features, text = text, []
        if text:
            numeric = [f for f in selected if f not in text]
            examples = ", ".join(f"{f!r} ({self._example(f)})" for f in text[:5])
            more = f" and {len(text) - 5} more" if len(text) > 5 else ""
            if _DECIMAL_COMMA.search(examples):
                raise ValueError(
                    f"{label}: column(s) {examples}{more} hold numbers written with decimal "
                    "commas; write them with decimal points (1.5, not 1,5)"
                )
            if not numeric:
                raise ValueError(
                    f"{label}: non-numeric feature column(s) {examples}{more}; encode them as "
                    "numbers (e.g. one-hot) first"
                )
            raise ParameterError(
                "features",
                "{label}: non-numeric feature column(s) {examples}{more}; encode them as "
                "numbers (e.g. one-hot) or leave them out, e.g. {0}",
                value=features,
                suggestions=[("features", numeric[:8])],
                label=label,
                examples=examples,
                more=more,
            )
        if target is not None:
            t = self._types[target]
            if self.task == "regression" and not _is_numeric_type(t):
                raise ValueError(
                    f"{label}: the target column {target!r} is not numeric "
                    f"({self._example(target)}); for class labels use "
                    "task='classification'"
                )
            if self.task == "classification" and not _is_label_type(t):
                raise ValueError(
                    f"{label}: the target column {target!r} has type {t}, which cannot hold "
                    "class labels; use integer or string labels"
                )
        return selected

    # ----------------------------------------------------------------------- reading

    def column_types(self) -> dict[str, pa.DataType]:
        """The Arrow type of every column of the file, as inferred on opening."""
        return dict(self._types)

    @property
    def n_features(self) -> int:
        """Number of feature columns, ``X.shape[1]``."""
        return len(self.feature_names)

    @property
    def data_offset(self) -> int | None:
        """CSV: the byte offset of the first data line (just after the header line, past
        any empty lines before it); ``None`` for Parquet."""
        if self.format != "csv" or self.compression is not None:
            return None
        with open(self.path, "rb") as f:
            offset = 0
            for line in f:  # empty lines before the header are skipped, as the parser does
                offset += len(line)
                if line.rstrip(b"\r\n"):
                    return offset
        return offset

    def restrict(
        self,
        *,
        row_groups: Sequence[int] | None = None,
        byte_range: tuple[int, int] | None = None,
    ) -> TabularSource:
        """A copy of this source that reads only a part of the file.

        The checks made on opening (header, columns, types) carry over; only the rows
        read differ. Each process of a distributed job reads its own part this way (see
        :func:`torchlinear.distributed.shard_source`). A part may hold no rows at all, and
        a part's rows dropped by ``drop_na`` never raise "no rows left". Rows are numbered
        from the start of the part in messages about missing values, which name the part.

        Parameters
        ----------
        row_groups : sequence of int, optional
            Parquet only: the row groups to read, in this order.
        byte_range : (int, int), optional
            CSV only: read the lines that start in ``[start, stop)``. ``start`` must be
            :attr:`data_offset` or just after a line break and ``stop`` the file size or
            just after a line break. This needs one record per line, i.e. no line breaks
            inside quoted fields, which holds for numeric tables.

        Examples
        --------
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = path.write_text("x,y\\n1,2\\n3,4\\n5,6\\n")
        >>> source = TabularSource(path, target="y")
        >>> source.data_offset
        4
        >>> X, y = source.restrict(byte_range=(8, 16)).read_all()
        >>> X.ravel().tolist(), y.tolist()
        ([3.0, 5.0], [4.0, 6.0])
        """
        import copy

        if (row_groups is None) == (byte_range is None):
            raise ValueError("restrict() takes exactly one of row_groups= or byte_range=")
        part = copy.copy(self)
        part.n_dropped = None
        if row_groups is not None:
            if self.format != "parquet":
                raise ValueError(f"{self.label}: row_groups= applies to Parquet files only")
            parquet = self._open_parquet()
            try:
                meta = parquet.metadata
                sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
            finally:
                parquet.close()
            groups = [int(g) for g in row_groups]
            bad = [g for g in groups if not 0 <= g < len(sizes)]
            if bad:
                raise ValueError(
                    f"{self.label}: no row group(s) {bad}; the file has {len(sizes)} "
                    f"(numbered 0 to {len(sizes) - 1})"
                )
            part.row_groups, part.byte_range = groups, None
            part.n_rows = sum(sizes[g] for g in groups)
            contiguous = bool(groups) and groups == list(range(groups[0], groups[0] + len(groups)))
            part.row_offset = sum(sizes[: groups[0]]) if contiguous else 0
            shown = f"{groups[0]}-{groups[-1]}" if contiguous else str(groups)
            part.label = f"{self.path} (row groups {shown})"
            return part
        if self.format != "csv" or self.compression is not None:
            raise ValueError(f"{self.label}: byte_range= applies to uncompressed CSV files only")
        start, stop = (int(b) for b in byte_range)  # type: ignore[union-attr]
        size = self.path.stat().st_size
        first = self.data_offset
        assert first is not None
        if not first <= start <= stop <= size:
            raise ValueError(
                f"{self.label}: byte_range {byte_range} must satisfy {first} <= start <= "
                f"stop <= {size} (the data lines lie in bytes {first} to {size})"
            )
        with open(self.path, "rb") as f:
            for edge, name in ((start, "start"), (stop, "stop")):
                if first < edge < size:
                    f.seek(edge - 1)
                    if f.read(1) != b"\n":
                        raise ValueError(
                            f"{self.label}: byte_range {name} {edge} is not at the start of "
                            "a line; put it just after a line break"
                        )
        part.row_groups, part.byte_range = None, (start, stop)
        part.n_rows, part.row_offset = None, 0
        part.label = f"{self.path} (bytes {start} to {stop})"
        return part

    def __repr__(self) -> str:
        return (
            f"TabularSource({self.label!r}, format={self.format!r}, target={self.target!r}, "
            f"n_features={self.n_features}, n_rows={self.n_rows})"
        )

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        return self.iter_chunks()

    def iter_chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Stream the file once, as chunks ``(X, y)`` of at most ``batch_rows`` rows.

        Each call starts a fresh pass over the file, so a training loop can stream
        several epochs. ``X`` is a new C-contiguous float64 array of shape
        ``(rows, n_features)``; ``y`` is float64 of shape ``(rows,)`` (regression),
        the labels as read (classification), or ``None`` without a target.

        Missing or non-finite values raise a ``ValueError`` when met (after counting
        them over the rest of the file) unless ``drop_na=True``, which skips their rows.

        Yields
        ------
        X : numpy.ndarray
        y : numpy.ndarray or None

        Examples
        --------
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "gaps.csv"
        >>> _ = path.write_text("x,y\\n1,2\\n,4\\n5,NA\\n7,8\\n")
        >>> source = TabularSource(path, target="y", drop_na=True)
        >>> [X.ravel().tolist() for X, _ in source.iter_chunks()], source.n_dropped
        ([[1.0, 7.0]], 2)
        """
        return self._stream()

    def iter_tables(self) -> Iterator[pa.Table]:
        """Stream the file once as Arrow tables of at most ``batch_rows`` rows, unconverted.

        The columns are the features then the target: numbers as float64 (booleans 0/1),
        text columns (:attr:`text_features`) and class labels as they are read, missing
        cells as nulls. Nothing is checked for missing values here: the caller decides
        (see :class:`torchlinear.data.design.DesignSource`). A complete pass sets
        :attr:`n_rows`.

        Examples
        --------
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "pets.csv"
        >>> _ = path.write_text("kind,age,price\\ncat,2,10\\ndog,,20\\n")
        >>> source = TabularSource(path, target="price", allow_text=True)
        >>> source.text_features
        ['kind']
        >>> [t.to_pydict() for t in source.iter_tables()]
        [{'kind': ['cat', 'dog'], 'age': [2.0, None], 'price': [10.0, 20.0]}]
        """
        rows = 0
        labels = set(self.text_features)
        if self.target is not None and self.task == "classification":
            labels.add(self.target)
        for table in _rechunk(self._record_batches(), self.batch_rows):
            columns = []
            for name, column in zip(table.column_names, table.columns, strict=True):
                if pa.types.is_dictionary(column.type):
                    column = column.cast(column.type.value_type)
                if name not in labels:
                    column = column.cast(pa.float64())
                elif pa.types.is_large_string(column.type):
                    column = column.cast(pa.string())
                columns.append(column)
            rows += table.num_rows
            yield pa.table(columns, names=table.column_names)
        self.n_rows = rows

    def read_all(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Read the whole file into memory as ``(X, y)`` (for files that fit).

        Examples
        --------
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = path.write_text("a,b\\n1,2\\n3,4\\n")
        >>> X, y = TabularSource(path).read_all()
        >>> X.tolist(), y
        ([[1.0, 2.0], [3.0, 4.0]], None)
        """
        Xs, ys = [], []
        for X, y in self._stream():
            Xs.append(X)
            ys.append(y)
        if not Xs:  # a part of the file (see restrict) with no rows
            Xs = [np.empty((0, self.n_features))]
            ys = [np.empty(0, dtype=np.float64 if self.task == "regression" else object)]
        X = np.concatenate(Xs) if len(Xs) > 1 else Xs[0]
        if self.target is None:
            return X, None
        return X, (np.concatenate(ys) if len(ys) > 1 else ys[0])

    def _stream(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        if self.text_features:
            raise ValueError(
                f"{self.label}: the text column(s) {format_names(self.text_features)} must be "
                "encoded first: read the file through torchlinear.data.design.DesignSource"
            )
        missing = _MissingValues()
        seen = kept = dropped = 0
        for X, y, bad_columns, bad_rows in self._converted():
            if bad_rows is not None:
                missing.add(bad_columns, bad_rows, self.row_offset + seen)
                if self.drop_na:
                    keep = ~bad_rows
                    X = X[keep]
                    y = self._filter_target(y, keep)
                    dropped += int(bad_rows.sum())
            seen += len(bad_rows) if bad_rows is not None else len(X)
            if missing.rows and not self.drop_na:
                continue  # keep counting to the end of the file, then report everything
            if len(X):
                kept += len(X)
                yield X, y
        self.n_rows = seen
        if missing.rows and not self.drop_na:
            raise missing.error(self.label)
        self.n_dropped = dropped
        whole_file = self.row_groups is None and self.byte_range is None
        if kept == 0 and whole_file:  # a part may be empty; the whole data must not be
            raise ValueError(
                f"{self.label}: all {seen} data rows have a missing or non-finite value in "
                "the selected columns, so none is left; fill the gaps or choose other columns"
            )

    def _filter_target(self, y: Any, keep: np.ndarray) -> Any:
        if y is None or isinstance(y, np.ndarray):
            return None if y is None else y[keep]
        return y.filter(pa.array(keep)).to_numpy(zero_copy_only=False)

    def _converted(self) -> Iterator[tuple[np.ndarray, Any, list, np.ndarray | None]]:
        """Chunks of ``batch_rows`` rows as ``(X, y, bad columns, bad rows)``, in file order."""
        if self.format == "parquet":
            wanted = self.feature_names + ([self.target] if self.target is not None else [])
            if self._polars_reads_parquet(wanted):
                for part in _regroup(self._polars_parquet_parts(wanted), self.batch_rows):
                    yield self._finish(*part)
                return
            for table in _rechunk(self._record_batches(), self.batch_rows):
                yield self._convert(table)
            return
        rows = 0
        if self.compression is not None:  # one sequential stream: no byte ranges to split
            for table in _rechunk(self._record_batches(), self.batch_rows):
                yield self._convert(table)
            return
        try:
            for part in _regroup(self._csv_parts(), self.batch_rows):
                rows += len(part[0])
                yield self._finish(*part)
            return
        except _BlockFailed:
            pass  # read on sequentially from the row reached, to report the problem
        for table in _rechunk(_skip_rows(self._record_batches(), rows), self.batch_rows):
            yield self._convert(table)

    def _csv_parts(self) -> Iterator[_Part]:
        """The CSV's data lines (or this part's) parsed in parallel blocks, in order."""
        if self.byte_range is not None:
            start, stop = self.byte_range
        else:
            start, stop = self.data_offset or 0, self.path.stat().st_size
        wanted = self.feature_names + ([self.target] if self.target is not None else [])
        parse = self._block_parser(wanted)
        blocks = line_blocks(self.path, start, stop, max(_CSV_BLOCK_BYTES, self._block_size))
        # a block's parse holds about _ARROW_COLUMN_BYTES a column: wide files, fewer threads
        per_block = len(self.columns) * _ARROW_COLUMN_BYTES
        workers = max(1, min(default_workers(), _PARALLEL_PARSE_BYTES // max(1, per_block)))
        yield from ordered_map(parse, blocks, workers)

    def _block_parser(self, wanted: list[str]) -> Callable[[tuple[int, int]], _Part]:
        """A function parsing the byte range ``(start, stop)`` into ``(X, y, y_bad)``.

        Numeric columns are parsed by polars when it is installed, and the block by
        pyarrow instead whenever polars fails or finds a null (polars makes nulls of
        empty cells, of empty lines and of rows with too few fields, which pyarrow
        skips or rejects; it fails on texts such as ``NA`` that pyarrow reads as null).
        Both parse numbers to the nearest float64, and both read ``nan`` as not a
        number, so every block reads exactly as pyarrow reads it. A block pyarrow
        rejects raises :class:`_BlockFailed`.
        """
        pl = _polars()
        fast = (
            pl is not None
            and len(set(self.columns)) == len(self.columns)
            and (self.target is None or self.task == "regression")
            and not any(pa.types.is_boolean(self._types[name]) for name in wanted)
        )
        types = self._csv_types(wanted)
        convert_options = pacsv.ConvertOptions(
            column_types=types, include_columns=wanted, strings_can_be_null=True
        )
        d = len(self.feature_names)
        sep = self.delimiter

        def polars_part(data: bytes) -> _Part | None:
            schema = {name: pl.String for name in self.columns} | dict.fromkeys(wanted, pl.Float64)
            try:
                # every column is parsed (the others as text): with some left out,
                # polars would accept a row with too many fields
                frame = pl.read_csv(data, has_header=False, schema=schema, separator=sep)
            except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
                return None  # e.g. a text value or a ragged row: pyarrow reports it
            if frame.height == 0 or sum(frame.null_count().row(0)):
                return None  # a null in any column, e.g. the last of a row too short
            columns = [frame.get_column(name) for name in wanted]
            X = pl.DataFrame(columns[:d]).to_numpy(order="c")
            if not (X.flags.writeable and X.flags.c_contiguous and X.dtype == np.float64):
                X = np.array(X, dtype=np.float64, order="C")
            y = np.array(columns[d].to_numpy(), dtype=np.float64) if len(columns) > d else None
            return X, y, None

        def parse(byte_range: tuple[int, int]) -> _Part:
            data = read_bytes(self.path, *byte_range)
            if fast:
                part = polars_part(data)
                if part is not None:
                    return part
            read_options = pacsv.ReadOptions(
                column_names=self.columns, use_threads=False, block_size=len(data) + 2
            )
            try:
                table = pacsv.read_csv(
                    pa.py_buffer(data),
                    read_options=read_options,
                    parse_options=self._parse_options(),
                    convert_options=convert_options,
                )
            except pa.ArrowInvalid as exc:
                if "Empty CSV file" in str(exc):  # only empty lines
                    return np.empty((0, d)), None, None
                raise _BlockFailed from None
            return self._arrow_part(table)

        return parse

    def _csv_types(self, wanted: list[str]) -> dict[str, pa.DataType]:
        """The Arrow type each wanted CSV column is read as."""
        types = {}
        for name in wanted:
            t = self._types[name]
            if name == self.target and self.task == "classification":
                types[name] = pa.string() if pa.types.is_null(t) else t
            elif name in self.text_features:
                types[name] = pa.string()
            else:
                types[name] = pa.bool_() if pa.types.is_boolean(t) else pa.float64()
        return types

    def _arrow_part(self, table: pa.Table) -> _Part:
        """One Arrow table as ``(X, y, y_bad)``: classification labels stay Arrow."""
        d = len(self.feature_names)
        X = np.empty((table.num_rows, d), dtype=np.float64)
        for j in range(d):
            _to_float64(table.column(j), X[:, j])
        if self.target is None:
            return X, None, None
        column = table.column(d)
        if self.task == "regression":
            y = np.empty(table.num_rows, dtype=np.float64)
            _to_float64(column, y)
            return X, y, None
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if self._int_labels and self.format == "csv":
            if not self._canonical_integers(column):
                bad = pc.filter(column, pc.invert(pc.match_substring_regex(column, _CANONICAL_INT)))
                value = str(bad[0].as_py())
                row = self._locate_value(str(self.target), value)
                where = f" in data row {row}" if row else ""
                raise ValueError(
                    f"{self.label}: the target column {self.target!r} has the value {value!r}"
                    f"{where}, which is not written like the integer labels in the first rows; "
                    "make the labels consistent (labels are compared as text: '01' is not '1')"
                )
            column = column.cast(pa.int64())
        return X, column, column.is_null(nan_is_null=True).to_numpy(zero_copy_only=False)

    def _finish(
        self, X: np.ndarray, y: Any, y_bad: np.ndarray | None
    ) -> tuple[np.ndarray, Any, list, np.ndarray | None]:
        """A chunk with its missing cells found; labels become NumPy unless some are null
        (those are filtered in Arrow, keeping the labels' type)."""
        if isinstance(y, pa.ChunkedArray) and y_bad is not None and not y_bad.any():
            y = y.to_numpy(zero_copy_only=False)
        bad_columns, bad_rows = self._non_finite(X, y, y_bad)
        if isinstance(y, pa.ChunkedArray) and bad_rows is not None and not self.drop_na:
            y = None  # this chunk is only counted, never yielded
        return X, y, bad_columns, bad_rows

    def _convert(self, table: pa.Table) -> tuple[np.ndarray, Any, list, np.ndarray | None]:
        """Turn one Arrow chunk into ``X`` (and ``y``) and find the missing cells."""
        return self._finish(*self._arrow_part(table))

    def _non_finite(
        self, X: np.ndarray, y: Any, y_bad: np.ndarray | None = None
    ) -> tuple[list[tuple[str, np.ndarray]], np.ndarray | None]:
        """The columns with missing or non-finite cells (with their masks), and the rows."""
        bad_columns: list[tuple[str, np.ndarray]] = []
        if not math.isfinite(float(X.sum())):  # one cheap pass; NaN/inf propagate
            bad = ~np.isfinite(X)
            bad_columns = [
                (name, bad[:, j]) for j, name in enumerate(self.feature_names) if bad[:, j].any()
            ]
        if y_bad is None and isinstance(y, np.ndarray) and y.dtype == np.float64:
            y_bad = ~np.isfinite(y)
        if y_bad is not None and y_bad.any():
            bad_columns.append((str(self.target), y_bad))
        if not bad_columns:
            return bad_columns, None
        return bad_columns, np.logical_or.reduce([mask for _, mask in bad_columns])

    def _record_batches(self) -> Iterator[pa.RecordBatch]:
        """Arrow record batches holding the features then the target, in that order."""
        wanted = self.feature_names + ([self.target] if self.target is not None else [])
        if self.format == "parquet":
            return self._parquet_batches(wanted)
        return self._arrow_csv_batches(wanted)

    def _arrow_csv_batches(self, wanted: list[str]) -> Iterator[pa.RecordBatch]:
        """The batches through pyarrow's sequential streaming CSV reader, which numbers
        the rows in its error messages."""
        types = self._csv_types(wanted)
        read_options = pacsv.ReadOptions(block_size=self._block_size, use_threads=True)
        with contextlib.ExitStack() as stack:
            stream: Any = self.path
            if self.byte_range is not None:  # a part: its lines only, the header is known
                start, stop = self.byte_range
                if start == stop:
                    return
                stream = stack.enter_context(pa.OSFile(str(self.path))).get_stream(
                    start, stop - start
                )
                read_options.column_names = self.columns
            try:
                reader = pacsv.open_csv(
                    stream,
                    read_options=read_options,
                    parse_options=self._parse_options(),
                    convert_options=pacsv.ConvertOptions(
                        column_types=types, include_columns=wanted, strings_can_be_null=True
                    ),
                )
                with contextlib.closing(reader):
                    yield from reader
            except pa.ArrowInvalid as exc:
                if self.byte_range is not None and "Empty CSV file" in str(exc):
                    return  # only empty lines in this part
                raise self._csv_error(exc) from None
            except (pa.ArrowException, OSError, EOFError) as exc:  # e.g. a truncated .gz
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ValueError(
                    f"{self.label}: cannot read the {self.compression or 'CSV'} data, it may "
                    f"be corrupt or truncated ({reason})"
                ) from None

    def _polars_reads_parquet(self, wanted: list[str]) -> bool:
        """Whether polars' streaming Parquet reader can read the wanted columns.

        It reads plain numbers (integers, floats, booleans) of a regression, in row
        groups of bounded size; other types (dictionary-encoded, decimal, null, class
        labels) and very large row groups go through pyarrow's reader.
        """
        if _polars() is None or len(set(self.columns)) != len(self.columns):
            return False
        if self.target is not None and self.task != "regression":
            return False
        plain = (pa.types.is_integer, pa.types.is_float64, pa.types.is_float32, pa.types.is_boolean)
        if not all(any(test(self._types[name]) for test in plain) for name in wanted):
            return False
        largest = max(self._row_group_rows, default=0)
        return largest * 8 * len(wanted) <= _POLARS_ROW_GROUP_BYTES

    def _polars_parquet_parts(self, wanted: list[str]) -> Iterator[_Part]:
        """The Parquet file's rows (or this part's row groups) read by polars' streaming
        engine as float64 parts ``(X, y, None)``, in order.

        Polars decodes row groups on all cores while a bounded number of batches wait,
        so memory stays at a few row groups whatever the file size. Nulls read as NaN,
        booleans as 0/1.
        """
        pl = _polars()
        sizes = self._row_group_rows
        groups = list(range(len(sizes))) if self.row_groups is None else self.row_groups
        starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).tolist()
        limit = max(1, _POLARS_SLICE_BYTES // (8 * len(wanted)))
        slices = _slices(((starts[g], sizes[g]) for g in groups), limit)
        d = len(self.feature_names)
        columns = [pl.col(name).cast(pl.Float64) for name in wanted]
        for offset, length in slices:
            frame = pl.scan_parquet(self.path, low_memory=True).slice(offset, length)
            try:
                batches = frame.select(columns).collect_batches(
                    chunk_size=min(self.batch_rows, _POLARS_CHUNK_ROWS), maintain_order=True
                )
                for batch in batches:
                    X = batch.select(self.feature_names).to_numpy(order="c")
                    if not (X.flags.writeable and X.flags.c_contiguous and X.dtype == np.float64):
                        X = np.array(X, dtype=np.float64, order="C")
                    y = None
                    if self.target is not None:
                        y = np.array(batch.get_column(self.target).to_numpy(), dtype=np.float64)
                    yield X.reshape(-1, d), y, None
            except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError) as exc:
                text = str(exc).strip()
                reason = text.splitlines()[0] if text else type(exc).__name__
                raise ValueError(
                    f"{self.label}: the Parquet file is corrupt, reading it failed ({reason})"
                ) from None

    def _parquet_batches(self, wanted: list[str]) -> Iterator[pa.RecordBatch]:
        if self.row_groups is not None and not self.row_groups:
            return
        parquet = self._open_parquet()
        try:
            yield from parquet.iter_batches(
                batch_size=self.batch_rows,
                row_groups=self.row_groups,
                columns=wanted,
                use_threads=True,
            )
        except (pa.ArrowException, OSError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(
                f"{self.label}: the Parquet file is corrupt, reading it failed ({reason})"
            ) from None
        finally:
            parquet.close()

    # -------------------------------------------------------------- CSV error messages

    def _csv_error(self, exc: Exception) -> ValueError:
        """Translate a pyarrow CSV error into one line naming the file, row and column."""
        message = str(exc)
        ragged = re.search(r"Expected (\d+) columns, got (\d+): ?(.*)", message, re.S)
        if ragged:
            expected, got = int(ragged.group(1)), int(ragged.group(2))
            text = ragged.group(3).splitlines()[0] if ragged.group(3) else ""
            row_match = re.search(r"Row #(\d+)", message)
            number = int(row_match.group(1)) if row_match else self._locate_ragged_row()
            where = f"data row {number - 1}" if number else "a data row"
            return ValueError(
                f"{self.label}: {where} has {got} field(s) but the header has {expected} "
                f"(ragged row {text[:60]!r}); every row needs one value per column"
            )
        bad_value = re.search(
            r"In CSV column #(\d+): CSV conversion error to (\w+): invalid value '(.*)'$",
            message,
            re.S,
        )
        if bad_value:
            index, kind, value = int(bad_value.group(1)), bad_value.group(2), bad_value.group(3)
            name = self.columns[index] if index < len(self.columns) else f"#{index}"
            row = self._locate_value(name, value)
            where = f" in data row {row}" if row else ""
            if name == self.target and self.task == "classification":
                return ValueError(
                    f"{self.label}: the target column {name!r} has the value {value!r}{where}, "
                    f"which is not of type {kind} like the labels in the first rows; make "
                    "the labels consistent"
                )
            if name == self.target:
                advice = "fix that cell, or for class labels use task='classification'"
            else:
                return ParameterError(
                    "features",
                    "{label}: column {name!r} has the non-numeric value {value!r}{where}, but "
                    "it must hold numbers only; fix that cell, or leave the column out with "
                    "{features}",
                    value=value,
                    label=self.label,
                    name=name,
                    where=where,
                )
            return ValueError(
                f"{self.label}: column {name!r} has the non-numeric value {value!r}{where}, "
                f"but it must hold numbers only; {advice}"
            )
        first_line = message.splitlines()[0] if message else type(exc).__name__
        return ValueError(f"{self.label}: could not read the CSV file: {first_line}")

    def _locate_ragged_row(self) -> int | None:
        """Re-read single-threaded, which lets pyarrow number the offending row."""
        numbers: list[int] = []

        def handler(row: Any) -> str:
            numbers.append(row.number)
            return "error"

        try:
            reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(block_size=self._block_size, use_threads=False),
                parse_options=self._parse_options(invalid_row_handler=handler),
                convert_options=pacsv.ConvertOptions(
                    include_columns=self.columns[:1], column_types={self.columns[0]: pa.string()}
                ),
            )
            with contextlib.closing(reader):
                for _ in reader:
                    pass
        except (pa.ArrowException, OSError):
            pass
        return numbers[0] if numbers and numbers[0] and numbers[0] > 0 else None

    def _locate_value(self, column: str, value: str) -> int | None:
        """Find the first data row where ``column`` holds the text ``value``."""
        try:
            reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(block_size=self._block_size, use_threads=True),
                parse_options=self._parse_options(),
                convert_options=pacsv.ConvertOptions(
                    include_columns=[column], column_types={column: pa.string()}
                ),
            )
            offset = 0
            with contextlib.closing(reader):
                for batch in reader:
                    index = pc.index(batch.column(0), value).as_py()
                    if index >= 0:
                        return offset + index + 1
                    offset += batch.num_rows
        except (pa.ArrowException, OSError):
            return None
        return None
