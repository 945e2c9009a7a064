r"""Lasso and elastic net, exact, from one pass over the data: scikit-learn's API and answers.

:class:`Lasso`, :class:`ElasticNet`, :class:`LassoCV` and :class:`ElasticNetCV` take
scikit-learn's parameters with their defaults and minimise scikit-learn's objective

.. math::

    \frac{1}{2W} \sum_i s_i (y_i - x_i^\top w - b)^2
    + \alpha\rho\lVert w\rVert_1 + \frac{\alpha(1-\rho)}{2}\lVert w\rVert_2^2,

with sample weights :math:`s_i` (all one by default), :math:`W = \sum_i s_i`,
:math:`\rho` = ``l1_ratio`` (1 for the lasso) and an unpenalised intercept :math:`b`;
``positive=True`` adds :math:`w \ge 0`. ``alpha`` means exactly what it means in
scikit-learn's ``ElasticNet`` (penalty on the *mean* squared loss over two), unlike
:class:`~torchlinear.LinearRegression`'s ``alpha`` (ridge on the *sum* of squares).

The data are read once, into float64 sufficient statistics (:mod:`torchlinear.exact`),
dense or sparse (scipy.sparse ``X`` is never densified); every fit is then solved by
:mod:`torchlinear.exact.coordinate_descent` in :math:`d \times d` space: coordinate descent
with covariance updates, active sets, strong and gap-safe screening, an exact active-set
step, stopped on the duality gap — so the coefficients match scikit-learn's fully
converged ones. The cross-validated models keep one set of statistics per fold
(:mod:`torchlinear.exact.fold_stats`) and solve every path from them.

``partial_fit`` accumulates the statistics chunk by chunk and solves on all rows so far;
``fit_chunks`` reads a re-iterable stream of chunks once (a file larger than memory, or one
rank's shard under ``torchrun`` with the exact driver's ``combine`` hook, which all-reduces
the statistics), so every entry point solves the same problem from the same statistics.

Parameters without an effect here, kept for compatibility: ``precompute`` (the Gram
matrix is always used), ``copy_X`` (``X`` is never modified), ``n_jobs`` and ``verbose``.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.model_selection import KFold, check_cv
from sklearn.utils.validation import check_array, check_is_fitted

from torchlinear._validation import as_target, check_same_length, check_sample_weight
from torchlinear.estimators._base import EstimatorInputMixin, assert_finite, object_to_float
from torchlinear.exact import GramStats
from torchlinear.exact.coordinate_descent import (
    CVPathResult,
    check_stats_memory,
    enet_path,
    fit_cv_from_fold_stats,
)
from torchlinear.exact.driver import LOCAL, Combine
from torchlinear.exact.fold_stats import (
    FoldGramStats,
    HashedKFold,
    sparse_gram_stats,
    subtract_stats,
)

__all__ = ["ElasticNet", "ElasticNetCV", "Lasso", "LassoCV"]


def _check_l1_ratio(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"l1_ratio must be a number in [0, 1], got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"l1_ratio must be in [0, 1], got {value!r}")
    return float(value)


def _check_alpha(value: Any, name: str = "alpha") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def _checked(stats: GramStats, X: Any) -> GramStats:
    """Return ``stats`` if finite; else say where X holds NaN/inf, or that sums overflow."""
    parts = (stats.xtx, stats.xty, stats.yty, stats.sum_x, stats.sum_y)
    if all(bool(torch.isfinite(t).all()) for t in parts):
        return stats
    if isinstance(X, torch.Tensor):
        assert_finite("X", X)
    raise ValueError(
        "the sums of squares overflow float64 (values of X or y near 1e154 or beyond); "
        "rescale X and y before fitting"
    )


def _chunk_parts(item: tuple[Any, ...]) -> tuple[Any, torch.Tensor, torch.Tensor | None, Any]:
    """``(X, y, sample_weight, rows)`` of a chunk given as ``(X, y)``, ``(X, y, w)`` or
    ``(X, y, w, rows)`` (``rows``: the global number of each row, for the folds)."""
    X = item[0]
    if not sp.issparse(X):
        X = torch.as_tensor(X)
    y = torch.as_tensor(item[1], dtype=torch.float64).reshape(-1)
    w = None if len(item) < 3 or item[2] is None else torch.as_tensor(item[2], dtype=torch.float64)
    rows = None if len(item) < 4 or item[3] is None else np.asarray(item[3], dtype=np.int64)
    return X, y, w, rows


def _add_chunk(stats: GramStats, X: Any, y: torch.Tensor, w: torch.Tensor | None) -> GramStats:
    if X.shape[0] == 0:
        return stats
    if sp.issparse(X):
        return stats.merge(
            sparse_gram_stats(X, y.numpy(), None if w is None else w.numpy(), shift_y=0.0)
        )
    return stats.update(X, y, w)


def _check_n_features(n_features: Any) -> int:
    if isinstance(n_features, bool) or not isinstance(n_features, numbers.Integral):
        raise ValueError(f"n_features must be an integer >= 1, got {n_features!r}")
    if n_features < 1:
        raise ValueError(f"n_features must be >= 1, got {n_features!r}")
    return int(n_features)


def _check_common(est: Any) -> None:
    if isinstance(est.max_iter, bool) or not isinstance(est.max_iter, numbers.Integral):
        raise ValueError(f"max_iter must be an integer >= 1, got {est.max_iter!r}")
    if est.max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {est.max_iter!r}")
    if isinstance(est.tol, bool) or not isinstance(est.tol, numbers.Real) or not est.tol >= 0:
        raise ValueError(f"tol must be a number >= 0, got {est.tol!r}")
    if est.selection not in ("cyclic", "random"):
        raise ValueError(f"selection must be 'cyclic' or 'random', got {est.selection!r}")
    if not isinstance(est.fit_intercept, bool | np.bool_):
        raise ValueError(f"fit_intercept must be True or False, got {est.fit_intercept!r}")
    if not isinstance(est.positive, bool | np.bool_):
        raise ValueError(f"positive must be True or False, got {est.positive!r}")


class _PenalizedBase(EstimatorInputMixin, RegressorMixin, BaseEstimator):
    """Boundary checks, statistics and prediction shared by the four estimators."""

    def _validate_xy(
        self, X: Any, y: Any, sample_weight: Any, *, reset: bool
    ) -> tuple[Any, torch.Tensor, torch.Tensor | None]:
        if sp.issparse(X):
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

    def predict(self, X: Any) -> Any:
        """Predict ``X @ coef_ + intercept_`` (a tensor for tensor ``X``, else NumPy)."""
        check_is_fitted(self, "coef_")
        if sp.issparse(X):
            Xs = check_array(X, accept_sparse=["csr", "csc", "coo"], dtype=np.float64)
            self._check_feature_names(None, reset=False)
            if Xs.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {Xs.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input"
                )
            return np.asarray(Xs @ self.coef_).reshape(-1) + self.intercept_
        is_tensor = isinstance(X, torch.Tensor)
        X_t = self._validate_X(X, reset=False)
        coef = torch.as_tensor(self.coef_, device=X_t.device)
        out = X_t.to(torch.float64) @ coef + self.intercept_
        if is_tensor:
            return out.to(X_t.dtype)
        return out.cpu().numpy()

    def statistics(self) -> GramStats:
        """The sufficient statistics of the rows fitted (all rows for the CV classes):
        the fit's R² and error follow from them without another pass.

        Examples
        --------
        >>> import numpy as np
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

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class ElasticNet(_PenalizedBase):
    r"""Linear regression with a combined L1 and L2 penalty, solved exactly.

    Minimises :math:`\frac{1}{2W}\sum_i s_i (y_i - x_i^\top w - b)^2 + \alpha\rho\lVert
    w\rVert_1 + \frac{\alpha(1-\rho)}{2}\lVert w\rVert_2^2` (see the module notes), like
    scikit-learn's ``ElasticNet`` with the same parameters.

    Parameters
    ----------
    alpha : float, default 1.0
        Penalty strength (>= 0).
    l1_ratio : float, default 0.5
        :math:`\rho` in [0, 1]: 1 is the lasso, 0 ridge.
    fit_intercept : bool, default True
        Fit an unpenalised intercept.
    precompute : bool or array, default False
        Accepted for compatibility (the Gram matrix is always used).
    max_iter : int, default 1000
        Sweeps of coordinate descent.
    copy_X : bool, default True
        Accepted for compatibility (``X`` is never modified).
    tol : float, default 1e-4
        Stop when the duality gap is at most ``tol`` times the weighted variance of ``y``
        (scikit-learn's criterion); the solution is polished beyond it to the exact
        minimiser when ``max_iter`` allows.
    warm_start : bool, default False
        Start from the previous ``coef_``.
    positive : bool, default False
        Constrain the coefficients to be >= 0.
    random_state : int, optional
        Seed of the coordinate order when ``selection="random"``.
    selection : {"cyclic", "random"}, default "cyclic"
        Coordinate order.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int
        Sweeps of coordinate descent run.
    dual_gap_ : float
        Final duality gap (objective units).
    converged_ : bool
        Whether the gap criterion was met.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only for DataFrame input with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = X @ np.array([2.0, 0.0, -1.0, 0.0]) + 0.1 * rng.normal(size=200)
    >>> model = ElasticNet(alpha=0.1, l1_ratio=0.7).fit(X, y)
    >>> np.round(model.coef_, 3), model.converged_
    (array([ 1.854,  0.   , -0.896,  0.   ]), True)
    """

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        l1_ratio: float = 0.5,
        fit_intercept: bool = True,
        precompute: Any = False,
        max_iter: int = 1000,
        copy_X: bool = True,
        tol: float = 1e-4,
        warm_start: bool = False,
        positive: bool = False,
        random_state: Any = None,
        selection: str = "cyclic",
    ) -> None:
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.copy_X = copy_X
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection

    def _check_params(self) -> tuple[float, float]:
        alpha = _check_alpha(self.alpha)
        l1_ratio = _check_l1_ratio(self.l1_ratio)
        _check_common(self)
        return alpha, l1_ratio

    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, check_input: bool = True
    ) -> ElasticNet:
        """Fit on all rows (one pass into the statistics, then the exact solve).

        Parameters
        ----------
        X : array-like, DataFrame, Tensor or scipy.sparse of shape (n, d)
        y : array-like of shape (n,) or (n, 1)
        sample_weight : array-like of shape (n,), optional
            Non-negative weights (scikit-learn's convention: the loss is their weighted
            mean).
        check_input : bool, default True
            Accepted for compatibility; inputs are always checked.
        """
        self._check_params()
        Xv, y_t, w = self._validate_xy(X, y, sample_weight, reset=True)
        self._stats = _checked(self._gram(Xv, y_t, w), Xv)
        return self._solve()

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> ElasticNet:
        """Add a chunk of rows to the statistics and solve on all rows so far."""
        self._check_params()
        first = getattr(self, "_stats", None) is None
        Xv, y_t, w = self._validate_xy(X, y, sample_weight, reset=first)
        part = _checked(self._gram(Xv, y_t, w), Xv)
        self._stats = part if first else self._stats.merge(part)
        return self._solve()

    def fit_chunks(
        self,
        chunks: Callable[[], Iterable[tuple[Any, ...]]],
        *,
        n_features: int,
        feature_names: Sequence[str] | None = None,
        combine: Combine = LOCAL,
    ) -> ElasticNet:
        """Fit on data read in chunks, in one pass (a file larger than memory, a shard).

        Parameters
        ----------
        chunks : callable
            Returns an iterable of ``(X, y)`` or ``(X, y, sample_weight)`` chunks (arrays,
            tensors or scipy.sparse ``X``), already validated (finite, numeric). Called
            once.
        n_features : int
            Columns of ``X``.
        feature_names : sequence of str, optional
            Names for ``feature_names_in_``.
        combine : Combine, default LOCAL
            :data:`torchlinear.distributed.RANKS` inside a process group: each rank passes
            its own rows, the statistics are all-reduced, and every rank gets the fit of
            all the rows.

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 3))
        >>> y = X @ np.array([1.0, 0.0, -2.0]) + 0.1 * rng.normal(size=100)
        >>> halves = lambda: [(X[:50], y[:50]), (X[50:], y[50:])]
        >>> streamed = ElasticNet(alpha=0.1).fit_chunks(halves, n_features=3)
        >>> bool(np.allclose(streamed.coef_, ElasticNet(alpha=0.1).fit(X, y).coef_))
        True
        """
        self._check_params()
        d = _check_n_features(n_features)
        check_stats_memory(d, 1)
        stats = GramStats.zeros(d)
        error: BaseException | None = None
        try:
            for item in chunks():
                X, y, w, _ = _chunk_parts(item)
                stats = _add_chunk(stats, X, y, w)
        except Exception as exc:  # shared with the other ranks before anyone waits
            error = exc
        combine.agree(error, (d, 1))
        self._stats = _checked(combine.gram(stats), None)
        self._set_n_features(d, None if feature_names is None else list(feature_names))
        return self._solve()

    def _solve(self) -> ElasticNet:
        alpha, l1_ratio = self._check_params()
        if alpha == 0:
            warnings.warn(
                "With alpha=0 the penalty vanishes: this is ordinary least squares, which "
                "torchlinear.LinearRegression solves directly",
                UserWarning,
                stacklevel=3,
            )
        init = getattr(self, "coef_", None) if self.warm_start else None
        path = enet_path(
            self._stats,
            [alpha],
            l1_ratio,
            fit_intercept=bool(self.fit_intercept),
            positive=bool(self.positive),
            tol=float(self.tol),
            max_iter=int(self.max_iter),
            coef_init=init,
            selection=self.selection,
            random_state=self.random_state,
            warn=False,
        )
        self.coef_ = path.coefs[0]
        self.intercept_ = float(path.intercepts[0])
        self.n_iter_ = int(path.n_iters[0])
        self.dual_gap_ = float(path.dual_gaps[0])
        self.converged_ = bool(path.converged[0])
        if not self.converged_:
            warnings.warn(
                f"{type(self).__name__} did not converge within max_iter={self.max_iter} "
                f"sweeps: duality gap {self.dual_gap_:.3g} > tolerance "
                f"{self.tol * _y_variance(self._stats, self.fit_intercept):.3g} "
                f"(tol={self.tol} x var(y)); raise max_iter",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self


def _y_variance(stats: GramStats, fit_intercept: bool) -> float:
    C = stats.system(fit_intercept)[2]
    return max(float(C[0, 0]) / float(stats.weight_sum), 0.0)


class Lasso(ElasticNet):
    r"""Linear regression with an L1 penalty, solved exactly (scikit-learn's ``Lasso``).

    Minimises :math:`\frac{1}{2W}\sum_i s_i (y_i - x_i^\top w - b)^2 + \alpha\lVert
    w\rVert_1`. Parameters and attributes as :class:`ElasticNet` with ``l1_ratio=1``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ np.array([1.0, 0.0, -2.0]) + 0.1 * rng.normal(size=200)
    >>> np.round(Lasso(alpha=0.1).fit(X, y).coef_, 3)
    array([ 0.903,  0.   , -1.898])
    """

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        fit_intercept: bool = True,
        precompute: Any = False,
        copy_X: bool = True,
        max_iter: int = 1000,
        tol: float = 1e-4,
        warm_start: bool = False,
        positive: bool = False,
        random_state: Any = None,
        selection: str = "cyclic",
    ) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection

    def _check_params(self) -> tuple[float, float]:
        _check_common(self)
        return _check_alpha(self.alpha), 1.0


# ----------------------------------------------------------------------------- CV


def _resolve_cv(cv: Any, n: int) -> tuple[str, Any]:
    """("contiguous", K), ("hashed", HashedKFold) or ("splits", splitter)."""
    if cv is None:
        cv = 5
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        K = int(cv)
        if K < 2:
            raise ValueError(f"cv must be at least 2 folds, got cv={cv}")
        if K > n:
            raise ValueError(f"cv={cv} folds need at least {cv} rows, but X has n_samples={n}")
        return "contiguous", K
    if isinstance(cv, HashedKFold):
        return "hashed", cv
    if isinstance(cv, KFold) and not cv.shuffle:
        return _resolve_cv(cv.n_splits, n)
    if isinstance(cv, bool | float | str):
        raise ValueError(f"cv must be an int >= 2, a splitter or an iterable of splits, got {cv!r}")
    return "splits", check_cv(cv)


class _CVBase(_PenalizedBase):
    #: The cross-validation record is a diagnostic of the fit; model files keep the model.
    _special_state = ("cv_results_",)

    def _ratios(self) -> list[float]:
        raise NotImplementedError

    def _check_cv_params(self) -> None:
        _check_common(self)
        ratios = self._ratios()
        if len(ratios) == 0:
            raise ValueError("l1_ratio is an empty list; give at least one value in [0, 1]")
        for r in ratios:
            _check_l1_ratio(r)
        if isinstance(self.eps, bool) or not isinstance(self.eps, numbers.Real) or self.eps <= 0:
            raise ValueError(f"eps must be a number > 0, got {self.eps!r}")
        a = self.alphas
        if isinstance(a, numbers.Integral) and not isinstance(a, bool):
            if a < 1:
                raise ValueError(f"alphas must be at least 1 (number of alphas), got {a}")
        else:
            arr = np.asarray(a, dtype=object).reshape(-1) if a is not None else np.asarray([])
            if arr.size == 0:
                raise ValueError(
                    f"alphas must be a number of alphas or a non-empty list, got {a!r}"
                )
            for i, v in enumerate(arr):
                _check_alpha(v, f"alphas[{i}]")

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _CVBase:
        """Cross-validate the paths (one pass of statistics per fold) and fit all rows.

        ``cv``: ``None`` (5) or an int K means scikit-learn's contiguous ``KFold(K)``;
        :class:`~torchlinear.exact.fold_stats.HashedKFold` a seeded shuffled split; any
        other splitter or iterable of (train, test) index arrays is used as given.
        """
        self._check_cv_params()
        Xv, y_t, w = self._validate_xy(X, y, sample_weight, reset=True)
        n, d = Xv.shape
        kind, spec = _resolve_cv(self.cv, n)
        if kind == "splits":
            splits = list(spec.split(np.zeros((n, 1)), y_t.numpy()))
            train, test, total = self._split_stats(Xv, y_t, w, splits)
            _checked(total, Xv)
        else:
            K = spec if kind == "contiguous" else spec.n_splits
            folds = FoldGramStats(
                d,
                K,
                n_samples=n if kind == "contiguous" else None,
                shuffle=kind == "hashed",
                seed=0 if kind == "contiguous" else spec.seed,
            )
            folds.update(Xv, y_t, w)
            total = _checked(folds.total(), Xv)
            train, test = [folds.training(k, total) for k in range(K)], folds.folds
        return self._finish(train, test, total)

    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, *, n_samples: int | None = None
    ) -> _CVBase:
        """Add a chunk of rows to the fold statistics and cross-validate on all rows so far.

        Rows are numbered in the order they arrive. Contiguous folds (``cv`` an int or
        None) need the total row count: pass ``n_samples`` with the first chunk. Without
        it, the folds are hashed from the row numbers (``HashedKFold(K, seed=0)``, a
        seeded shuffled split) with a warning. The model is fitted once at least two folds
        hold rows.
        """
        self._check_cv_params()
        folds: FoldGramStats | None = getattr(self, "_folds", None)
        Xv, y_t, w = self._validate_xy(X, y, sample_weight, reset=folds is None)
        if folds is None:
            cv = 5 if self.cv is None else self.cv
            if isinstance(cv, KFold) and not cv.shuffle:
                cv = cv.n_splits
            if isinstance(cv, HashedKFold):
                folds = FoldGramStats(Xv.shape[1], cv.n_splits, shuffle=True, seed=cv.seed)
            elif isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
                if cv < 2:
                    raise ValueError(f"cv must be at least 2 folds, got cv={cv}")
                if n_samples is None:
                    warnings.warn(
                        f"partial_fit without n_samples cannot place contiguous KFold({cv}) "
                        f"folds; using hashed folds HashedKFold({cv}, seed=0) instead (pass "
                        "n_samples with the first chunk for contiguous folds)",
                        UserWarning,
                        stacklevel=2,
                    )
                    folds = FoldGramStats(Xv.shape[1], int(cv), shuffle=True, seed=0)
                else:
                    folds = FoldGramStats(Xv.shape[1], int(cv), n_samples=int(n_samples))
            else:
                raise ValueError(
                    "partial_fit needs cv to be an int, None, KFold without shuffling or "
                    f"HashedKFold, got {self.cv!r}"
                )
            self._folds = folds
        folds.update(Xv, y_t, w)
        _checked(folds.total(), Xv)
        filled = [k for k, f in enumerate(folds.folds) if float(f.weight_sum) > 0]
        if len(filled) >= 2:
            total = folds.total()
            train = [folds.training(k, total) for k in range(folds.n_splits)]
            self._finish(train, folds.folds, total)
        return self

    def fit_chunks(
        self,
        chunks: Callable[[], Iterable[tuple[Any, ...]]],
        *,
        n_features: int,
        n_samples: int | None = None,
        feature_names: Sequence[str] | None = None,
        combine: Combine = LOCAL,
    ) -> _CVBase:
        """Cross-validate on data read in chunks, in ONE pass into per-fold statistics.

        Every row goes to its fold's statistics by its global row number (the 4th item of
        a chunk, else its position in the stream), so the folds are the same in memory,
        chunk by chunk and across ranks.

        Parameters
        ----------
        chunks : callable
            Returns an iterable of ``(X, y)``, ``(X, y, sample_weight)`` or
            ``(X, y, sample_weight, rows)`` chunks (validated already). Called once.
        n_features : int
            Columns of ``X``.
        n_samples : int, optional
            For contiguous folds (``cv`` an int or None): the rows are numbered
            ``0 .. n_samples - 1`` and fold k is ``KFold(cv)``'s k-th run of them. Not
            needed with ``cv=HashedKFold(...)``.
        feature_names : sequence of str, optional
        combine : Combine, default LOCAL
            :data:`torchlinear.distributed.RANKS` in a process group: every fold's
            statistics are all-reduced over the ranks.

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 3))
        >>> y = X @ np.array([1.0, 0.0, -2.0]) + rng.normal(size=200)
        >>> halves = lambda: [(X[:120], y[:120]), (X[120:], y[120:])]
        >>> streamed = LassoCV(cv=4).fit_chunks(halves, n_features=3, n_samples=200)
        >>> streamed.alpha_ == LassoCV(cv=4).fit(X, y).alpha_
        True
        """
        self._check_cv_params()
        d = _check_n_features(n_features)
        cv = 5 if self.cv is None else self.cv
        if isinstance(cv, KFold) and not cv.shuffle:
            cv = cv.n_splits
        if isinstance(cv, HashedKFold):
            K, shuffle, seed = cv.n_splits, True, cv.seed
        elif isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
            K, shuffle, seed = int(cv), False, 0
            if K < 2:
                raise ValueError(f"cv must be at least 2 folds, got cv={cv}")
            if n_samples is None:
                raise ValueError(
                    f"contiguous KFold({K}) folds need the total row count: pass n_samples, "
                    "or use cv=HashedKFold(...) (seeded shuffled folds)"
                )
            if int(n_samples) < K:
                raise ValueError(f"cv={K} folds need at least {K} rows, but n_samples={n_samples}")
        else:
            raise ValueError(
                "fit_chunks needs cv to be an int, None, KFold without shuffling or "
                f"HashedKFold, got {self.cv!r}"
            )
        folds = FoldGramStats(
            d, K, n_samples=None if shuffle else int(n_samples), shuffle=shuffle, seed=seed
        )
        error: BaseException | None = None
        seen = 0
        try:
            for item in chunks():
                X, y, w, rows = _chunk_parts(item)
                m = X.shape[0]
                if rows is None:
                    rows = np.arange(seen, seen + m, dtype=np.int64)
                seen += m
                if m == 0:
                    continue
                if not shuffle and (rows.min() < 0 or rows.max() >= folds.n_samples):
                    raise ValueError(
                        f"row numbers {rows.min()}..{rows.max()} fall outside the "
                        f"n_samples={n_samples} rows the folds were laid out for"
                    )
                folds.update(X, y, w, fold_ids=folds.fold_ids(rows))
        except Exception as exc:  # shared with the other ranks before anyone waits
            error = exc
        combine.agree(error, (d, 1))
        parts = folds.folds or [GramStats.zeros(d) for _ in range(K)]
        if not combine.local:
            parts = [combine.gram(f) for f in parts]
        total = parts[0]
        for f in parts[1:]:
            total = total.merge(f)
        total = _checked(total, None)
        train = [subtract_stats(total, f) for f in parts]
        self._set_n_features(d, None if feature_names is None else list(feature_names))
        return self._finish(train, parts, total)

    def _split_stats(
        self, X: Any, y: torch.Tensor, w: torch.Tensor | None, splits: list
    ) -> tuple[list[GramStats], list[GramStats], GramStats]:
        check_stats_memory(X.shape[1], 2 * len(splits) + 1)
        total = self._gram(X, y, w)
        train, test = [], []
        for tr, te in splits:
            tr, te = np.asarray(tr), np.asarray(te)
            train.append(self._gram(*_rows(X, y, w, tr)))
            test.append(self._gram(*_rows(X, y, w, te)))
        return train, test, total

    def _finish(
        self, train: Sequence[GramStats], test: Sequence[GramStats], total: GramStats
    ) -> _CVBase:
        ratios = self._ratios()
        alphas = self.alphas
        if not (isinstance(alphas, numbers.Integral) and not isinstance(alphas, bool)):
            alphas = [float(a) for a in np.asarray(alphas, dtype=np.float64).reshape(-1)]
        res = fit_cv_from_fold_stats(
            train,
            test,
            total,
            l1_ratio=ratios,
            alphas=alphas,
            eps=float(self.eps),
            fit_intercept=bool(self.fit_intercept),
            positive=bool(self.positive),
            tol=float(self.tol),
            max_iter=int(self.max_iter),
            selection=self.selection,
            random_state=self.random_state,
        )
        self._stats = total
        self.cv_results_: CVPathResult = res
        self.alpha_ = res.alpha
        self.alpha_1se_ = res.alpha_1se
        if isinstance(self.alphas, numbers.Integral) and not isinstance(self.alphas, bool):
            self.alphas_ = res.alphas if len(ratios) > 1 else res.alphas[0]
        else:
            self.alphas_ = res.alphas[0]
        self.mse_path_ = np.squeeze(res.mse_path)
        self.coef_ = res.coef
        self.intercept_ = res.intercept
        self.dual_gap_ = res.dual_gap
        self.n_iter_ = res.n_iter
        self.converged_ = res.converged
        return self


def _rows(
    X: Any, y: torch.Tensor, w: torch.Tensor | None, idx: np.ndarray
) -> tuple[Any, torch.Tensor, torch.Tensor | None]:
    if sp.issparse(X):
        Xi = X[idx]
    else:
        Xi = X.index_select(0, torch.from_numpy(idx).to(X.device))
    t = torch.from_numpy(idx)
    return Xi, y.index_select(0, t), None if w is None else w.index_select(0, t)


class ElasticNetCV(_CVBase):
    r"""Elastic net with ``alpha`` (and ``l1_ratio``) chosen by K-fold cross-validation.

    scikit-learn's ``ElasticNetCV``: for each ``l1_ratio``, a grid of ``alphas`` (an int:
    that many values log-spaced from :math:`\alpha_{\max}` down to ``eps`` times it) is
    solved on every fold's training rows and scored by the (sample-weighted) mean squared
    error on its test rows; the pair with the lowest mean error over folds is refitted on
    all rows. Here every fold's statistics come from one pass over the data, and all paths
    are solved in :math:`d \times d` space.

    Parameters
    ----------
    l1_ratio : float or list of float, default 0.5
    eps : float, default 1e-3
    alphas : int or array-like, default 100
        Number of alphas on the automatic grid, or the alphas themselves.
    fit_intercept : bool, default True
    precompute : "auto", bool or array, default "auto"
        Accepted for compatibility.
    max_iter : int, default 1000
    tol : float, default 1e-4
    cv : int, splitter or iterable, optional
        ``None`` is 5; an int K is contiguous ``KFold(K)`` (same folds as scikit-learn);
        :class:`~torchlinear.exact.fold_stats.HashedKFold` is a seeded shuffled split that
        also works on streams of unknown length.
    copy_X : bool, default True
        Accepted for compatibility.
    verbose : bool or int, default 0
        Accepted for compatibility.
    n_jobs : int, optional
        Accepted for compatibility.
    positive : bool, default False
    random_state : int, optional
    selection : {"cyclic", "random"}, default "cyclic"

    Attributes
    ----------
    alpha_ : float
    l1_ratio_ : float
    alpha_1se_ : float
        Largest alpha (of the chosen l1_ratio) within one standard error of the best.
    alphas_ : ndarray of shape (n_alphas,) or (n_l1_ratio, n_alphas)
    mse_path_ : ndarray of shape (n_l1_ratio, n_alphas, n_folds), squeezed
    coef_, intercept_, dual_gap_, n_iter_, converged_
        Of the final fit on all rows.
    cv_results_ : CVPathResult
        Everything above plus the full-data path (for the plots).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 5))
    >>> y = X @ np.array([2.0, 0.0, 0.0, -1.0, 0.0]) + rng.normal(size=300)
    >>> model = ElasticNetCV(l1_ratio=[0.5, 1.0], cv=5).fit(X, y)
    >>> model.mse_path_.shape, model.l1_ratio_, round(model.alpha_, 4)
    ((2, 100, 5), 1.0, 0.0267)
    """

    def __init__(
        self,
        *,
        l1_ratio: float | Sequence[float] = 0.5,
        eps: float = 1e-3,
        alphas: int | Sequence[float] = 100,
        fit_intercept: bool = True,
        precompute: Any = "auto",
        max_iter: int = 1000,
        tol: float = 1e-4,
        cv: Any = None,
        copy_X: bool = True,
        verbose: Any = 0,
        n_jobs: int | None = None,
        positive: bool = False,
        random_state: Any = None,
        selection: str = "cyclic",
    ) -> None:
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.copy_X = copy_X
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection

    def _ratios(self) -> list[float]:
        return [float(r) for r in np.atleast_1d(np.asarray(self.l1_ratio, dtype=np.float64))]

    def _finish(self, train: Any, test: Any, total: GramStats) -> ElasticNetCV:
        super()._finish(train, test, total)
        self.l1_ratio_ = self.cv_results_.l1_ratio
        return self


class LassoCV(_CVBase):
    r"""Lasso with ``alpha`` chosen by K-fold cross-validation (scikit-learn's ``LassoCV``).

    As :class:`ElasticNetCV` with ``l1_ratio=1`` (and no ``l1_ratio_`` attribute).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4))
    >>> y = X @ np.array([1.0, 0.0, 0.0, 3.0]) + rng.normal(size=300)
    >>> model = LassoCV(cv=5).fit(X, y)
    >>> model.alphas_.shape, model.mse_path_.shape
    ((100,), (100, 5))
    """

    def __init__(
        self,
        *,
        eps: float = 1e-3,
        alphas: int | Sequence[float] = 100,
        fit_intercept: bool = True,
        precompute: Any = "auto",
        max_iter: int = 1000,
        tol: float = 1e-4,
        copy_X: bool = True,
        cv: Any = None,
        verbose: Any = False,
        n_jobs: int | None = None,
        positive: bool = False,
        random_state: Any = None,
        selection: str = "cyclic",
    ) -> None:
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.copy_X = copy_X
        self.cv = cv
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection

    def _ratios(self) -> list[float]:
        return [1.0]
