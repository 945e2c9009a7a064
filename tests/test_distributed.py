"""Scaling out: sharding, exact least squares across ranks, data-parallel training.

The multi-process tests launch 2 CPU processes with ``torchrun --standalone`` (gloo, on the
loopback interface), each with a hard timeout; the process group's own timeout is 60 s so
that no collective can wait longer. References are computed here, in a single process:
the single-process exact solver and NumPy's least squares, and single-process training.
"""

from __future__ import annotations

import json
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from torchlinear import distributed as tld
from torchlinear.data import TabularSource
from torchlinear.exact import lstsq

WORKERS = Path(__file__).resolve().parent / "distributed_workers"
DP_WORKER = WORKERS / "dp_train.py"


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


# ---------------------------------------------------------------------------------------
# Sharding (single process: every rank's share is a pure function of rank and size)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 7, 10, 101])
@pytest.mark.parametrize("w", [1, 2, 3, 8])
@pytest.mark.parametrize("strided", [False, True])
def test_shard_rows_cover_every_row_once(n, w, strided):
    parts = [list(range(n))[tld.shard_rows(n, r, w, strided=strided)] for r in range(w)]
    assert sorted(i for p in parts for i in p) == list(range(n))
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    if not strided:  # contiguous blocks in rank order
        assert [i for p in parts for i in p] == list(range(n))


def test_shard_rows_checks_its_arguments():
    with pytest.raises(ValueError, match="rank must be below world_size=2"):
        tld.shard_rows(10, 2, 2)
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        tld.shard_rows(-1, 0, 1)


@pytest.mark.parametrize(
    "sizes", [[100] * 7, [1, 500, 1, 1, 1], [50], [0, 0, 10], [3, 3, 3, 3, 3, 3, 3, 3, 3]]
)
@pytest.mark.parametrize("w", [1, 2, 3, 4])
def test_row_group_shards_are_contiguous_and_cover_all(sizes, w):
    parts = [tld.shard_row_groups(sizes, r, w) for r in range(w)]
    assert [g for p in parts for g in p] == list(range(len(sizes)))
    if len(sizes) >= 2 * w and len(set(sizes)) == 1:  # equal groups: balanced to one group
        counts = [len(p) for p in parts]
        assert max(counts) - min(counts) <= 1


def _awkward_csv(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    """CRLF endings, blank lines before the header and among the rows, lines of very
    different lengths, and no line break at the end of the file."""
    lines = ["", "x0,x1,x2,x3,y"]
    for i, (row, target) in enumerate(zip(X, y, strict=True)):
        fields = [repr(float(v)) for v in row] + [repr(float(target))]
        if i % 7 == 3:
            lines.append("")
        lines.append(",".join(fields) + (" " * 200 if i % 11 == 0 else ""))
    path.write_bytes("\r\n".join(lines).encode())


def _data(n: int = 1001, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)) * [1.0, 10.0, 0.1, 3.0] + [100.0, -5.0, 0.0, 1000.0]
    beta = np.array([2.0, -0.5, 30.0, 0.25])
    y = X @ beta + 7.0 + 0.3 * rng.standard_normal(n)
    Y2 = np.column_stack([y, X @ beta[::-1] - 1.0 + rng.standard_normal(n)])
    w = rng.uniform(0.1, 2.0, n)
    # nearly collinear columns: the Gram matrix is too ill-conditioned for Cholesky
    m = 800
    base = rng.standard_normal((m, 2))
    X_ill = np.column_stack([base[:, 0], base[:, 0] + 3e-6 * rng.standard_normal(m), base[:, 1]])
    y_ill = X_ill @ np.array([1.0, 1.0, -2.0]) + 0.5 + 1e-9 * rng.standard_normal(m)
    return {"X": X, "y": y, "Y2": Y2, "w": w, "X_ill": X_ill, "y_ill": y_ill}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("distributed")
    data = _data()
    np.savez(folder / "data.npz", **data)
    X, y = data["X"], data["y"]
    table = pa.table({**{f"x{j}": X[:, j] for j in range(4)}, "y": y})
    pq.write_table(table, folder / "table.parquet", row_group_size=150)
    pq.write_table(table, folder / "one_group.parquet", row_group_size=5000)
    _awkward_csv(folder / "table.csv", X, y)
    return folder


@pytest.mark.parametrize("w", [1, 2, 3, 5, 8, 13])
def test_csv_byte_ranges_read_every_row_once(data_dir, w):
    source = TabularSource(data_dir / "table.csv", target="y", batch_rows=64)
    X_all, y_all = source.read_all()
    assert len(X_all) == 1001
    parts = [tld.shard_source(source, r, w) for r in range(w)]
    if w > 1:
        ranges = [p.byte_range for p in parts]
        assert ranges[0][0] == source.data_offset
        assert ranges[-1][1] == (data_dir / "table.csv").stat().st_size
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    pieces = [p.read_all() for p in parts]
    X_cat = np.concatenate([X for X, _ in pieces])
    y_cat = np.concatenate([y for _, y in pieces])
    np.testing.assert_array_equal(X_cat, X_all)
    np.testing.assert_array_equal(y_cat, y_all)
    np.testing.assert_array_equal(y_all, np.load(data_dir / "data.npz")["y"])


def test_csv_byte_ranges_with_a_long_line_leave_some_ranks_empty(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("a,b\n1," + "2" * 300 + "\n3,4\n5,6")  # no final line break
    source = TabularSource(path, target="b")
    parts = [tld.shard_source(source, r, 6) for r in range(6)]
    values = [p.read_all()[0].ravel().tolist() for p in parts]
    assert [v for part in values for v in part] == [1.0, 3.0, 5.0]
    assert any(not v for v in values)


def test_restrict_rejects_ranges_off_line_boundaries(data_dir):
    source = TabularSource(data_dir / "table.csv", target="y")
    start = source.data_offset
    with pytest.raises(ValueError, match="not at the start of a line"):
        source.restrict(byte_range=(start + 3, start + 3 + 100))
    with pytest.raises(ValueError, match="must satisfy"):
        source.restrict(byte_range=(0, 10))
    with pytest.raises(ValueError, match="Parquet files only"):
        source.restrict(row_groups=[0])


def test_parquet_row_group_shards_read_every_row_once(data_dir):
    source = TabularSource(data_dir / "table.parquet", target="y", batch_rows=100)
    X_all, y_all = source.read_all()
    for w in (2, 3, 7, 9):
        parts = [tld.shard_source(source, r, w) for r in range(w)]
        y_cat = np.concatenate([p.read_all()[1] for p in parts if p.n_rows])
        np.testing.assert_array_equal(y_cat, y_all)
        assert sum(p.n_rows for p in parts) == len(y_all)


def test_a_part_reports_missing_values_with_its_rows(tmp_path):
    path = tmp_path / "gaps.parquet"
    pq.write_table(
        pa.table({"x": [1.0, 2.0, 3.0, None], "y": [1.0, 2.0, 3.0, 4.0]}), path, row_group_size=2
    )
    part = TabularSource(path, target="y").restrict(row_groups=[1])
    with pytest.raises(ValueError, match=r"row groups 1-1.*first in data row 4"):
        part.read_all()


# ---------------------------------------------------------------------------------------
# Exact least squares on 2 ranks
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def launched(request, torchrun_soon, data_dir, tmp_path_factory) -> dict[str, Future | Path]:
    """Every torchrun job that this module's selected tests check, started in the background
    as the module begins (each job's start-up is costly and mostly waiting, so the jobs and
    the single-process tests overlap): ``launched[name]`` is the job's future, and
    ``launched[f"{name}.folder"]`` the folder a command-line job runs in."""
    selected = [i for i in request.session.items if getattr(i, "module", None) is request.module]
    jobs: dict[str, Future | Path] = {}
    if any("job_results" in item.fixturenames for item in selected):
        jobs["job"] = torchrun_soon("job.py", str(data_dir))
    names = {item.originalname for item in selected}
    if "test_a_rank_that_raises_fails_the_whole_job_with_its_error" in names:
        jobs["failing"] = torchrun_soon("failing.py", timeout=120)
    if "test_a_mistake_under_torchrun_is_one_line" in names:
        folder = jobs["mistake.folder"] = tmp_path_factory.mktemp("cli_mistake")
        _cli_csv(folder / "data.csv", n=400)
        jobs["mistake"] = torchrun_soon(
            "-m", "torchlinear", "fit", "data.csv", "--target", "yy", "--val-split", "0",
            "--no-progress", "--out", "run", cwd=folder,
        )  # fmt: skip
    for item in selected:
        if item.originalname == "test_cli_fit_under_torchrun_matches_one_process":
            case = item.callspec.id
            folder = jobs[f"{case}.folder"] = tmp_path_factory.mktemp(f"cli_{case}")
            _cli_csv(folder / "data.csv")
            args = _cli_args(item.callspec.params["options"])
            jobs[case] = torchrun_soon(
                "-m", "torchlinear", "fit", "data.csv", *args, "--out", "dist", cwd=folder
            )
    return jobs


@pytest.fixture(scope="module")
def job_results(launched, data_dir, job_failure):
    """One torchrun job computes everything the 2-rank tests check (start-up is costly)."""
    code, output, _ = launched["job"].result()
    assert code == 0, job_failure(output)
    ranks = []
    for r in range(2):
        with np.load(data_dir / f"rank{r}.npz") as f:
            ranks.append({k: f[k] for k in f.files})
    return ranks


def _reference(X, y, **kwargs):
    sol = lstsq(torch.from_numpy(X), torch.from_numpy(y), **kwargs)
    return sol.coef.numpy(), sol.intercept.numpy()


def test_exact_fit_on_two_ranks_equals_the_single_process_fit(data_dir, job_results):
    d = _data()
    X, y, Y2, w = d["X"], d["y"], d["Y2"], d["w"]
    cases = {
        "contiguous": _reference(X, y, sample_weight=torch.from_numpy(w)),
        "empty_rank": _reference(X, y),
        "ridge_two_targets": _reference(X, Y2, alpha=0.5),
        "no_intercept": _reference(X, y, fit_intercept=False),
        "qr": _reference(X, y),
        "ill_auto": _reference(d["X_ill"], d["y_ill"]),
        "table.parquet": _reference(X, y),
        "one_group.parquet": _reference(X, y),
        "table.csv": _reference(X, y),
        "chunks": _reference(X, y),
    }
    r0, r1 = job_results
    for name, (coef, intercept) in cases.items():
        for res in (r0, r1):
            assert _rel(res[f"{name}.coef"], coef) < 1e-10, name
            assert _rel(res[f"{name}.intercept"], intercept) < 1e-10 or not intercept.any(), name
        # every rank returns the same solution, bit for bit
        np.testing.assert_array_equal(r0[f"{name}.coef"], r1[f"{name}.coef"])
        assert int(r0[f"{name}.n"]) == len(d["X_ill"] if name == "ill_auto" else X)
    assert str(r0["ill_auto.solver"]) == "qr" and str(r0["contiguous.solver"]) == "cholesky"
    # the files were split: each rank read part of the rows; one row group -> one rank
    assert int(r0["table.parquet.rows"]) + int(r1["table.parquet.rows"]) == len(X)
    assert 0 < int(r0["table.csv.rows"]) < len(X)
    assert sorted([int(r0["one_group.parquet.rows"]), int(r1["one_group.parquet.rows"])]) == [
        0,
        len(X),
    ]


def test_exact_fit_agrees_with_numpy_least_squares(job_results):
    d = _data()
    A = np.column_stack([np.ones(len(d["X"])), d["X"]])
    theta = np.linalg.lstsq(A, d["y"], rcond=None)[0]
    for res in job_results:
        assert _rel(res["table.csv.coef"][:, 0], theta[1:]) < 1e-8
        assert _rel(res["table.csv.intercept"], theta[:1]) < 1e-8


def test_invalid_data_on_one_rank_makes_every_rank_raise(job_results):
    r0, r1 = (str(res["bad.error"]) for res in job_results)
    # check_finite raises ParameterError, a ValueError that names the parameter (X)
    assert r1.startswith("ParameterError: X has 1 NaN/inf value(s)")
    assert r0.startswith("RankFailedError: rank 1 failed: ParameterError: X has 1 NaN/inf")


# ---------------------------------------------------------------------------------------
# Data-parallel training on 2 ranks
# ---------------------------------------------------------------------------------------


def _load_worker(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"worker_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_data_parallel_training_matches_single_process_training(tmp_path, data_dir, job_results):
    reference = _load_worker(DP_WORKER).runs(tmp_path)  # the same runs in one process
    r0, r1 = job_results
    for key, expected in reference.items():
        got = r0[f"dp.{key}"]
        assert got.shape == expected.shape, key
        scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * scale, err_msg=key)
        # every rank ends with the same parameters and the same history, bit for bit
        np.testing.assert_array_equal(r0[f"dp.{key}"], r1[f"dp.{key}"], err_msg=key)
    # each rank was given its own checkpoint folder: only rank 0 wrote one
    assert (data_dir / "checkpoint-rank0" / "model.json").exists()
    assert not (data_dir / "checkpoint-rank1").exists()


def test_data_parallel_training_on_streams_of_different_lengths(job_results):
    r0, r1 = job_results
    keys = [k for k in r0 if k.startswith("dp.streamed.")]
    assert keys
    for key in keys:  # the ranks stepped together, so they agree exactly
        np.testing.assert_array_equal(r0[key], r1[key], err_msg=key)
    loss = r0["dp.streamed.train_loss"]
    assert loss[-1] < 0.05 * loss[0]
    np.testing.assert_allclose(r0["dp.streamed.linear.weight"][0], [2.0, -3.4, 1.0, 0.5], atol=0.3)


def test_a_rank_that_raises_fails_the_whole_job_with_its_error(launched):
    code, output, seconds = launched["failing"].result()
    assert code != 0
    assert "BrokenStream: rank 1 lost its input file in epoch 2, chunk 4" in output
    assert "rank      : 1" in output  # the elastic agent names the failing rank
    assert seconds < 120


# ---------------------------------------------------------------------------------------
# Single-process behaviour of the glue
# ---------------------------------------------------------------------------------------


def test_without_a_group_everything_is_one_process(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert tld.init_from_env() is False
    assert (tld.rank(), tld.world_size(), tld.is_main_process()) == (0, 1, True)
    assert tld.DataParallel.detect() is None
    tld.barrier()


def test_asking_for_data_parallel_training_without_a_group_is_an_error():
    from torchlinear.engine import TrainConfig, train
    from torchlinear.models import LinearModel

    with pytest.raises(ValueError, match="data_parallel=True needs an initialised process group"):
        train(
            LinearModel(1),
            (torch.ones(4, 1), torch.ones(4)),
            config=TrainConfig(epochs=1),
            data_parallel=True,
        )


def test_timeout_comes_from_the_argument_or_the_environment(monkeypatch):
    monkeypatch.setenv("TORCHLINEAR_DIST_TIMEOUT", "12.5")
    assert tld.group._timeout(None).total_seconds() == 12.5
    assert tld.group._timeout(3).total_seconds() == 3
    monkeypatch.setenv("TORCHLINEAR_DIST_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="TORCHLINEAR_DIST_TIMEOUT must be a number"):
        tld.group._timeout(None)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        tld.group._timeout(-1)


def test_one_process_exact_fit_streams_a_file_like_lstsq(data_dir):
    d = _data()
    sol = tld.fit_exact_distributed(TabularSource(data_dir / "table.parquet", target="y"))
    coef, intercept = _reference(d["X"], d["y"])
    assert _rel(sol.coef, coef) < 1e-12 and _rel(sol.intercept, intercept) < 1e-12
    assert sol.n_passes == 1


def test_exact_fit_rejects_bad_arguments():
    X, y = np.ones((3, 2)), np.ones(3)
    with pytest.raises(ValueError, match="solver must be"):
        tld.fit_exact_distributed((X, y), solver="lu")
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        tld.fit_exact_distributed((X, y), alpha=-1.0)
    with pytest.raises(ValueError, match="no rank has any rows|the data is empty"):
        tld.fit_exact_distributed((np.ones((0, 2)), np.ones(0)))
    with pytest.raises(ValueError, match="sample_weight must be >= 0"):
        tld.fit_exact_distributed((X, y, -np.ones(3)))


# ---------------------------------------------------------------------------------------
# The command line under torchrun
# ---------------------------------------------------------------------------------------


def _cli_csv(path: Path, n: int = 1500) -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([1.5, -2.0, 0.25]) + 0.7 + 0.1 * rng.normal(size=n)
    rows = np.column_stack([X, y])
    lines = ["a,b,c,y"] + [",".join(repr(float(v)) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def test_a_mistake_under_torchrun_is_one_line(launched):
    """A mistake every rank makes (a missing column, a bad option) is printed once, by
    rank 0 (so that ``--local-ranks-filter 0`` shows it); nothing is written."""
    tmp_path = launched["mistake.folder"]
    code, output, _ = launched["mistake"].result()
    assert code != 0
    errors = [line for line in output.splitlines() if "torchlinear: error" in line]
    assert errors == ["torchlinear: error: data.csv: no column 'yy' for the target; the "
                      "columns are 'a', 'b', 'c', 'y'"], output[-3000:]  # fmt: skip
    assert "site-packages/torchlinear" not in output and "src/torchlinear" not in output
    assert not (tmp_path / "run").exists()


def _cli_args(options: tuple[str, ...]) -> list[str]:
    return ["--target", "y", "--no-progress", *options]


@pytest.mark.parametrize(
    ("options", "tolerance"),
    [
        (("--val-split", "0.25", "--cov", "HC1"), 1e-10),
        (("--solver", "sgd", "--epochs", "3"), 1e-5),
    ],
    ids=["exact", "sgd"],
)
def test_cli_fit_under_torchrun_matches_one_process(
    launched, request, options, tolerance, job_failure
):
    from torchlinear.cli import main
    from torchlinear.workflow import load_estimator

    case = request.node.callspec.id
    tmp_path = launched[f"{case}.folder"]  # holds data.csv; the job writes dist/ there
    args = _cli_args(options)
    # the same fit in this process, while the job runs
    single_args = ["fit", str(tmp_path / "data.csv"), *args, "--out", str(tmp_path / "single")]
    assert main(single_args) == 0
    code, output, _ = launched[case].result()
    assert code == 0, job_failure(output)
    assert output.count("Fitted LinearRegression") == 1  # rank 0 alone prints
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "dist", "single"]
    names = [
        sorted(p.suffix if p.suffix == ".safetensors" else p.name for p in (tmp_path / d).iterdir())
        for d in ("dist", "single")
    ]
    assert names[0] == names[1]  # one output folder, written once, with the same files
    dist_est = load_estimator(tmp_path / "dist")
    single = load_estimator(tmp_path / "single")
    assert _rel(dist_est.coef_, single.coef_) < tolerance
    assert _rel([dist_est.intercept_], [single.intercept_]) < tolerance
    metrics = [json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("dist", "single")]
    for key in ("train_rows", "validation_rows", "rows"):  # the same validation split
        assert metrics[0]["data"][key] == metrics[1]["data"][key] > 0
    mse = [m["validation"]["mse"] for m in metrics]
    assert abs(mse[0] - mse[1]) <= tolerance * mse[1]
    if "--cov" in options:  # the robust meat, summed over the ranks, is the same too
        robust = [est.summary() for est in (dist_est, single)]
        assert robust[0].cov_type == robust[1].cov_type == "HC1"
        assert _rel(robust[0].std_err, robust[1].std_err) < tolerance
