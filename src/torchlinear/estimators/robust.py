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
the same minimiser, reached reliably when the columns have very different scales.

Data too large for memory is fitted by the gradient trainer (``torchlinear fit --loss l1
--stream``), which warns that its answer is approximate.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from torchlinear._sklearn_protocol import (
    BaseEstimator,
    RegressorMixin,
    target_vector,
    warn_convergence,
)
from torchlinear.estimators._base import LinearPredictionMixin
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
        The convergence criterion: L-BFGS-B stops when every component of the projected
        gradient (with respect to the standardized-feature parameters) is at most ``tol``,
        or when the objective no longer decreases by 64 machine epsilons, relative. A
        ``ConvergenceWarning`` says when neither happened, or when the scale fell to its
        lower bound (``epsilon`` at or near 1 with every residual an outlier: the problem
        has become least absolute deviations, whose non-smooth minimum L-BFGS-B cannot
        certify; :class:`QuantileRegressor` solves that one exactly).

    Attributes
    ----------
    coef_ : numpy.ndarray, shape (d,)
    intercept_ : float
    scale_ : float
        The estimated scale :math:`\sigma` of the residuals.
    outliers_ : numpy.ndarray of bool, shape (n,)
        Rows whose absolute residual exceeds ``epsilon * scale_``.
    n_iter_ : int
        L-BFGS-B iterations run.
    converged_ : bool
        Whether the criterion of ``tol`` was met.
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
        scale_floor = 10 * float(np.finfo(np.float64).eps)
        bounds = [(None, None)] * (len(theta0) - 1) + [(scale_floor, None)]
        from scipy import optimize  # loaded by the fits that use it (~0.15 s, 16 MB at start-up)

        result = optimize.minimize(
            _huber_objective,
            theta0,
            args=(X_np, y_np, s, epsilon, alpha, fit_intercept, center, spread),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iter, "gtol": tol, "ftol": 64 * np.finfo(np.float64).eps},
        )
        theta = result.x
        self.n_iter_ = int(min(result.nit, max_iter))
        coef = theta[:d] / spread
        self.coef_ = coef
        self.intercept_ = float(theta[d] - center @ coef) if fit_intercept else 0.0
        self.scale_ = float(theta[-1])
        residual = np.abs(y_np - X_np @ self.coef_ - self.intercept_)
        self.outliers_ = residual > self.scale_ * epsilon
        collapsed = theta[-1] <= 2 * scale_floor
        # the scale also collapses when a line fits every row (up to the rounding of y):
        # that fit is exact, with no outlier
        exact = collapsed and bool(
            (residual <= 64 * scale_floor * max(1.0, float(np.abs(y_np).max()))).all()
        )
        self.converged_ = bool(result.success) and not collapsed or exact
        if exact:
            self.outliers_[:] = False
        elif collapsed:
            warn_convergence(
                f"HuberRegressor's scale fell to its lower bound ({theta[-1]:.3g}): with "
                f"epsilon={epsilon:g} every residual is an outlier and the objective is "
                "least absolute deviations, whose non-smooth minimum L-BFGS-B cannot "
                "certify; use a larger epsilon, or QuantileRegressor(quantile=0.5) for "
                "least absolute deviations",
                stacklevel=2,
            )
        elif not result.success:
            g = result.jac.copy()
            at_bound = (theta[-1] <= scale_floor) & (g[-1] > 0)
            if at_bound:
                g[-1] = 0.0
            warn_convergence(
                f"HuberRegressor did not converge in {result.nit} iterations: the largest "
                f"projected gradient component is {np.abs(g).max():.3g} > tol {tol:g} "
                f"({result.message}); increase {{max_iter}}",
                stacklevel=2,
                params=("max_iter",),
            )
        return self
