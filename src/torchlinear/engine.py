r"""The one minibatch training loop every gradient-fitted model uses.

One epoch, whatever the data source:

.. math::

    \text{for each batch } \mathcal B: \quad
    \theta \leftarrow \operatorname{step}\Big(\theta,\ \nabla_\theta \big[
        \ell_{\mathcal B}(\theta) + P_{\text{smooth}}(\theta) \big]\Big), \qquad
    w \leftarrow \operatorname{prox}_{\eta \alpha\rho\|\cdot\|_1}(w)

then the validation loss, the learning-rate schedule, early stopping and a checkpoint.

Data sources
------------
* **tensors** ``(X, y)`` or ``(X, y, sample_weight)``: moved to the device once and batched
  by indexing with a shuffled permutation (:func:`~torchlinear.data.batching.iter_batches`)
  — no per-sample ``__getitem__`` and no collate on the hot path;
* a **map-style** :class:`torch.utils.data.Dataset` whose items are ``(x, y)`` or
  ``(x, y, w)``: batched by a :class:`~torch.utils.data.DataLoader` whose sampler draws the
  same permutations as the tensor path, so both see the same batches for the same seed
  (a plain ``TensorDataset`` is unwrapped and takes the tensor path);
* a :class:`~torch.utils.data.DataLoader` you built: used as it is;
* a **chunk source**: a callable returning a fresh iterator of ``(X_chunk, y_chunk)`` (or
  with weights) each time it is called — for data streamed from disk. Each chunk is
  shuffled and batched on its own.

Validation data is held out by the one split rule of the library (``val_split``;
:func:`torchlinear.data.split.holdout_mask`, a keyed hash of the row index, so the same rows
whether the data are tensors, a dataset or chunks of any size) or given as ``val_data`` in
any of the forms above.

Stopping and recovery
---------------------
* Divergence: a batch loss that is NaN/inf or above ``divergence_factor`` times the first
  loss raises :class:`DivergenceError` (a ``ValueError``) suggesting a tenth of the
  learning rate; the model keeps its last finite parameters.
* Ctrl-C: the current batch finishes, a checkpoint is written (if ``checkpoint`` is set)
  and :func:`train` *returns* the history with ``stop_reason == "interrupted"``. A second
  Ctrl-C raises ``KeyboardInterrupt`` at once.
* Resume: a checkpoint holds the model, the optimizer and scheduler states, the position
  inside the epoch, the random-generator states and the history, so
  ``resume=True`` continues to exactly the parameters an uninterrupted run reaches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler, Subset, TensorDataset

from torchlinear._validation import (
    check_fraction,
    check_nonnegative_float,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
    resolve_device,
)
from torchlinear.data.batching import epoch_permutation, iter_batches, num_batches
from torchlinear.data.split import holdout_mask
from torchlinear.io import flatten_state, load_model, save_model, unflatten_state
from torchlinear.losses import Loss, Penalty, get_loss
from torchlinear.models import LinearModel, Standardized

__all__ = [
    "Callback",
    "DivergenceError",
    "History",
    "METRICS",
    "TrainConfig",
    "evaluate",
    "train",
]

OPTIMIZERS = ("sgd", "adam", "lbfgs")
SCHEDULES = (None, "cosine", "step", "exponential")
_DEFAULT_LR = {"sgd": 0.01, "adam": 0.001, "lbfgs": 1.0}
_DEFAULT_GAMMA = {"step": 0.1, "exponential": 0.95}
_EVAL_BATCH = 65536
_EVAL_BATCH_VIEWS = 1 << 20  # rows per slice when slices are views (no copy)
_CHECKPOINT_KIND = "torchlinear-checkpoint"
_FINAL_STOPS = ("early_stopping", "converged", "callback")


class DivergenceError(ValueError):
    """Training stopped because the loss became NaN/inf or grew far above its first value.

    Attributes
    ----------
    history : History
        The epochs completed before the divergence.
    lr : float
        The learning rate in use.
    suggested_lr : float
        One tenth of it.
    """

    def __init__(self, message: str, history: History, lr: float) -> None:
        super().__init__(message)
        self.history = history
        self.lr = lr
        self.suggested_lr = lr / 10


# ---------------------------------------------------------------------------------------
# Configuration and history
# ---------------------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """Everything that controls a training run (all plain values, so it serialises to JSON).

    Parameters
    ----------
    epochs : int, default 10
        Passes over the training data (for ``"lbfgs"``: full-batch L-BFGS steps of up to
        ``lbfgs_max_iter`` iterations each).
    batch_size : int, default 256
        Rows per minibatch (ignored by ``"lbfgs"``, which is full batch).
    lr : float, optional
        Learning rate; by default 0.01 for ``"sgd"``, 0.001 for ``"adam"``, 1 for ``"lbfgs"``.
    optimizer : {"sgd", "adam", "lbfgs"}, default "sgd"
        SGD with ``momentum``, Adam with ``betas``, or full-batch L-BFGS with a strong-Wolfe
        line search (not with an L1 penalty).
    momentum : float, default 0.9
        SGD momentum (0 is plain SGD).
    betas : tuple of float, default (0.9, 0.999)
        Adam's averaging constants.
    schedule : {None, "cosine", "step", "exponential"}, default None
        Learning-rate schedule, stepped once per epoch: cosine annealing to 0 over
        ``epochs``; multiply by ``gamma`` every ``step_size`` epochs; multiply by ``gamma``
        every epoch.
    step_size : int, default 10
        Epochs between drops of the ``"step"`` schedule.
    gamma : float, optional
        Decay factor (default 0.1 for ``"step"``, 0.95 for ``"exponential"``).
    val_split : float, default 0
        Fraction of the training data held out at random for validation.
    patience : int, optional
        Stop when the validation loss has not improved by more than ``min_delta`` for this
        many epochs (early stopping; needs validation data).
    min_delta : float, default 0
        The improvement that counts for early stopping.
    restore_best : bool, default True
        After early stopping, go back to the parameters of the best validation epoch.
    tol : float, optional
        Stop ("converged") when the training loss has not decreased by more than
        ``tol`` times its best value for ``n_iter_no_change`` epochs.
    n_iter_no_change : int, default 5
        See ``tol``.
    seed : int, optional
        Seeds the validation split and the shuffling. ``None`` draws a fresh seed (recorded
        in the history and in checkpoints).
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``...; ``None`` picks cuda, then mps, then cpu.
    shuffle : bool, default True
        Reshuffle every epoch.
    drop_last : bool, default False
        Skip a final short batch.
    lbfgs_max_iter : int, default 20
        L-BFGS iterations per epoch.
    progress : bool, default False
        Show a progress bar (tqdm, notebook-aware).
    checkpoint : str, optional
        Folder (or ``.json`` path) for checkpoints.
    checkpoint_every : int, default 1
        Write a checkpoint every this many epochs (and at the end, and on Ctrl-C).
    resume : bool, default False
        Continue from ``checkpoint``.
    divergence_factor : float, default 1000
        A batch loss above this multiple of the first loss (or of 1e-8, if the first loss
        is smaller) counts as divergence, as does a NaN/inf loss.
    num_workers : int, default 0
        ``DataLoader`` workers for a ``Dataset`` source.

    Examples
    --------
    >>> TrainConfig(epochs=5, optimizer="adam").resolved_lr
    0.001
    """

    epochs: int = 10
    batch_size: int = 256
    lr: float | None = None
    optimizer: str = "sgd"
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str | None = None
    step_size: int = 10
    gamma: float | None = None
    val_split: float = 0.0
    patience: int | None = None
    min_delta: float = 0.0
    restore_best: bool = True
    tol: float | None = None
    n_iter_no_change: int = 5
    seed: int | None = None
    device: str | None = None
    shuffle: bool = True
    drop_last: bool = False
    lbfgs_max_iter: int = 20
    progress: bool = False
    checkpoint: str | None = None
    checkpoint_every: int = 1
    resume: bool = False
    divergence_factor: float = 1e3
    num_workers: int = 0

    def __post_init__(self) -> None:
        self.epochs = check_nonnegative_int("epochs", self.epochs)
        self.batch_size = check_positive_int("batch_size", self.batch_size)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.lr is not None:
            self.lr = check_positive_float("lr", self.lr)
        self.momentum = check_nonnegative_float("momentum", self.momentum)
        if self.momentum >= 1:
            raise ValueError(f"momentum must lie in [0, 1), got {self.momentum!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        self.step_size = check_positive_int("step_size", self.step_size)
        if self.gamma is not None:
            self.gamma = check_positive_float("gamma", self.gamma)
        self.val_split = check_fraction("val_split", self.val_split)
        if self.patience is not None:
            self.patience = check_positive_int("patience", self.patience)
        self.min_delta = check_nonnegative_float("min_delta", self.min_delta)
        if self.tol is not None:
            self.tol = check_nonnegative_float("tol", self.tol)
        self.n_iter_no_change = check_positive_int("n_iter_no_change", self.n_iter_no_change)
        if self.seed is not None:
            self.seed = check_nonnegative_int("seed", self.seed)
            if self.seed >= 2**62:
                raise ValueError(f"seed must be below 2**62, got {self.seed}")
        self.lbfgs_max_iter = check_positive_int("lbfgs_max_iter", self.lbfgs_max_iter)
        self.checkpoint_every = check_positive_int("checkpoint_every", self.checkpoint_every)
        self.divergence_factor = check_positive_float("divergence_factor", self.divergence_factor)
        self.num_workers = check_nonnegative_int("num_workers", self.num_workers)
        if self.resume and self.checkpoint is None:
            raise ValueError("resume=True needs checkpoint=<folder> to resume from")
        if self.checkpoint is not None:
            self.checkpoint = str(self.checkpoint)
        if self.device is not None:
            self.device = str(self.device)

    @property
    def resolved_lr(self) -> float:
        """The learning rate, with the optimizer's default filled in."""
        return self.lr if self.lr is not None else _DEFAULT_LR[self.optimizer]

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-ready dict."""
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        """Rebuild from :meth:`to_dict` output (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        if "betas" in kwargs:
            kwargs["betas"] = tuple(kwargs["betas"])
        return cls(**kwargs)


# Settings that must agree between a checkpoint and the run resuming from it.
_RESUME_MUST_MATCH = (
    "batch_size",
    "lr",
    "optimizer",
    "momentum",
    "betas",
    "schedule",
    "step_size",
    "gamma",
    "val_split",
    "shuffle",
    "drop_last",
)


@dataclass
class History:
    """Per-epoch record of a training run.

    Attributes
    ----------
    epoch : list of int
        Epoch numbers, from 1.
    train_loss : list of float
        Mean training loss over the epoch's batches (the data loss, without the penalty).
    val_loss : list of float
        Validation loss at the end of each epoch (empty without validation data).
    metrics : dict of str to list of float
        ``"train_<name>"`` and ``"val_<name>"`` per epoch for each requested metric.
    lr : list of float
        Learning rate used in each epoch.
    epoch_time : list of float
        Wall time of each epoch in seconds.
    stop_reason : str or None
        ``"completed"``, ``"early_stopping"``, ``"converged"``, ``"interrupted"`` or
        ``"diverged"``.
    best_epoch : int or None
        The epoch with the lowest validation loss (when validating).
    seed : int or None
        The seed actually used.

    Examples
    --------
    >>> h = History(epoch=[1, 2], train_loss=[1.0, 0.5])
    >>> len(h), History.from_dict(h.to_dict()) == h
    (2, True)
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    stop_reason: str | None = None
    best_epoch: int | None = None
    seed: int | None = None

    def __len__(self) -> int:
        return len(self.epoch)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> History:
        """Rebuild from :meth:`to_dict` output."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def rows(self) -> list[dict[str, Any]]:
        """One dict per epoch (epoch, train_loss, val_loss, metrics, lr, time)."""
        out = []
        for i, e in enumerate(self.epoch):
            row: dict[str, Any] = {"epoch": e, "train_loss": self.train_loss[i]}
            if self.val_loss:
                row["val_loss"] = self.val_loss[i]
            for name, values in self.metrics.items():
                row[name] = values[i]
            row["lr"] = self.lr[i]
            row["epoch_time"] = self.epoch_time[i]
            out.append(row)
        return out


# ---------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------


def _mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred.reshape(target.shape) - target) ** 2


def _mae(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred.reshape(target.shape) - target).abs()


def _accuracy(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred.argmax(dim=-1) == target).to(torch.float64)


METRICS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": _mse,
    "mae": _mae,
    "accuracy": _accuracy,
}
"""Built-in metrics: each maps ``(prediction, target)`` to per-sample values, averaged."""

MetricSpec = Mapping[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] | Sequence[str]


def _resolve_metrics(metrics: MetricSpec | None) -> dict[str, Callable]:
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


class _Meter:
    """Row-weighted running means of the loss and the metrics (sums kept on the device)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self.reset()

    def reset(self) -> None:
        self.rows = 0
        self.loss_sum = 0.0
        self.metric_sums: dict[str, Any] = dict.fromkeys(self.names, 0.0)

    def add_metrics(self, metrics: Mapping[str, Callable], pred, target, n: int) -> None:
        with torch.no_grad():
            for name, fn in metrics.items():
                value = fn(pred, target)
                value = value * n if value.ndim == 0 else value.sum()
                self.metric_sums[name] = self.metric_sums[name] + value

    def means(self) -> tuple[float, dict[str, float]]:
        rows = max(self.rows, 1)
        return self.loss_sum / rows, {k: float(v) / rows for k, v in self.metric_sums.items()}

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


# ---------------------------------------------------------------------------------------
# Data sources
# ---------------------------------------------------------------------------------------


class _Cast:
    """Moves a batch to the training device and dtype."""

    def __init__(self, device: torch.device, dtype: torch.dtype, target_dtype: torch.dtype | None):
        self.device, self.dtype, self.target_dtype = device, dtype, target_dtype

    def x(self, X: Any) -> torch.Tensor:
        X = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
        return X.to(device=self.device, dtype=self.dtype, non_blocking=True)

    def y(self, y: Any) -> torch.Tensor:
        y = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
        if self.target_dtype is not None:
            dtype = self.target_dtype
        else:  # an unknown loss: floating targets follow the model, integers stay
            dtype = self.dtype if y.is_floating_point() else y.dtype
        return y.to(device=self.device, dtype=dtype, non_blocking=True)

    def w(self, w: Any) -> torch.Tensor | None:
        if w is None:
            return None
        w = w if isinstance(w, torch.Tensor) else torch.as_tensor(np.asarray(w))
        return w.to(device=self.device, dtype=self.dtype, non_blocking=True).reshape(-1)

    def batch(self, item: Sequence[Any]) -> tuple:
        if not isinstance(item, list | tuple) or len(item) not in (2, 3):
            raise ValueError(
                "each batch or chunk must be (X, y) or (X, y, sample_weight), got "
                f"{type(item).__name__}"
                + (f" of length {len(item)}" if isinstance(item, list | tuple) else "")
            )
        X, y = self.x(item[0]), self.y(item[1])
        w = self.w(item[2]) if len(item) == 3 else None
        if len(X) != len(y) or (w is not None and len(w) != len(X)):
            raise ValueError(f"a batch has {len(X)} rows of X but {len(y)} targets")
        return (X, y, w)


class _Source:
    """An epoch of batches; ``skip`` drops the first batches while consuming the generator
    exactly as a full epoch would, so a resumed epoch continues the same order."""

    n_batches: int | None = None
    # Data-parallel training (torchlinear.distributed.DataParallel, set by the trainer):
    # a "replicated" source holds the same rows on every rank, which then takes its part
    # of each global batch (a part may be empty); other sources are each rank's own rows.
    dp: Any = None
    replicated = False

    def batches(self, generator: torch.Generator, skip: int = 0) -> Iterator[tuple]:
        raise NotImplementedError

    def eval_batches(self) -> Iterator[tuple]:
        raise NotImplementedError


class _TensorSource(_Source):
    replicated = True

    def __init__(self, X, y, w, indices, cfg: TrainConfig, cast: _Cast) -> None:
        self.X, self.y, self.w = cast.x(X), cast.y(y), cast.w(w)
        self.indices = None if indices is None else indices.to(self.X.device)
        self.batch_size, self.shuffle, self.drop_last = cfg.batch_size, cfg.shuffle, cfg.drop_last
        n = len(self.X) if self.indices is None else len(self.indices)
        self.n = n
        self.n_batches = num_batches(n, self.batch_size, self.drop_last)

    def batches(self, generator, skip=0):
        bs = self.batch_size
        if self.indices is None and skip == 0 and self.dp is None:  # the hot path
            for batch in iter_batches(
                self.X,
                self.y,
                bs,
                shuffle=self.shuffle,
                generator=generator,
                drop_last=self.drop_last,
                sample_weight=self.w,
            ):
                yield batch if len(batch) == 3 else (*batch, None)
            return
        positions = (
            torch.arange(self.n, device=self.X.device) if self.indices is None else self.indices
        )
        order = iter_batches(
            positions,
            None,
            bs,
            shuffle=self.shuffle,
            generator=generator,
            drop_last=self.drop_last,
        )
        for idx, _ in itertools.islice(order, skip, None):
            if self.dp is not None:  # data parallel: this rank's part of the global batch
                idx = idx[self.dp.part(len(idx))]
            w = None if self.w is None else self.w.index_select(0, idx)
            yield (self.X.index_select(0, idx), self.y.index_select(0, idx), w)

    def eval_batches(self, rows: int = _EVAL_BATCH):
        if self.indices is not None:  # gathered rows are copies: keep them small
            rows = min(rows, _EVAL_BATCH)
        for start in range(0, self.n, rows):
            stop = min(start + rows, self.n)
            if self.dp is not None:  # data parallel: this rank's part, others are summed
                part = self.dp.part(stop - start)
                start, stop = start + part.start, start + part.stop
                if start == stop:
                    continue
            if self.indices is None:
                sl = slice(start, stop)
                yield (self.X[sl], self.y[sl], None if self.w is None else self.w[sl])
            else:
                idx = self.indices[start:stop]
                w = None if self.w is None else self.w.index_select(0, idx)
                yield (self.X.index_select(0, idx), self.y.index_select(0, idx), w)


class _PermutationSampler(Sampler[int]):
    """Yields ``epoch_permutation(n)`` from ``start`` on: the tensor path's order."""

    def __init__(self, n: int, generator: torch.Generator, shuffle: bool, start: int) -> None:
        self.n, self.generator, self.shuffle, self.start = n, generator, shuffle, start

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            order = epoch_permutation(self.n, "cpu", self.generator)
        else:
            order = torch.arange(self.n)
        return iter(order[self.start :].tolist())

    def __len__(self) -> int:
        return self.n - self.start


class _DatasetSource(_Source):
    replicated = True

    def __init__(self, dataset: Dataset, cfg: TrainConfig, cast: _Cast, seed: int) -> None:
        self.dataset, self.cast = dataset, cast
        self.batch_size, self.shuffle, self.drop_last = cfg.batch_size, cfg.shuffle, cfg.drop_last
        self.num_workers = cfg.num_workers
        self.seed = seed
        try:
            self.n = len(dataset)  # type: ignore[arg-type]
        except TypeError as exc:
            raise ValueError(
                "a Dataset source must define __len__ (map-style); pass an iterable dataset "
                "as a DataLoader or as a chunk source instead"
            ) from exc
        if self.n == 0:
            raise ValueError("the training Dataset is empty")
        self.n_batches = num_batches(self.n, self.batch_size, self.drop_last)

    def _loader(self, sampler: Sampler, batch_size: int, drop_last: bool) -> DataLoader:
        # The loader's own generator only seeds workers; the order comes from the sampler.
        if self.dp is not None:  # data parallel: a part may be empty, collated to None
            from torchlinear.distributed import RankBatchSampler, collate_or_none

            parts = RankBatchSampler(
                sampler,
                batch_size,
                drop_last=drop_last,
                rank=self.dp.rank,
                world_size=self.dp.world_size,
            )
            return DataLoader(
                self.dataset,
                batch_sampler=parts,
                collate_fn=collate_or_none,
                num_workers=self.num_workers,
                generator=torch.Generator().manual_seed(self.seed),
            )
        return DataLoader(
            self.dataset,
            batch_size=batch_size,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def batches(self, generator, skip=0):
        sampler = _PermutationSampler(self.n, generator, self.shuffle, skip * self.batch_size)
        for item in self._loader(sampler, self.batch_size, self.drop_last):
            yield None if item is None else self.cast.batch(item)

    def eval_batches(self):
        sampler = _PermutationSampler(self.n, torch.Generator(), False, 0)
        for item in self._loader(sampler, min(self.n, 4096), False):
            if item is not None:
                yield self.cast.batch(item)


class _LoaderSource(_Source):
    """A DataLoader given by the user: its batching and order are used as they are."""

    def __init__(self, loader: DataLoader, cast: _Cast) -> None:
        self.loader, self.cast = loader, cast
        try:
            self.n_batches = len(loader)
        except TypeError:
            self.n_batches = None

    def batches(self, generator, skip=0):
        for item in itertools.islice(iter(self.loader), skip, None):
            yield self.cast.batch(item)

    def eval_batches(self):
        for item in self.loader:
            yield self.cast.batch(item)


class _ChunkSource(_Source):
    """Chunks from a callable; optionally keeps only the rows of a random per-chunk mask.

    The mask of chunk ``k`` comes from a generator seeded with ``(seed, k)``, so the same
    rows are held out in every epoch without storing anything.
    """

    def __init__(
        self,
        factory: Callable[[], Any],
        cfg: TrainConfig,
        cast: _Cast,
        *,
        val_fraction: float = 0.0,
        keep: str = "all",
        seed: int = 0,
    ) -> None:
        self.factory, self.cast = factory, cast
        self.batch_size, self.shuffle, self.drop_last = cfg.batch_size, cfg.shuffle, cfg.drop_last
        self.val_fraction, self.keep, self.seed = val_fraction, keep, seed
        self.n_batches = None

    def chunks(self) -> Iterator[tuple]:
        iterator = self.factory()
        if not hasattr(iterator, "__next__"):
            iterator = iter(iterator)
        offset = 0
        for item in iterator:
            X, y, w = self.cast.batch(item)
            if self.keep != "all":
                mask = holdout_mask(offset, len(X), self.val_fraction, self.seed)
                offset += len(X)
                held_out = torch.from_numpy(mask).to(X.device)
                rows = held_out if self.keep == "val" else ~held_out
                X, y = X[rows], y[rows]
                w = None if w is None else w[rows]
            if len(X):
                yield X, y, w

    def batches(self, generator, skip=0):
        done = 0
        for X, y, w in self.chunks():
            count = num_batches(len(X), self.batch_size, self.drop_last)
            if done + count <= skip:  # replay the generator draw of a skipped chunk
                if self.shuffle:
                    epoch_permutation(len(X), X.device, generator)
                done += count
                continue
            batches = iter_batches(
                X,
                y,
                self.batch_size,
                shuffle=self.shuffle,
                generator=generator,
                drop_last=self.drop_last,
                sample_weight=w,
            )
            for i, batch in enumerate(batches):
                if done + i >= skip:
                    yield batch if len(batch) == 3 else (*batch, None)
            done += count

    def eval_batches(self):
        yield from self.chunks()


def _is_array(value: Any) -> bool:
    return isinstance(value, torch.Tensor | np.ndarray) or hasattr(value, "__array__")


def _build_sources(
    data: Any,
    val_data: Any,
    cfg: TrainConfig,
    cast: _Cast,
    seed: int,
) -> tuple[_Source, _Source | None]:
    if type(data) is TensorDataset and len(data.tensors) in (2, 3):
        data = data.tensors  # already tensors: index them directly, no per-sample fetch
    if isinstance(data, list | tuple) and len(data) in (2, 3) and all(_is_array(v) for v in data):
        X, y = data[0], data[1]
        w = data[2] if len(data) == 3 else None
        n = len(X)
        if len(y) != n or (w is not None and len(w) != n):
            raise ValueError(f"y has {len(y)} rows but X has {n}")
        if cfg.val_split:
            train_idx, val_idx = _split_indices(n, cfg.val_split, seed)
            train = _TensorSource(X, y, w, train_idx, cfg, cast)
            val = _TensorSource(train.X, train.y, train.w, val_idx, cfg, cast)
        else:
            train, val = _TensorSource(X, y, w, None, cfg, cast), None
    elif isinstance(data, DataLoader):
        if cfg.val_split:
            raise ValueError(
                "val_split needs tensors, a Dataset or a chunk source; with a "
                "DataLoader pass val_data instead"
            )
        train, val = _LoaderSource(data, cast), None
    elif isinstance(data, Dataset):
        if cfg.val_split:
            n = len(data)  # type: ignore[arg-type]
            train_idx, val_idx = _split_indices(n, cfg.val_split, seed)
            train_set, val_set = Subset(data, train_idx.tolist()), Subset(data, val_idx.tolist())
            train = _DatasetSource(train_set, cfg, cast, seed)
            val = _DatasetSource(val_set, cfg, cast, seed)
        else:
            train, val = _DatasetSource(data, cfg, cast, seed), None
    elif callable(data):
        if cfg.val_split:
            train = _ChunkSource(
                data, cfg, cast, val_fraction=cfg.val_split, keep="train", seed=seed
            )
            val = _ChunkSource(data, cfg, cast, val_fraction=cfg.val_split, keep="val", seed=seed)
        else:
            train, val = _ChunkSource(data, cfg, cast), None
    else:
        raise ValueError(
            "data must be (X, y) or (X, y, sample_weight) arrays, a torch Dataset, a DataLoader "
            f"or a callable returning an iterator of chunks, got {type(data).__name__}"
        )
    if val_data is not None:
        if cfg.val_split:
            raise ValueError("give either val_split or val_data, not both")
        no_split = dataclasses.replace(cfg, val_split=0.0, shuffle=False)
        val, _ = _build_sources(val_data, None, no_split, cast, seed)
    return train, val


def _split_indices(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and validation row indices by the one split rule
    (:func:`torchlinear.data.split.holdout_mask`)."""
    held = holdout_mask(0, n, fraction, seed)
    if held.all() or not held.any():
        raise ValueError(
            f"val_split={fraction} of {n} rows leaves no training data or no validation data "
            f"({int(held.sum())} row(s) held out); use another val_split or more rows"
        )
    return torch.from_numpy(np.flatnonzero(~held)), torch.from_numpy(np.flatnonzero(held))


# ---------------------------------------------------------------------------------------
# Callbacks
# ---------------------------------------------------------------------------------------


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


class _ProgressBar(Callback):
    """A tqdm bar reset each epoch (batches done, running loss; metrics at epoch end)."""

    def __init__(self, epochs: int, n_batches: int | None) -> None:
        from tqdm.auto import tqdm

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


class _EarlyStopping:
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


class _Interrupt:
    """Turns the first Ctrl-C into a flag checked between batches (a second one raises)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _Interrupt:
        with contextlib.suppress(ValueError):  # not the main thread: plain KeyboardInterrupt
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


# ---------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------


def _linear_fast_path(model: nn.Module) -> tuple[nn.Linear, Any, bool] | None:
    """``(layer, (mean, scale) or None, squeeze)`` when ``model`` is the library's linear
    model (possibly behind :class:`Standardized`), whose gradient has a closed form."""
    shift = None
    if isinstance(model, Standardized) and type(model).forward is Standardized.forward:
        shift, model = (model.mean, model.scale), model.module
    if isinstance(model, LinearModel) and type(model).forward is LinearModel.forward:
        if model.linear.weight.requires_grad:
            return model.linear, shift, model.squeeze
    return None


def _penalized(model: nn.Module) -> list[torch.Tensor]:
    chosen = getattr(model, "penalized_parameters", None)
    if chosen is not None:
        return list(chosen())
    return [p for p in model.parameters() if p.ndim >= 2]


def _make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
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
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        history_size=20,
    )


def _make_schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig):
    if cfg.schedule is None:
        return None
    gamma = cfg.gamma if cfg.gamma is not None else _DEFAULT_GAMMA.get(cfg.schedule, 0.1)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(cfg.epochs, 1))
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=gamma)
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)


def _current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


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
    loss_fn = get_loss(loss) if isinstance(loss, str) else loss
    device = _model_device(model) if device is None else resolve_device(device)
    dtype = _model_dtype(model)
    cast = _Cast(device, dtype, _target_dtype(loss_fn, dtype))
    cfg = TrainConfig(batch_size=batch_size, shuffle=False)
    source, _ = _build_sources(data, None, cfg, cast, 0)
    was_training = model.training
    model.eval()
    try:
        return _evaluate(model, source, loss_fn, _resolve_metrics(metrics))
    finally:
        model.train(was_training)


def _evaluate(model, source: _Source, loss_fn, metrics, dp: Any = None) -> dict[str, float]:
    meter = _Meter(list(metrics))
    for X, y, w in source.eval_batches():
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


def _model_dtype(model: nn.Module) -> torch.dtype:
    p = next(model.parameters(), None)
    return p.dtype if p is not None else torch.get_default_dtype()


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _target_dtype(loss_fn: Any, dtype: torch.dtype) -> torch.dtype | None:
    if isinstance(loss_fn, Loss):
        return torch.int64 if loss_fn.task == "classification" else dtype
    return None


def _all_finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


class _Trainer:
    """The state of one run; :func:`train` is its public face."""

    def __init__(
        self, model, data, loss, cfg, penalty, val_data, metrics, callbacks, data_parallel=None
    ) -> None:
        from torchlinear.distributed import DataParallel

        self.cfg = cfg
        self.dp = DataParallel.detect(data_parallel)
        self.device = resolve_device(cfg.device)
        self.model = model.to(self.device)
        if self.dp is not None:  # every rank starts from rank 0's parameters
            self.dp.broadcast_module(self.model)
        self.loss_fn = get_loss(loss) if isinstance(loss, str) else loss
        self.penalty = penalty if penalty is not None else Penalty()
        if cfg.optimizer == "lbfgs" and self.penalty.l1 > 0:
            raise ValueError(
                "optimizer 'lbfgs' cannot apply an L1 penalty (l1_ratio > 0); use 'sgd' or 'adam'"
            )
        self.metrics = _resolve_metrics(metrics)
        self.callbacks = list(callbacks)
        self.penalized = _penalized(self.model)
        self.fast = _linear_fast_path(self.model) if isinstance(self.loss_fn, Loss) else None
        self.optimizer = _make_optimizer(self.model, cfg)
        self.schedule = _make_schedule(self.optimizer, cfg)
        self.history = History()
        self.seed = cfg.seed if cfg.seed is not None else int(torch.Generator().seed() % 2**62)
        if self.dp is not None:  # the same permutations on every rank
            self.seed = self.dp.broadcast_seed(self.seed)
        self.epoch = 0  # epochs completed
        self.batch = 0  # batches completed in the current epoch
        self.first_loss: float | None = None
        self.no_improve = 0
        self.best_train = math.inf
        self.early = _EarlyStopping(cfg.patience, cfg.min_delta)
        self.meter = _Meter(list(self.metrics))
        self.generator = torch.Generator()
        self.epoch_start_state: torch.Tensor | None = None
        checkpoint = self._read_checkpoint() if cfg.resume else None
        if checkpoint is not None:  # its seed fixes the validation split: needed first
            self.seed = int(checkpoint[1]["seed"])
        self.history.seed = self.seed
        self.generator.manual_seed(self.seed + 1)
        dtype = _model_dtype(self.model)
        cast = _Cast(self.device, dtype, _target_dtype(self.loss_fn, dtype))
        self.train_source, self.val_source = _build_sources(data, val_data, cfg, cast, self.seed)
        if self.dp is not None:
            for source in (self.train_source, self.val_source):
                if source is not None:
                    source.dp = self.dp if source.replicated else None
            if isinstance(self.train_source, _ChunkSource):  # each rank streams its own rows
                self.train_source.batch_size = self.dp.local_batch_size(cfg.batch_size)
        if cfg.patience is not None and self.val_source is None:
            raise ValueError(
                "patience (early stopping) needs validation data: set val_split or pass val_data"
            )
        self.resumed = checkpoint is not None
        if checkpoint is not None:
            self._restore(*checkpoint)

    # ------------------------------------------------------------------ checkpoints
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
            "kind": _CHECKPOINT_KIND,
            "epoch": self.epoch,
            "batch": self.batch,
            "seed": self.seed,
            "first_loss": self.first_loss,
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
        path = self.cfg.checkpoint
        assert path is not None
        if not Path(path).exists():
            raise ValueError(f"checkpoint {path!r} does not exist; run once without resume=True")
        tensors, meta = load_model(path)
        if meta.get("kind") != _CHECKPOINT_KIND:
            raise ValueError(f"{path!r} is a model file, not a training checkpoint")
        return tensors, meta

    def _restore(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        path = self.cfg.checkpoint
        saved = meta["config"]
        changed = [
            k
            for k in _RESUME_MUST_MATCH
            if _normalise(saved.get(k)) != _normalise(getattr(self.cfg, k))
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
        self.optimizer.load_state_dict(unflatten_state(meta["optimizer_state"], tensors))
        if self.schedule is not None and meta.get("schedule_state") is not None:
            self.schedule.load_state_dict(unflatten_state(meta["schedule_state"], tensors))
        self.early.load(meta["early_stopping"], {k: v.to(self.device) for k, v in tensors.items()})
        self.generator.set_state(tensors["rng.generator"])
        self.epoch_start_state = tensors.get("rng.epoch_start")
        self.epoch, self.batch = int(meta["epoch"]), int(meta["batch"])
        self.first_loss = meta["first_loss"]
        self.no_improve = int(meta["no_improve"])
        self.best_train = float(meta["best_train"])
        self.meter.load(meta["meter"])
        self.history = History.from_dict(meta["history"])

    # --------------------------------------------------------------------- the loop
    def _check(self, value: float, where: str) -> None:
        if self.first_loss is None and math.isfinite(value):
            self.first_loss = value
        # a first loss that is already ~0 (a perfect start) would make any noise "diverge"
        limit = self.cfg.divergence_factor * max(abs(self.first_loss or 0.0), 1e-8)
        if math.isfinite(value) and value <= limit:
            return
        lr = _current_lr(self.optimizer)
        if not _all_finite(self.model) and self._epoch_snapshot is not None:
            self.model.load_state_dict(self._epoch_snapshot)
        self.history.stop_reason = "diverged"
        what = (
            f"became {value}"
            if not math.isfinite(value)
            else (
                f"grew to {value:.4g}, over {self.cfg.divergence_factor:g} times its first value "
                f"{self.first_loss:.4g}"
            )
        )
        raise DivergenceError(
            f"training diverged at {where}: the loss {what}; lower the learning rate, e.g. "
            f"lr={lr / 10:g} (one tenth of {lr:g}), and standardize the features",
            self.history,
            lr,
        )

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
            self.penalty.prox_(self.penalized, _current_lr(self.optimizer), self.optimizer)
        value = loss.detach().item()
        n = len(X)
        self.meter.loss_sum += value * n
        self.meter.rows += n
        if self.metrics:
            self.meter.add_metrics(self.metrics, pred.detach(), y, n)
        return value

    def _step_dp(self, X, y, w, interrupt: _Interrupt) -> tuple[float, bool] | None:
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
                part = _Meter(list(self.metrics))
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
            self.penalty.prox_(self.penalized, _current_lr(self.optimizer), self.optimizer)
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
        if self.fast is not None and self.fast[1] is None and isinstance(source, _TensorSource):
            # the closed-form path on raw features makes no per-batch copy: take big slices
            # (fewer, larger kernels — much faster when the cores are shared)
            batches = source.eval_batches(rows=_EVAL_BATCH_VIEWS)
        else:
            batches = source.eval_batches()
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
        return torch.tensor(value, dtype=torch.float64)

    def run(self) -> History:
        cfg = self.cfg
        per_epoch = 1 if cfg.optimizer == "lbfgs" else self.train_source.n_batches
        show = cfg.progress and (self.dp is None or self.dp.is_main)  # one bar per job
        bar = _ProgressBar(cfg.epochs, per_epoch) if show else None
        hooks = self.callbacks + ([bar] if bar is not None else [])
        for cb in hooks:
            cb.set_model(self.model)
            cb.on_train_begin(self.history)
        self.model.train()
        stop = None
        try:
            with _Interrupt() as interrupt:
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

    def _run_epoch(self, interrupt: _Interrupt, bar, hooks) -> str | None:
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
        lr_used = _current_lr(self.optimizer)
        start = time.perf_counter()
        if cfg.optimizer == "lbfgs":
            self.optimizer.step(self._lbfgs_closure)
            value, rows = self._last_closure
            self.meter.loss_sum, self.meter.rows = value * rows, rows
            self._check(value, f"epoch {epoch + 1}")
            self.batch = 1
            for cb in hooks:
                cb.on_batch_end(epoch, 0, value)
        elif self.dp is not None:  # data parallel: step together until no rank has rows
            batches = self.train_source.batches(self.generator, skip=self.batch)
            for item in itertools.chain(batches, itertools.repeat(None)):
                step = self._step_dp(*(item or (None, None, None)), interrupt)
                if step is None:
                    break
                value, stop_requested = step
                self._check(value, f"epoch {epoch + 1}, batch {self.batch + 1}")
                for cb in hooks:
                    cb.on_batch_end(epoch, self.batch, value)
                self.batch += 1
                if stop_requested:
                    return self._interrupted()
        else:
            for X, y, w in self.train_source.batches(self.generator, skip=self.batch):
                value = self._step_sgd(X, y, w)
                self._check(value, f"epoch {epoch + 1}, batch {self.batch + 1}")
                for cb in hooks:
                    cb.on_batch_end(epoch, self.batch, value)
                self.batch += 1
                if interrupt.requested:
                    return self._interrupted()
        if self.meter.rows == 0:
            raise ValueError(
                "the training data yielded no batches (is it empty, or is "
                "drop_last=True with fewer rows than batch_size?)"
            )
        return self._end_epoch(epoch, lr_used, time.perf_counter() - start, hooks, interrupt)

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
            result = _evaluate(self.model, self.val_source, self.loss_fn, self.metrics, self.dp)
            self.model.train()
            h.val_loss.append(result["loss"])
            for name in self.metrics:
                h.metrics.setdefault(f"val_{name}", []).append(result[name])
            if self.early.update(result["loss"], self.model):
                stop = "early_stopping"
            h.best_epoch = _best_epoch(h)
        if cfg.tol is not None:
            best = self.best_train
            margin = cfg.tol * abs(best) if math.isfinite(best) else 0.0
            if train_loss < best - margin:
                self.no_improve = 0
            else:
                self.no_improve += 1
            self.best_train = min(self.best_train, train_loss)
            if stop is None and self.no_improve >= cfg.n_iter_no_change:
                stop = "converged"
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


def _best_epoch(h: History) -> int | None:
    if not h.val_loss:
        return None
    return h.epoch[int(np.argmin(h.val_loss))]


def _normalise(value: Any) -> Any:
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
        A name from :data:`torchlinear.losses.LOSSES`, or ``fn(pred, y, w) -> scalar``.
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
    trainer = _Trainer(model, data, loss, cfg, penalty, val_data, metrics, callbacks, data_parallel)
    if trainer.resumed and (
        trainer.epoch >= cfg.epochs or trainer.history.stop_reason in _FINAL_STOPS
    ):  # the checkpoint is of a finished run: nothing left to do
        return trainer.history
    trainer.history.stop_reason = None
    return trainer.run()
