"""Errors of the CSV reader: one line naming the file, and where it can the row and the
column, for what pyarrow refuses (a ragged row, a value not of its column's type, text that
is not UTF-8, a quote never closed, a line too long).

Examples
--------
>>> print(open_quote("data.csv", 7, "note"))  # doctest: +NORMALIZE_WHITESPACE
data.csv: column 'note' has a quoted value that runs over several lines from data row 7
(a quote that is never closed?); close the quote, or take the line breaks out of quoted
values
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from torchlinear._validation import ParameterError
from torchlinear.data._parts import first_line

__all__ = [
    "LOST_PLACE",
    "MAX_LINE_BYTES",
    "CsvDiagnosis",
    "first_not_utf8",
    "not_utf8",
    "open_quote",
]

MAX_LINE_BYTES = 64 << 20
"""A longer CSV line is refused: it would be held in memory whole."""
LOST_PLACE = "straddling object"
"""pyarrow's error for a row longer than its blocks."""


def open_quote(label: str, row: int | None, column: str | None = None) -> ValueError:
    """A quoted value that runs over several lines, most often a quote never closed."""
    what = f"column {column!r} has a quoted value" if column else "a quoted value"
    where = f" from data row {row}" if row else ""
    return ValueError(
        f"{label}: {what} that runs over several lines{where} (a quote that is never "
        "closed?); close the quote, or take the line breaks out of quoted values"
    )


def first_not_utf8(values: pa.Array | pa.ChunkedArray) -> tuple[int, int] | None:
    """``(data row, byte)`` of the first of ``values`` (bytes) that is not UTF-8 text."""
    for row, value in enumerate(values.to_pylist(), 1):
        try:
            (value or b"").decode("utf-8")
        except UnicodeDecodeError as exc:
            return row, exc.object[exc.start]
    return None


def not_utf8(label: str, name: str, row: int | None, byte: int | None) -> ValueError:
    where = f" (byte {byte:#x} in data row {row})" if row is not None and byte is not None else ""
    return ValueError(
        f"{label}: column {name!r} is not valid UTF-8 text{where}; re-encode the file as "
        "UTF-8 (from Latin-1 or Windows-1252, most often)"
    )


class CsvDiagnosis:
    """What :class:`~torchlinear.data.csv_reader.CsvReader` does once pyarrow has refused
    the file: translate the error into one line, and find the data row it is about by
    reading the file again (single-threaded, a column at a time, or line by line)."""

    path: Path
    label: str
    columns: list[str]
    compression: str | None
    block_size: int

    def parse_options(self, **kwargs: Any) -> pacsv.ParseOptions:
        raise NotImplementedError

    def _open_text(self) -> Any:
        raise NotImplementedError

    def error(
        self,
        exc: Exception,
        label: str,
        target: str | None,
        task: str,
        fixed_features: bool = False,
    ) -> ValueError:
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
                f"{label}: {where} has {got} field(s) but the header has {expected} "
                f"(ragged row {text[:60]!r}); every row needs one value per column"
            )
        # pyarrow's reader numbers the row ("Row #N: ") when it runs on one thread
        # (one core, or OMP_NUM_THREADS=1), not otherwise: the row is found either way
        bad_value = re.search(
            r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to (\w+): "
            r"invalid value '(.*)'$",
            message,
            re.S,
        )
        if bad_value:
            index, kind, value = int(bad_value.group(1)), bad_value.group(2), bad_value.group(3)
            return self._value_error(index, kind, value, label, target, task, fixed_features)
        bad_text = re.search(
            r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to \w+: invalid UTF8",
            message,
        )
        if bad_text and int(bad_text.group(1)) < len(self.columns):
            name = self.columns[int(bad_text.group(1))]
            return not_utf8(label, name, *self._locate_not_utf8(name))
        if "out of sync with chunker" in message or LOST_PLACE in message:
            return open_quote(label, self._scan_lines(label)[1])
        return ValueError(f"{label}: could not read the CSV file: {first_line(exc)}")

    def _grow_blocks(self, label: str) -> bool:
        """After the streaming reader lost its place: make its blocks hold the file's
        longest line and return True, or False if they already do (a quote never closed)."""
        longest = self._scan_lines(label)[0]
        if 2 * longest + 2 <= self.block_size:
            return False
        self.block_size = 2 * longest + 2
        return True

    def _scan_lines(self, label: str) -> tuple[int, int | None]:
        """The length of the file's longest line (decompressed) and its first data row
        with an odd number of quote characters, if any; a line longer than the limit is
        refused, naming its row."""
        longest, odd, offset = 0, None, 0
        with self._open_text() as f:
            lines = iter(lambda: f.readline(MAX_LINE_BYTES + 1), b"")
            for number, line in enumerate(lines):  # line 0 is the header
                if len(line) > MAX_LINE_BYTES:
                    where = " of the decompressed data" if self.compression else ""
                    row = f"data row {number}" if number else "the header"
                    raise ValueError(
                        f"{label}: no line break in the {MAX_LINE_BYTES:,} bytes from byte "
                        f"{offset:,}{where} ({row}: a quote that is never closed, or not a "
                        "CSV file?); every row of a CSV file is one line"
                    )
                offset += len(line)
                longest = max(longest, len(line))
                if odd is None and number and line.count(b'"') % 2:
                    odd = number
        return longest, odd

    def _value_error(
        self,
        index: int,
        kind: str,
        value: str,
        label: str,
        target: str | None,
        task: str,
        fixed_features: bool,
    ) -> ValueError:
        """The message for a value that is not of its column's type."""
        name = self.columns[index] if index < len(self.columns) else f"#{index}"
        row = self._locate_value(name, value)
        if "\n" in value or "\r" in value:
            return open_quote(label, row, name)
        where = f" in data row {row}" if row else ""
        if len(value) > 60:  # shown, not quoted whole
            value = value[:57] + "…"
        if name == target and task == "classification":
            return ValueError(
                f"{label}: the target column {name!r} has the value {value!r}{where}, "
                f"which is not of type {kind} like the labels in the first rows; make "
                "the labels consistent"
            )
        if name != target:
            return ParameterError(
                "features",
                "{label}: column {name!r} has the non-numeric value {value!r}{where}, but "
                + (
                    "the model was fitted on numbers there; fix that cell"
                    if fixed_features
                    else "it must hold numbers only; fix that cell, or leave the column out "
                    "with {features}"
                ),
                value=value,
                label=label,
                name=name,
                where=where,
            )
        return ParameterError(
            "task",
            "{label}: column {name!r} has the non-numeric value {value!r}{where}, but it "
            "must hold numbers only; fix that cell, or for class labels use {0}",
            value=value,
            suggestions=[("task", "classification")],
            label=label,
            name=name,
            where=where,
        )

    def _locate_ragged_row(self) -> int | None:
        """Re-read single-threaded, which lets pyarrow number the offending row."""
        numbers: list[int] = []

        def handler(row: Any) -> str:
            numbers.append(row.number)
            return "error"

        try:
            reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(block_size=self.block_size, use_threads=False),
                parse_options=self.parse_options(invalid_row_handler=handler),
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

        def find(values: pa.Array) -> tuple[int, None] | None:
            index = pc.index(values, value).as_py()
            return (index + 1, None) if index >= 0 else None

        found = self._first_in_column(column, pa.string(), find)
        return None if found is None else found[0]

    def _locate_not_utf8(self, name: str) -> tuple[int | None, int | None]:
        """The data row and byte of column ``name``'s first value that is not UTF-8."""
        return self._first_in_column(name, pa.binary(), first_not_utf8) or (None, None)

    def _first_in_column(
        self, name: str, kind: pa.DataType, find: Callable[[pa.Array], tuple[int, Any] | None]
    ) -> tuple[int, Any] | None:
        """Column ``name`` read alone as ``kind``, batch by batch: the first ``(data row,
        detail)`` that ``find`` reports in a batch, its row counted from the file's first
        data row; ``None`` when nothing is found or the file cannot be read again."""
        try:
            reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(block_size=self.block_size, use_threads=True),
                parse_options=self.parse_options(),
                convert_options=pacsv.ConvertOptions(
                    include_columns=[name], column_types={name: kind}
                ),
            )
            offset = 0
            with contextlib.closing(reader):
                for batch in reader:
                    found = find(batch.column(0))
                    if found is not None:
                        return offset + found[0], found[1]
                    offset += batch.num_rows
        except (pa.ArrowException, OSError):
            pass
        return None
