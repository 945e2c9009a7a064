"""`torchlinear evaluate` as a program: a model file of a newer format is one line."""

import json
import subprocess
import sys

import pytest

from torchlinear import cli

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.filterwarnings("ignore:X does not have valid feature names"),
]


def test_cli_runs_as_a_program_newer_model_format(tmp_path, bad_files):
    model = tmp_path / "m"
    assert cli.main(["fit", str(bad_files / "good.csv"), "--target", "y", "--out", str(model)]) == 0
    sidecar = model / "model.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "format_version": 99}))
    proc = subprocess.run(
        [sys.executable, "-m", "torchlinear", "evaluate", str(model), str(bad_files / "good.csv")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "has format version 99" in proc.stderr and "upgrade torchlinear" in proc.stderr
