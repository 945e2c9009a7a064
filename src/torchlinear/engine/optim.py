"""The optimizer and the learning-rate schedule a :class:`~torchlinear.engine.TrainConfig`
asks for, built over a model's trainable parameters."""

from __future__ import annotations

import torch
from torch import nn

from torchlinear.engine.config import DEFAULT_GAMMA, TrainConfig

__all__ = ["current_lr", "make_optimizer", "make_schedule"]


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    lr = cfg.resolved_lr
    if cfg.optimizer in ("sgd", "adam"):
        kwargs = {"momentum": cfg.momentum} if cfg.optimizer == "sgd" else {"betas": cfg.betas}
        make = torch.optim.SGD if cfg.optimizer == "sgd" else torch.optim.Adam
        if all(p.device.type == "cpu" for p in params):
            # the per-tensor loop has the least overhead for a few small CPU tensors (the
            # fused and multi-tensor kernels hand tiny work to several threads)
            kwargs["foreach"] = False
        return make(params, lr=lr, **kwargs)
    return torch.optim.LBFGS(
        params,
        lr=lr,
        max_iter=cfg.lbfgs_max_iter,
        line_search_fn="strong_wolfe",
        # no absolute tolerances: a loss in units of the target (Loss.in_units) of a
        # near-perfect fit is tiny, and the epochs' relative criterion (tol) decides
        tolerance_grad=0.0,
        tolerance_change=0.0,
        history_size=20,
    )


def make_schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig):
    if cfg.schedule is None:
        return None
    gamma = cfg.gamma if cfg.gamma is not None else DEFAULT_GAMMA.get(cfg.schedule, 0.1)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(cfg.epochs, 1))
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=gamma)
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])
