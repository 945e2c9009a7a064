"""Run the benchmarks and print their tables side by side.

Usage::

    python benchmarks/run.py [--quick] [NAME ...]

Every ``benchmarks/bench_<name>.py`` defines ``run(quick: bool = False) -> str`` returning
Markdown tables; this script runs all of them (or the NAMEs given, e.g. ``vectorization``)
and prints each under a heading that describes the machine. ``--quick`` uses small sizes,
for a smoke run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def available() -> dict[str, Path]:
    """Map each benchmark's name (``bench_<name>.py``) to its file."""
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def load(path: Path) -> ModuleType:
    """Import a benchmark file as a module (with this folder importable for ``_common``)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    spec = importlib.util.spec_from_file_location(f"benchmarks_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def machine() -> str:
    """One line describing where the numbers were measured."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (
        f"{cores} cores ({cpu}), torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"Python {platform.python_version()}, {platform.system()}{gpu}"
    )


def _load() -> str:
    """The 1-minute load average (runnable processes; the machine is shared)."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:  # pragma: no cover - not on Unix
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    benches = available()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run (of: {', '.join(benches)})"
    )
    args = parser.parse_args(argv)
    names = [n.removeprefix("bench_").removesuffix(".py") for n in args.names] or list(benches)
    unknown = [n for n in names if n not in benches]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(benches)}")
    header = machine()
    for name in names:
        start, before = time.perf_counter(), _load()
        tables = load(benches[name]).run(quick=args.quick)
        took = time.perf_counter() - start
        busy = f"load average {before} at the start, {_load()} at the end"
        print(
            f"## {name}\n\nMachine: {header}. Took {took:.1f} s; {busy}.\n\n{tables.strip()}\n",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
