r"""Cross-validated elastic net on 1,000,000 × 64: torchlinear against scikit-learn.

Both fit ``ElasticNetCV(l1_ratio=[.2, .5, .9], cv=5)`` — 3 l1 ratios × 100 alphas × 5
contiguous folds, then a refit on all rows — with scikit-learn's defaults otherwise
(``cv=KFold(5)`` for scikit-learn, the same folds). scikit-learn fits every fold from its
rows (with a Gram matrix per fold and l1 ratio); torchlinear reads the data once into one
set of float64 statistics per fold and solves all 1,800 path points in 64 × 64 space.

Each contender runs in at least three fresh processes (the data are generated, untimed, in
each; ``--quick``: once, in this process); the table gives the median and the min–max of
the ``fit`` wall times. Agreement is
checked against scikit-learn's *converged* answer: ``alpha_``/``l1_ratio_`` must equal
scikit-learn's ``ElasticNetCV``'s, and the coefficients must match an ``ElasticNet`` refit
at that alpha with ``tol=1e-12`` to 1e-6 (relative to the largest coefficient).
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import warnings

import numpy as np

from _common import format_table, run_isolated

L1_RATIOS = [0.2, 0.5, 0.9]

_CHILD = """
import json, time, warnings
import numpy as np
n, d, who = {n}, {d}, {who!r}
rng = np.random.default_rng(0)
X = rng.standard_normal((n, d)) + 0.3 * rng.standard_normal((n, 1)) + rng.uniform(-5, 5, d)
beta = np.where(rng.random(d) < 0.3, rng.normal(size=d), 0.0)
y = X @ beta + 2.0 + 3.0 * rng.standard_normal(n)
if who == "torchlinear":
    from torchlinear import ElasticNetCV
    cv = 5
else:
    from sklearn.linear_model import ElasticNetCV
    from sklearn.model_selection import KFold
    cv = KFold(5)
model = ElasticNetCV(l1_ratio={ratios}, cv=cv)
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model.fit(X, y)
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "alpha": float(model.alpha_),
                  "l1_ratio": float(model.l1_ratio_), "coef": model.coef_.tolist(),
                  "intercept": float(model.intercept_)}}))
"""


def _data(n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)) + 0.3 * rng.standard_normal((n, 1)) + rng.uniform(-5, 5, d)
    beta = np.where(rng.random(d) < 0.3, rng.normal(size=d), 0.0)
    return X, X @ beta + 2.0 + 3.0 * rng.standard_normal(n)


def _run_here(code: str) -> dict:
    """Run a child snippet in this process (quick mode: no interpreter start-up)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<bench_elasticnet child>", "exec"), {})  # noqa: S102
    return json.loads(out.getvalue().strip().splitlines()[-1])


def run(quick: bool = False, repeats: int | None = None) -> str:
    n, d = (5_000, 8) if quick else (1_000_000, 64)
    repeats = repeats or (1 if quick else 3)
    results = {}
    for who in ("torchlinear", "scikit-learn"):
        code = _CHILD.format(n=n, d=d, who=who, ratios=L1_RATIOS)
        runner = _run_here if quick else run_isolated
        results[who] = [runner(code) for _ in range(repeats)]

    # scikit-learn's converged answer at the chosen alpha (Gram precomputed: one solve)
    from sklearn.linear_model import ElasticNet

    sk = results["scikit-learn"][0]
    X, y = _data(n, d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ElasticNet(
            alpha=sk["alpha"],
            l1_ratio=sk["l1_ratio"],
            tol=1e-12,
            max_iter=100_000,
            precompute=True,
        ).fit(X, y)
    del X, y
    scale = float(np.max(np.abs(ref.coef_)))

    rows = []
    med = {who: statistics.median(r["seconds"] for r in runs) for who, runs in results.items()}
    for who, runs in results.items():
        times = [r["seconds"] for r in runs]
        last = runs[-1]
        err = float(np.max(np.abs(np.asarray(last["coef"]) - ref.coef_))) / scale
        zeros = bool(np.array_equal(np.asarray(last["coef"]) == 0, ref.coef_ == 0))
        rows.append(
            [
                who,
                med[who],
                f"{min(times):.3g}–{max(times):.3g}",
                len(times),
                med["scikit-learn"] / med[who],
                f"{last['alpha']:.6g}",
                last["l1_ratio"],
                "yes"
                if last["alpha"] == sk["alpha"] or abs(last["alpha"] / sk["alpha"] - 1) < 1e-9
                else "NO",
                f"{err:.1e}",
                "yes" if zeros else "NO",
            ]
        )
    headers = [
        "contender",
        "median s",
        "min–max s",
        "runs",
        "× scikit-learn",
        "alpha_",
        "l1_ratio_",
        "same alpha_",
        "coef rel. err vs converged",
        "same zeros",
    ]
    title = f"ElasticNetCV(l1_ratio={L1_RATIOS}, cv=5) on {n:,} × {d}"
    return format_table(headers, rows, title=title)


if __name__ == "__main__":
    import sys

    print(run(quick="--quick" in sys.argv))
