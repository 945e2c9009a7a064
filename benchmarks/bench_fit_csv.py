"""Fitting a large CSV or Parquet file exactly from the command line, against the fastest
readers we know.

The file is the one ``bench_tabular_read.py`` generates (into ``benchmarks/data/``, or the
folder named by ``TORCHLINEAR_BENCH_DATA``): N rows x 20 float features + a float target
(about 1.7 GB of CSV at the full size of 10,000,000 rows; 20,000 rows with ``quick``),
and the same rows as Parquet (row groups of 1,000,000 rows). Each contender is a whole
command, timed from start to exit in fresh processes (median and min–max of three at
full size), with its peak resident memory:

* polars' streaming engine computing the 253 sums of the Gram matrix of ``[1, X, y]``
  (``scan_csv(...).select([(x_i * x_j).sum(), ...]).collect(engine="streaming")``): the
  statistics pass of an exact fit, done by the fastest reader on this kind of machine;
* ``pyarrow.csv.read_csv`` (``pyarrow.parquet.read_table``) of the whole file into memory
  (multithreaded): the plain read most tools start with;
* ``torchlinear fit FILE --target y --val-split 0 --out DIR --no-progress``: the exact
  least-squares fit with every output written (model, metrics, report, figures), start-up
  included;
* the same command on the file's first 1,000 rows: what the command costs whatever the
  file's size (importing PyTorch, SciPy, the readers and matplotlib, writing the
  run folder), so that the table shows how the fit's time and memory split between that
  fixed cost and the pass over the data;
* the same fit with ``--no-figures``: the run folder without the report's pictures, which
  spares the import of matplotlib and the drawing.

Targets: the fit takes at most 1.3× polars' Gram pass and stays under 600 MB.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from _common import MIN_RUNS, command_runs, fit_runs, format_table, spread
from bench_tabular_read import N_FEATURES, ensure_csv

TARGETS = {"peak_rss_mb": 600.0, "time_ratio": 1.3}

_POLARS_GRAM = """
import sys
import polars as pl
path = sys.argv[1]
frame = pl.scan_csv(path) if path.endswith(".csv") else pl.scan_parquet(path)
names = frame.collect_schema().names()
sums = [pl.len().alias("n")] + [pl.col(a).sum().alias(f"s_{a}") for a in names]
sums += [
    (pl.col(a) * pl.col(b)).sum().alias(f"{a}*{b}")
    for i, a in enumerate(names)
    for b in names[i:]
]
out = frame.select(sums).collect(engine="streaming")
assert out["n"][0] > 0
"""

_PYARROW_READ = """
import sys
path = sys.argv[1]
if path.endswith(".csv"):
    import pyarrow.csv as pacsv
    table = pacsv.read_csv(path)
else:
    import pyarrow.parquet as pq
    table = pq.read_table(path)
assert table.num_rows > 0
"""


def ensure_parquet(n_rows: int) -> Path:
    """The benchmark CSV's rows as Parquet (generated once, next to the CSV)."""
    import polars as pl

    csv = ensure_csv(n_rows)
    path = csv.with_suffix(".parquet")
    if not path.exists():
        tmp = path.with_name(f".{path.name}.tmp")
        pl.scan_csv(csv).sink_parquet(tmp, row_group_size=1_000_000)
        os.replace(tmp, path)
    return path


def head_file(path: Path, rows: int) -> Path:
    """The first ``rows`` rows of the benchmark file, in the same format (made once)."""
    import polars as pl

    small = path.with_name(f"{path.stem}.head{rows}{path.suffix}")
    if not small.exists():
        frame = (pl.scan_csv(path) if path.suffix == ".csv" else pl.scan_parquet(path)).head(rows)
        tmp = small.with_name(f".{small.name}.tmp")
        if path.suffix == ".csv":
            frame.collect().write_csv(tmp)
        else:
            frame.collect().write_parquet(tmp)
        os.replace(tmp, small)
    return small


def _fit_command(path: Path) -> list[str]:
    fit = [sys.executable, "-m", "torchlinear", "fit", str(path), "--target", "y"]
    return [*fit, "--val-split", "0", "--no-progress"]


def _table(path: Path, n_rows: int, runs: int) -> str:
    python = sys.executable
    with tempfile.TemporaryDirectory() as out:
        fit, fixed = _fit_command(path), _fit_command(head_file(path, 1_000))
        bare = [*fit, "--no-figures"]
        reader = "pyarrow.csv.read_csv" if path.suffix == ".csv" else "pyarrow.parquet.read_table"
        cases = [
            ("polars streaming Gram pass (253 sums)", [python, "-c", _POLARS_GRAM, str(path)]),
            (f"{reader} (whole table in memory)", [python, "-c", _PYARROW_READ, str(path)]),
            ("torchlinear fit --val-split 0 (exact, all outputs)", fit),
            ("the same fit of the first 1,000 rows (fixed cost)", fixed),
            ("the same fit, --no-figures (no matplotlib, no drawing)", bare),
        ]
        results = {}
        for i, (name, argv) in enumerate(cases):
            if argv in (fit, fixed, bare):  # each run writes a fresh run folder
                # a smoke run (one run) fits in this process: runs=0
                results[name] = fit_runs(argv, Path(out) / str(i), runs if runs > 1 else 0)
            else:
                results[name] = command_runs(argv, runs=runs)
    reference = results[cases[0][0]]
    rows = [
        [
            name,
            spread(r),
            f"{r.median / reference.median:.2f}",
            f"{n_rows / r.median:,.0f}",
            f"{r.peak_rss_mb:,.0f}",
        ]
        for name, r in results.items()
    ]
    size_mb = path.stat().st_size / 2**20
    kind = "CSV" if path.suffix == ".csv" else "Parquet"
    table = format_table(
        [
            "command",
            "wall time (s), median (min–max)",
            "× polars Gram",
            "rows/s",
            "peak RSS (MB, max)",
        ],
        rows,
        title=(
            f"Exact fit of a {kind} file, {n_rows:,} × {N_FEATURES + 1} float64 "
            f"({size_mb:,.0f} MB), {runs} fresh process(es) each"
        ),
    )
    fitted, base, bare_run = (results[cases[i][0]] for i in (2, 3, 4))
    ratio = fitted.median / reference.median
    rss = fitted.peak_rss_mb
    verdict = (
        f"Targets: fit ≤ {TARGETS['time_ratio']:g}× polars' Gram pass "
        f"({'met' if ratio <= TARGETS['time_ratio'] else 'missed'}: {ratio:.2f}× in medians), "
        f"peak RSS ≤ {TARGETS['peak_rss_mb']:.0f} MB "
        f"({'met' if rss <= TARGETS['peak_rss_mb'] else 'missed'}: {rss:,.0f} MB). "
        f"Of the fit, {base.median:.2f} s and {base.peak_rss_mb:,.0f} MB are the command's "
        f"fixed cost; the rest, {fitted.median - base.median:.2f} s and "
        f"{rss - base.peak_rss_mb:,.0f} MB, is the pass over the data "
        f"({(fitted.median - base.median) / reference.median:.2f}× polars' whole command). "
        f"Without the report's figures the fit takes {bare_run.median:.2f} s "
        f"({bare_run.median / reference.median:.2f}×)."
    )
    return f"{table}\n\n{verdict}\n"


def run(quick: bool = False) -> str:
    n_rows = 20_000 if quick else 10_000_000
    runs = 1 if quick else MIN_RUNS
    paths = [ensure_csv(n_rows)]
    if not quick:  # the smoke run covers the code once; Parquet runs the same table
        paths.append(ensure_parquet(n_rows))
    return "\n".join(_table(path, n_rows, runs) for path in paths)


if __name__ == "__main__":  # pragma: no cover
    print(run(quick="--quick" in sys.argv))
