"""Shared helpers for the benchmarks: timing, peak memory and table formatting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["best_isolated", "best_time", "format_table", "run_isolated"]


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
    before = _children_maxrss_kb()
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
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
