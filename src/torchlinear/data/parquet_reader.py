"""The Parquet side of :class:`~torchlinear.data.tabular.TabularSource`: inspection and reading.

:class:`ParquetReader` reads a Parquet file's schema and row-group sizes when it is opened
(nothing else), and then its rows in parts of ``batch_rows`` rows through pyarrow's batch
reader, which decodes the wanted columns on all cores and streams each column chunk through
a small read buffer, so memory stays at a batch and a page per column whatever the size of
the file or of its row groups. A corrupt file is one line naming it.

Examples
--------
>>> import pathlib, tempfile
>>> import pyarrow as pa, pyarrow.parquet as pq
>>> from torchlinear.data._parts import first_line, Selection
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

from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from torchlinear._memory import check_memory
from torchlinear.data._parts import Part, Selection, arrow_part, first_line, rechunk

__all__ = ["ParquetReader"]

#: Bytes pyarrow reads from the file at a time while it decodes a column chunk: the file's
#: column chunks stream through this buffer instead of being read whole (or all the row
#: group's at once, pyarrow's default), so what a pass holds is a batch and one page per
#: column, whatever the row groups' size.
_READ_BUFFER_BYTES = 1 << 20


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

    @staticmethod
    def not_numbers(name: str) -> list[tuple[int, str]]:
        """Nothing: a Parquet column's type says whether it holds numbers (as the CSV
        reader's method of this name, for the messages)."""
        return []

    @staticmethod
    def stray_text(names: Sequence[str]) -> dict[str, tuple[int, str]]:
        """Nothing: a Parquet text column is text by its type, never numbers with a typo."""
        return {}

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self.columns: list[str] = []
        self.types: dict[str, pa.DataType] = {}
        self.n_rows: int | None = None
        self.row_group_rows: list[int] = []

    def open(self, label: str) -> pq.ParquetFile:
        """The file opened by pyarrow for streaming reads; ``label`` names it if it is not
        valid Parquet."""
        try:
            return pq.ParquetFile(self.path, pre_buffer=False, buffer_size=_READ_BUFFER_BYTES)
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(
                f"{label}: not a valid Parquet file, it may be corrupt or truncated "
                f"({first_line(exc)})"
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

    def row_bytes(self, columns: list[str]) -> float:
        """The most bytes a row of ``columns`` takes once decoded, by the file's metadata
        (its uncompressed column chunks, per row group): a text column of long values is
        tiny on disk when it compresses well, and large in memory.

        Values of a dictionary-encoded column are counted once in the metadata; their
        decoded size is checked batch by batch as they are read (:meth:`batches`).
        """
        wanted = set(columns)
        parquet = self.open(self.label)
        try:
            meta, most = parquet.metadata, 0.0
            for i in range(meta.num_row_groups):
                group = meta.row_group(i)
                if group.num_rows <= 0:
                    continue
                size = sum(
                    max(0, group.column(j).total_uncompressed_size)
                    for j in range(group.num_columns)
                    if group.column(j).path_in_schema.split(".")[0] in wanted
                )
                most = max(most, size / group.num_rows)
            return most
        finally:
            parquet.close()

    def parts(self, sel: Selection) -> Iterator[Part]:
        """The rows ``sel`` asks for, as parts ``(X, y, y_bad)`` of ``sel.batch_rows`` rows
        (the last may be shorter), in file order (or the order of ``sel.row_groups``)."""
        for table in rechunk(self.batches(sel), sel.batch_rows):
            yield arrow_part(table, sel)

    def batches(self, sel: Selection) -> Iterator[pa.RecordBatch]:
        """The wanted columns (features, then target) as Arrow record batches."""
        if sel.row_groups is not None and not sel.row_groups:
            return
        parquet = self.open(sel.label)
        try:
            for batch in parquet.iter_batches(
                batch_size=sel.batch_rows,
                row_groups=sel.row_groups,
                columns=sel.wanted,
                use_threads=True,
            ):
                _check_dictionaries(batch, sel)
                yield batch
        except pa.ArrowMemoryError as exc:
            raise ValueError(
                f"{sel.label}: reading {sel.batch_rows:,} rows at a time ran out of memory "
                f"({first_line(exc)}); read fewer rows at a time or select fewer columns"
            ) from None
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(
                f"{sel.label}: the Parquet file is corrupt, reading it failed ({first_line(exc)})"
            ) from None
        finally:
            parquet.close()


def _check_dictionaries(batch: pa.RecordBatch, sel: Selection) -> None:
    """Refuse a batch whose dictionary-encoded columns would decode beyond the memory
    budget (a file may repeat one long value in every row at almost no cost on disk)."""
    need = 0
    for column in batch.columns:
        if pa.types.is_dictionary(column.type) and (
            pa.types.is_string(column.type.value_type)
            or pa.types.is_large_string(column.type.value_type)
            or pa.types.is_binary(column.type.value_type)
        ):
            lengths = pc.binary_length(column.dictionary)
            need += int(pc.sum(pc.take(lengths, column.indices)).as_py() or 0)
    if need:
        check_memory(
            2 * need,
            f"{batch.num_rows:,} rows of text",
            f"decoding the dictionary-encoded text columns of {sel.label}",
            advice="read fewer rows at a time ({batch_rows}) or leave those columns out "
            "({features})",
        )
