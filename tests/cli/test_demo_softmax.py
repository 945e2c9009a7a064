"""`torchlinear demo softmax`: prints method | test accuracy | time and writes the pictures."""

import pytest

from torchlinear import cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def table_rows(stdout):
    lines = stdout.splitlines()
    header = next(line for line in lines if line.startswith("| method"))
    rows = [line for line in lines[lines.index(header) + 2 :] if line.startswith("| ")]
    return [c.strip() for c in header.strip("| ").split(" | ")], [
        [c.strip() for c in row.strip("| ").split(" | ")] for row in rows
    ]


def test_demo_softmax_prints_table_and_writes_pictures(tmp_path, capsys):
    out = tmp_path / "pictures"
    assert cli.main(["demo", "softmax", "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    headers, rows = table_rows(captured.out)
    assert headers == ["method", "test accuracy", "time"]
    assert [r[0] for r in rows] == ["scratch", "concise", "SoftmaxRegression (lbfgs)"]
    assert all(float(r[1]) >= 0.95 for r in rows)
    assert f"Pictures written to {out}/" in captured.out
    for name in ("training_curves", "confusion_matrix", "misclassified", "weight_templates"):
        assert (out / f"{name}.png").read_bytes().startswith(PNG_MAGIC)
        assert f"{name}.png" in captured.out
    assert captured.err == ""


def test_options_reach_the_library(tmp_path, capsys, monkeypatch):
    import torchlinear.demos.softmax as demo

    received = {}

    def fake_demo(**kwargs):
        received.update(kwargs)
        row = demo.SoftmaxDemoRow("scratch", 0.97, 0.99, 0.1, 0.5)
        settings = {**demo.SOFTMAX_DEFAULTS, **kwargs, "data": "digits"}
        return demo.SoftmaxDemoResult([row], {}, [], tmp_path, settings)

    monkeypatch.setattr(demo, "run_softmax_demo", fake_demo)
    argv = ["demo", "softmax", "--epochs", "3", "--lr", "0.2", "--batch-size", "16"]
    argv += ["--alpha", "0.001", "--test-size", "0.3", "--seed", "5", "--out", "o"]
    argv += ["--device", "cpu", "--no-progress"]
    assert cli.main(argv) == 0
    assert received == {
        "epochs": 3,
        "lr": 0.2,
        "batch_size": 16,
        "alpha": 0.001,
        "test_size": 0.3,
        "seed": 5,
        "out": "o",
        "device": "cpu",
        "progress": False,
    }
    assert "| scratch | 0.9700        | 500.0 ms |" in capsys.readouterr().out
    received.clear()
    cli.main(["demo", "softmax"])  # nothing given: the library's defaults apply
    assert received == {"progress": True}
    capsys.readouterr()


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "softmax", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--epochs", "--lr", "--batch-size", "--seed", "--out", "--device"):
        assert option in text
    assert "--no-progress" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
        (["--lr", "-1"], "--lr must be a finite number > 0"),
        (["--test-size", "2"], "--test-size must lie in (0, 1)"),
        (["--test-size", "0.999"], "error: --test-size 0.999 leaves 1 of the 1797 rows for "
         "training, fewer than the 10 classes (a stratified split keeps a row of every class on "
         "each side); use --test-size from 0.006 to 0.994, e.g. --test-size 0.25\n"),
        (["--test-size", "0.005"], "leaves 9 of the 1797 rows for testing, fewer than the 10"),
        (["--epochs", "many"], "argument --epochs: invalid int value"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    out = tmp_path / "never"
    code = cli.main(["demo", "softmax", "--out", str(out), *argv]) if "many" not in argv else None
    if code is None:
        with pytest.raises(SystemExit) as info:
            cli.main(["demo", "softmax", "--out", str(out), *argv])
        code = info.value.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_out_that_is_a_file_is_one_line_naming_the_option(tmp_path, capsys):
    path = tmp_path / "taken"
    path.write_text("x")
    assert cli.main(["demo", "softmax", "--out", str(path)]) == 2
    captured = capsys.readouterr()
    expected = (
        f"torchlinear: error: --out {str(path)!r} is a file, not a folder; choose a folder path"
    )
    assert captured.err.strip() == expected and captured.out == ""
    assert path.read_text() == "x"
