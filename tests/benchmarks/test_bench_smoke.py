import importlib.util
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(path: Path):
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location(f"smoke_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _header_and_rows(table: str):
    lines = [line for line in table.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return cells[0], cells[2:]


BENCHES = sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))


@pytest.fixture(scope="module")
def bench_data(tmp_path_factory):
    """Generated benchmark files go to a temporary folder, shared by the quick runs."""
    folder = tmp_path_factory.mktemp("bench_data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCHLINEAR_BENCH_DATA", str(folder))
        yield folder


def test_every_benchmark_file_is_found():
    assert {"vectorization", "batching", "exact", "fit_csv"} <= set(BENCHES)


# The tables whose columns and rows are known in advance: checked in full
EXPECTED = {
    "vectorization": (["method", "time", "samples/s", "speed-up vs tensor loop"], 3),
    "batching": (
        ["batch", "batching", "samples timed", "time (s)", "samples/s", "× DataLoader"],
        6,
    ),
}


@pytest.mark.parametrize("name", BENCHES)
def test_quick_run_prints_tables(name, bench_data):
    """Every ``benchmarks/bench_*.py`` runs in quick mode and prints whole tables."""
    tables = _load(BENCH_DIR / f"bench_{name}.py").run(quick=True)
    header, rows = _header_and_rows(tables)
    assert len(header) >= 2 and rows, f"bench_{name} printed no table"
    assert all(len(row) >= 2 and any(row) for row in rows)
    if name in EXPECTED:
        columns, n_rows = EXPECTED[name]
        assert header == columns
        assert len(rows) == n_rows
        assert all(len(row) == len(columns) for row in rows)
        rate = columns.index("samples/s")
        assert all(float(row[rate].replace(",", "")) > 0 for row in rows)


def test_runner_lists_and_runs_named_benchmarks(capsys):
    runner = _load(BENCH_DIR / "run.py")
    assert {"vectorization", "batching"} <= set(runner.available())
    assert runner.main(["--quick", "vectorization"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## vectorization") and "torch " in out and "threads" in out
    assert "| method" in out
    with pytest.raises(SystemExit):
        runner.main(["no_such_bench"])


def _common():
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    import _common

    return _common


def test_fresh_runs_report_median_and_range(tmp_path):
    common = _common()
    bench = tmp_path / "bench_sleepy.py"
    bench.write_text("def measure(seconds):\n    return {'seconds': seconds, 'rows': 7}\n")
    runs = common.fresh_runs(bench, "measure", 0.25, runs=3)
    assert runs.seconds == [0.25, 0.25, 0.25] and runs.of("rows") == [7, 7, 7]
    assert runs.peak_rss_mb > 0
    assert common.spread([3.0, 1.0, 2.0]) == "2 (1–3)"
    assert common.spread([1.5]) == "1.5"
    assert common.spread(runs, scale=1e3) == "250 (250–250)"
    once = common.fresh_runs(bench, "measure", 0.5, runs=0)  # --quick: in this process
    assert once.seconds == [0.5] and common.spread(once) == "0.5"


def test_command_runs_time_and_measure_memory():
    common = _common()
    code = "import numpy; a = numpy.ones(40_000_000); a += 1"  # 320 MB touched
    runs = common.command_runs([sys.executable, "-c", code], runs=3)
    assert len(runs.seconds) == 3 and runs.min <= runs.median <= runs.max
    assert 300 < runs.peak_rss_mb < 1000
    with pytest.raises(RuntimeError, match="failed"):
        common.command_runs([sys.executable, "-c", "raise SystemExit(3)"], runs=1)
