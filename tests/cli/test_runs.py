"""Run folders under hostile use: re-used, shared, interrupted, killed, resumed on other data.

Every refusal is one line on stderr, exit code 2, and leaves the output folder byte for
byte as it was (or absent).
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from torchlinear.estimators.persist import load_estimator
from torchlinear.rundir import RunFolder

MLP = ["--model", "mlp", "--hidden", "4", "--batch-size", "32", "--no-progress"]


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) and the SHA-256 of its bytes."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("torchlinear: error: "), err
    for needle in needles:
        assert needle in lines[0], err


@pytest.fixture
def fitted(houses_csv, tmp_path, run_cli, one_thread):
    """A complete run of gradient training (4 epochs) in ``tmp_path/run``."""
    path, _, _ = houses_csv
    out = tmp_path / "run"
    code, _, err = run_cli(["fit", str(path), "--target", "price", "--out", str(out)] + MLP
                           + ["--epochs", "4"])  # fmt: skip
    assert code == 0, err
    return path, out


# ----------------------------------------------------------------- output explosion


def test_an_id_column_as_target_is_refused_with_its_count(tmp_path, run_cli):
    rng = np.random.default_rng(0)
    rows = [f"u{i:05d},{rng.normal():.6f},{rng.normal():.6f}" for i in range(1500)]
    data = tmp_path / "ids.csv"
    data.write_text("id,a,b\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    code, _, err = run_cli(["fit", str(data), "--target", "id", "--out", str(out)])
    one_line_error(code, err, "1,500 distinct values in 1,500 rows", "--max-classes")
    code, _, err = run_cli(["fit", str(data), "--target", "id", "--out", str(out), "--stream",
                            "--model", "softmax", "--solver", "adam"])  # fmt: skip
    one_line_error(code, err, "1,500 distinct values", "is it an ID column?")
    # an explicit limit is the only rule then
    code, _, err = run_cli(["fit", str(data), "--target", "id", "--out", str(out),
                            "--max-classes", "1000"])  # fmt: skip
    one_line_error(code, err, "the limit is 1,000")
    assert not out.exists() and leftovers(out) == []
    small = tmp_path / "few.csv"  # 60 rows, 60 values: refused although under the limit
    small.write_text("id,a\n" + "".join(f"u{i},{i % 7}\n" for i in range(60)))
    code, _, err = run_cli(["fit", str(small), "--target", "id", "--out", str(out)])
    one_line_error(code, err, "60 distinct values in 60 rows", "most of its values occur once")
    assert not out.exists() and leftovers(out) == []


def test_confusion_matrices_are_written_once_and_compactly(tmp_path, run_cli, one_thread):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2))
    labels = np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    data = tmp_path / "three.csv"
    data.write_text(
        "x1,x2,kind\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(X, labels, strict=True))
    )
    out = tmp_path / "out"
    code, _, err = run_cli(["fit", str(data), "--target", "kind", "--out", str(out)])
    assert code == 0, err
    metrics = (out / "metrics.json").read_text()
    doc = json.loads(metrics)
    matrix = np.array(doc["validation"]["confusion_matrix"])
    assert matrix.shape == (3, 3) and matrix.sum() == doc["validation"]["n"]
    assert np.trace(matrix) == round(doc["validation"]["accuracy"] * doc["validation"]["n"])
    assert "[" + ", ".join(map(str, matrix[0])) + "]" in metrics  # one row, one line
    assert "confusion_matrix" not in (out / "model.json").read_text()


def test_confusion_matrix_is_left_out_beyond_its_class_limit():
    from torchlinear.workflow.metrics import ClassificationMeter
    from torchlinear.workflow.settings import CONFUSION_MAX_CLASSES

    k = CONFUSION_MAX_CLASSES + 1
    meter = ClassificationMeter(np.arange(k))
    y = np.arange(k)
    log_proba = np.log(np.full((k, k), 1.0 / k))
    log_proba[np.arange(k), y] = 0.0  # every row right
    meter.update(y, log_proba)
    result = meter.result()
    assert "confusion_matrix" not in result and str(k) in result["confusion_matrix_omitted"]
    assert result["accuracy"] == 1.0 and result["n"] == k


# ------------------------------------------------------------------ run folders


def test_an_existing_run_is_refused_unless_overwrite(houses_csv, tmp_path, run_cli):
    path, _, _ = houses_csv
    out = tmp_path / "run"
    argv = ["fit", str(path), "--target", "price", "--out", str(out)]
    assert run_cli(argv)[0] == 0
    before = tree(out)
    code, _, err = run_cli(argv + ["--alpha", "5"])
    one_line_error(code, err, "already holds a run", "--overwrite")
    assert tree(out) == before
    (out / "loss_curves.png").write_bytes(b"a figure of an earlier gradient fit")
    code, _, err = run_cli(argv + ["--alpha", "5", "--overwrite"])
    assert code == 0, err
    after = tree(out)
    assert "loss_curves.png" not in after and after["model.json"] != before["model.json"]
    assert leftovers(out) == []


def test_overwrite_never_replaces_a_folder_that_is_not_a_run(houses_csv, tmp_path, run_cli):
    path, _, _ = houses_csv
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    before = tree(out)
    code, _, err = run_cli(["fit", str(path), "--target", "price", "--out", str(out),
                            "--overwrite"])  # fmt: skip
    one_line_error(code, err, "folder of other files")
    assert tree(out) == before


@pytest.mark.parametrize("decoy", ["model.json", "checkpoint/"])
def test_a_file_named_like_a_run_does_not_make_a_folder_a_run(houses_csv, tmp_path, run_cli, decoy):
    path, _, _ = houses_csv
    out = tmp_path / "project"
    out.mkdir()
    shutil.copy(path, out / "data.csv")  # the very file being fitted
    if decoy == "model.json":
        (out / "model.json").write_text('{"modelTopology": "another library\'s model"}')
    else:
        (out / "checkpoint").mkdir()
    before = tree(out)
    for flag in ("--overwrite", "--resume"):
        code, _, err = run_cli(["fit", str(out / "data.csv"), "--target", "price", "--out",
                                str(out), flag])  # fmt: skip
        one_line_error(code, err, "folder of other files" if flag == "--overwrite" else "")
        assert tree(out) == before and leftovers(out) == []


@pytest.mark.parametrize("flag", ["--overwrite", "--resume"])
def test_a_run_folder_holding_other_files_is_never_replaced(fitted, run_cli, flag):
    path, out = fitted  # gradient training: a run that --resume can continue
    (out / "notes.txt").write_text("what I found")
    before = tree(out)
    argv = ["fit", str(path), "--target", "price", "--out", str(out), *MLP, "--epochs", "6"]
    code, _, err = run_cli([*argv, flag])
    one_line_error(code, err, "holds a run and also other files ('notes.txt')", "move them")
    assert tree(out) == before and leftovers(out) == []


def test_a_second_fit_into_a_locked_folder_fails_fast(houses_csv, tmp_path, run_cli):
    path, _, _ = houses_csv
    out = tmp_path / "run"
    holder = RunFolder(out, overwrite=False, resume=False)
    holder.acquire()  # as another fit would
    try:
        start = time.perf_counter()
        code, _, err = run_cli(["fit", str(path), "--target", "price", "--out", str(out)])
        one_line_error(code, err, "being written by another fit", f"process {os.getpid()}")
        assert time.perf_counter() - start < 30
    finally:
        holder.release()
    assert not out.exists()
    assert run_cli(["fit", str(path), "--target", "price", "--out", str(out)])[0] == 0


def test_fits_started_in_the_same_second_without_out_take_their_own_folders(
    houses_csv, tmp_path, run_cli, monkeypatch
):
    """The default --out is named by the second: a fit that finds the name taken (a run
    there, or another fit still writing it) takes -2, -3, ... under the lock."""
    from torchlinear import rundir

    path, _, _ = houses_csv
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(rundir, "run_stamp", lambda: "20250101-120000")
    argv = ["fit", str(path), "--target", "price", "--features", "area"]
    code, out, _ = run_cli(argv)
    assert code == 0 and "Wrote runs/fit-20250101-120000/" in out
    busy = RunFolder(tmp_path / "runs" / "fit-20250101-120000-2", overwrite=False, resume=False)
    busy.acquire()  # another fit of the same second, still writing its run
    try:
        code, out, err = run_cli(argv)
        assert code == 0 and "Wrote runs/fit-20250101-120000-3/" in out, err
    finally:
        busy.release()
    code, out, _ = run_cli([*argv, "--features", "rooms"])
    assert code == 0 and "Wrote runs/fit-20250101-120000-2/" in out
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == [f"fit-20250101-120000{s}" for s in ("", "-2", "-3")]  # nothing left over
    features = [
        load_estimator(tmp_path / "runs" / name).feature_names_in_.tolist() for name in runs
    ]
    assert features == [["area"], ["rooms"], ["area"]]


def test_a_diverging_fit_leaves_the_previous_run_and_its_checkpoint(fitted, run_cli):
    path, out = fitted
    before = tree(out)
    code, _, err = run_cli(["fit", str(path), "--target", "price", "--out", str(out),
                            "--overwrite", "--solver", "sgd", "--lr", "1e6"] + MLP)  # fmt: skip
    assert code == 2 and "diverged" in err, err
    assert tree(out) == before and leftovers(out) == []


def test_a_crash_between_swap_steps_is_recovered(tmp_path):
    def model(note: str) -> str:
        return json.dumps({"format": "torchlinear", "note": note})

    out = tmp_path / "run"
    out.mkdir()
    (out / "model.json").write_text(model("old"))
    folder = RunFolder(out, overwrite=True, resume=False)
    # killed after moving the old run aside, before moving the new one in
    os.rename(out, folder.trash)
    folder.staging.mkdir()
    (folder.staging / "model.json").write_text(model("new"))
    with folder:
        assert (out / "model.json").read_text() == model("old")  # the previous complete run
        assert not folder.trash.exists()
        (folder.staging / "model.json").write_text(model("newer"))
        folder.commit()
    assert (out / "model.json").read_text() == model("newer") and leftovers(out) == []


# ---------------------------------------------------------------------- resume


def _changed_copy(path: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "other.csv"
    copy.write_bytes(path.read_bytes())
    return copy


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (["--lr", "0.5"], "--lr differs"),
        (["--seed", "3"], "--seed differs"),
        (["--batch-size", "16"], "--batch-size differs"),
        (["--hidden", "5"], "--hidden differs"),
        (["--val-split", "0.3"], "--val-split differs"),
        (["--alpha", "0.1"], "--alpha differs"),
        (["--features", "area,rooms"], "the feature list differs"),
        (["--target", "rooms"], "the target differs"),
        (["--epochs", "2"], "fewer than the 4"),
        ("other file", "the data file differs"),
        ("appended row", "size differs"),
        ("touched", "modification time differs"),
        ("edited byte", "contents"),
    ],
)
def test_resume_refuses_any_difference_naming_it(
    houses_csv, tmp_path, run_cli, one_thread, change, needle
):
    path, _, _ = houses_csv
    out = tmp_path / "run"
    data = tmp_path / "data.csv"
    shutil.copy2(path, data)  # the run to resume is fitted on a copy, which can be changed
    # the pictures play no part in resuming
    base = ["fit", str(data), "--target", "price", "--out", str(out), "--no-figures"] + MLP
    assert run_cli(base + ["--epochs", "4"])[0] == 0
    before = tree(out)
    argv = base + ["--epochs", "4", "--resume"]
    if change == "other file":
        argv[1] = str(_changed_copy(data, tmp_path))
    elif change == "appended row":
        with open(data, "a") as f:
            f.write("100,3,0.5,150000\n")
    elif change == "touched":
        os.utime(data, ns=(time.time_ns(), time.time_ns() + 10**9))
    elif change == "edited byte":
        stat = data.stat()
        raw = bytearray(data.read_bytes())
        raw[-3] = ord("7") if raw[-3] != ord("7") else ord("8")
        data.write_bytes(bytes(raw))
        os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    else:
        if "--target" in change:
            argv[argv.index("--target") + 1] = change[1]
            change = []
        argv += change
    code, _, err = run_cli(argv)
    one_line_error(code, err, "--resume", needle)
    assert tree(out) == before and leftovers(out) == []


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        ("truncated", "is not valid JSON"),
        ("removed", "it holds no model.json"),
        ("foreign", "not a torchlinear model file"),
    ],
)
def test_resume_from_a_damaged_checkpoint_says_so(fitted, run_cli, damage, needle):
    path, out = fitted
    model = out / "checkpoint" / "model.json"
    if damage == "truncated":
        model.write_bytes(model.read_bytes()[:40])
    elif damage == "removed":
        model.unlink()
    else:
        model.write_text('{"format": "other"}')
    before = tree(out)
    code, _, err = run_cli(["fit", str(path), "--target", "price", "--out", str(out), "--resume",
                            "--epochs", "7"] + MLP)  # fmt: skip
    one_line_error(code, err, "--resume: the checkpoint in", "cannot be resumed", needle)
    assert f"{out / 'checkpoint'}'" in err and "delete that folder" in err
    assert tree(out) == before and leftovers(out) == []


def test_resume_with_more_epochs_continues_exactly(fitted, tmp_path, run_cli):
    path, out = fitted
    code, _, err = run_cli(["fit", str(path), "--target", "price", "--out", str(out), "--resume",
                            "--epochs", "7"] + MLP)  # fmt: skip
    assert code == 0, err
    whole = tmp_path / "whole"
    code, _, err = run_cli(["fit", str(path), "--target", "price", "--out", str(whole),
                            "--epochs", "7"] + MLP)  # fmt: skip
    assert code == 0, err
    a, b = load_estimator(out), load_estimator(whole)
    for name, value in b.module_.state_dict().items():
        torch.testing.assert_close(a.module_.state_dict()[name], value, rtol=0, atol=0)
    assert len(a.history_) == 7


# ------------------------------------------------------------- inputs and outputs


def test_predict_never_writes_over_its_input_or_the_model(fitted, tmp_path, run_cli):
    path, out = fitted
    data = tmp_path / "new.csv"
    shutil.copy2(path, data)
    (tmp_path / "soft").symlink_to(data)
    os.link(data, tmp_path / "hard.csv")
    before_data, before_run = data.read_bytes(), tree(out)
    cases = [
        (data, "is the input data file"),
        (tmp_path / "soft", "is the input data file"),
        (tmp_path / "hard.csv", "is the input data file"),
        (out / "predictions.csv", "inside the model folder"),
        (out / "model.json", "inside the model folder"),
    ]
    for target, needle in cases:
        code, _, err = run_cli(["predict", str(out), str(data), "-o", str(target)])
        one_line_error(code, err, needle, "--output")
    assert data.read_bytes() == before_data and tree(out) == before_run


def test_an_empty_path_is_never_the_current_folder(houses_csv, tmp_path, run_cli, monkeypatch):
    """``--out "$RUN" --overwrite`` with an empty variable must not replace the run in the
    current folder, nor ``predict "$RUN"`` quietly load it."""
    path, _, _ = houses_csv
    out = tmp_path / "run"
    assert run_cli(["fit", str(path), "--target", "price", "--out", str(out)])[0] == 0
    before = tree(out)
    monkeypatch.chdir(out)
    cases = [
        (["fit", str(path), "--target", "price", "--out", "", "--overwrite"], "--out is empty"),
        (["predict", "", str(path), "-o", str(tmp_path / "p.csv")], "MODEL is empty"),
        (["summary", ""], "MODEL is empty"),
        (["predict", str(out), str(path), "-o", ""], "--output is empty"),
        (["evaluate", str(out), ""], "'' is not a file and not a built-in dataset"),
    ]
    for argv, needle in cases:
        one_line_error(*run_cli(argv)[:3:2], needle)
    assert tree(out) == before and not (tmp_path / "p.csv").exists()


# ------------------------------------------------------ signals and kill -9


def _start(argv: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "torchlinear", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_concurrent_fit_fails_fast_then_sigterm_checkpoints(tmp_path, run_cli):
    rng = np.random.default_rng(0)  # unit-scale data: training is still improving when stopped
    X = rng.normal(size=(400, 3))
    y = X @ [1.0, 2.0, 3.0] + rng.normal(size=400)
    path = tmp_path / "data.csv"
    path.write_text("a,b,c,price\n" + "".join(f"{a},{b},{c},{t}\n" for (a, b, c), t in
                                              zip(X, y, strict=True)))  # fmt: skip
    out = tmp_path / "run"
    # a checkpoint every 1000 / 20 epochs: the first comes after 50 of the ~850 it trains
    argv = ["fit", str(path), "--target", "price", "--out", str(out), "--epochs", "1000"] + MLP
    first = _start(argv)
    try:
        _wait_for(tmp_path / ".run.partial" / "checkpoint" / "model.json", first)
        code, _, err = run_cli(argv)  # a second fit into the same folder, meanwhile
        one_line_error(code, err, "being written by another fit", f"process {first.pid}")
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 130, err
    lines = [ln for ln in err.strip().splitlines() if "warning" not in ln]
    assert len(lines) == 1 and "training interrupted" in lines[0] and "--resume" in lines[0], err
    assert not out.exists()  # nothing half-written: the checkpoint waits in the staging folder
    assert leftovers(out) == [".run.partial"]


def _importing_torch(proc: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until the process has begun loading torch's libraries: the command's own
    start-up, past the interpreter's (a signal before that is Python's, not ours)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/maps") as maps:
                if "torch" in maps.read():
                    return
        except OSError:
            pass
        time.sleep(0.005)


@pytest.mark.parametrize("delay", ["importing", 1.0, 2.5])
def test_ctrl_c_while_starting_is_one_line(houses_csv, tmp_path, delay):
    path, _, _ = houses_csv
    out = tmp_path / "run"
    proc = _start(["fit", str(path), "--target", "price", "--out", str(out), "--epochs",
                   "100000"] + MLP)  # fmt: skip
    if delay == "importing":
        _importing_torch(proc)
    else:
        time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    # 130, or (seen once under load) death by SIGINT itself after the line was printed:
    # a shell reports both as exit status 130
    assert proc.returncode in (130, -signal.SIGINT), err
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if "warning" not in ln]
    assert len(lines) == 1 and lines[0].startswith("torchlinear: "), err
    assert not out.exists()


def test_kill_9_leaves_a_complete_run_and_resume_continues_exactly_or_refuses(
    houses_csv, tmp_path, run_cli, one_thread
):
    """kill -9 at random points of a fit that replaces a previous run."""
    path, _, _ = houses_csv
    out = tmp_path / "run"
    common = ["fit", str(path), "--target", "price", "--epochs", "60"] + MLP
    assert run_cli(common + ["--out", str(out), "--seed", "1"])[0] == 0  # the previous run
    previous = tree(out)
    saved = tmp_path / "saved"
    shutil.copytree(out, saved)

    def is_new(folder: Path) -> bool:
        state = load_estimator(folder).module_.state_dict()
        return all(torch.equal(state[k], v) for k, v in reference.items())

    rng = np.random.default_rng(2024)
    delays = [None] + [rng.uniform(0, 0.5) for _ in range(3)]
    # each trial replaces its own copy of the previous run; the fits run side by side
    outs = [tmp_path / f"trial{trial}" / "run" for trial in range(4)]

    def killed(trial: int) -> None:
        out = outs[trial]
        shutil.copytree(saved, out)
        proc = _start(common + ["--out", str(out), "--seed", "0", "--overwrite"])
        try:
            if delays[trial] is None:  # early: as soon as the lock is taken
                _wait_for(out.parent / ".run.lock", proc)
            else:  # mid-training, a random time after the first checkpoint
                _wait_for(out.parent / ".run.partial" / "checkpoint" / "model.json", proc)
                time.sleep(delays[trial])
        finally:
            proc.kill()
            proc.communicate()

    with ThreadPoolExecutor(max_workers=len(outs)) as pool:
        trials = pool.map(killed, range(len(outs)))
        # meanwhile, the uninterrupted fit that a resumed one must equal
        assert run_cli(common + ["--out", str(tmp_path / "ref"), "--seed", "0"])[0] == 0
        reference = load_estimator(tmp_path / "ref").module_.state_dict()
        list(trials)
    outcomes = set()
    for trial, out in enumerate(outs):
        state = tree(out)
        assert state == previous or is_new(out), f"trial {trial}: a mixed run folder"
        code, _, err = run_cli(common + ["--out", str(out), "--seed", "0", "--resume"])
        if code == 0:
            assert is_new(out), f"trial {trial}: resume did not continue exactly"
            outcomes.add("continued")
        else:
            one_line_error(code, err, "--resume")
            assert tree(out) == state
            outcomes.add("refused")
        assert not (out.parent / ".run.lock").exists()
    assert "continued" in outcomes
