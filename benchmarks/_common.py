"""Shared helpers for the benchmarks: timing, peak memory and table formatting.

The machines we measure on are shared and noisy, so every contender is timed in several
fresh processes (:func:`fresh_runs` runs a function of a benchmark file,
:func:`command_runs` a whole command, :func:`code_runs` a snippet) and reported as the
median with the min–max (:func:`spread`).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Runs",
    "best_isolated",
    "best_time",
    "code_runs",
    "command_runs",
    "format_table",
    "fresh_runs",
    "run_isolated",
    "spread",
]

HERE = Path(__file__).resolve().parent
MIN_RUNS = 3  # fresh processes per contender at full size


@dataclass
class Runs:
    """Seconds (and peak memory) of one contender over several fresh processes.

    ``reports`` holds what each run reported (a dict, with ``seconds`` and ``rss``).
    """

    seconds: list[float]
    rss_mb: list[float]
    reports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def min(self) -> float:
        return min(self.seconds)

    @property
    def max(self) -> float:
        return max(self.seconds)

    @property
    def peak_rss_mb(self) -> float:
        """The largest peak resident memory of all runs (NaN if not measured)."""
        known = [r for r in self.rss_mb if r == r]
        return max(known) if known else float("nan")

    @property
    def last(self) -> dict[str, Any]:
        """The last run's report (for checks on its result)."""
        return self.reports[-1] if self.reports else {}

    def of(self, key: str) -> list[Any]:
        """One field of every run's report."""
        return [r[key] for r in self.reports]


def spread(values: Runs | Sequence[float], scale: float = 1.0, digits: int = 3) -> str:
    """``median (min–max)`` of seconds (or any values), times ``scale``, e.g. ``1.23
    (1.10–1.41)``; a single run shows as one number."""
    xs = values.seconds if isinstance(values, Runs) else list(values)
    xs = [x * scale for x in xs]

    def num(x: float) -> str:
        return f"{x:.{digits}g}" if abs(x) < 10**digits else f"{x:,.0f}"

    if len(xs) == 1:
        return num(xs[0])
    return f"{num(statistics.median(xs))} ({num(min(xs))}–{num(max(xs))})"


def fresh_runs(
    path: str | os.PathLike[str], function: str, *args: Any, runs: int = MIN_RUNS, **kwargs: Any
) -> Runs:
    """Call ``function(*args, **kwargs)`` of the benchmark file ``path`` in ``runs`` fresh
    processes, one after the other.

    The function returns its wall time in seconds, or a JSON-able dict with a
    ``"seconds"`` key (and anything else to check). Arguments must be JSON-able.
    ``runs=0`` calls it once in this process instead: a smoke run (``--quick``) that
    takes seconds, not a measurement.
    """
    if runs == 0:
        import importlib.util
        import resource

        spec = importlib.util.spec_from_file_location(f"_fresh_{Path(path).stem}", path)
        module = importlib.util.module_from_spec(spec)
        if str(HERE) not in sys.path:
            sys.path.insert(0, str(HERE))
        spec.loader.exec_module(module)
        result = getattr(module, function)(*args, **kwargs)
        if not isinstance(result, dict):
            result = {"seconds": float(result)}
        result.setdefault("rss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        return Runs([result["seconds"]], [result["rss"]], [result])
    code = f"""
    import importlib.util, json, resource, sys
    sys.path.insert(0, {str(HERE)!r})
    spec = importlib.util.spec_from_file_location("fresh_bench", {str(path)!r})
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args, kwargs = json.loads({json.dumps([args, kwargs])!r})
    result = module.{function}(*args, **kwargs)
    if not isinstance(result, dict):
        result = {{"seconds": float(result)}}
    result.setdefault("rss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))
    """
    return code_runs(code, runs=runs)


def code_runs(code: str, runs: int = MIN_RUNS, timeout: float = 3600) -> Runs:
    """Run the snippet ``code`` (see :func:`run_isolated`) in ``runs`` fresh processes.

    ``runs=0`` runs it once in this process instead (a ``--quick`` smoke run: no
    interpreter start-up, not a measurement).
    """
    if runs == 0:
        import contextlib
        import io
        import resource

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(textwrap.dedent(code), "<benchmark>", "exec"), {"__name__": "__bench__"})
        report = json.loads(out.getvalue().strip().splitlines()[-1])
        report.setdefault("rss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        report.setdefault("seconds", report.get("time", float("nan")))
        return Runs([report["seconds"]], [report["rss"]], [report])
    reports = [run_isolated(code, timeout=timeout) for _ in range(runs)]
    for r in reports:
        r.setdefault("rss", r["peak_rss_mb"])
        r.setdefault("seconds", r.get("time", float("nan")))
    return Runs([r["seconds"] for r in reports], [r["rss"] for r in reports], reports)


def command_runs(
    argv: Sequence[str], runs: int = MIN_RUNS, timeout: float = 3600, env: dict | None = None
) -> Runs:
    """Time a whole command (start-up included) in ``runs`` fresh processes, with each
    run's peak resident memory from the kernel's accounting.

    The memory comes from ``/usr/bin/time`` when it exists (a process started from this
    one inherits this one's peak in the kernel's count; one started by ``time`` does not),
    else from ``wait4``.
    """
    import tempfile

    seconds, rss, reports = [], [], []
    gnu_time = Path("/usr/bin/time")
    for _ in range(runs):
        with (
            tempfile.TemporaryFile() as out,
            tempfile.TemporaryFile() as err,
            tempfile.NamedTemporaryFile("r") as peak,
        ):
            command = list(argv)
            if gnu_time.exists():
                command = [str(gnu_time), "-f", "%M", "-o", peak.name, *command]
            start = time.perf_counter()
            environ = env or os.environ.copy()
            proc = subprocess.Popen(command, stdout=out, stderr=err, env=environ)
            deadline = start + timeout
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() > deadline:
                    proc.kill()
                    os.wait4(proc.pid, 0)
                    raise RuntimeError(f"{' '.join(argv)} took more than {timeout} s")
                time.sleep(0.01)
            took = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            err.seek(0)
            out.seek(0)
            if proc.returncode != 0:
                message = err.read().decode(errors="replace")
                raise RuntimeError(f"{' '.join(argv)} failed:\n{message}")
            seconds.append(took)
            reported = peak.read().strip().splitlines() if gnu_time.exists() else []
            kb = int(reported[-1]) if reported and reported[-1].isdigit() else usage.ru_maxrss
            rss.append(kb / 1024)
            reports.append({"seconds": took, "stdout": out.read().decode(errors="replace")})
    return Runs(seconds, rss, reports)


def fit_runs(argv: Sequence[str], out: Path, runs: int = MIN_RUNS) -> Runs:
    """``command_runs`` of a ``torchlinear fit`` command, each run into a new folder
    ``out/run<i>`` (a fit refuses to write over an earlier run).

    ``runs=0`` runs the command once in this process instead, through the command line's
    entry point (a ``--quick`` smoke run: no interpreter start-up, not a measurement).
    """
    if runs == 0:
        import resource

        from torchlinear.cli import main

        prefix = [sys.executable, "-m", "torchlinear"]
        if list(argv[:3]) != prefix:
            raise ValueError(f"not a torchlinear command: {list(argv[:3])}")
        start = time.perf_counter()
        code = main([*argv[3:], "--out", str(Path(out) / "run0")])
        seconds = time.perf_counter() - start
        if code != 0:
            raise RuntimeError(f"{' '.join(argv[2:])} exited with {code}")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return Runs([seconds], [rss], [{"seconds": seconds, "rss": rss}])
    total = Runs([], [], [])
    for i in range(runs):
        one = command_runs([*argv, "--out", str(Path(out) / f"run{i}")], runs=1)
        total.seconds += one.seconds
        total.rss_mb += one.rss_mb
        total.reports += one.reports
    return total


def best_time(fn: Callable[[], Any], repeat: int = 3, warmup: int = 1) -> float:
    """Return the median wall time of ``fn()`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def run_isolated(code: str, timeout: float = 3600) -> dict[str, Any]:
    """Run ``code`` in a fresh Python process and return what it reports plus its peak RSS.

    The snippet must print one JSON object on its last stdout line; this function adds
    ``peak_rss_mb`` (the child's maximum resident set size, from the kernel's accounting).
    """
    import tempfile

    # A child forked from this process starts with this process's peak in the kernel's
    # count (it survives exec); one started by /usr/bin/time starts from time's own.
    gnu_time = Path("/usr/bin/time")
    before = _children_maxrss_kb()
    with tempfile.NamedTemporaryFile("r") as peak:
        command = [sys.executable, "-c", textwrap.dedent(code)]
        if gnu_time.exists():
            command = [str(gnu_time), "-f", "%M", "-o", peak.name, *command]
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=os.environ.copy()
        )
        reported = peak.read().strip().splitlines()
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if reported and reported[-1].isdigit():
        result["peak_rss_mb"] = int(reported[-1]) / 1024
    else:
        after = _children_maxrss_kb()
        # ru_maxrss of children is the max over all waited-for children: only trust a rise.
        result["peak_rss_mb"] = after / 1024 if after > before else float("nan")
    return result


def best_isolated(code: str, repeats: int) -> dict[str, Any]:
    """Run ``code`` ``repeats`` times in fresh processes (see ``run_isolated``); keep the
    fastest run's report, with the largest peak memory (its ``rss`` field) seen."""
    runs = [run_isolated(code) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["seconds"])
    best["rss"] = max(r["rss"] for r in runs)
    return best


def _children_maxrss_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> str:
    """Format rows as a Markdown table (numbers to 4 significant digits)."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    body = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
    lines = [f"### {title}", ""] if title else []
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in body
    ]
    return "\n".join(lines)
