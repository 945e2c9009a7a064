"""The run-folder transaction never writes through, or deletes, what a fit did not make."""

import os
from pathlib import Path

import pytest

from torchlinear._validation import ParameterError
from torchlinear.rundir import RunFolder


def _open(out: Path, **kw) -> RunFolder:
    return RunFolder(out, overwrite=kw.get("overwrite", False), resume=False).open()


def test_a_lock_path_that_is_a_link_is_refused_and_its_target_untouched(tmp_path):
    thesis = tmp_path / "thesis.txt"
    thesis.write_text("forty pages")
    (tmp_path / ".run.lock").symlink_to(thesis)
    with pytest.raises(ParameterError, match=r"\.run\.lock' is not a lock file of a fit"):
        _open(tmp_path / "run")
    assert thesis.read_text() == "forty pages"
    assert not (tmp_path / "run").exists() and not (tmp_path / ".run.partial").exists()


@pytest.mark.parametrize("side", [".run.old", ".run.partial"])
@pytest.mark.parametrize("kind", ["folder", "file", "link"])
def test_a_side_path_holding_user_files_is_refused_and_kept(tmp_path, side, kind):
    # recovering a swap or staging a run used to delete (or move into place) whatever
    # stood at .NAME.old / .NAME.partial, even when the fit was then refused
    path = tmp_path / side
    if kind == "folder":
        path.mkdir()
        (path / "results.txt").write_text("mine")
    elif kind == "file":
        path.write_text("mine")
    else:
        (tmp_path / "elsewhere").mkdir()
        path.symlink_to(tmp_path / "elsewhere")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(ParameterError, match="holds files that no fit wrote"):
        _open(tmp_path / "run", overwrite=True)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_what_a_killed_fit_left_is_still_recovered(tmp_path):
    # a staging folder with a file being written, and an empty one, are a fit's own
    staging = tmp_path / ".run.partial"
    staging.mkdir()
    (staging / ".report.md.x1y2.tmp").write_text("half")
    with RunFolder(tmp_path / "run", overwrite=False, resume=False) as run:
        assert run.staging.is_dir() and not any(run.staging.iterdir())
    assert not staging.exists() or not any(staging.iterdir())


def test_an_out_that_is_a_link_loop_is_refused_in_one_line(tmp_path):
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    with pytest.raises(ParameterError, match="symbolic link that leads back to itself"):
        RunFolder(tmp_path / "a", overwrite=False, resume=False)


@pytest.mark.parametrize("where", ["model.json", "checkpoint/model.json"])
def test_a_deeply_nested_model_json_makes_no_run(tmp_path, where):
    # the test of "is this a run?" parsed any model.json of up to 64 MB unbounded: a
    # million nested brackets ended the command in a RecursionError traceback
    out = tmp_path / "run"
    (out / where).parent.mkdir(parents=True, exist_ok=True)
    (out / where).write_text("[" * 1_000_000 + "]" * 1_000_000)
    with pytest.raises(ParameterError, match="is a folder of other files"):
        _open(out, overwrite=True)
    assert (out / where).stat().st_size == 2_000_000
