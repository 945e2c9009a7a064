"""Collectives on sufficient statistics, and the exact driver's :class:`RankCombine`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from torchlinear.distributed.group import (
    all_gather,
    all_reduce_sum,
    exchange_status,
    world_size,
)
from torchlinear.exact import Combine, GramStats, TSQRStats

__all__ = ["RANKS", "RankCombine", "allgather_tsqr", "allreduce_gram"]


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
    heads = all_gather(head)
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
    body = all_reduce_sum(body)
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
    for g in all_gather(packed):
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


class RankCombine(Combine):
    """The exact driver's combine hook across the ranks of a process group.

    Every method is a collective: all ranks call them in the same order (the driver does).
    """

    local = False

    def agree(self, error: BaseException | None, shape: tuple[int, int] | None) -> tuple[int, int]:
        """Share every rank's status and ``(d, k)``; raise everywhere on a failure or a
        disagreement about the columns."""
        info = [-1, -1] if shape is None else list(shape)
        shapes = exchange_status(error, info)
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

    def gram(self, stats: GramStats) -> GramStats:
        return allreduce_gram(stats)

    def tsqr(self, stats: TSQRStats) -> TSQRStats:
        return allgather_tsqr(stats)

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        return all_reduce_sum(values.to(torch.float64))

    def rows(self, part: Any) -> Any:
        parts: list[Any] = [None] * world_size()
        dist.all_gather_object(parts, part)
        X = torch.cat([p[0] for p in parts])
        Y = torch.cat([p[1] for p in parts])
        if all(p[2] is None for p in parts):
            return X, Y, None
        w = [torch.ones(len(p[0]), dtype=torch.float64) if p[2] is None else p[2] for p in parts]
        return X, Y, torch.cat(w)


#: The combine hook for the current process group.
RANKS = RankCombine()
