"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

# The workers of ``-n`` share the machine's cores. Each one's torch, BLAS and polars thread
# teams, sized for the whole machine, would spin-wait against the other's: ``tests/estimators``
# took 55 s on two workers with them and 43 s without. So each worker (and what it starts)
# runs its numeric kernels on its share of the cores, unless the environment says otherwise;
# the tests of thread settings set their own counts. xdist sets the worker count before this
# file is read, and no test module has imported torch, NumPy or polars yet.
_XDIST_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _XDIST_WORKERS > 1:
    _SHARE = str(max(1, (os.cpu_count() or 1) // _XDIST_WORKERS))
    for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "POLARS_MAX_THREADS"):
        os.environ.setdefault(_variable, _SHARE)

WORKERS = Path(__file__).resolve().parent / "distributed_workers"
LAUNCH_TIMEOUT = 150  # seconds for a whole torchrun job, start-up included
# torchrun jobs started ahead of the tests that check them (``torchrun_soon``): two at a
# time, so that one job's start-up and shutdown, spent mostly waiting, overlap the other's
SOON_JOBS = 2


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist's workers ignore SIGINT, and a process started from one would inherit
    # that (an ignored signal survives exec): the tests of Ctrl-C need the usual handling
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# The files that take most of the suite's time, heaviest first (their tests' seconds summed,
# 8 to 60 on a 2-core machine). They are collected first, and pyproject's
# ``--no-loadscope-reorder`` keeps that order when ``-n`` hands whole files to the workers:
# the long files start at once and the many short ones fill in around them, so that no
# worker is left running a long file alone at the end while the other has nothing to do.
HEAVY_FIRST = (
    "tests/test_distributed.py",
    "tests/cli/test_budgets.py",
    "tests/cli/test_runs.py",
    "tests/benchmarks/test_bench_smoke.py",
    "tests/estimators/test_softmax.py",
    "tests/examples/test_examples.py",
    "tests/exact/test_entry_points.py",
    "tests/exact/test_penalized_entry_points.py",
    "tests/test_quality.py",
    "tests/test_workflow.py",
    "tests/demos/test_linreg.py",
    "tests/cli/test_penalized.py",
    "tests/estimators/test_persist.py",
    "tests/cli/test_fit_formula.py",
    "tests/estimators/test_persist_hostile.py",
    "tests/cli/test_demo.py",
    "tests/cli/test_predict.py",
    "tests/cli/test_fit.py",
    "tests/examples/test_notebooks.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` means at most two workers.

    Many tests are multi-threaded themselves (BLAS, torch) or launch processes of their own,
    so more workers than two only add memory (each imports torch) and contention.
    """
    return max(1, min(2, os.cpu_count() or 1))


def _launch(script: str, *args: str, timeout: float = LAUNCH_TIMEOUT, cwd: Path | None = None):
    """Run ``torchrun --standalone --nproc-per-node 2 script args``; kill it all on timeout.

    ``script`` is a file in ``distributed_workers`` or ``-m`` (then ``args`` start with the
    module name)."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
        "--monitor-interval=0.5",
        script if script == "-m" else str(WORKERS / script),
        *args,
    ]
    env = os.environ.copy()
    env.update(OMP_NUM_THREADS="1", TORCHLINEAR_DIST_TIMEOUT="60", PYTHONUNBUFFERED="1")
    if Path("/sys/class/net/lo").exists():
        env["GLOO_SOCKET_IFNAME"] = "lo"
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,  # its own process group, so a timeout can end every worker
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"torchrun {script} did not finish within {timeout} s:\n{output[-4000:]}")
    return proc.returncode, output, time.monotonic() - start


def _job_failure(output: str) -> str:
    """What a failed torchrun job printed that explains it: from the first fatal error or
    traceback of a rank (a native abort prints the Python stack of every thread, then a long
    list of extension modules), and the end of the output."""
    starts = [output.find(m) for m in ("Fatal Python error", "Traceback (most recent call")]
    start = min((i for i in starts if i >= 0), default=max(0, len(output) - 4000))
    head = output[start : start + 4000]
    return head if start + 4000 >= len(output) else f"{head}\n[...]\n{output[-2000:]}"


@pytest.fixture(scope="session")
def job_failure() -> Callable[[str], str]:
    """``job_failure(output)``: the part of a failed torchrun job's output that explains it."""
    return _job_failure


@pytest.fixture(scope="session")
def torchrun() -> Callable[..., tuple[int, str, float]]:
    """``torchrun(script, *args, timeout=..., cwd=...)`` -> (exit code, output, seconds):
    2 CPU ranks on the loopback interface, killed whole on timeout."""
    return _launch


@pytest.fixture(scope="session")
def torchrun_soon() -> Iterator[Callable[..., Future]]:
    """``torchrun_soon(script, *args, timeout=..., cwd=...)`` -> a future of what ``torchrun``
    returns: the job starts now, in the background (at most two at a time), and
    ``future.result()`` waits for it (and re-raises its timeout failure).

    A module starts its jobs as soon as it begins, so that its other tests run meanwhile."""
    pool = ThreadPoolExecutor(max_workers=SOON_JOBS, thread_name_prefix="torchrun")
    try:
        yield lambda *args, **kwargs: pool.submit(_launch, *args, **kwargs)
    finally:  # a job no test waited for (the session stopped early) is not started
        pool.shutdown(wait=True, cancel_futures=True)


def _nonnegative_reference(X, y, *, w=None, fit_intercept=True, l1=0.0, l2=0.0):
    """``(coef, intercept, objective)`` of the non-negative elastic net
    ``sum_i w_i (y_i - x_i'c - b)^2 / 2 + l1 * sum(c) + l2 * c'c / 2`` (``c >= 0``) by
    SciPy's NNLS on the design itself: rows weighted by ``sqrt(w)``, centred on the weighted
    means with an intercept, augmented by ``sqrt(l2) I``; the linear L1 term is absorbed into
    the target (``A'v = l1`` gives ``|Ac - t|^2 / 2 + l1 sum(c) = |Ac - (t - v)|^2 / 2 +``
    a constant)."""
    import numpy as np
    from scipy.optimize import nnls

    n, d = X.shape
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    mx = np.average(X, axis=0, weights=w) if fit_intercept else np.zeros(d)
    my = float(np.average(y, weights=w)) if fit_intercept else 0.0
    s = np.sqrt(w)
    A = np.vstack([(X - mx) * s[:, None], np.sqrt(l2) * np.eye(d)])
    t = np.concatenate([(y - my) * s, np.zeros(d)])
    if l1 > 0:
        t = t - np.linalg.lstsq(A.T, np.full(d, float(l1)), rcond=None)[0]
    coef = nnls(A, t, maxiter=100 * d)[0]
    intercept = my - float(mx @ coef)

    def objective(c, b):  # on the centred data: b's rounding stays out of the residuals
        r = (y - my) - (X - mx) @ c - (b - my + float(mx @ c))
        return 0.5 * float(w @ (r * r)) + l1 * float(np.sum(c)) + 0.5 * l2 * float(c @ c)

    return coef, intercept, objective


@pytest.fixture(scope="session")
def nonnegative_reference() -> Callable[..., tuple]:
    """``nonnegative_reference(X, y, w=None, fit_intercept=True, l1=0, l2=0)`` ->
    ``(coef, intercept, objective)``: the non-negative elastic net (on the sum of the
    weighted squared losses) by SciPy's NNLS on the weighted, centred, augmented design,
    and the objective function ``objective(coef, intercept)``."""
    return _nonnegative_reference
