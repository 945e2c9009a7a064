"""Fitting a large CSV exactly, as ``torchlinear fit`` does, against pyarrow's plain read.

The file is the one ``bench_tabular_read.py`` generates into ``benchmarks/data/``
(git-ignored): N rows x 20 float features + a float target (about 1.8 GB at the full size
of 10,000,000 rows; 200,000 rows with ``quick``). Then, each in a fresh process that
reports its own wall time and peak resident memory:

* ``pyarrow.csv.read_csv`` of the whole file into one Arrow table: the speed reference
  (multithreaded, but the whole table in memory);
* ``torchlinear.workflow.fit(path, target="y", out=...)``: exactly what
  ``torchlinear fit FILE --target y --out DIR --no-progress`` runs. One streaming pass
  over the file (20% of the rows held out by the row-hash validation rule), the exact
  least-squares solve, the metrics, and the written model, ``metrics.json``,
  ``report.md`` and figures. Its time is reported twice: the fit (reading included) and
  the whole command (with writing the outputs).

Wall time excludes interpreter start-up and imports (importing torchlinear also imports
torch, about 190 MB of the streaming process's peak memory). At full size each case runs
twice and the faster run is reported, with the larger peak memory of the two.
"""

from __future__ import annotations

import tempfile

import numpy as np

from _common import best_isolated, format_table
from bench_tabular_read import N_FEATURES, ensure_csv, true_weights

TARGETS = {"peak_rss_mb": 600.0, "time_ratio": 2.0}

_PLAIN = """
import json, resource, time
import pyarrow.csv as pacsv
start = time.perf_counter()
table = pacsv.read_csv({path!r})
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "fit_seconds": seconds, "rows": table.num_rows,
                   "rss": rss}}))
"""

_FIT = """
import json, resource, time, warnings
from torchlinear.workflow import fit
start = time.perf_counter()
result = fit({path!r}, "y", out={out!r}, progress=False)
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "fit_seconds": result.seconds, "rows": result.n_rows,
                   "rss": rss, "solver": result.solver, "w": result.estimator.coef_.tolist(),
                   "val_r2": result.metrics["validation"]["r2"]}}))
"""


def run(quick: bool = False) -> str:
    n_rows = 200_000 if quick else 10_000_000
    repeats = 1 if quick else 2
    path = ensure_csv(n_rows)
    size_mb = path.stat().st_size / 2**20
    with tempfile.TemporaryDirectory() as out:
        plain = best_isolated(_PLAIN.format(path=str(path)), repeats)
        fitted = best_isolated(_FIT.format(path=str(path), out=out), repeats)
    reference = plain["seconds"]
    for name, result in (("read", plain), ("fit", fitted)):
        if result["rows"] != n_rows:
            raise RuntimeError(f"{name} used {result['rows']} rows, expected {n_rows}")
    rows = [
        [
            "pyarrow.csv.read_csv (whole table)",
            plain["seconds"],
            "–",
            1.0,
            f"{n_rows / plain['seconds']:,.0f}",
            plain["rss"],
        ],
        [
            f"torchlinear fit (exact, {fitted['solver']}, one pass)",
            fitted["fit_seconds"],
            fitted["seconds"],
            fitted["fit_seconds"] / reference,
            f"{n_rows / fitted['fit_seconds']:,.0f}",
            fitted["rss"],
        ],
    ]
    table = format_table(
        [
            "case",
            "fit / read (s)",
            "with outputs (s)",
            "× plain read",
            "rows/s",
            "peak RSS (MB)",
        ],
        rows,
        title=f"Exact fit of a CSV, {n_rows:,} × {N_FEATURES + 1} float64 ({size_mb:,.0f} MB)",
    )
    error = float(np.max(np.abs(np.asarray(fitted["w"]) - true_weights())))
    ratio = fitted["fit_seconds"] / reference
    whole = fitted["seconds"] / reference
    verdict = (
        f"Targets: peak RSS ≤ {TARGETS['peak_rss_mb']:.0f} MB "
        f"({'met' if fitted['rss'] <= TARGETS['peak_rss_mb'] else 'missed'}: "
        f"{fitted['rss']:.0f} MB); fit time ≤ {TARGETS['time_ratio']:g}× the plain read "
        f"({'met' if ratio <= TARGETS['time_ratio'] else 'missed'}: {ratio:.2f}×; "
        f"{whole:.2f}× with the model, metrics, report and figures written). "
        f"The fitted coefficients differ from the generating ones by at most {error:.2g}; "
        f"validation R² {fitted['val_r2']:.6f}."
    )
    return f"{table}\n\n{verdict}\n"


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(run(quick="--quick" in sys.argv))
