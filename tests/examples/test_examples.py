"""Every example runs end to end in fast mode, writes its figures and opens as a notebook.

The examples are discovered from ``examples/*.py``, so a new example is tested as soon as it
exists. Each one runs in its own interpreter, as a learner would run it, with the Agg
backend, ``TORCHLINEAR_EXAMPLES_FAST=1`` and a temporary output folder; the examples'
own ``assert`` statements check their claims, so a passing run is a passing test of them.

Most of an example's time is interpreter start-up and imports, so the selected examples run
two at a time (each with one compute thread) in a module fixture, and each parametrised test
then checks the outcome of its own example. Data files are never read from the user's
cache: ``TORCHLINEAR_DATA`` points at an empty folder, or at small fake files written in the
official formats for the second run of the examples that read them.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import re
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
# The English examples, the Chinese companion to the textbook's chapter 3 and the exercises.
FOLDERS = (EXAMPLES_DIR, EXAMPLES_DIR / "zh", EXAMPLES_DIR / "exercises")
EXAMPLES = [
    p for folder in FOLDERS for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RUN_TEST = "test_example_runs_and_writes_figures"
WORKERS = max(1, min(2, os.cpu_count() or 1))

# Examples that read official data files run twice: without the files (the stand-in or
# skip path every fresh checkout takes) and with small fake files in the official formats.
FILE_READERS = (
    "datasets.mnist(",
    "datasets.fashion_mnist(",
    "datasets.cifar10(",
    "load_data_fashion_mnist(",
)
FILE_EXAMPLES = [
    p for p in EXAMPLES if any(call in p.read_text(encoding="utf-8") for call in FILE_READERS)
]


def _case_id(path: Path) -> str:
    """``01_x`` for an English example, ``zh-31_x`` / ``exercises-01_x`` in the sub-folders."""
    folder = path.parent.relative_to(EXAMPLES_DIR).as_posix()
    return path.stem if folder == "." else f"{folder}-{path.stem}"


CASES = [pytest.param(p, False, id=_case_id(p)) for p in EXAMPLES] + [
    pytest.param(p, True, id=f"{_case_id(p)}-with-data-files") for p in FILE_EXAMPLES
]
CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip


class ExampleRun(NamedTuple):
    returncode: int
    stdout: str
    stderr: str
    workdir: Path
    out: Path


def _fake_images(rng: np.random.Generator, n: int, shape: tuple[int, ...], patterns: np.ndarray):
    """``n`` uint8 images: a class pattern plus noise, so that a linear model can learn them."""
    labels = rng.integers(0, 10, n)
    images = 0.7 * patterns[labels] + 0.3 * rng.random((n, *shape))
    return (images * 255).astype(np.uint8), labels.astype(np.uint8)


def _write_fake_data(root: Path) -> None:
    """Small stand-ins for the official MNIST / Fashion-MNIST / CIFAR-10 files."""
    rng = np.random.default_rng(0)
    for name in ("mnist", "fashion-mnist"):
        folder = root / name
        folder.mkdir(parents=True)
        patterns = rng.random((10, 28, 28))
        for split, n in (("train", 2000), ("t10k", 500)):
            images, labels = _fake_images(rng, n, (28, 28), patterns)
            header = struct.pack(">IIII", 0x00000803, n, 28, 28)
            with gzip.open(folder / f"{split}-images-idx3-ubyte.gz", "wb") as fh:
                fh.write(header + images.tobytes())
            with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz", "wb") as fh:
                fh.write(struct.pack(">II", 0x00000801, n) + labels.tobytes())
    folder = root / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    patterns = rng.random((10, 3, 32, 32))
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images, labels = _fake_images(rng, 200, (3, 32, 32), patterns)
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels.tolist(),
            b"data": images.reshape(200, -1),
            b"filenames": [f"{i}.png".encode() for i in range(200)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_cases_per_batch": 200}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))


def _example_env(out: Path, data: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TORCHLINEAR_EXAMPLES_FAST="1",
        TORCHLINEAR_EXAMPLES_OUT=str(out),
        TORCHLINEAR_DATA=str(data),
        MPLBACKEND="Agg",
        PYTHONHASHSEED="0",
        # Tiny problems gain nothing from threads, and two examples run side by side.
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    return env


def _run_example(path: Path, workdir: Path, data: Path) -> ExampleRun:
    workdir.mkdir(parents=True)
    out = workdir / "out"
    # Run from an empty folder so that nothing can land in the repository.
    result = subprocess.run(
        [sys.executable, str(path)],
        cwd=workdir,
        env=_example_env(out, data),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return ExampleRun(result.returncode, result.stdout, result.stderr, workdir, out)


@pytest.fixture(scope="module")
def example_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[Path, bool], ExampleRun]:
    """Run every example case whose test was selected, ``WORKERS`` at a time."""
    selected = [
        (item.callspec.params["path"], item.callspec.params["with_files"])
        for item in request.session.items
        if getattr(item, "originalname", None) == RUN_TEST and hasattr(item, "callspec")
    ]
    root = tmp_path_factory.mktemp("examples")
    no_data, fake_data = root / "no-data", root / "fake-data"
    no_data.mkdir()
    if any(with_files for _, with_files in selected):
        _write_fake_data(fake_data)

    def run(case: tuple[Path, bool]) -> ExampleRun:
        path, with_files = case
        workdir = root / (f"{_case_id(path)}-with-data-files" if with_files else _case_id(path))
        return _run_example(path, workdir, fake_data if with_files else no_data)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(zip(selected, pool.map(run, selected), strict=True))


def test_examples_are_found_and_named_in_order() -> None:
    assert len(EXAMPLES) >= 4, f"expected the example scripts in {EXAMPLES_DIR}"
    for path in EXAMPLES:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.py", path.name), (
            f"{path.name}: name examples NN_topic.py (two-digit order prefix, lower case)"
        )
    for folder in FOLDERS:
        prefixes = [path.name[:2] for path in EXAMPLES if path.parent == folder]
        assert len(set(prefixes)) == len(prefixes), f"two examples share a prefix: {prefixes}"
    # The Chinese companion follows the textbook's sections 3.1-3.7 one notebook each.
    zh = {path.name[:2] for path in EXAMPLES if path.parent.name == "zh"}
    assert {f"3{k}" for k in range(1, 8)} <= zh, f"examples/zh lacks sections: {sorted(zh)}"


@pytest.mark.parametrize(("path", "with_files"), CASES)
def test_example_runs_and_writes_figures(
    path: Path, with_files: bool, example_runs: dict[tuple[Path, bool], ExampleRun]
) -> None:
    run = example_runs[(path, with_files)]
    assert run.returncode == 0, (
        f"{path.name} exited with {run.returncode}\n--- stdout (end) ---\n"
        f"{run.stdout[-3000:]}\n--- stderr (end) ---\n{run.stderr[-6000:]}"
    )
    folder = run.out / path.stem
    assert str(folder.resolve()) in run.stdout, (
        f"{path.name} should print the folder its figures go to ({folder.resolve()})"
    )
    pngs = sorted(run.out.rglob("*.png"))
    assert pngs, f"{path.name} wrote no PNG under {run.out}"
    for png in pngs:
        assert png.parent == folder, f"{png} is outside the example's folder {folder}"
        head = png.read_bytes()[:8]
        assert png.stat().st_size > 1000 and head == PNG_SIGNATURE, f"{png} is not a real PNG"
    assert not (run.workdir / "runs").exists(), f"{path.name} ignored TORCHLINEAR_EXAMPLES_OUT"
    assert "Traceback" not in run.stderr, f"{path.name} printed a traceback:\n{run.stderr}"
    if with_files:
        assert "not found" not in run.stdout, f"{path.name} did not use the data files"


def test_examples_parse_as_notebooks() -> None:
    # The same conversion as `jupytext --to notebook --output - examples/X.py`, in process.
    jupytext = pytest.importorskip("jupytext")
    for path in EXAMPLES:
        notebook = jupytext.read(path)
        assert json.loads(jupytext.writes(notebook, fmt="ipynb"))["nbformat"] == 4
        cells = notebook.cells
        kinds = [cell.cell_type for cell in cells]
        assert len(cells) > 1, f"{path.name} has {len(cells)} cell; use '# %%' cell markers"
        assert kinds[0] == "markdown", f"{path.name} should open with a markdown title cell"
        assert cells[0].source.startswith("# "), f"{path.name}: the first cell needs a title"
        assert kinds.count("code") >= 2 and "markdown" in kinds[1:], (
            f"{path.name}: expected several code cells with explanations between them"
        )
    # And once through the command line, as a learner would convert a file.
    result = subprocess.run(
        [sys.executable, "-m", "jupytext", "--to", "notebook", "--output", "-", str(EXAMPLES[0])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["cells"]) > 1


def test_readme_lists_every_example() -> None:
    readme = (EXAMPLES_DIR / "README.md").read_text(encoding="utf-8")
    missing = [
        name
        for name in (path.relative_to(EXAMPLES_DIR).as_posix() for path in EXAMPLES)
        if name not in readme
    ]
    assert not missing, f"examples/README.md does not mention {missing}"


def test_chinese_notebooks_use_the_textbooks_terms() -> None:
    # 迭代周期 for epoch and 未规范化的预测 for logits, as the textbook writes them.
    zh = [path for path in EXAMPLES if path.parent.name == "zh"]
    assert zh, "expected the Chinese notebooks in examples/zh"
    for path in zh:
        text = path.read_text(encoding="utf-8")
        assert "《动手学深度学习》" in text, f"{path.name} should name the textbook"
        for wrong in ("对数几率", "轮次", "每轮", "教科书"):
            assert wrong not in text, f"{path.name} says {wrong!r}; use the textbook's term"
