"""The one training loop: the :class:`Trainer`, its checkpoints and :func:`train` (the
optimizer and schedule are built in :mod:`torchlinear.engine.optim`; evaluation is
:mod:`torchlinear.engine.evaluation`)."""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from torchlinear._validation import (
    resolve_device,
)
from torchlinear.distributed.parallel import DataParallel
from torchlinear.engine.callbacks import Callback, EarlyStopping, Interrupt, ProgressBar
from torchlinear.engine.checkpoint import (
    check_best_state,
    check_history,
    check_optimizer,
    hyperparameters,
    read_checkpoint,
)
from torchlinear.engine.config import (
    CHECKPOINT_KIND,
    EVAL_BATCH_VIEWS,
    FINAL_STOPS,
    LR_DROP_FACTOR,
    LR_DROPS,
    RESUME_MUST_MATCH,
    STATIONARY,
    DivergenceError,
    History,
    TrainConfig,
)
from torchlinear.engine.evaluation import evaluate_source, model_dtype, target_dtype
from torchlinear.engine.metrics import Meter, MetricSpec, loss_units, resolve_metrics
from torchlinear.engine.optim import current_lr, make_optimizer, make_schedule
from torchlinear.engine.sources import (
    Cast,
    ChunkSource,
    TensorSource,
    build_sources,
    eval_rows,
    rows_at_most,
)
from torchlinear.io import save_model
from torchlinear.json_codec import flatten_state, unflatten_state
from torchlinear.losses import Loss, Penalty, resolve_loss
from torchlinear.models import LinearModel, SoftmaxHead, Standardized

#: What loading a checkpoint that does not fit the run raises inside torch.
_CORRUPT = (KeyError, TypeError, IndexError, RuntimeError, AttributeError, OverflowError)


def linear_fast_path(model: nn.Module) -> tuple[nn.Linear, Any, bool] | None:
    """``(layer, (mean, scale) or None, squeeze)`` when ``model`` is the library's linear
    model (possibly behind :class:`Standardized`), whose gradient has a closed form."""
    shift = None
    if isinstance(model, Standardized) and type(model).forward is Standardized.forward:
        shift, model = (model.mean, model.scale), model.module
    if isinstance(model, LinearModel) and type(model).forward is LinearModel.forward:
        if model.linear.weight.requires_grad:
            return model.linear, shift, model.squeeze
    return None


def penalized(model: nn.Module) -> list[torch.Tensor]:
    chosen = getattr(model, "penalized_parameters", None)
    if chosen is not None:
        return list(chosen())
    return [p for p in model.parameters() if p.ndim >= 2]


def all_finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


class Trainer:
    """The state of one run; :func:`train` is its public face."""

    def __init__(
        self, model, data, loss, cfg, penalty, val_data, metrics, callbacks, data_parallel=None
    ) -> None:

        self.cfg = cfg
        self.dp = DataParallel.detect(data_parallel)
        self.device = resolve_device(cfg.device)
        self.model = model.to(self.device)
        if self.dp is not None:  # every rank starts from rank 0's parameters
            self.dp.broadcast_module(self.model)
        self.loss_fn = resolve_loss(loss)
        self.penalty = penalty if penalty is not None else Penalty()
        if cfg.optimizer == "lbfgs" and self.penalty.l1 > 0:
            raise ValueError(
                "optimizer 'lbfgs' cannot apply an L1 penalty (l1_ratio > 0); use 'sgd' or 'adam'"
            )
        self.metrics = resolve_metrics(metrics)
        self.callbacks = list(callbacks)
        self.penalized = penalized(self.model)
        self.fast = linear_fast_path(self.model) if isinstance(self.loss_fn, Loss) else None
        inner = self.model.module if isinstance(self.model, Standardized) else self.model
        # a linear model or softmax head: its loss has one minimum, where the gradient is 0
        self.convex = isinstance(inner, LinearModel | SoftmaxHead)
        self.optimizer = make_optimizer(self.model, cfg)
        self.schedule = make_schedule(self.optimizer, cfg)
        self.history = History()
        self.seed = cfg.seed if cfg.seed is not None else int(torch.Generator().seed() % 2**62)
        if self.dp is not None:  # the same permutations on every rank
            self.seed = self.dp.broadcast_seed(self.seed)
        self.epoch = 0  # epochs completed
        self.batch = 0  # batches completed in the current epoch
        self.first_loss: float | None = None
        self._grad_first: float | None = None  # largest |gradient| at L-BFGS's start
        self._grad_last = 0.0  # ... and at its latest evaluation
        self.no_improve = 0
        self.best_train = math.inf
        self.early = EarlyStopping(cfg.patience, cfg.min_delta)
        self.meter = Meter(list(self.metrics), *loss_units(self.loss_fn))
        self.generator = torch.Generator()
        self.epoch_start_state: torch.Tensor | None = None
        checkpoint = self._read_checkpoint() if cfg.resume else None
        if checkpoint is not None:  # its seed fixes the validation split: needed first
            self.seed = int(checkpoint[1]["seed"])
        self.history.seed = self.seed
        self.generator.manual_seed(self.seed + 1)
        dtype = model_dtype(self.model)
        cast = Cast(self.device, dtype, target_dtype(self.loss_fn, dtype))
        self.train_source, self.val_source = build_sources(data, val_data, cfg, cast, self.seed)
        if self.dp is not None:
            for source in (self.train_source, self.val_source):
                if source is not None:
                    source.dp = self.dp if source.replicated else None
            if isinstance(self.train_source, ChunkSource):  # each rank streams its own rows
                self.train_source.batch_size = self.dp.local_batch_size(cfg.batch_size)
        if cfg.patience is not None and self.val_source is None:
            raise ValueError(
                "patience (early stopping) needs validation data: set val_split or pass val_data"
            )
        self.resumed = checkpoint is not None
        if checkpoint is not None:
            self._restore(*checkpoint)

    def _checkpoint_payload(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        opt_doc, opt_tensors = flatten_state(self.optimizer.state_dict(), "optimizer")
        tensors.update(opt_tensors)
        sched_doc = None
        if self.schedule is not None:
            sched_doc, sched_tensors = flatten_state(self.schedule.state_dict(), "schedule")
            tensors.update(sched_tensors)
        early_doc, early_tensors = self.early.state()
        tensors.update(early_tensors)
        tensors["rng.generator"] = self.generator.get_state()
        if self.epoch_start_state is not None:
            tensors["rng.epoch_start"] = self.epoch_start_state
        meta = {
            "kind": CHECKPOINT_KIND,
            "epoch": self.epoch,
            "batch": self.batch,
            "seed": self.seed,
            "first_loss": self.first_loss,
            "first_gradient": self._grad_first,
            "no_improve": self.no_improve,
            "best_train": self.best_train,
            "meter": self.meter.state(),
            "early_stopping": early_doc,
            "optimizer_state": opt_doc,
            "schedule_state": sched_doc,
            "config": self.cfg.to_dict(),
            "history": self.history.to_dict(),
        }
        return tensors, meta

    def save_checkpoint(self) -> None:
        if self.cfg.checkpoint is None or (self.dp is not None and not self.dp.is_main):
            return
        tensors, meta = self._checkpoint_payload()
        save_model(self.cfg.checkpoint, tensors, meta)

    def _read_checkpoint(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        assert self.cfg.checkpoint is not None
        return read_checkpoint(self.cfg.checkpoint)

    def _restore(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Continue from the checkpoint; one line, never a traceback, for one that does
        not fit this run (its fields were checked as it was read)."""
        try:
            self._load_checkpoint(tensors, meta)
        except (
            KeyError,
            TypeError,
            IndexError,
            RuntimeError,
            AttributeError,
            OverflowError,
        ) as exc:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise ValueError(
                f"checkpoint {self.cfg.checkpoint!r} does not fit this run ({reason}); start "
                "afresh without resume"
            ) from None

    def _load_checkpoint(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        path = self.cfg.checkpoint
        saved = meta["config"]
        changed = [
            k
            for k in RESUME_MUST_MATCH
            if normalise(saved.get(k)) != normalise(getattr(self.cfg, k))
        ]
        if changed:
            raise ValueError(
                f"checkpoint {path!r} was written with different settings ({', '.join(changed)}); "
                "resume with the same settings or start afresh without resume"
            )
        model_state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        try:
            self.model.load_state_dict(model_state)
        except RuntimeError as exc:
            raise ValueError(
                f"checkpoint {path!r} holds a different model ({str(exc).splitlines()[0]})"
            ) from exc
        self.model.to(self.device)
        built = hyperparameters(self.optimizer)
        self.optimizer.load_state_dict(unflatten_state(meta["optimizer_state"], tensors))
        try:
            check_optimizer(self.optimizer, built)
            check_best_state(tensors, self.model)
        except ValueError as exc:
            raise ValueError(f"checkpoint {path!r} does not fit this run: {exc}") from None
        if self.schedule is not None and meta.get("schedule_state") is not None:
            self.schedule.load_state_dict(unflatten_state(meta["schedule_state"], tensors))
        self.early.load(meta["early_stopping"], {k: v.to(self.device) for k, v in tensors.items()})
        self.generator.set_state(tensors["rng.generator"])
        self.epoch_start_state = tensors.get("rng.epoch_start")
        if self.epoch_start_state is not None:
            torch.Generator().set_state(self.epoch_start_state)  # a generator's state, or raise
        self.epoch, self.batch = int(meta["epoch"]), int(meta["batch"])
        self.first_loss = meta["first_loss"]
        self._grad_first = meta.get("first_gradient")
        self.no_improve = int(meta["no_improve"])
        self.best_train = float(meta["best_train"])
        self.meter.load(meta["meter"])
        try:
            self.history = History.from_dict(meta["history"])
            check_history(self.history, list(self.metrics), self.val_source is not None)
        except ValueError as exc:
            raise ValueError(f"checkpoint {path!r} does not fit this run: {exc}") from None

    @staticmethod
    def _data_fault(source: Any) -> str | None:
        """What in ``source`` is NaN or inf (the first such row), or ``None``.

        Read only once a loss has become NaN or inf, to tell bad data from a learning
        rate that is too large."""
        row = 0
        for X, y, w in source.eval_batches():
            for name, values in (("X", X), ("y", y), ("sample_weight", w)):
                if values is None or not values.is_floating_point():
                    continue
                bad = ~torch.isfinite(values.reshape(len(values), -1)).all(dim=1)
                if bool(bad.any()):
                    at = source.data_row(row + int(bad.nonzero()[0, 0]))
                    where = "" if at is None else f" (the first in row {at})"
                    return f"{name} holds NaN or inf{where}"
            row += len(X)
        return None

    def _check(self, value: float, where: str) -> None:
        first_step = self.epoch == 0 and self.batch == 0 and self.cfg.optimizer != "lbfgs"
        reported = value * self.meter.loss_unit  # in the data's own units
        fault = None if math.isfinite(value) else self._data_fault(self.train_source)
        if fault is not None:
            if not all_finite(self.model) and self._epoch_snapshot is not None:
                self.model.load_state_dict(self._epoch_snapshot)
            self.history.stop_reason = "diverged"
            raise ValueError(
                f"the loss became {value} at {where} because {fault}: the data, not the "
                "learning rate, are at fault; remove or impute those values before training"
            )
        if first_step and self.first_loss is None and not math.isfinite(reported):
            # the first batch's loss is taken before any step: the data, not the learning
            # rate, is at fault
            dtype = str(next(self.model.parameters()).dtype).removeprefix("torch.")
            raise ValueError(
                f"the loss of the first batch is {reported} before any training step: values of "
                f"X or y are too large for {dtype} (their squares overflow); rescale X and y "
                "before fitting"
            )
        if self.first_loss is None and math.isfinite(value):
            self.first_loss = value
        # a first loss that is already ~0 (a perfect start) would make any noise "diverge"
        limit = self.cfg.divergence_factor * max(abs(self.first_loss or 0.0), 1e-8)
        if math.isfinite(value) and value <= limit:
            return
        lr = current_lr(self.optimizer)
        if not all_finite(self.model) and self._epoch_snapshot is not None:
            self.model.load_state_dict(self._epoch_snapshot)
        self.history.stop_reason = "diverged"
        unit = self.meter.loss_unit  # reported in the data's own units
        what = (
            f"became {value}"
            if not math.isfinite(value)
            else (
                f"grew to {value * unit:.4g}, over {self.cfg.divergence_factor:g} times its "
                f"first value {(self.first_loss or 0.0) * unit:.4g}"
            )
        )
        raise DivergenceError(where, what, self.history, lr)

    def _linear_grads(self, X, y, w, scale=1.0, l2=True, accumulate=False):
        """Fast path for linear models: the gradient in closed form, no autograd graph.

        ``out = Z W^T + b`` with ``Z`` the (standardized) batch; with ``psi`` the loss's
        gradient with respect to ``out`` the weight gradient is ``psi^T Z`` and the bias
        gradient ``sum(psi)``. The gradients (times ``scale``) replace ``.grad``, or are
        added to it with ``accumulate=True``.
        """
        layer, shift, squeeze = self.fast
        with torch.no_grad():
            Z = X if shift is None else (X - shift[0]) / shift[1]
            out = F.linear(Z, layer.weight, layer.bias)
            pred = out.squeeze(-1) if squeeze else out
            loss, psi = self.loss_fn.value_and_grad(pred, y, w)
            psi = psi.reshape(len(X), -1)
            grad_w = psi.T @ Z
            if l2 and self.penalty.l2:
                grad_w += self.penalty.l2 * layer.weight
            grads = [(layer.weight, grad_w)]
            if layer.bias is not None:
                grads.append((layer.bias, psi.sum(dim=0)))
            for param, grad in grads:
                if accumulate and param.grad is not None:
                    param.grad += grad * scale
                else:
                    param.grad = grad * scale if scale != 1.0 else grad
        return pred, loss

    def _gradients(self, X, y, w) -> tuple[torch.Tensor, torch.Tensor]:
        """Set ``.grad`` to the gradient of the batch's mean loss plus the smooth penalty;
        return the predictions and the loss."""
        if self.fast is not None:  # sets the gradients: no zero_grad needed
            return self._linear_grads(X, y, w)
        pred = self.model(X)
        loss = self.loss_fn(pred, y, w)
        objective = loss
        smooth = self.penalty.smooth(self.penalized) if self.penalty.active else None
        if smooth is not None:
            objective = loss + smooth
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        return pred, loss

    def _step_sgd(self, X, y, w) -> float:
        pred, loss = self._gradients(X, y, w)
        self.optimizer.step()
        if self.penalty.l1:
            self.penalty.prox_(self.penalized, current_lr(self.optimizer), self.optimizer)
        value = loss.detach().item()
        n = len(X)
        self.meter.loss_sum += value * n
        self.meter.rows += n
        if self.metrics:
            self.meter.add_metrics(self.metrics, pred.detach(), y, n)
        return value

    def _step_dp(self, X, y, w, interrupt: Interrupt) -> tuple[float, bool] | None:
        """One data-parallel step on this rank's part of the global batch (``X`` may be
        ``None`` or empty): the gradients, loss and metric sums are combined over the ranks
        in one all-reduce (see :class:`torchlinear.distributed.DataParallel`), so every rank
        takes the single-process step of the global batch. Returns the global batch's loss
        and whether any rank was interrupted, or ``None`` once no rank has rows left."""
        n = 0 if X is None else len(X)
        extras = [0.0] * (2 + len(self.metrics))
        if n:
            pred, loss = self._gradients(X, y, w)
            extras[0] = loss.detach().item() * n
            if self.metrics:
                part = Meter(list(self.metrics))
                part.add_metrics(self.metrics, pred.detach(), y, n)
                extras[2:] = [float(v) for v in part.metric_sums.values()]
        else:
            self.optimizer.zero_grad(set_to_none=True)
        extras[1] = float(interrupt.requested)
        rows, sums = self.dp.average_gradients(self.model.parameters(), n, extras)
        if rows == 0:
            return None
        self.optimizer.step()
        if self.penalty.l1:
            self.penalty.prox_(self.penalized, current_lr(self.optimizer), self.optimizer)
        self.meter.loss_sum += sums[0]
        self.meter.rows += rows
        for name, total in zip(self.metrics, sums[2:], strict=True):
            self.meter.metric_sums[name] = self.meter.metric_sums[name] + total
        return sums[0] / rows, sums[1] > 0

    def _lbfgs_closure(self) -> torch.Tensor:
        """Full-batch loss and gradient, accumulated over the source's batches."""
        self.optimizer.zero_grad(set_to_none=True)
        total, rows = 0.0, 0
        source = self.train_source
        if self.fast is not None and self.fast[1] is None and isinstance(source, TensorSource):
            # the closed-form path on raw features makes no per-batch copy: take big slices
            # (fewer, larger kernels — much faster when the cores are shared)
            batches = source.eval_batches(rows=EVAL_BATCH_VIEWS)
        else:
            batches = rows_at_most(source.eval_batches(), eval_rows(self.model))
        for X, y, w in batches:
            n = len(X)
            if self.fast is not None:
                _, loss = self._linear_grads(X, y, w, scale=float(n), l2=False, accumulate=True)
            else:
                loss = self.loss_fn(self.model(X), y, w)
                (loss * n).backward()
            total += loss.detach().item() * n
            rows += n
        if self.dp is not None:  # data parallel: the mean over every rank's rows
            local_rows, rows = rows, 0
            for p in self.model.parameters():
                if p.grad is not None and local_rows:
                    p.grad /= local_rows
            rows, (total,) = self.dp.average_gradients(self.model.parameters(), local_rows, [total])
        for p in self.model.parameters():
            if p.grad is not None and self.dp is None:
                p.grad /= rows
        value = total / rows
        smooth = self.penalty.smooth(self.penalized) if self.penalty.active else None
        if smooth is not None:
            smooth.backward()
            value += smooth.detach().item()
        self._last_closure = (total / rows, rows)
        size = self._gradient_size()
        if self._grad_first is None:
            self._grad_first = size
        self._grad_last = size
        return torch.tensor(value, dtype=torch.float64)

    def _gradient_size(self) -> float:
        """The largest entry of the gradient in ``.grad``; where an L1 penalty applies, of
        the smallest subgradient (``g + l1 sign(w)``, or ``max(|g| - l1, 0)`` at ``w = 0``)."""
        l1 = self.penalty.l1
        penalized = {id(p) for p in self.penalized} if l1 else set()
        size = 0.0
        for p in self.model.parameters():
            if p.grad is None:
                continue
            g = p.grad
            if id(p) in penalized:
                g = torch.where(p != 0, g + l1 * torch.sign(p), (g.abs() - l1).clamp(min=0))
            size = max(size, float(g.abs().max()) if g.numel() else 0.0)
        return size

    def run(self) -> History:
        cfg = self.cfg
        needs_start = cfg.tol is not None and cfg.optimizer != "lbfgs" and self.convex
        if needs_start and self._grad_first is None:
            self._lbfgs_closure()  # one pass: the gradient at the start, for _stationary
        per_epoch = 1 if cfg.optimizer == "lbfgs" else self.train_source.n_batches
        show = cfg.progress and (self.dp is None or self.dp.is_main)  # one bar per job
        bar = ProgressBar(cfg.epochs, per_epoch) if show else None
        hooks = self.callbacks + ([bar] if bar is not None else [])
        for cb in hooks:
            cb.set_model(self.model)
            cb.on_train_begin(self.history)
        self.model.train()
        stop = None
        try:
            with Interrupt() as interrupt:
                while self.epoch < cfg.epochs and stop is None:
                    stop = self._run_epoch(interrupt, bar, hooks)
        finally:
            for cb in hooks:
                with contextlib.suppress(Exception):
                    cb.on_train_end(self.history)
        if stop is None:
            stop = "completed"
        if stop == "early_stopping" and cfg.restore_best and self.early.best_state is not None:
            self.model.load_state_dict(self.early.best_state)
        self.history.stop_reason = stop
        if stop != "interrupted":
            self.save_checkpoint()
        return self.history

    def _run_epoch(self, interrupt: Interrupt, bar, hooks) -> str | None:
        cfg = self.cfg
        epoch = self.epoch
        if self.batch == 0 or self.epoch_start_state is None:
            self.epoch_start_state = self.generator.get_state()
            self.meter.reset()
            self.batch = 0
        else:  # resuming inside an epoch: replay its order from the epoch's start
            self.generator.set_state(self.epoch_start_state)
        self._epoch_snapshot = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if bar is not None:
            bar.start_epoch(epoch, self.batch)
        lr_used = current_lr(self.optimizer)
        start = time.perf_counter()
        if cfg.optimizer == "lbfgs":
            self.optimizer.step(self._lbfgs_closure)
            value, rows = self._last_closure
            self.meter.loss_sum, self.meter.rows = value * rows, rows
            self._check(value, f"epoch {epoch + 1}")
            self.batch = 1
            for cb in hooks:
                cb.on_batch_end(epoch, 0, value * self.meter.loss_unit)
        elif self.dp is not None:  # data parallel: step together until no rank has rows
            batches = self.train_source.batches(self.generator, skip=self.batch)
            for item in itertools.chain(batches, itertools.repeat(None)):
                step = self._step_dp(*(item or (None, None, None)), interrupt)
                if step is None:
                    break
                value, stop_requested = step
                self._check(value, f"epoch {epoch + 1}, batch {self.batch + 1}")
                for cb in hooks:
                    cb.on_batch_end(epoch, self.batch, value * self.meter.loss_unit)
                self.batch += 1
                if stop_requested:
                    return self._interrupted()
        else:
            for X, y, w in self.train_source.batches(self.generator, skip=self.batch):
                value = self._step_sgd(X, y, w)
                self._check(value, f"epoch {epoch + 1}, batch {self.batch + 1}")
                for cb in hooks:
                    cb.on_batch_end(epoch, self.batch, value * self.meter.loss_unit)
                self.batch += 1
                if interrupt.requested:
                    return self._interrupted()
        if self.meter.rows == 0:
            raise ValueError(
                "the training data yielded no batches (is it empty, or is "
                "drop_last=True with fewer rows than batch_size?)"
            )
        return self._end_epoch(epoch, lr_used, time.perf_counter() - start, hooks, interrupt)

    def _plateau(self, train_loss: float) -> bool:
        """Whether the training loss has not improved on its best by more than ``tol``
        (relative) for ``n_iter_no_change`` epochs, counting this one."""
        cfg, best = self.cfg, self.best_train
        margin = cfg.tol * abs(best) if cfg.tol is not None and math.isfinite(best) else 0.0
        if train_loss < best - margin:
            self.no_improve = 0
        else:
            self.no_improve += 1
        self.best_train = min(self.best_train, train_loss)
        return self.no_improve >= cfg.n_iter_no_change

    def _stationary(self) -> bool:
        """Whether a run whose loss stopped improving is at a stationary point: the largest
        entry of its full-batch gradient (with an L1 penalty, of its smallest subgradient)
        fell below :data:`STATIONARY` of its first value (or is ~0); for Adam and SGD, whose
        steps leave noise, ten times that or the square root of ``tol`` (a loose ``tol``
        asks for less). A loss also stops improving where the optimizer cannot make
        progress (a curvature L-BFGS cannot see, steps too small on badly scaled
        features), far from the minimum. Judged for convex models (linear, softmax)."""
        if self._grad_first is None or not self.convex:
            return True
        ratio = STATIONARY
        if self.cfg.optimizer != "lbfgs":
            self._lbfgs_closure()  # one pass: the gradient where the run stopped
            ratio = max(10 * STATIONARY, math.sqrt(self.cfg.tol or 0.0))
        return self._grad_last <= max(ratio * self._grad_first, 1e-10)

    def _noise_limited(self) -> bool:
        """Whether the run's steps keep a size of their own at the minimum: Adam's (its
        steps are normalised: about ``lr`` however small the gradient), and SGD's on
        minibatches (more than one step in the epoch that just ended: noisy gradients). A
        plateau of such a run may be the noise floor of its learning rate rather than the
        optimum."""
        return self.cfg.optimizer == "adam" or (self.cfg.optimizer == "sgd" and self.batch > 1)

    def _drop_helped(self) -> bool:
        """Whether the last drop of the learning rate (if any) lowered the best training
        loss by more than ``tol`` (relative): if not, the noise floor was already within
        ``tol`` of the plateau, and another drop would not find a lower one."""
        h, tol = self.history, self.cfg.tol
        if not h.lr_drops or tol is None:
            return True
        before = min(h.train_loss[: h.lr_drops[-1]])
        return self.best_train < before - tol * abs(before)

    def _drop_lr(self, epoch: int) -> None:
        """Divide the learning rate by :data:`LR_DROP_FACTOR` after ``epoch`` and look for
        a plateau afresh, against the losses at the new rate only (the best epoch of a noisy
        plateau is a lucky one: a loss still falling slowly must not be taken for a plateau
        for lying above it). A schedule, if any, goes on from the lower rate."""
        for group in self.optimizer.param_groups:
            group["lr"] = group["lr"] / LR_DROP_FACTOR
        self.history.lr_drops.append(epoch)
        self.no_improve = 0
        self.best_train = math.inf

    def _interrupted(self) -> str:
        self.save_checkpoint()
        return "interrupted"

    def _end_epoch(self, epoch, lr_used, seconds, hooks, interrupt) -> str | None:
        cfg, h = self.cfg, self.history
        train_loss, train_metrics = self.meter.means()
        h.epoch.append(epoch + 1)
        h.train_loss.append(train_loss)
        h.lr.append(lr_used)
        h.epoch_time.append(seconds)
        for name, value in train_metrics.items():
            h.metrics.setdefault(f"train_{name}", []).append(value)
        stop = None
        if self.val_source is not None:
            self.model.eval()
            result = evaluate_source(
                self.model, self.val_source, self.loss_fn, self.metrics, self.dp
            )
            self.model.train()
            # (data parallel: the ranks must go on together, each holding part of the rows)
            clean = math.isfinite(result["loss"]) or self.dp is not None
            fault = None if clean else self._data_fault(self.val_source)
            if fault is not None:
                h.stop_reason = "diverged"
                raise ValueError(
                    f"the validation loss is {result['loss']} after epoch {epoch + 1} because "
                    f"the validation data's {fault}; remove or impute those values"
                )
            h.val_loss.append(result["loss"])
            for name in self.metrics:
                h.metrics.setdefault(f"val_{name}", []).append(result[name])
            if self.early.update(result["loss"], self.model):
                stop = "early_stopping"
            h.best_epoch = best_epoch(h)
        if cfg.tol is not None and self._plateau(train_loss) and stop is None:
            if self._noise_limited() and len(h.lr_drops) < LR_DROPS and self._drop_helped():
                self._drop_lr(epoch + 1)
            else:
                stop = "converged" if self._stationary() else "stalled"
        if self.schedule is not None:
            self.schedule.step()
        self.epoch += 1
        self.batch = 0
        self.epoch_start_state = None
        for cb in hooks:
            if cb.on_epoch_end(epoch, h) and stop is None:
                stop = "callback"
        if self.dp is not None:  # a callback or Ctrl-C on any rank stops every rank
            wants_stop, interrupted = self.dp.all_reduce(
                [float(stop == "callback"), float(interrupt.requested)]
            )
            if stop is None and wants_stop:
                stop = "callback"
            interrupt.requested = interrupt.requested or interrupted > 0
        if self.epoch % cfg.checkpoint_every == 0 and self.epoch < cfg.epochs and stop is None:
            self.save_checkpoint()
        if stop is None and interrupt.requested:
            return self._interrupted()
        return stop


def best_epoch(h: History) -> int | None:
    if not h.val_loss:
        return None
    return h.epoch[int(np.argmin(h.val_loss))]


def normalise(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def train(
    model: nn.Module,
    data: Any,
    loss: Loss | str | Callable = "squared",
    config: TrainConfig | None = None,
    *,
    penalty: Penalty | None = None,
    val_data: Any = None,
    metrics: MetricSpec | None = None,
    callbacks: Sequence[Callback] = (),
    data_parallel: bool | None = None,
) -> History:
    """Train ``model`` in place with minibatch gradient steps; return the :class:`History`.

    Parameters
    ----------
    model : torch.nn.Module
        Moved to the configured device. A ``penalized_parameters()`` method, if present,
        names the parameters the penalty applies to (default: every parameter with two or
        more dimensions, i.e. weights, not biases).
    data :
        ``(X, y)`` / ``(X, y, sample_weight)`` tensors or arrays, a map-style ``Dataset``,
        a ``DataLoader``, or a callable returning a fresh iterator of such chunks.
    loss : str, Loss or callable, default "squared"
        A name from :data:`torchlinear.losses.LOSSES`, or ``fn(pred, y, w) -> scalar``
        (or ``fn(pred, y)``, such as ``nn.MSELoss()``, for data without weights); a
        ``(n, 1)`` prediction reaches it as ``(n,)`` when ``y`` is ``(n,)``
        (:class:`~torchlinear.losses.UserLoss`).
    config : TrainConfig, optional
        Defaults to ``TrainConfig()``.
    penalty : Penalty, optional
        Elastic-net penalty on the weights (L1 by soft-thresholding after each step).
    val_data : optional
        Validation data in any form ``data`` takes (instead of ``val_split``).
    metrics : list of str or dict of str to callable, optional
        Built-ins ``"mse"``, ``"mae"``, ``"accuracy"`` or ``name -> fn(pred, y)`` returning
        per-sample values; reported for training and validation data each epoch.
    callbacks : sequence of Callback
        Extra hooks.
    data_parallel : bool, optional
        Train data-parallel across the ranks of a ``torch.distributed`` process group
        (e.g. launched with ``torchrun``). ``None`` (default): whenever a group of two or
        more ranks is initialised; ``False``: never. In-memory tensors and datasets are
        the whole data on every rank, each rank takes its part of every global batch of
        ``batch_size`` rows (the same permutation from the shared seed), and one
        all-reduce per step makes every rank take exactly the single-process step; chunk
        sources and DataLoaders are each rank's own rows (``ceil(batch_size / ranks)``
        per rank and step for chunk sources). Only rank 0 writes checkpoints or shows
        progress. See :mod:`torchlinear.distributed`.

    Returns
    -------
    History
        With ``stop_reason`` ``"completed"``, ``"early_stopping"``, ``"converged"``,
        ``"callback"`` or ``"interrupted"`` (Ctrl-C: the checkpoint is saved and the
        history returned, not raised).

    Raises
    ------
    DivergenceError
        When the loss becomes NaN/inf or exceeds ``divergence_factor`` times its first value.

    Notes
    -----
    * Ctrl-C is caught between batches when training runs in the main thread (a script, a
      notebook); elsewhere ``KeyboardInterrupt`` propagates as usual, without a checkpoint.
    * Resuming reproduces an uninterrupted run exactly for tensors, map-style datasets and
      chunk sources. A ``DataLoader`` you built is resumed at the right batch, but its
      order is its own sampler's.
    * For the library's linear models (:class:`~torchlinear.models.LinearModel`, possibly
      inside :class:`~torchlinear.models.Standardized`) with a built-in loss, the gradient
      is computed in closed form (:meth:`Loss.value_and_grad`, then one matrix product)
      instead of through autograd — the same numbers, several times faster on small
      batches. Any other module, or a custom loss, goes through autograd.
    * A checkpoint of a run that stopped early (early stopping, convergence, a callback)
      is final: resuming it returns its history. A run that completed its epochs can be
      continued by resuming with a larger ``epochs``.

    Examples
    --------
    >>> from torchlinear.models import LinearModel
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(200, 2, generator=g)
    >>> y = X @ torch.tensor([2.0, -3.4]) + 4.2
    >>> model = LinearModel(2, seed=0)
    >>> config = TrainConfig(epochs=20, batch_size=10, lr=0.03, seed=0)
    >>> history = train(model, (X, y), "squared", config)
    >>> history.stop_reason, round(history.train_loss[-1], 6)
    ('completed', 0.0)
    >>> [round(v, 3) for v in model.coef[0].tolist()], round(float(model.intercept), 3)
    ([2.0, -3.4], 4.2)
    """
    cfg = config if config is not None else TrainConfig()
    trainer = Trainer(model, data, loss, cfg, penalty, val_data, metrics, callbacks, data_parallel)
    if trainer.resumed and (
        trainer.epoch >= cfg.epochs or trainer.history.stop_reason in FINAL_STOPS
    ):  # the checkpoint is of a finished run: nothing left to do
        return trainer.history
    trainer.history.stop_reason = None
    return trainer.run()
