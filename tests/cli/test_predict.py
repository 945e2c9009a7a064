"""`torchlinear predict`: refusing data and model files that do not fit."""

import json
import re

import pytest

from torchlinear import cli
from torchlinear.io import FORMAT_VERSION

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.filterwarnings("ignore:X does not have valid feature names"),
]


def test_predict_names_missing_columns_and_ignores_extra_ones(tmp_path, capsys, run_cli, bad_files):
    model = tmp_path / "m"
    assert cli.main(["fit", str(bad_files / "good.csv"), "--target", "y", "--out", str(model)]) == 0
    (tmp_path / "less.csv").write_text("a\n1\n2\n")
    (tmp_path / "more.csv").write_text("c,b,a\nx,2,1\ny,5,4\n")
    (tmp_path / "same.csv").write_text("a,b\n1,2\n4,5\n")
    capsys.readouterr()
    code, _, err = run_cli(["predict", str(model), str(tmp_path / "less.csv"), "-o", "p.csv"])
    assert code == 2 and "is missing column(s) 'b' that the model was fitted on" in err
    assert err.count("\n") == 1
    for name in ("more", "same"):
        argv = ["predict", str(model), str(tmp_path / f"{name}.csv"), "-o"]
        assert run_cli([*argv, str(tmp_path / f"{name}_p.csv")])[0] == 0
    more, same = ((tmp_path / f"{n}_p.csv").read_text() for n in ("more", "same"))
    assert more == same and more.startswith("prediction\n")


def test_damaged_model_files(tmp_path, capsys, run_cli, bad_files):
    model = tmp_path / "m"
    assert cli.main(["fit", str(bad_files / "good.csv"), "--target", "y", "--out", str(model)]) == 0
    capsys.readouterr()
    sidecar = model / "model.json"
    document = json.loads(sidecar.read_text())
    weights = model / document["weights"]["file"]
    argv = ["predict", str(model), str(bad_files / "good.csv"), "-o", str(tmp_path / "p.csv")]

    def fails(pattern):
        code, _, err = run_cli(argv)
        assert code == 2 and re.search(pattern, err) and err.count("\n") == 1, err
        assert not (tmp_path / "p.csv").exists()

    blob = weights.read_bytes()
    weights.write_bytes(blob[:-10])  # truncated
    fails("does not match the SHA-256")
    weights.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))  # tampered
    fails("does not match the SHA-256")
    weights.write_bytes(blob)
    sidecar.write_text(sidecar.read_text()[:-40])  # truncated sidecar
    fails("not valid JSON")
    sidecar.write_text(json.dumps({**document, "format_version": FORMAT_VERSION + 1}))
    fails("newer than this torchlinear")
    code, _, err = run_cli(["summary", str(tmp_path / "nothing")])
    assert code == 2 and "does not exist" in err
