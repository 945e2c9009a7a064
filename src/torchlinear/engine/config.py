"""What controls a training run and what it records: TrainConfig, History, DivergenceError."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from torchlinear._schema import Int, ListOf, MapOf, Maybe, Num, Record, Str
from torchlinear._validation import (
    ParameterError,
    check_fraction,
    check_nonnegative_float,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
)

OPTIMIZERS = ("sgd", "adam", "lbfgs")
SCHEDULES = (None, "cosine", "step", "exponential")
DEFAULT_LR = {"sgd": 0.01, "adam": 0.001, "lbfgs": 1.0}
DEFAULT_GAMMA = {"step": 0.1, "exponential": 0.95}
EVAL_BATCH = 65536
EVAL_BATCH_VIEWS = 1 << 20  # rows per slice when slices are views (no copy)
CHECKPOINT_KIND = "torchlinear-checkpoint"
FINAL_STOPS = ("early_stopping", "converged", "callback")
LR_DROP_FACTOR = 10.0
"""What a minibatch run divides its learning rate by when its training loss plateaus."""
LR_DROPS = 3
"""How many times it does so before a plateau counts as convergence (see ``tol``)."""
STATIONARY = 1e-3
"""An L-BFGS run whose loss plateaus has converged when its largest gradient entry is below
this fraction of its first value; otherwise it has stalled (``stop_reason="stalled"``)."""


class DivergenceError(ParameterError):
    """Training stopped because the loss became NaN/inf or grew far above its first value.

    The message advises a learning rate one tenth of the one in use (as the parameter
    ``lr``; the command line spells it as its flag).

    Attributes
    ----------
    history : History
        The epochs completed before the divergence.
    lr : float
        The learning rate in use.
    suggested_lr : float
        One tenth of it.
    """

    def __init__(self, where: str, what: str, history: History, lr: float) -> None:
        tenth = float(f"{lr / 10:g}")
        # a whole number is shown as one (--lr 10, not 10.0), a huge one in exponent form
        shown: float | int = int(tenth) if tenth.is_integer() and abs(tenth) <= 1e6 else tenth
        super().__init__(
            "lr",
            "training diverged at {where}: the loss {what}; lower the learning rate, e.g. "
            "{0} (one tenth of {value:g}), and standardize the features",
            value=lr,
            suggestions=[("lr", shown)],
            where=where,
            what=what,
        )
        self.history = history
        self.lr = lr
        self.suggested_lr = lr / 10

    def __reduce__(self) -> Any:
        return (_divergence, (self.facts["where"], self.facts["what"], self.history, self.lr))


def _divergence(where: str, what: str, history: History, lr: float) -> DivergenceError:
    return DivergenceError(where, what, history, lr)


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
        ``tol`` times its best value for ``n_iter_no_change`` epochs. A minibatch run
        (``"sgd"`` or ``"adam"`` with more than one batch per epoch) first takes such a
        plateau for the noise of its steps, which a fixed learning rate cannot get below:
        it divides the learning rate by :data:`LR_DROP_FACTOR` (10) and carries on, up to
        :data:`LR_DROPS` (3) times, and converges on a plateau at the last rate, or on
        one after a drop that lowered the best loss by no more than ``tol`` (the epochs
        of the drops are ``History.lr_drops``). ``None`` runs all ``epochs`` at the rate
        the ``schedule`` gives.
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
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

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


RESUME_MUST_MATCH = (
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
        ``"completed"``, ``"early_stopping"``, ``"converged"``, ``"stalled"`` (L-BFGS's
        loss stopped improving far from a stationary point), ``"interrupted"`` or
        ``"diverged"``.
    best_epoch : int or None
        The epoch with the lowest validation loss (when validating).
    seed : int or None
        The seed actually used.
    lr_drops : list of int
        The epochs after which the learning rate was divided by :data:`LR_DROP_FACTOR`
        because the training loss had plateaued at the noise of the minibatch steps
        (see ``TrainConfig.tol``).

    Examples
    --------
    >>> h = History(epoch=[1, 2], train_loss=[1.0, 0.5], lr=[0.1, 0.1], epoch_time=[0.2, 0.2])
    >>> len(h), History.from_dict(h.to_dict()) == h
    (2, True)
    """

    #: What :meth:`to_dict` writes (checked before :meth:`from_dict` reads a saved one).
    SCHEMA: ClassVar[Record] = Record(
        {
            "epoch": ListOf(Int(low=1)),
            "train_loss": ListOf(Num(nan=True)),
            "val_loss": ListOf(Num(nan=True)),
            "metrics": MapOf(ListOf(Num(nan=True))),
            "lr": ListOf(Num(low=0, nan=True)),
            "epoch_time": ListOf(Num(low=0, finite=True)),
            "stop_reason": Maybe(Str()),
            "best_epoch": Maybe(Int(low=1)),
            "seed": Maybe(Int()),
            "lr_drops": ListOf(Int(low=1), max_len=LR_DROPS),
        },
        optional=("val_loss", "metrics", "stop_reason", "best_epoch", "seed", "lr_drops"),
    )

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    stop_reason: str | None = None
    best_epoch: int | None = None
    seed: int | None = None
    lr_drops: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.epoch)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> History:
        """Rebuild from :meth:`to_dict` output (of the types :data:`SCHEMA` checks).

        Raises
        ------
        ValueError
            When the per-epoch lists have other lengths than ``epoch`` (``val_loss``
            is empty without validation).
        """
        names = {f.name for f in dataclasses.fields(cls)}
        history = cls(**{k: v for k, v in d.items() if k in names})
        n = len(history.epoch)
        lists = {"train_loss": history.train_loss, "lr": history.lr, **history.metrics}
        lists["epoch_time"] = history.epoch_time
        odd = [k for k, v in lists.items() if len(v) != n]
        odd += ["val_loss"] if len(history.val_loss) not in (0, n) else []
        drops = history.lr_drops
        if any(e > n for e in drops) or drops != sorted(set(drops)):
            odd.append("lr_drops")
        if odd:
            raise ValueError(f"the history's {', '.join(odd)} do(es) not have {n} epoch(s)")
        return history

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
