"""Data-parallel training (run on 2 ranks by ``job.py``, and in one process as reference).

``runs(folder)`` trains a few models and returns their parameters and histories; the test
calls it in a single process for the reference. ``streamed(rank)`` trains on per-rank
streams of different lengths (no single-process counterpart).
"""

from pathlib import Path

import numpy as np
import torch

from torchlinear import distributed as tld
from torchlinear.engine import TrainConfig, train
from torchlinear.estimators.linear import LinearRegression
from torchlinear.losses import Penalty
from torchlinear.models import MLP, LinearModel


def _data(n: int, seed: int = 0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 4, generator=g, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5, 1.0])
    y = X @ torch.tensor([2.0, -3.4, 1.0, 0.5], dtype=torch.float64) + 4.2
    y = y + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
    return X.to(dtype), y.to(dtype)


def _keep(results, name, model, history):
    for key, value in model.state_dict().items():
        results[f"{name}.{key}"] = value.detach().cpu().double().numpy()
    results[f"{name}.train_loss"] = np.array(history.train_loss)
    results[f"{name}.val_loss"] = np.array(history.val_loss)
    for key, values in history.metrics.items():
        results[f"{name}.{key}"] = np.array(values)


def runs(folder: Path) -> dict[str, np.ndarray]:
    results: dict[str, np.ndarray] = {}
    # 201 rows, batches of 10: the last global batch has 1 row, so one rank's part is empty
    X, y = _data(201)
    model = LinearModel(4, seed=0)
    cfg = TrainConfig(epochs=4, batch_size=10, lr=0.02, seed=3, val_split=0.2)
    history = train(model, (X, y), "squared", cfg, penalty=Penalty(0.01), metrics=["mse"])
    _keep(results, "sgd", model, history)

    # a map-style Dataset, Adam, Huber loss, an MLP through autograd
    dataset = torch.utils.data.TensorDataset(X, y)
    mlp = MLP(4, 8, 1, seed=1)
    cfg = TrainConfig(epochs=3, batch_size=16, optimizer="adam", lr=0.01, seed=5)
    history = train(mlp, dataset, "huber", cfg, metrics=["mae"])
    _keep(results, "adam_mlp", mlp, history)

    # full-batch L-BFGS with an L2 penalty, float64
    X64, y64 = _data(150, seed=1, dtype=torch.float64)
    model = LinearModel(4, seed=2, dtype=torch.float64)
    cfg = TrainConfig(epochs=3, optimizer="lbfgs", seed=0)
    history = train(model, (X64, y64), "squared", cfg, penalty=Penalty(0.1))
    _keep(results, "lbfgs", model, history)

    # the scikit-learn estimator's gradient solver, unchanged
    reg = LinearRegression(solver="sgd", max_iter=5, batch_size=32, random_state=0, lr=0.01)
    reg.fit(X.numpy(), y.numpy())
    results["estimator.coef"] = np.asarray(reg.coef_, dtype=np.float64)
    results["estimator.intercept"] = np.asarray(reg.intercept_, dtype=np.float64)

    # a checkpoint folder per rank: only rank 0 may write one
    checkpoint = folder / f"checkpoint-rank{tld.rank()}"
    model = LinearModel(4, seed=0)
    cfg = TrainConfig(epochs=2, batch_size=50, lr=0.01, seed=0, checkpoint=str(checkpoint))
    train(model, (X, y), "squared", cfg)
    return results


def streamed(rank: int) -> dict[str, np.ndarray]:
    """Each rank streams its own rows, a different number per rank."""
    X, y = _data(300, seed=7)
    mine = slice(0, 170) if rank == 0 else slice(170, 300)
    Xr, yr = X[mine], y[mine]

    def chunks():
        for start in range(0, len(Xr), 40):
            yield Xr[start : start + 40], yr[start : start + 40]

    model = LinearModel(4, seed=0)
    cfg = TrainConfig(epochs=3, batch_size=20, lr=0.02, seed=0)
    history = train(model, chunks, "squared", cfg)
    results: dict[str, np.ndarray] = {}
    _keep(results, "streamed", model, history)
    return results
