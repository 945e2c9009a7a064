"""Gradient training in units of the target.

A regression target is divided by the power of two nearest its spread before training
(:func:`target_unit`), and Huber's threshold and the penalty with it (:func:`unit_for`,
:func:`penalty_in_units`); the trained output layer is multiplied back
(:func:`to_data_units`), and the engine reports the losses in the data's own units
(:meth:`torchlinear.losses.Loss.in_units`). In these units Adam's steps, L-BFGS's
tolerances and the divergence check mean the same whatever the scale of ``y``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from torchlinear.losses import Loss, Penalty
from torchlinear.models import LinearModel

__all__ = ["penalty_in_units", "scaled_targets", "target_unit", "to_data_units", "unit_for"]


def target_unit(y: Any) -> float:
    """The unit gradient training measures regression targets in: the power of two
    nearest their spread (1.4826 times the median absolute deviation from the median;
    the mean absolute deviation when most targets are equal), 1 for a constant target.

    In these units Adam's steps, L-BFGS's tolerances and the divergence check mean the
    same whether ``y`` is in nanometres or in dollars; powers of two divide exactly.

    Examples
    --------
    >>> target_unit(np.array([0.1, 0.2, 0.35, 0.5])), target_unit(np.array([2e5, 3e5, 4.5e5]))
    (0.25, 131072.0)
    """
    values = np.asarray(y, dtype=np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    if not len(values):
        return 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        deviation = np.abs(values - np.median(values))
        spread = 1.4826 * float(np.median(deviation))
        if not spread > 0:
            spread = float(deviation.mean())
    if not (spread > 0 and math.isfinite(spread)):
        return 1.0
    return float(2.0 ** min(max(round(math.log2(spread)), -1000), 1000))


def penalty_in_units(alpha: float, l1_ratio: float, loss: Loss, unit: float) -> Penalty:
    r"""The penalty that, with the loss in units of ``unit`` (:meth:`Loss.in_units`),
    has the same minimiser in coefficients measured in ``unit``.

    Coefficients :math:`w = s w'` turn :math:`L(w) + a_1\|w\|_1 + \tfrac{a_2}{2}\|w\|^2`
    into :math:`s^p (L'(w') + a_1 s^{1-p}\|w'\|_1 + \tfrac{a_2}{2} s^{2-p}\|w'\|^2)`,
    with :math:`p` = 2 for the squared and Huber losses and 1 for the absolute loss.

    Examples
    --------
    >>> from torchlinear.losses import get_loss
    >>> penalty_in_units(1.0, 0.5, get_loss("squared"), 4.0)
    Penalty(alpha=0.625, l1_ratio=0.2)
    """
    power = 2 if loss.name in ("squared", "huber") else 1
    l1 = alpha * l1_ratio * unit ** (1 - power)
    l2 = alpha * (1.0 - l1_ratio) * unit ** (2 - power)
    total = l1 + l2
    return Penalty(total, l1 / total if total > 0 else l1_ratio)


def scaled_targets(
    y: torch.Tensor, loss_fn: Loss, unit: float, val_data: Any
) -> tuple[torch.Tensor, Loss, Any]:
    """``y``, the loss and the validation rows in units of ``unit``."""
    if val_data is not None:
        val_data = (val_data[0], val_data[1] / unit, *val_data[2:])
    return y / unit, loss_fn.in_units(unit), val_data


def unit_for(y: Any, loss_fn: Loss, model: str, alpha: float, val_data: Any = None) -> float:
    """:func:`target_unit` for a regression fit that can train in it: a linear model, or
    an unpenalised MLP (a penalty on the hidden layer does not scale with ``y``), with
    validation rows (if any) given as arrays; else 1."""
    if loss_fn.name not in ("squared", "huber", "l1") or (model != "linear" and alpha > 0):
        return 1.0  # a loss of no known degree in y (see Loss.value_unit), or classification
    if val_data is not None and not (
        isinstance(val_data, list | tuple) and len(val_data) in (2, 3)
    ):
        return 1.0
    unit = target_unit(y)
    if loss_fn.name == "huber":  # no coarser than delta: its kinks need gradients of size 1
        unit = min(unit, 2.0 ** math.floor(math.log2(loss_fn.delta)))
    return unit if loss_fn.delta / unit > 0 else 1.0


def to_data_units(inner: nn.Module, unit: float) -> None:
    """Rescale a trained model's output layer from units of ``unit`` to the data's own."""
    if unit == 1.0:
        return
    layer = inner.linear if isinstance(inner, LinearModel) else inner.get_submodule("output")
    assert isinstance(layer, nn.Linear)
    with torch.no_grad():
        layer.weight.mul_(unit)
        if layer.bias is not None:
            layer.bias.mul_(unit)
