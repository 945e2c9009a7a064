"""The process group: joining it from ``torchrun``'s environment, ranks, and sharing each
rank's status (so that one rank's failure fails every rank instead of leaving them waiting)."""

from __future__ import annotations

import contextlib
import math
import os
import pickle
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import record as _elastic_record

__all__ = [
    "DEFAULT_TIMEOUT",
    "REPORTED_BY_RANK_0",
    "RankFailedError",
    "all_gather",
    "all_reduce_sum",
    "barrier",
    "comm_device",
    "default_backend",
    "exchange_status",
    "init_from_env",
    "is_distributed",
    "is_main_process",
    "launched_by_torchrun",
    "local_rank",
    "rank",
    "record",
    "shutdown",
    "world_size",
]

DEFAULT_TIMEOUT: timedelta = timedelta(minutes=30)
"""How long a rank waits in a collective for the others before the job fails.

Long enough for one rank to read a large shard while another waits; override with
``init_from_env(timeout=...)`` or the ``TORCHLINEAR_DIST_TIMEOUT`` environment variable
(seconds)."""

_ENV_TIMEOUT = "TORCHLINEAR_DIST_TIMEOUT"
_MESSAGE_BYTES = 4096  # room for one rank's error (pickled) in the status exchange


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
    return _elastic_record(fn)


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


def comm_device() -> torch.device:
    """Where collective buffers live: the current GPU for NCCL, else the CPU."""
    if is_distributed() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class RankFailedError(RuntimeError):
    """Another rank failed; raised on the ranks that did not, naming it and its error.

    ``rank`` is the rank that failed and ``error`` its exception (``None`` when it could
    not be sent whole: the message then quotes its text).
    """

    def __init__(self, message: str, rank: int = -1, error: BaseException | None = None):
        super().__init__(message)
        self.rank = rank
        self.error = error

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.rank, self.error)


REPORTED_BY_RANK_0 = "torchlinear_reported_by_rank_0"
"""Set on an exception that :func:`exchange_status` shared with rank 0 (which reports it)."""


def _payload(error: BaseException) -> tuple[int, bytes]:
    """The error as sent to the other ranks: pickled (kind 1) when that is possible in
    :data:`_MESSAGE_BYTES`, else its text (kind 0)."""
    with contextlib.suppress(Exception):
        data = pickle.dumps(error)
        if len(data) <= _MESSAGE_BYTES:
            return 1, data
    return 0, f"{type(error).__name__}: {error}".encode(errors="replace")[:_MESSAGE_BYTES]


def _received(r: int, kind: int, data: bytes) -> RankFailedError:
    error = None
    if kind == 1:
        with contextlib.suppress(Exception):
            error = pickle.loads(data)  # from a rank of this job: the same program
    text = f"{type(error).__name__}: {error}" if error is not None else data.decode("replace")
    return RankFailedError(f"rank {r} failed: {text}", r, error)


def exchange_status(error: BaseException | None, info: Sequence[int]) -> list[list[int]]:
    """All-gather ``[ok, *info]`` plus an error from every rank.

    If any rank reports an error, every rank raises: a failing rank its own exception
    (marked as shared, :data:`REPORTED_BY_RANK_0`, on ranks other than 0), the others a
    :class:`RankFailedError` carrying the first failing rank's exception. Rank 0 thus
    holds the error of the job, which the command line prints once. Returns each rank's
    ``info``.
    """
    w = world_size()
    kind, message = _payload(error) if error is not None else (0, b"")
    head = 3 + len(info)
    packed = torch.zeros(head + _MESSAGE_BYTES, dtype=torch.int64)
    packed[:3] = torch.tensor([int(error is not None), kind, len(message)])
    packed[3:head] = torch.tensor([int(v) for v in info], dtype=torch.int64)
    if message:
        packed[head : head + len(message)] = torch.tensor(list(message))
    if w == 1:
        gathered = [packed]
    else:
        device = comm_device()
        local = packed.to(device)
        gathered = [torch.empty_like(local) for _ in range(w)]
        dist.all_gather(gathered, local)
        gathered = [g.cpu() for g in gathered]
    if error is not None:
        if rank() != 0:
            with contextlib.suppress(AttributeError, TypeError):
                setattr(error, REPORTED_BY_RANK_0, True)
        raise error
    for r, g in enumerate(gathered):
        if int(g[0]):
            raise _received(r, int(g[1]), bytes(g[head : head + int(g[2])].tolist()))
    return [g[3:head].tolist() for g in gathered]


def all_gather(t: torch.Tensor) -> list[torch.Tensor]:
    if world_size() == 1:
        return [t]
    device = comm_device()
    local = t.to(device).contiguous()
    out = [torch.empty_like(local) for _ in range(world_size())]
    dist.all_gather(out, local)
    return [o.to(t.device) for o in out]


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if world_size() == 1:
        return t
    device = comm_device()
    buf = t.to(device).contiguous()
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return buf.to(t.device)
