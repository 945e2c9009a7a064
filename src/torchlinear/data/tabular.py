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

import copy
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from torchlinear._format import format_names
from torchlinear._memory import check_memory, memory_budget
from torchlinear._validation import ParameterError, check_positive_int, resolved_path
from torchlinear.data._parts import (
    ARROW_COLUMN_BYTES,
    Selection,
    column_major,
    rechunk,
)
from torchlinear.data.arrow_numpy import to_arrow, to_numpy
from torchlinear.data.csv_reader import CsvReader, is_decimal_comma
from torchlinear.data.formats import check_delimiter, compression_of, file_format
from torchlinear.data.missing import MissingValues
from torchlinear.data.parquet_reader import ParquetReader
from torchlinear.data.tabular_columns import ColumnChecksMixin, decimal_commas

__all__ = ["TabularSource"]

_CHUNK_BYTES = 4 << 20  # default chunk: about this many bytes of float64 per (X, y)
_READ_BYTES = 16 << 20  # a chunk as read holds at most about this much, whatever batch_rows

Task = Literal["regression", "classification"]


class TabularSource(ColumnChecksMixin):
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
    weight : str, optional
        A numeric column of sample weights (>= 0), never a feature. Chunks are then
        ``(X, y, w)``; a missing weight is a missing value like any other, a negative one
        an error naming its row.
    fixed_features : bool, default False
        The ``features`` are a fitted model's (to predict or evaluate), not a choice:
        a message about one advises fixing its values, never leaving it out.
    text_features : sequence of str, optional
        With ``allow_text``: the feature columns that hold text (a fitted model's
        categorical text columns). They are read as text whatever their values look
        like, and any other feature column that holds text is refused. By default every
        feature column whose first rows are not all numbers is a text column.

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
    weight : str or None
        The column of sample weights.
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
    Each format has its reader (:mod:`torchlinear.data.csv_reader`,
    :mod:`torchlinear.data.parquet_reader`). CSV is cut into blocks of whole lines parsed
    on all cores, with only the selected columns converted, straight to float64; a
    bounded number of blocks is in flight, so memory stays at a few tens of megabytes
    plus one chunk whatever the file size. Column types are inferred once, from the first
    megabyte; a text value further down a numeric column is reported with its row when
    met.

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
        weight: str | None = None,
        fixed_features: bool = False,
        text_features: Sequence[str] | None = None,
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
        resolved_path("data", path)  # an empty path is no file, not the current folder
        self.path = Path(path)
        self.label = str(path)
        self.task = task
        self.drop_na = bool(drop_na)
        self.target = target
        if weight is not None and not isinstance(weight, str):
            raise ValueError(f"weight must be a column name (str), got {weight!r}")
        self.weight = weight
        self.n_rows: int | None = None
        self.n_dropped: int | None = None
        self.allow_text = bool(allow_text)
        self.fixed_features = bool(fixed_features)
        self.text_features: list[str] = []
        self._given_text = None if text_features is None else set(text_features)
        self._stray: dict[str, tuple[int, str]] = {}

        if not self.path.exists():
            raise ValueError(f"{self.label}: no such file")
        if self.path.is_dir():
            raise ValueError(f"{self.label}: is a folder, not a data file")
        if not self.path.is_file():  # a device, a named pipe, a socket: no end, no seeking
            raise ValueError(
                f"{self.label}: is not a regular file (a device or a pipe); save the data to "
                "a file first"
            )
        self.format = file_format(self.path, "data")
        self.compression = compression_of(self.path) if self.format == "csv" else None
        self.delimiter = check_delimiter(delimiter, self.path)
        if self.path.stat().st_size == 0:
            raise ValueError(f"{self.label}: the file is empty (0 bytes)")

        self._reader = self._open_reader()
        self.columns = self._reader.columns
        self._types = self._reader.types
        self.n_rows = self._reader.n_rows  # known on opening for Parquet only
        self.feature_names = self._select(features)
        self._check_empty_head()
        if target is not None and task == "classification":
            self._stray.update(self._reader.stray_text([target]))
        self._reader.sample = None  # only needed for the messages above
        pa.default_memory_pool().release_unused()  # a wide header's parse is large
        width = len(self.feature_names) + (target is not None) + (weight is not None)
        if batch_rows is None:  # about 4 MB a chunk, less under a small memory budget
            batch_rows = max(1, min(_CHUNK_BYTES, memory_budget() // 8) // (8 * width))
        self.batch_rows = check_positive_int("batch_rows", batch_rows)
        wanted = [*self.feature_names, *(c for c in (target, weight) if c is not None)]
        parse = width * ARROW_COLUMN_BYTES  # pyarrow's parser, or polars'
        if isinstance(self._reader, CsvReader):
            parse = self._reader.cell_parse_bytes(wanted, target, task) or parse
        check_memory(
            parse + width * 3 * 8 * self.batch_rows,
            f"{width:,} columns",
            f"reading {self.label} in chunks of {self.batch_rows:,} rows",
            advice="select fewer columns ({features}) or read fewer rows at a time ({batch_rows})",
        )
        self.row_bytes = 8.0 * width
        """Bytes a row of the selected columns takes once decoded (at least 8 a column): a
        Parquet text column of long values is tiny on disk when it compresses well."""
        if isinstance(self._reader, ParquetReader):
            self.row_bytes = max(self.row_bytes, self._reader.row_bytes(wanted))
        self.row_groups: list[int] | None = None  # a part of the file: see restrict()
        self.byte_range: tuple[int, int] | None = None
        self.row_offset = 0

    def _open_reader(self) -> CsvReader | ParquetReader:
        """The reader of the file's format, its header and types checked."""
        if self.format == "csv":
            csv = CsvReader(self.path, self.label, self.delimiter, self.compression)
            csv.inspect(self.target, self.task)
            return csv
        parquet = ParquetReader(self.path, self.label)
        parquet.inspect()
        return parquet

    def check_stray_text(self) -> None:
        """Refuse a text feature column of a CSV file that holds numbers but for a few cells
        (a typo such as ``1_000``, a code such as ``?``): encoded as categorical, it would
        have nearly as many levels as values. The first such cell is named, to be fixed.

        For text columns taken as categorical automatically; a formula's ``C(column)``
        says the column is categorical, and is not checked.

        Raises
        ------
        ParameterError
            Naming the column, the cell's value and its data row.
        """
        for name in (f for f in self.text_features if f in self._stray):
            row, value = self._stray[name]
            if is_decimal_comma(value):
                where = f"{value!r} in data row {row}"
                raise decimal_commas(self.label, f"column {name!r} ({where})")
            raise ParameterError(
                "formula",
                "{label}: column {name!r} holds numbers, but also the text {cell!r} in data "
                "row {row}; fix that cell (or leave it empty and pass {0}), or if the column "
                "is categorical, write it as C({name}) in {param}",
                value=None,
                suggestions=[("drop_na", True)],
                label=self.label,
                name=name,
                cell=value,
                row=row,
            )

    def check_stray_target(self) -> None:
        """Refuse a classification target read as text only because of a few cells: a
        column of numbers with a typo (``17.5x``) would make a class of each value.

        Raises
        ------
        ParameterError
            Naming the cell's value and its data row, with the two ways out.

        Examples
        --------
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "typo.csv"
        >>> rows = "".join(f"{i},{i}.5\\n" for i in range(9))
        >>> _ = path.write_text("x,y\\n" + rows + "9,9.5x\\n")
        >>> source = TabularSource(path, target="y", task="classification")
        >>> try:
        ...     source.check_stray_target()
        ... except ValueError as error:
        ...     print(str(error).split(": ", 1)[1][:66])
        the target 'y' holds numbers, but also the text '9.5x' in data row
        """
        if self.target is None or self.target not in self._stray:
            return
        row, value = self._stray[self.target]
        if is_decimal_comma(value):
            where = f"{value!r} in data row {row}"
            raise decimal_commas(self.label, f"the target {self.target!r} ({where})")
        raise ParameterError(
            "task",
            "{label}: the target {name!r} holds numbers, but also the text {cell!r} in data "
            "row {row}; fix that cell (or leave it empty and pass {0}), or if its values are "
            "class labels, pass {1}",
            suggestions=[("drop_na", True), ("task", "classification")],
            label=self.label,
            name=self.target,
            cell=value,
            row=row,
        )

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
        return self._reader.data_offset

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
        if (row_groups is None) == (byte_range is None):
            raise ValueError("restrict() takes exactly one of row_groups= or byte_range=")
        part = copy.copy(self)
        part.n_dropped = None
        if row_groups is not None:
            if not isinstance(self._reader, ParquetReader):
                raise ValueError(f"{self.label}: row_groups= applies to Parquet files only")
            sizes = self._reader.row_group_sizes(self.label)
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
        if not isinstance(self._reader, CsvReader):
            raise ValueError(f"{self.label}: byte_range= applies to uncompressed CSV files only")
        start, stop = self._reader.check_byte_range(byte_range, self.label)
        part.row_groups, part.byte_range = None, (start, stop)
        part.n_rows, part.row_offset = None, 0
        part.label = f"{self.path} (bytes {start} to {stop})"
        return part

    def __repr__(self) -> str:
        return (
            f"TabularSource({self.label!r}, format={self.format!r}, target={self.target!r}, "
            f"n_features={self.n_features}, n_rows={self.n_rows})"
        )

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return self.iter_chunks()

    def iter_chunks(self) -> Iterator[tuple[Any, ...]]:
        """Stream the file once, as chunks ``(X, y)`` of at most ``batch_rows`` rows
        (``(X, y, w)`` with a :attr:`weight` column: ``w`` float64 of shape ``(rows,)``).

        Each call starts a fresh pass over the file, so a training loop can stream
        several epochs. ``X`` is a new float64 array of shape ``(rows, n_features)``
        stored column by column (each feature's values contiguous, ``X.strides[0] == 8``:
        the layout the readers produce without a transposing copy and the Gram product
        ``X.T @ X`` reads directly); ``y`` is float64 of shape ``(rows,)`` (regression),
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
        selection = self._selection()
        for table in rechunk(self._reader.batches(selection), selection.batch_rows):
            columns = []
            for name, column in zip(table.column_names, table.columns, strict=True):
                if pa.types.is_dictionary(column.type):
                    column = column.cast(column.type.value_type)
                if name not in labels:
                    column = column.cast(pa.float64(), safe=False)
                elif pa.types.is_large_string(column.type):
                    column = column.cast(pa.string())
                columns.append(column)
            rows += table.num_rows
            yield pa.table(columns, names=table.column_names)
        self.n_rows = rows

    def read_all(self) -> tuple[Any, ...]:
        """Read the whole file into memory as ``(X, y)``, or ``(X, y, w)`` with a
        :attr:`weight` column (for files that fit).

        Examples
        --------
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = path.write_text("a,b\\n1,2\\n3,4\\n")
        >>> X, y = TabularSource(path).read_all()
        >>> X.tolist(), y
        ([[1.0, 2.0], [3.0, 4.0]], None)
        """
        parts: list[tuple[Any, ...]] = list(self._stream())
        if not parts:  # a part of the file (see restrict) with no rows
            y0 = np.empty(0, dtype=np.float64 if self.task == "regression" else object)
            parts = [(np.empty((0, self.n_features)), y0, np.empty(0))[: self._arity()]]
        X = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
        if self.target is None:
            y = None
        else:
            y = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
        if self.weight is None:
            return X, y
        return X, y, np.concatenate([p[2] for p in parts])

    def _arity(self) -> int:
        return 2 if self.weight is None else 3

    def _stream(self) -> Iterator[tuple[Any, ...]]:
        if self.text_features:
            raise ValueError(
                f"{self.label}: the text column(s) {format_names(self.text_features)} must be "
                "encoded first: read the file through torchlinear.data.design.DesignSource"
            )
        missing = self.missing_values()
        seen = kept = dropped = 0
        for X, y, bad_columns, bad_rows in self._converted():
            if self.weight is not None:
                check_weights(X[:, -1], self.label, self.weight, self.row_offset + seen)
            if bad_rows is not None:
                infinite = self._infinite(X, y, bad_columns)
                missing.add(bad_columns, bad_rows, self.row_offset + seen, infinite)
                if self.drop_na:
                    keep = ~bad_rows
                    X = np.compress(keep, X, axis=0, out=column_major(int(keep.sum()), X.shape[1]))
                    y = self._filter_target(y, keep)
                    dropped += int(bad_rows.sum())
            seen += len(bad_rows) if bad_rows is not None else len(X)
            if missing.rows and not self.drop_na:
                continue  # keep counting to the end of the file, then report everything
            if len(X):
                kept += len(X)
                if self.weight is None:
                    yield X, y
                else:  # the features stay column-major: a view of the first d columns
                    yield X[:, :-1], y, np.ascontiguousarray(X[:, -1])
        self.n_rows = seen
        if missing.rows and not self.drop_na:
            raise missing.error(seen)
        self.n_dropped = dropped
        whole_file = self.row_groups is None and self.byte_range is None
        if kept == 0 and whole_file:  # a part may be empty; the whole data must not be
            raise missing.none_left(
                seen,
                f"{self.label}: all {seen} data rows have a missing or non-finite value in "
                "the selected columns, so none is left; fill the gaps"
                + ("" if self.fixed_features else " or choose other columns"),
            )

    def missing_values(self, formula: str | None = None) -> MissingValues:
        """An empty count of the missing values of a pass over this source (the columns
        of ``formula`` when a design reads it)."""
        return MissingValues(
            self.label,
            self.feature_names,
            self.target,
            self.weight,
            columns=self.columns,
            fixed=self.fixed_features,
            formula=formula,
        )

    def _check_empty_head(self) -> None:
        """Refuse a column read that has no value in the first rows (the sample read on
        opening): without ``drop_na`` every one of its cells would be an error."""
        sample = getattr(self._reader, "sample", None)
        if sample is None or sample.num_rows == 0 or self.drop_na:
            return
        wanted = [*self.feature_names, *(c for c in (self.target, self.weight) if c is not None)]
        empty = [
            name
            for name in wanted
            if pc.all(pc.is_null(sample.column(name), nan_is_null=True)).as_py()
        ]
        if empty:
            n = sample.num_rows
            whole = getattr(self._reader, "sample_is_file", False)
            rows = f"any of the {n:,} data rows" if whole else f"the first {n:,} data rows"
            raise self.missing_values().empty(empty, rows)

    def _selection(self) -> Selection:
        """What a pass over this source reads."""
        return Selection(
            label=self.label,
            features=self._numeric_columns(),
            target=self.target,
            task=self.task,
            text_features=self.text_features,
            batch_rows=self.read_rows,
            row_groups=self.row_groups,
            byte_range=self.byte_range,
            fixed_features=self.fixed_features,
        )

    @property
    def read_rows(self) -> int:
        """The rows read at a time: :attr:`batch_rows`, fewer when the rows are so wide
        (long text) that a chunk would hold more than about 16 MB."""
        return max(1, min(int(self.batch_rows), int(_READ_BYTES // max(1.0, self.row_bytes))))

    def _numeric_columns(self) -> list[str]:
        """The float64 columns of ``X`` as read: the features, then the weights."""
        return self.feature_names + ([self.weight] if self.weight is not None else [])

    def _converted(self) -> Iterator[tuple[np.ndarray, Any, list, np.ndarray | None]]:
        """Chunks of ``batch_rows`` rows as ``(X, y, bad columns, bad rows)``, in file order."""
        for part in self._reader.parts(self._selection()):
            yield self._finish(*part)

    def _filter_target(self, y: Any, keep: np.ndarray) -> Any:
        if y is None or isinstance(y, np.ndarray):
            return None if y is None else y[keep]
        return to_numpy(y.filter(to_arrow(keep)))

    def _finish(
        self, X: np.ndarray, y: Any, y_bad: np.ndarray | None
    ) -> tuple[np.ndarray, Any, list, np.ndarray | None]:
        """A chunk with its missing cells found; labels become NumPy unless some are null
        (those are filtered in Arrow, keeping the labels' type)."""
        if isinstance(y, pa.ChunkedArray) and y_bad is not None and not y_bad.any():
            y = to_numpy(y)
        bad_columns, bad_rows = self._non_finite(X, y, y_bad)
        if isinstance(y, pa.ChunkedArray) and bad_rows is not None and not self.drop_na:
            y = None  # this chunk is only counted, never yielded
        return X, y, bad_columns, bad_rows

    def _non_finite(
        self, X: np.ndarray, y: Any, y_bad: np.ndarray | None = None
    ) -> tuple[list[tuple[str, np.ndarray]], np.ndarray | None]:
        """The columns with missing or non-finite cells (with their masks), and the rows."""
        bad_columns: list[tuple[str, np.ndarray]] = []
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, or 1e308 + 1e308
            total = float(X.sum())
        if not math.isfinite(total):  # one cheap pass; NaN/inf propagate
            bad = ~np.isfinite(X)
            bad_columns = [
                (name, bad[:, j])
                for j, name in enumerate(self._numeric_columns())
                if bad[:, j].any()
            ]
        if y_bad is None and isinstance(y, np.ndarray) and y.dtype == np.float64:
            y_bad = ~np.isfinite(y)
        if y_bad is not None and y_bad.any():
            bad_columns.append((str(self.target), y_bad))
        if not bad_columns:
            return bad_columns, None
        return bad_columns, np.logical_or.reduce([mask for _, mask in bad_columns])

    def _infinite(
        self, X: np.ndarray, y: Any, bad_columns: list[tuple[str, np.ndarray]]
    ) -> dict[str, int]:
        """How many cells of each column with non-finite ones are infinite (when any)."""
        index = {name: j for j, name in enumerate(self._numeric_columns())}
        out = {}
        for name, _ in bad_columns:
            if name in index:
                values = X[:, index[name]]
            elif name == self.target and isinstance(y, np.ndarray) and y.dtype == np.float64:
                values = y
            else:
                continue
            count = int(np.isinf(values).sum())
            if count:
                out[name] = count
        return out


def check_weights(w: np.ndarray, label: str, column: str | None, offset: int) -> None:
    """Refuse a negative sample weight, naming its data row (``offset`` rows come before
    ``w``'s first); NaN is a missing value, reported as such elsewhere."""
    negative = w < 0
    if negative.any():
        first = int(np.argmax(negative))
        raise ValueError(
            f"{label}: the weight column {column!r} holds {int(negative.sum()):,} negative "
            f"value(s), the first {w[first]:g} at data row {offset + first + 1:,}; sample "
            "weights must be >= 0"
        )
