"""What the penalized estimators share: parameter checks, statistics of their data, and
the reading of chunks (:mod:`torchlinear.estimators.penalized` and
:mod:`torchlinear.estimators.penalized_cv`)."""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from torchlinear._sklearn_protocol import (
    BaseEstimator,
    RegressorMixin,
    check_is_fitted,
)
from torchlinear._validation import (
    as_target,
    check_same_length,
    check_sample_weight,
    overflow_error,
)
from torchlinear.estimators._base import LinearPredictionMixin, assert_finite, object_to_float
from torchlinear.exact import GramStats
from torchlinear.exact.coordinate_descent import check_stats_memory
from torchlinear.exact.fold_stats import sparse_gram_stats

__all__ = [
    "PenalizedBase",
    "add_chunk",
    "check_alpha",
    "check_common",
    "check_l1_ratio",
    "check_n_features",
    "checked_stats",
    "chunk_parts",
]


def check_l1_ratio(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"l1_ratio must be a number in [0, 1], got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"l1_ratio must be in [0, 1], got {value!r}")
    return float(value)


def check_alpha(value: Any, name: str = "alpha") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if not np.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if float(value) < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def checked_stats(stats: GramStats, X: Any) -> GramStats:
    """Return ``stats`` if finite; else say where X holds NaN/inf, or that sums overflow."""
    parts = (stats.xtx, stats.xty, stats.yty, stats.sum_x, stats.sum_y)
    if all(bool(torch.isfinite(t).all()) for t in parts):
        return stats
    if isinstance(X, torch.Tensor):
        assert_finite("X", X)
    raise overflow_error()


def chunk_parts(item: tuple[Any, ...]) -> tuple[Any, torch.Tensor, torch.Tensor | None, Any]:
    """``(X, y, sample_weight, rows)`` of a chunk given as ``(X, y)``, ``(X, y, w)`` or
    ``(X, y, w, rows)`` (``rows``: the global number of each row, for the folds)."""
    X = item[0]
    if not sp.issparse(X):
        X = torch.as_tensor(X)
    y = torch.as_tensor(item[1], dtype=torch.float64).reshape(-1)
    w = None if len(item) < 3 or item[2] is None else torch.as_tensor(item[2], dtype=torch.float64)
    rows = None if len(item) < 4 or item[3] is None else np.asarray(item[3], dtype=np.int64)
    return X, y, w, rows


def add_chunk(stats: GramStats, X: Any, y: torch.Tensor, w: torch.Tensor | None) -> GramStats:
    if X.shape[0] == 0:
        return stats
    if sp.issparse(X):
        return stats.merge(
            sparse_gram_stats(X, y.numpy(), None if w is None else w.numpy(), shift_y=0.0)
        )
    return stats.update(X, y, w)


def check_n_features(n_features: Any) -> int:
    if isinstance(n_features, bool) or not isinstance(n_features, numbers.Integral):
        raise ValueError(f"n_features must be an integer >= 1, got {n_features!r}")
    if n_features < 1:
        raise ValueError(f"n_features must be >= 1, got {n_features!r}")
    return int(n_features)


def check_common(est: Any) -> None:
    if isinstance(est.max_iter, bool) or not isinstance(est.max_iter, numbers.Integral):
        raise ValueError(f"max_iter must be an integer >= 1, got {est.max_iter!r}")
    if est.max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {est.max_iter!r}")
    if isinstance(est.tol, bool) or not isinstance(est.tol, numbers.Real):
        raise ValueError(f"tol must be a number >= 0, got {est.tol!r}")
    if not float(est.tol) >= 0:
        raise ValueError(f"tol must be a number >= 0, got {est.tol!r}")
    if est.selection not in ("cyclic", "random"):
        raise ValueError(f"selection must be 'cyclic' or 'random', got {est.selection!r}")
    if not isinstance(est.fit_intercept, bool | np.bool_):
        raise ValueError(f"fit_intercept must be True or False, got {est.fit_intercept!r}")
    if not isinstance(est.positive, bool | np.bool_):
        raise ValueError(f"positive must be True or False, got {est.positive!r}")


class PenalizedBase(LinearPredictionMixin, RegressorMixin, BaseEstimator):
    """Boundary checks, statistics and prediction shared by the four estimators."""

    _sparse_input = True

    def _validate_xy(
        self, X: Any, y: Any, sample_weight: Any, *, reset: bool
    ) -> tuple[Any, torch.Tensor, torch.Tensor | None]:
        if sp.issparse(X):
            from sklearn.utils.validation import check_array  # X is sparse: SciPy's world

            Xs = check_array(X, accept_sparse=["csr", "csc", "coo"], dtype=np.float64)
            Xv: Any = sp.csr_array(Xs) if isinstance(Xs, sp.sparray) else sp.csr_matrix(Xs)
            self._check_feature_names(None, reset=reset)
            if reset:
                self.n_features_in_ = Xv.shape[1]
            elif Xv.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {Xv.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input"
                )
        else:
            # NaN/inf are detected from the statistics (free), then located in X
            Xv = self._validate_X(X, reset=reset, finite=False)
        y_t = self._validate_y(y)
        check_same_length(Xv if not sp.issparse(Xv) else np.empty(Xv.shape[0]), y_t)
        w = None
        if sample_weight is not None and not isinstance(sample_weight, numbers.Number):
            w = check_sample_weight(sample_weight, Xv.shape[0])
        return Xv, y_t, w

    def _validate_y(self, y: Any) -> torch.Tensor:
        name = type(self).__name__
        if y is None:
            raise ValueError(f"{name} requires y to be passed, but the target y is None")
        if not isinstance(y, torch.Tensor):
            y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
            if y.dtype == object:
                y = object_to_float(y, "y")
        if y.ndim == 2 and y.shape[1] > 1:
            raise ValueError(
                f"y has {y.shape[1]} target columns but {name} fits one target; fit one model "
                "per column"
            )
        if y.ndim == 2:
            from sklearn.exceptions import DataConversionWarning  # the class users filter on

            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change "
                "the shape of y to (n_samples,), for example using ravel().",
                DataConversionWarning,
                stacklevel=4,
            )
        return as_target(y, dtype=torch.float64)

    def _gram(self, X: Any, y: torch.Tensor, w: torch.Tensor | None) -> GramStats:
        check_stats_memory(X.shape[1], 1)
        if sp.issparse(X):
            wn = None if w is None else w.numpy()
            yn = y.numpy()
            return sparse_gram_stats(X, yn, wn, shift_y=float(np.average(yn, weights=wn)))
        dev = X.device
        return GramStats.zeros(X.shape[1], device=dev).update(
            X, y.to(dev), None if w is None else w.to(dev)
        )

    def statistics(self) -> GramStats:
        """The sufficient statistics of the rows fitted (all rows for the CV classes):
        the fit's R² and error follow from them without another pass.

        Examples
        --------
        >>> import numpy as np
        >>> from torchlinear import ElasticNet
        >>> X = np.arange(8.0).reshape(4, 2)
        >>> ElasticNet(alpha=0.1).fit(X, X[:, 0]).statistics().n_samples
        4
        """
        check_is_fitted(self, "coef_")
        stats = getattr(self, "_stats", None)
        if stats is None:
            raise ValueError(
                "this model was loaded from a file, which keeps the model but not the "
                "statistics of its data; refit to get them"
            )
        return stats

    @property
    def sparse_coef_(self) -> sp.csr_matrix:
        """``coef_`` as a 1 x n_features sparse matrix."""
        return sp.csr_matrix(np.atleast_2d(self.coef_))
