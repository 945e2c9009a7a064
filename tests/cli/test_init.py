"""The entry point: every command's ``--help`` starts without the heavy libraries."""

import argparse
import json
import subprocess
import sys

import pytest

from torchlinear import cli

HEAVY = ("torch", "numpy", "scipy", "sklearn", "matplotlib", "pyarrow", "pandas", "polars")


def _commands(parser=None, prefix=()):
    """Every command path of the parser: (), ("demo",), ("demo", "softmax"), ..."""
    parser = parser or cli.build_parser()
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*prefix, name))


COMMANDS = list(_commands())


def test_every_command_and_topic_is_listed():
    assert {"fit", "predict", "evaluate", "summary", "demo"} <= {c[0] for c in COMMANDS if c}
    assert ("demo", "linreg") in COMMANDS and ("demo", "softmax") in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "torchlinear")
def test_help_imports_no_heavy_module(command):
    code = (
        "import json, sys\n"
        "from torchlinear.cli import main\n"
        "try:\n"
        f"    main({[*command, '--help']!r})\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    modules = json.loads(proc.stdout.strip().splitlines()[-1])
    loaded = sorted({m.split(".")[0] for m in modules} & set(HEAVY))
    assert loaded == [], f"`torchlinear {' '.join(command)} --help` imported {loaded}"
    assert "usage: torchlinear" in proc.stdout


def test_import_torchlinear_stays_light():
    code = "import json, sys, torchlinear; print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {m.split(".")[0] for m in json.loads(proc.stdout)} & set(HEAVY)
    assert loaded == set()


def test_the_package_lists_its_public_names_only():
    import torchlinear

    public = [name for name in dir(torchlinear) if not name.startswith("_")]
    assert set(public) == (set(torchlinear.__all__) - {"__version__"}) | {"d2l"}
    for name in public:
        assert getattr(torchlinear, name) is not None


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "usage: torchlinear" in capsys.readouterr().out


def test_a_bug_keeps_its_traceback(monkeypatch):
    def broken(args):
        raise TypeError("a bug in torchlinear")

    monkeypatch.setattr(cli.summary, "run", broken)
    with pytest.raises(TypeError, match="a bug in torchlinear"):
        cli.main(["summary", "somewhere"])


def test_user_error_from_a_command_is_one_line(monkeypatch, capsys):
    def refuses(args):
        raise OSError("disk full\nmore detail")

    monkeypatch.setattr(cli.summary, "run", refuses)
    assert cli.main(["summary", "somewhere"]) == 2
    assert capsys.readouterr().err == "torchlinear: error: disk full\n"


@pytest.mark.parametrize("command", ["fit", "predict", "evaluate", "summary"])
def test_help_shows_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and f"torchlinear {command} " in text


class _ClosedPipe:
    """A stdout whose reader has gone (``| head``): every write fails as a pipe's does."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        pass


def test_a_pipe_closed_by_its_reader_ends_the_command_quietly(monkeypatch, capsys):
    def prints(args):
        for i in range(100):
            print(f"line {i}")
        return 0

    monkeypatch.setattr(cli.summary, "run", prints)
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert cli.main(["summary", "somewhere"]) == cli.EXIT_PIPE_CLOSED == 141
    assert capsys.readouterr().err == ""  # not "error: [Errno 32] Broken pipe"


def test_a_fit_whose_output_pipes_close_leaves_no_half_written_run(tmp_path):
    """Progress goes to stderr during training: a reader gone from both pipes stops the
    fit at once, quietly, and the run folder is not written (nor left staged)."""
    data = tmp_path / "d.csv"
    data.write_text("a,y\n" + "".join(f"{i},{2 * i + i % 3}\n" for i in range(50)))
    argv = [sys.executable, "-m", "torchlinear", "fit", str(data), "--target", "y"]
    argv += ["--model", "mlp", "--epochs", "100000", "--out", str(tmp_path / "run")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv"]
