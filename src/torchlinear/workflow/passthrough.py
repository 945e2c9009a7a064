"""Columns of the data file carried into the predictions file (``predict --keep``).

The features are read by :class:`~torchlinear.data.tabular.TabularSource`; the kept
columns (an ID, a date) by a second, streaming read of the same file that yields them
row for row alongside. CSV columns are carried as the text they hold (``007`` stays
``007``); Parquet columns keep their type. With ``drop_na`` the second read also reads the
features, drops the same rows, and checks that its features equal the reader's, so a kept
value can never land on another row's prediction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from torchlinear.data.arrow_numpy import to_arrow, to_numpy
from torchlinear.data.design import Design, rows_kept

__all__ = ["KeptColumns"]

_BLOCK_BYTES = 1 << 20


class KeptColumns:
    """Stream ``columns`` of ``path`` and hand them out ``m`` rows at a time.

    Parameters
    ----------
    path : pathlib.Path
        The CSV or Parquet file (already checked by the reader).
    columns : sequence of str
        The columns to carry, in output order.
    features : sequence of str
        The model's feature columns (read only with ``drop_na``).
    drop_na : bool
        Whether the reader skips rows with a missing or non-finite feature.
    delimiter : str
        The CSV separator.
    design : Design, optional
        The model's formula or one-hot design: with ``drop_na`` the rows are dropped as its
        reader drops them (:func:`~torchlinear.data.design.rows_kept`), reading its raw
        columns (``text`` of them as text).
    text : sequence of str
        The raw columns the reader reads as text.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "d.csv"
    >>> _ = path.write_text("id,x\\n007,1\\n008,2\\n009,3\\n")
    >>> kept = KeptColumns(path, ["id"], ["x"], drop_na=False, delimiter=",")
    >>> kept.take(2)["id"].tolist(), kept.take(1)["id"].tolist()
    (['007', '008'], ['009'])
    >>> kept.finish()
    """

    def __init__(
        self,
        path: Path,
        columns: Sequence[str],
        features: Sequence[str],
        *,
        drop_na: bool,
        delimiter: str,
        design: Design | None = None,
        text: Sequence[str] = (),
    ) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.design = design
        self.text = set(text)
        self._nulls: pa.Array | None = None
        raw = features if design is None else design.variables
        self.features = [f for f in raw if f not in self.columns] if drop_na else []
        self.check = list(raw) if drop_na else []
        self.drop_na = drop_na
        self.delimiter = delimiter
        self._stack = contextlib.ExitStack()
        self._batches = self._read()
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._features_buffer: list[np.ndarray] = []

    def _read(self) -> Generator[pa.RecordBatch, None, None]:
        wanted = self.columns + self.features
        if self.path.suffix.lower() in (".parquet", ".pq"):
            parquet = self._stack.enter_context(contextlib.closing(pq.ParquetFile(self.path)))
            yield from parquet.iter_batches(columns=wanted, batch_size=65536)
            return
        parse = pacsv.ParseOptions(delimiter=self.delimiter)
        read = pacsv.ReadOptions(block_size=_BLOCK_BYTES)
        types: dict[str, pa.DataType] = dict.fromkeys(self.columns, pa.string())
        if self.features:  # read as the reader reads them: booleans, else float64
            probe = pacsv.open_csv(self.path, read_options=read, parse_options=parse)
            schema = probe.schema
            probe.close()
            for name in self.features:
                t = schema.field(name).type
                boolean = pa.types.is_boolean(t)
                types[name] = (
                    pa.string() if name in self.text else pa.bool_() if boolean else pa.float64()
                )
        reader = pacsv.open_csv(
            self.path,
            read_options=read,
            parse_options=parse,
            convert_options=pacsv.ConvertOptions(
                column_types=types, include_columns=wanted, strings_can_be_null=False
            ),
        )
        self._stack.enter_context(contextlib.closing(reader))
        yield from reader

    def _fill(self, m: int) -> None:
        while self._buffered < m:
            try:
                batch = next(self._batches)
            except StopIteration:
                raise RuntimeError(
                    f"{self.path}: the kept columns ran out of rows before the features did"
                ) from None
            table = pa.Table.from_batches([batch])
            if self.drop_na:
                keep = self._kept(table)
                table = table.filter(to_arrow(keep))
                if self.design is None:
                    self._features_buffer.append(_float_matrix(table, self.check))
            self._buffer.append(table.select(self.columns))
            self._buffered += table.num_rows

    def take(self, m: int, X: np.ndarray | None = None) -> dict[str, Any]:
        """The next ``m`` rows of the kept columns, as ``{name: array}``.

        With ``drop_na``, ``X`` (the reader's features of those rows) is compared with
        the features read here.
        """
        self._fill(m)
        table = pa.concat_tables(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
        head, rest = table.slice(0, m), table.slice(m)
        self._buffer, self._buffered = [rest], rest.num_rows
        if self.drop_na and self.design is None:
            F = np.concatenate(self._features_buffer) if self._features_buffer else None
            assert F is not None
            if X is not None and not np.array_equal(F[:m], np.asarray(X, dtype=np.float64)):
                raise RuntimeError(f"{self.path}: the kept columns are out of step with the rows")
            self._features_buffer = [F[m:]]
        out = {}
        for name in self.columns:
            column = head.column(name).combine_chunks()
            if pa.types.is_dictionary(column.type):  # chunks' dictionaries differ
                column = column.cast(column.type.value_type)
            out[name] = column
        return out

    def finish(self) -> None:
        """Check that every kept row was used, and close the file."""
        try:
            left = self._buffered
            for batch in self._batches:
                if self.drop_na:
                    left += int(self._kept(pa.Table.from_batches([batch])).sum())
                else:
                    left += batch.num_rows
            if left:
                raise RuntimeError(f"{self.path}: {left} kept row(s) had no prediction")
        finally:
            self.close()

    def _kept(self, table: pa.Table) -> np.ndarray:
        """The rows of ``table`` the reader keeps with ``drop_na``."""
        if self.design is not None:
            for name in self.text & set(self.check):  # the reader's missing text cells
                i = table.column_names.index(name)
                column = table.column(i)
                if self._nulls is None:  # built once, when first needed (not on import)
                    self._nulls = pa.array(pacsv.ConvertOptions().null_values, pa.string())
                missing = pc.is_in(column, value_set=self._nulls)  # the reader's missing text
                table = table.set_column(i, name, pc.if_else(missing, None, column))
            return rows_kept(self.design, table, label=str(self.path))
        X = _float_matrix(table, self.check)
        return np.isfinite(X).all(axis=1) if X.shape[1] else np.ones(len(X), bool)

    def close(self) -> None:
        self._batches.close()
        self._stack.close()


def _float_matrix(table: pa.Table, names: Sequence[str]) -> np.ndarray:
    """The ``names`` columns as float64 (missing values as NaN)."""
    X = np.empty((table.num_rows, len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            X[:, j] = [_number(v) for v in column.to_pylist()]  # a kept feature, as text
            continue
        column = pc.cast(column, pa.float64())
        X[:, j] = to_numpy(column)
    return X


def _number(text: str | None) -> float:
    try:
        return float(text) if text is not None else float("nan")
    except ValueError:
        return float("nan")
