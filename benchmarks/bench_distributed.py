"""Exact least squares of a large Parquet file on 1 process and on 2 processes (torchrun).

A Parquet file of N rows x 20 float64 features + a float64 target (1.9 GB on disk at the
full size of 10,000,000 rows, in 40 row groups of 250,000 rows; 50,000 rows in 8 groups
with ``quick``) is generated once into ``benchmarks/data/`` (git-ignored) and reused. Each
configuration is one ``torchrun --standalone`` job running
:func:`torchlinear.distributed.fit_exact_distributed` on the file: every rank reads its
row groups, accumulates the 21 x 21 Gram statistics in float64 and the ranks combine them
with one all-reduce.

Reported per configuration (median and min–max of 3 jobs at full size, the configurations taking
turns so that a busy spell of a shared machine hits all of them; the file sits in the page
cache, so this measures decoding and arithmetic, not the disk): threads per process, rows
read per rank, a plain read pass over the rank's row groups (Parquet decoding into NumPy
arrays, no arithmetic), the fit (from a barrier before it to the solution on every rank:
read, accumulate, combine, solve; the slowest rank counts) with its CPU time summed over
the ranks, the fit's speed-up over one process with default threads, the job's remaining
wall time (``torchrun`` and interpreter start-up, opening the file, shutting down), and
the largest relative difference of the coefficients from the one-process fit.

``torchrun`` sets ``OMP_NUM_THREADS=1`` in every worker when it starts more than one per
machine (to avoid oversubscription), which limits NumPy's BLAS, torch and pyarrow's
thread pool alike; one process keeps the defaults (all cores), so the table also shows one
process limited to one thread, the like-for-like baseline for a single rank.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import MIN_RUNS, format_table, spread

DATA_DIR = Path(os.environ.get("TORCHLINEAR_BENCH_DATA") or Path(__file__).parent / "data")
N_FEATURES = 20
ROW_GROUP = 250_000


def true_weights() -> np.ndarray:
    """The coefficients the target is generated from."""
    return np.linspace(-2.0, 2.0, N_FEATURES)


def ensure_parquet(n_rows: int, seed: int = 0) -> Path:
    """Generate (once) the benchmark Parquet file of ``n_rows`` rows and return its path.

    Written row group by row group into a temporary file that is renamed into place at
    the end, so an interrupted run never leaves a truncated file to be reused.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = DATA_DIR / f"distributed_{n_rows}x{N_FEATURES}.parquet"
    if path.exists():
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w = true_weights()
    names = [f"x{j}" for j in range(N_FEATURES)] + ["y"]
    schema = pa.schema([(name, pa.float64()) for name in names])
    group = min(ROW_GROUP, max(1, n_rows // 8))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=DATA_DIR)
    os.close(fd)
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            for start in range(0, n_rows, group):
                rows = min(group, n_rows - start)
                X = rng.standard_normal((rows, N_FEATURES)) + 1.0
                y = X @ w + 3.0 + 0.1 * rng.standard_normal(rows)
                columns = [X[:, j] for j in range(N_FEATURES)] + [y]
                writer.write_table(pa.table(columns, schema=schema), row_group_size=group)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def worker(data: str, out: str) -> None:
    """One rank: time a read pass over its row groups, then the distributed exact fit.

    Each is timed from a barrier to the end on every rank: wall time of the slowest rank
    and CPU time (all threads) summed over the ranks.
    """
    import torch

    from torchlinear import distributed as tld
    from torchlinear.data import TabularSource

    tld.init_from_env(timeout=3600)
    source = TabularSource(data, target="y")
    part = tld.shard_source(source)

    def timed(fn):
        tld.barrier()
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        t = torch.tensor([time.perf_counter() - wall, time.process_time() - cpu])
        if tld.is_distributed():
            slowest = t[:1].clone()
            torch.distributed.all_reduce(slowest, op=torch.distributed.ReduceOp.MAX)
            torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
            t[0] = slowest[0]
        return result, float(t[0]), float(t[1])

    rows, read, read_cpu = timed(lambda: sum(len(X) for X, _ in part.iter_chunks()))
    sol, fit, fit_cpu = timed(lambda: tld.fit_exact_distributed(source))
    if tld.is_main_process():
        report = {
            "rows_per_rank": rows,
            "read": read,
            "fit": fit,
            "fit_cpu": fit_cpu,
            "threads": torch.get_num_threads(),
            "coef": sol.coef[:, 0].tolist(),
        }
        Path(out).write_text(json.dumps(report))
    tld.shutdown()


def _launch(data: Path, nproc: int, threads: int | None) -> dict:
    env = os.environ.copy()
    env.pop("OMP_NUM_THREADS", None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc-per-node={nproc}",
            str(Path(__file__).resolve()),
            "--worker",
            str(data),
            str(out),
        ]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"benchmark job failed:\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}")
        report = json.loads(out.read_text())
    report["overhead"] = wall - report["read"] - report["fit"]
    report["nproc"] = nproc
    return report


def run(quick: bool = False) -> str:
    n_rows = 50_000 if quick else 10_000_000
    data = ensure_parquet(n_rows)
    configs = [(1, None), (1, 1), (2, None)]  # torchrun sets 1 thread each for 2 processes
    if quick:  # a smoke run: one two-process job (the torchrun tests cover the rest)
        configs = [(2, None)]
    rounds = 1 if quick else MIN_RUNS
    runs: dict[tuple, list[dict]] = {c: [] for c in configs}
    for _ in range(rounds):  # interleaved, so that a busy spell affects every configuration
        for nproc, threads in configs:
            runs[(nproc, threads)].append(_launch(data, nproc, threads))
    base = runs[configs[0]]
    base_coef = np.asarray(base[0]["coef"])
    base_fit = statistics.median(r["fit"] for r in base)
    rows = []
    for config in configs:
        rs = runs[config]
        diff = max(
            float(np.abs(np.asarray(r["coef"]) - base_coef).max() / np.abs(base_coef).max())
            for r in rs
        )
        fits = [r["fit"] for r in rs]
        rows.append(
            [
                rs[0]["nproc"],
                rs[0]["threads"],
                f"{rs[0]['rows_per_rank']:,}",
                spread([r["read"] for r in rs]),
                spread(fits),
                spread([r["fit_cpu"] for r in rs]),
                f"{base_fit / statistics.median(fits):.2f}x",
                spread([r["overhead"] for r in rs]),
                f"{diff:.1e}",
            ]
        )
    headers = [
        "processes",
        "threads each",
        "rows per rank",
        "read pass (s)",
        "exact fit (s)",
        "fit CPU, all ranks (s)",
        "fit speed-up",
        "launch overhead (s)",
        "max rel. coef diff",
    ]
    import pyarrow.parquet as pq

    with pq.ParquetFile(data) as parquet:
        groups = parquet.metadata.num_row_groups
    size = os.path.getsize(data) / 1e9
    title = (
        f"Exact least squares of {n_rows:,} rows x {N_FEATURES} features from Parquet "
        f"({size:.2f} GB on disk, {groups} row groups), {os.cpu_count()} cores, median "
        f"(min–max) of {rounds} interleaved job(s); speed-up: ratio of medians"
    )
    return format_table(headers, rows, title=title)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
    else:
        print(run(quick="--quick" in sys.argv))
