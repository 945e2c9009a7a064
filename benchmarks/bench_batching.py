"""Batching: the textbook ``DataLoader(TensorDataset)`` against in-memory index batching.

``DataLoader(TensorDataset(X, y), batch_size, shuffle=True)`` calls
``TensorDataset.__getitem__`` once per sample and stacks the samples again in
``collate``. When ``X`` and ``y`` are already tensors on the training device, one shuffled
permutation per epoch and one gather per batch do the same job
(:func:`torchlinear.data.batching.iter_batches`; the from-scratch ``data_iter`` is the same
idea written for reading). Measured on 1,000,000 × 2 float32 at batch sizes 10 and 256,
iterating batches only (no model), each timed from a fresh iterator (the epoch's shuffle
included).
"""

from __future__ import annotations

import itertools

import torch
from torch.utils.data import DataLoader, TensorDataset

from _common import MIN_RUNS, best_time, format_table, fresh_runs, spread
from torchlinear.data.batching import iter_batches
from torchlinear.scratch import data_iter


def _consume(batches, limit: int) -> int:
    """Pull up to ``limit`` batches; return the number of samples seen."""
    seen = 0
    for _, yb in itertools.islice(batches, limit):
        seen += len(yb)
    return seen


def _cases(quick: bool, batch_size: int) -> tuple[int, list]:
    n = 20_000 if quick else 1_000_000
    # the DataLoader is slow: time it on a prefix of the epoch (its samples/s is steady)
    loader_samples = n if quick else 200_000
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 2, generator=g)
    y = torch.randn(n, generator=g)
    dataset = TensorDataset(X, y)
    full_epoch = -(-n // batch_size)
    loader_batches = -(-loader_samples // batch_size)
    cases = [
        (
            "DataLoader(TensorDataset(X, y), shuffle=True)",
            lambda: DataLoader(dataset, batch_size, shuffle=True, generator=g),
            loader_batches,
        ),
        (
            "scratch.data_iter (index a permutation)",
            lambda: data_iter(batch_size, X, y, g),
            full_epoch,
        ),
        (
            "data.iter_batches (index_select on a permutation)",
            lambda: iter_batches(X, y, batch_size, generator=g),
            full_epoch,
        ),
    ]
    return n, cases


def measure(case: int, quick: bool, batch_size: int) -> dict:
    """Samples and median seconds of one case, in this (fresh) process."""
    _, cases = _cases(quick, batch_size)
    _, make, limit = cases[case]
    samples = _consume(make(), limit)
    seconds = best_time(lambda: _consume(make(), limit), repeat=3)
    return {"seconds": seconds, "samples": samples}


def run(quick: bool = False) -> str:
    runs = 0 if quick else MIN_RUNS  # quick: once, in this process
    rows = []
    for batch_size in (10, 256):
        n, cases = _cases(quick, batch_size)
        baseline = None
        for i, (name, _, _) in enumerate(cases):
            t = fresh_runs(__file__, "measure", i, quick, batch_size, runs=runs)
            samples = t.last["samples"]
            rate = samples / t.median
            baseline = baseline or rate
            rows.append(
                [
                    batch_size,
                    name,
                    f"{samples:,}",
                    spread(t),
                    f"{rate:,.0f}",
                    f"{rate / baseline:,.1f}×",
                ]
            )
    headers = ["batch", "batching", "samples timed", "time (s)", "samples/s", "× DataLoader"]
    title = (
        f"Batching {n:,} × 2 float32 on the CPU (batches only, no model); time: median "
        f"(min–max) of {runs or 1} fresh process(es)"
    )
    return format_table(headers, rows, title=title)


if __name__ == "__main__":
    print(run())
