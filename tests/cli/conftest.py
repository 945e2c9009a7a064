"""Shared fixtures of the command-line tests: a small houses file, bad files, a runner."""

import re

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import torch

from torchlinear import cli


@pytest.fixture
def one_thread():
    """Run torch on one thread (the fits are tiny; threads only add noise)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def run_cli(capsys):
    """``run_cli(argv) -> (exit code, stdout, stderr)``."""

    def run(argv):
        code = cli.main(argv)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def numbers():
    """``numbers(line)``: every number in a line of output, as floats."""

    def parse(line):
        return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", line)]

    return parse


def houses(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = np.c_[rng.uniform(30, 200, n), rng.integers(1, 7, n), rng.normal(0, 1, n)]
    y = 1200 * X[:, 0] + 5000 * X[:, 1] - 3000 * X[:, 2] + 20000 + rng.normal(0, 8000, n)
    return X, y


@pytest.fixture(scope="module")
def houses_csv(tmp_path_factory):
    """``(path, X, y)``: 240 house sales, price linear in area, rooms and noise."""
    X, y = houses()
    path = tmp_path_factory.mktemp("cli") / "houses.csv"
    pacsv.write_csv(
        pa.table({"area": X[:, 0], "rooms": X[:, 1], "noise": X[:, 2], "price": y}), path
    )
    return path, X, y


@pytest.fixture
def bad_files(tmp_path):
    """A folder of small CSV files, good and bad in the ways users' files are."""
    good = "a,b,y\n1,2,3\n4,5,6\n7,8,10\n2,1,4\n5,5,9\n"
    files = {
        "ragged.csv": "a,b,y\n1,2,3\n4,5\n7,8,9\n",
        "semicolon.csv": "a;b;y\n1;2;3\n4;5;6\n",
        "empty.csv": "",
        "header.csv": "a,b,y\n",
        "one.csv": "a,b,y\n1,2,3\n",
        "good.csv": good,
        "text.csv": "a,city,y\n1,Paris,3\n4,Rome,6\n7,Oslo,9\n",
        "gaps.csv": "a,b,y\n1,,3\n4,5,6\n7,8,NA\n2,1,4\n5,5,9\n3,3,3\n",
        "stray.csv": "a,b,y\n1,2,3\n4,5,6\n?,8,10\n2,1,4\n5,5,9\n",
        "target_typo.csv": "a,b,y\n1,2,3.5\n4,5,6.25\n3,8,17.5x\n2,1,4\n5,5,9\n",
        # numbers for the first megabyte, where the column types are inferred; then a label
        "huge.csv": "a,b,y\n1e300,2,3\n-4e299,5,6\n7e300,8,10\n2e299,1,4\n5e300,5,9\n",
        "huge_y.csv": "a,b,y\n1,2,3e300\n4,5,-6e299\n7,8,1e301\n2,1,4e300\n5,5,9e299\n",
        "trailing.csv": "a,b,y,\n1,2,3,\n4,5,6,\n7,8,10,\n",
        "fractions.csv": "a,b,y\n1,2,1.0\n4,5,2.0\n7,8,3.5\n2,1,1.0\n",
        "late_text.csv": "a,b,y\n" + "1234567.25,7654321.5,9876543.125\n" * 60_000 + "1,2,high\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "latin1.csv").write_bytes("a,b,y\n1,2,3\n4,5,6\n7,8,été\n".encode("latin-1"))
    pq.write_table(pacsv.read_csv(tmp_path / "good.csv"), tmp_path / "good.parquet")
    return tmp_path
