"""The CSV side of :class:`~torchlinear.data.tabular.TabularSource`: inspection, parsing, errors.

:class:`CsvReader` checks a CSV file when it is opened (its first megabyte: the header, the
column types, the delimiter, decimal commas) and then reads it in parts of rows. An
uncompressed file is cut into blocks of whole lines parsed in parallel (by polars, or by
pyarrow for a block polars cannot read exactly as pyarrow does); a compressed one, and the
rest of a file after a block pyarrow rejects, go through pyarrow's sequential streaming
reader, whose errors number the rows. Every error becomes one line naming the file, and
where it can, the row and the value.

Examples
--------
>>> import pathlib, tempfile
>>> from torchlinear.data._parts import Selection
>>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = path.write_text("a,b,y\\n1,2,3\\n4,5,6\\n7,8,9\\n")
>>> reader = CsvReader(path, str(path), ",", None)
>>> reader.inspect(target="y", task="regression")
>>> reader.columns, reader.data_offset
(['a', 'b', 'y'], 6)
>>> sel = Selection(str(path), ["a", "b"], "y", "regression", [], batch_rows=2)
>>> [(X.tolist(), y.tolist()) for X, y, _ in reader.parts(sel)]
[([[1.0, 2.0], [4.0, 5.0]], [3.0, 6.0]), ([[7.0, 8.0]], [9.0])]
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from torchlinear._memory import check_memory
from torchlinear._validation import ParameterError
from torchlinear.data._parts import (
    ARROW_COLUMN_BYTES,
    Part,
    Selection,
    arrow_part,
    first_line,
    polars_module,
    rechunk,
    regroup,
)
from torchlinear.data.blocks import (
    LineTooLong,
    default_workers,
    line_blocks,
    ordered_map,
    read_bytes,
)
from torchlinear.data.csv_errors import (
    LOST_PLACE,
    MAX_LINE_BYTES,
    CsvDiagnosis,
    first_not_utf8,
    not_utf8,
    open_quote,
)
from torchlinear.data.formats import binary_kind, wide_encoding
from torchlinear.data.wide_csv import (
    CELL_BYTES,
    WIDE_COLUMN_BYTES,
    WIDE_COLUMNS,
    WideHead,
    numeric_block,
    read_head,
)

__all__ = ["DECIMAL_COMMA", "CsvReader", "is_decimal_comma", "is_number"]

#: Column overhead the parallel block parsers may hold together (one thread beyond it).
_PARALLEL_PARSE_BYTES = 64 << 20
_HEAD_BYTES = 1 << 20  # bytes of a CSV read up front to check the header and infer types
_BLOCK_BYTES = 1 << 20  # CSV parser block: pyarrow reads a bounded number of blocks ahead
_CSV_BLOCK_BYTES = 4 << 20  # CSV text parsed per block by one thread (see data.blocks)
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
DECIMAL_COMMA = re.compile(r"(?<![\d.,])-?\d+,\d+(?![\d.,])")
"""A number written with a decimal comma (``1,5``), as a text value shows it."""
_CANONICAL_INT = r"^-?(0|[1-9][0-9]*)$"

_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")
_SPECIAL = {f"{sign}{word}" for sign in ("", "+", "-") for word in ("inf", "infinity", "nan")}


def is_number(value: Any) -> bool:
    """Whether a CSV cell is written as a number, as the readers parse one: decimal or
    scientific notation, or inf/nan (``1_000``, ``0x1A`` and ``1,5`` are not).

    Examples
    --------
    >>> [is_number(v) for v in ["1.5", "-2e3", " 7 ", "NaN", "1_000", "0x1A", "1,5", "?"]]
    [True, True, True, True, False, False, False, False]
    """
    if not isinstance(value, str):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return bool(_NUMBER.fullmatch(value)) or value.strip().lower() in _SPECIAL


def is_decimal_comma(value: str) -> bool:
    """Whether a CSV cell is a number written with a decimal comma, such as ``-1,5``.

    Examples
    --------
    >>> [is_decimal_comma(v) for v in ["1,5", " -12,25 ", "1,5,6", "1.5", "a,1"]]
    [True, True, False, False, False]
    """
    return DECIMAL_COMMA.fullmatch(value.strip()) is not None


class _BlockFailed(Exception):
    """A CSV block pyarrow cannot parse: the sequential reader then reports the problem."""


def _skip_rows(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The batches without their first ``rows`` rows."""
    for batch in batches:
        if rows >= batch.num_rows:
            rows -= batch.num_rows
            continue
        yield batch.slice(rows) if rows else batch
        rows = 0


def _two_lines(head: bytes) -> bool:
    """Whether ``head`` holds two whole lines that are not blank (a header, a data line)."""
    complete = head.split(b"\n")[:-1]
    return sum(1 for line in complete if line.strip()) >= 2


def _canonical_integers(labels: pa.ChunkedArray | pa.Array) -> bool:
    """Whether every label is an integer written the one usual way ("7", not "07")."""
    valid = pc.drop_null(labels)
    return bool(pc.all(pc.match_substring_regex(valid, _CANONICAL_INT)).as_py() is not False)


class CsvReader(CsvDiagnosis):
    """A CSV file: inspected once (:meth:`inspect`), then read in parts (:meth:`parts`).

    Parameters
    ----------
    path : pathlib.Path
        The file.
    label : str
        How messages name it.
    delimiter : str
        The field separator.
    compression : str or None
        The codec the file is compressed with (``"gzip"``, ...), if any.

    Attributes
    ----------
    columns : list of str
        The header's column names, in file order (after :meth:`inspect`).
    types : dict of str to pyarrow.DataType
        The type inferred for each column from the first megabyte.
    n_rows : None
        The number of rows is known only after a complete pass.
    sample : pyarrow.Table or None
        The first rows as parsed on opening (for messages naming a value); for a file of
        thousands of columns, those of its columns that hold more than numbers.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("a;b\\n1;x\\n")
    >>> reader = CsvReader(path, "t.csv", ";", None)
    >>> reader.inspect(target=None, task="regression")
    >>> {name: str(t) for name, t in reader.types.items()}
    {'a': 'int64', 'b': 'string'}
    """

    format = "csv"

    def __init__(self, path: Path, label: str, delimiter: str, compression: str | None) -> None:
        self.path = path
        self.label = label
        self.delimiter = delimiter
        self.compression = compression
        self.columns: list[str] = []
        self.types: dict[str, pa.DataType] = {}
        self.n_rows: int | None = None
        self.sample: pa.Table | None = None
        self.int_labels = False  # integer class labels, read as text and checked
        self.block_size = _BLOCK_BYTES
        self.sample_is_file = False
        self._numbers_only: set[str] = set()  # columns of numbers left out of the sample

    def parse_options(self, **kwargs: Any) -> pacsv.ParseOptions:
        """pyarrow's parse options for this file (``kwargs`` added)."""
        return pacsv.ParseOptions(delimiter=self.delimiter, **kwargs)

    def _open_text(self) -> Any:
        """The file's bytes as a buffered binary stream (it reads lines), decompressed on
        the fly when compressed."""
        if self.compression is None:
            return open(self.path, "rb")
        stream = pa.input_stream(str(self.path), compression=self.compression)
        return io.BufferedReader(stream, _BLOCK_BYTES)

    def _read_head(self) -> tuple[bytes, bool]:
        """The first megabyte (more for longer first lines: up to the end of the first
        data line, which the types are inferred from) and whether it is the file."""
        with self._open_text() as f:
            head = f.read(_HEAD_BYTES + 1)
            kind = binary_kind(head)
            if kind is not None:
                raise ValueError(f"{self.label}: the file is {kind}")
            whole = len(head) <= _HEAD_BYTES
            while not whole and b"\n" not in head:  # a very long first line: read on
                if len(head) > MAX_LINE_BYTES:
                    raise ValueError(
                        f"{self.label}: no line break in the first 64 MB; is it a CSV file?"
                    )
                more = f.read(_HEAD_BYTES)
                head += more
                whole = not more
            while not whole and len(head) <= 2 * MAX_LINE_BYTES and not _two_lines(head):
                start = head.rfind(b"\n") + 1  # of the line being read
                if len(head) - start > MAX_LINE_BYTES:
                    where = " of the decompressed data" if self.compression else ""
                    raise ValueError(
                        f"{self.label}: no line break in the {MAX_LINE_BYTES:,} bytes from "
                        f"byte {start:,}{where} (data row 1: a quote that is never closed, or "
                        "not a CSV file?); every row of a CSV file is one line"
                    )
                # a header of a megabyte or more; never far past the longest line allowed
                room = MAX_LINE_BYTES + 1 - (len(head) - start)
                more = f.read(max(_HEAD_BYTES, min(len(head), room)))
                head += more
                whole = not more
        return head, whole

    def inspect(self, target: str | None, task: str) -> None:
        """Read the first megabyte (whole lines): header, types, delimiter, data rows."""
        try:
            self._inspect(target, task)
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{self.label}: the header is not UTF-8 text (byte {exc.object[exc.start]:#x} "
                f"at position {exc.start}); save the file as UTF-8"
            ) from None

    def _head_lines(self) -> tuple[bytes, list[bytes]]:
        """The first megabyte cut at a line break, and its non-blank lines."""
        try:
            head, whole = self._read_head()
        except (pa.ArrowException, OSError, EOFError) as exc:
            raise ValueError(
                f"{self.label}: cannot read the {self.compression or 'CSV'} data, it may be "
                f"corrupt or truncated ({first_line(exc)})"
            ) from None
        if wide_encoding(head):
            raise ValueError(
                f"{self.label}: the file is UTF-16 or UTF-32 text, not UTF-8; save it as UTF-8"
            )
        if b"\r" in head and b"\n" not in head.rstrip(b"\r"):  # line breaks are lone CRs
            raise ValueError(
                f"{self.label}: the lines end in a carriage return alone (old Mac line "
                "endings); convert the file to LF or CRLF line endings"
            )
        self.sample_is_file = whole  # the first rows parsed on opening are all the rows
        if not whole:
            head = head[: head.rfind(b"\n") + 1]
        lines = [line for line in head.splitlines() if line.strip()]
        if not lines:
            raise ValueError(f"{self.label}: the file holds only blank lines, no header or data")
        return head, lines

    def _inspect(self, target: str | None, task: str) -> None:
        head, lines = self._head_lines()
        width = lines[0].count(self.delimiter.encode()) + 1  # at most: quotes may hide some
        if width >= WIDE_COLUMNS and self._inspect_wide(head, width, target, task):
            return
        longest = max(len(line) for line in lines)
        # blocks of several lines; two hold the longest line (a few blocks are in flight)
        self.block_size = max(_BLOCK_BYTES, min(8 * (longest + 2), 2 * longest + _BLOCK_BYTES))
        check_memory(
            width * ARROW_COLUMN_BYTES + 4 * len(head) + 4 * (self.block_size - _BLOCK_BYTES),
            f"{width:,} columns" if longest < _BLOCK_BYTES else f"a line of {longest:,} bytes",
            f"parsing the header and first rows of {self.label}",
            advice="keep fewer columns in the file, or raise {param}",
        )
        try:
            sample = self._read_head_table(head, pacsv.ConvertOptions(strings_can_be_null=True))
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc) and len(lines) == 1:
                raise ValueError(f"{self.label}: the file has a header but no data rows") from None
            self._check_decimal_commas(lines)
            raise self.error(exc, self.label, target, task) from None
        self.columns = [str(c) for c in sample.column_names]
        self._check_delimiter_guess()
        if sample.num_rows == 0:
            raise ValueError(f"{self.label}: the file has a header but no data rows")
        self._check_line_breaks(sample)
        self.types = {}
        for field in sample.schema:
            self.types.setdefault(str(field.name), field.type)
        self.sample = sample
        self.int_labels = False
        if task == "classification" and target in self.types:
            if pa.types.is_integer(self.types[target]):
                # integer-looking labels are read as text, so that "01" never becomes 1
                self.types[target] = pa.string()
                text = self._read_head_table(
                    head,
                    pacsv.ConvertOptions(
                        include_columns=[target], column_types={target: pa.string()}
                    ),
                )
                self.int_labels = _canonical_integers(text.column(0))

    def _inspect_wide(self, head: bytes, width: int, target: str | None, task: str) -> bool:
        """Thousands of columns: the first rows read cell by cell (tens of bytes a cell
        and about a kilobyte a column, not pyarrow's ~8.5 kB a column); False when they
        need pyarrow's parser."""
        check_memory(
            64 * len(head) + 1024 * width,
            f"{width:,} columns",
            f"parsing the header and first rows of {self.label}",
            advice="keep fewer columns in the file, or raise {param}",
        )
        wide: WideHead | None = read_head(head, self.delimiter)
        if wide is None:
            return False
        self.columns = wide.columns
        self.types = wide.types
        self.sample = wide.sample
        self._numbers_only = wide.numeric
        self.int_labels = False
        if task == "classification" and target in self.types:
            if pa.types.is_integer(self.types[target]):  # as _inspect: labels read as text
                self.types[target] = pa.string()
                cells = [c.decode("utf-8", "replace") for c in wide.column_cells(target)]
                self.int_labels = _canonical_integers(pa.array(cells, pa.string()))
        return True

    def _check_line_breaks(self, sample: pa.Table) -> None:
        """Refuse a quote that is never closed: the rows after it read as one value.

        Quoted values may hold line breaks (a note over two lines); a value whose lines
        are rows of this file (as many delimiters as the header) is swallowed rows.
        """
        delimiter = self.delimiter
        fields = len(self.columns) - 1
        for name, column in zip(self.columns, sample.columns, strict=True):
            if not pa.types.is_string(column.type):
                continue
            broken = pc.match_substring_regex(column, r"[\r\n]")
            if not pc.any(broken).as_py():
                continue
            rows = np.flatnonzero(broken.to_numpy(zero_copy_only=False).astype(bool))
            for row in rows[:100]:
                lines = str(column[int(row)].as_py()).splitlines()[1:]
                if sum(line.count(delimiter) == fields for line in lines) >= 2:
                    raise open_quote(self.label, int(row) + 1, name)

    def _read_head_table(self, head: bytes, convert: pacsv.ConvertOptions) -> pa.Table:
        return pacsv.read_csv(
            io.BytesIO(head),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=len(head) + 2),
            parse_options=self.parse_options(),
            convert_options=convert,
        )

    def _check_decimal_commas(self, lines: Sequence[bytes]) -> None:
        """A row longer than the header because its numbers have decimal commas: say so."""
        if self.delimiter == ",":
            others = [c for c in _DELIMITERS if c != ","]
            header = lines[0].decode("utf-8", "replace")
            body = b"\n".join(lines[1:6]).decode("utf-8", "replace")
            if not DECIMAL_COMMA.search(body):
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
                        example=DECIMAL_COMMA.search(body).group(0),  # type: ignore[union-attr]
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

    @property
    def data_offset(self) -> int | None:
        """The byte offset of the first data line (just after the header line, past any
        empty lines before it); ``None`` for a compressed file."""
        if self.compression is not None:
            return None
        with open(self.path, "rb") as f:
            offset = 0
            for line in f:  # empty lines before the header are skipped, as the parser does
                offset += len(line)
                if line.rstrip(b"\r\n"):
                    return offset
        return offset

    def check_byte_range(self, byte_range: Any, label: str) -> tuple[int, int]:
        """The byte range ``(start, stop)`` of a part, refused unless it covers whole data
        lines (see ``TabularSource.restrict``)."""
        if self.compression is not None:
            raise ValueError(f"{label}: byte_range= applies to uncompressed CSV files only")
        start, stop = (int(b) for b in byte_range)
        size = self.path.stat().st_size
        first = self.data_offset
        assert first is not None
        if not first <= start <= stop <= size:
            raise ValueError(
                f"{label}: byte_range {byte_range} must satisfy {first} <= start <= "
                f"stop <= {size} (the data lines lie in bytes {first} to {size})"
            )
        with open(self.path, "rb") as f:
            for edge, name in ((start, "start"), (stop, "stop")):
                if first < edge < size:
                    f.seek(edge - 1)
                    if f.read(1) != b"\n":
                        raise ValueError(
                            f"{label}: byte_range {name} {edge} is not at the start of "
                            "a line; put it just after a line break"
                        )
        return start, stop

    def parts(self, sel: Selection) -> Iterator[Part]:
        """The rows ``sel`` asks for, as parts ``(X, y, y_bad)`` of ``sel.batch_rows`` rows
        (the last may be shorter), in file order."""
        if self.compression is not None:  # one sequential stream: no byte ranges to split
            for table in rechunk(self.batches(sel), sel.batch_rows):
                yield self._arrow_part(table, sel)
            return
        rows = 0
        try:
            for part in regroup(self._block_parts(sel), sel.batch_rows):
                rows += len(part[0])
                yield part
            return
        except _BlockFailed:
            pass  # read on sequentially from the row reached, to report the problem
        except LineTooLong as exc:
            raise ValueError(
                f"{sel.label}: no line break in the {exc.limit:,} bytes from byte "
                f"{exc.offset:,} (a quote that is never closed, or not a CSV file?); every "
                "row of a CSV file is one line"
            ) from None
        for table in rechunk(_skip_rows(self.batches(sel), rows), sel.batch_rows):
            yield self._arrow_part(table, sel)

    def batches(self, sel: Selection) -> Iterator[pa.RecordBatch]:
        """The wanted columns (features, then target) as Arrow record batches, through
        pyarrow's sequential streaming CSV reader, which numbers the rows in its error
        messages.

        A line longer than the reader's blocks (the longest of the first megabyte sets
        them) stops it; the file is then read again with blocks that hold its longest
        line, from the row reached.
        """
        rows = 0
        while True:
            try:
                for batch in _skip_rows(self._stream_batches(sel), rows):
                    rows += batch.num_rows
                    yield batch
                return
            except _BlockFailed:
                pass

    def _stream_batches(self, sel: Selection) -> Iterator[pa.RecordBatch]:
        """One pass of :meth:`batches` with the current block size; raises
        :class:`_BlockFailed` when a longer block would read the file."""
        wanted = sel.wanted
        read_options = pacsv.ReadOptions(block_size=self.block_size, use_threads=True)
        with contextlib.ExitStack() as stack:
            stream: Any = self.path
            if sel.byte_range is not None:  # a part: its lines only, the header is known
                start, stop = sel.byte_range
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
                    parse_options=self.parse_options(),
                    convert_options=pacsv.ConvertOptions(
                        column_types=self._read_types(sel),
                        include_columns=wanted,
                        strings_can_be_null=True,
                    ),
                )
                with contextlib.closing(reader):
                    yield from reader
            except pa.ArrowInvalid as exc:
                if sel.byte_range is not None and "Empty CSV file" in str(exc):
                    return  # only empty lines in this part
                if LOST_PLACE in str(exc) and self._grow_blocks(sel.label):
                    raise _BlockFailed from None
                raise self.error(exc, sel.label, sel.target, sel.task, sel.fixed_features) from None
            except (pa.ArrowException, OSError, EOFError) as exc:  # e.g. a truncated .gz
                raise ValueError(
                    f"{sel.label}: cannot read the {self.compression or 'CSV'} data, it may "
                    f"be corrupt or truncated ({first_line(exc)})"
                ) from None

    def _read_types(self, sel: Selection) -> dict[str, pa.DataType]:
        """The Arrow type each wanted CSV column is read as."""
        types = {}
        for name in sel.wanted:
            t = self.types[name]
            if name == sel.target and sel.task == "classification":
                types[name] = pa.string() if pa.types.is_null(t) else t
            elif name in sel.text_features:
                types[name] = pa.string()
            else:
                types[name] = pa.bool_() if pa.types.is_boolean(t) else pa.float64()
        return types

    def _arrow_part(self, table: pa.Table, sel: Selection) -> Part:
        return arrow_part(table, sel, self._integer_labels if self.int_labels else None)

    def _integer_labels(self, column: pa.ChunkedArray, sel: Selection) -> pa.ChunkedArray:
        """Integer class labels (read as text) as int64, refused unless each is written
        like those of the first rows."""
        if not _canonical_integers(column):
            bad = pc.filter(column, pc.invert(pc.match_substring_regex(column, _CANONICAL_INT)))
            value = str(bad[0].as_py())
            row = self._locate_value(str(sel.target), value)
            where = f" in data row {row}" if row else ""
            raise ValueError(
                f"{sel.label}: the target column {sel.target!r} has the value {value!r}"
                f"{where}, which is not written like the integer labels in the first rows; "
                "make the labels consistent (labels are compared as text: '01' is not '1')"
            )
        return column.cast(pa.int64())

    def not_numbers(self, name: str) -> list[tuple[int, str]]:
        """``(data row, value)`` of the values of column ``name`` in the first rows (the
        sample read when the file was opened) that are not written as numbers; nulls are
        left out, and nothing is found once the sample is released."""
        if self.sample is None or name in self._numbers_only:
            return []
        values = self.sample.column(name).to_pylist()
        return [(r, str(v)) for r, v in enumerate(values, 1) if v is not None and not is_number(v)]

    def check_utf8(self, names: Sequence[str]) -> None:
        """Refuse a column among ``names`` whose first rows are not UTF-8 text (pyarrow
        reads it as bytes), naming the first such cell's data row and byte."""
        for name in names:
            if self.sample is not None and pa.types.is_binary(self.types[name]):
                found = first_not_utf8(self.sample.column(name))
                raise not_utf8(self.label, name, *(found or (None, None)))

    def stray_text(self, names: Sequence[str]) -> dict[str, tuple[int, str]]:
        """The text columns among ``names`` that hold numbers but for a few cells of the
        first rows (at most 1% of them, at most 3 distinct texts: a typo such as ``1_000``,
        a code such as ``?``), or whose every other cell is a number written with a decimal
        comma (``1,5``), each with its first such cell's ``(data row, value)``."""
        out: dict[str, tuple[int, str]] = {}
        sample = self.sample
        if sample is None:
            return out
        for name in names:
            if name in self._numbers_only:
                continue
            column = sample.column(name)
            stray = self.not_numbers(name)
            present = len(column) - column.null_count
            few = len(stray) <= max(1, present // 100) and len({v for _, v in stray}) <= 3
            if stray and (few or all(is_decimal_comma(v) for _, v in stray)):
                out[name] = stray[0]
        return out

    def cell_parse_bytes(self, wanted: Sequence[str], target: str | None, task: str) -> int | None:
        """Bytes that parsing the data in blocks holds at once when it is read cell by
        cell; ``None`` when pyarrow or polars parse it (about :data:`ARROW_COLUMN_BYTES`
        a column then).

        A file is read cell by cell (:func:`~torchlinear.data.wide_csv.numeric_block`)
        when it has so many columns that a block holds fewer lines than a 64th of them,
        its first rows were read cell by cell and the ``wanted`` columns (``target``
        among them, for ``task``) hold only numbers there: then a block holds its bytes
        and :data:`~torchlinear.data.wide_csv.CELL_BYTES` a cell, and the columns
        :data:`~torchlinear.data.wide_csv.WIDE_COLUMN_BYTES` each.
        """
        width = len(self.columns)
        if width < WIDE_COLUMNS or not set(wanted) <= self._numbers_only:
            return None
        if task == "classification" and target is not None:
            return None  # labels are read by polars or pyarrow
        if polars_module() is None or len(set(self.columns)) != width:
            return None  # cells are read only where polars could read the block
        # a line holds at least a byte a cell, and a block ends at the end of a line
        block = min(max(_CSV_BLOCK_BYTES, self.block_size), self.path.stat().st_size)
        lines = block // width + 2
        if 64 * lines > width:
            return None
        return block + CELL_BYTES * lines * width + WIDE_COLUMN_BYTES * width

    def _block_parts(self, sel: Selection) -> Iterator[Part]:
        """The CSV's data lines (or this part's) parsed in parallel blocks, in order."""
        if sel.byte_range is not None:
            start, stop = sel.byte_range
        else:
            start, stop = self.data_offset or 0, self.path.stat().st_size
        parse = self._block_parser(sel)
        block_bytes = max(_CSV_BLOCK_BYTES, self.block_size)
        blocks = line_blocks(self.path, start, stop, block_bytes, MAX_LINE_BYTES)
        # a block's parse holds about ARROW_COLUMN_BYTES a column: wide files, fewer threads
        per_block = self.cell_parse_bytes(sel.wanted, sel.target, sel.task)
        per_block = per_block or len(self.columns) * ARROW_COLUMN_BYTES
        workers = max(1, min(default_workers(), _PARALLEL_PARSE_BYTES // max(1, per_block)))
        yield from ordered_map(parse, blocks, workers)

    def _polars_block_parser(self, sel: Selection) -> Callable[[bytes], Part | None] | None:
        """A function parsing a block's bytes with polars into ``(X, y, None)``, or
        ``None`` for a block it cannot read exactly as pyarrow does; ``None`` instead of
        the function when polars cannot read these columns at all."""
        pl = polars_module()
        wanted = sel.wanted
        fast = (
            pl is not None
            and len(set(self.columns)) == len(self.columns)
            and (sel.target is None or sel.task == "regression")
            and not any(pa.types.is_boolean(self.types[name]) for name in wanted)
        )
        if not fast:
            return None
        d = len(sel.features)
        sep = self.delimiter

        def polars_part(data: bytes) -> Part | None:
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
            X = pl.DataFrame(columns[:d]).to_numpy(order="fortran")
            if not (X.flags.writeable and X.flags.f_contiguous and X.dtype == np.float64):
                X = np.array(X, dtype=np.float64, order="F")
            y = np.array(columns[d].to_numpy(), dtype=np.float64) if len(columns) > d else None
            return X, y, None

        return polars_part

    def _cells_block_parser(self, sel: Selection) -> Callable[[bytes], Part | None] | None:
        """Thousands of columns: a function reading a block of a few lines cell by cell
        into ``(X, y, None)`` (or ``None`` for a block it cannot read exactly as pyarrow
        does); ``None`` instead of the function for fewer columns. Used where polars is,
        on blocks of fewer lines than a 64th of the columns, for which polars' and
        pyarrow's cost per column would dominate."""
        width = len(self.columns)
        if width < WIDE_COLUMNS:
            return None
        index = {name: j for j, name in enumerate(self.columns)}
        wanted = [index[name] for name in sel.wanted]
        d = len(sel.features)

        def cells_part(data: bytes) -> Part | None:
            if 64 * data.count(b"\n") > width:
                return None
            values = numeric_block(data, self.delimiter, width, wanted)
            if values is None or not len(values):
                return None
            X = np.asfortranarray(values[:, :d])
            y = values[:, d].copy() if len(wanted) > d else None
            return X, y, None

        return cells_part

    def _block_parser(self, sel: Selection) -> Callable[[tuple[int, int]], Part]:
        """A function parsing the byte range ``(start, stop)`` into ``(X, y, y_bad)``.

        Numeric columns are parsed by polars when it is installed, and the block by
        pyarrow instead whenever polars fails or finds a null (polars makes nulls of
        empty cells, of empty lines and of rows with too few fields, which pyarrow
        skips or rejects; it fails on texts such as ``NA`` that pyarrow reads as null).
        Both parse numbers to the nearest float64, and both read ``nan`` as not a
        number, so every block reads exactly as pyarrow reads it. A block pyarrow
        rejects raises :class:`_BlockFailed`.
        """
        polars_part = self._polars_block_parser(sel)
        cells_part = self._cells_block_parser(sel) if polars_part is not None else None
        convert_options = pacsv.ConvertOptions(
            column_types=self._read_types(sel), include_columns=sel.wanted, strings_can_be_null=True
        )
        d = len(sel.features)

        def parse(byte_range: tuple[int, int]) -> Part:
            data = read_bytes(self.path, *byte_range)
            if cells_part is not None:
                part = cells_part(data)
                if part is not None:
                    return part
            if polars_part is not None:
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
                    parse_options=self.parse_options(),
                    convert_options=convert_options,
                )
            except pa.ArrowInvalid as exc:
                if "Empty CSV file" in str(exc):  # only empty lines
                    return np.empty((0, d)), None, None
                # the sequential reader that reports the problem must hold this block's
                # longest line in one of its blocks
                longest = max(map(len, data.split(b"\n")))
                self.block_size = max(self.block_size, 2 * longest + 2)
                raise _BlockFailed from None
            return self._arrow_part(table, sel)

        return parse
