"""Vectorization: a per-sample Python loop against whole-tensor operations.

The textbook's point that vectorized code beats Python loops by orders of magnitude,
measured on the linear-regression forward pass and loss: predictions ``X w + b`` and the
mean squared loss ``½ (ŷ − y)²`` over 10,000 examples with 2 features.
"""

from __future__ import annotations

import torch

from _common import MIN_RUNS, best_time, format_table, fresh_runs, spread
from torchlinear.data import synthetic_regression
from torchlinear.scratch import linreg, squared_loss


def _cases(quick: bool) -> tuple[int, list]:
    n = 1_000 if quick else 10_000
    X, y, _, _ = synthetic_regression([2.0, -3.4], 4.2, n=n, seed=0)
    w = torch.tensor([[1.9], [-3.3]])
    b = torch.tensor([4.0])
    X_list, y_list = X.tolist(), y.tolist()
    w_list, b_float = w.reshape(-1).tolist(), float(b)

    def loop_tensors() -> float:
        total = torch.zeros(())
        for i in range(n):
            y_hat = X[i] @ w[:, 0] + b[0]
            total = total + (y_hat - y[i]) ** 2 / 2
        return float(total) / n

    def loop_floats() -> float:
        total = 0.0
        for row, target in zip(X_list, y_list, strict=True):
            y_hat = row[0] * w_list[0] + row[1] * w_list[1] + b_float
            total += (y_hat - target) ** 2 / 2
        return total / n

    def vectorized() -> float:
        return float(squared_loss(linreg(X, w, b), y).mean())

    reference = vectorized()
    for fn in (loop_tensors, loop_floats):
        value = fn()
        if abs(value - reference) > 1e-4 * max(1.0, abs(reference)):
            raise RuntimeError(f"{fn.__name__} gives {value}, vectorized gives {reference}")

    cases = [
        ("Python loop, one tensor op per sample", loop_tensors),
        ("Python loop over Python floats", loop_floats),
        ("vectorized: squared_loss(linreg(X, w, b), y)", vectorized),
    ]
    return n, cases


def measure(case: int, quick: bool) -> float:
    """The median time of one case, in this (fresh) process."""
    _, cases = _cases(quick)
    return best_time(cases[case][1], repeat=3 if quick else 5)


def run(quick: bool = False) -> str:
    n, cases = _cases(quick)
    runs = 0 if quick else MIN_RUNS  # quick: once, in this process
    times = [fresh_runs(__file__, "measure", i, quick, runs=runs) for i in range(len(cases))]
    slowest = times[0].median
    rows = [
        [name, f"{spread(t, 1e3)} ms", f"{n / t.median:,.0f}", f"{slowest / t.median:,.1f}×"]
        for (name, _), t in zip(cases, times, strict=True)
    ]
    headers = ["method", "time", "samples/s", "speed-up vs tensor loop"]
    title = (
        f"Vectorization: predictions + squared loss on {n:,} × 2 (float32, CPU); time: "
        f"median (min–max) of {runs or 1} fresh process(es)"
    )
    return format_table(headers, rows, title=title)


if __name__ == "__main__":
    print(run())
