"""Data-parallel training: what the training loop needs from the other ranks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch
import torch.distributed as dist

from torchlinear._validation import check_positive_int
from torchlinear.data.sharding import rank_and_size, shard_rows
from torchlinear.distributed.group import comm_device, is_distributed, rank, world_size

__all__ = ["DataParallel", "RankBatchSampler", "collate_or_none"]


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
        self.rank, self.world_size = rank_and_size(rank, world_size)

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
        t = torch.tensor([seed], dtype=torch.int64, device=comm_device())
        dist.broadcast(t, src=0)
        return int(t.item())

    @torch.no_grad()
    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers into ``module`` on every rank (in place)."""
        for t in list(module.parameters()) + list(module.buffers()):
            buf = t.detach().to(comm_device()).contiguous()
            dist.broadcast(buf, src=0)
            t.copy_(buf.to(t.device))

    def all_reduce(self, values: Sequence[float]) -> list[float]:
        """Sum a few numbers over the ranks (float64)."""
        t = torch.tensor(list(values), dtype=torch.float64, device=comm_device())
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
        device = comm_device()
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
        self.rank, self.world_size = rank_and_size(rank, world_size)

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
