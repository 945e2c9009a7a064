import json
import math
import os
import signal
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from torchlinear._validation import ParameterError
from torchlinear.data.split import holdout_mask
from torchlinear.engine import (
    Callback,
    DivergenceError,
    History,
    TrainConfig,
    evaluate,
    train,
)
from torchlinear.engine.sources import Cast as _Cast
from torchlinear.engine.sources import ChunkSource as _ChunkSource
from torchlinear.losses import Penalty
from torchlinear.models import MLP, LinearModel, SoftmaxHead

W_TRUE = torch.tensor([2.0, -3.4, 0.5], dtype=torch.float64)


@pytest.fixture(autouse=True)
def _one_thread():
    # The models here are tiny: one intra-op thread avoids OpenMP hand-off costs, which
    # dominate (and vary wildly) when the machine's cores are busy with other work.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _data(n=400, noise=0.1, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 3, generator=g, dtype=torch.float64)
    y = X @ W_TRUE + 4.2 + noise * torch.randn(n, generator=g, dtype=torch.float64)
    return X.to(dtype), y.to(dtype)


def _lstsq(X, y):
    A = np.c_[X.numpy(), np.ones(len(X))]
    return np.linalg.lstsq(A, y.numpy(), rcond=None)[0]


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def _same(a, b):
    return all(torch.equal(p, q) for p, q in zip(_params(a), _params(b), strict=True))


class Rows(Dataset):
    """A user Dataset: one (x, y) pair per __getitem__."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


class InterruptAt(Callback):
    """Simulates Ctrl-C: sends SIGINT to this process after a given batch."""

    def __init__(self, epoch, batch):
        self.at = (epoch, batch)

    def on_batch_end(self, epoch, batch, loss):
        if (epoch, batch) == self.at:
            os.kill(os.getpid(), signal.SIGINT)


class CrashAfterEpoch(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, epoch, history):
        if epoch == self.epoch:
            raise RuntimeError("simulated crash")


# ------------------------------------------------------------------ convergence


@pytest.mark.parametrize(
    "cfg",
    [
        TrainConfig(epochs=40, batch_size=32, lr=0.02, optimizer="sgd", seed=0),
        TrainConfig(epochs=60, batch_size=32, lr=0.05, optimizer="adam", seed=0, schedule="cosine"),
        TrainConfig(epochs=3, optimizer="lbfgs", seed=0),
    ],
    ids=["sgd-momentum", "adam-cosine", "lbfgs"],
)
def test_reaches_least_squares_solution(cfg):
    X, y = _data()
    model = LinearModel(3, seed=0, dtype=torch.float64)
    history = train(model, (X, y), "squared", cfg)
    ref = _lstsq(X, y)
    got = np.r_[model.coef[0].numpy(), model.intercept.numpy()]
    tol = 1e-9 if cfg.optimizer == "lbfgs" else 2e-2
    np.testing.assert_allclose(got, ref, atol=tol)
    assert history.stop_reason == "completed" and len(history) == cfg.epochs
    assert history.train_loss[-1] <= history.train_loss[0]


def test_global_rng_untouched_and_same_seed_same_result():
    X, y = _data()
    state = torch.get_rng_state()
    runs = []
    for _ in range(2):
        model = LinearModel(3, seed=0, dtype=torch.float64)
        train(model, (X, y), "squared", TrainConfig(epochs=2, batch_size=16, seed=5))
        runs.append(model)
    assert torch.equal(torch.get_rng_state(), state)
    assert _same(*runs)
    other = LinearModel(3, seed=0, dtype=torch.float64)
    history = train(other, (X, y), "squared", TrainConfig(epochs=2, batch_size=16, seed=6))
    assert not _same(runs[0], other) and history.seed == 6


def test_hot_path_is_index_batching_not_getitem(monkeypatch):
    # tensors never go through a Dataset: TensorDataset.__getitem__ must not be called
    def forbidden(self, i):
        raise AssertionError("per-sample __getitem__ on the hot path")

    monkeypatch.setattr(TensorDataset, "__getitem__", forbidden)
    X, y = _data(n=100)
    train(LinearModel(3, seed=0, dtype=torch.float64), (X, y), "squared", TrainConfig(epochs=1))
    # a plain TensorDataset is unwrapped to its tensors, with the same batches
    a, b = (LinearModel(3, seed=0, dtype=torch.float64) for _ in range(2))
    train(a, (X, y), "squared", TrainConfig(epochs=2, batch_size=8, seed=1))
    train(b, TensorDataset(X, y), "squared", TrainConfig(epochs=2, batch_size=8, seed=1))
    assert _same(a, b)


# ------------------------------------------------------------------ data sources


def test_user_dataset_through_dataloader_equals_in_memory():
    X, y = _data(n=203)
    cfg = TrainConfig(epochs=3, batch_size=16, lr=0.02, seed=3)
    a = LinearModel(3, seed=1, dtype=torch.float64)
    b = LinearModel(3, seed=1, dtype=torch.float64)
    ha = train(a, (X, y), "squared", cfg)
    hb = train(b, Rows(X, y), "squared", cfg)
    assert _same(a, b)
    assert ha.train_loss == hb.train_loss


def test_user_dataset_with_val_split_equals_in_memory():
    X, y = _data(n=150)
    cfg = TrainConfig(epochs=3, batch_size=10, lr=0.02, seed=4, val_split=0.2)
    a = LinearModel(3, seed=1, dtype=torch.float64)
    b = LinearModel(3, seed=1, dtype=torch.float64)
    ha = train(a, (X, y), "squared", cfg)
    hb = train(b, Rows(X, y), "squared", cfg)
    assert _same(a, b)
    assert ha.val_loss == pytest.approx(hb.val_loss, rel=1e-12)


def test_val_split_holds_out_a_random_subset():
    X, y = _data(n=100)
    model = LinearModel(3, seed=1, dtype=torch.float64)
    history = train(model, (X, y), "squared", TrainConfig(epochs=2, seed=8, val_split=0.25))
    # the held-out rows are the library's one split rule with the run's seed: the same
    # rows that ``torchlinear fit --val-split 0.25 --seed 8`` holds out of a file
    idx = torch.from_numpy(np.flatnonzero(holdout_mask(0, 100, 0.25, seed=8)))
    assert 10 <= len(idx) <= 40
    with torch.no_grad():
        expected = (0.5 * (model(X[idx]) - y[idx]) ** 2).mean().item()
    assert history.val_loss[-1] == pytest.approx(expected, rel=1e-12)
    assert len(history.val_loss) == 2


def test_given_validation_data_and_metrics():
    X, y = _data(n=120)
    Xv, yv = _data(n=30, seed=1)
    model = LinearModel(3, seed=0, dtype=torch.float64)
    history = train(
        model,
        (X, y),
        "squared",
        TrainConfig(epochs=3, seed=0),
        val_data=(Xv, yv),
        metrics=["mae", "mse"],
    )
    with torch.no_grad():
        r = model(Xv) - yv
    assert history.val_loss[-1] == pytest.approx(float((0.5 * r**2).mean()), rel=1e-12)
    assert history.metrics["val_mae"][-1] == pytest.approx(float(r.abs().mean()), rel=1e-12)
    assert history.metrics["val_mse"][-1] == pytest.approx(float((r**2).mean()), rel=1e-12)
    assert len(history.metrics["train_mae"]) == 3


def test_a_metric_of_ones_own_sees_a_column_of_predictions_as_the_targets_shape():
    # before: nn.Linear's (n, 1) output minus the (n,) target broadcast to (n, n): the
    # mean absolute error came out as 177.7 where it is 2.204
    X, y = _data(n=64)
    model = torch.nn.Linear(3, 1).double()
    own = {"my_mae": lambda p, t: (p - t).abs()}
    train(model, (X, y), "squared", TrainConfig(epochs=2, seed=0), metrics=own)
    with torch.no_grad():
        exact = (model(X).reshape(-1) - y).abs().mean().item()
    assert evaluate(model, (X, y), metrics=own)["my_mae"] == pytest.approx(exact, rel=1e-12)
    assert evaluate(model, (X, y), metrics=["mae"])["mae"] == pytest.approx(exact, rel=1e-12)


def test_dataloader_as_given():
    X, y = _data(n=64)
    loader = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=False)
    model = LinearModel(3, seed=0, dtype=torch.float64)
    history = train(model, loader, "squared", TrainConfig(epochs=2, seed=0))
    assert len(history) == 2
    with pytest.raises(ValueError, match="with a DataLoader pass val_data"):
        train(model, loader, "squared", TrainConfig(epochs=1, val_split=0.5))


def _chunks(X, y, size, w=None):
    def source():
        for start in range(0, len(X), size):
            sl = slice(start, start + size)
            yield (X[sl], y[sl]) if w is None else (X[sl], y[sl], w[sl])

    return source


def test_single_chunk_equals_in_memory():
    X, y = _data(n=97)
    cfg = TrainConfig(epochs=3, batch_size=10, seed=2)
    a = LinearModel(3, seed=1, dtype=torch.float64)
    b = LinearModel(3, seed=1, dtype=torch.float64)
    train(a, (X, y), "squared", cfg)
    train(b, _chunks(X, y, 1000), "squared", cfg)
    assert _same(a, b)


def test_chunked_source_converges_and_streams_full_batch():
    X, y = _data(n=500)
    numpy_chunks = _chunks(X.numpy(), y.numpy(), 64)  # NumPy chunks are accepted too
    model = LinearModel(3, seed=0, dtype=torch.float64)
    history = train(
        model, numpy_chunks, "squared", TrainConfig(epochs=30, batch_size=32, seed=0, val_split=0.2)
    )
    ref = _lstsq(X, y)
    np.testing.assert_allclose(model.coef[0].numpy(), ref[:3], atol=0.02)
    assert len(history.val_loss) == 30
    # full-batch L-BFGS over chunks accumulates the exact gradient: the exact solution
    model = LinearModel(3, seed=0, dtype=torch.float64)
    train(model, _chunks(X, y, 64), "squared", TrainConfig(epochs=3, optimizer="lbfgs", seed=0))
    np.testing.assert_allclose(
        np.r_[model.coef[0].numpy(), model.intercept.numpy()], _lstsq(X, y), atol=1e-9
    )


def test_a_streamed_split_that_holds_out_no_row_names_val_split():
    """Five streamed rows and a 0.1% split: no validation row; the error names the
    parameter and the way out, instead of failing later on an empty evaluation."""
    X, y = _data(n=5)
    model = LinearModel(3, seed=0, dtype=torch.float64)
    cfg = TrainConfig(epochs=2, batch_size=2, seed=0, val_split=0.001)
    with pytest.raises(
        ParameterError,
        match=r"val_split=0\.001 of 5 rows leaves no validation "
        r"rows; pass val_split=0 to train on every row",
    ) as info:
        train(model, _chunks(X, y, 2), "squared", cfg)
    assert info.value.param == "val_split"


def test_chunk_validation_mask_is_fixed_and_disjoint():
    # targets carry the row ids; the held-out rows must be the same in every epoch
    X, _ = _data(n=300)
    ids = torch.arange(300, dtype=torch.float64)
    cfg = TrainConfig(batch_size=7, val_split=0.3)
    cast = _Cast(torch.device("cpu"), torch.float64, torch.float64)
    src = _chunks(X, ids, 50)
    train_rows, val_rows = [set(), set()], [set(), set()]
    for epoch in range(2):
        t = _ChunkSource(src, cfg, cast, val_fraction=0.3, keep="train", seed=5)
        v = _ChunkSource(src, cfg, cast, val_fraction=0.3, keep="val", seed=5)
        for _, yb, _ in t.batches(torch.Generator().manual_seed(epoch)):
            train_rows[epoch].update(int(i) for i in yb.tolist())
        for _, yb, _ in v.eval_batches():
            val_rows[epoch].update(int(i) for i in yb.tolist())
    assert train_rows[0] == train_rows[1] and val_rows[0] == val_rows[1]
    assert train_rows[0].isdisjoint(val_rows[0])
    assert train_rows[0] | val_rows[0] == set(range(300))
    assert 60 < len(val_rows[0]) < 120


def test_sample_weights_match_weighted_least_squares():
    X, y = _data(n=200, noise=1.0)
    w = torch.rand(200, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    model = LinearModel(3, seed=0, dtype=torch.float64)
    # the loss is mean(w * l): weights normalised to mean one give the weighted mean
    train(model, (X, y, w / w.mean()), "squared", TrainConfig(epochs=3, optimizer="lbfgs", seed=0))
    sw = np.sqrt(w.numpy())
    A = np.c_[X.numpy(), np.ones(200)] * sw[:, None]
    ref = np.linalg.lstsq(A, y.numpy() * sw, rcond=None)[0]
    np.testing.assert_allclose(
        np.r_[model.coef[0].numpy(), model.intercept.numpy()], ref, atol=1e-9
    )


def test_classification_with_accuracy_metric():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(300, 2, generator=g)
    y = (X[:, 0] + X[:, 1] > 0).long() + (X[:, 0] > 1).long()
    head = SoftmaxHead(2, 3, seed=0)
    history = train(
        head,
        (X, y),
        "ce",
        TrainConfig(epochs=20, batch_size=32, lr=0.1, seed=0, val_split=0.2),
        metrics=["accuracy"],
    )
    acc = (head.predict(X) == y).double().mean().item()
    assert acc > 0.9
    assert history.metrics["val_accuracy"][-1] > 0.85
    assert 0 <= history.metrics["train_accuracy"][0] <= 1


def test_evaluate():
    X, y = _data(n=50)
    model = LinearModel(3, seed=0, dtype=torch.float64)
    result = evaluate(model, (X, y), "l1", metrics=["mse"])
    with torch.no_grad():
        r = model(X) - y
    assert result["loss"] == pytest.approx(float(r.abs().mean()), rel=1e-12)
    assert result["mse"] == pytest.approx(float((r**2).mean()), rel=1e-12)


# ------------------------------------------------------------------ schedule, stopping


def test_learning_rate_schedules():
    X, y = _data(n=64)
    model = LinearModel(3, seed=0, dtype=torch.float64)
    h = train(model, (X, y), "squared", TrainConfig(epochs=6, lr=0.1, schedule="cosine", seed=0))
    assert h.lr == pytest.approx([0.1 * (1 + math.cos(math.pi * e / 6)) / 2 for e in range(6)])
    h = train(
        model,
        (X, y),
        "squared",
        TrainConfig(epochs=5, lr=0.1, schedule="step", step_size=2, seed=0),
    )
    assert h.lr == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])
    h = train(
        model,
        (X, y),
        "squared",
        TrainConfig(epochs=3, lr=0.1, schedule="exponential", gamma=0.5, seed=0),
    )
    assert h.lr == pytest.approx([0.1, 0.05, 0.025])


def test_early_stopping_restores_the_best_epoch():
    # validation targets are the negated training targets: fitting the training data
    # makes the validation loss grow after the first epoch, so the best epoch is early
    X, y = _data(n=200)
    cfg = TrainConfig(epochs=50, batch_size=50, lr=0.01, seed=0, patience=3)
    model = LinearModel(3, seed=0, dtype=torch.float64)
    h = train(model, (X, y), "squared", cfg, val_data=(X, -y))
    assert h.stop_reason == "early_stopping"
    assert len(h) == h.best_epoch + 3
    assert h.val_loss[h.best_epoch - 1] == min(h.val_loss)
    # the restored parameters are those at the end of the best epoch
    ref = LinearModel(3, seed=0, dtype=torch.float64)
    train(ref, (X, y), "squared", TrainConfig(epochs=h.best_epoch, batch_size=50, lr=0.01, seed=0))
    assert _same(model, ref)


def test_tol_stops_when_converged():
    X, y = _data()
    h = train(
        LinearModel(3, seed=0, dtype=torch.float64),
        (X, y),
        "squared",
        TrainConfig(epochs=100, optimizer="lbfgs", tol=1e-8, n_iter_no_change=2, seed=0),
    )
    assert h.stop_reason == "converged" and len(h) < 10


def _excess(model, X, y):
    """The relative excess of the model's mean squared error over least squares'."""
    A = np.c_[X.numpy(), np.ones(len(X))]
    best = np.mean((y.numpy() - A @ _lstsq(X, y)) ** 2)
    params = np.r_[model.coef[0].detach().numpy(), model.intercept.detach().numpy()]
    return (np.mean((y.numpy() - A @ params) ** 2) - best) / best


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_minibatch_plateau_lowers_the_learning_rate_before_it_counts_as_converged(optimizer):
    # at lr 0.05 and 8 rows a batch the loss stalls 8% (SGD) or 1% (Adam) above the
    # optimum: the noise of the steps, which no number of epochs at that rate removes
    X, y = _data(n=400, noise=1.0)
    model = LinearModel(3, seed=1, dtype=torch.float64)
    cfg = TrainConfig(
        epochs=200, batch_size=8, lr=0.05, optimizer=optimizer, tol=1e-6, n_iter_no_change=3
    )
    h = train(model, (X, y), "squared", replace(cfg, seed=0))
    assert h.stop_reason == "converged" and _excess(model, X, y) < 1e-3
    # each of the three drops divides the rate by 10 from the next epoch on
    assert len(h.lr_drops) == 3
    rates = [0.05 / 10 ** sum(e > d for d in h.lr_drops) for e in h.epoch]
    np.testing.assert_allclose(h.lr, rates, rtol=1e-12)


def test_full_batch_steps_and_a_fixed_epoch_count_keep_their_learning_rate():
    X, y = _data(n=400, noise=1.0)
    # one batch an epoch: no noise floor, the first plateau is convergence
    model = LinearModel(3, seed=1, dtype=torch.float64)
    cfg = TrainConfig(epochs=300, batch_size=400, lr=0.5, momentum=0.5, tol=1e-9, seed=0)
    h = train(model, (X, y), "squared", cfg)
    assert h.stop_reason == "converged" and h.lr_drops == [] and set(h.lr) == {0.5}
    assert _excess(model, X, y) < 1e-9
    # tol=None: every epoch at the given rate
    cfg = TrainConfig(epochs=12, batch_size=8, lr=0.05, seed=0)
    h = train(LinearModel(3, seed=1, dtype=torch.float64), (X, y), "squared", cfg)
    assert h.stop_reason == "completed" and len(h) == 12 and set(h.lr) == {0.05}
    assert h.lr_drops == []


def test_callback_can_stop():
    class StopAtTwo(Callback):
        def on_epoch_end(self, epoch, history):
            return epoch == 1

    X, y = _data(n=40)
    h = train(
        LinearModel(3, seed=0, dtype=torch.float64),
        (X, y),
        "squared",
        TrainConfig(epochs=9, seed=0),
        callbacks=[StopAtTwo()],
    )
    assert h.stop_reason == "callback" and len(h) == 2


# ------------------------------------------------------------------ divergence


def test_divergence_guard_on_lr_10():
    X, y = _data()
    model = LinearModel(3, seed=0, dtype=torch.float64)
    with pytest.raises(DivergenceError) as info:
        train(model, (X, y), "squared", TrainConfig(epochs=20, lr=10, batch_size=32, seed=0))
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "diverged" in message and "lr=1 " in message and "one tenth of 10" in message
    assert "standardize" in message and "\n" not in message
    assert info.value.suggested_lr == 1.0 and info.value.history.stop_reason == "diverged"
    assert all(torch.isfinite(p).all() for p in model.parameters())  # last finite state


def test_divergence_advice_writes_a_huge_learning_rate_in_exponent_form():
    error = DivergenceError("epoch 1", "became nan", History(), lr=1e30)
    assert "lr=1e+29 (one tenth of 1e+30)" in str(error)
    assert "lr=1000000 " in str(DivergenceError("epoch 1", "became nan", History(), lr=1e7))
    assert "lr=50000 " in str(DivergenceError("epoch 1", "became nan", History(), lr=5e5))


def test_a_nan_loss_from_a_bad_row_keeps_finite_parameters_and_blames_the_row():
    X, y = _data(n=64)
    X[40] = float("inf")  # a bad row reaches the model
    model = LinearModel(3, seed=0, dtype=torch.float64)
    with pytest.raises(ValueError, match="became (nan|inf)") as info:
        train(model, (X, y), "squared", TrainConfig(epochs=2, batch_size=8, seed=0))
    # before: a DivergenceError advising a tenth of the learning rate
    assert not isinstance(info.value, DivergenceError)
    assert "because X holds NaN or inf (the first in row 40): the data, not the learning " in str(
        info.value
    )
    assert all(torch.isfinite(p).all() for p in model.parameters())


class _Rows(Dataset):
    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


def _with_nan(X, row, column=0):
    X = X.clone()
    X[row, column] = float("nan")
    return X


@pytest.mark.parametrize(
    "form",
    [
        "tensors",
        "dataset",
        "chunks",
        "target",
        "val_split",
        "dataset_split",
        "chunks_split",
        "lbfgs",
        "validation",
    ],
)
def test_nan_in_the_data_is_named_in_every_source_not_blamed_on_the_learning_rate(form):
    X, y = _data(n=64)
    cfg = dict(epochs=2, batch_size=8, seed=0, shuffle=False)
    data, val, where = (X, _with_nan(y[:, None], 45).reshape(-1)), None, "y holds NaN or inf"
    if form == "tensors":
        data, where = (_with_nan(X, 40), y), "X holds NaN or inf (the first in row 40)"
    elif form == "dataset":
        data = _Rows(_with_nan(X, 40), y)  # a map-style dataset, batched by a DataLoader
        where = "X holds NaN or inf (the first in row 40)"
    elif form == "chunks":
        bad = _with_nan(X, 40)
        data = lambda: iter([(bad[:32], y[:32]), (bad[32:], y[32:])])  # noqa: E731
        where = "X holds NaN or inf (the first in row 40)"
    elif form == "val_split":  # a training row is named by its index in the data
        row = 30 + int(np.flatnonzero(~holdout_mask(30, 34, 0.25, seed=0))[0])
        data, where = (_with_nan(X, row), y), f"X holds NaN or inf (the first in row {row})"
        cfg["val_split"] = 0.25
    elif form == "dataset_split":
        row = 30 + int(np.flatnonzero(~holdout_mask(30, 34, 0.25, seed=0))[0])
        data, where = _Rows(_with_nan(X, row), y), f"X holds NaN or inf (the first in row {row})"
        cfg["val_split"] = 0.25
    elif form == "chunks_split":  # the kept rows of each chunk: no row number to name
        bad = _with_nan(X, 30 + int(np.flatnonzero(~holdout_mask(30, 34, 0.25, seed=0))[0]))
        data = lambda: iter([(bad[:32], y[:32]), (bad[32:], y[32:])])  # noqa: E731
        where = "because X holds NaN or inf: the data"
        cfg["val_split"] = 0.25
    elif form == "lbfgs":
        data, where = (_with_nan(X, 40), y), "X holds NaN or inf (the first in row 40)"
        cfg["optimizer"] = "lbfgs"
    elif form == "validation":
        data, val = (X, y), (_with_nan(X[:16], 3), y[:16])
        where = "validation data's X holds NaN or inf (the first in row 3)"
        cfg["patience"] = 2  # a NaN validation loss used to end the run as early stopping
    model = LinearModel(3, seed=0, dtype=torch.float64)
    with pytest.raises(ValueError, match="remove or impute") as info:
        train(model, data, "squared", TrainConfig(**cfg), val_data=val)
    assert not isinstance(info.value, DivergenceError)
    assert where in str(info.value)


@pytest.mark.parametrize("batch_size", [8, 64])
def test_a_first_loss_that_overflows_blames_the_data_not_the_learning_rate(batch_size):
    X, y = _data(n=64)
    y = y * 1e300  # squares overflow before any step
    model = LinearModel(3, seed=0, dtype=torch.float64)
    with pytest.raises(ValueError) as info:
        train(model, (X, y), "squared", TrainConfig(epochs=2, batch_size=batch_size, seed=0))
    assert not isinstance(info.value, DivergenceError)
    assert str(info.value) == (
        "the loss of the first batch is inf before any training step: values of X or y are "
        "too large for float64 (their squares overflow); rescale X and y before fitting"
    )


# ------------------------------------------------------------------ interrupt and resume


def _resume_case(
    tmp_path,
    data_fn,
    cfg_kwargs,
    interrupt_at,
    model_fn,
    loss="squared",
    penalty=None,
    metrics=None,
):
    base = dict(seed=11, checkpoint=str(tmp_path / "ckpt")) | cfg_kwargs

    def run(callbacks=(), resume=False, checkpoint=True):
        kw = dict(base, resume=resume)
        if not checkpoint:
            kw.pop("checkpoint")
        model = model_fn()
        h = train(
            model,
            data_fn(),
            loss,
            TrainConfig(**kw),
            penalty=penalty,
            metrics=metrics,
            callbacks=callbacks,
        )
        return model, h

    reference, href = run(checkpoint=False)
    _, h1 = run(callbacks=[InterruptAt(*interrupt_at)])
    assert h1.stop_reason == "interrupted"
    assert (tmp_path / "ckpt" / "model.json").exists()
    resumed, h2 = run(resume=True)
    assert h2.stop_reason == href.stop_reason
    assert _same(resumed, reference)  # bitwise
    assert h2.train_loss == href.train_loss and h2.val_loss == href.val_loss
    assert h2.metrics == href.metrics and h2.lr == href.lr
    return h2


def test_ctrl_c_mid_epoch_then_resume_equals_uninterrupted(tmp_path):
    X, y = _data(n=300)
    _resume_case(
        tmp_path,
        lambda: (X, y),
        dict(epochs=5, batch_size=32, lr=0.02, val_split=0.2, schedule="cosine", patience=20),
        interrupt_at=(2, 3),
        model_fn=lambda: LinearModel(3, seed=1, dtype=torch.float64),
        penalty=Penalty(alpha=0.05, l1_ratio=0.5),
        metrics=["mae"],
    )


def test_resume_adam_mlp_classification(tmp_path):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 2, generator=g)
    y = (X[:, 0] * X[:, 1] > 0).long()
    _resume_case(
        tmp_path,
        lambda: (X, y),
        dict(epochs=4, batch_size=16, lr=0.01, optimizer="adam", schedule="step", step_size=1),
        interrupt_at=(1, 5),
        model_fn=lambda: MLP(2, 8, 2, squeeze=False, seed=0),
        loss="ce",
        metrics=["accuracy"],
    )


def test_resume_lbfgs(tmp_path):
    X, y = _data(n=100)
    _resume_case(
        tmp_path,
        lambda: (X, y),
        dict(epochs=4, optimizer="lbfgs", lbfgs_max_iter=2),
        interrupt_at=(1, 0),
        model_fn=lambda: LinearModel(3, seed=1, dtype=torch.float64),
        penalty=Penalty(alpha=0.01),
    )


def test_resume_chunked_and_dataset_sources(tmp_path):
    X, y = _data(n=230)
    _resume_case(
        tmp_path / "chunks",
        lambda: _chunks(X, y, 50),
        dict(epochs=3, batch_size=16, val_split=0.2),
        interrupt_at=(1, 6),
        model_fn=lambda: LinearModel(3, seed=1, dtype=torch.float64),
    )
    _resume_case(
        tmp_path / "dataset",
        lambda: Rows(X, y),
        dict(epochs=3, batch_size=16, val_split=0.2),
        interrupt_at=(1, 6),
        model_fn=lambda: LinearModel(3, seed=1, dtype=torch.float64),
    )


def test_resume_across_a_drop_of_the_learning_rate_equals_uninterrupted(tmp_path):
    X, y = _data(n=160, noise=1.0)
    cfg = dict(epochs=60, batch_size=8, lr=0.05, tol=1e-6, n_iter_no_change=3)
    ref = LinearModel(3, seed=1, dtype=torch.float64)
    href = train(ref, (X, y), "squared", TrainConfig(**cfg, seed=11))
    assert len(href.lr_drops) >= 2
    # Ctrl-C between the first and the second drop: the lower rate, the plateau count and
    # the drops made so far come back from the checkpoint
    at = (href.lr_drops[0] + 1, 4)  # 0-based epoch: the second epoch after the drop
    h = _resume_case(
        tmp_path,
        lambda: (X, y),
        cfg,
        interrupt_at=at,
        model_fn=lambda: LinearModel(3, seed=1, dtype=torch.float64),
    )
    assert h.lr_drops == href.lr_drops and h.lr == href.lr and len(h) == len(href)


def test_resume_after_a_crash_from_the_epoch_checkpoint(tmp_path):
    X, y = _data(n=120)
    cfg = dict(epochs=5, batch_size=16, seed=3, checkpoint=str(tmp_path), checkpoint_every=1)
    ref = LinearModel(3, seed=1, dtype=torch.float64)
    train(ref, (X, y), "squared", TrainConfig(**(cfg | {"checkpoint": None})))
    crashed = LinearModel(3, seed=1, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(crashed, (X, y), "squared", TrainConfig(**cfg), callbacks=[CrashAfterEpoch(2)])
    resumed = LinearModel(3, seed=1, dtype=torch.float64)
    h = train(resumed, (X, y), "squared", TrainConfig(**cfg, resume=True))
    assert _same(resumed, ref) and len(h) == 5
    # resuming a finished run changes nothing
    again = LinearModel(3, seed=9, dtype=torch.float64)
    h2 = train(again, (X, y), "squared", TrainConfig(**cfg, resume=True))
    assert _same(again, ref) and h2.train_loss == h.train_loss


def test_resume_checks(tmp_path):
    X, y = _data(n=40)
    with pytest.raises(ValueError, match="does not exist; run once without resume"):
        train(
            LinearModel(3, seed=0),
            (X, y),
            "squared",
            TrainConfig(checkpoint=str(tmp_path / "none"), resume=True),
        )
    train(
        LinearModel(3, seed=0, dtype=torch.float64),
        (X, y),
        "squared",
        TrainConfig(epochs=1, checkpoint=str(tmp_path), seed=0),
    )
    with pytest.raises(ValueError, match=r"different settings \(batch_size\)"):
        train(
            LinearModel(3, seed=0, dtype=torch.float64),
            (X, y),
            "squared",
            TrainConfig(epochs=2, batch_size=7, checkpoint=str(tmp_path), resume=True, seed=0),
        )
    with pytest.raises(ValueError, match="holds a different model"):
        train(
            LinearModel(4, seed=0, dtype=torch.float64),
            (torch.zeros(40, 4), y),
            "squared",
            TrainConfig(epochs=2, checkpoint=str(tmp_path), resume=True, seed=0),
        )
    with pytest.raises(ValueError, match="resume=True needs checkpoint"):
        TrainConfig(resume=True)


def test_interrupt_without_checkpoint_returns_history():
    X, y = _data(n=100)
    model = LinearModel(3, seed=0, dtype=torch.float64)
    before = signal.getsignal(signal.SIGINT)  # the default, or what a test runner installed
    h = train(
        model,
        (X, y),
        "squared",
        TrainConfig(epochs=5, batch_size=10, seed=0),
        callbacks=[InterruptAt(1, 2)],
    )
    assert h.stop_reason == "interrupted" and len(h) == 1
    assert signal.getsignal(signal.SIGINT) is before  # handler restored


# ------------------------------------------------------------------ UX and config


def test_progress_bar(capsys):
    X, y = _data(n=64)
    train(
        LinearModel(3, seed=0, dtype=torch.float64),
        (X, y),
        "squared",
        TrainConfig(epochs=2, batch_size=16, seed=0, progress=True, val_split=0.25),
    )
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "val_loss" in err


def test_history_serialises():
    X, y = _data(n=64)
    h = train(
        LinearModel(3, seed=0, dtype=torch.float64),
        (X, y),
        "squared",
        TrainConfig(epochs=2, seed=0, val_split=0.25),
        metrics=["mae"],
    )
    back = History.from_dict(json.loads(json.dumps(h.to_dict())))
    assert back == h
    rows = h.rows()
    assert [r["epoch"] for r in rows] == [1, 2] and {"val_loss", "train_mae", "lr"} <= set(rows[0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": -1}, "epochs must be"),
        ({"batch_size": 0}, "batch_size must be"),
        ({"lr": 0}, "lr must be"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of"),
        ({"momentum": 1.0}, "momentum must lie"),
        ({"schedule": "warm"}, "schedule must be one of"),
        ({"val_split": 1.0}, "val_split must lie"),
        ({"patience": 0}, "patience must be"),
        ({"device": "tpu"}, "device must be"),
    ],
)
def test_bad_config(kwargs, match):
    X, y = _data(n=20)
    with pytest.raises(ValueError, match=match):
        train(LinearModel(3, seed=0, dtype=torch.float64), (X, y), "squared", TrainConfig(**kwargs))


def test_bad_data_and_combinations():
    X, y = _data(n=20)
    model = LinearModel(3, seed=0, dtype=torch.float64)
    with pytest.raises(ValueError, match="y has 19 rows but X has 20"):
        train(model, (X, y[:-1]), "squared", TrainConfig(epochs=1))
    with pytest.raises(ValueError, match="data must be"):
        train(model, "file.csv", "squared", TrainConfig(epochs=1))
    with pytest.raises(ValueError, match="patience .* needs validation data"):
        train(model, (X, y), "squared", TrainConfig(epochs=1, patience=2))
    with pytest.raises(ValueError, match="either val_split or val_data"):
        train(model, (X, y), "squared", TrainConfig(epochs=1, val_split=0.2), val_data=(X, y))
    with pytest.raises(ValueError, match="either val_split or val_data"):  # before any split:
        config = TrainConfig(epochs=1, val_split=0.5)  # one row would leave no training data
        train(model, (X[:1], y[:1]), "squared", config, val_data=(X, y))
    with pytest.raises(ValueError, match="cannot apply an L1 penalty"):
        train(model, (X, y), "squared", TrainConfig(optimizer="lbfgs"), penalty=Penalty(1, 1))
    with pytest.raises(ValueError, match="leaves no training data"):
        train(model, (X[:1], y[:1]), "squared", TrainConfig(val_split=0.5))
    with pytest.raises(ValueError, match="metric must be one of"):
        train(model, (X, y), "squared", TrainConfig(epochs=1), metrics=["auc"])
    with pytest.raises(ValueError, match="yielded no batches"):
        train(model, (X, y), "squared", TrainConfig(epochs=1, batch_size=64, drop_last=True))


class AutogradLinear(LinearModel):
    """The same model with its own forward: the engine must fall back to autograd."""

    def forward(self, x):
        return super().forward(x)


@pytest.mark.parametrize(
    "loss, standardize, weighted, outputs",
    [
        ("squared", False, False, 1),
        ("squared", True, True, 2),
        ("l1", True, False, 1),
        ("huber", False, True, 1),
        ("ce", True, True, 3),
    ],
)
def test_closed_form_linear_gradient_equals_autograd(loss, standardize, weighted, outputs):
    from torchlinear.models import Standardized

    X, y = _data(n=90)
    if loss == "ce":
        y = torch.bucketize(y, torch.tensor([-2.0, 5.0])).long()
    elif outputs > 1:
        y = torch.stack([y, -y], dim=1)
    w = torch.rand(90, generator=torch.Generator().manual_seed(1), dtype=torch.float64) + 0.5
    data = (X, y, w) if weighted else (X, y)

    def model(cls):
        kw = dict(squeeze=False) if loss == "ce" else {}
        inner = cls(3, outputs, seed=0, dtype=torch.float64, **kw)
        return Standardized(inner, X.mean(0), X.std(0)) if standardize else inner

    fast, slow = model(LinearModel), model(AutogradLinear)
    from torchlinear.engine.loop import linear_fast_path as _linear_fast_path

    assert _linear_fast_path(fast) is not None and _linear_fast_path(slow) is None
    # (L-BFGS assumes a smooth objective: on the L1 loss rounding decides its path)
    for optimizer in ("sgd",) if loss == "l1" else ("sgd", "lbfgs"):
        cfg = TrainConfig(epochs=3, batch_size=16, optimizer=optimizer, seed=0, lr=0.05)
        hf = train(fast, data, loss, cfg, penalty=Penalty(alpha=0.01))
        hs = train(slow, data, loss, cfg, penalty=Penalty(alpha=0.01))
        # rounding differs between the two; L-BFGS's line search can amplify it slightly
        tol = 1e-9 if optimizer == "sgd" else 1e-5
        assert hf.train_loss == pytest.approx(hs.train_loss, rel=tol)
        for p, q in zip(fast.parameters(), slow.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=tol, atol=tol * 1e-2)


def test_resume_extends_a_completed_run_and_keeps_a_finished_one(tmp_path):
    X, y = _data(n=100)
    ref = LinearModel(3, seed=1, dtype=torch.float64)
    train(ref, (X, y), "squared", TrainConfig(epochs=5, batch_size=16, seed=2))
    model = LinearModel(3, seed=1, dtype=torch.float64)
    ckpt = str(tmp_path / "a")
    train(model, (X, y), "squared", TrainConfig(epochs=3, batch_size=16, seed=2, checkpoint=ckpt))
    more = LinearModel(3, seed=1, dtype=torch.float64)
    h = train(
        more,
        (X, y),
        "squared",
        TrainConfig(epochs=5, batch_size=16, seed=2, checkpoint=ckpt, resume=True),
    )
    assert _same(more, ref) and len(h) == 5 and h.stop_reason == "completed"
    # an early-stopped run is final: resuming it returns its history and best parameters
    ckpt = str(tmp_path / "b")
    cfg = dict(epochs=50, batch_size=50, lr=0.01, seed=0, patience=2, checkpoint=ckpt)
    stopped = LinearModel(3, seed=0, dtype=torch.float64)
    h1 = train(stopped, (X, y), "squared", TrainConfig(**cfg), val_data=(X, -y))
    again = LinearModel(3, seed=5, dtype=torch.float64)
    h2 = train(again, (X, y), "squared", TrainConfig(**cfg, resume=True), val_data=(X, -y))
    assert h1.stop_reason == h2.stop_reason == "early_stopping" and h2 == h1
    assert _same(again, stopped)


def _edit_group(key, value):
    return lambda d: d["optimizer_state"]["param_groups"][0].update({key: value})


@pytest.mark.parametrize(
    ("edit", "expect"),
    [
        (lambda d: d.update(epoch=None), "'epoch' must be an integer >= 0, got None"),
        (lambda d: d["meter"].update(rows="7"), "'meter.rows' must be an integer >= 0, got '7'"),
        (lambda d: d["history"].update(epoch=[0]), "'history.epoch[0]' must be an integer >= 1"),
        (
            lambda d: d["history"].update(lr=[]),
            "fit this run: the history's lr do(es) not",
        ),
        (lambda d: d["history"].update(val_loss=[]), "history records other losses or metrics"),
        (_edit_group("lr", None), "its optimizer state has a learning rate of None"),
        (
            _edit_group("eps", 1.0),
            "optimizer state has eps=1.0, this run's optimizer eps=1e-08",
        ),
        (_edit_group("amsgrad", "x"), "its optimizer state has amsgrad='x', this run's optimizer"),
        (_edit_group("params", None), "checkpoint"),
    ],
)
def test_an_edited_and_re_signed_checkpoint_is_refused_in_one_line(tmp_path, edit, expect):
    """The checksums catch accidents; a checkpoint edited on purpose (both digests
    recomputed) must still be refused in one line when resumed, not fail in training."""
    from torchlinear.io import load_model, save_model

    X, y = _data(n=80)
    folder = tmp_path / "ckpt"

    def run(resume):
        cfg = TrainConfig(epochs=2 + resume, optimizer="adam", lr=0.01, seed=0, val_split=0.25,
                          checkpoint=str(folder), resume=resume)  # fmt: skip
        return train(LinearModel(3), (X, y), "squared", cfg)

    run(resume=False)
    tensors, document = load_model(folder)
    for key in ("format", "format_version", "library_version", "weights"):
        document.pop(key)
    edit(document)
    save_model(folder, tensors, document)
    with pytest.raises(ValueError) as info:
        run(resume=True)
    message = str(info.value)
    assert message.startswith(f"checkpoint {str(folder)!r}") and "\n" not in message, message
    assert expect in message, message
