import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression

from torchlinear.data import synthetic_regression
from torchlinear.demos import LinregDemoResult, run_linreg_demo
from torchlinear.demos.linreg import default_out_dir

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def textbook_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    return run_linreg_demo(out=out, seed=3)


def test_textbook_problem_all_three_ways(textbook_run):
    result = textbook_run
    assert isinstance(result, LinregDemoResult)
    assert [row.method for row in result.rows] == ["scratch", "concise", "exact"]
    assert result.true_w == [2.0, -3.4] and result.true_b == 4.2
    for row in result.rows:
        assert len(row.w) == 2
        assert all(abs(a - b) < 0.01 for a, b in zip(row.w, [2.0, -3.4], strict=True))
        assert abs(row.b - 4.2) < 0.01
        assert row.w_error == pytest.approx(math.dist(row.w, [2.0, -3.4]))
        assert row.b_error == pytest.approx(abs(row.b - 4.2))
        assert row.seconds >= 0


def test_exact_row_and_losses_match_an_independent_fit(textbook_run):
    s = textbook_run.settings
    assert (s["n"], s["noise"], s["lr"], s["batch_size"], s["epochs"]) == (1000, 0.01, 0.03, 10, 3)
    X, y, _, _ = synthetic_regression(s["w"], s["b"], s["n"], noise=s["noise"], seed=s["seed"])
    X, y = X.double().numpy(), y.double().numpy()
    ref = LinearRegression().fit(X, y)
    exact = textbook_run.rows[2]
    np.testing.assert_allclose(exact.w, ref.coef_, atol=1e-6)
    assert exact.b == pytest.approx(ref.intercept_, abs=1e-6)
    for row in textbook_run.rows:
        loss = 0.5 * np.mean((X @ np.array(row.w) + row.b - y) ** 2)
        assert row.final_loss == pytest.approx(loss, rel=1e-6)
    # least squares is the floor the SGD fits approach
    assert exact.final_loss <= min(r.final_loss for r in textbook_run.rows[:2]) * (1 + 1e-9)


def test_loss_curves_start_together_and_fall(textbook_run):
    losses = textbook_run.losses
    assert set(losses) == {"scratch", "concise"}
    scratch, concise = losses["scratch"], losses["concise"]
    assert len(scratch) == len(concise) == 4  # before training, then 3 epochs
    assert scratch[0] == concise[0]  # same starting parameters
    assert scratch[-1] < scratch[0] / 1e4 and concise[-1] < concise[0] / 1e4
    assert scratch[-1] == pytest.approx(textbook_run.rows[0].final_loss, rel=1e-3)


def test_figures_and_results_are_written(textbook_run):
    out = textbook_run.out_dir
    names = sorted(p.name for p in textbook_run.figures)
    assert names == ["contours.png", "loss.png", "scatter.png"]
    for path in textbook_run.figures:
        assert path.parent == out
        data = path.read_bytes()
        assert len(data) > 1000 and data.startswith(PNG_MAGIC)
    record = json.loads((out / "results.json").read_text())
    assert [r["method"] for r in record["rows"]] == ["scratch", "concise", "exact"]
    assert record["rows"][2]["w"] == textbook_run.rows[2].w
    assert record["settings"]["seed"] == 3
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_table_has_the_documented_columns(textbook_run):
    headers, cells = textbook_run.table()
    assert headers == ["method", "w", "b", "‖w − w*‖", "|b − b*|", "final loss", "time"]
    assert [c[0] for c in cells] == ["scratch", "concise", "exact"]
    assert all(len(c) == len(headers) for c in cells)


def test_default_out_dir_is_a_fresh_timestamped_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_linreg_demo(n=50, epochs=1, seed=None)
    assert isinstance(result.settings["seed"], int)  # a fresh seed, recorded
    assert result.out_dir.parent.name == "runs" and result.out_dir.name.startswith("demo-")
    assert (tmp_path / result.out_dir / "scatter.png").stat().st_size > 0
    assert default_out_dir().parent == Path("runs") and default_out_dir().name[:7] == "demo-20"


def test_demos_of_the_same_second_write_their_own_folders(tmp_path, monkeypatch):
    from torchlinear import rundir

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(rundir, "run_stamp", lambda: "20250101-120000")
    first = run_linreg_demo(n=50, epochs=1, seed=1)
    second = run_linreg_demo(n=50, epochs=1, seed=2)
    assert (first.out_dir, second.out_dir) == (
        Path("runs/demo-20250101-120000"),
        Path("runs/demo-20250101-120000-2"),
    )
    seeds = [json.loads((f.out_dir / "results.json").read_text())["settings"]["seed"]
             for f in (first, second)]  # fmt: skip
    assert seeds == [1, 2] and second.figures[0].parent == second.out_dir


def test_same_seed_same_result(tmp_path):
    a = run_linreg_demo(n=100, epochs=1, seed=11, out=tmp_path / "a")
    b = run_linreg_demo(n=100, epochs=1, seed=11, out=tmp_path / "b")
    assert [r.w for r in a.rows] == [r.w for r in b.rows]
    assert a.losses == b.losses


@pytest.mark.parametrize("lr", [5.0, 1e4])  # grows, then overflows to inf/nan
def test_more_features_and_a_divergent_learning_rate(tmp_path, lr):
    with pytest.warns(RuntimeWarning, match="diverge") as record:
        result = run_linreg_demo(n=100, w=[1.0, 2.0, 3.0], b=-1.0, lr=lr, epochs=2, out=tmp_path)
    assert {str(w.message).split()[0] for w in record} == {"scratch", "concise"}
    assert len(result.rows[0].w) == 3
    initial = result.losses["scratch"][0]
    assert not result.rows[0].final_loss <= initial  # larger, inf or nan
    assert result.rows[2].w_error < 0.01  # the exact fit does not care about lr
    assert all(p.stat().st_size > 0 for p in result.figures)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 0}, "n must be a positive integer, got 0"),
        ({"n": -3}, "n must be a positive integer, got -3"),
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
        ({"epochs": 0}, "epochs must be a positive integer, got 0"),
        ({"lr": 0.0}, "lr must be a finite number > 0, got 0.0"),
        ({"lr": -0.5}, "lr must be a finite number > 0, got -0.5"),
        ({"noise": -1.0}, "noise must be a finite number >= 0, got -1.0"),
        ({"w": []}, "w must hold at least one weight"),
        ({"w": ["a"]}, "w must be a sequence of finite numbers, got 'a'"),
        ({"w": "2,3"}, "w must be a sequence of numbers, got '2,3'"),
        ({"b": float("inf")}, "b must be a finite number, got inf"),
        ({"seed": -1}, "seed must be a non-negative integer or None, got -1"),
        ({"device": "tpu9"}, "device must be"),
    ],
)
def test_bad_arguments_raise_before_anything_is_written(tmp_path, kwargs, match):
    out = tmp_path / "new"
    with pytest.raises(ValueError, match=match):
        run_linreg_demo(out=out, **kwargs)
    assert not out.exists()


def test_out_that_is_a_file_or_under_a_file(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep me")
    with pytest.raises(ValueError, match=r"out '.*file\.txt' is a file, not a folder"):
        run_linreg_demo(out=a_file)
    with pytest.raises(ValueError, match=r"out '.*sub' cannot be created"):
        run_linreg_demo(out=a_file / "sub")
    assert a_file.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_device_argument_moves_the_work(tmp_path):
    result = run_linreg_demo(n=50, epochs=1, device=torch.device("cpu"), out=tmp_path / "o")
    assert result.settings["device"] == "cpu"


@pytest.mark.parametrize("lr", [100.0, 1e30])
def test_a_divergent_learning_rate_still_draws_the_loss_landscape(tmp_path, lr):
    # two features: the contour figure keeps its window around the start and the solution,
    # and the diverging paths are seen leaving it (the colour bar used to fail on them)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = run_linreg_demo(n=200, lr=lr, epochs=1, out=tmp_path)
    assert (tmp_path / "contours.png").stat().st_size > 0
    assert result.rows[2].w_error < 0.01


def test_a_trainer_that_warned_is_not_warned_about_again(tmp_path):
    # lr 1.9 on the textbook problem: both trainers warn that the loss exploded
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_linreg_demo(lr=1.9, epochs=2, seed=0, out=tmp_path)
    said = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert sorted(m.split()[0] for m in said) == ["concise", "scratch"]
    assert not any("diverged (loss" in m for m in said)


def test_noise_that_dominates_the_loss_is_not_called_divergence(tmp_path):
    # the start is already near the least loss; minibatch SGD ends a hair above or below it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_linreg_demo(n=300, noise=1e12, epochs=3, seed=1, out=tmp_path)
    assert not [w for w in caught if "diverge" in str(w.message)]
    exact = result.rows[-1].final_loss
    assert all(row.final_loss < 1.01 * exact for row in result.rows)
