"""Every example runs end to end in fast mode, writes its figures and opens as a notebook.

The examples are discovered from ``examples/*.py``, ``examples/zh/*.py`` and
``examples/exercises/*.py``, so a new example is tested as soon as it exists. Each one runs
as a learner would run it, as ``__main__`` from an empty folder, with the Agg backend,
``TORCHLINEAR_EXAMPLES_FAST=1`` and a temporary output folder; the examples' own ``assert``
statements check their claims, so a passing run is a passing test of them.

Most of a small example's cost is starting Python and importing torch, so the selected
examples are shared out, from one queue, between ``WORKERS`` long-lived interpreters
(``_runner.py``) that run one script after another with everything a script can change put
back in between (environment, folder, modules of the library, rc settings, torch's
generator); each parametrised test then checks the outcome of its own example, and a
failure shows that script's traceback. Data files are never read from the user's cache:
examples that read the official data sets get small files written in the official formats
(MNIST/Fashion-MNIST IDX, CIFAR-10 pickles), and the companion notebooks that bring their
own stand-in get an empty folder, so the stand-in is written in the IDX format and read back
by the real reader.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import queue
import re
import struct
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
RUNNER = Path(__file__).with_name("_runner.py")
# The English examples, the Chinese companion to the textbook's chapter 3 and the exercises.
FOLDERS = (EXAMPLES_DIR, EXAMPLES_DIR / "zh", EXAMPLES_DIR / "exercises")
EXAMPLES = [
    p for folder in FOLDERS for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RUN_TEST = "test_example_runs_and_writes_figures"
WORKERS = max(1, min(2, os.cpu_count() or 1))
TIMEOUT = 300  # seconds for one example

# Examples that read official data files get small fake ones in the official formats, except
# those that write their own stand-in when the files are missing (the path a fresh checkout
# takes), which exercises the same reader on generated files.
FILE_READERS = (
    "datasets.mnist(",
    "datasets.fashion_mnist(",
    "datasets.cifar10(",
    "load_data_fashion_mnist(",
)
STANDIN = "use_standin_if_missing("
FILE_EXAMPLES = [
    p
    for p in EXAMPLES
    if any(call in (text := p.read_text(encoding="utf-8")) for call in FILE_READERS)
    and STANDIN not in text
]
STANDIN_EXAMPLES = [p for p in EXAMPLES if STANDIN in p.read_text(encoding="utf-8")]


def _case_id(path: Path) -> str:
    """``01_x`` for an English example, ``zh-31_x`` / ``exercises-01_x`` in the sub-folders."""
    folder = path.parent.relative_to(EXAMPLES_DIR).as_posix()
    return path.stem if folder == "." else f"{folder}-{path.stem}"


CASES = [pytest.param(p, id=_case_id(p)) for p in EXAMPLES]
CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip


class ExampleRun(NamedTuple):
    returncode: int
    stdout: str
    stderr: str
    workdir: Path
    out: Path
    seconds: float
    cpu_seconds: float


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
        for split, n in (("train", 1000), ("t10k", 300)):
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


def _example_env(out: Path, data: Path, tmp: Path) -> dict[str, str]:
    return {
        "TORCHLINEAR_EXAMPLES_FAST": "1",
        "TORCHLINEAR_EXAMPLES_OUT": str(out),
        "TORCHLINEAR_DATA": str(data),
        # Stand-in data written by a notebook lands here and is shared by the others.
        "TMPDIR": str(tmp),
        "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0",
        # A character the figure's font lacks is drawn as an empty box: say so every time, so
        # that the test below sees it even when an earlier script in the worker warned first.
        "PYTHONWARNINGS": "always:Glyph:UserWarning",
        # Tiny problems gain nothing from threads, and two examples run side by side.
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


class _Worker:
    """One long-lived ``_runner.py`` interpreter; started again if a script kills it."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env, self.proc = root, env, None
        self.log = root / f"runner-{id(self)}.log"
        self.log_file = None

    def run(self, case: dict) -> dict:
        if self.proc is None:
            if self.log_file is None:
                self.log_file = self.log.open("ab")
            self.proc = subprocess.Popen(
                [sys.executable, str(RUNNER)],
                cwd=self.root,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.log_file,
                text=True,
                encoding="utf-8",
            )
        proc = self.proc
        timed_out = threading.Event()
        watchdog = threading.Timer(TIMEOUT, lambda: (timed_out.set(), proc.kill()))
        watchdog.start()
        try:
            proc.stdin.write(json.dumps(case) + "\n")
            proc.stdin.flush()
            answer = proc.stdout.readline()
        except OSError:
            answer = ""
        finally:
            watchdog.cancel()
        if answer:
            return json.loads(answer)
        # The interpreter died inside this script (crash, os._exit, timeout): say so, with
        # what the interpreter itself wrote, in the script's stderr.
        returncode = proc.wait()
        self.proc = None
        why = f"timed out after {TIMEOUT} s" if timed_out.is_set() else "the interpreter died"
        with open(Path(case["workdir"]) / "stderr.txt", "a", encoding="utf-8") as err:
            err.write(f"\n[{why}, exit status {returncode}]\n{_read(self.log)[-3000:]}")
        nan = float("nan")
        return {"returncode": returncode or -1, "seconds": nan, "cpu_seconds": nan}

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                # every answer is in; an interpreter slow to exit (a loaded machine) is not a
                # failure of any example
                self.proc.kill()
                self.proc.wait()
        if self.log_file is not None:
            self.log_file.close()


@pytest.fixture(scope="module")
def example_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[Path, ExampleRun]:
    """Run every example whose test was selected, ``WORKERS`` interpreters at a time."""
    selected = [
        item.callspec.params["path"]
        for item in request.session.items
        if getattr(item, "originalname", None) == RUN_TEST and hasattr(item, "callspec")
    ]
    root = tmp_path_factory.mktemp("examples")
    no_data, fake_data, tmp = root / "no-data", root / "fake-data", root / "tmp"
    no_data.mkdir()
    tmp.mkdir()
    if any(path in FILE_EXAMPLES for path in selected):
        _write_fake_data(fake_data)
    env = dict(os.environ) | _example_env(root / "out", no_data, tmp)
    todo: queue.Queue[Path] = queue.Queue()
    for path in selected:
        todo.put(path)
    runs: dict[Path, ExampleRun] = {}

    def work() -> None:
        worker = _Worker(root, env)
        try:
            while True:
                try:
                    path = todo.get_nowait()
                except queue.Empty:
                    return
                workdir = root / _case_id(path)
                data = fake_data if path in FILE_EXAMPLES else no_data
                case = {
                    "path": str(path),
                    "workdir": str(workdir),
                    "env": _example_env(workdir / "out", data, tmp),
                    "module_roots": [str(folder) for folder in FOLDERS],
                }
                result = worker.run(case)
                runs[path] = ExampleRun(
                    result["returncode"],
                    _read(workdir / "stdout.txt"),
                    _read(workdir / "stderr.txt"),
                    workdir,
                    workdir / "out",
                    result["seconds"],
                    result["cpu_seconds"],
                )
        finally:
            worker.close()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for future in [pool.submit(work) for _ in range(WORKERS)]:
            future.result()
    return runs


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


@pytest.mark.parametrize("path", CASES)
def test_example_runs_and_writes_figures(
    path: Path, example_runs: dict[Path, ExampleRun], record_property
) -> None:
    run = example_runs[path]
    record_property("cpu_seconds", run.cpu_seconds)
    assert run.returncode == 0, (
        f"{path} exited with {run.returncode}\n--- stdout (end) ---\n"
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
    missing = [line for line in run.stderr.splitlines() if "missing from font" in line]
    assert not missing, (
        f"{path.name} drew characters its figure font lacks (they show as empty boxes); "
        f"write the figure's text in English or choose a font that has them:\n{missing[0]}"
    )
    if path in FILE_EXAMPLES:
        assert "not found" not in run.stdout, f"{path.name} did not use the data files"
    if path in STANDIN_EXAMPLES:
        assert "替身数据" in run.stdout, f"{path.name} did not announce its stand-in data"


def test_examples_parse_as_notebooks(tmp_path: Path) -> None:
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
    # And once through the command line, as a learner would convert a file (jupytext signs
    # the notebook it writes: its Jupyter data files go to tmp_path, not the user's home).
    result = subprocess.run(
        [sys.executable, "-m", "jupytext", "--to", "notebook", "--output", "-", str(EXAMPLES[0])],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, JUPYTER_DATA_DIR=str(tmp_path)),
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
    chinese = [path for path in EXAMPLES if path.parent.name in ("zh", "exercises")]
    assert {path.parent.name for path in chinese} == {"zh", "exercises"}, (
        "expected the Chinese notebooks in examples/zh and the exercises in examples/exercises"
    )
    for path in chinese:
        text = path.read_text(encoding="utf-8")
        assert "《动手学深度学习》" in text, f"{path.name} should name the textbook"
        for wrong in ("对数几率", "轮", "教科书"):
            assert wrong not in text, f"{path.name} says {wrong!r}; use the textbook's term"


def test_exercises_have_a_hint_an_answer_and_a_check() -> None:
    jupytext = pytest.importorskip("jupytext")
    exercises = [path for path in EXAMPLES if path.parent.name == "exercises"]
    found = 0
    for path in exercises:
        cells = jupytext.read(path).cells
        for i, cell in enumerate(cells):
            if cell.cell_type != "markdown" or not cell.source.startswith("## 练习"):
                continue
            found += 1
            title = cell.source.splitlines()[0]
            assert "<summary>提示</summary>" in cell.source, f"{path.name} {title}: no hint"
            assert "<summary>解答</summary>" in cell.source, f"{path.name} {title}: no answer"
            following = []
            for later in cells[i + 1 :]:
                if later.cell_type == "markdown" and later.source.startswith("## "):
                    break
                following.append(later)
            code = "\n".join(c.source for c in following if c.cell_type == "code")
            assert "assert " in code, f"{path.name} {title}: the answer is not checked by code"
    assert found >= 6, f"expected at least 6 exercises in examples/exercises, found {found}"
