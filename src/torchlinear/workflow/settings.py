"""A run's settings and results: the command's choices, defaults, plan and outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torchlinear.data.tabular import Task

MODELS = ("linear", "softmax", "mlp")
LOSSES = ("squared", "l1", "huber", "ce")
SOLVERS = ("auto", "exact", "sgd", "adam", "lbfgs")
TASKS = ("regression", "classification")
#: Routes solved exactly from one streaming pass of statistics: least squares and ridge,
#: the elastic net (coordinate descent), and its cross-validated path.
EXACT_ROUTES = ("exact", "enet", "enet-cv")
CHECKPOINT_KIND = "torchlinear-checkpoint"
DEFAULT_DELTA = 1.0  # Huber's threshold
DEFAULT_HIDDEN = 64  # the MLP's hidden width
DEFAULT_BATCH_SIZE = 256  # rows per minibatch
SAMPLE_BYTES = 16 << 20  # at most this much of X is kept for the figures of a streamed fit
SAMPLE_ROWS = 5000
EVAL_ROWS = 65536
MAX_CLASSES = 1000  # the most distinct target values of a classification, by default
CONFUSION_MAX_CLASSES = 100  # confusion matrices are written (and drawn) up to this many classes


class TrainingInterrupted(KeyboardInterrupt):
    """Training was stopped by Ctrl-C or SIGTERM after a checkpoint was saved; the message
    says how to resume. Nothing else was written."""


@dataclass
class FitResult:
    """What :func:`fit` returns (and what it wrote).

    Attributes
    ----------
    estimator : fitted estimator
        ``LinearRegression``, ``SoftmaxRegression``, ``MLPRegressor`` or ``MLPClassifier``.
    out_dir : pathlib.Path
        The folder written.
    model_path : pathlib.Path
        The model's JSON sidecar (pass it, or ``out_dir``, to :func:`predict`).
    files : list of pathlib.Path
        Every file written (model files, ``metrics.json``, ``report.md``, figures).
    target : str or None
        The target column.
    task, model, solver : str
        What was fitted and how (``solver`` as it ran: ``"cholesky"``, ``"qr"``,
        ``"adam"``, ...).
    metrics : dict
        ``{"train": {...}, "validation": {...} or None}``.
    history : History or None
        Per-epoch record of gradient training.
    n_rows, n_train, n_val, n_dropped : int
        Rows used, of them for training and validation; rows skipped by ``drop_na``.
    streamed : bool
        Whether the data was streamed in chunks rather than loaded.
    seconds : float
        Wall time of the fit (reading included, writing the files excluded).
    warnings : list of str
        Warnings raised while fitting (also re-issued as Python warnings).
    """

    estimator: Any
    out_dir: Path
    model_path: Path
    files: list[Path]
    target: str | None
    task: Task
    model: str
    solver: str
    metrics: dict[str, Any]
    history: Any
    n_rows: int
    n_train: int
    n_val: int
    n_dropped: int
    streamed: bool
    seconds: float
    warnings: list[str] = field(default_factory=list)
    convergence: str | None = None


@dataclass
class Options:
    target: str | None
    features: Sequence[str] | None
    task: Task | None
    model: str
    loss: str | None
    solver: str
    alpha: float | str | None  # a number, or "cv"
    l1_ratio: float
    delta: float
    hidden: int
    epochs: int | None
    batch_size: int
    lr: float | None
    val_split: float | None
    patience: int | None
    seed: int
    device: str | None
    drop_na: bool
    progress: bool
    resume: bool
    stream: bool | None
    memory_limit: int
    formula: str | None = None
    weight: str | None = None
    max_levels: int | None = None
    overwrite: bool = False
    max_classes: int | None = None
    cov_type: str = "nonrobust"
    # penalized least squares: alpha may be "cv"; l1_ratio is the largest of l1_ratios
    l1_ratios: tuple[float, ...] = ()
    cv: int = 5
    cv_shuffle: bool = False
    alphas: tuple[float, ...] | None = None
    n_alphas: int = 100
    positive: bool = False  # non-negative coefficients (least squares only)
    figures: bool = True  # draw the report's figures

    @property
    def alpha_cv(self) -> bool:
        """Whether alpha (and l1_ratio) are chosen by cross-validation."""
        return self.alpha == "cv"

    @property
    def penalised(self) -> bool:
        """Whether the fit is penalised: by a positive alpha, or one cross-validation picks."""
        return self.alpha_cv or bool(self.alpha)


@dataclass
class Plan:
    task: Task
    model: str  # linear, softmax, mlp
    loss: str
    route: str  # exact, linear, softmax-lbfgs, softmax, mlp
    optimizer: str | None
    epochs: int | None


@dataclass
class Outcome:
    estimator: Any
    train_metrics: dict[str, Any]
    val_metrics: dict[str, Any] | None
    history: Any
    n_train: int
    n_val: int
    sample: tuple[np.ndarray, np.ndarray] | None  # (y_true, y_pred or log-proba) for figures
    sample_split: str
    config: dict[str, Any] | None = None
    scaler: Any = None
    notes: list[str] = field(default_factory=list)
    cv: Any = None  # the cross-validated path (CVPathResult) of an --alpha cv fit
