"""The softmax demo: three methods on the digits, each >= 0.95, with the pictures written."""

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from torchlinear.datasets import digits
from torchlinear.demos.softmax import SOFTMAX_DEFAULTS, run_softmax_demo

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return run_softmax_demo(out=tmp_path_factory.mktemp("demo") / "run")


def test_every_method_reaches_95_percent(result):
    assert [row.method for row in result.rows] == [
        "scratch",
        "concise",
        "SoftmaxRegression (lbfgs)",
    ]
    for row in result.rows:
        assert row.test_accuracy >= 0.95, row
        assert row.seconds > 0 and np.isfinite(row.test_loss)


def test_histories_end_at_the_reported_accuracy(result):
    for name in ("scratch", "concise"):
        history = result.histories[name]
        assert len(history["val_acc"]) == SOFTMAX_DEFAULTS["epochs"]
        row = next(r for r in result.rows if r.method == name)
        assert history["val_acc"][-1] == pytest.approx(row.test_accuracy)
        assert history["val_loss"][-1] == pytest.approx(row.test_loss, rel=1e-5)


def test_softmax_regression_row_agrees_with_sklearn(result):
    data = digits(seed=SOFTMAX_DEFAULTS["seed"], flatten=True)
    X_train, y_train = data.X_train.double().numpy(), data.y_train.numpy()
    X_test, y_test = data.X_test.double().numpy(), data.y_test.numpy()
    C = 1 / (SOFTMAX_DEFAULTS["alpha"] * len(y_train))
    with threadpool_limits(limits=1):
        reference = LogisticRegression(C=C, tol=1e-8, max_iter=5000).fit(X_train, y_train)
    row = result.rows[2]
    assert abs(row.test_accuracy - reference.score(X_test, y_test)) <= 1 / len(y_test)


def test_pictures_and_results_are_written(result):
    names = sorted(path.name for path in result.figures)
    assert names == [
        "confusion_matrix.png",
        "misclassified.png",
        "training_curves.png",
        "weight_templates.png",
    ]
    for path in result.figures:
        assert path.parent == result.out_dir
        assert path.read_bytes().startswith(PNG_MAGIC) and path.stat().st_size > 2000
    saved = json.loads((result.out_dir / "results.json").read_text())
    assert [r["method"] for r in saved["rows"]] == [r.method for r in result.rows]
    assert saved["settings"]["seed"] == 0 and saved["settings"]["batch_size"] == 32
    assert not list(result.out_dir.glob(".*.tmp"))


def test_table_has_method_accuracy_time(result):
    headers, cells = result.table()
    assert headers == ["method", "test accuracy", "time"]
    assert cells[0][0] == "scratch" and float(cells[0][1]) >= 0.95
    assert cells[2][2].endswith(("ms", " s"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"lr": -0.1}, "lr must be a finite number > 0"),
        ({"test_size": 1.0}, r"test_size must lie in \(0, 1\)"),
        ({"seed": -3}, "seed must be a non-negative integer"),
        ({"device": "tpu"}, "device must be"),
    ],
)
def test_bad_arguments_raise_before_anything_is_written(tmp_path, kwargs, message):
    out = tmp_path / "never"
    with pytest.raises(ValueError, match=message):
        run_softmax_demo(out=out, **kwargs)
    assert not out.exists()


def test_out_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("keep me")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        run_softmax_demo(out=path, epochs=1)
    assert path.read_text() == "keep me"
