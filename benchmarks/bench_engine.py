"""Training throughput: the engine against the textbook ``DataLoader`` loop, batch 256.

The textbook's concise linear regression trains with::

    for X, y in DataLoader(TensorDataset(features, labels), batch_size, shuffle=True):
        l = loss(net(X), y); trainer.zero_grad(); l.backward(); trainer.step()

which pays one ``TensorDataset.__getitem__`` per sample and a ``collate`` per batch. The
engine (:func:`torchlinear.engine.train`) batches in-memory tensors by indexing them with
one shuffled permutation per epoch, computes the linear model's gradient in closed form
(one matrix product instead of an autograd graph), and adds its bookkeeping (running
loss, divergence guard, interrupt handling, history). Same data (float32, 20 features),
same model (``Linear(20, 1)``), same plain SGD step (lr 0.03, no momentum), one shuffled
epoch each.

Rows: the textbook loop; the engine on tensors; the engine given the same data as a
``Dataset`` (it then goes through a ``DataLoader``, the path for user datasets); and the
textbook's autograd step fed by :func:`~torchlinear.data.batching.iter_batches` — what
index batching alone buys. Target: the engine ≥ 5× the textbook loop.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from _common import MIN_RUNS, best_time, format_table, fresh_runs, spread
from torchlinear.data.batching import iter_batches
from torchlinear.engine import TrainConfig, train
from torchlinear.models import LinearModel

BATCH = 256
LR = 0.03


class _Rows(Dataset):
    """A user's map-style dataset: one ``(x, y)`` pair per ``__getitem__``."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor) -> None:
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[i], self.y[i]


def _textbook_epoch(X: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> None:
    net = nn.Sequential(nn.Linear(X.shape[1], 1))
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=LR)
    loader = DataLoader(
        TensorDataset(X, y.reshape(-1, 1)), BATCH, shuffle=True, generator=generator
    )
    for Xb, yb in loader:
        l = loss(net(Xb), yb)
        trainer.zero_grad()
        l.backward()
        trainer.step()


def _bare_epoch(X: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> None:
    net = nn.Linear(X.shape[1], 1)
    trainer = torch.optim.SGD(net.parameters(), lr=LR)
    for Xb, yb in iter_batches(X, y, BATCH, generator=generator):
        l = 0.5 * ((net(Xb).squeeze(-1) - yb) ** 2).mean()
        trainer.zero_grad()
        l.backward()
        trainer.step()


def _engine_epoch(data, d: int) -> None:
    model = LinearModel(d, seed=0)
    config = TrainConfig(epochs=1, batch_size=BATCH, lr=LR, momentum=0.0, seed=0)
    train(model, data, "squared", config)


def _cases(quick: bool) -> tuple[int, int, list]:
    n, d = (5_000, 20) if quick else (500_000, 20)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, generator=g)
    y = X @ torch.randn(d, generator=g) + 0.1 * torch.randn(n, generator=g)
    cases = [
        ("textbook: DataLoader(TensorDataset) loop", lambda: _textbook_epoch(X, y, g)),
        ("engine: train() on tensors", lambda: _engine_epoch((X, y), d)),
        (
            "engine: train() on a user Dataset (DataLoader path)",
            lambda: _engine_epoch(_Rows(X, y), d),
        ),
        ("textbook autograd step over iter_batches", lambda: _bare_epoch(X, y, g)),
    ]
    return n, d, cases


def measure(case: int, quick: bool) -> float:
    """The median epoch time of one case, in this (fresh) process."""
    _, _, cases = _cases(quick)
    return best_time(cases[case][1], repeat=1 if quick else 3, warmup=1)


def run(quick: bool = False) -> str:
    n, d, cases = _cases(quick)
    runs = 0 if quick else MIN_RUNS  # quick: once, in this process
    times = {
        name: fresh_runs(__file__, "measure", i, quick, runs=runs)
        for i, (name, _) in enumerate(cases)
    }
    base = times[cases[0][0]].median
    rows = [
        [name, BATCH, spread(t), f"{n / t.median:,.0f}", base / t.median]
        for name, t in times.items()
    ]
    title = (
        f"One SGD epoch of Linear({d}, 1) on {n:,} × {d} float32, batch {BATCH} "
        f"({torch.get_num_threads()} torch threads; target: engine ≥ 5× textbook); "
        f"median (min–max) of {runs or 1} fresh process(es)"
    )
    return format_table(
        ["training loop", "batch", "epoch time (s)", "samples/s", "× textbook"], rows, title
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    print(run(quick=parser.parse_args().quick))
