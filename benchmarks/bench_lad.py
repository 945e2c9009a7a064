"""Least absolute deviations on 100,000 × 20: exact, and how fast.

Both contenders solve the same linear program to optimality — the median regression
:math:`\\min_{w,b} \\frac1n \\sum_i |y_i - x_i^\\top w - b| / 2` (``quantile=0.5, alpha=0``):

1. **scikit-learn** ``QuantileRegressor(quantile=0.5, alpha=0, solver="highs")``: the whole
   LP (one equality row per sample) handed to SciPy's HiGHS.
2. **torchlinear** ``QuantileRegressor(quantile=0.5, alpha=0)`` (solver ``"ipm"``): an
   interior-point method on the LP's normal equations (a 21 × 21 Cholesky factorisation per
   iteration), then HiGHS on the rows whose side of the optimal hyperplane is in doubt,
   with a check that proves the result is the LP optimum.

The data: Gaussian features, Student-t (2 degrees of freedom) noise, seeded. Each
contender is timed (``fit`` only) in at least three fresh processes; the table gives the
median and the range, the objective reached and its gap to the smaller of the two.
``--quick`` uses 1,000 × 5, one fit each in this process.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from _common import format_table, run_isolated

HERE = Path(__file__).resolve().parent
SKLEARN = "scikit-learn QuantileRegressor(solver='highs')"
OURS = "torchlinear QuantileRegressor (solver='ipm', exact)"


def measure(n: int, d: int, contender: str) -> dict:
    """Fit one contender on the seeded problem; return its fit time and objective."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + rng.standard_t(2, size=n) + 1.0
    if contender == SKLEARN:
        from sklearn.linear_model import QuantileRegressor

        model = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs")
    else:
        from torchlinear import QuantileRegressor

        model = QuantileRegressor(quantile=0.5, alpha=0.0)
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    r = y - X @ model.coef_ - model.intercept_
    return {"seconds": seconds, "objective": float(np.mean(np.maximum(0.5 * r, -0.5 * r)))}


_CHILD = """
import json, sys
sys.path.insert(0, {here!r})
from bench_lad import measure
report = measure({n}, {d}, {contender!r})
report["rss"] = 0.0
print(json.dumps(report))
"""


def run(quick: bool = False) -> str:
    n, d = (1_000, 5) if quick else (100_000, 20)
    repeats = 1 if quick else 3
    results = {}
    for name in (SKLEARN, OURS):
        if quick:  # in this process: a smoke run
            results[name] = [measure(n, d, name)]
        else:
            code = _CHILD.format(here=str(HERE), n=n, d=d, contender=name)
            results[name] = [run_isolated(code) for _ in range(repeats)]
    best = min(r["objective"] for runs in results.values() for r in runs)
    reference = statistics.median(r["seconds"] for r in results[SKLEARN])
    rows = []
    for name, runs in results.items():
        seconds = [r["seconds"] for r in runs]
        median = statistics.median(seconds)
        gap = max(r["objective"] for r in runs) / best - 1
        rows.append([
            name, median, f"{min(seconds):.3g}–{max(seconds):.3g}", runs[0]["objective"],
            f"{gap:.1e}", reference / median,
        ])  # fmt: skip
    headers = ["contender", "median time (s)", "range (s)", "objective", "gap to best",
               "× faster than scikit-learn"]  # fmt: skip
    where = "in-process (quick)" if quick else f"{repeats} fresh processes each"
    title = f"Least absolute deviations, exact LP optimum — {n:,} × {d}, {where}"
    return format_table(headers, rows, title)


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(run(quick="--quick" in sys.argv))
