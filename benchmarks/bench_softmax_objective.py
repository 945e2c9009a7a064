"""Softmax regression in float64: time to scikit-learn's optimum, on 60,000 × 784.

The problem is bench_softmax's synthetic Fashion-MNIST stand-in (60,000 images of 784
pixels in ``[0, 1]``, 10 classes) in float64, with the L2 penalty ``alpha = 1e-5`` on the
mean loss, i.e. ``LogisticRegression(C = 1 / (alpha · n))``: both contenders minimise the
same objective. Its minimum :math:`F^*` is taken as the smallest objective reached by a
tightly converged fit of either (tol 1e-10), computed by the same NumPy formula.

Contenders, each timed (``fit`` only) in at least three fresh processes:

1. **torchlinear** ``SoftmaxRegression(alpha)`` with its defaults (L-BFGS in float64 on
   internally standardized features).
2. **scikit-learn** ``LogisticRegression(C)`` (lbfgs) with ``tol`` = 1e-4 (its default),
   1e-6 and 1e-8; the first ``tol`` whose objective is within 1e-6 (relative) of
   :math:`F^*` is its time to the objective.

The table gives the median and range of the fit time and the objective's relative gap to
:math:`F^*`. ``--quick`` uses 1,000 × 64 (8 × 8 images), tol 1e-4 and 1e-6 for scikit-learn, one fit
each in this process.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from _common import format_table, run_isolated

ALPHA = 1e-5
TARGET = 1e-6
HERE = Path(__file__).resolve().parent
OURS = "torchlinear SoftmaxRegression (defaults)"


def measure(n: int, side: int, contender: str, tol: float | None = None) -> dict:
    """Fit one contender (``"ours"`` or ``"sklearn"``) with ``tol``; return its fit time,
    objective and iterations."""
    from bench_softmax import stand_in

    X_t, y_t, _, _ = stand_in(n, 1, side=side)
    X, y = X_t.double().numpy(), y_t.numpy()
    if contender == "ours":
        from torchlinear import SoftmaxRegression

        settings = {} if tol is None else {"tol": tol}  # None: the defaults
        model = SoftmaxRegression(alpha=ALPHA, device="cpu", **settings)
    else:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1 / (ALPHA * n), tol=tol, max_iter=10_000)
    # quick runs are smoke runs on a small problem: one thread (idle threads spin)
    limits = threadpool_limits(limits=1) if n < 10_000 else contextlib.nullcontext()
    with warnings.catch_warnings(), limits:
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    O = X @ model.coef_.T + model.intercept_
    O -= O.max(axis=1, keepdims=True)
    log_p = O - np.log(np.exp(O).sum(axis=1, keepdims=True))
    objective = -log_p[np.arange(n), y].mean() + 0.5 * ALPHA * float((model.coef_**2).sum())
    return {"seconds": seconds, "objective": float(objective), "n_iter": int(np.max(model.n_iter_))}


_CHILD = """
import json, sys
sys.path.insert(0, {here!r})
from bench_softmax_objective import measure
report = measure({n}, {side}, {contender!r}, {tol!r})
report["rss"] = 0.0
print(json.dumps(report))
"""


def run(quick: bool = False) -> str:
    n, side = (1_000, 8) if quick else (60_000, 28)
    repeats = 1 if quick else 3

    def fit(contender: str, tol: float | None) -> dict:
        if quick:
            return measure(n, side, contender, tol)
        code = _CHILD.format(here=str(HERE), n=n, side=side, contender=contender, tol=tol)
        return run_isolated(code)

    optimum = min(fit("ours", 1e-10)["objective"], fit("sklearn", 1e-10)["objective"])
    contenders = [(OURS, "ours", None)]
    tols = (1e-4, 1e-6) if quick else (1e-4, 1e-6, 1e-8)
    contenders += [(f"scikit-learn LogisticRegression(tol={t:g})", "sklearn", t)
                   for t in tols]  # fmt: skip
    rows, medians = [], {}
    for name, who, tol in contenders:
        runs = [fit(who, tol) for _ in range(repeats)]
        seconds = [r["seconds"] for r in runs]
        gap = max(r["objective"] for r in runs) / optimum - 1
        medians[name] = (statistics.median(seconds), gap)
        rows.append([name, statistics.median(seconds), f"{min(seconds):.3g}–{max(seconds):.3g}",
                     f"{gap:.1e}", "yes" if gap <= TARGET else "no",
                     json.dumps([r["n_iter"] for r in runs])])  # fmt: skip
    reached = [v[0] for k, v in medians.items() if k != OURS and v[1] <= TARGET]
    ours_time, ours_gap = medians[OURS]
    sklearn_time = min(reached) if reached else float("nan")
    headers = ["contender", "median time (s)", "range (s)", "gap to F*",
               f"within {TARGET:g}", "iterations"]  # fmt: skip
    where = "in-process (quick)" if quick else f"{repeats} fresh processes each"
    title = (
        f"Softmax regression, float64, time to the optimum — synthetic stand-in {n:,} × "
        f"{side * side}, 10 classes, alpha = {ALPHA:g}, {where}"
    )
    ratio = sklearn_time / ours_time if ours_gap <= TARGET else float("nan")
    note = (
        f"\nscikit-learn's time to the objective (its fastest tol within {TARGET:g} of F*): "
        f"{sklearn_time:.3g} s; torchlinear's default fit: {ours_time:.3g} s "
        f"(gap {ours_gap:.1e}) — {ratio:.2f}× scikit-learn's speed."
    )
    return format_table(headers, rows, title) + "\n" + note
