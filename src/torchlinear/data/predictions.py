"""Predictions out: the columns a model needs, and an atomic CSV or Parquet writer.

:class:`PredictionWriter` writes chunk by chunk to a temporary file beside the destination
and moves it into place only when every row is written, so a failed prediction never leaves
half a file; :func:`check_columns` compares a data file's columns with a model's.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from torchlinear._format import format_names
from torchlinear.data.arrow_numpy import to_arrow
from torchlinear.data.formats import check_delimiter, file_format
from torchlinear.io import ensure_writable_dir, naming_write_errors

__all__ = ["PredictionWriter", "check_columns"]


def _file_mode(path: Path) -> int:
    """Permissions for a file we create: the old file's, else the usual ones (the temporary
    file starts private)."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(os.stat(path).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _csv_field(text: str, delimiter: str) -> str:
    """Quote a CSV field when it holds the delimiter, a quote or a line break."""
    if any(ch in text for ch in (delimiter, '"', "\n", "\r")):
        return '"' + text.replace('"', '""') + '"'
    return text


def check_columns(
    expected: Sequence[str],
    available: Sequence[str],
    *,
    ignore: Iterable[str] = (),
    source: str = "the data",
) -> None:
    """Raise ``ValueError`` unless ``available`` holds exactly the ``expected`` columns.

    Used before predicting: the data must have every column the model was fitted on and
    nothing else (apart from ``ignore``, e.g. the target column of a labelled file).
    Order does not matter, columns are matched by name.

    Parameters
    ----------
    expected : sequence of str
        The model's feature names.
    available : sequence of str
        The data's columns.
    ignore : iterable of str, optional
        Columns allowed in the data though not expected.
    source : str, default "the data"
        How to name the data in the message (e.g. the file name).

    Examples
    --------
    >>> check_columns(["a", "b"], ["b", "a"])
    >>> check_columns(["a", "b"], ["a", "c"], source="new.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: new.csv is missing column(s) 'b' that the model was fitted on and has ...
    """
    have, want, skip = set(available), set(expected), set(ignore)
    missing = [c for c in expected if c not in have]
    extra = [c for c in available if c not in want and c not in skip]
    if not missing and not extra:
        return
    problems = []
    if missing:
        problems.append(
            f"is missing column(s) {format_names(missing)} that the model was fitted on"
        )
    if extra:
        fitted = "it was not" if missing else "the model was not fitted on"
        problems.append(f"has extra column(s) {format_names(extra)} that {fitted}")
    raise ValueError(
        f"{source} {' and '.join(problems)}; the model expects {format_names(list(expected))}"
    )


class PredictionWriter:
    """Write predictions chunk by chunk to a CSV or Parquet file, atomically.

    Rows go to a temporary file in the destination folder; :meth:`close` (or leaving the
    ``with`` block normally) moves it over ``path`` with ``os.replace``. If anything
    fails first, the temporary file is removed and ``path`` is untouched, so a crash
    never leaves half a prediction file.

    Parameters
    ----------
    path : str or os.PathLike
        The destination; its suffix gives the format (``.csv``, ``.tsv``, ``.txt`` or
        ``.parquet``, ``.pq``). A missing folder is created.
    delimiter : str, optional
        CSV separator; ``','`` by default (``'\\t'`` for ``.tsv``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "preds.csv"
    >>> with PredictionWriter(path) as writer:
    ...     writer.write({"id": np.array([1, 2]), "prediction": np.array([0.5, 1.5])})
    ...     writer.write({"id": np.array([3]), "prediction": np.array([2.5])})
    >>> print(path.read_text().strip())
    id,prediction
    1,0.5
    2,1.5
    3,2.5
    """

    def __init__(self, path: str | os.PathLike[str], *, delimiter: str | None = None) -> None:
        self.path = Path(path)
        self.format = file_format(self.path, "output")
        self.delimiter = check_delimiter(delimiter, self.path)
        if self.path.is_dir():
            raise ValueError(f"{self.path}: is a folder; give a file name for the predictions")
        ensure_writable_dir(self.path.parent, name="output folder")
        self.n_rows = 0
        self._schema: pa.Schema | None = None
        self._writer: Any = None
        self._sink: Any = None
        self._tmp: str | None = None
        self._closed = False

    def __enter__(self) -> PredictionWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, columns: Mapping[str, Any]) -> None:
        """Append rows given as ``{column name: 1-D array}`` (same names every time).

        A column may be a NumPy array (or anything ``numpy.asarray`` takes) or a pyarrow
        array, which is written with its type and missing values as they are.

        Raises
        ------
        ValueError
            If the columns are not 1-D with equal lengths, or differ from the first
            call's names or types.
        """
        if self._closed:
            raise ValueError(f"{self.path}: the writer is closed; open a new one")
        if not isinstance(columns, Mapping) or not columns:
            raise ValueError("write() takes a non-empty dict {column name: 1-D array}")
        names = [str(n) for n in columns]
        arrays = []
        for name, values in zip(names, columns.values(), strict=True):
            if isinstance(values, pa.ChunkedArray):
                values = values.combine_chunks()
            if isinstance(values, pa.Array):
                arrays.append(values)
                continue
            arr = np.asarray(values)
            if arr.ndim != 1:
                raise ValueError(
                    f"column {name!r} must be 1-D, got shape {arr.shape}; write one column "
                    "per output (e.g. one per class)"
                )
            arrays.append(arr)
        lengths = {len(a) for a in arrays}
        if len(lengths) > 1:
            sizes = ", ".join(f"{n!r}: {len(a)}" for n, a in zip(names, arrays, strict=True))
            raise ValueError(f"columns must have equal lengths, got {sizes}")
        try:
            with naming_write_errors(self.path):
                self._write(names, arrays)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            self.abort()
            raise ValueError(
                f"{self.path}: could not write these columns: {str(exc).splitlines()[0]}"
            ) from None
        except BaseException:
            self.abort()
            raise
        self.n_rows += lengths.pop()

    def _write(self, names: list[str], arrays: list[Any]) -> None:
        """Append one batch (the first one opens the file and fixes the columns)."""
        if self._schema is None:
            batch = pa.record_batch([to_arrow(a) for a in arrays], names=names)
            self._open(batch.schema)
        else:
            if names != self._schema.names:
                raise ValueError(
                    f"write() got columns {format_names(names)} but the file has "
                    f"{format_names(self._schema.names)}; pass the same columns every time"
                )
            batch = pa.record_batch(
                [
                    to_arrow(a).cast(field.type)
                    for a, field in zip(arrays, self._schema, strict=True)
                ],
                schema=self._schema,
            )
        self._writer.write_batch(batch)

    def _open(self, schema: pa.Schema) -> None:
        if self.format == "csv":
            for field in schema:
                if pa.types.is_nested(field.type):
                    raise ValueError(
                        f"{self.path}: column {field.name!r} holds {field.type}, which a CSV "
                        "file cannot hold; write a Parquet file (.parquet) instead, or leave "
                        "the column out"
                    )
        fd, self._tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        os.close(fd)
        if self.format == "csv":
            # pyarrow quotes every header name; write the header ourselves, quoting a name
            # only when CSV needs it, and let pyarrow write the rows.
            self._sink = pa.OSFile(self._tmp, "wb")
            header = self.delimiter.join(_csv_field(n, self.delimiter) for n in schema.names)
            self._sink.write((header + "\n").encode())
            options = pacsv.WriteOptions(include_header=False, delimiter=self.delimiter)
            self._writer = pacsv.CSVWriter(self._sink, schema, write_options=options)
        else:
            self._writer = pq.ParquetWriter(self._tmp, schema)
        self._schema = schema

    def close(self) -> None:
        """Finish the file and move it into place (nothing to do if already closed)."""
        if self._closed:
            return
        if self._writer is None:
            self._closed = True
            raise ValueError(f"{self.path}: no rows were written, so no file was created")
        tmp = self._tmp
        assert tmp is not None  # set with the writer, by the first write
        try:
            with naming_write_errors(self.path):
                self._writer.close()
                if self._sink is not None:
                    self._sink.close()
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.chmod(tmp, _file_mode(self.path))
                os.replace(tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True

    def abort(self) -> None:
        """Discard everything written so far; ``path`` is left as it was."""
        for handle in (self._writer, self._sink):
            if handle is not None:
                with contextlib.suppress(Exception):
                    handle.close()
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
        self._writer = self._sink = None
        self._closed = True
