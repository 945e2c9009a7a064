"""Hostile inputs through ``torchlinear fit``, each in a fresh process under a memory cap.

Every case runs ``python -m torchlinear fit`` in a child process whose resident memory is
polled every 20 ms: the child is killed (and the test fails) beyond :data:`CAP_MB`, or
when it has not finished after :data:`TIMEOUT_S` seconds (a hang). The peak resident
memory is the child's ``ru_maxrss``. Each case asserts the outcome: a fit of the
minimum-norm solution, or exit code 2 with one line on stderr and no output folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

CAP_MB = 800
TIMEOUT_S = 300  # a hang guard only: the machines are shared, timings are not asserted


def run_capped(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str, int]:
    """``(exit code, stdout, stderr, peak RSS in MB)`` of ``python -m torchlinear *args``."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run([sys.executable, '-m', 'torchlinear', *sys.argv[1:]])\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, file=sys.stderr)\n"
        "sys.exit(p.returncode)\n"
    )
    child_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-c", wrapper, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env,
    )
    killed: list[str] = []

    def watch() -> None:
        start = time.monotonic()
        while proc.poll() is None:
            rss = _tree_rss_mb(proc.pid)
            if rss > CAP_MB:
                killed.append(f"{rss} MB resident")
            elif time.monotonic() - start > TIMEOUT_S:
                killed.append(f"no exit after {TIMEOUT_S} s")
            if killed:
                _kill_tree(proc.pid)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    watcher.join()
    assert not killed, f"killed: {killed[0]}; stderr: {err[-500:]}"
    *lines, peak = err.rstrip("\n").split("\n")
    return proc.returncode, out, "\n".join(lines), int(peak)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(c) for c in fh.read().split()]
    except OSError:
        return []


def _tree_rss_mb(pid: int) -> int:
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) // 1024
        except OSError:
            pass
    return total


def _kill_tree(pid: int) -> None:
    for p in [*_children(pid), pid]:
        try:
            os.kill(p, 9)
        except OSError:
            pass


def wide_csv(path: Path, n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(n, d)), 4)
    y = np.round(rng.normal(size=n), 4)
    with open(path, "w") as fh:
        fh.write(",".join([f"x{j}" for j in range(d)] + ["y"]) + "\n")
        for i in range(n):
            fh.write(",".join(f"{v:.4f}" for v in X[i]) + f",{y[i]:.4f}\n")
    return X, y


@pytest.mark.parametrize("d", [3000, 20_000])
def test_few_rows_many_columns_fit_the_minimum_norm_solution(
    tmp_path: Path, d: int, run_cli
) -> None:
    from safetensors.numpy import load_file

    X, y = wide_csv(tmp_path / "wide.csv", 5, d)
    out = tmp_path / "run"
    args = ["fit", str(tmp_path / "wide.csv"), "--target", "y", "--val-split", "0"]
    args += ["--out", str(out), "--no-progress"]
    if d > 10_000:  # the wide case in a fresh process, under the memory cap
        code, stdout, stderr, peak = run_capped(args)
        assert peak < CAP_MB
    else:
        code, stdout, stderr = run_cli(args)
    assert code == 0, stderr
    assert "X has 5 row(s)" in stderr
    tensors = load_file(next(out.glob("*.safetensors")))
    coef = next(v for v in tensors.values() if v.size == d).reshape(-1)
    ref = np.linalg.lstsq(X - X.mean(0), y - y.mean(), rcond=None)[0]
    assert np.abs(coef - ref).max() < 1e-10 * np.abs(ref).max()


def test_a_header_too_wide_for_the_budget_is_refused_in_one_line(tmp_path: Path) -> None:
    # read cell by cell, about 0.5 GB is planned (pyarrow's 10 kB a column was 2 GB)
    path = tmp_path / "header.csv"
    d = 200_000
    path.write_text(",".join(f"c{j}" for j in range(d)) + "\n" + ",".join("1" * d) + "\n")
    out = tmp_path / "run"
    code, stdout, stderr, peak = run_capped(
        ["fit", str(path), "--target", "c0", "--out", str(out), "--memory-limit", "300M"]
    )
    assert code == 2 and stdout == ""
    assert stderr.count("\n") == 0, stderr
    assert re.search(r"200,000 columns need \d\d\d MB for .*header\.csv", stderr), stderr
    assert "--memory-limit" in stderr and "header.csv" in stderr
    assert not out.exists() and peak < CAP_MB


def test_a_wide_file_read_cell_by_cell_is_planned_at_its_own_cost(tmp_path: Path) -> None:
    # 200,001 columns, 2 rows: pyarrow's plan (10 kB a column, 2 GB) refused it under 1G;
    # read cell by cell, it fits in about 0.55 GB
    d = 200_000
    path = tmp_path / "wide.csv"
    with open(path, "w") as fh:
        fh.write(",".join([f"x{j}" for j in range(d)] + ["y"]) + "\n")
        for r in range(2):
            fh.write(",".join(str((j * 7 + r) % 10) for j in range(d)) + f",{r}\n")
    out = tmp_path / "run"
    args = ["fit", str(path), "--target", "y", "--out", str(out), "--no-progress"]
    code, stdout, stderr, peak = run_capped([*args, "--memory-limit", "1G"])
    assert code == 0, stderr
    assert (out / "model.json").exists() and peak < 1024


def test_memory_limit_refuses_the_exact_statistics(
    tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tall.csv"
    wide_csv(path, 1200, 500)
    out = tmp_path / "run"
    args = ["fit", str(path), "--target", "y", "--out", str(out), "--no-progress"]
    # the reader needs about 9.3 MB (501 columns of parse and chunk), the exact solver
    # 6 x (500 + 2)^2 float64 = 12.1 MB: refused under 11 MiB, fitted under 1 GB
    code, stdout, stderr, peak = run_capped([*args, "--memory-limit", "11M"])
    assert code == 2 and stderr.count("\n") == 0, stderr
    assert "500 columns need 12.1 MB for the exact solver" in stderr
    assert "--solver sgd" in stderr and "--memory-limit" in stderr
    assert not out.exists() and peak < CAP_MB
    # the same budget from the environment, and a larger one, in this process: the plan
    # is the same whatever the process holds already
    monkeypatch.setenv("TORCHLINEAR_MEMORY_LIMIT", "11M")
    code, _, stderr = run_cli(args)
    assert code == 2 and "12.1 MB" in stderr
    monkeypatch.delenv("TORCHLINEAR_MEMORY_LIMIT")
    code, _, stderr = run_cli([*args, "--memory-limit", "1G"])
    assert code == 0, stderr
    assert (out / "model.json").exists()


def test_a_bad_memory_limit_is_one_line(tmp_path: Path, run_cli) -> None:
    # a mistake in the arguments, not a memory case: the command's own entry, in this process
    path = tmp_path / "t.csv"
    wide_csv(path, 10, 2)
    code, _, stderr = run_cli(["fit", str(path), "--target", "y", "--memory-limit", "lots"])
    assert code == 2
    assert (
        stderr == "torchlinear: error: --memory-limit must be a positive number of bytes, "
        "such as 800M or 2G, got 'lots'\n"
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas, RLIMIT_AS")
def test_an_ordinary_fit_runs_under_an_address_space_limit(tmp_path: Path) -> None:
    """Under ``ulimit -v`` (RLIMIT_AS) of 3 GB, a small fit completes: the thread pools of
    torch, pyarrow and polars would otherwise reserve most of it as malloc arenas, and
    the fit aborted in a native library (or hung) instead."""
    import resource

    path = tmp_path / "t.csv"
    wide_csv(path, 50, 3)
    out = tmp_path / "run"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3_000_000_000, 3_000_000_000))

    proc = subprocess.run(
        [sys.executable, "-m", "torchlinear", "fit", str(path), "--target", "y",
         "--out", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=TIMEOUT_S, preexec_fn=limit,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "model.json").exists()


def test_full_batch_lbfgs_checks_rows_times_classes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "classes.csv"
    with open(path, "w") as fh:
        fh.write("a,c\n" + "".join(f"{rng.normal():.4f},k{i % 2000}\n" for i in range(6000)))
    args = ["fit", str(path), "--target", "c", "--max-classes", "5000", "--memory-limit", "200M"]
    code, _, stderr, _ = run_capped([*args, "--out", str(tmp_path / "run"), "--no-progress"])
    assert code == 2 and stderr.count("\n") == 0, stderr
    assert "full-batch L-BFGS" in stderr and "--solver adam" in stderr


def test_a_file_of_many_columns_and_two_rows_fits_in_little_memory(tmp_path: Path) -> None:
    # 60,000 columns, 0.9 MB: a parser's converter per column took it past the cap
    from safetensors.numpy import load_file

    d = 60_000
    X, y = wide_csv(tmp_path / "wide.csv", 2, d)
    out = tmp_path / "run"
    args = ["fit", str(tmp_path / "wide.csv"), "--target", "y", "--out", str(out)]
    code, stdout, stderr, peak = run_capped([*args, "--no-progress"])
    assert code == 0, stderr
    assert peak < CAP_MB, peak
    coef = load_file(next(out.glob("*.safetensors")))["state.attr.coef_"].reshape(-1)
    ref = np.linalg.lstsq(X - X.mean(0), y - y.mean(), rcond=None)[0]  # minimum norm
    assert np.abs(coef - ref).max() < 1e-10 * np.abs(ref).max()


def test_many_level_text_columns_fit_the_least_squares_solution(tmp_path: Path) -> None:
    # 3 text columns of 300 levels: 897 one-hot columns, 1,000 rows
    from safetensors.numpy import load_file
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    n, levels = 1000, 300
    codes = np.stack([rng.permutation(np.arange(n) % levels) for _ in range(3)], axis=1)
    y = codes.sum(1) * 0.01 + rng.normal(size=n)
    path = tmp_path / "levels.csv"
    with open(path, "w") as fh:
        fh.write("t0,t1,t2,y\n")
        for (a, b, c), v in zip(codes, y, strict=True):
            fh.write(f"L{a:03d},L{b:03d},L{c:03d},{v:.6f}\n")
    out = tmp_path / "run"
    code, _, stderr, peak = run_capped(["fit", str(path), "--target", "y", "--out", str(out)])
    assert code == 0, stderr
    assert peak < CAP_MB
    X = OneHotEncoder(drop="first").fit_transform(codes).toarray()  # sorted levels, as L000...
    y = np.round(y, 6)
    ref = np.linalg.lstsq(X - X.mean(0), y - y.mean(), rcond=None)[0]
    coef = load_file(next(out.glob("*.safetensors")))["state.attr.coef_"].reshape(-1)
    assert np.abs(coef - ref).max() < 1e-9 * np.abs(ref).max()
