"""Reading a training checkpoint back: what its sidecar must hold, and whether what it
restores fits the run that resumes it.

A checkpoint is a model file (:func:`torchlinear.io.save_model`) of kind
:data:`~torchlinear.engine.config.CHECKPOINT_KIND`, written by the training loop. Its
checksums catch accidents; a checkpoint edited and re-signed is checked here field by
field (:data:`CHECKPOINT`) before the loop reads it, and the optimizer state it restores
is compared with the one the run built (:func:`check_optimizer`), so that ``resume``
refuses such a file in one line instead of failing with a traceback, or training on with
hyperparameters the run did not ask for.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchlinear._schema import (
    Anything,
    Int,
    ListOf,
    MapOf,
    Maybe,
    Num,
    Record,
    SchemaError,
    Str,
    check_document,
)
from torchlinear.engine.config import CHECKPOINT_KIND, History
from torchlinear.io import load_model

__all__ = [
    "CHECKPOINT",
    "check_best_state",
    "check_history",
    "check_optimizer",
    "hyperparameters",
    "read_checkpoint",
]

#: What the training loop writes into a checkpoint's sidecar.
CHECKPOINT = Record(
    {
        "kind": Str((CHECKPOINT_KIND,)),
        "epoch": Int(low=0),
        "batch": Int(low=0),
        "seed": Int(low=0, high=2**62),
        "first_loss": Maybe(Num(nan=True)),
        "first_gradient": Maybe(Num(nan=True)),
        "no_improve": Int(low=0),
        "best_train": Num(nan=True),
        "meter": Record(
            {"rows": Int(low=0), "loss_sum": Num(nan=True), "metric_sums": MapOf(Num(nan=True))}
        ),
        "early_stopping": Record({"best": Num(nan=True), "bad_epochs": Int(low=0)}),
        "optimizer_state": Record({"state": Anything(), "param_groups": ListOf(MapOf(), 1)}),
        "schedule_state": Maybe(MapOf()),
        "config": MapOf(),
        "history": History.SCHEMA,
    },
    optional=("first_gradient",),  # checkpoints written before it was kept
    others=Anything(),  # the file format's own fields, checked by torchlinear.io
)

_REMEDY = "it was edited or written by another program: start afresh without resume"


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and sidecar of the checkpoint at ``path``, its fields checked.

    Raises
    ------
    ValueError
        One line naming the checkpoint: missing, not a checkpoint, damaged, or a field
        that is not what the training loop writes (:class:`~torchlinear._schema.SchemaError`).
    """
    if not Path(path).exists():
        raise ValueError(f"checkpoint {str(path)!r} does not exist; run once without resume=True")
    tensors, meta = load_model(path)
    if meta.get("kind") != CHECKPOINT_KIND:
        raise ValueError(f"{str(path)!r} is a model file, not a training checkpoint")
    try:
        check_document(meta, CHECKPOINT)
    except SchemaError as exc:
        raise exc.located(f"checkpoint {str(path)!r}", _REMEDY) from None
    return tensors, meta


def hyperparameters(optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    """A copy of each parameter group's settings (its parameters left out)."""
    return [
        copy.deepcopy({k: v for k, v in group.items() if k != "params"})
        for group in optimizer.param_groups
    ]


def check_optimizer(optimizer: torch.optim.Optimizer, built: list[dict[str, Any]]) -> None:
    """Refuse a restored optimizer state that is not this run's: other settings than the
    ones the run ``built`` it with (the learning rate aside, which a schedule moves), or
    per-parameter state (moments, momentum) of other shapes than the parameters."""
    restored = hyperparameters(optimizer)
    if [sorted(g) for g in restored] != [sorted(g) for g in built]:
        raise ValueError("its optimizer state has other settings than this run's optimizer")
    for group, own in zip(restored, built, strict=True):
        for key, value in group.items():
            if key in ("lr", "initial_lr"):
                ok = isinstance(value, float | int) and not isinstance(value, bool)
                if not ok or not math.isfinite(value) or value < 0:
                    raise ValueError(f"its optimizer state has a learning rate of {value!r}")
            elif value != own[key] or type(value) is not type(own[key]):
                raise ValueError(
                    f"its optimizer state has {key}={value!r}, this run's optimizer "
                    f"{key}={own[key]!r}"
                )
    if not isinstance(optimizer, torch.optim.SGD | torch.optim.Adam):
        return  # L-BFGS keeps flat vectors of all the parameters: torch checks them
    for group in optimizer.param_groups:
        for p in group["params"]:
            for key, value in optimizer.state.get(p, {}).items():
                if key == "step":
                    ok = not torch.is_tensor(value) or value.numel() == 1
                else:
                    ok = torch.is_tensor(value) and value.shape == p.shape
                if not ok:
                    raise ValueError(f"its optimizer's {key!r} does not fit the parameters")


def check_best_state(tensors: Mapping[str, torch.Tensor], model: nn.Module) -> None:
    """The early-stopping copy of the best parameters, if any, must be the model's."""
    best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
    own = model.state_dict()
    if best and {k: tuple(v.shape) for k, v in best.items()} != {
        k: tuple(v.shape) for k, v in own.items()
    }:
        raise ValueError("its best parameters (early stopping) are not this model's")


def check_history(history: History, metrics: list[str], validating: bool) -> None:
    """The history must record what this run records each epoch: validation losses when
    it validates, and each of its metrics."""
    names = {f"train_{m}" for m in metrics}
    if validating:
        names |= {f"val_{m}" for m in metrics}
    validated = bool(history.val_loss)  # from_dict: one per epoch, or none
    if history.epoch and (validated != validating or set(history.metrics) != names):
        raise ValueError("its history records other losses or metrics than this run does")
