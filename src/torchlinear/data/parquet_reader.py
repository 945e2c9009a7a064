"""The Parquet side of :class:`~torchlinear.data.tabular.TabularSource`: inspection and reading.

:class:`ParquetReader` reads a Parquet file's schema and row-group sizes when it is opened
(nothing else), and then its rows in parts: plain numbers of a regression through polars'
streaming engine (row groups decoded on all cores, a few in memory at a time), anything
else (dictionary-encoded or decimal columns, class labels, very large row groups) through
pyarrow's batch reader. A corrupt file is one line naming it.

Examples
--------
>>> import pathlib, tempfile
>>> import pyarrow as pa, pyarrow.parquet as pq
>>> from torchlinear.data._parts import Selection
>>> path = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
>>> pq.write_table(pa.table({"a": [1, 2, 3], "y": [0.5, 1.5, 2.5]}), path, row_group_size=2)
>>> reader = ParquetReader(path, str(path))
>>> reader.inspect()
>>> reader.columns, reader.n_rows, reader.row_group_rows
(['a', 'y'], 3, [2, 1])
>>> sel = Selection(str(path), ["a"], "y", "regression", [], batch_rows=2)
>>> [(X.ravel().tolist(), y.tolist()) for X, y, _ in reader.parts(sel)]
[([1.0, 2.0], [0.5, 1.5]), ([3.0], [2.5])]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from torchlinear.data._parts import Part, Selection, arrow_part, polars_module, rechunk, regroup

__all__ = ["ParquetReader"]

_POLARS_ROW_GROUP_BYTES = 256 << 20  # larger row groups (as float64) stream through pyarrow
_POLARS_SLICE_BYTES = 32 << 20  # rows (as float64) of one streaming query of a Parquet file
_POLARS_CHUNK_ROWS = 1 << 16  # rows per batch asked of polars' streaming Parquet reader


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


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


class ParquetReader:
    """A Parquet file: inspected once (:meth:`inspect`), then read in parts (:meth:`parts`).

    Parameters
    ----------
    path : pathlib.Path
        The file.
    label : str
        How messages name it.

    Attributes
    ----------
    columns : list of str
        The schema's column names, in file order (after :meth:`inspect`).
    types : dict of str to pyarrow.DataType
        The Arrow type of each column.
    n_rows : int or None
        The rows of the file, from its metadata.
    row_group_rows : list of int
        The rows of each row group.
    sample : None
        No rows are read on opening.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
    >>> pq.write_table(pa.table({"a": [1, 2], "kind": ["x", "y"]}), path)
    >>> reader = ParquetReader(path, "t.parquet")
    >>> reader.inspect()
    >>> {name: str(t) for name, t in reader.types.items()}
    {'a': 'int64', 'kind': 'string'}
    """

    format = "parquet"
    data_offset = None  # no byte ranges: a Parquet file is split by row groups
    sample = None

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self.columns: list[str] = []
        self.types: dict[str, pa.DataType] = {}
        self.n_rows: int | None = None
        self.row_group_rows: list[int] = []

    def open(self, label: str) -> pq.ParquetFile:
        """The file opened by pyarrow; ``label`` names it if it is not valid Parquet."""
        try:
            return pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(
                f"{label}: not a valid Parquet file, it may be corrupt or truncated "
                f"({_first_line(exc)})"
            ) from None

    def inspect(self) -> None:
        """Read the schema and the row groups' sizes; refuse a file without columns or rows."""
        parquet = self.open(self.label)
        try:
            schema = parquet.schema_arrow
            meta = parquet.metadata
            self.n_rows = meta.num_rows
            self.row_group_rows = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        finally:
            parquet.close()
        self.columns = [str(c) for c in schema.names]
        if not self.columns:
            raise ValueError(f"{self.label}: the Parquet file has no columns")
        if self.n_rows == 0:
            raise ValueError(f"{self.label}: the file has columns but no data rows")
        self.types = {}
        for field in schema:
            self.types.setdefault(field.name, field.type)

    def row_group_sizes(self, label: str) -> list[int]:
        """The rows of each row group, read again from the file's metadata."""
        parquet = self.open(label)
        try:
            meta = parquet.metadata
            return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        finally:
            parquet.close()

    # ----------------------------------------------------------------------- reading

    def parts(self, sel: Selection) -> Iterator[Part]:
        """The rows ``sel`` asks for, as parts ``(X, y, y_bad)`` of ``sel.batch_rows`` rows
        (the last may be shorter), in file order (or the order of ``sel.row_groups``)."""
        if self._polars_reads(sel):
            yield from regroup(self._polars_parts(sel), sel.batch_rows)
            return
        for table in rechunk(self.batches(sel), sel.batch_rows):
            yield arrow_part(table, sel)

    def batches(self, sel: Selection) -> Iterator[pa.RecordBatch]:
        """The wanted columns (features, then target) as Arrow record batches."""
        if sel.row_groups is not None and not sel.row_groups:
            return
        parquet = self.open(sel.label)
        try:
            yield from parquet.iter_batches(
                batch_size=sel.batch_rows,
                row_groups=sel.row_groups,
                columns=sel.wanted,
                use_threads=True,
            )
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(
                f"{sel.label}: the Parquet file is corrupt, reading it failed ({_first_line(exc)})"
            ) from None
        finally:
            parquet.close()

    def _polars_reads(self, sel: Selection) -> bool:
        """Whether polars' streaming Parquet reader can read the wanted columns.

        It reads plain numbers (integers, floats, booleans) of a regression, in row
        groups of bounded size; other types (dictionary-encoded, decimal, null, class
        labels) and very large row groups go through pyarrow's reader.
        """
        if polars_module() is None or len(set(self.columns)) != len(self.columns):
            return False
        if sel.target is not None and sel.task != "regression":
            return False
        plain = (pa.types.is_integer, pa.types.is_float64, pa.types.is_float32, pa.types.is_boolean)
        if not all(any(test(self.types[name]) for test in plain) for name in sel.wanted):
            return False
        largest = max(self.row_group_rows, default=0)
        return largest * 8 * len(sel.wanted) <= _POLARS_ROW_GROUP_BYTES

    def _polars_parts(self, sel: Selection) -> Iterator[Part]:
        """The Parquet file's rows (or this part's row groups) read by polars' streaming
        engine as float64 parts ``(X, y, None)``, in order.

        Polars decodes row groups on all cores while a bounded number of batches wait,
        so memory stays at a few row groups whatever the file size. Nulls read as NaN,
        booleans as 0/1.
        """
        pl = polars_module()
        wanted = sel.wanted
        sizes = self.row_group_rows
        groups = list(range(len(sizes))) if sel.row_groups is None else sel.row_groups
        starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).tolist()
        limit = max(1, _POLARS_SLICE_BYTES // (8 * len(wanted)))
        slices = _slices(((starts[g], sizes[g]) for g in groups), limit)
        d = len(sel.features)
        columns = [pl.col(name).cast(pl.Float64) for name in wanted]
        for offset, length in slices:
            frame = pl.scan_parquet(self.path, low_memory=True).slice(offset, length)
            try:
                batches = frame.select(columns).collect_batches(
                    chunk_size=min(sel.batch_rows, _POLARS_CHUNK_ROWS), maintain_order=True
                )
                for batch in batches:
                    X = batch.select(sel.features).to_numpy(order="c")
                    if not (X.flags.writeable and X.flags.c_contiguous and X.dtype == np.float64):
                        X = np.array(X, dtype=np.float64, order="C")
                    y = None
                    if sel.target is not None:
                        y = np.array(batch.get_column(sel.target).to_numpy(), dtype=np.float64)
                    yield X.reshape(-1, d), y, None
            except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError) as exc:
                text = str(exc).strip()
                reason = text.splitlines()[0] if text else type(exc).__name__
                raise ValueError(
                    f"{sel.label}: the Parquet file is corrupt, reading it failed ({reason})"
                ) from None
