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
* Exact least squares (:func:`fit_exact_distributed`: the exact driver
  :func:`torchlinear.exact.solve_exact` with :data:`RANKS` as its combine hook): every rank
  accumulates the sufficient statistics :class:`~torchlinear.exact.GramStats` of its rows; the ranks
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

from torchlinear.data.sharding import (
    csv_byte_range,
    shard_row_groups,
    shard_rows,
    shard_source,
)
from torchlinear.distributed.collectives import RANKS, RankCombine, allgather_tsqr, allreduce_gram
from torchlinear.distributed.exact import fit_exact_distributed, local_stream
from torchlinear.distributed.group import (
    DEFAULT_TIMEOUT,
    RankFailedError,
    barrier,
    default_backend,
    exchange_status,
    init_from_env,
    is_distributed,
    is_main_process,
    launched_by_torchrun,
    local_rank,
    rank,
    record,
    shutdown,
    world_size,
)
from torchlinear.distributed.parallel import DataParallel, RankBatchSampler, collate_or_none

__all__ = [
    "DEFAULT_TIMEOUT",
    "RANKS",
    "DataParallel",
    "RankBatchSampler",
    "RankCombine",
    "RankFailedError",
    "allgather_tsqr",
    "allreduce_gram",
    "barrier",
    "collate_or_none",
    "csv_byte_range",
    "default_backend",
    "exchange_status",
    "fit_exact_distributed",
    "init_from_env",
    "is_distributed",
    "is_main_process",
    "launched_by_torchrun",
    "local_rank",
    "local_stream",
    "rank",
    "record",
    "shard_row_groups",
    "shard_rows",
    "shard_source",
    "shutdown",
    "world_size",
]
