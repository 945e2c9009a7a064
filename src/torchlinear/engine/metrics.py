"""Per-sample metrics and their running means over an epoch."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from torchlinear.losses import Loss


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred.reshape(target.shape) - target) ** 2


def mae(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred.reshape(target.shape) - target).abs()


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred.argmax(dim=-1) == target).to(torch.float64)


METRICS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": mse,
    "mae": mae,
    "accuracy": accuracy,
}
"""Built-in metrics: each maps ``(prediction, target)`` to per-sample values, averaged.
A metric of one's own (``name -> fn(pred, target)``) gets a ``(n, 1)`` prediction as
``(n,)`` when the target is ``(n,)``."""

MetricSpec = Mapping[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] | Sequence[str]


def resolve_metrics(metrics: MetricSpec | None) -> dict[str, Callable]:
    if metrics is None:
        return {}
    if isinstance(metrics, Mapping):
        return dict(metrics)
    if isinstance(metrics, str):
        metrics = [metrics]
    out = {}
    for name in metrics:
        if name not in METRICS:
            raise ValueError(f"metric must be one of {sorted(METRICS)}, got {name!r}")
        out[name] = METRICS[name]
    return out


class Meter:
    """Row-weighted running means of the loss and the metrics (sums kept on the device).

    A loss that works in units of the target (:meth:`torchlinear.losses.Loss.in_units`)
    is reported in the data's own units: its means are multiplied by ``loss_unit`` and the
    metrics see predictions and targets multiplied by ``target_unit``.
    """

    def __init__(
        self, names: Sequence[str], loss_unit: float = 1.0, target_unit: float = 1.0
    ) -> None:
        self.names = list(names)
        self.loss_unit, self.target_unit = float(loss_unit), float(target_unit)
        self.reset()

    def reset(self) -> None:
        self.rows = 0
        self.loss_sum = 0.0
        self.metric_sums: dict[str, Any] = dict.fromkeys(self.names, 0.0)

    def add_metrics(self, metrics: Mapping[str, Callable], pred, target, n: int) -> None:
        with torch.no_grad():
            if self.target_unit != 1.0 and metrics:
                pred, target = pred * self.target_unit, target * self.target_unit
            # a metric of one's own sees a (n, 1) prediction as (n,) against a (n,) target,
            # as the built-in ones do: pred - target must not broadcast to (n, n)
            column = pred.ndim == 2 and pred.shape[1] == 1 and target.ndim == 1
            flat = pred.reshape(-1) if column and len(pred) == len(target) else pred
            for name, fn in metrics.items():
                value = fn(pred if fn is accuracy else flat, target)
                value = value * n if value.ndim == 0 else value.sum()
                self.metric_sums[name] = self.metric_sums[name] + value

    def means(self) -> tuple[float, dict[str, float]]:
        rows = max(self.rows, 1)
        loss = self.loss_sum / rows * self.loss_unit
        return loss, {k: float(v) / rows for k, v in self.metric_sums.items()}

    def state(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "loss_sum": self.loss_sum,
            "metric_sums": {k: float(v) for k, v in self.metric_sums.items()},
        }

    def load(self, state: Mapping[str, Any]) -> None:
        self.rows = int(state["rows"])
        self.loss_sum = float(state["loss_sum"])
        self.metric_sums = {k: float(state["metric_sums"].get(k, 0.0)) for k in self.names}


def loss_units(loss_fn: Any) -> tuple[float, float]:
    """``(value unit, target unit)`` of a loss that may work in units of the target
    (:meth:`~torchlinear.losses.Loss.in_units`): what its values and its targets are
    multiplied by to report them in the data's own units."""
    if isinstance(loss_fn, Loss):
        return loss_fn.value_unit, loss_fn.unit
    return 1.0, 1.0
