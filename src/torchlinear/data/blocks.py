"""Reading a text file in parallel, as blocks of whole lines handed back in file order.

The CSV reader cuts the file (or the part of it a process reads) into blocks of about
``block_bytes`` that start and end at line breaks (:func:`line_blocks`), parses several
blocks at once on a small thread pool and hands them back in file order
(:func:`ordered_map`), with a bounded number of blocks in flight, so memory stays at a
few blocks whatever the file size. Parsing happens in C, Rust or BLAS code that releases
the interpreter lock, so the threads truly run side by side.

Examples
--------
>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = path.write_bytes(b"a\\n1\\n22\\n333\\n4444\\n")
>>> list(line_blocks(path, 2, path.stat().st_size, 4, max_line=100))
[(2, 7), (7, 11), (11, 16)]
>>> [read_bytes(path, a, b) for a, b in line_blocks(path, 2, 16, 4, max_line=100)][0]
b'1\\n22\\n'
>>> list(ordered_map(lambda x: x * x, range(5), workers=2))
[0, 1, 4, 9, 16]
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

__all__ = ["LineTooLong", "line_blocks", "ordered_map", "read_bytes", "default_workers"]

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Threads for parsing blocks: the cores this process may use, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


class LineTooLong(ValueError):
    """A line of the file is longer than :func:`line_blocks` accepts."""

    def __init__(self, offset: int, limit: int) -> None:
        super().__init__(f"no line break in the {limit:,} bytes from byte {offset:,}")
        self.offset = offset
        self.limit = limit


def line_blocks(
    path: str | os.PathLike[str], start: int, stop: int, block_bytes: int, max_line: int
) -> Iterator[tuple[int, int]]:
    """Byte ranges ``[a, b)`` covering ``[start, stop)``, each about ``block_bytes`` long
    and each ending just after a line break (or at ``stop``).

    ``start`` must be the start of a line. A line longer than ``block_bytes`` makes a
    longer block; no line is ever split. A line longer than ``max_line`` bytes raises
    :class:`LineTooLong` (one line is one block, held in memory whole).
    """
    with open(path, "rb") as f:
        a = start
        while a < stop:
            b = a + block_bytes
            if b >= stop:
                b = stop
            else:
                f.seek(b - 1)
                rest = f.readline(max_line + 1)  # up to just after the line break
                if len(rest) > max_line and b - 1 + len(rest) < stop:
                    raise LineTooLong(b - 1, max_line)
                b = min(stop, b - 1 + len(rest))
            yield a, b
            a = b


def read_bytes(path: str | os.PathLike[str], start: int, stop: int) -> bytes:
    """The bytes ``[start, stop)`` of a file."""
    with open(Path(path), "rb") as f:
        f.seek(start)
        return f.read(stop - start)


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``fn(item)`` for each item, computed on ``workers`` threads, yielded in order.

    At most ``workers + 1`` results are computed ahead of the consumer, so the memory
    held is bounded. Closing the iterator early cancels the work not yet started and
    waits for the rest.
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    pending: deque[Future[R]] = deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="torchlinear-read")
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
