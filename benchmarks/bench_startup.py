"""Start-up time of the command line: ``torchlinear [<command>] --help`` in fresh processes.

Every contender runs as a new Python process (nothing cached in the interpreter), several
times; the table gives the median and the min–max of the wall time and of the peak
resident memory (the kernel's accounting of each finished child). ``python -c pass`` is
the floor any command pays; ``import torch`` is what a ``--help`` that loaded the library
would add. ``--quick`` runs three processes per contender and leaves out the slow
``import torch`` row (a few seconds in all).

Usage::

    python benchmarks/bench_startup.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

from _common import format_table

HELP_COMMANDS = [
    [],
    ["demo"],
    ["demo", "linreg"],
    ["demo", "softmax"],
    ["fit"],
    ["predict"],
    ["evaluate"],
    ["summary"],
]


def fresh_process(argv: Sequence[str]) -> tuple[float, float]:
    """Run ``argv`` once; return its wall seconds and peak resident memory in MB."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {proc.returncode}:\n{err}")
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in kB on Linux


def _spread(values: Sequence[float], fmt: str) -> tuple[str, str]:
    return format(statistics.median(values), fmt), (
        f"{format(min(values), fmt)}–{format(max(values), fmt)}"
    )


def run(quick: bool = False) -> str:
    """The start-up table, as Markdown."""
    repeats = 3 if quick else 7
    python = [sys.executable]
    contenders = [("python -c pass", [*python, "-c", "pass"])]
    commands = HELP_COMMANDS[:2] + HELP_COMMANDS[3:5] if quick else HELP_COMMANDS
    for command in commands:
        name = " ".join(["torchlinear", *command, "--help"])
        contenders.append((name, [*python, "-m", "torchlinear", *command, "--help"]))
    if not quick:
        contenders.append(("python -c 'import torch'", [*python, "-c", "import torch"]))
    rows = []
    for name, argv in contenders:
        fresh_process(argv)  # warm the file cache; not counted
        runs = [fresh_process(argv) for _ in range(repeats)]
        seconds, memory = zip(*runs, strict=True)
        rows.append([name, *_spread(seconds, ".3f"), *_spread(memory, ".0f")])
    headers = [
        "command",
        "wall s (median)",
        "wall s (min–max)",
        "peak MB (median)",
        "peak MB (min–max)",
    ]
    title = f"Start-up, {repeats} fresh processes each"
    return format_table(headers, rows, title=title)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs each, no torch row")
    args = parser.parse_args(argv)
    print(run(quick=args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
