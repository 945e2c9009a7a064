r"""Fit, predict, evaluate and describe models on the user's own data: what the CLI runs.

Every ``torchlinear`` command is one function here; the command line only parses its
arguments and prints what these return.

:func:`fit`
    Data (a CSV or Parquet file, a built-in dataset name or a
    :class:`~torchlinear.data.tabular.TabularSource`) and a target column in; a folder out
    with the model files (safetensors weights and a JSON sidecar), ``metrics.json`` and
    ``report.md`` with its figures.
:func:`predict`, :func:`evaluate`, :func:`model_summary`
    Use a saved model on new data, score it, describe it.
:func:`save_estimator`, :func:`load_estimator`
    Persist any fitted torchlinear estimator; loading never unpickles.

How a fit runs
--------------
*Least squares* (regression, ``model="linear"``, squared loss, no L1 penalty, solver
``"auto"`` or ``"exact"``) is always streamed: one pass over the data in chunks
accumulates the sufficient statistics (:class:`~torchlinear.exact.GramStats`, float64),
then a Cholesky solve; should the centred, scaled design be ill-conditioned
(:math:`\kappa > 10^5`), a second pass accumulates a tall-skinny QR instead. Memory is
O(chunk + d²) whatever the number of rows, so a file larger than memory is fitted exactly.
The training metrics (R², MSE, RMSE) come from the same statistics, and so do the
validation metrics, from a second set of statistics of the held-out rows.

*Gradient training* (robust losses, L1 penalties, softmax and MLP models, or an explicit
``"sgd"``/``"adam"``/``"lbfgs"`` solver) loads the data into memory when it is small
enough (``memory_limit``) and otherwise streams every epoch from the file; per-epoch
training and validation losses, early stopping (``patience``), checkpoints and
``resume`` come from :func:`torchlinear.engine.train`. Softmax regression with the
``"auto"`` solver on data in memory is fitted by full-batch L-BFGS
(:class:`~torchlinear.estimators.SoftmaxRegression`).

Parameters mean what they mean on the estimators: ``alpha`` is
:class:`~torchlinear.estimators.LinearRegression`'s penalty for linear regression (on
the *sum* of the losses, as in scikit-learn's ``Ridge``/``HuberRegressor``), and the
penalty added to the *mean* loss for softmax regression and the MLP.

The validation split
--------------------
With ``val_split = f``, row :math:`i` (counted from 0 over the rows that are used, in file
order, after ``drop_na``) is held out when :math:`u(s, i) < f`, where :math:`u` is the
SplitMix64 hash of :math:`i` keyed by the seed :math:`s`, read as a number in
:math:`[0, 1)` (:func:`holdout_mask`). The held-out rows are therefore the same however
the data is read (chunk size, streamed or in memory) and in every epoch, and about a
fraction :math:`f` of the rows. The image datasets (digits, mnist, fashion-mnist,
cifar10) come with a test split, which is the validation data unless ``val_split`` is
given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchlinear._validation import (
    check_fraction,
    check_nonnegative_float,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
    resolve_device,
)
from torchlinear.data.split import Sample, holdout_mask, keyed_uniform
from torchlinear.estimators import (
    FitOptions,
    LinearRegression,
    MLPClassifier,
    MLPRegressor,
    SoftmaxRegression,
)
from torchlinear.estimators.persist import MODEL_KIND, load_estimator, save_estimator
from torchlinear.estimators.persist import describe as _describe

__all__ = [
    "MODEL_KIND",
    "FitResult",
    "PredictResult",
    "TrainingInterrupted",
    "evaluate",
    "fit",
    "holdout_mask",
    "load_estimator",
    "model_summary",
    "predict",
    "save_estimator",
]

MODELS = ("linear", "softmax", "mlp")
LOSSES = ("squared", "l1", "huber", "ce")
SOLVERS = ("auto", "exact", "sgd", "adam", "lbfgs")
TASKS = ("regression", "classification")
_CHECKPOINT_KIND = "torchlinear-checkpoint"
_DEFAULT_MEMORY_LIMIT = 1 << 30
_LINEAR_EPOCHS = {"sgd": 100, "adam": 100, "lbfgs": 30}
_SOFTMAX_EPOCHS = 20
_MLP_EPOCHS = 100
_SAMPLE_BYTES = 16 << 20  # at most this much of X is kept for the figures of a streamed fit
_SAMPLE_ROWS = 5000
_EVAL_ROWS = 65536


class TrainingInterrupted(KeyboardInterrupt):
    """Training was stopped by Ctrl-C after a checkpoint was saved; the message says how to
    resume. Nothing else was written."""


# ---------------------------------------------------------------------------------------
# Data: a file, a built-in dataset, or a TabularSource
# ---------------------------------------------------------------------------------------


@dataclass
class _Data:
    """The data of a command, whatever its origin, as chunks of NumPy ``(X, y)``."""

    label: str
    feature_names: list[str]
    target: str | None
    task: str
    source: Any = None  # TabularSource
    X: np.ndarray | None = None  # a built-in dataset, in memory
    y: np.ndarray | None = None
    X_test: np.ndarray | None = None  # a built-in test split
    y_test: np.ndarray | None = None
    image_shape: tuple[int, ...] | None = None
    chunk_rows: int = 65536
    kind: str = "file"  # "file" or "dataset"
    dropped_total: int | None = None  # rows skipped by drop_na on every rank together

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float64) if self.X is None else self.X.dtype

    @property
    def n_rows_dropped(self) -> int:
        if self.dropped_total is not None:
            return self.dropped_total
        if self.source is None:
            return 0
        return int(self.source.n_dropped or 0)

    def chunks(self) -> Iterator[tuple[np.ndarray, Any]]:
        """One pass over the rows, in order."""
        if self.source is not None:
            yield from self.source.iter_chunks()
            return
        assert self.X is not None
        for start in range(0, len(self.X), self.chunk_rows):
            stop = start + self.chunk_rows
            yield self.X[start:stop], None if self.y is None else self.y[start:stop]

    def test_chunks(self) -> Iterator[tuple[np.ndarray, Any]]:
        assert self.X_test is not None
        for start in range(0, len(self.X_test), self.chunk_rows):
            stop = start + self.chunk_rows
            y = None if self.y_test is None else self.y_test[start:stop]
            yield self.X_test[start:stop], y

    def read_all(self) -> tuple[np.ndarray, Any]:
        if self.source is not None:
            return self.source.read_all()
        assert self.X is not None
        return self.X, self.y

    def estimated_bytes(self) -> int:
        """The size of the data as float64 in memory (for files: an estimate)."""
        d = len(self.feature_names) + 1
        if self.X is not None:
            return int(len(self.X) * d * 8)
        source = self.source
        if source.n_rows is not None:
            return int(source.n_rows * d * 8)
        size = source.path.stat().st_size  # a CSV cell is about as long as a float64
        return int(size * d / max(1, len(source.columns)))


def _dataset_key(name: str) -> str | None:
    from torchlinear.datasets import DATASETS

    key = str(name).strip().lower().replace("_", "-")
    key = {"cifar-10": "cifar10", "fashionmnist": "fashion-mnist"}.get(key, key)
    return key if key in DATASETS else None


def _load_dataset(key: str, download: bool) -> _Data:
    from torchlinear import datasets

    if key == "synthetic":
        s = datasets.synthetic()
        X, y = s.X.numpy(), s.y.numpy()
        names = [f"x{j}" for j in range(X.shape[1])]
        return _Data(key, names, "y", "regression", X=X, y=y, kind="dataset")
    if key == "diabetes":
        t = datasets.diabetes()
        return _Data(
            key,
            list(t.feature_names),
            "progression",
            "regression",
            X=t.X.numpy(),
            y=t.y.numpy(),
            kind="dataset",
        )
    loader = {"mnist": datasets.mnist, "fashion-mnist": datasets.fashion_mnist}
    loader["cifar10"] = datasets.cifar10
    if key == "digits":
        images = datasets.digits(flatten=True)
    else:
        images = loader[key](download=download, flatten=True)
    classes = np.asarray(images.classes, dtype=object)
    X, X_test = images.X_train.numpy(), images.X_test.numpy()
    names = [f"pixel{j}" for j in range(X.shape[1])]
    return _Data(
        key,
        names,
        "label",
        "classification",
        X=X,
        y=classes[images.y_train.numpy()],
        X_test=X_test,
        y_test=classes[images.y_test.numpy()],
        image_shape=tuple(images.image_shape),
        kind="dataset",
    )


def _select_dataset_columns(data: _Data, target: str | None, features: Sequence[str] | None):
    if target is not None and target != data.target:
        raise ValueError(
            f"target: the built-in dataset {data.label!r} has the target column "
            f"{data.target!r}, not {target!r}; leave out --target"
        )
    if features is None:
        return data
    features = list(features)
    unknown = [f for f in features if f not in data.feature_names]
    if unknown:
        shown = ", ".join(repr(f) for f in data.feature_names[:12])
        more = "" if len(data.feature_names) <= 12 else f" and {len(data.feature_names) - 12} more"
        raise ValueError(
            f"features: the dataset {data.label!r} has no column(s) "
            f"{', '.join(map(repr, unknown))}; its features are {shown}{more}"
        )
    index = [data.feature_names.index(f) for f in features]
    data.feature_names = features
    data.X = np.ascontiguousarray(data.X[:, index])
    if data.X_test is not None:
        data.X_test = np.ascontiguousarray(data.X_test[:, index])
    data.image_shape = None
    return data


def _is_file_like(data: str | os.PathLike[str]) -> bool:
    from torchlinear.data.tabular import FORMATS

    path = Path(data)
    return path.exists() or path.suffix.lower() in FORMATS or os.sep in str(data)


def _file_columns(path: Path, delimiter: str | None) -> list[str]:
    """The columns of a data file, after the reader's checks of the file itself (exists,
    format, not empty, header, delimiter); the types of the columns do not matter here."""
    from torchlinear.data.tabular import TabularSource

    probe = TabularSource.__new__(TabularSource)
    try:
        TabularSource.__init__(probe, path, delimiter=delimiter)
    except ValueError:
        if not hasattr(probe, "_types"):  # the file itself is unreadable: say so
            raise
    return list(probe.columns)


def _unknown_data(data: Any) -> ValueError:
    import difflib

    from torchlinear.datasets import DATASETS

    close = difflib.get_close_matches(str(data).lower(), DATASETS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(
        f"{str(data)!r} is not a file and not a built-in dataset{hint}; give a CSV or "
        f"Parquet file, or one of {', '.join(DATASETS)}"
    )


def _peek_task(path: Any, target: str, features: Any, delimiter: Any) -> str:
    """Regression for a numeric target column, classification for text or booleans."""
    from torchlinear.data.tabular import TabularSource

    source = TabularSource(
        path,
        target,
        features,
        task="classification",
        drop_na=True,
        delimiter=delimiter,
        batch_rows=256,
    )
    try:
        for _, y in source.iter_chunks():
            kind = np.asarray(y).dtype.kind
            return "regression" if kind in "iuf" else "classification"
    except ValueError:  # the real pass reports problems properly
        pass
    return "regression"


def _open_data(
    data: Any,
    target: str | None,
    features: Sequence[str] | None,
    task: str | None,
    *,
    drop_na: bool,
    delimiter: str | None,
    batch_rows: int | None,
    download: bool,
    need_target: bool = True,
) -> _Data:
    from torchlinear.data.tabular import TabularSource

    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    if isinstance(data, TabularSource):
        if target is not None and target != data.target:
            raise ValueError(
                f"target {target!r} differs from the source's target {data.target!r}; "
                "leave target out when passing a TabularSource"
            )
        if need_target and data.target is None:
            raise ValueError("the TabularSource has no target column; open it with target=...")
        return _Data(str(data.path), list(data.feature_names), data.target, data.task, data)
    if isinstance(data, os.PathLike) or (isinstance(data, str) and _is_file_like(data)):
        path = Path(data)
        if need_target and target is None:
            columns = _file_columns(path, delimiter)
            shown = ", ".join(repr(c) for c in columns[:12])
            more = "" if len(columns) <= 12 else f" and {len(columns) - 12} more"
            raise ValueError(
                f"target: name the target column; {path} has the columns {shown}{more}"
            )
        if task is None and target is not None:
            task = _peek_task(path, target, features, delimiter)
        source = TabularSource(
            path,
            target,
            features,
            task=task or "regression",
            drop_na=drop_na,
            delimiter=delimiter,
            batch_rows=batch_rows,
        )
        return _Data(str(path), list(source.feature_names), target, source.task, source)
    if isinstance(data, str):
        key = _dataset_key(data)
        if key is None:
            raise _unknown_data(data)
        resolved = _load_dataset(key, download)
        if task is not None and task != resolved.task:
            raise ValueError(
                f"task: the built-in dataset {key!r} is a {resolved.task} dataset, not "
                f"{task}; leave out --task"
            )
        if batch_rows is not None:
            resolved.chunk_rows = check_positive_int("batch_rows", batch_rows)
        return _select_dataset_columns(resolved, target, features)
    raise ValueError(
        f"data must be a file path, a built-in dataset name or a TabularSource, got "
        f"{type(data).__name__}"
    )


# ---------------------------------------------------------------------------------------
# Metrics accumulated over chunks
# ---------------------------------------------------------------------------------------


class _RegressionMeter:
    """Mean squared/absolute error and R² over chunks (float64, mergeable moments)."""

    def __init__(self) -> None:
        self.n = 0
        self.sse = self.sae = 0.0
        self.mean = self.m2 = 0.0

    def update(self, y: np.ndarray, pred: np.ndarray) -> None:
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        r = y - np.asarray(pred, dtype=np.float64).reshape(-1)
        m = len(y)
        if m == 0:
            return
        self.sse += float(r @ r)
        self.sae += float(np.abs(r).sum())
        mean_b = float(y.mean())
        m2_b = float(((y - mean_b) ** 2).sum())
        total = self.n + m
        delta = mean_b - self.mean
        self.mean += delta * m / total
        self.m2 += m2_b + delta * delta * self.n * m / total
        self.n = total

    def result(self) -> dict[str, Any]:
        n = self.n
        if n == 0:
            return {"n": 0}
        mse = self.sse / n
        r2 = 1 - self.sse / self.m2 if self.m2 > 0 else math.nan
        return {"n": n, "r2": r2, "mse": mse, "rmse": math.sqrt(mse), "mae": self.sae / n}


class _ClassificationMeter:
    """Accuracy, mean log-loss and the confusion matrix over chunks."""

    def __init__(self, classes: np.ndarray) -> None:
        self.classes = classes
        k = len(classes)
        self.k = k
        self.n = self.correct = self.unseen = 0
        self.log_loss = 0.0
        self.confusion = np.zeros((k, k), dtype=np.int64)
        self.unseen_labels: set = set()

    def update(self, y: np.ndarray, log_proba: np.ndarray) -> None:
        y = np.asarray(y)
        if len(y) == 0:
            return
        index = _label_index(self.classes, y)
        pred = log_proba.argmax(axis=1)
        known = index >= 0
        self.n += len(y)
        self.correct += int((pred[known] == index[known]).sum())
        if not known.all():
            self.unseen += int((~known).sum())
            for label in y[~known][:20]:
                self.unseen_labels.add(_plain(label))
        rows = np.flatnonzero(known)
        self.log_loss -= float(log_proba[rows, index[rows]].sum())
        self.confusion += np.bincount(
            index[known] * self.k + pred[known], minlength=self.k * self.k
        ).reshape(self.k, self.k)

    def result(self) -> dict[str, Any]:
        if self.n == 0:
            return {"n": 0}
        known = self.n - self.unseen
        out: dict[str, Any] = {
            "n": self.n,
            "accuracy": self.correct / self.n,
            "log_loss": self.log_loss / known if known else math.nan,
            "confusion_matrix": self.confusion.tolist(),
        }
        if self.unseen:
            out["unseen_labels"] = self.unseen
        return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _label_index(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Position of each label in the sorted ``classes``; -1 for labels not among them."""
    y = np.asarray(y)
    try:
        index = np.searchsorted(classes, y)
    except TypeError:  # labels of another type than the classes: none matches
        return np.full(len(y), -1, dtype=np.int64)
    index = np.clip(index, 0, len(classes) - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        equal = np.asarray(classes[index] == y, dtype=bool)
    return np.where(equal, index, -1).astype(np.int64)


def _gram_metrics(stats: Any, coef: np.ndarray, intercept: float) -> dict[str, Any]:
    """R², MSE and RMSE of a linear model on rows summarised by ``GramStats``."""
    n = int(stats.n_samples)
    if n == 0:
        return {"n": 0}
    G, B, C, _ = stats.system(fit_intercept=True)
    mean_x, mean_y = stats.means()
    w = torch.as_tensor(coef, dtype=torch.float64, device=G.device).reshape(-1, 1)
    W = float(stats.weight_sum)
    offset = float(mean_y[0] - intercept - (mean_x @ w[:, 0]))
    centred = float((C - 2 * w.T @ B + w.T @ G @ w)[0, 0])
    sse = max(0.0, centred) + W * offset * offset
    tss = float(C[0, 0])
    mse = sse / W
    r2 = 1 - sse / tss if tss > 0 else math.nan
    return {"n": n, "r2": r2, "mse": mse, "rmse": math.sqrt(mse)}


# ---------------------------------------------------------------------------------------
# Building estimators from fitted parameters (after a fit, or from a model file)
# ---------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------
# Predicting with any estimator, chunk by chunk
# ---------------------------------------------------------------------------------------


def _predict_chunk(est: Any, X: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return np.asarray(est.predict(X))


def _log_proba_chunk(est: Any, X: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return np.asarray(est.predict_log_proba(X))


def _score_chunks(est: Any, task: str, chunks: Any) -> dict[str, Any]:
    if task == "regression":
        meter: Any = _RegressionMeter()
        for X, y in chunks:
            meter.update(y, _predict_chunk(est, X))
    else:
        meter = _ClassificationMeter(est.classes_)
        for X, y in chunks:
            meter.update(y, _log_proba_chunk(est, X))
    return meter.result()


def _rows(X: np.ndarray, y: Any, step: int = _EVAL_ROWS) -> Iterator[tuple[np.ndarray, Any]]:
    for start in range(0, len(X), step):
        yield X[start : start + step], y[start : start + step]


# ---------------------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------------------


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
    task: str
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


@dataclass
class _Options:
    target: str | None
    features: Sequence[str] | None
    task: str | None
    model: str
    loss: str | None
    solver: str
    alpha: float | None
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


@dataclass
class _Plan:
    task: str
    model: str  # linear, softmax, mlp
    loss: str
    route: str  # exact, linear, softmax-lbfgs, softmax, mlp
    optimizer: str | None
    epochs: int | None


def _plan(opts: _Options, task: str, streamed: bool) -> _Plan:
    model, loss, solver = opts.model, opts.loss, opts.solver
    if task == "classification":
        if model == "linear":
            model = "softmax"
        loss = loss or "ce"
        if loss != "ce":
            raise ValueError(
                f"loss {loss!r} is a regression loss; classification uses 'ce' "
                "(cross-entropy): leave out --loss, or use --task regression"
            )
        if opts.l1_ratio > 0 and model == "softmax":
            raise ValueError(
                "l1_ratio: softmax regression takes an L2 penalty only; use --model mlp for an "
                "elastic-net penalty, or leave out --l1-ratio"
            )
    else:
        if model == "softmax":
            raise ValueError(
                "model 'softmax' is a classifier, but the task is regression; use --task "
                "classification (or a text target column), or --model linear"
            )
        loss = loss or "squared"
        if loss == "ce":
            raise ValueError(
                "loss 'ce' (cross-entropy) is for classification; use --task classification"
            )
    alpha = opts.alpha or 0.0
    if solver == "exact":
        if not (task == "regression" and model == "linear" and loss == "squared"):
            raise ValueError(
                f"solver 'exact' solves least squares only (regression, linear model, squared "
                f"loss); this fit is {task} with model {model!r} and loss {loss!r}: use "
                "--solver auto, sgd, adam or lbfgs"
            )
        if opts.l1_ratio > 0 and alpha > 0:
            raise ValueError(
                "solver 'exact' handles an L2 penalty only; with --l1-ratio > 0 use --solver "
                "auto, sgd or adam"
            )
    if solver == "lbfgs" and opts.l1_ratio > 0 and alpha > 0:
        raise ValueError(
            "solver 'lbfgs' cannot handle an L1 penalty (l1_ratio > 0); use sgd or adam"
        )
    if model == "linear":
        exact = loss == "squared" and (opts.l1_ratio == 0 or alpha == 0)
        if solver == "exact" or (solver == "auto" and exact):
            return _Plan(task, model, loss, "exact", None, None)
        optimizer = solver
        if solver == "auto":
            smooth = loss in ("squared", "huber") and (opts.l1_ratio == 0 or alpha == 0)
            optimizer = "lbfgs" if smooth and not streamed else "adam"
        return _Plan(task, model, loss, "linear", optimizer, opts.epochs)
    if model == "softmax":
        if solver in ("auto", "lbfgs") and not streamed:
            return _Plan(task, model, loss, "softmax-lbfgs", "lbfgs", opts.epochs)
        optimizer = "adam" if solver == "auto" else solver
        return _Plan(task, model, loss, "softmax", optimizer, opts.epochs)
    optimizer = "adam" if solver == "auto" else solver
    return _Plan(task, model, loss, "mlp", optimizer, opts.epochs)


def _check_options(**kw: Any) -> _Options:
    if kw["model"] not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {kw['model']!r}")
    if kw["loss"] is not None and kw["loss"] not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {kw['loss']!r}")
    if kw["solver"] not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got {kw['solver']!r}")
    if kw["task"] is not None and kw["task"] not in TASKS:
        raise ValueError(f"task must be 'regression' or 'classification', got {kw['task']!r}")
    task = kw["task"]
    if task is None and (kw["model"] == "softmax" or kw["loss"] == "ce"):
        task = "classification"
    elif task is None and kw["loss"] in ("squared", "l1", "huber"):
        task = "regression"
    l1_ratio = check_nonnegative_float("l1_ratio", kw["l1_ratio"])
    if l1_ratio > 1:
        raise ValueError(f"l1_ratio must lie in [0, 1], got {kw['l1_ratio']!r}")
    seed = check_nonnegative_int("seed", kw["seed"])
    if seed >= 2**62:
        raise ValueError(f"seed must be below 2**62, got {seed}")
    val_split = kw["val_split"]
    if val_split is not None:
        val_split = check_fraction("val_split", val_split)
    if kw["device"] is not None:
        resolve_device(kw["device"])
    return _Options(
        target=kw["target"],
        features=kw["features"],
        task=task,
        model=kw["model"],
        loss=kw["loss"],
        solver=kw["solver"],
        alpha=None if kw["alpha"] is None else check_nonnegative_float("alpha", kw["alpha"]),
        l1_ratio=l1_ratio,
        delta=check_positive_float("delta", kw["delta"]),
        hidden=check_positive_int("hidden", kw["hidden"]),
        epochs=None if kw["epochs"] is None else check_positive_int("epochs", kw["epochs"]),
        batch_size=check_positive_int("batch_size", kw["batch_size"]),
        lr=None if kw["lr"] is None else check_positive_float("lr", kw["lr"]),
        val_split=val_split,
        patience=None if kw["patience"] is None else check_positive_int("patience", kw["patience"]),
        seed=seed,
        device=kw["device"],
        drop_na=bool(kw["drop_na"]),
        progress=bool(kw["progress"]),
        resume=bool(kw["resume"]),
        stream=kw["stream"],
        memory_limit=check_positive_int("memory_limit", kw["memory_limit"]),
    )


def _check_out_dir(out: str | os.PathLike[str]) -> Path:
    """Check that ``out`` can be created or written, without creating it."""
    path = Path(out)
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"out {str(path)!r} is a file, not a folder; choose a folder path")
        probe = path
    else:
        probe = path.parent
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():
            raise ValueError(
                f"out {str(path)!r} cannot be created: {str(probe)!r} is a file, not a folder; "
                "choose another folder"
            )
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise ValueError(
            f"out {str(path)!r} is not writable ({exc.strerror or exc}); choose another folder"
        ) from None
    return path


def fit(
    data: Any,
    target: str | None = None,
    *,
    features: Sequence[str] | str | None = None,
    task: str | None = None,
    model: str = "linear",
    loss: str | None = None,
    solver: str = "auto",
    alpha: float | None = None,
    l1_ratio: float = 0.0,
    delta: float = 1.0,
    hidden: int = 64,
    epochs: int | None = None,
    batch_size: int = 256,
    lr: float | None = None,
    val_split: float | None = None,
    patience: int | None = None,
    seed: int = 0,
    device: str | None = None,
    drop_na: bool = False,
    delimiter: str | None = None,
    out: str | os.PathLike[str] = "torchlinear-model",
    resume: bool = False,
    progress: bool = False,
    stream: bool | None = None,
    memory_limit: int = _DEFAULT_MEMORY_LIMIT,
    batch_rows: int | None = None,
    download: bool = False,
    callbacks: Sequence[Any] = (),
) -> FitResult:
    """Fit a model to a file or built-in dataset and write the model, metrics and report.

    Parameters
    ----------
    data : str, path-like or TabularSource
        A CSV (``.csv``, ``.tsv``, ``.txt``) or Parquet (``.parquet``, ``.pq``) file, a
        built-in dataset name (``synthetic``, ``diabetes``, ``digits``, ``mnist``,
        ``fashion-mnist``, ``cifar10``) or an open
        :class:`~torchlinear.data.tabular.TabularSource`.
    target : str, optional
        The target column (needed for files; the built-in datasets know theirs).
    features : list of str or comma-separated str, optional
        Feature columns; by default every other column.
    task : {"regression", "classification"}, optional
        By default classification for ``model="softmax"``, ``loss="ce"`` or a target of
        text or booleans, else regression.
    model : {"linear", "softmax", "mlp"}, default "linear"
        ``"linear"`` is least squares/robust linear regression, or softmax regression for
        classification; ``"mlp"`` a two-layer perceptron.
    loss : {"squared", "l1", "huber", "ce"}, optional
        Default ``"squared"`` for regression, ``"ce"`` for classification.
    solver : {"auto", "exact", "sgd", "adam", "lbfgs"}, default "auto"
        ``"auto"``: exact for least squares, L-BFGS for smooth problems in memory, Adam
        otherwise (see the module notes).
    alpha : float, optional
        Penalty strength, as the estimator's ``alpha`` (default: the estimator's, 0 for
        linear regression and the MLP, 1e-4 for softmax regression).
    l1_ratio : float, default 0
        L1 share of the elastic-net penalty (exact zeros by soft-thresholding).
    delta : float, default 1
        Huber's threshold, in units of the target.
    hidden : int, default 64
        Hidden width of the MLP.
    epochs : int, optional
        Training epochs (default 100 for linear and MLP, 20 for minibatch softmax; L-BFGS
        iterations for softmax with L-BFGS).
    batch_size : int, default 256
        Minibatch size.
    lr : float, optional
        Learning rate (the optimizer's default otherwise).
    val_split : float, optional
        Fraction of rows held out for validation (see the module notes); default 0.2, or
        the test split of an image dataset. 0 disables validation.
    patience : int, optional
        Early stopping: stop when the validation loss has not improved for this many
        epochs and keep the best epoch's parameters.
    seed : int, default 0
        Seeds the validation split, the initial weights and the shuffling.
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"`` or ``"auto"`` (default: the best available).
    drop_na : bool, default False
        Skip rows with missing values instead of refusing them.
    delimiter : str, optional
        CSV separator (default ``,``; tab for ``.tsv``).
    out : str or path-like, default "torchlinear-model"
        Output folder (created if needed).
    resume : bool, default False
        Continue gradient training from the checkpoint in ``out/checkpoint``; with the
        same settings and seed the result equals an uninterrupted run.
    progress : bool, default False
        Show progress bars on stderr.
    stream : bool, optional
        Stream a file from disk every epoch instead of loading it (default: stream when
        its float64 size exceeds ``memory_limit`` bytes). Least squares always streams.
    memory_limit : int, default 1 GiB
        See ``stream``.
    batch_rows : int, optional
        Rows per chunk read from the file.
    download : bool, default False
        Download missing files of the built-in image datasets.
    callbacks : sequence of torchlinear.engine.Callback
        Extra hooks for gradient training.

    Returns
    -------
    FitResult
        Under ``torchrun`` (two or more ranks) every rank fits and returns the same model;
        least squares reads only this rank's share of a file, with rows numbered as in the
        whole file (so the validation split is the single-process one), and gradient
        training on data in memory is data-parallel. Rank 0 alone writes ``out``; on the
        other ranks ``files`` is empty. A process group that this call initialised is shut
        down on return.

    Raises
    ------
    ValueError
        One line for any problem with the options or the data (nothing is written then),
        or :class:`~torchlinear.engine.DivergenceError` when training diverges.
    TrainingInterrupted
        On Ctrl-C during gradient training, after saving a checkpoint in
        ``out/checkpoint``.

    Examples
    --------
    >>> import tempfile
    >>> result = fit("diabetes", out=tempfile.mkdtemp())
    >>> result.solver, result.n_train + result.n_val
    ('cholesky', 442)
    >>> sorted(p.name for p in result.files if p.suffix != ".safetensors")[:3]
    ['metrics.json', 'model.json', 'predicted_vs_actual.png']
    """
    from torchlinear import distributed as tld

    start = time.perf_counter()
    opts = _check_options(
        target=target,
        features=features,
        task=task,
        model=model,
        loss=loss,
        solver=solver,
        alpha=alpha,
        l1_ratio=l1_ratio,
        delta=delta,
        hidden=hidden,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        val_split=val_split,
        patience=patience,
        seed=seed,
        device=device,
        drop_na=drop_na,
        progress=progress,
        resume=resume,
        stream=stream,
        memory_limit=memory_limit,
    )
    out_dir = _check_out_dir(out)
    owns_group = _join_group(opts.device)
    try:
        return _fit_opened(data, opts, out_dir, start, delimiter, batch_rows, download, callbacks)
    finally:
        if owns_group:
            tld.shutdown()


def _join_group(device: str | None) -> bool:
    """Join the process group ``torchrun`` describes (two or more ranks); return whether
    this call initialised it (and so should shut it down)."""
    from torchlinear import distributed as tld

    if tld.is_distributed() or not tld.launched_by_torchrun():
        return False
    if os.environ.get("WORLD_SIZE", "1").strip() in ("0", "1"):
        return False
    return tld.init_from_env(device=resolve_device(device))


def _fit_opened(
    data: Any,
    opts: _Options,
    out_dir: Path,
    start: float,
    delimiter: str | None,
    batch_rows: int | None,
    download: bool,
    callbacks: Sequence[Any],
) -> FitResult:
    """The body of :func:`fit` once the options are checked (and any process group is up)."""
    from torchlinear import distributed as tld

    main = tld.is_main_process()
    if not main:  # one set of progress bars, from rank 0
        opts = dataclasses.replace(opts, progress=False)
    resolved = _open_data(
        data,
        opts.target,
        opts.features,
        opts.task,
        drop_na=opts.drop_na,
        delimiter=delimiter,
        batch_rows=batch_rows,
        download=download,
    )
    streamed = resolved.source is not None and (
        opts.stream is True
        or (opts.stream is None and resolved.estimated_bytes() > opts.memory_limit)
    )
    plan = _plan(opts, resolved.task, streamed)
    if plan.route == "exact":
        streamed = True
    if opts.resume and plan.route in ("exact", "softmax-lbfgs"):
        raise ValueError(
            "resume continues minibatch training; this fit "
            f"({'exact least squares' if plan.route == 'exact' else 'L-BFGS'}) has no "
            "checkpoints: leave out --resume"
        )
    if opts.patience is not None and plan.route in ("exact", "softmax-lbfgs"):
        raise ValueError("patience (early stopping) applies to minibatch training only")
    val_fraction = opts.val_split
    given_val = resolved.X_test is not None and val_fraction is None
    if val_fraction is None:
        val_fraction = 0.0 if given_val else 0.2
    checkpoint = out_dir / "checkpoint"
    if opts.resume and not (checkpoint / "model.json").exists():
        raise ValueError(
            f"resume: there is no checkpoint in {str(checkpoint)!r} to resume from; run "
            "the fit once without --resume"
        )
    had_out, had_checkpoint = out_dir.exists(), checkpoint.exists()
    ctx = _FitContext(resolved, opts, plan, val_fraction, given_val, checkpoint, list(callbacks))
    if tld.world_size() > 1 and resolved.source is not None and streamed:
        if plan.route != "exact":
            raise ValueError(
                "streamed gradient training is not supported across ranks yet; use --stream "
                "false (or a larger --memory-limit) so that every rank loads the file, or run "
                "a single process"
            )
        ctx.shard_rows_globally()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome = ctx.run(streamed)
        except KeyboardInterrupt:  # Ctrl-C: keep the checkpoint to resume from
            raise
        except BaseException:
            if main and plan.route not in ("exact", "softmax-lbfgs") and not had_checkpoint:
                shutil.rmtree(checkpoint, ignore_errors=True)
                if not had_out:
                    with contextlib.suppress(OSError):
                        out_dir.rmdir()
            raise
    messages = _unique_messages(caught)
    seconds = time.perf_counter() - start
    result = FitResult(
        estimator=outcome.estimator,
        out_dir=out_dir,
        model_path=out_dir / "model.json",
        files=[],
        target=resolved.target,
        task=plan.task,
        model=plan.model,
        solver=str(getattr(outcome.estimator, "solver_", plan.optimizer)),
        metrics={"train": outcome.train_metrics, "validation": outcome.val_metrics},
        history=outcome.history,
        n_rows=outcome.n_train + outcome.n_val,
        n_train=outcome.n_train,
        n_val=outcome.n_val,
        n_dropped=resolved.n_rows_dropped,
        streamed=streamed,
        seconds=seconds,
        warnings=messages,
    )
    if main:  # rank 0 alone writes the output folder
        result.files = _write_outputs(result, outcome, resolved, opts, ctx)
    shown: set[str] = set()
    for w in caught:  # once each, now that the report records them
        text = str(w.message).splitlines()[0]
        if text in messages and text not in shown:
            shown.add(text)
            warnings.warn(w.message, w.category, stacklevel=2)
    return result


def _unique_messages(caught: list) -> list[str]:
    seen: list[str] = []
    for w in caught:
        text = str(w.message).splitlines()[0]
        if text not in seen and not issubclass(w.category, DeprecationWarning):
            seen.append(text)
    return seen


@dataclass
class _Outcome:
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


class _FitContext:
    """One fit: the data, the options and the chosen route."""

    def __init__(self, data, opts, plan, val_fraction, given_val, checkpoint, callbacks):
        self.data: _Data = data
        self.opts: _Options = opts
        self.plan: _Plan = plan
        self.val_fraction: float = val_fraction
        self.given_val: bool = given_val
        self.checkpoint: Path = checkpoint
        self.callbacks = callbacks
        self.device = resolve_device(opts.device)
        self.row_offset = 0  # the global index of this rank's first row

    def shard_rows_globally(self) -> None:
        """Read only this rank's part of the file, numbering its rows globally.

        Each rank counts the rows of its part (one pass, after ``drop_na``) and the ranks
        exchange the counts, so that row ``i`` of the file has index ``i`` on whichever
        rank reads it: the validation split and the figure sample are the single-process
        ones.
        """
        from torchlinear import distributed as tld

        count, error = 0, None
        try:
            self.data.source = tld.shard_source(self.data.source)
            for X, _ in self.data.source.iter_chunks():
                count += len(X)
        except Exception as exc:  # shared with the other ranks before anyone waits
            error = exc
        counts = tld.exchange_status(error, [count])
        self.row_offset = sum(c[0] for c in counts[: tld.rank()])

    def _combine(self, *stats: Any) -> list[Any]:
        """The statistics of every rank's rows together (the same on every rank)."""
        from torchlinear import distributed as tld

        if tld.world_size() == 1:
            return list(stats)
        return [None if s is None else tld.allreduce_gram(s) for s in stats]

    # ----------------------------------------------------------------- passes
    def split_chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray, Any, np.ndarray]]:
        """``(rows, X, y, held_out)`` per chunk of the data, rows numbered globally."""
        seen = self.row_offset
        for X, y in self.data.chunks():
            m = len(X)
            rows = np.arange(seen, seen + m, dtype=np.int64)
            held = holdout_mask(seen, m, self.val_fraction, self.opts.seed)
            seen += m
            yield rows, X, y, held

    def _progress(self, desc: str) -> Any:
        from tqdm.auto import tqdm

        total = None if self.data.source is None else self.data.source.n_rows
        if self.data.X is not None:
            total = len(self.data.X)
        return tqdm(
            total=total,
            unit=" rows",
            unit_scale=True,
            desc=desc,
            disable=None if self.opts.progress else True,  # None: off when not a terminal
            leave=False,
        )

    def _check_rows(self, n_train: int, n_val: int) -> None:
        label = self.data.label
        total = n_train + n_val
        if total < 2:
            raise ValueError(
                f"{label}: only {total} data row(s) to fit; a model needs at least 2 rows "
                "(and more rows than features for least squares)"
            )
        if n_train < 2:
            raise ValueError(
                f"{label}: val_split={self.val_fraction:g} left {n_train} of {total} rows for "
                "training; use a smaller --val-split or more data"
            )

    def run(self, streamed: bool) -> _Outcome:
        if self.plan.route == "exact":
            return self.fit_exact()
        if streamed:
            return self.fit_streamed()
        # On small problems, starting and synchronising threads costs more than the
        # arithmetic (and threads that wait for each other are ruinous on a busy machine).
        width = self.opts.hidden if self.plan.route == "mlp" else 10
        small = self.device.type == "cpu" and self.data.estimated_bytes() // 8 * width < 1 << 23
        with _one_thread() if small else contextlib.nullcontext():
            return self.fit_in_memory()

    # ------------------------------------------------------------------ exact
    def _gather_counts(self, n_train: int, n_val: int, sample: Sample) -> tuple[int, int, Sample]:
        """Row counts, rows dropped and the figure sample of every rank together."""
        from torchlinear import distributed as tld

        if tld.world_size() == 1:
            return n_train, n_val, sample
        dropped = int(self.data.source.n_dropped or 0) if self.data.source is not None else 0
        parts: list[Any] = [None] * tld.world_size()
        torch.distributed.all_gather_object(
            parts, (n_train, n_val, dropped, sample.rows, sample.X, sample.y)
        )
        merged = Sample(sample.capacity, sample.seed)
        for _, _, _, rows, X, y in parts:  # in rank order: the single-process sample
            if X is not None:
                merged.add(rows, X, y)
        self.data.dropped_total = sum(p[2] for p in parts)
        return sum(p[0] for p in parts), sum(p[1] for p in parts), merged

    def fit_exact(self) -> _Outcome:
        """The exact fit: :func:`~torchlinear.exact.solve_exact` over the training rows.

        The first pass also accumulates the validation rows' statistics and the figure
        sample; a pass the driver asks for later (the QR fallback, refinement) re-reads
        the file.
        """
        from torchlinear import distributed as tld
        from torchlinear.exact import LOCAL, GramStats

        d = len(self.data.feature_names)
        dev = self.device
        val = GramStats.zeros(d, 1, device=dev) if self.val_fraction > 0 else None
        capacity = int(min(_SAMPLE_ROWS, max(200, _SAMPLE_BYTES // (8 * d))))
        sample = Sample(capacity, self.opts.seed)
        counts = [0, 0]  # training and validation rows (first pass)
        passes = [0]
        one_process = tld.world_size() == 1

        def training_rows() -> Iterator[tuple[torch.Tensor, torch.Tensor, None]]:
            passes[0] += 1
            first = passes[0] == 1
            desc = "reading (exact fit)" if first else f"reading (pass {passes[0]})"
            with self._progress(desc) as bar:
                for rows, X, y, held in self.split_chunks():
                    y = np.asarray(y, dtype=np.float64)
                    if first:
                        if held.any():
                            assert val is not None
                            Xv, yv = X[held], y[held]
                            val.update(torch.from_numpy(Xv), torch.from_numpy(yv))
                            sample.add(rows[held], Xv, yv)
                        elif val is None:
                            sample.add(rows, X, y)
                        counts[0] += int((~held).sum())
                        counts[1] += int(held.sum())
                    if held.any():
                        X, y = X[~held], y[~held]
                    bar.update(len(rows))
                    if len(X):
                        yield torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(y), None
            if first and one_process:
                self._check_rows(counts[0], counts[1])

        alpha = self.opts.alpha or 0.0
        names = self.data.feature_names
        est = LinearRegression(alpha=alpha, device=self.opts.device).fit_chunks(
            training_rows,
            n_features=d,
            feature_names=names,
            target_name=self.data.target,
            combine=LOCAL if one_process else tld.RANKS,
        )
        sol = est.solution_
        (val,) = self._combine(val)
        n_train, n_val, sample = self._gather_counts(counts[0], counts[1], sample)
        self._check_rows(n_train, n_val)
        coef, intercept = est.coef_, float(est.intercept_)
        rss, tss, W = float(sol.rss[0]), float(sol.tss[0]), float(sol.weight_sum)
        mse = rss / W
        train_metrics = {
            "n": n_train,
            "r2": 1 - rss / tss if tss > 0 else math.nan,
            "mse": mse,
            "rmse": math.sqrt(mse),
        }
        val_metrics = None
        if val is not None and n_val > 0:
            val_metrics = _gram_metrics(val, coef, intercept)
        figure_rows = sample.arrays()
        figures = None
        if figure_rows is not None:
            Xs, ys = figure_rows
            figures = (ys, _predict_chunk(est, Xs))
        return _Outcome(
            est,
            train_metrics,
            val_metrics,
            None,
            n_train,
            n_val,
            figures,
            "validation" if val_metrics is not None else "training",
            config={"solver": sol.solver, "alpha": alpha, "passes": sol.n_passes},
        )

    # ----------------------------------------------------------- in memory
    def _memory_split(self) -> tuple[np.ndarray, Any, np.ndarray | None, Any, int]:
        X, y = self.data.read_all()
        if self.given_val:
            Xv, yv = self.data.X_test, self.data.y_test
            return X, y, Xv, yv, len(X) + len(Xv)
        held = holdout_mask(0, len(X), self.val_fraction, self.opts.seed)
        if held.any():
            return X[~held], y[~held], X[held], y[held], len(X)
        return X, y, None, None, len(X)

    def _config(self, optimizer: str, epochs: int, tol: float | None):
        from torchlinear.engine import TrainConfig

        return TrainConfig(
            epochs=epochs,
            batch_size=self.opts.batch_size,
            lr=self.opts.lr,
            optimizer=optimizer,
            tol=tol,
            seed=self.opts.seed,
            device=str(self.device),
            progress=self.opts.progress,
            patience=self.opts.patience,
            checkpoint=str(self.checkpoint),
            checkpoint_every=max(1, epochs // 20),
            resume=self.opts.resume,
        )

    def _check_interrupt(self, history: Any) -> None:
        if history is not None and history.stop_reason == "interrupted":
            raise TrainingInterrupted(
                f"training interrupted after {len(history)} epoch(s); a checkpoint is saved in "
                f"{str(self.checkpoint)!r}: run the same command with --resume to continue"
            )

    def fit_in_memory(self) -> _Outcome:
        from sklearn.utils.validation import column_or_1d

        Xtr, ytr, Xv, yv, _ = self._memory_split()
        n_train, n_val = len(Xtr), 0 if Xv is None else len(Xv)
        self._check_rows(n_train, n_val)
        plan, opts = self.plan, self.opts
        names = self.data.feature_names
        classification = plan.task == "classification"
        if classification:
            ytr = column_or_1d(np.asarray(ytr))
            classes = np.unique(ytr)
            if len(classes) < 2:
                raise ValueError(
                    f"{self.data.label}: the target {self.data.target!r} has only one class "
                    f"({_plain(classes[0])!r}) in the training rows; a classifier needs at "
                    "least 2"
                )
        else:
            ytr = np.asarray(ytr, dtype=np.float64)
        val_data = None
        if Xv is not None and len(Xv):
            yv_fit = np.asarray(yv) if classification else np.asarray(yv, np.float64)
            val_data = (Xv, yv_fit)
        est = self._estimator(len(Xtr))
        options = self._options(val_data)
        if plan.route == "softmax-lbfgs":
            options = FitOptions(feature_names=names)
        est.fit(Xtr, ytr, options=options)
        history = getattr(est, "history_", None)
        self._check_interrupt(history)
        scaler = getattr(est, "standardizer_", None)
        config = (
            {"solver": "lbfgs", "max_iter": est.max_iter, "alpha": est.alpha}
            if plan.route == "softmax-lbfgs"
            else self._config_of(est)
        )
        train_metrics = self._score(est, Xtr, ytr)
        val_metrics = None if Xv is None or not len(Xv) else self._score(est, Xv, yv)
        if Xv is not None and len(Xv):
            sample_X, sample_y, split = Xv, yv, "validation"
        else:
            sample_X, sample_y, split = Xtr, ytr, "training"
        sample_X, sample_y = _subsample(sample_X, sample_y, _SAMPLE_ROWS, opts.seed)
        figures = (
            (sample_y, _log_proba_chunk(est, sample_X))
            if classification
            else (sample_y, _predict_chunk(est, sample_X))
        )
        return _Outcome(
            est,
            train_metrics,
            val_metrics,
            history,
            n_train,
            n_val,
            figures,
            split,
            config=config,
            scaler=scaler,
        )

    def _score(self, est: Any, X: np.ndarray, y: Any) -> dict[str, Any]:
        return _score_chunks(est, self.plan.task, _rows(X, np.asarray(y)))

    def _estimator(self, n_rows: int) -> Any:
        """The estimator this fit's plan calls for, with the command's settings."""
        plan, opts = self.plan, self.opts
        common = {
            "lr": opts.lr,
            "batch_size": opts.batch_size,
            "random_state": opts.seed,
            "device": str(self.device),
            "progress": opts.progress,
        }
        if plan.route == "softmax-lbfgs":
            return SoftmaxRegression(
                alpha=1e-4 if opts.alpha is None else opts.alpha,
                solver="lbfgs",
                max_iter=plan.epochs,
                device=str(self.device),
                random_state=opts.seed,
            )
        optimizer = plan.optimizer
        assert optimizer is not None
        if plan.route == "mlp":
            cls = MLPClassifier if plan.task == "classification" else MLPRegressor
            regression = plan.task == "regression"
            extra = {"loss": plan.loss, "delta": opts.delta} if regression else {}
            return cls(
                hidden=opts.hidden,
                alpha=opts.alpha or 0.0,
                l1_ratio=opts.l1_ratio,
                solver=optimizer,
                max_iter=plan.epochs or _MLP_EPOCHS,
                **common,
                **extra,
            )
        if plan.route == "linear":
            return LinearRegression(
                alpha=opts.alpha or 0.0,
                loss=plan.loss,
                l1_ratio=opts.l1_ratio,
                delta=opts.delta,
                solver=optimizer,
                max_iter=plan.epochs or _LINEAR_EPOCHS[optimizer],
                tol=1e-6,
                **common,
            )
        return SoftmaxRegression(
            alpha=1e-4 if opts.alpha is None else opts.alpha,
            solver=optimizer,
            max_iter=plan.epochs or _SOFTMAX_EPOCHS,
            tol=1e-6,
            **common,
        )

    def _options(self, val_data: Any) -> FitOptions:
        metrics = ["mse", "mae"] if self.plan.task == "regression" else None
        return FitOptions(
            feature_names=self.data.feature_names,
            target_name=self.data.target,
            val_data=val_data,
            patience=self.opts.patience,
            checkpoint=str(self.checkpoint),
            resume=self.opts.resume,
            metrics=metrics,
            callbacks=tuple(self.callbacks),
        )

    @staticmethod
    def _config_of(est: Any) -> dict[str, Any] | None:
        config = getattr(est, "train_config_", None)
        if config is not None:
            return config.to_dict()
        history = getattr(est, "history_", None)
        return None if history is None else {"solver": est.solver_, "max_iter": est.max_iter}

    # ------------------------------------------------------------ streamed
    def fit_streamed(self) -> _Outcome:
        """Gradient training that reads the file again every epoch (the estimator's
        ``fit_chunks``), then one pass for the final model's metrics."""
        plan = self.plan
        classification = plan.task == "classification"
        d = len(self.data.feature_names)
        counts = [0, 0]

        def part(validation: bool) -> Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]]:
            def chunks() -> Iterator[tuple[np.ndarray, np.ndarray]]:
                n_train = n_val = 0
                for _, X, y, held in self.split_chunks():
                    n_train += int((~held).sum())
                    n_val += int(held.sum())
                    rows = held if validation else ~held
                    if rows.any():
                        yy = np.asarray(y)[rows]
                        yield X[rows], yy if classification else yy.astype(np.float64)
                counts[:] = [n_train, n_val]

            return chunks

        # one pass to count the rows (and refuse a split that leaves too few)
        for _ in part(False)():
            pass
        n_train, n_val = counts
        self._check_rows(n_train, n_val)
        est = self._estimator(n_train)
        options = self._options(part(True) if n_val else None)
        est.fit_chunks(part(False), n_features=d, feature_names=self.data.feature_names,
                       options=options)  # fmt: skip
        history = est.history_
        self._check_interrupt(history)
        opts = self.opts
        # a last pass: metrics of the final model, and a sample for the figures
        meters: dict[bool, Any] = {}
        capacity = int(min(_SAMPLE_ROWS, max(200, _SAMPLE_BYTES // (8 * d))))
        sample = Sample(capacity, opts.seed)
        for flag in (False, True):
            meters[flag] = _ClassificationMeter(est.classes_) if classification else None
            meters[flag] = meters[flag] or _RegressionMeter()
        with self._progress("reading (metrics)") as bar:
            for rows, X, y, held in self.split_chunks():
                y = np.asarray(y) if classification else np.asarray(y, dtype=np.float64)
                out = _log_proba_chunk(est, X) if classification else _predict_chunk(est, X)
                for flag in (False, True):
                    select = held if flag else ~held
                    if select.any():
                        meters[flag].update(y[select], out[select])
                eligible = held if n_val else ~held
                sample.add(rows[eligible], X[eligible], y[eligible])
                bar.update(len(rows))
        figure_rows = sample.arrays()
        figures = None
        if figure_rows is not None:
            Xs, ys = figure_rows
            out = _log_proba_chunk(est, Xs) if classification else _predict_chunk(est, Xs)
            figures = (ys, out)
        return _Outcome(
            est,
            meters[False].result(),
            meters[True].result() if n_val else None,
            history,
            n_train,
            n_val,
            figures,
            "validation" if n_val else "training",
            config=self._config_of(est),
            scaler=getattr(est, "standardizer_", None),
        )


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _subsample(X: np.ndarray, y: Any, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y)
    if len(X) <= limit:
        return X, y
    keys = keyed_uniform(np.arange(len(X)), seed, 1)
    keep = np.sort(np.argpartition(keys, limit - 1)[:limit])
    return X[keep], y[keep]


# ---------------------------------------------------------------------------------------
# Writing the results
# ---------------------------------------------------------------------------------------


def _finite(value: Any) -> Any:
    """JSON-safe: non-finite floats become None, NumPy values plain Python."""
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.ndarray):
        return _finite(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _data_info(result: FitResult, data: _Data, ctx: _FitContext) -> dict[str, Any]:
    info: dict[str, Any] = {
        "source": data.label,
        "kind": data.kind,
        "target": data.target,
        "n_features": len(data.feature_names),
        "rows": result.n_rows,
        "train_rows": result.n_train,
        "validation_rows": result.n_val,
        "rows_dropped": result.n_dropped,
        "streamed": result.streamed,
    }
    if ctx.given_val:
        info["validation"] = f"the test split of the built-in dataset {data.label!r}"
    elif ctx.val_fraction > 0:
        info["validation"] = (
            f"rows whose keyed hash (seed {ctx.opts.seed}) falls below {ctx.val_fraction:g}"
        )
    else:
        info["validation"] = None
    return info


def _write_outputs(
    result: FitResult, outcome: _Outcome, data: _Data, opts: _Options, ctx: _FitContext
) -> list[Path]:
    from torchlinear.io import atomic_write, ensure_writable_dir
    from torchlinear.report import fit_report

    settings = {
        "task": result.task,
        "model": result.model,
        "estimator": type(result.estimator).__name__,
        "loss": ctx.plan.loss,
        "solver": result.solver,
        "alpha": opts.alpha,
        "l1_ratio": opts.l1_ratio,
        "delta": opts.delta if ctx.plan.loss == "huber" else None,
        "hidden": opts.hidden if result.model == "mlp" else None,
        "epochs": opts.epochs,
        "batch_size": opts.batch_size,
        "lr": opts.lr,
        "val_split": ctx.val_fraction if not ctx.given_val else None,
        "patience": opts.patience,
        "seed": opts.seed,
        "device": str(ctx.device),
        "drop_na": opts.drop_na,
    }
    if ctx.plan.route == "exact":
        for key in ("l1_ratio", "epochs", "batch_size", "lr", "patience"):
            settings.pop(key)
    settings = {k: v for k, v in settings.items() if v is not None}
    data_info = _data_info(result, data, ctx)
    training = None
    if outcome.history is not None:
        h = outcome.history
        training = {
            "epochs_run": len(h),
            "stop_reason": h.stop_reason,
            "best_epoch": h.best_epoch,
            "final_train_loss": h.train_loss[-1] if h.train_loss else None,
            "final_val_loss": h.val_loss[-1] if h.val_loss else None,
            "seconds": float(sum(h.epoch_time)),
        }
    from torchlinear import __version__

    metrics_doc = _finite(
        {
            "format": "torchlinear-metrics",
            "library_version": __version__,
            "task": result.task,
            "model": result.model,
            "estimator": settings["estimator"],
            "solver": result.solver,
            "data": data_info,
            "train": result.metrics["train"],
            "validation": result.metrics["validation"],
            "training": training,
            "fit_seconds": result.seconds,
            "warnings": result.warnings,
        }
    )
    report = fit_report(
        estimator=result.estimator,
        task=result.task,
        metrics=result.metrics,
        settings=settings,
        data_info=data_info,
        history=outcome.history,
        sample=outcome.sample,
        sample_split=outcome.sample_split,
        feature_names=data.feature_names,
        target=data.target,
        image_shape=data.image_shape,
        warnings=result.warnings,
        seconds=result.seconds,
    )
    rendered = report.render()  # everything computed before the first byte is written
    out = ensure_writable_dir(result.out_dir, name="out")
    files = []
    for name, blob in rendered.items():
        with atomic_write(out / name, "wb") as handle:
            handle.write(blob)
        files.append(out / name)
    with atomic_write(out / "metrics.json", "w", encoding="utf-8") as handle:
        json.dump(metrics_doc, handle, indent=2, allow_nan=False)
        handle.write("\n")
    files.append(out / "metrics.json")
    metadata = {
        "target": data.target,
        "training": _finite(outcome.config) if outcome.config is not None else None,
        "settings": _finite(settings),
        "metrics": {"train": metrics_doc["train"], "validation": metrics_doc["validation"]},
        "data": _finite(data_info),
    }
    if outcome.scaler is not None and result.model != "mlp":
        metadata["scaler"] = {
            "mean": outcome.scaler.mean_.tolist(),
            "scale": outcome.scaler.scale_.tolist(),
        }
    if data.image_shape is not None:
        metadata["image_shape"] = list(data.image_shape)
    sidecar = save_estimator(result.estimator, out, metadata=metadata)  # the commit point
    weights = json.loads(sidecar.read_text(encoding="utf-8"))["weights"]["file"]
    files += [sidecar, out / weights]
    return files


# ---------------------------------------------------------------------------------------
# predict, evaluate, summary
# ---------------------------------------------------------------------------------------


@dataclass
class PredictResult:
    """What :func:`predict` wrote.

    Attributes
    ----------
    path : pathlib.Path
        The predictions file.
    n_rows : int
        Rows predicted.
    n_dropped : int
        Rows skipped by ``drop_na``.
    columns : list of str
        The columns written.
    """

    path: Path
    n_rows: int
    n_dropped: int
    columns: list[str]


def _model_and_data(
    loaded: tuple[Any, dict[str, Any]],
    data: Any,
    *,
    need_target: bool,
    drop_na: bool,
    delimiter: str | None,
    batch_rows: int | None,
    download: bool,
) -> tuple[Any, dict[str, Any], _Data, bool]:
    """Load the model, then open ``data`` with the model's columns; returns whether the
    data is a built-in dataset's test split."""
    from torchlinear.data.tabular import TabularSource, check_columns

    est, meta = loaded
    _, task = _describe(est)
    names = meta.get("feature_names")
    target = meta.get("target")
    if isinstance(data, str | os.PathLike) and (
        isinstance(data, os.PathLike) or _is_file_like(data)
    ):
        path = Path(data)
        columns = _file_columns(path, delimiter)  # the file's own checks come first
        if need_target and (target is None or target not in columns):
            shown = ", ".join(repr(c) for c in columns[:12])
            raise ValueError(
                f"{path}: no column {target!r} for the target the model was fitted on "
                f"(evaluate needs the true values); the columns are {shown}"
            )
        if names is None:
            features = [c for c in columns if c != target]
            if len(features) != est.n_features_in_:
                raise ValueError(
                    f"{path} has {len(features)} feature column(s) but the model expects "
                    f"{est.n_features_in_} (it was saved without feature names)"
                )
        else:
            ignore = [] if target is None else [target]
            check_columns(names, columns, ignore=ignore, source=str(path))
            features = list(names)
        source = TabularSource(
            path,
            target if need_target else None,
            features,
            task=task,
            drop_na=drop_na,
            delimiter=delimiter,
            batch_rows=batch_rows,
        )
        return est, meta, _Data(str(path), features, source.target, task, source), False
    if isinstance(data, str):
        key = _dataset_key(data)
        if key is None:
            raise _unknown_data(data)
        resolved = _load_dataset(key, download)
        if names is not None:
            check_columns(names, resolved.feature_names, source=f"the dataset {key!r}")
            resolved = _select_dataset_columns(resolved, None, names)
        elif len(resolved.feature_names) != est.n_features_in_:
            raise ValueError(
                f"the dataset {key!r} has {len(resolved.feature_names)} features but the model "
                f"expects {est.n_features_in_}"
            )
        if resolved.task != task:
            raise ValueError(
                f"the model is a {task} model but {key!r} is a {resolved.task} dataset"
            )
        test = resolved.X_test is not None
        if test:
            resolved.X, resolved.y = resolved.X_test, resolved.y_test
        if batch_rows is not None:
            resolved.chunk_rows = check_positive_int("batch_rows", batch_rows)
        return est, meta, resolved, test
    raise ValueError(f"data must be a file path or a built-in dataset name, got {data!r}")


def predict(
    model_path: str | os.PathLike[str],
    data: Any,
    output: str | os.PathLike[str],
    *,
    proba: bool = False,
    drop_na: bool = False,
    delimiter: str | None = None,
    batch_rows: int | None = None,
    download: bool = False,
) -> PredictResult:
    """Predict with a saved model, streaming ``data`` and writing ``output`` atomically.

    Parameters
    ----------
    model_path : str or path-like
        The fit's output folder or its ``model.json``.
    data : str or path-like
        A CSV or Parquet file with the model's feature columns (a target column is
        allowed and ignored; any other extra column is an error), or a built-in dataset
        name (the test split of an image dataset).
    output : str or path-like
        A ``.csv``/``.tsv``/``.txt`` or ``.parquet``/``.pq`` file: one ``prediction``
        column, one row per input row, in order (and, with ``proba``, a
        ``proba_<class>`` column per class).
    proba : bool, default False
        Add the class probabilities (classifiers).
    drop_na : bool, default False
        Skip rows with missing values (the output then has fewer rows than the input).
    delimiter : str, optional
        CSV separator of ``data`` (and of a CSV ``output``).
    batch_rows : int, optional
        Rows per chunk.
    download : bool, default False
        Download missing files of a built-in image dataset.

    Returns
    -------
    PredictResult

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = fit("diabetes", out=folder)
    >>> predict(folder, "diabetes", folder / "preds.csv").n_rows
    442
    """
    from torchlinear.data.tabular import PredictionWriter

    loaded = load_estimator(model_path, with_metadata=True)
    if proba and _describe(loaded[0])[1] != "classification":
        raise ValueError("proba: class probabilities need a classification model")
    est, _, resolved, _ = _model_and_data(
        loaded,
        data,
        need_target=False,
        drop_na=drop_na,
        delimiter=delimiter,
        batch_rows=batch_rows,
        download=download,
    )
    columns: list[str] = []
    with PredictionWriter(output, delimiter=delimiter) as writer:
        for X, _ in resolved.chunks():
            chunk = {"prediction": _predict_chunk(est, X)}
            if proba:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="X does not have valid feature")
                    P = est.predict_proba(X)
                for j, c in enumerate(est.classes_):
                    chunk[f"proba_{_plain(c)}"] = P[:, j]
            writer.write(chunk)
            columns = list(chunk)
        n_rows = writer.n_rows
    return PredictResult(Path(output), n_rows, resolved.n_rows_dropped, columns)


def evaluate(
    model_path: str | os.PathLike[str],
    data: Any,
    *,
    drop_na: bool = False,
    delimiter: str | None = None,
    batch_rows: int | None = None,
    download: bool = False,
) -> dict[str, Any]:
    """Score a saved model on labelled data (streamed, so any size).

    Regression: ``n``, ``r2``, ``mse``, ``rmse``, ``mae``. Classification: ``n``,
    ``accuracy``, ``log_loss``, ``confusion_matrix`` (rows are true classes, in the order
    of ``classes``), ``classes``, and ``unseen_labels`` when some labels were never seen
    in training (those rows count as errors and are left out of the log-loss).

    Parameters
    ----------
    model_path : str or path-like
        The fit's output folder or its ``model.json``.
    data : str or path-like
        A file with the model's feature columns and its target column, or a built-in
        dataset name (the test split of an image dataset).
    drop_na, delimiter, batch_rows, download :
        As for :func:`predict`.

    Returns
    -------
    dict

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = fit("diabetes", out=folder, val_split=0)
    >>> round(evaluate(folder, "diabetes")["r2"], 4)
    0.5177
    """
    est, _, resolved, test = _model_and_data(
        load_estimator(model_path, with_metadata=True),
        data,
        need_target=True,
        drop_na=drop_na,
        delimiter=delimiter,
        batch_rows=batch_rows,
        download=download,
    )
    _, task = _describe(est)
    result = _score_chunks(est, task, resolved.chunks())
    result = {"data": resolved.label + (" (test split)" if test else ""), "task": task, **result}
    if task == "classification":
        result["classes"] = [_plain(c) for c in est.classes_.tolist()]
    result["rows_dropped"] = resolved.n_rows_dropped
    return result


def model_summary(model_path: str | os.PathLike[str], *, max_rows: int = 50) -> str:
    """A plain-text description of a saved model.

    What was fitted (estimator, task, target, features, training settings), its metrics,
    and its parameters: the statistical summary (standard errors, t, p-values, confidence
    intervals, R², F, as statsmodels' OLS reports them) for an unpenalised exact linear
    fit, else the coefficient table (at most ``max_rows`` features) or the MLP's layers.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = fit("diabetes", out=folder, val_split=0)
    >>> print(model_summary(folder).splitlines()[0])
    LinearRegression (regression, least squares) of 'progression' on 10 features
    """
    from torchlinear.report import coefficient_text

    est, meta = load_estimator(model_path, with_metadata=True)
    model, task = _describe(est)
    names = meta.get("feature_names") or [f"x{j}" for j in range(est.n_features_in_)]
    target = meta.get("target")
    exact = getattr(est, "solution_", None) is not None
    if model == "mlp":
        arch = meta["estimator"]["attributes"]["architecture"]
        what = f"two-layer MLP {est.n_features_in_} -> {arch['hidden']} -> {arch['n_outputs']}"
    elif model == "linear":
        what = "least squares" if exact else f"{est.loss} loss, solver {est.solver_}"
        if exact and est.alpha > 0:
            what = f"ridge, alpha={est.alpha:g}"
    else:
        what = f"softmax regression, solver {est.solver_}"
    lines = [
        f"{type(est).__name__} ({task}, {what}) of {target!r} on {len(names)} features",
        f"model file: {meta.get('format', '?')} format {meta.get('format_version', '?')}, "
        f"written by torchlinear {meta.get('library_version', '?')}",
    ]
    settings = meta.get("settings")
    if settings:
        shown = ", ".join(f"{k}={v}" for k, v in settings.items() if k not in ("task", "model"))
        lines.append(f"settings: {shown}")
    if task == "classification":
        classes = [_plain(c) for c in est.classes_.tolist()]
        lines.append(f"classes ({len(classes)}): {', '.join(map(str, classes[:20]))}")
    metrics = meta.get("metrics") or {}
    for split in ("train", "validation"):
        values = metrics.get(split)
        if values:
            shown = ", ".join(
                f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in values.items()
                if k != "confusion_matrix"
            )
            lines.append(f"{split}: {shown}")
    lines.append("")
    if model == "linear" and getattr(est, "solution_", None) is not None and est.alpha == 0:
        lines.append(str(est.summary()))
    else:
        lines.append(coefficient_text(est, names, max_rows=max_rows))
    return "\n".join(lines)
