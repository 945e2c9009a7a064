r"""Robust linear regression: exact quantile regression (least absolute deviations) and Huber.

Quantile regression
-------------------
For a quantile :math:`q \in (0, 1)`, sample weights :math:`s_i` (all one by default) and
:math:`S = \sum_i s_i`, :class:`QuantileRegressor` minimises scikit-learn's objective

.. math::

    \frac1S \sum_i s_i\, \rho_q(y_i - x_i^\top w - b) + \alpha \|w\|_1,
    \qquad \rho_q(r) = \max(q r, (q - 1) r),

the pinball loss (:math:`q = 0.5`: half the absolute deviation, so ``quantile=0.5,
alpha=0`` is least absolute deviations). The problem is a linear program, and it is solved
*to optimality*:

``solver="ipm"`` (the default) finds a nearly optimal point by an interior-point method
and finishes with HiGHS on the rows in doubt, which gives the exact optimum;
``"highs"`` hands the whole LP to SciPy's HiGHS, as scikit-learn does (details in
:func:`fit_lad`'s module, ``torchlinear.estimators._lad``).

Huber regression
----------------
:class:`HuberRegressor` minimises, jointly over :math:`w`, :math:`b` and a scale
:math:`\sigma > 0`, scikit-learn's objective

.. math::

    \sum_i s_i \Big(\sigma + \sigma\, H_\varepsilon\big(\tfrac{y_i - x_i^\top w - b}{\sigma}
    \big)\Big) + \alpha \|w\|_2^2, \qquad
    H_\varepsilon(z) = \begin{cases} z^2 & |z| \le \varepsilon \\
    2 \varepsilon |z| - \varepsilon^2 & |z| > \varepsilon \end{cases}

(a convex function: :math:`\sigma H(r/\sigma)` is the perspective of :math:`H`), so that
``epsilon`` is scale-free: residuals beyond ``epsilon`` estimated standard deviations are
outliers. It is minimised by L-BFGS-B, over the parameters of the standardized features
(centred and scaled inside the objective, the penalty kept on the original coefficients):
the same minimiser, reached reliably when the columns have very different scales. When
L-BFGS-B stops on its relative-reduction test (the objective's rounding), Newton's steps
finish the job, judged by the gradient.

As :math:`\sigma \to 0` the objective tends to :math:`2\varepsilon \sum_i s_i |r_i| +
\alpha\|w\|^2`, and its infimum is there for ``epsilon=1`` (:math:`\sigma H(r/\sigma)
\ge 2|r| - \sigma`) and often for ``epsilon`` near 1 or few rows per coefficient:
L-BFGS-B then drives the scale towards 0 and stalls in a non-smooth valley. That limit
problem is solved exactly (a linear program for ``alpha=0``, Newton on its smoothings
finished by its optimality conditions otherwise; ``torchlinear.estimators._huber_limit``),
its optimality and that no scale :math:`\sigma > 0` does better are proven from its
multipliers, and the better of the two points is the fit.

Data too large for memory is fitted by the gradient trainer (``torchlinear fit --loss l1
--stream``), which warns that its answer is approximate.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import scipy.linalg

from torchlinear._sklearn_protocol import (
    BaseEstimator,
    RegressorMixin,
    target_vector,
    warn_convergence,
)
from torchlinear._threads import single_threaded
from torchlinear.estimators._base import LinearPredictionMixin
from torchlinear.estimators._huber_limit import Design, LimitPoint, solve_limit
from torchlinear.estimators._lad import (
    QUANTILE_SOLVERS,
    as_arrays,
    check_alpha,
    check_bool,
    check_quantile,
    fit_lad,
)

__all__ = [
    "HuberRegressor",
    "QuantileRegressor",
    "fit_lad",
]


class QuantileRegressor(LinearPredictionMixin, RegressorMixin, BaseEstimator):
    r"""Linear quantile regression, solved exactly: scikit-learn's ``QuantileRegressor``.

    Minimises :math:`\frac1S \sum_i s_i \rho_q(y_i - x_i^\top w - b) + \alpha\|w\|_1`
    (see the module notes); the LP is solved to optimality, by default with an
    interior-point method finished by an exact restricted LP.

    Parameters
    ----------
    quantile : float, default 0.5
        The quantile :math:`q \in (0, 1)` to predict; 0.5 (the median) is least absolute
        deviations.
    alpha : float, default 1.0
        L1 penalty on the coefficients (not the intercept), on the mean loss's scale.
    fit_intercept : bool, default True
    solver : {"ipm", "highs", "highs-ds", "highs-ipm"}, default "ipm"
        ``"ipm"``: interior point + exact restricted LP (fast); ``"highs*"``: the whole LP
        with that method of ``scipy.optimize.linprog`` (the reference, as scikit-learn).
    solver_params : dict, optional
        Options for ``scipy.optimize.linprog`` (the ``"highs*"`` solvers).

    Attributes
    ----------
    coef_ : numpy.ndarray, shape (d,)
    intercept_ : float
    n_iter_ : int
        Interior-point plus simplex iterations (``"ipm"``), or HiGHS's iterations.
    objective_ : float
        The minimum of the objective.
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray of str
        When fitted on a DataFrame with string column names.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(0, 10, size=(500, 1))
    >>> y = 1 + 2 * X[:, 0] + rng.standard_exponential(500)
    >>> low = QuantileRegressor(quantile=0.1, alpha=0).fit(X, y)
    >>> high = QuantileRegressor(quantile=0.9, alpha=0).fit(X, y)
    >>> bool((low.predict(X) < high.predict(X)).all())
    True
    >>> round(float(np.mean(y <= high.predict(X))), 2)
    0.9
    """

    def __init__(
        self,
        *,
        quantile: float = 0.5,
        alpha: float = 1.0,
        fit_intercept: bool = True,
        solver: str = "ipm",
        solver_params: dict | None = None,
    ) -> None:
        self.quantile = quantile
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.solver_params = solver_params

    def _check_params(self) -> None:
        check_quantile(self.quantile)
        check_alpha(self.alpha)
        check_bool("fit_intercept", self.fit_intercept)
        if self.solver not in QUANTILE_SOLVERS:
            raise ValueError(f"solver must be one of {QUANTILE_SOLVERS}, got {self.solver!r}")
        if self.solver_params is not None and not isinstance(self.solver_params, dict):
            raise ValueError(f"solver_params must be a dict or None, got {self.solver_params!r}")

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> QuantileRegressor:
        """Fit to ``X`` (n, d) and ``y`` (n,) with optional ``sample_weight``; return self.

        Raises
        ------
        ValueError
            ``quantile`` outside (0, 1), ``alpha`` < 0, an unknown ``solver``, or bad data.
        """
        self._check_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        X_np = self._validate_X_numpy(X, reset=True)
        y_np = _target_numpy(y, len(X_np))
        coef, intercept, info = fit_lad(
            X_np,
            y_np,
            sample_weight,
            quantile=self.quantile,
            alpha=self.alpha,
            fit_intercept=self.fit_intercept,
            solver=self.solver,
            solver_params=self.solver_params,
        )
        self.coef_, self.intercept_ = coef, intercept
        self.n_iter_ = int(info["n_iter"])
        self.objective_ = float(info["objective"])
        return self


def _target_numpy(y: Any, n: int) -> np.ndarray:
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    y = np.asarray(y)
    if y.dtype == object:
        y = y.astype(np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = target_vector(y)
    if y.ndim != 1:
        raise ValueError(f"y must have shape (n,) or (n, 1), got {y.shape}")
    if len(y) != n:
        raise ValueError(f"y has {len(y)} rows but X has {n}")
    y = y.astype(np.float64)
    if not np.isfinite(y).all():
        bad = np.flatnonzero(~np.isfinite(y))
        raise ValueError(f"y has {len(bad)} NaN/inf value(s); the first is at row {bad[0]}")
    return y


def _huber_objective(
    theta: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    s: np.ndarray,
    epsilon: float,
    alpha: float,
    fit_intercept: bool,
    center: np.ndarray | None = None,
    spread: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Huber's joint objective (module notes) and its gradient, in the parameters
    ``theta = (v, c, sigma)`` of the standardized features ``(X - center) / spread``.

    The coefficients and intercept of the original features are ``w = v / spread`` and
    ``b = c - center @ w``; the penalty stays ``alpha * (w @ w)``, so the
    minimiser is the same as in the original parameters (``center`` 0 and ``spread`` 1,
    the defaults), only better conditioned. ``X`` itself is never copied.
    """
    d = X.shape[1]
    mu = np.zeros(d) if center is None else center
    sd = np.ones(d) if spread is None else spread
    w, sigma = theta[:d] / sd, theta[-1]
    b = theta[d] - mu @ w if fit_intercept else 0.0
    r = y - X @ w - b
    outlier = np.abs(r) > epsilon * sigma
    s_in, s_out = np.where(outlier, 0.0, s), np.where(outlier, s, 0.0)
    f = (
        sigma * s.sum()
        + (s_in @ (r * r)) / sigma
        + s_out @ (2 * epsilon * np.abs(r) - epsilon**2 * sigma)
        + alpha * (w @ w)
    )
    d_r = 2 * s_in * r / sigma + 2 * epsilon * s_out * np.sign(r)  # -df / dr_i
    grad_w = -(X.T @ d_r) + 2 * alpha * w
    if fit_intercept:
        grad_w += mu * d_r.sum()  # b moves with w when c is held
    grad = [grad_w / sd]
    if fit_intercept:
        grad.append([-d_r.sum()])
    grad.append([s.sum() - (s_in @ (r * r)) / sigma**2 - epsilon**2 * s_out.sum()])
    return float(f), np.concatenate(grad)


def _standardization(
    X: np.ndarray, s: np.ndarray, fit_intercept: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The weighted mean (0 without an intercept) and spread of every column of ``X``
    (the standard deviation, or the root mean square without an intercept; 1 for a
    column without spread), to standardize the features inside the objective."""
    p = s / s.sum()
    center = p @ X if fit_intercept else np.zeros(X.shape[1])
    spread = np.sqrt(np.maximum(p @ (X * X) - center * center, 0.0))
    tiny = spread <= 1e-12 * np.maximum(np.abs(center), 1e-300)
    spread[tiny | (spread == 0)] = 1.0
    return center, spread


class HuberRegressor(LinearPredictionMixin, RegressorMixin, BaseEstimator):
    r"""Linear regression with Huber's loss and a jointly estimated scale (scikit-learn's).

    Minimises the objective of the module notes over the coefficients, the intercept and
    the scale :math:`\sigma` together, so that ``epsilon`` is scale-free: a residual beyond
    ``epsilon * scale_`` is an outlier, and its influence is bounded. (The gradient
    trainers' ``loss="huber"`` with an absolute threshold ``delta`` is a different,
    simpler loss, kept for learning.)

    Parameters
    ----------
    epsilon : float, default 1.35
        Outlier threshold in units of the scale, >= 1 (1.35 gives 95 % efficiency on
        normal errors).
    alpha : float, default 1e-4
        L2 penalty :math:`\alpha\|w\|^2` on the coefficients, added to the *summed* loss
        (as in scikit-learn).
    max_iter : int, default 100
        L-BFGS-B iterations.
    warm_start : bool, default False
        Start from the previous fit's ``coef_``, ``intercept_`` and ``scale_``.
    fit_intercept : bool, default True
    tol : float, default 1e-5
        The convergence criterion: every component of the projected gradient (with
        respect to the standardized-feature parameters and the scale) is at most ``tol``;
        or, when the infimum lies as the scale falls to 0, the limit problem's minimum is
        proven (its optimality conditions hold, and the objective's derivative along the
        scale there is at least ``-tol``). A stop of L-BFGS-B on its relative-reduction
        test is not convergence. A ``ConvergenceWarning`` says when neither criterion was
        met: ``max_iter`` came first, L-BFGS-B stalled above ``tol``, or the limit point
        could not be proven optimal.

    Attributes
    ----------
    coef_ : numpy.ndarray, shape (d,)
    intercept_ : float
    scale_ : float
        The estimated scale :math:`\sigma` of the residuals. When the infimum lies as the
        scale falls to 0, the smallest scale that keeps the rows the fit interpolates
        (residuals of rounding size) within ``epsilon * scale_``: at least ``2.2e-15``, the
        lower bound L-BFGS-B uses (scikit-learn's).
    outliers_ : numpy.ndarray of bool, shape (n,)
        Rows whose absolute residual exceeds ``epsilon * scale_`` (at the limit, every row
        the fit does not interpolate).
    n_iter_ : int
        L-BFGS-B iterations run.
    converged_ : bool
        Whether the criterion of ``tol`` was met (see ``tol``).
    n_features_in_ : int
    feature_names_in_ : numpy.ndarray of str
        When fitted on a DataFrame with string column names.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> y = X @ [1.0, 2.0] + 0.5 + 0.1 * rng.normal(size=200)
    >>> y[:10] += 50  # gross outliers
    >>> model = HuberRegressor().fit(X, y)
    >>> [round(float(c), 1) for c in model.coef_], round(model.intercept_, 1)
    ([1.0, 2.0], 0.5)
    >>> int(model.outliers_[:10].sum()), model.converged_
    (10, True)
    """

    scale_: float  # set by fit; a warm start reads it

    def __init__(
        self,
        *,
        epsilon: float = 1.35,
        max_iter: int = 100,
        alpha: float = 1e-4,
        warm_start: bool = False,
        fit_intercept: bool = True,
        tol: float = 1e-5,
    ) -> None:
        self.epsilon = epsilon
        self.max_iter = max_iter
        self.alpha = alpha
        self.warm_start = warm_start
        self.fit_intercept = fit_intercept
        self.tol = tol

    def _check_params(self) -> tuple[float, float, int, float]:
        eps = self.epsilon
        if (
            isinstance(eps, bool)
            or not isinstance(eps, int | float | np.integer | np.floating)
            or not math.isfinite(float(eps))
            or float(eps) < 1.0
        ):
            raise ValueError(f"epsilon must be a finite number >= 1, got {eps!r}")
        alpha = check_alpha(self.alpha)
        it = self.max_iter
        if isinstance(it, bool) or not isinstance(it, int | np.integer) or it < 1:
            raise ValueError(f"max_iter must be an integer >= 1, got {it!r}")
        tol = self.tol
        if isinstance(tol, bool) or not isinstance(tol, int | float | np.integer | np.floating):
            raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
        if not math.isfinite(float(tol)) or float(tol) < 0:
            raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
        check_bool("fit_intercept", self.fit_intercept)
        check_bool("warm_start", self.warm_start)
        return float(eps), alpha, int(it), float(tol)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> HuberRegressor:
        """Fit to ``X`` (n, d) and ``y`` (n,) with optional ``sample_weight``; return self.

        Raises
        ------
        ValueError
            ``epsilon`` < 1, ``alpha`` < 0, bad ``max_iter``/``tol``, or bad data.
        """
        epsilon, alpha, max_iter, tol = self._check_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        X_np = self._validate_X_numpy(X, reset=True)
        y_np = _target_numpy(y, len(X_np))
        X_np, y_np, s = as_arrays(X_np, y_np, sample_weight)
        # weights of mean one (alpha with them): the same minimiser, and ``tol`` bounds a
        # gradient of the same size whatever their scale (weights of 1e-8 stopped at 0)
        mean = float(s.mean())
        s, alpha = s / mean, alpha / mean
        d = X_np.shape[1]
        fit_intercept = bool(self.fit_intercept)
        # The objective is minimised over the standardized features' parameters: the same
        # minimiser, but L-BFGS-B is not stalled by columns of very different scales.
        center, spread = _standardization(X_np, s, fit_intercept)
        theta0 = np.zeros(d + int(fit_intercept) + 1)
        theta0[-1] = 1.0
        if self.warm_start and getattr(self, "coef_", None) is not None:
            if len(self.coef_) == d:
                theta0[:d] = self.coef_ * spread
                if fit_intercept:
                    theta0[d] = self.intercept_ + center @ self.coef_
                theta0[-1] = self.scale_
        args = (X_np, y_np, s, epsilon, alpha, fit_intercept, center, spread)
        # small problems: threads cost more than the arithmetic (and spin on a busy machine)
        small = X_np.size <= _SMALL_PROBLEM
        with single_threaded() if small else contextlib.nullcontext():
            theta, n_iter, message = _minimise(theta0, args, max_iter, tol)
            design = Design(X_np, center, spread, fit_intercept)
            f, gradient = _huber_objective(theta, *args)
            gradient = _projected(theta, gradient)
            if np.abs(gradient).max() > tol and n_iter < max_iter and theta[-1] > 2 * _SCALE_FLOOR:
                # stopped on its relative-reduction test: the objective's rounding hides the
                # last decrease, but Newton's steps, judged by the gradient, still converge
                theta, f, gradient = _newton_polish(design, args, theta, f, gradient, tol)
            stalled = np.abs(gradient).max() > tol and n_iter < max_iter
            limit, f_limit = _limit_point(design, y_np, s, epsilon, alpha, theta, stalled)
            certified = limit is not None and limit.optimal and limit.slope >= -tol
            chosen = limit is not None and (certified or f_limit < f)
            if limit is not None and chosen:
                theta = np.append(limit.beta, _scale_at_limit(design, y_np, limit, epsilon))
                converged = certified
            else:
                converged = np.abs(gradient).max() <= tol or (certified and f <= f_limit)
        self.n_iter_ = n_iter
        self.coef_, self.intercept_ = design.original(theta[:-1])
        self.scale_ = float(theta[-1])
        residual = np.abs(y_np - X_np @ self.coef_ - self.intercept_)
        self.outliers_ = residual > self.scale_ * epsilon
        self.converged_ = bool(converged)
        if not converged:
            _warn(chosen, epsilon, self.scale_, n_iter, max_iter, gradient, tol, message)
        return self


def _limit_point(
    design: Design,
    y: np.ndarray,
    s: np.ndarray,
    epsilon: float,
    alpha: float,
    theta: np.ndarray,
    stalled: bool,
) -> tuple[LimitPoint | None, float]:
    """The minimiser of the objective's limit as the scale falls to 0, with the joint
    objective at the point reported for it, when L-BFGS-B's point ``theta`` suggests the
    infimum lies there (the scale at its bound, or no more rows on the quadratic piece
    than parameters) or when L-BFGS-B ``stalled`` before its criterion was met."""
    r = y - design.predict(theta[:-1])
    inliers = int(((np.abs(r) <= epsilon * theta[-1]) & (s > 0)).sum())
    if not (theta[-1] <= 2 * _SCALE_FLOOR or inliers <= design.p or stalled):
        return None, math.inf
    limit = solve_limit(design, y, s, epsilon, alpha, theta[:-1])
    at = np.append(limit.beta, _scale_at_limit(design, y, limit, epsilon))
    args = (design.X, y, s, epsilon, alpha, design.fit_intercept)
    return limit, _huber_objective(at, *args, design.center, design.spread)[0]


_SMALL_PROBLEM = 1 << 23  # entries of X below which the fit runs on one thread
_SCALE_FLOOR = 10 * float(np.finfo(np.float64).eps)
"""The lower bound of the scale in L-BFGS-B (scikit-learn's)."""


def _minimise(
    theta0: np.ndarray, args: tuple, max_iter: int, tol: float
) -> tuple[np.ndarray, int, str]:
    """L-BFGS-B from ``theta0``, restarted (with a fresh memory) when it stops on its
    relative-reduction test before the projected gradient is within ``tol``, while that
    still lowers the objective and iterations remain: the point, the iterations run and
    the last run's message."""
    from scipy import optimize  # loaded by the fits that use it (~0.15 s, 16 MB at start-up)

    bounds = [(None, None)] * (len(theta0) - 1) + [(_SCALE_FLOOR, None)]
    theta, n_iter, previous = theta0, 0, math.inf  # previous: the last run's objective
    for _ in range(4):
        result = optimize.minimize(
            _huber_objective,
            theta,
            args=args,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={
                "maxiter": max_iter - n_iter,
                "gtol": tol,
                "ftol": 64 * np.finfo(np.float64).eps,
            },
        )
        theta, n_iter = result.x, n_iter + int(min(result.nit, max_iter - n_iter))
        done = np.abs(_projected(theta, result.jac)).max() <= tol or n_iter >= max_iter
        if done or result.fun >= previous * (1 - 64 * np.finfo(np.float64).eps):
            break
        previous = float(result.fun)
    return theta, n_iter, str(result.message)


def _newton_polish(
    design: Design,
    args: tuple,
    theta: np.ndarray,
    f: float,
    gradient: np.ndarray,
    tol: float,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Newton's steps on the joint objective from ``theta`` (its Hessian: the rows on the
    quadratic piece, ``(2 / sigma) [a_i; r_i / sigma] [a_i; r_i / sigma]'``, plus the
    penalty), each kept when it shrinks the largest projected gradient component, until
    that is a tenth of ``tol``: the point, its objective and projected gradient."""
    X, y, s, epsilon, alpha = args[:5]
    p = design.p
    for _ in range(10):
        beta, sigma = theta[:-1], theta[-1]
        r = y - design.predict(beta)
        idx = np.flatnonzero((np.abs(r) <= epsilon * sigma) & (s > 0))
        H = np.zeros((p + 1, p + 1))
        for start in range(0, len(idx), 8192):  # the rows in blocks: X is not copied whole
            rows = idx[start : start + 8192]
            U = np.hstack([design.rows(rows), (r[rows] / sigma)[:, None]])
            H += (2 / sigma) * (U.T * s[rows]) @ U
        H[:p, :p] += np.diag(2 * alpha * design.penalty())
        H[np.diag_indices_from(H)] += 1e-14 * max(float(np.trace(H)), 1e-300)
        step = -scipy.linalg.solve(H, gradient, assume_a="pos")
        for t in 0.5 ** np.arange(8):
            trial = theta + t * step
            if trial[-1] <= _SCALE_FLOOR:
                continue
            f_trial, g_trial = _huber_objective(trial, *args)
            g_trial = _projected(trial, g_trial)
            if np.abs(g_trial).max() < np.abs(gradient).max() and f_trial <= f + 1e-12 * abs(f):
                theta, f, gradient = trial, f_trial, g_trial
                break
        else:
            break
        if np.abs(gradient).max() <= tol / 10:
            break
    return theta, f, gradient


def _projected(theta: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """The gradient projected on the bounds: the scale's component is dropped when the
    scale is at its lower bound and the objective grows with it."""
    gradient = gradient.copy()
    if theta[-1] <= _SCALE_FLOOR and gradient[-1] > 0:
        gradient[-1] = 0.0
    return gradient


def _scale_at_limit(design: Design, y: np.ndarray, limit: LimitPoint, epsilon: float) -> float:
    """The scale reported with the limit point: the smallest that keeps the rows it
    interpolates (residuals of rounding size) within ``epsilon * scale``."""
    r = np.abs(y - design.predict(limit.beta))[limit.zero]
    return max(_SCALE_FLOOR, float(r.max()) / epsilon if len(r) else 0.0)


def _warn(
    at_limit: bool,
    epsilon: float,
    scale: float,
    n_iter: int,
    max_iter: int,
    gradient: np.ndarray,
    tol: float,
    message: str,
) -> None:
    """The one-line ConvergenceWarning of a fit whose optimality was not certified."""
    largest = float(np.abs(gradient).max())
    if at_limit:
        warn_convergence(
            f"HuberRegressor did not converge: scale_ fell to {scale:.3g}, where with "
            f"epsilon={epsilon:g} the objective tends to 2 * epsilon * (weighted absolute "
            "deviations) + alpha * ||coef_||^2, whose minimum could not be certified; use a "
            "larger epsilon, or QuantileRegressor(quantile=0.5) for least absolute deviations",
            stacklevel=3,
        )
    elif n_iter >= max_iter:
        warn_convergence(
            f"HuberRegressor did not converge in {n_iter} iterations: the largest "
            f"projected gradient component is {largest:.3g} > tol {tol:g}; increase "
            "{max_iter}",
            stacklevel=3,
            params=("max_iter",),
        )
    else:
        warn_convergence(
            f"HuberRegressor did not converge: L-BFGS-B stopped after {n_iter} iterations "
            f"({message}) with the largest projected gradient component {largest:.3g} > "
            f"tol {tol:g}; rescale the features, or raise {{tol}} to accept this fit",
            stacklevel=3,
            params=("tol",),
        )
