"""Reading a large CSV: the streaming ``TabularSource`` against pyarrow's plain ``read_csv``.

A CSV of N rows x 20 float features + a float target (values with 5 decimals, about
176 bytes a row: 1.8 GB at the full size of 10,000,000 rows; 20,000 rows with
``quick``) is generated once into ``benchmarks/data/`` (git-ignored) and reused, keyed by
its size. Then, each in a fresh process whose peak resident memory the kernel reports:

* polars' streaming engine computing the 253 sums of the Gram matrix of ``[1, X, y]``:
  the speed reference, the statistics pass of an exact fit by the fastest reader we know;
* ``pyarrow.csv.read_csv`` of the whole file into one Arrow table (multithreaded, but
  the whole table in memory);
* ``TabularSource(path, target="y").iter_chunks()`` feeding every chunk to
  ``torchlinear.exact.GramStats.update`` and solving at the end: the one-pass exact
  least-squares fit (with intercept) of a file larger than memory, holding one chunk at a
  time; the coefficients are checked against the generating ones;
* the same stream with no arithmetic, to separate reading from the fit.

Wall time excludes interpreter start-up and imports (importing torchlinear also imports
torch, which accounts for about 190 MB of the streaming processes' peak memory). Each case
runs in three fresh processes at full size: the median and the min–max are reported
(``--quick``: once each, in this process, a smoke run rather than a measurement).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from _common import MIN_RUNS, code_runs, format_table, spread

DATA_DIR = Path(os.environ.get("TORCHLINEAR_BENCH_DATA") or Path(__file__).parent / "data")
N_FEATURES = 20
TARGETS = {"peak_rss_mb": 600.0, "time_ratio": 1.3}


def true_weights() -> np.ndarray:
    """The coefficients the target is generated from."""
    return np.linspace(-2.0, 2.0, N_FEATURES)


def ensure_csv(n_rows: int, seed: int = 0) -> Path:
    """Generate (once) the benchmark CSV of ``n_rows`` rows and return its path.

    Written chunk by chunk with pyarrow into a temporary file that is renamed into place
    at the end, so an interrupted run never leaves a truncated file to be reused.
    """
    path = DATA_DIR / f"tabular_{n_rows}x{N_FEATURES}.csv"
    if path.exists():
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w = true_weights()
    names = [f"x{j}" for j in range(N_FEATURES)] + ["y"]
    schema = pa.schema([(name, pa.float64()) for name in names])
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=DATA_DIR)
    os.close(fd)
    try:
        with pacsv.CSVWriter(tmp, schema) as writer:
            for start in range(0, n_rows, 500_000):
                rows = min(500_000, n_rows - start)
                X = rng.standard_normal((rows, N_FEATURES))
                y = X @ w + 0.1 * rng.standard_normal(rows)
                columns = [np.round(X[:, j], 5) for j in range(N_FEATURES)] + [np.round(y, 5)]
                writer.write_batch(pa.record_batch(columns, schema=schema))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


_PLAIN = """
import json, resource, time
import pyarrow.csv as pacsv
start = time.perf_counter()
table = pacsv.read_csv({path!r})
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "rows": table.num_rows, "rss": rss}}))
"""

_STREAM = """
import json, resource, time
import torch
from torchlinear.data.tabular import TabularSource
from torchlinear.exact import GramStats
start = time.perf_counter()
source = TabularSource({path!r}, target="y")
stats = GramStats.zeros(source.n_features) if {exact} else None
for X, y in source.iter_chunks():
    if stats is not None:
        stats.update(torch.from_numpy(X), torch.from_numpy(y))
w = stats.solve().coef[:, 0].tolist() if stats is not None else None
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "rows": source.n_rows, "rss": rss, "w": w}}))
"""


_POLARS_GRAM = """
import json, resource, time
import polars as pl
start = time.perf_counter()
frame = pl.scan_csv({path!r})
names = frame.collect_schema().names()
sums = [pl.len().alias("n")] + [pl.col(a).sum().alias(f"s_{{a}}") for a in names]
sums += [(pl.col(a) * pl.col(b)).sum().alias(f"{{a}}*{{b}}")
         for i, a in enumerate(names) for b in names[i:]]
out = frame.select(sums).collect(engine="streaming")
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "rows": int(out["n"][0]), "rss": rss}}))
"""


def run(quick: bool = False) -> str:
    n_rows = 20_000 if quick else 10_000_000
    runs = 0 if quick else MIN_RUNS  # quick: once, in this process
    path = ensure_csv(n_rows)
    size_mb = path.stat().st_size / 2**20

    cases = [
        ("polars streaming Gram pass (253 sums)", _POLARS_GRAM.format(path=str(path))),
        ("pyarrow.csv.read_csv (whole table)", _PLAIN.format(path=str(path))),
        (
            "TabularSource.iter_chunks + exact.GramStats fit",
            _STREAM.format(path=str(path), exact=True),
        ),
        ("TabularSource.iter_chunks only", _STREAM.format(path=str(path), exact=False)),
    ]
    results = {name: code_runs(code, runs=runs) for name, code in cases}
    reference = results[cases[0][0]]
    rows = []
    for name, result in results.items():
        if any(r != n_rows for r in result.of("rows")):
            raise RuntimeError(f"{name} read {result.of('rows')} rows, expected {n_rows}")
        rows.append(
            [
                name,
                spread(result),
                f"{n_rows / result.median:,.0f}",
                f"{result.median / reference.median:.2f}",
                f"{max(result.of('rss')):,.0f}",
            ]
        )
    table = format_table(
        [
            "reader",
            "wall time (s), median (min–max)",
            "rows/s",
            "× polars Gram",
            "peak RSS (MB, max)",
        ],
        rows,
        title=(
            f"CSV {n_rows:,} × {N_FEATURES + 1} float64 ({size_mb:,.0f} MB), "
            + (f"{runs} fresh process(es) each" if runs else "once each, in this process")
            + ", imports excluded"
        ),
    )

    fit = results[cases[2][0]]
    error = float(np.max(np.abs(np.asarray(fit.last["w"]) - true_weights())))
    ratio = fit.median / reference.median
    rss = max(fit.of("rss"))
    verdict = (
        f"Targets for the exact fit: peak RSS ≤ {TARGETS['peak_rss_mb']:.0f} MB "
        f"({'met' if rss <= TARGETS['peak_rss_mb'] else 'missed'}: "
        f"{rss:.0f} MB), time ≤ {TARGETS['time_ratio']:g}× polars' Gram pass "
        f"({'met' if ratio <= TARGETS['time_ratio'] else 'missed'}: {ratio:.2f}×). "
        f"Coefficients of the streamed exact fit differ from the generating ones by at "
        f"most {error:.2g} (noise level 0.1 / sqrt(n))."
    )
    return f"{table}\n\n{verdict}\n"


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(run(quick="--quick" in sys.argv))
