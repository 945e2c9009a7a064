"""Run functions of a test module in a fresh process under a memory cap and a time limit.

Hostile-input and fuzz tests must fail on excess memory or a hang, not take the machine
down with them. :func:`run_capped` starts ``python _capped.py FILE NAMES HEADROOM``: the
child imports ``FILE``, caps its address space (``RLIMIT_AS``) at what it uses after the
imports plus ``HEADROOM`` bytes, calls each named function in turn and prints, as JSON,
per function: whether it returned, what it returned (or the exception's type and message),
the seconds it took, the process's peak RSS so far and its RSS after the imports. The
parent kills the child after ``timeout`` seconds. A function beyond the cap meets a
``MemoryError``, which the test sees as a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
import traceback
from typing import Any

HEADROOM = 512 * 2**20
"""Address space a case may add to what the imports took."""
PEAK_RSS_LIMIT = 800 * 2**20
"""Peak resident memory a whole child may reach (imports included)."""


def _vm_size() -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _peak_rss() -> int:
    # VmHWM is this process's own high-water mark; ru_maxrss would start from the parent's
    # size at fork (a large test worker), since Linux keeps it across fork and exec
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load_module(path: str | os.PathLike[str], name: str = "capped_target") -> Any:
    """Import a file by its path (test folders are not packages)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _child(path: str, names: list[str], headroom: int) -> None:
    module = load_module(path)
    baseline = _peak_rss()
    limit = _vm_size() + headroom
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    results: dict[str, Any] = {}
    for name in names:
        start = time.perf_counter()
        try:
            outcome: dict[str, Any] = {"returned": True, "value": getattr(module, name)()}
        except BaseException as exc:  # reported to the parent, which fails the test
            outcome = {
                "returned": False,
                "type": type(exc).__name__,
                "message": str(exc),
                "traceback": traceback.format_exc(),
            }
        outcome["seconds"] = time.perf_counter() - start
        outcome["peak_rss"] = _peak_rss()
        outcome["baseline_rss"] = baseline
        results[name] = outcome
    print(json.dumps(results, default=str))


def run_capped(
    path: str | os.PathLike[str],
    names: list[str],
    *,
    headroom: int = HEADROOM,
    timeout: float = 240.0,
) -> dict[str, dict[str, Any]]:
    """Call ``names`` of the module at ``path`` in a capped child; return their outcomes."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
    proc = subprocess.run(
        [sys.executable, __file__, str(path), ",".join(names), str(headroom)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_refusals(results: dict[str, dict[str, Any]]) -> None:
    """Every case returned (its ValueError message or CLI line), in one line, in bounds."""
    for name, outcome in results.items():
        assert outcome["returned"], f"{name}: {outcome.get('traceback', outcome)}"
        assert outcome["peak_rss"] < PEAK_RSS_LIMIT, f"{name}: peak RSS {outcome['peak_rss']:,}"
        message = outcome["value"]
        if message is not None:
            assert isinstance(message, str) and message and "\n" not in message.strip(), (
                f"{name}: {message!r}"
            )


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]))


def mutate(blob: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """``blob`` after byte edits ``(kind, position, value)``: flip a bit, set a byte,
    insert one, delete one, or cut the rest off (the fuzzers' mutations of valid files)."""
    data = bytearray(blob)
    for kind, position, value in edits:
        if not data:
            break
        i = position % len(data)
        if kind == 0:
            data[i] ^= 1 << (value % 8)
        elif kind == 1:
            data[i] = value
        elif kind == 2:
            data.insert(i, value)
        elif kind == 3:
            del data[i]
        else:
            del data[i:]
    return bytes(data)
