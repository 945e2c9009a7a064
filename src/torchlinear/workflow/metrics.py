"""Metrics accumulated over chunks, and predictions chunk by chunk."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from torchlinear.exact import GramStats
from torchlinear.exact.driver import check_exact_memory
from torchlinear.workflow.settings import CONFUSION_MAX_CLASSES, EVAL_ROWS

if TYPE_CHECKING:
    from torchlinear.data.tabular import Task


class RegressionMeter:
    """Mean squared/absolute error and R² over chunks (float64, mergeable moments),
    weighted by sample weights when a chunk has them (``n`` counts the rows).

    The sums are kept in units of the largest ``|y|`` or ``|residual|`` seen so far, so
    values near the float64 limit (1e300) give finite, correct R² and RMSE instead of
    ``inf / inf``.

    Examples
    --------
    >>> meter = RegressionMeter()
    >>> meter.update(np.array([1e300, -1e300]), np.array([0.9e300, -1.1e300]))
    >>> {k: float(f"{v:.6g}") for k, v in meter.result().items() if k != "n"}
    {'r2': 0.99, 'mse': inf, 'rmse': 1e+299, 'mae': 1e+299}
    """

    def __init__(self) -> None:
        self.n = 0
        self.weight = 0.0
        self.scale = 0.0  # every sum below is divided by scale (squares by scale**2)
        self.sse = self.sae = 0.0
        self.mean = self.m2 = 0.0

    def update(self, y: np.ndarray, pred: np.ndarray, w: np.ndarray | None = None) -> None:
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        r = y - np.asarray(pred, dtype=np.float64).reshape(-1)
        m = len(y)
        if m == 0:
            return
        w = np.ones(m) if w is None else np.asarray(w, dtype=np.float64).reshape(-1)
        self.n += m
        w_b = float(w.sum())
        if w_b <= 0:
            return
        self._rescale(max(float(np.abs(y).max()), float(np.abs(r).max())))
        k = self.scale or 1.0
        y, r = y / k, r / k
        self.sse += float(w @ (r * r))
        self.sae += float(w @ np.abs(r))
        mean_b = float(w @ y) / w_b
        m2_b = float(w @ (y - mean_b) ** 2)
        total = self.weight + w_b
        delta = mean_b - self.mean
        self.mean += delta * w_b / total
        self.m2 += m2_b + delta * delta * self.weight * w_b / total
        self.weight = total

    def _rescale(self, largest: float) -> None:
        """Express the sums in units of ``largest`` when it exceeds the current scale."""
        if not math.isfinite(largest) or largest <= self.scale:  # inf/NaN reach the sums
            return
        if self.scale > 0:
            ratio = self.scale / largest
            self.sse *= ratio * ratio
            self.m2 *= ratio * ratio
            self.sae *= ratio
            self.mean *= ratio
        self.scale = largest

    def moments(self) -> tuple[float, float, float]:
        """``(weight, mean, centred sum of squares)`` of the targets seen, in their units."""
        k = self.scale or 1.0
        with np.errstate(over="ignore"):
            return self.weight, self.mean * k, float(np.float64(self.m2) * k * k)

    def result(self) -> dict[str, Any]:
        if self.n == 0:
            return {"n": 0}
        if self.weight <= 0:
            return {"n": self.n, "r2": math.nan, "mse": math.nan, "rmse": math.nan, "mae": math.nan}
        k = self.scale or 1.0
        rms = math.sqrt(self.sse / self.weight)  # in units of k
        r2 = 1 - self.sse / self.m2 if self.m2 > 0 else math.nan
        with np.errstate(over="ignore"):
            mse = float(np.float64(rms * rms) * np.float64(k) * np.float64(k))
        return {
            "n": self.n,
            "r2": r2,
            "mse": mse,
            "rmse": rms * k,
            "mae": self.sae / self.weight * k,
        }


def merged_moments(parts: Sequence[tuple[float, float, float]]) -> tuple[float, float, float]:
    """:meth:`RegressionMeter.moments` of several parts (ranks) together (Chan's merge).

    Examples
    --------
    >>> merged_moments([(2.0, 1.0, 2.0), (2.0, 3.0, 2.0)])  # y = 0, 2 and 2, 4
    (4.0, 2.0, 8.0)
    """
    weight = mean = m2 = 0.0
    for w, mu, sq in parts:
        if w <= 0:
            continue
        total = weight + w
        delta = mu - mean
        mean += delta * w / total
        m2 += sq + delta * delta * weight * w / total
        weight = total
    return weight, mean, m2


class ClassificationMeter:
    """Accuracy, mean log-loss (both weighted by sample weights when a chunk has them)
    and the confusion matrix (counts of rows) over chunks.

    The confusion matrix is part of the result up to :data:`CONFUSION_MAX_CLASSES`
    classes (a k x k table grows fast); beyond, ``confusion_matrix_omitted`` says why.
    """

    def __init__(self, classes: np.ndarray) -> None:
        self.classes = classes
        k = len(classes)
        self.k = k
        self.n = self.unseen = 0
        self.correct = self.weight = self.known_weight = 0.0
        self.log_loss = 0.0
        self.confusion = np.zeros((k, k), dtype=np.int64)
        self.unseen_labels: set = set()

    def update(self, y: np.ndarray, log_proba: np.ndarray, w: np.ndarray | None = None) -> None:
        y = np.asarray(y)
        if len(y) == 0:
            return
        w = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64).reshape(-1)
        index = label_index(self.classes, y)
        pred = log_proba.argmax(axis=1)
        known = index >= 0
        self.n += len(y)
        self.weight += float(w.sum())
        self.known_weight += float(w[known].sum())
        self.correct += float(w[known] @ (pred[known] == index[known]))
        if not known.all():
            self.unseen += int((~known).sum())
            for label in y[~known][:20]:
                self.unseen_labels.add(plain(label))
        rows = np.flatnonzero(known)
        self.log_loss -= float(w[rows] @ log_proba[rows, index[rows]])
        self.confusion += np.bincount(
            index[known] * self.k + pred[known], minlength=self.k * self.k
        ).reshape(self.k, self.k)

    def result(self) -> dict[str, Any]:
        if self.n == 0:
            return {"n": 0}
        known = self.known_weight
        out: dict[str, Any] = {
            "n": self.n,
            "accuracy": self.correct / self.weight if self.weight > 0 else math.nan,
            "log_loss": self.log_loss / known if known > 0 else math.nan,
        }
        if self.k <= CONFUSION_MAX_CLASSES:
            out["confusion_matrix"] = self.confusion.tolist()
        else:
            out["confusion_matrix_omitted"] = (
                f"{self.k} classes; confusion matrices are written up to {CONFUSION_MAX_CLASSES}"
            )
        if self.unseen:
            out["unseen_labels"] = self.unseen
        return out


def plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def label_index(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
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


def gram_metrics(stats: Any, coef: np.ndarray, intercept: float) -> dict[str, Any]:
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


class HeldOutRows:
    """The validation rows of an exact fit, summarised for :func:`gram_metrics` without a
    ``d x d`` matrix while they are few: their float64 rows are kept while they number no
    more than the columns; past that (or with ``keep_rows=False``, when the statistics
    are all-reduced across ranks) their ``GramStats``, after the memory-budget check.

    Examples
    --------
    >>> held = HeldOutRows(2)
    >>> held.update(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([3.0, 1.0]))
    >>> held.metrics(np.array([1.0, 1.0]), 1.0)["mse"]  # residuals 1 and -1
    1.0
    """

    def __init__(self, n_features: int, device: Any = None, *, keep_rows: bool = True) -> None:
        self.d = int(n_features)
        self.device = device
        self.rows: list[tuple[np.ndarray, np.ndarray, Any]] | None = [] if keep_rows else None
        self.n_rows = 0
        self.stats: Any = None if keep_rows else self._new_stats()

    def _new_stats(self) -> Any:
        check_exact_memory(self.d, 1)
        return GramStats.zeros(self.d, 1, device=self.device)

    def update(self, X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> None:
        self.n_rows += len(X)
        if w is not None:
            w = np.array(w, dtype=np.float64)
        if self.rows is not None and self.n_rows <= self.d:
            self.rows.append((np.array(X, dtype=np.float64), np.array(y, dtype=np.float64), w))
            return
        if self.stats is None:
            self.stats = self._new_stats()
            for Xr, yr, wr in self.rows or []:
                self.stats.update(torch.from_numpy(Xr), torch.from_numpy(yr), _tensor(wr))
            self.rows = None
        self.stats.update(torch.from_numpy(X), torch.from_numpy(y), _tensor(w))

    def metrics(self, coef: np.ndarray, intercept: float) -> dict[str, Any]:
        """R², MSE and RMSE of ``X @ coef + intercept`` on the rows."""
        if self.stats is not None:
            return gram_metrics(self.stats, coef, intercept)
        meter = RegressionMeter()
        w = np.asarray(coef, dtype=np.float64).reshape(-1)
        for X, y, weights in self.rows or []:
            meter.update(y, X @ w + intercept, weights)
        found = meter.result()
        return {key: found[key] for key in ("n", "r2", "mse", "rmse") if key in found}


def _tensor(w: np.ndarray | None) -> torch.Tensor | None:
    return None if w is None else torch.from_numpy(w)


def predict_chunk(est: Any, X: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return np.asarray(est.predict(X))


def log_proba_chunk(est: Any, X: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return np.asarray(est.predict_log_proba(X))


def score_chunks(est: Any, task: Task, chunks: Any) -> dict[str, Any]:
    """The metrics of ``est`` on ``(X, y, w)`` chunks (``w`` sample weights or None);
    weights that are all zero leave every weighted metric undefined, and are refused."""
    weighted, total = False, 0.0
    if task == "regression":
        meter: Any = RegressionMeter()
        score = predict_chunk
    else:
        meter = ClassificationMeter(est.classes_)
        score = log_proba_chunk
    for X, y, w in chunks:
        if w is not None:
            weighted, total = True, total + float(np.sum(w))
        meter.update(y, score(est, X), w)
    if weighted and not total > 0:
        raise ValueError(
            "all sample weights are zero, so every weighted metric is undefined; give at "
            "least one row a positive weight"
        )
    return meter.result()


def row_chunks(
    X: np.ndarray, y: Any, w: np.ndarray | None = None, step: int = EVAL_ROWS
) -> Iterator[tuple[np.ndarray, Any, np.ndarray | None]]:
    """``(X, y, w)`` in chunks of ``step`` rows."""
    for start in range(0, len(X), step):
        part = slice(start, start + step)
        yield X[part], y[part], None if w is None else w[part]
