import json
import subprocess
import sys

import pytest

from torchlinear import cli
from torchlinear.cli import demo as cli_demo

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OPTIONS = [
    "--n",
    "--w",
    "--b",
    "--noise",
    "--lr",
    "--batch-size",
    "--epochs",
    "--seed",
    "--out",
    "--device",
    "--no-progress",
]


def settings_of(out):
    return json.loads((out / "results.json").read_text())["settings"]


def test_demo_runs_end_to_end_in_a_temp_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo"]) == 0
    captured = capsys.readouterr()
    out_lines = captured.out.splitlines()
    header = next(line for line in out_lines if line.startswith("| method"))
    cells = [c.strip() for c in header.strip("|").split(" | ")]
    assert cells == ["method", "w", "b", "‖w − w*‖", "|b − b*|", "final loss", "time"]
    rows = [line for line in out_lines if line.startswith(("| scratch", "| concise", "| exact"))]
    assert len(rows) == 3
    # progress bars (on by default) go to stderr, one per epoch and method
    for name in ("scratch", "concise"):
        for epoch in (1, 2, 3):
            assert f"{name} {epoch}/3" in captured.err
    assert "loss=" in captured.err
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("demo-")
    assert f"Figures written to runs/{run_dir.name}/" in captured.out
    pngs = sorted(run_dir.glob("*.png"))
    assert [p.name for p in pngs] == ["contours.png", "loss.png", "scatter.png"]
    assert all(p.read_bytes().startswith(PNG_MAGIC) and p.stat().st_size > 1000 for p in pngs)
    s = settings_of(run_dir)
    assert (s["n"], s["w"], s["b"], s["lr"], s["batch_size"], s["epochs"]) == (
        1000,
        [2.0, -3.4],
        4.2,
        0.03,
        10,
        3,
    )


@pytest.mark.parametrize(
    "w_args, expected",
    [
        (["--w", "2,-3.4"], [2.0, -3.4]),
        (["--w", "2", "-3.4"], [2.0, -3.4]),
        (["--w=-2,3.4"], [-2.0, 3.4]),
        (["--w", "-1.5"], [-1.5]),
        (["--w", "1,2", "3"], [1.0, 2.0, 3.0]),
    ],
)
def test_weights_parse_commas_spaces_and_leading_negatives(monkeypatch, capsys, w_args, expected):
    import torchlinear.demos.linreg as demo

    seen = {}

    def fake_demo(**kwargs):
        seen.update(kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(demo, "run_linreg_demo", fake_demo)
    assert cli.main(["demo", *w_args, "--n", "40"]) == 2
    assert seen["w"] == expected and seen["n"] == 40 and seen["progress"] is True
    assert "lr" not in seen  # unset options fall back to the library's defaults
    assert capsys.readouterr().err.strip() == "torchlinear: error: stop here"


def test_all_options_reach_the_library(tmp_path, capsys):
    out = tmp_path / "o"
    args = [
        "demo", "linreg", "--n", "64", "--w", "1,2,3", "--b=-0.5", "--noise", "0.2",
        "--lr", "0.1", "--batch-size", "16", "--epochs", "2", "--seed", "9",
        "--out", str(out), "--device", "cpu", "--no-progress",
    ]  # fmt: skip
    assert cli.main(args) == 0
    assert settings_of(out) == {
        "n": 64, "w": [1.0, 2.0, 3.0], "b": -0.5, "noise": 0.2, "lr": 0.1,
        "batch_size": 16, "epochs": 2, "seed": 9, "device": "cpu",
    }  # fmt: skip
    printed = capsys.readouterr().out
    assert "n=64" in printed and "seed 9" in printed and str(out) in printed


def test_options_before_and_after_the_topic_combine(tmp_path, capsys):
    out = tmp_path / "o"
    args = ["demo", "--n", "30", "linreg", "--epochs", "1", "--out", str(out), "--no-progress"]
    assert cli.main(args) == 0
    s = settings_of(out)
    assert (s["n"], s["epochs"], s["lr"]) == (30, 1, 0.03)


def test_linreg_is_a_registered_topic():
    assert cli_demo.add_linreg_topic in cli_demo.TOPICS
    parser = cli.build_parser()
    args = parser.parse_args(["demo", "linreg", "--n", "5"])
    assert args.topic == "linreg" and args.n == 5 and args.run is cli_demo.run_linreg
    args = parser.parse_args(["demo"])
    assert args.topic is None and args.run is cli_demo.run_linreg


@pytest.mark.parametrize("argv", [["demo", "--help"], ["demo", "linreg", "--help"]])
def test_help_lists_the_options(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in OPTIONS:
        assert option in text
    if argv == ["demo", "--help"]:
        assert "linreg" in text


@pytest.mark.parametrize(
    "bad, message",
    [
        (["--w", "abc"], "argument --w: expected numbers separated by commas"),
        (["--w", "2,x"], "argument --w: expected numbers separated by commas"),
        (["--w=nan"], "w must be a sequence of finite numbers, got nan"),
        (["--n", "0"], "--n must be a positive integer, got 0"),
        (["--n", "-4"], "--n must be a positive integer, got -4"),
        (["--n", "ten"], "argument --n: invalid int value: 'ten'"),
        (["--batch-size", "0"], "--batch-size must be a positive integer, got 0"),
        (["--lr", "0"], "--lr must be a finite number > 0, got 0.0"),
        (["--lr", "-0.1"], "--lr must be a finite number > 0, got -0.1"),
        (["--lr", "1e200"], "--lr must be below 3.4e38 (the float32 parameters), got 1e+200"),
        (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
        (["--noise", "-1"], "--noise must be a finite number >= 0, got -1.0"),
        # labels whose squares overflow the float32 training: refused before generating
        (
            ["--noise", "1e300"],
            "--noise is 1e+300: the labels would reach about 6e+300, whose "
            "squares, summed over 1,000 examples, overflow float32; choose --w, --b and --noise "
            "with |b| + 6 (sum of |w| + noise) below 6e+16",
        ),
        (["--w=1e30,2"], "--w is 1e+30, 2: the labels would reach about 6e+30"),
        (
            ["--b=-1e20", "--n", "10"],
            "--b is -1e+20: the labels would reach about 1e+20, "
            "whose squares, summed over 10 examples, overflow float32; choose --w, --b and --noise "
            "with |b| + 6 (sum of |w| + noise) below 6e+17",
        ),
        (["--device", "cuda:banana"], "device must be"),
        (["nosuchtopic"], "invalid choice: 'nosuchtopic'"),
        # refused before anything is allocated (it used to exhaust the machine's memory)
        (
            ["--n", "1000000000"],
            "1,000,000,000 examples x 2 features need 144 GB for the demo's "
            "data, its copies and figures, above the memory budget of",
        ),
        (["--n", "1000000000"], "($TORCHLINEAR_MEMORY_LIMIT); ask for fewer examples (--n)"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, bad, message):
    out = tmp_path / "new"
    code = None
    try:
        code = cli.main(["demo", "--out", str(out), "--no-progress", *bad])
    except SystemExit as exc:  # argparse errors exit from inside parse_args
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert not out.exists()


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    for out in (a_file, a_file / "below"):
        assert cli.main(["demo", "--out", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and str(a_file) in err
    assert a_file.read_text() == "x" and sorted(tmp_path.iterdir()) == [a_file]


def test_python_dash_m_bad_input_exit_code_and_stderr(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "torchlinear", "demo", "--out", str(tmp_path / "o"), "--n", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == "torchlinear: error: --n must be a positive integer, got 0\n"
    assert list(tmp_path.iterdir()) == []


def test_a_demo_folder_holds_one_whole_run(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--no-progress", "--n", "200"]) == 0
    assert "contours.png" in {p.name for p in out.iterdir()}  # two features
    argv = ["demo", "--out", str(out), "--no-progress", "--n", "200", "--w=1,2,3"]
    assert cli.main(argv) == 0
    # replaced whole: no figure of the first run survives next to the second's record
    assert sorted(p.name for p in out.iterdir()) == ["loss.png", "results.json", "scatter.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # no staging or lock left


def test_a_demo_never_writes_into_a_folder_of_other_files(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert cli.main(["demo", "--out", str(out), "--no-progress", "--n", "200"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("torchlinear: error: --out ") and len(err.strip().splitlines()) == 1
    assert "holds files that are not a demo's pictures" in err
    assert sorted(p.name for p in out.iterdir()) == ["model.json", "notes.txt"]
