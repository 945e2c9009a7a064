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
converged ones. With ``positive=True`` the L1 term is linear on :math:`w \ge 0` and the
problem is a non-negative quadratic program, solved exactly by the active-set method of
:mod:`torchlinear.exact.nnqp` (``n_iter_`` then counts its passive-set solves). The
cross-validated models keep one set of statistics per fold
(:mod:`torchlinear.exact.fold_stats`) and solve every path from them.

``partial_fit`` accumulates the statistics chunk by chunk and solves on all rows so far;
``fit_chunks`` reads a re-iterable stream of chunks once (a file larger than memory, or one
rank's shard under ``torchrun`` with the exact driver's ``combine`` hook, which all-reduces
the statistics), so every entry point solves the same problem from the same statistics.

Parameters without an effect here, kept for compatibility: ``precompute`` (the Gram
matrix is always used), ``copy_X`` (``X`` is never modified), ``n_jobs`` and ``verbose``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from torchlinear._sklearn_protocol import warn_convergence
from torchlinear.estimators._penalized_base import (
    PenalizedBase,
    add_chunk,
    check_alpha,
    check_common,
    check_l1_ratio,
    check_n_features,
    checked_stats,
    chunk_parts,
)
from torchlinear.estimators.penalized_cv import ElasticNetCV, LassoCV
from torchlinear.exact import GramStats
from torchlinear.exact.coordinate_descent import check_stats_memory, enet_path
from torchlinear.exact.driver import LOCAL, Combine

__all__ = ["ElasticNet", "ElasticNetCV", "Lasso", "LassoCV"]


class ElasticNet(PenalizedBase):
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
        alpha = check_alpha(self.alpha)
        l1_ratio = check_l1_ratio(self.l1_ratio)
        check_common(self)
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
        self._stats = checked_stats(self._gram(Xv, y_t, w), Xv)
        return self._solve()

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> ElasticNet:
        """Add a chunk of rows to the statistics and solve on all rows so far."""
        self._check_params()
        first = getattr(self, "_stats", None) is None
        Xv, y_t, w = self._validate_xy(X, y, sample_weight, reset=first)
        part = checked_stats(self._gram(Xv, y_t, w), Xv)
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
        d = check_n_features(n_features)
        check_stats_memory(d, 1)
        stats = GramStats.zeros(d)
        error: BaseException | None = None
        try:
            for item in chunks():
                X, y, w, _ = chunk_parts(item)
                stats = add_chunk(stats, X, y, w)
        except Exception as exc:  # shared with the other ranks before anyone waits
            error = exc
        combine.agree(error, (d, 1))
        self._stats = checked_stats(combine.gram(stats), None)
        self._set_n_features(d, None if feature_names is None else list(feature_names))
        return self._solve()

    def _solve(self) -> ElasticNet:
        alpha, l1_ratio = self._check_params()
        if alpha == 0 and not self.positive:  # (non-negative least squares is not OLS)
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
            warn_convergence(
                f"{type(self).__name__} did not converge within {self.max_iter} sweeps "
                f"({{max_iter}}): duality gap {self.dual_gap_:.3g} > tolerance "
                f"{self.tol * _y_variance(self._stats, self.fit_intercept):.3g} "
                f"(tol={self.tol} x var(y)); raise {{max_iter}}",
                stacklevel=3,
                params=("max_iter",),
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
        check_common(self)
        return check_alpha(self.alpha), 1.0
