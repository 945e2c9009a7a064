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


@pytest.mark.parametrize(
    "name, columns, n_rows",
    [
        ("vectorization", ["method", "time", "samples/s", "speed-up vs tensor loop"], 3),
        ("batching", ["batch", "batching", "samples timed", "samples/s", "× DataLoader"], 6),
    ],
)
def test_quick_run_prints_the_expected_table(name, columns, n_rows):
    table = _load(BENCH_DIR / f"bench_{name}.py").run(quick=True)
    header, rows = _header_and_rows(table)
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
