"""Cross-validating the elastic-net path from the command line on a large CSV, against the
plain exact fit of the same file.

The file is the one ``bench_tabular_read.py`` generates (N rows x 20 float features + a
float target; about 1.7 GB of CSV at the full size of 10,000,000 rows; 20,000 rows with
``quick``). Both contenders are whole commands, timed from start to exit in fresh processes
(median and min–max of three at full size), with their peak resident memory:

* ``torchlinear fit FILE --target y --val-split 0``: the exact least-squares fit, one pass;
* ``torchlinear fit FILE --target y --l1-ratio 0.2,0.5,0.9 --alpha cv --cv 5``: 5-fold
  cross-validation of 3 x 100 path points, every fold's statistics from the same single
  parse of the file (contiguous folds need the row count first: a scan for line breaks,
  which reads the bytes without parsing them), then the path, the two figures and the
  path tables.

Targets: the CV fit takes at most 1.3x the plain fit's time, and its peak RSS is within
50 MB of it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from _common import MIN_RUNS, fit_runs, format_table, spread
from bench_tabular_read import N_FEATURES, ensure_csv

TARGETS = {"time_ratio": 1.3, "extra_rss_mb": 50.0}


def run(quick: bool = False) -> str:
    n_rows = 20_000 if quick else 10_000_000
    runs = 1 if quick else MIN_RUNS
    path = ensure_csv(n_rows)
    base = [sys.executable, "-m", "torchlinear", "fit", str(path), "--target", "y"]
    cases = {
        "torchlinear fit --val-split 0 (exact)": [*base, "--val-split", "0"],
        "torchlinear fit --l1-ratio 0.2,0.5,0.9 --alpha cv --cv 5": [
            *base,
            "--l1-ratio",
            "0.2,0.5,0.9",
            "--alpha",
            "cv",
            "--cv",
            "5",
        ],  # fmt: skip
    }
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, argv) in enumerate(cases.items()):
            folder = Path(tmp) / f"case{i}"  # the smoke run fits in this process (runs=0)
            results[name] = fit_runs([*argv, "--no-progress"], folder, 0 if quick else runs)
    plain, cv = results.values()
    rows = [
        [name, spread(r), f"{r.median / plain.median:.2f}", f"{r.peak_rss_mb:,.0f}"]
        for name, r in results.items()
    ]
    size_mb = os.path.getsize(path) / 2**20
    table = format_table(
        ["command", "wall time (s), median (min–max)", "× exact fit", "peak RSS (MB, max)"],
        rows,
        title=(
            f"Cross-validated elastic net from a CSV file, {n_rows:,} × {N_FEATURES + 1} "
            f"float64 ({size_mb:,.0f} MB), {runs} fresh process(es) each"
        ),
    )
    ratio = cv.median / plain.median
    extra = cv.peak_rss_mb - plain.peak_rss_mb
    verdict = (
        f"Targets: CV fit ≤ {TARGETS['time_ratio']:g}× the exact fit "
        f"({'met' if ratio <= TARGETS['time_ratio'] else 'missed'}: {ratio:.2f}× in medians), "
        f"peak RSS within {TARGETS['extra_rss_mb']:.0f} MB of it "
        f"({'met' if extra <= TARGETS['extra_rss_mb'] else 'missed'}: {extra:+,.0f} MB)."
    )
    return f"{table}\n\n{verdict}\n"


if __name__ == "__main__":  # pragma: no cover
    print(run(quick="--quick" in sys.argv))
