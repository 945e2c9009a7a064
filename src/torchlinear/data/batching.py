r"""Minibatches from in-memory tensors, without a per-sample ``Dataset``.

The textbook's ``data_iter`` shuffles a list of indices and gathers one batch at a time;
``torch.utils.data.DataLoader`` does the same through ``Dataset.__getitem__`` (one Python
call per sample) and a ``collate`` step that stacks the samples again. When the data is
already a tensor on the training device, both costs are avoidable: draw one permutation of
``0..n-1`` per epoch and gather each batch with a single ``index_select``.

.. math::

    \pi \sim \mathrm{Uniform}(S_n), \qquad
    \mathcal B_j = \{\pi_{jB}, \dots, \pi_{\min((j+1)B, n) - 1}\}, \qquad
    (X_{\mathcal B_j}, y_{\mathcal B_j})

Every index appears in exactly one batch per epoch; with ``drop_last=True`` the final
short batch is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from torchlinear._validation import check_positive_int

__all__ = ["iter_batches", "num_batches", "epoch_permutation"]


def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Return how many batches one epoch over ``n`` samples yields.

    Examples
    --------
    >>> num_batches(10, 4), num_batches(10, 4, drop_last=True)
    (3, 2)
    """
    return n // batch_size if drop_last else -(-n // batch_size)


def epoch_permutation(
    n: int,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Return a random permutation of ``0..n-1`` (int64) on ``device``.

    The permutation is drawn on the generator's own device (so a CPU generator gives the
    same order whatever the data's device) and then moved to ``device``. Without a
    generator, torch's global random number generator is used.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> sorted(epoch_permutation(5, generator=g).tolist())
    [0, 1, 2, 3, 4]
    """
    device = torch.device(device)
    draw_on = generator.device if generator is not None else device
    perm = torch.randperm(n, generator=generator, device=draw_on)
    return perm.to(device)


def iter_batches(
    X: torch.Tensor,
    y: torch.Tensor | None,
    batch_size: int,
    *,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
    sample_weight: torch.Tensor | None = None,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Yield one epoch of minibatches gathered from tensors by index.

    Parameters
    ----------
    X : torch.Tensor
        Features, shape ``(n, ...)``; batches keep its device and dtype.
    y : torch.Tensor or None
        Targets with ``n`` rows (any trailing shape), or ``None`` to batch ``X`` alone
        (then ``None`` is yielded in its place).
    batch_size : int
        Rows per batch (the last batch may be shorter unless ``drop_last``).
    shuffle : bool, default True
        Draw a fresh permutation for this epoch; otherwise batches are contiguous views
        in order, with no copy.
    generator : torch.Generator, optional
        Source of the permutation, for reproducible orders. Two calls with generators in
        the same state give the same batches. ``None`` uses torch's global generator.
    drop_last : bool, default False
        Skip the final batch if it is shorter than ``batch_size``.
    sample_weight : torch.Tensor, optional
        Per-sample weights, shape ``(n,)``; when given each item is
        ``(X_batch, y_batch, w_batch)``.

    Yields
    ------
    tuple of torch.Tensor
        ``(X_batch, y_batch)`` or ``(X_batch, y_batch, w_batch)``.

    Examples
    --------
    >>> X = torch.arange(10.0).reshape(5, 2)
    >>> y = torch.arange(5.0)
    >>> g = torch.Generator().manual_seed(0)
    >>> batches = list(iter_batches(X, y, 2, generator=g))
    >>> [len(yb) for _, yb in batches]
    [2, 2, 1]
    >>> sorted(torch.cat([yb for _, yb in batches]).tolist())
    [0.0, 1.0, 2.0, 3.0, 4.0]
    """
    batch_size = check_positive_int("batch_size", batch_size)
    n = X.shape[0]
    if y is not None and y.shape[0] != n:
        raise ValueError(f"y has {y.shape[0]} rows but X has {n}")
    if sample_weight is not None and sample_weight.shape[0] != n:
        raise ValueError(f"sample_weight has {sample_weight.shape[0]} rows but X has {n}")
    stop = n - n % batch_size if drop_last else n
    if not shuffle:
        for start in range(0, stop, batch_size):
            end = min(start + batch_size, n)
            yield _pack(
                X[start:end], None if y is None else y[start:end], sample_weight, start, end
            )
        return
    perm = epoch_permutation(n, X.device, generator)
    for start in range(0, stop, batch_size):
        idx = perm[start : start + batch_size]
        yield _take(X, y, sample_weight, idx)


def _pack(
    Xb: torch.Tensor,
    yb: torch.Tensor | None,
    sample_weight: torch.Tensor | None,
    start: int,
    end: int,
) -> tuple[torch.Tensor, ...]:
    if sample_weight is None:
        return (Xb, yb)
    return (Xb, yb, sample_weight[start:end])


def _take(
    X: torch.Tensor,
    y: torch.Tensor | None,
    sample_weight: torch.Tensor | None,
    idx: torch.Tensor,
) -> tuple[torch.Tensor, ...]:
    Xb = X.index_select(0, idx)
    yb = None if y is None else y.index_select(0, idx.to(y.device))
    if sample_weight is None:
        return (Xb, yb)
    return (Xb, yb, sample_weight.index_select(0, idx.to(sample_weight.device)))
