"""Sharding: each rank's share of in-memory rows, of Parquet row groups, or of a CSV file's
byte range (aligned to lines), and of a :class:`~torchlinear.data.tabular.TabularSource`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, BinaryIO

import pyarrow.parquet as pq

from torchlinear._validation import check_nonnegative_int, check_positive_int
from torchlinear.distributed.group import rank, world_size

__all__ = ["csv_byte_range", "rank_and_size", "shard_row_groups", "shard_rows", "shard_source"]


def rank_and_size(rank_: int | None, world_size_: int | None) -> tuple[int, int]:
    r = rank() if rank_ is None else check_nonnegative_int("rank", rank_)
    w = world_size() if world_size_ is None else check_positive_int("world_size", world_size_)
    if r >= w:
        raise ValueError(f"rank must be below world_size={w}, got {r}")
    return r, w


def shard_rows(
    n: int,
    rank: int | None = None,
    world_size: int | None = None,
    *,
    strided: bool = False,
) -> slice:
    """This rank's share of ``n`` rows, as a slice that indexes arrays and tensors.

    Contiguous by default: rank ``r`` of ``w`` gets ``n // w`` rows, plus one for the
    first ``n % w`` ranks, so the shares differ by at most one row and are in order.
    With ``strided=True`` rank ``r`` gets rows ``r, r + w, r + 2w, ...``. With fewer rows
    than ranks some shares are empty. Together the shares hold every row exactly once.

    Parameters
    ----------
    n : int
        Number of rows.
    rank, world_size : int, optional
        Default: this process's rank and the group's size.
    strided : bool, default False
        Interleave instead of cutting into blocks.

    Examples
    --------
    >>> [shard_rows(10, r, 3) for r in range(3)]
    [slice(0, 4, 1), slice(4, 7, 1), slice(7, 10, 1)]
    >>> list(range(10)[shard_rows(10, 1, 3, strided=True)])
    [1, 4, 7]
    >>> shard_rows(1, 1, 2)
    slice(1, 1, 1)
    """
    n = check_nonnegative_int("n", n)
    r, w = rank_and_size(rank, world_size)
    if strided:
        return slice(r, max(r, n), w)
    q, m = divmod(n, w)
    start = r * q + min(r, m)
    return slice(start, start + q + (r < m), 1)


def shard_row_groups(
    group_rows: Sequence[int],
    rank: int | None = None,
    world_size: int | None = None,
) -> list[int]:
    """This rank's Parquet row groups: a contiguous run with about ``1/w`` of the rows.

    Row group ``i`` (of ``group_rows[i]`` rows) goes to the rank whose equal share of the
    rows contains its middle row, so the groups are dealt out in file order and the row
    counts balance as well as whole groups allow. A file with fewer row groups than ranks
    leaves some ranks without rows (write it with smaller row groups to use them all).

    Examples
    --------
    >>> [shard_row_groups([100, 100, 100, 100], r, 2) for r in range(2)]
    [[0, 1], [2, 3]]
    >>> [shard_row_groups([10, 300, 10], r, 3) for r in range(3)]
    [[0], [1], [2]]
    >>> [shard_row_groups([50], r, 2) for r in range(2)]  # one group: one rank reads it
    [[], [0]]
    """
    r, w = rank_and_size(rank, world_size)
    sizes = [check_nonnegative_int("row group size", int(s)) for s in group_rows]
    total = sum(sizes)
    mine: list[int] = []
    start = 0
    for i, size in enumerate(sizes):
        owner = min(w - 1, (2 * start + size) * w // (2 * total)) if total else i * w // len(sizes)
        if owner == r:
            mine.append(i)
        start += size
    return mine


def _line_start_at_or_after(f: BinaryIO, position: int, lo: int, size: int) -> int:
    """The first byte offset ``>= position`` that starts a line (``lo`` and ``size`` count)."""
    if position <= lo:
        return lo
    if position >= size:
        return size
    f.seek(position - 1)
    offset = position - 1
    while True:
        block = f.read(1 << 16)
        if not block:
            return size
        found = block.find(b"\n")
        if found >= 0:
            return offset + found + 1
        offset += len(block)


def csv_byte_range(
    path: str | os.PathLike[str],
    data_offset: int,
    rank: int | None = None,
    world_size: int | None = None,
) -> tuple[int, int]:
    """This rank's byte range ``[start, stop)`` of a CSV file's data lines.

    The data bytes ``[data_offset, size)`` are cut into ``w`` equal pieces and each cut is
    moved forward to the next line start, so every line (the one holding a cut included)
    belongs to exactly one range and no line is split. Only a few bytes around the two
    cuts are read. A range may be empty (a line longer than a piece).

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file (one record per line).
    data_offset : int
        Where the data lines start, just after the header
        (:attr:`TabularSource.data_offset <torchlinear.data.tabular.TabularSource.data_offset>`).
    rank, world_size : int, optional
        Default: this process's rank and the group's size.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_bytes(b"x\\n1\\n22\\n333\\n4444\\n")
    >>> [csv_byte_range(path, 2, r, 3) for r in range(3)]
    [(2, 7), (7, 11), (11, 16)]
    """
    r, w = rank_and_size(rank, world_size)
    size = os.path.getsize(path)
    lo = check_nonnegative_int("data_offset", data_offset)
    if lo > size:
        raise ValueError(f"data_offset {lo} lies beyond the end of {path} ({size} bytes)")
    span = size - lo
    with open(path, "rb") as f:
        start = _line_start_at_or_after(f, lo + span * r // w, lo, size)
        stop = _line_start_at_or_after(f, lo + span * (r + 1) // w, lo, size)
    return start, stop


def shard_source(source: Any, rank: int | None = None, world_size: int | None = None) -> Any:
    """This rank's part of a :class:`~torchlinear.data.tabular.TabularSource`.

    Parquet files are split by row groups (:func:`shard_row_groups`), CSV files by byte
    ranges aligned to lines (:func:`csv_byte_range`); the header, column selection and
    types checked when the source was opened carry over. With one process the source is
    returned unchanged.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from torchlinear.data import TabularSource
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("x,y\\n1,2\\n3,4\\n5,6\\n7,8\\n")
    >>> source = TabularSource(path, target="y")
    >>> [shard_source(source, r, 2).read_all()[1].tolist() for r in range(2)]
    [[2.0, 4.0], [6.0, 8.0]]
    """
    r, w = rank_and_size(rank, world_size)
    if w == 1:
        return source
    if source.format == "parquet":
        with pq.ParquetFile(source.path) as parquet:
            meta = parquet.metadata
            sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        return source.restrict(row_groups=shard_row_groups(sizes, r, w))
    return source.restrict(byte_range=csv_byte_range(source.path, source.data_offset, r, w))
