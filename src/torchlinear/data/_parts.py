"""What the tabular readers share: one pass's request, parts of rows, and their regrouping.

A reader of a format (:mod:`torchlinear.data.csv_reader`,
:mod:`torchlinear.data.parquet_reader`) hands :class:`~torchlinear.data.tabular.TabularSource`
*parts* ``(X, y, y_bad)``: ``X`` a float64 array of the features, ``y`` the target (float64
for a regression, Arrow labels for a classification, ``None`` without a target) and
``y_bad`` the mask of missing labels (``None`` when the reader did not compute it). A
:class:`Selection` tells the reader what one pass reads: the columns, the target and the
rows of a part of the file.

Examples
--------
>>> import pyarrow as pa
>>> sel = Selection("t.csv", ["a", "b"], "y", "regression", [], batch_rows=2)
>>> table = pa.table({"a": [1, 2, 3], "b": [4.0, 5.0, 6.0], "y": [0.5, 1.5, 2.5]})
>>> X, y, y_bad = arrow_part(table, sel)
>>> X.tolist(), y.tolist(), y_bad
([[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]], [0.5, 1.5, 2.5], None)
>>> [len(part[0]) for part in regroup([(X, y, None), (X, y, None)], 4)]
[4, 2]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from torchlinear.data.arrow_numpy import to_numpy

__all__ = [
    "ARROW_COLUMN_BYTES",
    "Part",
    "Selection",
    "arrow_part",
    "column_major",
    "first_line",
    "is_label_type",
    "is_numeric_type",
    "polars_module",
    "rechunk",
    "regroup",
    "to_float64",
]

#: Bytes pyarrow's CSV parser holds per column of a parsed block, whatever its rows
#: (measured: about 8.5 kB a column for a two-row file of a million columns).
ARROW_COLUMN_BYTES = 10_000

Part = tuple[np.ndarray, Any, "np.ndarray | None"]  # X, y (NumPy or Arrow), y's null mask


@dataclass(frozen=True)
class Selection:
    """What one pass over a file reads, and how its messages name the file.

    Parameters
    ----------
    label : str
        The file (and the part of it) as messages name it.
    features : list of str
        The feature columns, in the order of ``X``'s columns.
    target : str or None
        The target column, read after the features.
    task : {"regression", "classification"}
        A regression reads the target as float64, a classification as labels.
    text_features : list of str
        Feature columns read as text (to be encoded by a design).
    batch_rows : int
        Rows per part handed back.
    row_groups : list of int, optional
        Parquet: the row groups of a part of the file.
    byte_range : (int, int), optional
        CSV: the bytes of a part of the file.
    fixed_features : bool, default False
        The features are a fitted model's, not the caller's choice: messages advise
        fixing a value, never leaving its column out.
    """

    label: str
    features: list[str]
    target: str | None
    task: str
    text_features: list[str]
    batch_rows: int
    row_groups: list[int] | None = None
    byte_range: tuple[int, int] | None = None
    fixed_features: bool = False

    @property
    def wanted(self) -> list[str]:
        """The columns read: the features, then the target."""
        return self.features + ([self.target] if self.target is not None else [])


_POLARS: Any = False  # imported on first use: it costs about 0.1 s


def polars_module() -> Any:
    """The polars module, or ``None`` when it is not installed (pyarrow then reads)."""
    global _POLARS
    if _POLARS is False:
        module: Any
        try:
            # polars (about 0.1 s) only when a CSV is parsed
            import polars as module
        except ImportError:  # pragma: no cover - polars is a dependency
            module = None
        _POLARS = module
    return _POLARS


def is_numeric_type(t: pa.DataType) -> bool:
    """Types that convert to float64 without loss of meaning (bool becomes 0/1)."""
    if pa.types.is_dictionary(t):
        return is_numeric_type(t.value_type)
    return (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_decimal(t)
        or pa.types.is_null(t)
    )


def is_label_type(t: pa.DataType) -> bool:
    """Types a class label may have: numbers, booleans and strings."""
    if pa.types.is_dictionary(t):
        return is_label_type(t.value_type)
    return is_numeric_type(t) or pa.types.is_string(t) or pa.types.is_large_string(t)


def to_float64(chunked: pa.ChunkedArray, out: np.ndarray) -> None:
    """Copy a numeric Arrow column into the float64 NumPy view ``out`` (nulls -> NaN)."""
    offset = 0
    for chunk in chunked.chunks:
        if chunk.type != pa.float64():
            chunk = chunk.cast(pa.float64(), safe=False)  # large integers round
        out[offset : offset + len(chunk)] = to_numpy(chunk)
        offset += len(chunk)


Labels = Callable[[pa.ChunkedArray, Selection], pa.ChunkedArray]


def arrow_part(table: pa.Table, sel: Selection, labels: Labels | None = None) -> Part:
    """One Arrow table (the features, then the target) as ``(X, y, y_bad)``.

    Classification labels stay Arrow, decoded from a dictionary and passed through
    ``labels`` (a reader's check of their spelling) when it is given.
    """
    d = len(sel.features)
    X = column_major(table.num_rows, d)
    for j in range(d):
        to_float64(table.column(j), X[:, j])
    if sel.target is None:
        return X, None, None
    column = table.column(d)
    if sel.task == "regression":
        y = np.empty(table.num_rows, dtype=np.float64)
        to_float64(column, y)
        return X, y, None
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if labels is not None:
        column = labels(column, sel)
    return X, column, to_numpy(column.is_null(nan_is_null=True))


def rechunk(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
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


def _part_slice(part: Part, start: int, stop: int) -> Part:
    X, y, y_bad = part
    if isinstance(y, pa.ChunkedArray):
        y = y.slice(start, stop - start)
    elif y is not None:
        y = y[start:stop]
    return X[start:stop], y, None if y_bad is None else y_bad[start:stop]


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none), for
    one-line errors that quote a library's reason.

    >>> first_line(OSError("short read\\nat offset 12"))
    'short read'
    """
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def column_major(n_rows: int, n_columns: int) -> np.ndarray:
    """An uninitialised float64 ``(n_rows, n_columns)`` array stored column by column, the
    layout of every chunk's ``X``: a column is copied in with one contiguous write, and the
    Gram product ``X.T @ X`` reads it as BLAS's transposed operand, without a copy.

    >>> column_major(3, 2).flags.f_contiguous
    True
    """
    return np.empty((n_columns, n_rows), dtype=np.float64).T


def _part_join(parts: list[Part]) -> Part:
    if len(parts) == 1:
        return parts[0]
    X = column_major(sum(len(p[0]) for p in parts), parts[0][0].shape[1])
    np.concatenate([p[0] for p in parts], out=X)
    ys = [p[1] for p in parts]
    y: Any
    if ys[0] is None:
        y = None
    elif isinstance(ys[0], pa.ChunkedArray):
        y = pa.chunked_array([c for part in ys for c in part.chunks], type=ys[0].type)
    else:
        y = np.concatenate(ys)
    masks: list[Any] = [p[2] for p in parts]
    y_bad = None if masks[0] is None else np.concatenate(masks)
    return X, y, y_bad


def regroup(parts: Iterable[Part], rows: int) -> Iterator[Part]:
    """Regroup parts ``(X, y, y_bad)`` into parts of exactly ``rows`` rows (the last may be
    shorter), copying only the rows of a chunk that straddles two parts."""
    held: list[Part] = []
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
