"""One way to cap threads: torch's intra-op pool and the BLAS of NumPy/SciPy.

Small or memory-bound work (a 64 x 64 SVD, a validation scan, a minibatch step on a tiny
model) is as fast on one thread, while an OpenMP team on a busy machine can stall a
hundredfold in barrier waits. Every module that wants one thread uses
:func:`single_threaded`; :func:`parallel` runs row blocks on a thread pool with one thread
each inside.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import torch
from threadpoolctl import ThreadpoolController

__all__ = [
    "n_workers",
    "parallel",
    "row_blocks",
    "single_threaded",
    "small_linalg",
    "torch_threads",
]


def row_blocks(n: int, chunk_rows: int, n_workers: int) -> list[tuple[int, int]]:
    """Split ``range(n)`` into up to ``n_workers`` contiguous blocks of whole chunks."""
    n_chunks = -(-n // chunk_rows)
    n_workers = max(1, min(n_workers, n_chunks))
    per = -(-n_chunks // n_workers)
    blocks = []
    for i in range(n_workers):
        lo, hi = i * per * chunk_rows, min(n, (i + 1) * per * chunk_rows)
        if lo < hi:
            blocks.append((lo, hi))
    return blocks


_CAP_LOCK = threading.Lock()
_CAP_DEPTH = 0
_CAP_SAVED: int | None = None
_MAIN_BLAS_DEPTH = 0
_MAIN_BLAS_LIMITER: Any = None
_BLAS_CONTROLLER: Any = None


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """One torch intra-op thread and (from the main thread) one BLAS thread inside the block.

    The passes parallelise over row blocks themselves, and small or memory-bound work
    (a 64 x 64 SVD, a validation scan) is as fast on one thread — while an OpenMP team on a
    busy machine can stall a hundredfold in barrier waits. Re-entrant and safe across
    threads: torch's setting is reference-counted (first in saves, last out restores). The
    NumPy/SciPy OpenBLAS limit is process-wide and OpenBLAS does not reliably take it back
    from other threads, so only the main thread sets and restores it.
    """
    global _CAP_DEPTH, _CAP_SAVED, _MAIN_BLAS_DEPTH, _MAIN_BLAS_LIMITER, _BLAS_CONTROLLER
    is_main = threading.current_thread() is threading.main_thread()
    with _CAP_LOCK:
        if _CAP_DEPTH == 0:
            _CAP_SAVED = torch.get_num_threads()
            torch.set_num_threads(1)
        _CAP_DEPTH += 1
    if is_main:
        if _MAIN_BLAS_DEPTH == 0:
            if _BLAS_CONTROLLER is None:
                _BLAS_CONTROLLER = ThreadpoolController()
            _MAIN_BLAS_LIMITER = _BLAS_CONTROLLER.limit(limits=1, user_api="blas")
        _MAIN_BLAS_DEPTH += 1
    try:
        yield
    finally:
        if is_main:
            _MAIN_BLAS_DEPTH -= 1
            if _MAIN_BLAS_DEPTH == 0 and _MAIN_BLAS_LIMITER is not None:
                _MAIN_BLAS_LIMITER.restore_original_limits()
                _MAIN_BLAS_LIMITER = None
        with _CAP_LOCK:
            _CAP_DEPTH -= 1
            if _CAP_DEPTH == 0 and _CAP_SAVED is not None:
                torch.set_num_threads(_CAP_SAVED)
                _CAP_SAVED = None


def torch_threads() -> int:
    """torch's intra-op thread count as the user set it (even inside :func:`single_threaded`)."""
    saved = _CAP_SAVED
    return saved if saved is not None else torch.get_num_threads()


def small_linalg(size: int) -> contextlib.AbstractContextManager[Any]:
    """Single-threaded dense linear algebra for matrices up to 256 columns."""
    return single_threaded() if size <= 256 else contextlib.nullcontext()


_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()
_WORKER = threading.local()


def _mark_worker() -> None:
    _WORKER.active = True


def _forget_pool() -> None:  # a forked child has none of its parent's threads
    global _POOL, _POOL_SIZE
    _POOL, _POOL_SIZE = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _pool(size: int) -> ThreadPoolExecutor:
    """The shared block pool, with at least ``size`` threads (created on first use).

    A pool that is too small is replaced by a larger one; the old one is left to finish
    what was given to it (its idle threads end with the process), so a caller that still
    holds it never meets a shut-down pool.
    """
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or _POOL_SIZE < size:
            _POOL_SIZE = max(size, torch_threads())
            _POOL = ThreadPoolExecutor(
                _POOL_SIZE, thread_name_prefix="torchlinear-block", initializer=_mark_worker
            )
        return _POOL


def parallel(fn: Callable[[int, int], Any], blocks: list[tuple[int, int]]) -> list[Any]:
    """Run ``fn(lo, hi)`` on each block, one thread per block, with single-threaded BLAS
    and torch kernels inside (the blocks are the parallelism).

    The threads come from one pool kept for the life of the process (a pass calls this
    once per chunk, and starting threads each time costs more than small chunks take).
    Calls from several threads share it; a call made from inside a block runs its blocks
    one after the other on the calling thread, so blocks never wait for each other.

    Examples
    --------
    >>> parallel(lambda lo, hi: sum(range(lo, hi)), [(0, 5), (5, 10)])
    [10, 35]
    """
    with single_threaded():
        if len(blocks) == 1 or getattr(_WORKER, "active", False):
            return [fn(lo, hi) for lo, hi in blocks]
        pool = _pool(len(blocks))
        futures = [pool.submit(fn, lo, hi) for lo, hi in blocks]
        wait(futures)  # every block has ended before this returns or raises
        return [f.result() for f in futures]


def n_workers(X: torch.Tensor, device: torch.device) -> int:
    if device.type != "cpu" or X.device.type != "cpu":
        return 1
    return max(1, torch_threads())
