"""The mean loss and metrics of a model on data, without training (:func:`evaluate`), and
the dtype and device a model's data is cast to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from torchlinear._validation import resolve_device
from torchlinear.engine.config import TrainConfig
from torchlinear.engine.metrics import Meter, MetricSpec, loss_units, resolve_metrics
from torchlinear.engine.sources import Cast, Source, build_sources, eval_rows, rows_at_most
from torchlinear.losses import Loss, resolve_loss

__all__ = ["evaluate", "evaluate_source", "model_device", "model_dtype", "target_dtype"]


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Any,
    loss: Loss | str | Callable = "squared",
    *,
    metrics: MetricSpec | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 4096,
) -> dict[str, float]:
    """Return the mean loss (and metrics) of ``model`` on ``data``, without training.

    ``data`` takes the same forms as in :func:`train`. The result has ``"loss"`` and one
    key per metric.

    Examples
    --------
    >>> from torchlinear.models import LinearModel
    >>> model = LinearModel(1, init="zeros")
    >>> evaluate(model, (torch.ones(4, 1), torch.full((4,), 2.0)), "squared")
    {'loss': 2.0}
    """
    loss_fn = resolve_loss(loss)
    device = model_device(model) if device is None else resolve_device(device)
    dtype = model_dtype(model)
    cast = Cast(device, dtype, target_dtype(loss_fn, dtype))
    cfg = TrainConfig(batch_size=batch_size, shuffle=False)
    source, _ = build_sources(data, None, cfg, cast, 0)
    was_training = model.training
    model.eval()
    try:
        return evaluate_source(model, source, loss_fn, resolve_metrics(metrics))
    finally:
        model.train(was_training)


def evaluate_source(
    model: nn.Module, source: Source, loss_fn: Any, metrics: Any, dp: Any = None
) -> dict[str, float]:
    meter = Meter(list(metrics), *loss_units(loss_fn))
    for X, y, w in rows_at_most(source.eval_batches(), eval_rows(model)):
        pred = model(X)
        n = len(X)
        meter.loss_sum += loss_fn(pred, y, w).item() * n
        meter.rows += n
        meter.add_metrics(metrics, pred, y, n)
    if dp is not None:  # data parallel: every rank evaluated its own rows
        sums = [meter.loss_sum, meter.rows, *(float(v) for v in meter.metric_sums.values())]
        sums = dp.all_reduce(sums)
        meter.loss_sum, meter.rows = sums[0], int(round(sums[1]))
        meter.metric_sums = dict(zip(meter.names, sums[2:], strict=True))
    if meter.rows == 0:
        raise ValueError("the validation data is empty")
    loss_value, metric_values = meter.means()
    return {"loss": loss_value, **metric_values}


def model_dtype(model: nn.Module) -> torch.dtype:
    p = next(model.parameters(), None)
    return p.dtype if p is not None else torch.get_default_dtype()


def model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def target_dtype(loss_fn: Any, dtype: torch.dtype) -> torch.dtype | None:
    if isinstance(loss_fn, Loss):
        return torch.int64 if loss_fn.task == "classification" else dtype
    return None
