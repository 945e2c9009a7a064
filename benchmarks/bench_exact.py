"""Exact least squares: torchlinear's streaming solver against scikit-learn, NumPy, statsmodels.

Data: ``n x 64`` standard-normal float64 features (1,000,000 rows; 20,000 with
``quick``) and ``y = X b + 1 + noise``, fitted with an intercept. Every contender runs in
three fresh processes (so peak memory is its own): the data are generated there, then the
fit is timed (best of a few fits per process); the table gives the median and min–max over
the processes (``--quick``: once, in this process). "peak / input" is the child's peak
resident memory minus its memory before the data existed, divided by the size of ``X`` and
``y`` — 1.0 means no memory beyond the data.

* torchlinear ``LinearRegression()``: one Gram pass (float64 ``syrk`` per ~2 MiB chunk,
  one block of rows per core), Cholesky of the centred, scaled Gram matrix.
* torchlinear ``LinearRegression(solver="qr")``: one TSQR pass (Householder QR of each
  chunk, folded into the running triangle by LAPACK ``tpqrt``; one block per core).
* The same on an ill-conditioned design (two columns equal up to ``1e-7`` noise, so
  ``kappa(X_s) ~ 2e7``): the probe of the first chunk sends it to the TSQR path. Its
  coefficients are compared with ``numpy.linalg.lstsq`` on the same data, because
  scikit-learn (1.9: ``tol=1e-6`` becomes ``lstsq``'s ``cond``) drops singular values
  below ``1e-6`` of the largest and silently returns a different, truncated answer —
  shown in the last row.
* scikit-learn ``LinearRegression()`` (centring copy, then LAPACK ``gelsd``).
* ``numpy.linalg.lstsq`` on ``[1, X]`` (the ones column appended by the user, as usual).
* statsmodels ``OLS(y, add_constant(X)).fit()`` (pseudo-inverse).

The Gram pass is also timed on its own, in this process, against matmul throughput
measured in the same run: torch ``C.T @ C`` on one chunk (the Gram pass's shape; torch
computes the full product), NumPy's ``C.T @ C`` (BLAS ``syrk``, half the arithmetic) and a
2048 x 2048 torch matmul (the machine's peak). Rates count ``2 n d^2`` flops for a Gram
matrix ("gemm-equivalent"), so a ``syrk`` can exceed the ``C.T @ C`` matmul rate.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch

from _common import MIN_RUNS, Runs, best_time, code_runs, format_table, spread

D = 64

_DATA = """
import json, resource, time
import numpy as np
import torch

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20

def make(n, d, ill):
    rng = np.random.default_rng(0)
    X = np.empty((n, d))
    rng.standard_normal(out=X)
    if ill:
        X[:, 1] = X[:, 0] + 1e-7 * rng.standard_normal(n)
    beta = np.linspace(-1.0, 1.0, d)
    y = X @ beta
    y += 1.0
    y += rng.standard_normal(n)
    return X, y
"""

_CHILD = (
    _DATA
    + """
n, d, ill, name, repeat = {n}, {d}, {ill}, {name!r}, {repeat}
import warnings
warnings.simplefilter("ignore")
if name == "torchlinear":
    from torchlinear import LinearRegression
    def fit(X, y):
        m = LinearRegression().fit(X, y)
        return m.coef_, m.intercept_, m.solver_
elif name == "torchlinear_qr":
    from torchlinear import LinearRegression
    def fit(X, y):
        m = LinearRegression(solver="qr").fit(X, y)
        return m.coef_, m.intercept_, m.solver_
elif name == "sklearn":
    from sklearn.linear_model import LinearRegression
    def fit(X, y):
        m = LinearRegression().fit(X, y)
        return m.coef_, m.intercept_, "gelsd"
elif name == "numpy":
    def fit(X, y):
        A = np.empty((X.shape[0], X.shape[1] + 1))
        A[:, 0] = 1.0
        A[:, 1:] = X
        theta = np.linalg.lstsq(A, y, rcond=None)[0]
        return theta[1:], theta[0], "gelsd"
elif name == "statsmodels":
    import statsmodels.api as sm
    def fit(X, y):
        r = sm.OLS(y, sm.add_constant(X, prepend=True)).fit()
        return r.params[1:], r.params[0], "pinv"
base = rss_mb()
X, y = make(n, d, ill)
data_mb = (X.nbytes + y.nbytes) / 2**20
times = []
for _ in range(repeat):
    start = time.perf_counter()
    coef, intercept, solver = fit(X, y)
    times.append(time.perf_counter() - start)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{
    "time": min(times), "coef": list(map(float, coef)), "intercept": float(intercept),
    "solver": solver, "base_mb": base, "data_mb": data_mb, "peak_mb": peak,
}}))
"""
)


def _child(name: str, n: int, ill: bool, repeat: int, runs: int) -> Runs:
    """The contender in ``runs`` fresh processes (``0``: once, in this process)."""
    runs_ = code_runs(_CHILD.format(n=n, d=D, ill=ill, name=name, repeat=repeat), runs=runs)
    runs_.seconds = runs_.of("time")
    return runs_


def _rel(coef: list[float], ref: list[float]) -> float:
    a, b = np.asarray(coef), np.asarray(ref)
    return float(np.abs(a - b).max() / np.abs(b).max())


def _gram_rates(n: int, rounds: int) -> dict[str, float]:
    """Gram pass and matmul rates in this process (GFLOP/s, gemm-equivalent).

    The kernels are timed in interleaved rounds and each keeps its best round, so a busy
    moment on a shared machine does not favour one of them.
    """
    from torchlinear.exact import gram_chunk_rows, gram_pass, tsqr_pass

    rng = np.random.default_rng(0)
    X = np.empty((n, D))
    rng.standard_normal(out=X)
    y = X[:, 0].copy()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    rows = gram_chunk_rows(D + 2)
    chunk, chunk_np = Xt[:rows], X[:rows]
    square = torch.randn(2048, 2048, dtype=torch.float64)
    flops = {"gram": 2 * n * D * D, "torch_chunk": 2 * rows * D * D}
    flops |= {"numpy_chunk": 2 * rows * D * D, "square": 2 * 2048**3}
    flops["tsqr"] = flops["gram"]  # (only its time is reported)
    kernels = {
        "gram": lambda: gram_pass(Xt, yt),
        "tsqr": lambda: tsqr_pass(Xt, yt),
        "torch_chunk": lambda: chunk.T @ chunk,
        "numpy_chunk": lambda: chunk_np.T @ chunk_np,
        "square": lambda: square @ square,
    }
    reps = {"gram": 1, "tsqr": 1, "torch_chunk": 20, "numpy_chunk": 20, "square": 1}
    best = {name: 0.0 for name in kernels}
    for fn in kernels.values():
        fn()  # warm up
    for _ in range(rounds):
        for name, fn in kernels.items():
            seconds = best_time(fn, repeat=reps[name], warmup=0)
            best[name] = max(best[name], flops[name] / seconds / 1e9)
    out = dict(best)
    out["gram_s"] = flops["gram"] / best["gram"] / 1e9
    out["tsqr_s"] = flops["tsqr"] / best["tsqr"] / 1e9
    out["rows"] = rows
    return out


def run(quick: bool = False) -> str:
    n = 20_000 if quick else 1_000_000
    repeat = 2 if quick else 3
    contenders = [
        ("torchlinear LinearRegression()", "torchlinear", False, repeat),
        ("scikit-learn LinearRegression()", "sklearn", False, repeat),
        ("numpy.linalg.lstsq([1, X], y)", "numpy", False, repeat),
        ("statsmodels OLS(...).fit()", "statsmodels", False, 1),
        ("torchlinear LinearRegression(solver='qr')", "torchlinear_qr", False, repeat),
        ("ill-conditioned X: torchlinear (auto → fallback)", "torchlinear", True, repeat),
        ("ill-conditioned X: numpy.linalg.lstsq", "numpy", True, 1),
        ("ill-conditioned X: scikit-learn", "sklearn", True, 1),
    ]
    runs = 0 if quick else MIN_RUNS
    results = {}
    for label, name, ill, reps in contenders:
        results[label] = _child(name, n, ill, reps, runs)
    fast_runs = results["torchlinear LinearRegression()"]
    sk_runs = results["scikit-learn LinearRegression()"]
    fast, sk = fast_runs.last, sk_runs.last
    np_ill = results["ill-conditioned X: numpy.linalg.lstsq"].last
    rows = []
    for label, _name, ill, _reps in contenders:
        runs_ = results[label]
        r = runs_.last
        ref, ref_name = (np_ill, "numpy") if ill else (sk, "sklearn")
        extra = max(x["peak_mb"] - x["base_mb"] for x in runs_.reports)
        rows.append(
            [
                label,
                r["solver"],
                spread(runs_),
                f"{sk_runs.median / runs_.median:.1f}×",
                f"{_rel(r['coef'], ref['coef']):.1e} ({ref_name})",
                f"{extra:,.0f}",
                f"{extra / r['data_mb']:.2f}",
            ]
        )
    headers = [
        "contender",
        "path",
        "fit time (s), median (min–max)",
        "speed-up vs sklearn (medians)",
        "max rel. coef diff (vs)",
        "peak MB (data + fit)",
        "peak / input",
    ]
    title = (
        f"Least squares on {n:,} × {D} float64 with intercept (input {fast['data_mb']:,.0f} "
        f"MB); each contender in {len(fast_runs.seconds)} fresh process(es), each the best of "
        "its fits"
    )
    table1 = format_table(headers, rows, title=title)

    rates = _gram_rates(n, rounds=1 if quick else 5)
    ill = results["ill-conditioned X: torchlinear (auto → fallback)"]
    rows2 = [
        ["Gram pass (gram_pass, all threads)", f"{rates['gram']:.1f}", "1.00"],
        [
            f"torch C.T @ C on one {rates['rows']:,}-row chunk (full gemm)",
            f"{rates['torch_chunk']:.1f}",
            f"{rates['gram'] / rates['torch_chunk']:.2f}",
        ],
        [
            "NumPy C.T @ C on the same chunk (syrk)",
            f"{rates['numpy_chunk']:.1f}",
            f"{rates['gram'] / rates['numpy_chunk']:.2f}",
        ],
        [
            "torch 2048 × 2048 matmul (the machine's dgemm rate)",
            f"{rates['square']:.1f}",
            f"{rates['gram'] / rates['square']:.2f}",
        ],
    ]
    table2 = format_table(
        ["kernel", "GFLOP/s (2nd² convention)", "Gram pass / this"],
        rows2,
        title="Gram pass throughput against matmul, same run (best of interleaved rounds)",
    )
    rows3 = [
        ["fast path: LinearRegression() fit", spread(fast_runs), "1.00"],
        ["Gram pass alone", f"{rates['gram_s']:.3f}", f"{rates['gram_s'] / fast_runs.median:.2f}"],
        ["TSQR pass alone", f"{rates['tsqr_s']:.3f}", f"{rates['tsqr_s'] / fast_runs.median:.2f}"],
        [
            f"ill-conditioned fit (path: {ill.last['solver']})",
            spread(ill),
            f"{ill.median / fast_runs.median:.2f}",
        ],
    ]
    table3 = format_table(
        ["step", "time (s)", "× fast path (medians)"],
        rows3,
        title="Fallback cost against the fast path (passes alone: best of rounds, this process)",
    )
    return "\n\n".join([table1, table2, table3])


if __name__ == "__main__":
    start = time.perf_counter()
    print(run(quick="--quick" in sys.argv))
    print(json.dumps({"took_s": round(time.perf_counter() - start, 1)}))
