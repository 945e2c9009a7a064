"""Hooks into the training loop: the Callback base, the progress bar, early stopping, Ctrl-C."""

from __future__ import annotations

import contextlib
import math
import signal
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from torchlinear.engine.config import History


class Callback:
    """Hooks into the loop; override what you need. Return ``True`` from
    :meth:`on_epoch_end` to stop training (``stop_reason == "callback"``).

    The model being trained is available as ``self.model`` from :meth:`on_train_begin` on.

    Examples
    --------
    >>> class StopAtLoss(Callback):
    ...     def on_epoch_end(self, epoch, history):
    ...         return history.train_loss[-1] < 0.1
    """

    model: nn.Module | None = None

    def set_model(self, model: nn.Module) -> None:
        """Called by the engine before training starts."""
        self.model = model

    def on_train_begin(self, history: History) -> None:
        """Called once before the first epoch (also when resuming)."""

    def on_batch_end(self, epoch: int, batch: int, loss: float) -> None:
        """Called after each optimizer step (``epoch`` and ``batch`` count from 0)."""

    def on_epoch_end(self, epoch: int, history: History) -> bool | None:
        """Called after each epoch's bookkeeping; return ``True`` to stop."""
        return None

    def on_train_end(self, history: History) -> None:
        """Called once when training stops, for any reason."""


class ProgressBar(Callback):
    """A tqdm bar reset each epoch (batches done, running loss; metrics at epoch end)."""

    def __init__(self, epochs: int, n_batches: int | None) -> None:

        self.epochs, self.n_batches = epochs, n_batches
        self.bar = tqdm(total=n_batches, unit="batch", dynamic_ncols=True, leave=True)

    def start_epoch(self, epoch: int, done: int) -> None:
        self.bar.reset(total=self.n_batches)
        self.bar.set_description(f"epoch {epoch + 1}/{self.epochs}")
        if done:
            self.bar.update(done)

    def on_batch_end(self, epoch: int, batch: int, loss: float) -> None:
        self.bar.update(1)

    def on_epoch_end(self, epoch: int, history: History) -> None:
        post = {"loss": f"{history.train_loss[-1]:.4g}"}
        if history.val_loss:
            post["val_loss"] = f"{history.val_loss[-1]:.4g}"
        for name, values in history.metrics.items():
            post[name] = f"{values[-1]:.4g}"
        self.bar.set_postfix(post, refresh=True)

    def on_train_end(self, history: History) -> None:
        self.bar.close()


class EarlyStopping:
    """Tracks the best validation loss and keeps a copy of the parameters that reached it."""

    def __init__(self, patience: int | None, min_delta: float) -> None:
        self.patience, self.min_delta = patience, min_delta
        self.best = math.inf
        self.bad_epochs = 0
        self.best_state: dict[str, torch.Tensor] | None = None

    def update(self, val_loss: float, model: nn.Module) -> bool:
        """Record one epoch; return ``True`` when patience has run out."""
        if val_loss < self.best - self.min_delta:
            self.best, self.bad_epochs = val_loss, 0
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self.bad_epochs += 1
        return self.patience is not None and self.bad_epochs >= self.patience

    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        tensors = {f"best.{k}": v for k, v in (self.best_state or {}).items()}
        return {"best": self.best, "bad_epochs": self.bad_epochs}, tensors

    def load(self, state: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> None:
        self.best, self.bad_epochs = float(state["best"]), int(state["bad_epochs"])
        best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
        self.best_state = best or None


class Interrupt:
    """Turns the first Ctrl-C (SIGINT) or SIGTERM into a flag checked between batches, so
    that training stops after saving a checkpoint; a second one raises
    ``KeyboardInterrupt`` at once."""

    SIGNALS = tuple(
        getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name)
    )

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> Interrupt:
        for signum in self.SIGNALS:
            # not the main thread: plain KeyboardInterrupt (and SIGTERM's own handler)
            with contextlib.suppress(ValueError):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}
