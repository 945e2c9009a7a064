r"""Scaling out on ``torch.distributed``: sharding, exact least squares and data parallelism.

Launch any torchlinear program with ``torchrun`` and every process ("rank") runs the same
code; this module is the glue between them, on PyTorch's own runtime only
(:mod:`torch.distributed` collectives over gloo or NCCL, and the elastic agent of
``torchrun``):

* :func:`init_from_env` joins the process group that ``torchrun`` describes in the
  environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``),
  with gloo on the CPU and NCCL on GPUs, and a timeout so that no rank waits forever in a
  collective; :func:`rank`, :func:`world_size`, :func:`is_main_process` and
  :func:`barrier` work with or without a group (a single process is rank 0 of 1).
* Sharding: each rank reads only its share of the input. :func:`shard_rows` splits
  ``n`` in-memory rows; :func:`shard_row_groups` hands out whole Parquet row groups;
  :func:`csv_byte_range` cuts a CSV file into byte ranges moved to line boundaries, so the
  header is parsed once and every data line is read by exactly one rank;
  :func:`shard_source` applies the right one to a
  :class:`~torchlinear.data.tabular.TabularSource`.
* Exact least squares in one pass (:func:`fit_exact_distributed`): every rank accumulates
  the sufficient statistics :class:`~torchlinear.exact.GramStats` of its rows; the ranks
  agree on a common shift (the global weighted mean) and one all-reduce sums them, so

  .. math::

      X^\top W X = \sum_r X_r^\top W_r X_r, \qquad X^\top W y = \sum_r X_r^\top W_r y_r,

  and every rank solves the same system: the answer is the single-process answer. On the
  ill-conditioned path each rank reduces its rows to the triangular factor of a
  tall-skinny QR (:class:`~torchlinear.exact.TSQRStats`); an all-gather of those small
  factors and one more QR of their stack gives the factor of all the rows.
* Data-parallel training: :func:`torchlinear.engine.train` (and so every
  gradient-trained estimator) trains data-parallel by itself inside a process group of
  two or more ranks, through :class:`DataParallel`. Every rank draws the same permutation
  from the shared seed and takes its part of each global batch; one all-reduce per step
  combines the ranks' gradients weighted by their rows, which is exactly the gradient of
  the global batch, so every rank takes the single-process step and ends with the same
  parameters. Only rank 0 writes checkpoints (and, by convention, any output file).

Errors: a rank that fails makes the whole job fail. Under ``torchrun`` the elastic agent
stops the other ranks as soon as one exits with an error (decorate the entry point with
:func:`record` so the agent reports that rank's traceback); the exact fit also shares
each rank's status before combining, so that every rank raises instead of waiting.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from torchlinear._validation import check_nonnegative_int, check_positive_int
from torchlinear.exact import (
    EPS,
    RCOND_CHOLESKY,
    REFINE_ABOVE,
    WARN_ABOVE,
    GramStats,
    IllConditionedWarning,
    LstsqSolution,
    TSQRStats,
    default_chunk_rows,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "DataParallel",
    "RankBatchSampler",
    "RankFailedError",
    "collate_or_none",
    "barrier",
    "csv_byte_range",
    "allreduce_gram",
    "allgather_tsqr",
    "default_backend",
    "fit_exact_distributed",
    "init_from_env",
    "is_distributed",
    "is_main_process",
    "launched_by_torchrun",
    "local_rank",
    "rank",
    "record",
    "shard_row_groups",
    "shard_rows",
    "shard_source",
    "shutdown",
    "world_size",
]

DEFAULT_TIMEOUT: timedelta = timedelta(minutes=30)
"""How long a rank waits in a collective for the others before the job fails.

Long enough for one rank to read a large shard while another waits; override with
``init_from_env(timeout=...)`` or the ``TORCHLINEAR_DIST_TIMEOUT`` environment variable
(seconds)."""

_ENV_TIMEOUT = "TORCHLINEAR_DIST_TIMEOUT"
_MESSAGE_BYTES = 1024  # room for one rank's error message in the status exchange


# ---------------------------------------------------------------------------------------
# The process group
# ---------------------------------------------------------------------------------------


def record(fn: Callable) -> Callable:
    """Decorate a program's entry point so ``torchrun`` reports a failing rank's error.

    The same as :func:`torch.distributed.elastic.multiprocessing.errors.record`: when
    the function raises in a worker started by ``torchrun``, the traceback is written to
    the error file the elastic agent reads, and the agent prints it in its failure
    summary as the root cause (outside ``torchrun`` it does nothing).

    Examples
    --------
    >>> @record
    ... def main() -> int:
    ...     return 0
    >>> main()
    0
    """
    from torch.distributed.elastic.multiprocessing.errors import record as _record

    return _record(fn)


def launched_by_torchrun() -> bool:
    """Whether the environment describes a process group (``RANK`` and ``WORLD_SIZE`` set).

    Examples
    --------
    >>> import os
    >>> launched_by_torchrun() == ("RANK" in os.environ and "WORLD_SIZE" in os.environ)
    True
    """
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def is_distributed() -> bool:
    """Whether a process group is initialised (by :func:`init_from_env` or the caller).

    Examples
    --------
    >>> is_distributed()
    False
    """
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank in the group, 0 without a group.

    Examples
    --------
    >>> rank()
    0
    """
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of processes in the group, 1 without a group.

    Examples
    --------
    >>> world_size()
    1
    """
    return dist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    """This process's index on its machine (``LOCAL_RANK``, set by ``torchrun``), else 0.

    Examples
    --------
    >>> isinstance(local_rank(), int)
    True
    """
    value = os.environ.get("LOCAL_RANK", "0")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"LOCAL_RANK must be an integer, got {value!r}") from None


def is_main_process() -> bool:
    """Whether this is rank 0, the one process that writes files and prints.

    Examples
    --------
    >>> is_main_process()
    True
    """
    return rank() == 0


def barrier() -> None:
    """Wait until every rank gets here (nothing to do without a group).

    Examples
    --------
    >>> barrier()
    """
    if is_distributed() and world_size() > 1:
        dist.barrier()


def default_backend(device: str | torch.device | None = None) -> str:
    """The collective backend for a device: ``"nccl"`` for CUDA, ``"gloo"`` otherwise.

    With ``device=None``: NCCL when CUDA is available, else gloo.

    Examples
    --------
    >>> default_backend("cpu")
    'gloo'
    """
    if device is None:
        use_cuda = torch.cuda.is_available()
    else:
        use_cuda = torch.device(device).type == "cuda"
    return "nccl" if use_cuda and dist.is_nccl_available() else "gloo"


def _timeout(timeout: float | timedelta | None) -> timedelta:
    if timeout is None:
        env = os.environ.get(_ENV_TIMEOUT)
        if env is None:
            return DEFAULT_TIMEOUT
        try:
            timeout = float(env)
        except ValueError:
            raise ValueError(f"{_ENV_TIMEOUT} must be a number of seconds, got {env!r}") from None
        name = _ENV_TIMEOUT
    else:
        name = "timeout"
    if isinstance(timeout, timedelta):
        seconds = timeout.total_seconds()
    elif isinstance(timeout, int | float) and not isinstance(timeout, bool):
        seconds = float(timeout)
    else:
        raise ValueError(f"timeout must be seconds or a timedelta, got {timeout!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {timeout!r}")
    return timedelta(seconds=seconds)


def init_from_env(
    *,
    backend: str | None = None,
    device: str | torch.device | None = None,
    timeout: float | timedelta | None = None,
) -> bool:
    """Join the process group described by the environment, if any; return whether one is up.

    Under ``torchrun`` (``RANK`` and ``WORLD_SIZE`` set, plus ``MASTER_ADDR``/``MASTER_PORT``
    or a rendezvous) this calls :func:`torch.distributed.init_process_group` once, with
    gloo on the CPU or NCCL on GPUs; on a GPU it also selects device ``LOCAL_RANK``, so
    that the ranks of one machine use different GPUs. A group that is already initialised
    is kept as it is. Without those variables (a plain ``python`` run) it does nothing
    and returns ``False``: the same program then runs as a single process.

    Parameters
    ----------
    backend : {"gloo", "nccl"}, optional
        Default: :func:`default_backend` of ``device``.
    device : str or torch.device, optional
        The device the ranks compute on; ``None`` means CUDA when available.
    timeout : float (seconds) or timedelta, optional
        How long a collective may wait for the other ranks before failing (default
        :data:`DEFAULT_TIMEOUT`, or ``TORCHLINEAR_DIST_TIMEOUT`` seconds).

    Returns
    -------
    bool
        ``True`` if a process group is initialised on return.

    Examples
    --------
    >>> import os
    >>> "RANK" in os.environ or init_from_env() is False
    True
    """
    if not dist.is_available():
        return False
    if dist.is_initialized():
        return True
    if not launched_by_torchrun():
        return False
    for name in ("RANK", "WORLD_SIZE"):
        value = os.environ[name]
        if not value.strip().isdigit():
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if int(os.environ["WORLD_SIZE"]) < 1:
        raise ValueError("WORLD_SIZE must be at least 1")
    if backend is None:
        backend = default_backend(device)
    if backend not in ("gloo", "nccl", "mpi", "ucc"):
        raise ValueError(f"backend must be 'gloo' or 'nccl', got {backend!r}")
    if backend == "nccl":
        if not torch.cuda.is_available():
            raise ValueError("backend 'nccl' needs CUDA GPUs; use backend='gloo' on the CPU")
        torch.cuda.set_device(local_rank() % torch.cuda.device_count())
    dist.init_process_group(backend=backend, timeout=_timeout(timeout))
    return True


def shutdown() -> None:
    """Leave the process group (:func:`torch.distributed.destroy_process_group`); nothing
    to do without one.

    Examples
    --------
    >>> shutdown()
    """
    if is_distributed():
        dist.destroy_process_group()


def _comm_device() -> torch.device:
    """Where collective buffers live: the current GPU for NCCL, else the CPU."""
    if is_distributed() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


# ---------------------------------------------------------------------------------------
# Sharding
# ---------------------------------------------------------------------------------------


def _rank_and_size(rank_: int | None, world_size_: int | None) -> tuple[int, int]:
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
    r, w = _rank_and_size(rank, world_size)
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
    r, w = _rank_and_size(rank, world_size)
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


def _line_start_at_or_after(f: Any, position: int, lo: int, size: int) -> int:
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
    r, w = _rank_and_size(rank, world_size)
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
    r, w = _rank_and_size(rank, world_size)
    if w == 1:
        return source
    if source.format == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(source.path) as parquet:
            meta = parquet.metadata
            sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        return source.restrict(row_groups=shard_row_groups(sizes, r, w))
    return source.restrict(byte_range=csv_byte_range(source.path, source.data_offset, r, w))


# ---------------------------------------------------------------------------------------
# Agreeing on success before combining
# ---------------------------------------------------------------------------------------


class RankFailedError(RuntimeError):
    """Another rank failed; raised on the ranks that did not, naming it and its error."""


def _exchange_status(error: BaseException | None, info: Sequence[int]) -> list[list[int]]:
    """All-gather ``[ok, *info]`` plus an error message from every rank.

    If any rank reports an error, every rank raises: the failing one its own exception,
    the others a :class:`RankFailedError` quoting it. Returns each rank's ``info``.
    """
    w = world_size()
    message = b""
    if error is not None:
        message = f"{type(error).__name__}: {error}".encode(errors="replace")[:_MESSAGE_BYTES]
    packed = torch.zeros(2 + len(info) + _MESSAGE_BYTES, dtype=torch.int64)
    packed[0] = int(error is not None)
    packed[1] = len(message)
    packed[2 : 2 + len(info)] = torch.tensor([int(v) for v in info], dtype=torch.int64)
    if message:
        packed[2 + len(info) : 2 + len(info) + len(message)] = torch.tensor(list(message))
    if w == 1:
        gathered = [packed]
    else:
        device = _comm_device()
        local = packed.to(device)
        gathered = [torch.empty_like(local) for _ in range(w)]
        dist.all_gather(gathered, local)
        gathered = [g.cpu() for g in gathered]
    if error is not None:
        raise error
    for r, g in enumerate(gathered):
        if int(g[0]):
            length = int(g[1])
            text = bytes(g[2 + len(info) : 2 + len(info) + length].tolist()).decode(
                errors="replace"
            )
            raise RankFailedError(f"rank {r} failed: {text}")
    return [g[2 : 2 + len(info)].tolist() for g in gathered]


def _all_gather(t: torch.Tensor) -> list[torch.Tensor]:
    if world_size() == 1:
        return [t]
    device = _comm_device()
    local = t.to(device).contiguous()
    out = [torch.empty_like(local) for _ in range(world_size())]
    dist.all_gather(out, local)
    return [o.to(t.device) for o in out]


def _all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if world_size() == 1:
        return t
    device = _comm_device()
    buf = t.to(device).contiguous()
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return buf.to(t.device)


# ---------------------------------------------------------------------------------------
# Combining sufficient statistics
# ---------------------------------------------------------------------------------------


def allreduce_gram(stats: GramStats) -> GramStats:
    r"""Sum every rank's :class:`~torchlinear.exact.GramStats`; every rank gets the total.

    The ranks first all-gather their weights, shifts and first moments and compute the
    global weighted mean :math:`c`; each re-expresses its statistics about :math:`c`
    (exact algebra, the update of the parallel variance formula) and one all-reduce sums
    the float64 moments. Ranks without rows take part with zeros.

    Every rank must pass statistics of the same shape (features, targets).

    Examples
    --------
    >>> X = torch.arange(8, dtype=torch.float64).reshape(4, 2)
    >>> total = allreduce_gram(GramStats.zeros(2).update(X, X[:, 0]))  # one process
    >>> total.n_samples, float(total.weight_sum)
    (4, 4.0)
    """
    d, k = stats.n_features, stats.n_targets
    if world_size() == 1:
        return stats
    dev = stats.device
    head = torch.cat(
        [
            torch.tensor([float(stats.n_samples)], dtype=torch.float64, device=dev),
            stats.weight_sum.reshape(1),
            stats.shift_x,
            stats.shift_y,
            stats.sum_x,
            stats.sum_y,
        ]
    )
    heads = _all_gather(head)
    n_total = 0
    W_total = torch.zeros((), dtype=torch.float64, device=dev)
    moment = torch.zeros(d + k, dtype=torch.float64, device=dev)
    for h in heads:  # the same arithmetic in the same order on every rank
        n_total += int(h[0])
        W_total = W_total + h[1]
        moment = moment + h[1] * h[2 : 2 + d + k] + h[2 + d + k :]
    if float(W_total) > 0:
        centre = moment / W_total
    else:  # no weight anywhere: keep rank 0's shift (the solve will report it)
        centre = heads[0][2 : 2 + d + k]
    local = stats.reshifted(centre[:d], centre[d:]) if stats.n_samples else None
    body = torch.zeros(1 + d + k + d * d + d * k + k * k, dtype=torch.float64, device=dev)
    if local is not None:
        torch.cat(
            [
                local.weight_sum.reshape(1),
                local.sum_x,
                local.sum_y,
                local.xtx.reshape(-1),
                local.xty.reshape(-1),
                local.yty.reshape(-1),
            ],
            out=body,
        )
    body = _all_reduce_sum(body)
    cuts = np.cumsum([1, d, k, d * d, d * k, k * k])
    parts = torch.tensor_split(body, cuts[:-1].tolist())
    return GramStats(
        d,
        k,
        centre[:d].clone(),
        centre[d:].clone(),
        n_total,
        parts[0].reshape(()).clone(),
        parts[1].clone(),
        parts[2].clone(),
        parts[3].reshape(d, d).clone(),
        parts[4].reshape(d, k).clone(),
        parts[5].reshape(k, k).clone(),
        True,
    )


def allgather_tsqr(stats: TSQRStats) -> TSQRStats:
    """Combine every rank's :class:`~torchlinear.exact.TSQRStats`; every rank gets the total.

    One all-gather of the ``(1 + d + k)``-square triangular factors (with their shifts
    and weights); every rank merges them in rank order (:meth:`TSQRStats.merge`), so all
    ranks hold the same factor of all the rows. Ranks without rows take part with zeros.

    Examples
    --------
    >>> X = torch.arange(8, dtype=torch.float64).reshape(4, 2)
    >>> allgather_tsqr(TSQRStats.zeros(2).update(X, X[:, 0])).n_samples  # one process
    4
    """
    if world_size() == 1:
        return stats
    d, k = stats.n_features, stats.n_targets
    dev = stats.device
    packed = torch.cat(
        [
            torch.tensor([float(stats.n_samples)], dtype=torch.float64, device=dev),
            stats.weight_sum.reshape(1),
            stats.shift_x,
            stats.shift_y,
            stats.r.reshape(-1),
        ]
    )
    total: TSQRStats | None = None
    for g in _all_gather(packed):
        part = TSQRStats(
            d,
            k,
            g[2 : 2 + d].clone(),
            g[2 + d : 2 + d + k].clone(),
            int(g[0]),
            g[1].clone(),
            g[2 + d + k :].reshape(1 + d + k, 1 + d + k).clone(),
            True,
        )
        total = part if total is None else total.merge(part)
    assert total is not None
    if total.n_samples == 0:  # nobody had rows: keep the caller's (empty) factor
        return stats
    return total


# ---------------------------------------------------------------------------------------
# Exact least squares across ranks
# ---------------------------------------------------------------------------------------

_Chunk = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]


class _LocalData:
    """This rank's rows, as a re-iterable stream of float64-ready chunks."""

    def __init__(self, data: Any, sample_weight: Any, chunk_rows: int | None) -> None:
        self.n_features: int | None = None
        self.n_targets: int | None = None
        self.feature_names: list[str] | None = None
        self._arrays: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None
        self._factory: Callable[[], Iterable[Any]] | None = None
        self._chunk_rows = chunk_rows
        self._checked = False  # chunks already validated (by a TabularSource)
        if hasattr(data, "iter_chunks") and hasattr(data, "feature_names"):
            if sample_weight is not None:
                raise ValueError("sample_weight cannot be given with a file source")
            if getattr(data, "task", "regression") != "regression" or data.target is None:
                raise ValueError("an exact fit needs a regression source with a target column")
            self.feature_names = list(data.feature_names)
            self.n_features, self.n_targets = len(self.feature_names), 1
            self._factory = data.iter_chunks
            self._checked = True
        elif isinstance(data, list | tuple) and len(data) in (2, 3):
            if len(data) == 3 and sample_weight is not None:
                raise ValueError("give sample_weight either in data or as an argument, not both")
            X = _as_tensor(data[0], "X")
            y = _as_tensor(data[1], "y")
            w = data[2] if len(data) == 3 else sample_weight
            if X.ndim != 2:
                raise ValueError(
                    f"X must be 2-D (n_samples, n_features), got shape {tuple(X.shape)}; a "
                    "rank without rows passes shape (0, n_features)"
                )
            y2 = y.reshape(-1, 1) if y.ndim == 1 else y
            if y2.ndim != 2 or len(y2) != len(X):
                raise ValueError(f"y has shape {tuple(y.shape)} but X has {len(X)} rows")
            wt = None
            if w is not None:
                wt = _as_tensor(w, "sample_weight").reshape(-1).to(torch.float64)
                if len(wt) != len(X):
                    raise ValueError(f"sample_weight has {len(wt)} rows but X has {len(X)}")
                _check_weights(wt)
            _check_finite(X, "X")
            _check_finite(y2, "y")
            self._arrays = (X, y2, wt)
            self.n_features, self.n_targets = X.shape[1], y2.shape[1]
        elif callable(data):
            if sample_weight is not None:
                raise ValueError("sample_weight cannot be given with a chunk source")
            self._factory = data
        else:
            raise ValueError(
                "data must be this rank's (X, y) or (X, y, sample_weight), a TabularSource, "
                f"or a callable returning an iterator of chunks; got {type(data).__name__}"
            )

    def chunks(self) -> Iterator[_Chunk]:
        if self._arrays is not None:
            X, y, w = self._arrays
            rows = self._chunk_rows or default_chunk_rows(X.shape[1] + y.shape[1] + 1)
            for start in range(0, len(X), rows):
                sl = slice(start, start + rows)
                yield X[sl], y[sl], None if w is None else w[sl]
            return
        assert self._factory is not None
        for item in self._factory():
            if not isinstance(item, list | tuple) or len(item) not in (2, 3):
                raise ValueError("each chunk must be (X, y) or (X, y, sample_weight)")
            X = _as_tensor(item[0], "X")
            y = _as_tensor(item[1], "y")
            y = y.reshape(-1, 1) if y.ndim == 1 else y
            w = None
            if len(item) == 3 and item[2] is not None:
                w = _as_tensor(item[2], "sample_weight").reshape(-1).to(torch.float64)
                _check_weights(w)
            if (
                X.ndim != 2
                or y.ndim != 2
                or len(y) != len(X)
                or (w is not None and len(w) != len(X))
            ):
                raise ValueError(
                    f"a chunk has X of shape {tuple(X.shape)} and y of shape {tuple(y.shape)}; "
                    "X must be 2-D with one target row per row of X"
                )
            if self.n_features is None:
                self.n_features, self.n_targets = X.shape[1], y.shape[1]
            elif (X.shape[1], y.shape[1]) != (self.n_features, self.n_targets):
                raise ValueError(
                    f"a chunk has {X.shape[1]} feature(s) and {y.shape[1]} target(s) but the "
                    f"first had {self.n_features} and {self.n_targets}"
                )
            if not self._checked:
                _check_finite(X, "X")
                _check_finite(y, "y")
            if len(X):
                yield X, y, w


def _as_tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        arr = np.asarray(value)
        if not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
            raise ValueError(f"{name} must be numeric, got values of type {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_complex():
        raise ValueError(f"{name} must be real-valued")
    return t if t.is_floating_point() else t.to(torch.float64)


def _check_finite(t: torch.Tensor, name: str) -> None:
    if t.numel() and not bool(torch.isfinite(t).all()):
        from torchlinear._validation import check_finite

        check_finite(name, t)


def _check_weights(w: torch.Tensor) -> None:
    _check_finite(w, "sample_weight")
    if bool((w < 0).any()):
        raise ValueError("sample_weight must be >= 0; remove or fix the negative weights")


def _accumulate(
    local: _LocalData, make: Callable[[int, int], Any]
) -> tuple[Any, BaseException | None]:
    """Run one pass over the local chunks into ``make(d, k)``; capture a failure."""
    stats = None
    try:
        for X, y, w in local.chunks():
            if stats is None:
                stats = make(X.shape[1], y.shape[1])
            stats.update(X, y, w)
        if stats is None and local.n_features is not None:
            stats = make(local.n_features, local.n_targets or 1)
    except Exception as exc:  # shared with the other ranks before anyone waits on a collective
        return None, exc
    return stats, None


def _agree_on_shape(stats: Any, error: BaseException | None) -> tuple[int, int]:
    """Share status and (d, k); raise everywhere on a failure or a mismatch."""
    info = [-1, -1] if stats is None else [stats.n_features, stats.n_targets]
    shapes = _exchange_status(error, info)
    known = {tuple(s) for s in shapes if s[0] >= 0}
    if not known:
        raise ValueError("no rank has any rows: the data is empty")
    if len(known) > 1:
        listed = ", ".join(
            f"rank {r}: {s[0]} feature(s), {s[1]} target(s)"
            for r, s in enumerate(shapes)
            if s[0] >= 0
        )
        raise ValueError(
            f"the ranks' data disagree in shape ({listed}); give every rank the same columns"
        )
    d, k = known.pop()
    return int(d), int(k)


def _is_well_conditioned(g: GramStats, alpha: float, fit_intercept: bool) -> bool:
    """Whether Cholesky of the centred, column-scaled Gram matrix is accurate enough
    (reciprocal condition number at least :data:`~torchlinear.exact.RCOND_CHOLESKY`)."""
    G, _, _, raw = (t.cpu() for t in g.system(fit_intercept))
    diag = torch.diagonal(G).clamp_min(0)
    tiny = diag <= (64 * EPS) ** 2 * raw if fit_intercept else diag <= 0
    if bool(tiny.any()):  # a constant column: the QR path reports it
        return False
    D = diag.sqrt()
    Gs = G / torch.outer(D, D)
    if alpha > 0:
        Gs = Gs + torch.diag(alpha / diag)
    evals = torch.linalg.eigvalsh(Gs)
    return bool(evals[-1] > 0) and float(evals[0] / evals[-1]) >= RCOND_CHOLESKY


def _residual_moments(
    local: _LocalData, coef: torch.Tensor, intercept: torch.Tensor, shift: torch.Tensor
) -> torch.Tensor:
    r"""This rank's :math:`[\sum w (x - c) r^\top, \sum w r, \sum w r^2]` for
    :math:`r = y - b - W^\top x`, formed from the shifted rows (float64)."""
    d, k = coef.shape
    total = torch.zeros(d * k + 2 * k, dtype=torch.float64)
    for X, y, w in local.chunks():
        dev = X.device
        cf, c = coef.to(dev), shift.to(dev)
        Xc = X.to(torch.float64) - c
        r = y.to(dev, torch.float64) - (intercept.to(dev) + c @ cf) - Xc @ cf
        wr = r if w is None else r * w.to(dev)[:, None]
        total += torch.cat([(Xc.T @ wr).reshape(-1), wr.sum(0), (wr * r).sum(0)]).cpu()
    return total


def _refine(sol: LstsqSolution, local: _LocalData, max_steps: int = 3) -> tuple[LstsqSolution, int]:
    r"""Improve ``sol`` by residual passes over every rank's rows (one all-reduce each).

    Each step solves :math:`(X_c^\top W X_c + \alpha I)\,\delta = X_c^\top W r - \alpha w`
    with the factor already computed; the error contracts by about
    :math:`\kappa(G_s)\,\varepsilon` a step, to the accuracy of a backward-stable solver.
    Returns the refined solution and the number of passes made.
    """
    d, k = sol.coef.shape
    coef, b = sol.coef.clone(), sol.intercept.clone()
    Cinv = sol.centred_inverse()
    shift = sol.mean_x if sol.fit_intercept else torch.zeros_like(sol.mean_x)
    last, steps, rss, passes = math.inf, 0, sol.rss, 0
    for _ in range(max_steps):
        passes += 1
        moments = _all_reduce_sum(_residual_moments(local, coef, b, shift))
        g, g0, ss = moments[: d * k].reshape(d, k), moments[d * k : d * k + k], moments[-k:]
        rss = ss
        delta = Cinv @ (g - sol.alpha * coef)
        db = g0 / sol.weight_sum - sol.mean_x @ delta if sol.fit_intercept else torch.zeros_like(b)
        size = float(delta.norm() / coef.norm().clamp_min(1e-300))
        if size >= last:
            break
        coef, b = coef + delta, b + db
        steps, last = steps + 1, size
        if size <= 4 * EPS:
            break
    est = max(EPS * sol.cond, min(sol.est_rel_error, last if steps else sol.est_rel_error))
    refined = replace(
        sol, coef=coef, intercept=b, rss=rss, refinement_steps=steps, est_rel_error=est
    )
    return refined, passes


def fit_exact_distributed(
    data: Any,
    *,
    sample_weight: Any = None,
    alpha: float = 0.0,
    fit_intercept: bool = True,
    solver: str = "auto",
    shard: bool = True,
    chunk_rows: int | None = None,
    device: str | torch.device | None = None,
    feature_names: Sequence[str] | None = None,
    refine: bool = True,
) -> LstsqSolution:
    r"""Exact weighted least squares / ridge over the rows of every rank.

    Each rank passes over its own rows once, accumulating float64 sufficient statistics;
    the ranks combine them (:func:`allreduce_gram`, or :func:`allgather_tsqr` on the
    QR path) and every rank solves the same system, so all ranks return the same
    solution, equal to the single-process :func:`torchlinear.exact.lstsq` of all the rows.
    Without a process group this is simply a streamed exact fit.

    With ``solver="auto"``: the Gram pass, then Cholesky when the centred, column-scaled
    Gram matrix is well conditioned; otherwise a second pass accumulates the TSQR factor
    (centred on the exact global means) and solves by QR, or by SVD when rank deficient.
    When the error estimate asks for it (as in :func:`~torchlinear.exact.lstsq`), residual
    passes refine the solution, one all-reduce each. Well-conditioned data: one pass.

    Parameters
    ----------
    data : (X, y), (X, y, sample_weight), TabularSource or callable
        Arrays or tensors are **this rank's rows** (split full data with
        ``X[shard_rows(len(X))]``); a rank without rows passes ``X`` of shape
        ``(0, n_features)``. A :class:`~torchlinear.data.tabular.TabularSource` describes
        the whole file and each rank reads its part (see ``shard``). A callable returns a
        fresh iterator of this rank's ``(X, y)`` / ``(X, y, w)`` chunks on every call.
    sample_weight : array-like, optional
        This rank's non-negative weights (with in-memory ``(X, y)``).
    alpha : float, default 0
        Ridge penalty on the coefficients (never on the intercept).
    fit_intercept : bool, default True
    solver : {"auto", "cholesky", "qr", "svd"}, default "auto"
        ``"cholesky"``: the Gram path only; ``"qr"``: one TSQR pass; ``"svd"``: TSQR then
        the minimum-norm SVD solution.
    shard : bool, default True
        For a TabularSource: read only this rank's part (:func:`shard_source`). With
        ``False`` the source is read whole, as given (e.g. already restricted).
    chunk_rows : int, optional
        Rows per chunk for in-memory data.
    device : str or torch.device, optional
        Where to accumulate (default: the CPU).
    feature_names : sequence of str, optional
        Column names for warnings (a TabularSource supplies its own).
    refine : bool, default True
        Allow refinement passes when the error estimate asks for them.

    Returns
    -------
    LstsqSolution
        The same on every rank.

    Raises
    ------
    ValueError
        On every rank, when any rank's data is invalid (that rank raises its own error,
        the others a ``RankFailedError`` naming it) or the ranks disagree on the columns.

    Examples
    --------
    >>> X = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 3.0]], dtype=torch.float64)
    >>> y = X @ torch.tensor([2.0, -1.0], dtype=torch.float64) + 0.5
    >>> part = shard_rows(len(X))  # this rank's rows (all of them in one process)
    >>> sol = fit_exact_distributed((X[part], y[part]))
    >>> [round(v, 10) for v in sol.coef[:, 0].tolist()], round(float(sol.intercept[0]), 10)
    ([2.0, -1.0], 0.5)
    """
    if solver not in ("auto", "cholesky", "qr", "svd"):
        raise ValueError(f"solver must be 'auto', 'cholesky', 'qr' or 'svd', got {solver!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not alpha >= 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    if not math.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    if chunk_rows is not None:
        chunk_rows = check_positive_int("chunk_rows", chunk_rows)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    qr_first = solver in ("qr", "svd")
    kind = TSQRStats if qr_first else GramStats
    try:  # a failure on one rank is shared with the others before anyone waits for it
        if shard and hasattr(data, "iter_chunks") and hasattr(data, "restrict"):
            data = shard_source(data)
        local = _LocalData(data, sample_weight, chunk_rows)
    except Exception as exc:
        _agree_on_shape(None, exc)
        raise  # unreachable: the exchange re-raises this rank's error
    names = feature_names if feature_names is not None else local.feature_names
    stats, error = _accumulate(local, lambda d, k: kind.zeros(d, k, device=dev))
    d, k = _agree_on_shape(stats, error)
    if stats is None:  # this rank has no rows: take part with zeros
        stats = kind.zeros(d, k, device=dev)

    caught: list[warnings.WarningMessage] = []
    passes = 1
    if qr_first:
        total_qr = allgather_tsqr(stats)
        _check_weight(total_qr.n_samples, total_qr.weight_sum)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sol = total_qr.solve(
                alpha=alpha, fit_intercept=fit_intercept, method=solver, feature_names=names
            )
    else:
        total = allreduce_gram(stats)
        _check_weight(total.n_samples, total.weight_sum)
        if solver == "cholesky" or _is_well_conditioned(total, alpha, fit_intercept):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sol = total.solve(alpha=alpha, fit_intercept=fit_intercept, feature_names=names)
        else:  # a second pass: the TSQR factor, centred on the exact global means
            passes += 1
            mean_x, mean_y = total.means()
            qr, error = _accumulate(
                local,
                lambda d, k: TSQRStats.zeros(d, k, device=dev, shift_x=mean_x, shift_y=mean_y),
            )
            _exchange_status(error, [])
            if qr is None:
                qr = TSQRStats.zeros(d, k, device=dev, shift_x=mean_x, shift_y=mean_y)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sol = allgather_tsqr(qr).solve(
                    alpha=alpha, fit_intercept=fit_intercept, feature_names=names
                )
    for w in caught:  # re-issue all but the accuracy warning, decided after refinement
        if not issubclass(w.category, IllConditionedWarning):
            warnings.warn(w.message, w.category, stacklevel=2)
    n_positive = sol.n_samples  # rows with zero weight still count as seen; close enough
    full_rank = sol.rank == d and n_positive >= d + int(fit_intercept)
    if refine and full_rank and sol.est_rel_error > REFINE_ABOVE:
        sol, extra = _refine(sol, local)
        passes += extra
    if full_rank and math.isfinite(sol.est_rel_error) and sol.est_rel_error > WARN_ABOVE:
        digits = max(0.0, -math.log10(sol.est_rel_error))
        warnings.warn(
            f"the design is ill-conditioned (condition number {sol.cond:.3g} after centring "
            f"and column scaling); the coefficients have only about {digits:.0f} correct "
            "significant digits. Remove nearly collinear columns or use alpha > 0.",
            IllConditionedWarning,
            stacklevel=2,
        )
    if hasattr(sol, "n_passes"):
        sol = replace(sol, n_passes=passes)
    return sol


def _check_weight(n_samples: int, weight_sum: torch.Tensor) -> None:
    if n_samples == 0:
        raise ValueError("no rank has any rows: the data is empty")
    if float(weight_sum) <= 0:
        raise ValueError("all sample weights are zero; give at least one row a positive weight")


# ---------------------------------------------------------------------------------------
# Data-parallel training: what the training loop needs from the other ranks
# ---------------------------------------------------------------------------------------


class DataParallel:
    r"""The training loop's link to the other ranks (used by :func:`torchlinear.engine.train`).

    Data-parallel minibatch training with a global batch :math:`\mathcal B` of
    :math:`B` rows split into per-rank parts :math:`\mathcal B_r` of :math:`b_r` rows
    (:math:`\sum_r b_r = B`, some :math:`b_r` may be 0). Each rank computes the gradient
    :math:`g_r` of its part's mean loss (plus the penalty's gradient :math:`\nabla P`),
    and one all-reduce forms the row-weighted mean

    .. math::

        \frac{1}{B}\sum_r b_r\, g_r
        = \frac{1}{B}\sum_r \sum_{i\in\mathcal B_r} \nabla \ell_i + \nabla P ,

    exactly the single-process gradient of the global batch, whatever the split. The same
    all-reduce carries the loss and metric sums and a stop flag, so every rank sees the
    same loss, takes the same step and stops at the same batch. A rank whose stream has
    ended takes part with :math:`b_r = 0` until all have (``rows == 0``).

    Use :meth:`detect` to get one; it is ``None`` outside a group of two or more ranks.

    Examples
    --------
    >>> DataParallel.detect() is None  # a single process
    True
    >>> dp = DataParallel(rank=1, world_size=2)
    >>> dp.part(5), dp.local_batch_size(5)
    (slice(3, 5, 1), 3)
    """

    def __init__(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = _rank_and_size(rank, world_size)

    @classmethod
    def detect(cls, enabled: bool | None = None) -> DataParallel | None:
        """The link for this process, or ``None`` for single-process training.

        ``enabled=None`` (automatic) trains data-parallel inside an initialised process
        group of two or more ranks; ``False`` never does; ``True`` requires the group.
        """
        if enabled is False:
            return None
        if not is_distributed() or world_size() < 2:
            if enabled:
                raise ValueError(
                    "data_parallel=True needs an initialised process group with two or more "
                    "ranks: launch with torchrun and call torchlinear.distributed.init_from_env()"
                )
            return None
        return cls(rank(), world_size())

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0 (the rank that writes checkpoints and shows progress)."""
        return self.rank == 0

    def part(self, n: int) -> slice:
        """This rank's rows of a global batch of ``n`` rows (contiguous, balanced)."""
        return shard_rows(n, self.rank, self.world_size)

    def local_batch_size(self, batch_size: int) -> int:
        """Rows per step for a rank that streams its own data: ``ceil(batch_size / w)``."""
        return -(-batch_size // self.world_size)

    def broadcast_seed(self, seed: int) -> int:
        """Rank 0's seed, on every rank (so every rank draws the same permutations)."""
        t = torch.tensor([seed], dtype=torch.int64, device=_comm_device())
        dist.broadcast(t, src=0)
        return int(t.item())

    @torch.no_grad()
    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers into ``module`` on every rank (in place)."""
        for t in list(module.parameters()) + list(module.buffers()):
            buf = t.detach().to(_comm_device()).contiguous()
            dist.broadcast(buf, src=0)
            t.copy_(buf.to(t.device))

    def all_reduce(self, values: Sequence[float]) -> list[float]:
        """Sum a few numbers over the ranks (float64)."""
        t = torch.tensor(list(values), dtype=torch.float64, device=_comm_device())
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any rank."""
        return self.all_reduce([float(bool(flag))])[0] > 0

    @torch.no_grad()
    def average_gradients(
        self, params: Iterable[torch.Tensor], rows: int, extras: Sequence[float] = ()
    ) -> tuple[int, list[float]]:
        """Replace each gradient by the row-weighted mean of the ranks' gradients.

        One all-reduce (float64) of ``rows * grad`` for every parameter together with
        ``rows`` and ``extras`` (loss and metric sums, flags). A parameter without a
        gradient counts as zeros. Returns the total rows and the summed extras; with
        zero rows in total the gradients are left at zero.
        """
        params = [p for p in params if p.requires_grad]
        sizes = [p.numel() for p in params]
        device = _comm_device()
        buf = torch.zeros(sum(sizes) + 1 + len(extras), dtype=torch.float64, device=device)
        if rows:
            offset = 0
            for p, size in zip(params, sizes, strict=True):
                if p.grad is not None:
                    buf[offset : offset + size] = p.grad.reshape(-1).to(device, torch.float64)
                offset += size
            buf[: sum(sizes)] *= rows
        buf[sum(sizes)] = rows
        if extras:
            buf[sum(sizes) + 1 :] = torch.tensor(list(extras), dtype=torch.float64)
        dist.all_reduce(buf, op=dist.ReduceOp.SUM)
        total = int(round(float(buf[sum(sizes)])))
        if total:
            buf[: sum(sizes)] /= total
        offset = 0
        for p, size in zip(params, sizes, strict=True):
            grad = buf[offset : offset + size].reshape(p.shape).to(p.device, p.dtype)
            if p.grad is None:
                p.grad = grad
            else:
                p.grad.copy_(grad)
            offset += size
        return total, buf[sum(sizes) + 1 :].tolist()


class RankBatchSampler(torch.utils.data.Sampler[list[int]]):
    """This rank's slice of each global batch of indices drawn from ``sampler``.

    Groups the indices ``sampler`` yields (the same order on every rank) into global
    batches of ``batch_size`` and yields rank ``r``'s contiguous part of each
    (:func:`shard_rows`), which may be empty when a batch has fewer rows than ranks.
    Use it as a DataLoader's ``batch_sampler`` (with a ``collate_fn`` that accepts an
    empty list, e.g. :func:`collate_or_none`).

    Examples
    --------
    >>> list(RankBatchSampler(range(7), 3, rank=1, world_size=2))
    [[2], [5], []]
    """

    def __init__(
        self,
        sampler: Iterable[int],
        batch_size: int,
        *,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        self.sampler = sampler
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.drop_last = bool(drop_last)
        self.rank, self.world_size = _rank_and_size(rank, world_size)

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(int(index))
            if len(batch) == self.batch_size:
                yield batch[shard_rows(len(batch), self.rank, self.world_size)]
                batch = []
        if batch and not self.drop_last:
            yield batch[shard_rows(len(batch), self.rank, self.world_size)]

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def collate_or_none(batch: list[Any]) -> Any:
    """:func:`torch.utils.data.default_collate`, but ``None`` for an empty batch.

    Examples
    --------
    >>> collate_or_none([]) is None
    True
    """
    if not batch:
        return None
    return torch.utils.data.default_collate(batch)
