"""Correct digits of the exact least-squares fit through every entry point.

The same ill-conditioned, rank-deficient, weighted and ridge problems go through
``LinearRegression().fit``, ``partial_fit`` in chunks of 7 rows, the command line
(``torchlinear fit FILE --val-split 0``, through its entry point in this process) on CSV
and on Parquet, and the same command under ``torchrun --nproc-per-node 2`` (CSV). Each
cell is the number of correct significant digits of the worst coefficient (intercept
included), against the solution of the least-squares problem computed with 60 significant
digits (mpmath's SVD) from the very numbers the files hold; a rank-deficient problem (rank
judged at float64 precision, as ``numpy.linalg.lstsq`` does, on the design with columns
scaled to unit norm, so that units do not decide it) is compared with its minimum-norm
solution.
The last column is the largest relative difference of any entry point from the API.

The problems are those of the entry-point tests (``tests/exact/test_entry_points.py``):
``poly5``, a degree-5 polynomial in x = 0..20 with every coefficient 1
(exact integers; condition number about 1e7 after centring); ``poly10``, a degree-10
polynomial over the range of x of NIST's Filip problem; Longley's macroeconomic
data (condition number about 1e8); two nearly collinear columns (1e-6 apart);
a rank-deficient design (x3 = x1 + x2); columns of scales 1e-4 to 1e4 (``scales``, one
coefficient weakly determined next to the others), also weighted ridge (``ridge_scales``);
a feature with mean 1e6 (``offset``: the intercept far from the data); ridge (alpha =
2.5); and integer frequency weights (a column ``w`` of the files: ``--weight w``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from _common import format_table

N_RANKS = 2


def problems() -> dict[str, dict]:
    """The problems of the entry-point test suite (``tests/exact/test_entry_points.py``),
    as float64 arrays: rows ``X``, target ``y``, weights ``w`` (or None) and ``alpha``."""
    path = Path(__file__).resolve().parents[1] / "tests" / "exact" / "test_entry_points.py"
    spec = importlib.util.spec_from_file_location("entry_point_problems", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PROBLEMS


def reference(p: dict) -> np.ndarray:
    """``[intercept, coef]`` of the (ridge, weighted) least-squares problem to 60 digits:
    the minimum-norm solution for the centred, weighted design (the intercept is not
    penalized), from mpmath's SVD; singular values below float64's resolution (of the
    design with unit-norm columns) count as zero."""
    import mpmath

    mpmath.mp.dps = 60
    X = [[mpmath.mpf(float(v)) for v in row] for row in p["X"]]
    y = [mpmath.mpf(float(v)) for v in p["y"]]
    n, d = len(X), len(X[0])
    w = [mpmath.mpf(1)] * n if p.get("w") is None else [mpmath.mpf(float(v)) for v in p["w"]]
    W = sum(w)
    mx = [sum(w[i] * X[i][j] for i in range(n)) / W for j in range(d)]
    my = sum(w[i] * y[i] for i in range(n)) / W
    rows = [[mpmath.sqrt(w[i]) * (X[i][j] - mx[j]) for j in range(d)] for i in range(n)]
    rhs = [mpmath.sqrt(w[i]) * (y[i] - my) for i in range(n)]
    alpha = p.get("alpha", 0.0)
    if alpha:  # ridge as extra rows sqrt(alpha) * I, target 0
        rows += [
            [mpmath.sqrt(alpha) if j == k else mpmath.mpf(0) for j in range(d)] for k in range(d)
        ]
        rhs += [mpmath.mpf(0)] * d
    # the numerical rank, as lstsq judges it, of the design with columns of unit norm: the
    # rank does not depend on the columns' units (x^10 next to x), as the solvers' does not
    norms = [mpmath.sqrt(sum(row[j] ** 2 for row in rows)) or mpmath.mpf(1) for j in range(d)]
    scaled = mpmath.matrix([[row[j] / norms[j] for j in range(d)] for row in rows])
    S_eq = mpmath.svd_r(scaled, compute_uv=False)
    rank = sum(1 for v in S_eq if v > max(S_eq) * np.finfo(np.float64).eps * max(len(rows), d))
    U, S, V = mpmath.svd_r(mpmath.matrix(rows), full_matrices=False)
    b = mpmath.matrix(rhs)
    coef = mpmath.matrix(d, 1)
    for k in sorted(range(len(S)), key=lambda k: -S[k])[:rank]:  # the largest ones
        if S[k] > 0:
            u = sum(U[i, k] * b[i] for i in range(len(rhs))) / S[k]
            for j in range(d):
                coef[j] += V[k, j] * u
    intercept = my - sum(mx[j] * coef[j] for j in range(d))
    return np.array([float(intercept)] + [float(coef[j]) for j in range(d)])


def digits(got: np.ndarray, want: np.ndarray) -> float:
    """Correct significant digits of the worst entry (relative to the largest entry for
    entries that are zero in the reference)."""
    scale = np.maximum(np.abs(want), np.abs(want).max() * 1e-3)
    err = float(np.max(np.abs(got - want) / scale))
    return 17.0 if err == 0 else min(17.0, -math.log10(err))


def _files(folder: Path, name: str, p: dict) -> dict[str, Path]:
    import pandas as pd

    frame = pd.DataFrame(p["X"], columns=[f"x{j}" for j in range(p["X"].shape[1])])
    frame["y"] = p["y"]
    if p.get("w") is not None:
        frame["w"] = p["w"]
    csv, parquet = folder / f"{name}.csv", folder / f"{name}.parquet"
    frame.to_csv(csv, index=False, float_format="%.17g")
    frame.to_parquet(parquet, row_group_size=7)
    return {"CLI, CSV": csv, "CLI, Parquet": parquet}


def _command(
    path: Path, out: Path, alpha: float, ranks: int = 1, weighted: bool = False
) -> np.ndarray:
    """``torchlinear fit`` on ``path`` (in this process through the command's own entry
    point, or as a ``torchrun`` job of ``ranks`` processes); the fitted coefficients."""
    from torchlinear import cli
    from torchlinear.estimators.persist import load_estimator

    fit = ["fit", str(path), "--target", "y", "--val-split", "0", "--out", str(out)]
    fit.append("--no-progress")
    if weighted:
        fit += ["--weight", "w"]
    if alpha:  # ElasticNet's alpha (per unit of weight), with no L1 part
        fit += ["--alpha", repr(alpha), "--l1-ratio", "0"]
    if ranks == 1:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            code = cli.main(fit)
        if code != 0:
            raise RuntimeError(f"torchlinear {' '.join(fit)} failed:\n{printed.getvalue()}")
    else:
        argv = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        argv += [f"--nproc-per-node={ranks}", "-m", "torchlinear", *fit]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{proc.stdout[-2000:]}{proc.stderr}")
    model = load_estimator(out)
    return np.r_[np.ravel(model.intercept_), np.ravel(model.coef_)]


def entry_points(
    name: str, p: dict, folder: Path, torchrun: bool, parquet: bool = True
) -> dict[str, np.ndarray]:
    """The solution of one problem through every entry point that takes it (the command
    line on Parquet and under torchrun when asked)."""
    from torchlinear import LinearRegression

    alpha, w = p.get("alpha", 0.0), p.get("w")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = LinearRegression(alpha=alpha).fit(p["X"], p["y"], sample_weight=w)
        chunks = LinearRegression(alpha=alpha)
        for s in range(0, len(p["y"]), 7):
            part = None if w is None else w[s : s + 7]
            chunks.partial_fit(p["X"][s : s + 7], p["y"][s : s + 7], sample_weight=part)
    got = {
        "API fit": np.r_[api.intercept_, api.coef_],
        "partial_fit (7 rows)": np.r_[chunks.intercept_, chunks.coef_],
    }
    # the command line's alpha is ElasticNet's, per unit of weight: Ridge's over the total
    per_row = alpha / (len(p["y"]) if w is None else float(np.sum(w)))
    weighted = w is not None
    for label, path in _files(folder, name, p).items():
        if path.suffix == ".parquet" and not parquet:
            continue
        out = folder / f"{name}-{path.suffix[1:]}"
        got[label] = _command(path, out, per_row, weighted=weighted)
    if torchrun:
        path, out = folder / f"{name}.csv", folder / f"{name}-ranks"
        got[f"torchrun ×{N_RANKS}, CSV"] = _command(path, out, per_row, N_RANKS, weighted)
    return got


def run(quick: bool = False) -> str:
    chosen = problems()
    if quick:  # a smoke run: one problem, the command line on CSV only
        chosen = {"poly5": chosen["poly5"]}
    columns = ["API fit", "partial_fit (7 rows)", "CLI, CSV"]
    if not quick:
        columns += ["CLI, Parquet", f"torchrun ×{N_RANKS}, CSV"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, p in chosen.items():
            want = reference(p)
            got = entry_points(name, p, Path(tmp), torchrun=not quick, parquet=not quick)
            api = got["API fit"]
            spread = max(
                float(np.max(np.abs(v - api) / np.maximum(np.abs(api), 1e-300)))
                for v in got.values()
            )
            cells = [f"{digits(got[c], want):.1f}" if c in got else "–" for c in columns]
            rows.append([name, *cells, f"{spread:.1e}"])
    return format_table(
        ["problem", *columns, "max rel. diff. from API"],
        rows,
        title="Correct significant digits of the worst coefficient, by entry point",
    )


if __name__ == "__main__":  # pragma: no cover
    print(run(quick="--quick" in sys.argv))
