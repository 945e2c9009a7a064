"""One way to cap threads: torch's intra-op pool and the BLAS of NumPy/SciPy.

Small or memory-bound work (a 64 x 64 SVD, a validation scan, a minibatch step on a tiny
model) is as fast on one thread, while an OpenMP team on a busy machine can stall a
hundredfold in barrier waits. Every module that wants one thread uses
:func:`single_threaded`; :func:`parallel` runs row blocks on a thread pool with one thread
each inside.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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


def parallel(fn: Callable[[int, int], Any], blocks: list[tuple[int, int]]) -> list[Any]:
    """Run ``fn(lo, hi)`` on each block, one thread per block, with single-threaded BLAS
    and torch kernels inside (the blocks are the parallelism)."""
    with single_threaded():
        if len(blocks) == 1:
            return [fn(*blocks[0])]
        with ThreadPoolExecutor(len(blocks)) as ex:
            futures = [ex.submit(fn, lo, hi) for lo, hi in blocks]
            return [f.result() for f in futures]


def n_workers(X: torch.Tensor, device: torch.device) -> int:
    if device.type != "cpu" or X.device.type != "cpu":
        return 1
    return max(1, torch_threads())
