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

``"highs"``
    The whole LP (``n`` equality rows) handed to SciPy's HiGHS (``linprog``), as
    scikit-learn does: the reference.
``"ipm"`` (the default)
    A primal-dual interior-point method (Mehrotra's predictor-corrector, on the LP's
    normal equations: one :math:`p \times p` float64 Cholesky factorisation per
    iteration, :math:`O(n p^2)`) finds a nearly optimal :math:`w`. Its residuals then
    tell which rows will lie above and below the optimal hyperplane; HiGHS solves the LP
    restricted to the rows in doubt, with every other row's loss replaced by its linear
    piece on the predicted side. That restricted objective is a lower bound of the full
    one which equals it wherever the predicted sides hold, so when they hold at its
    minimiser (it is checked, and rows that fail are added back and the step repeated),
    the minimiser is the exact LP optimum — not an approximation of it.

The L1 penalty is folded into the LP as two pseudo-rows per coefficient (:math:`x = \pm
e_j`, :math:`y = 0`, weight :math:`\alpha S`, since :math:`\rho_q(t) + \rho_q(-t) = |t|`).

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
outliers. It is minimised by L-BFGS-B.

For data too large for memory, :func:`fit_quantile_gradient` runs minibatch gradient
descent on the pinball loss; its answer is approximate and it always says so with an
:class:`ApproximateSolutionWarning`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, column_or_1d
from threadpoolctl import threadpool_limits

from torchlinear.estimators._base import EstimatorInputMixin

__all__ = [
    "ApproximateSolutionWarning",
    "HuberRegressor",
    "QuantileRegressor",
    "fit_lad",
    "fit_quantile_gradient",
]

QUANTILE_SOLVERS = ("ipm", "highs", "highs-ds", "highs-ipm")


class ApproximateSolutionWarning(UserWarning):
    """A solver returned an approximate answer where an exact one was expected (e.g.
    quantile regression by gradient descent on data too large for the exact LP)."""


# ---------------------------------------------------------------------------- checks


def _check_quantile(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"quantile must be a number strictly between 0 and 1, got {value!r}")
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"quantile must be strictly between 0 and 1, got {value!r}")
    return float(value)


def _check_alpha(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.integer | np.floating)
        or not math.isfinite(float(value))
        or float(value) < 0
    ):
        raise ValueError(f"alpha must be a finite number >= 0, got {value!r}")
    return float(value)


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _as_arrays(X: Any, y: Any, sample_weight: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must have shape (n,) or (n, 1), got {y.shape}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"y has {len(y)} rows but X has {len(X)}")
    if not np.isfinite(y).all():
        bad = np.flatnonzero(~np.isfinite(y))
        raise ValueError(f"y has {len(bad)} NaN/inf value(s); the first is at row {bad[0]}")
    n = len(y)
    if sample_weight is None:
        s = np.ones(n)
    else:
        s = np.asarray(sample_weight, dtype=np.float64)
        if s.ndim == 0:
            s = np.full(n, float(s))
        if s.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},), got {s.shape}")
        if not np.isfinite(s).all() or (s < 0).any():
            raise ValueError("sample_weight must be finite and >= 0")
        if s.sum() <= 0:
            raise ValueError("sample_weight sums to zero; give at least one sample a weight > 0")
    return X, y, s


# ---------------------------------------------------------------------------- the LP


def _design(X: np.ndarray, fit_intercept: bool) -> np.ndarray:
    return np.hstack([X, np.ones((len(X), 1))]) if fit_intercept else X


def _with_penalty_rows(
    A: np.ndarray, y: np.ndarray, s: np.ndarray, d: int, penalty: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Append the pseudo-rows +-e_j (weight ``penalty``) that turn the L1 penalty on the
    first ``d`` columns into pinball losses."""
    if penalty <= 0:
        return A, y, s
    E = np.zeros((2 * d, A.shape[1]))
    E[np.arange(d), np.arange(d)] = 1.0
    E[d + np.arange(d), np.arange(d)] = -1.0
    return (
        np.vstack([A, E]),
        np.concatenate([y, np.zeros(2 * d)]),
        np.concatenate([s, np.full(2 * d, penalty)]),
    )


def _pinball_total(A: np.ndarray, y: np.ndarray, s: np.ndarray, q: float, beta: np.ndarray):
    r = y - A @ beta
    return float(s @ np.maximum(q * r, (q - 1) * r))


def _highs(
    A: np.ndarray,
    y: np.ndarray,
    s: np.ndarray,
    q: float,
    linear: np.ndarray | None = None,
    method: str = "highs",
    options: dict | None = None,
) -> scipy.optimize.OptimizeResult:
    """min linear' beta + sum_i s_i rho_q(y_i - A_i beta) as an LP for HiGHS:
    variables (beta free, u >= 0, v >= 0) with A beta + u - v = y."""
    m, p = A.shape
    c = np.concatenate([np.zeros(p) if linear is None else linear, q * s, (1 - q) * s])
    eye = scipy.sparse.eye(m, format="csc")
    A_eq = scipy.sparse.hstack([scipy.sparse.csc_matrix(A), eye, -eye], format="csc")
    bounds = [(None, None)] * p + [(0, None)] * (2 * m)
    return scipy.optimize.linprog(
        c, A_eq=A_eq, b_eq=y, bounds=bounds, method=method, options=options or {}
    )


def _interior_point(
    A: np.ndarray, y: np.ndarray, s: np.ndarray, q: float, max_iter: int = 100, tol: float = 1e-10
) -> tuple[np.ndarray, int]:
    r"""Mehrotra predictor-corrector on the dual of the pinball LP,

    max y'x  s.t.  A'x = (1 - q) A's,  0 <= x <= s,

    whose multipliers are the coefficients :math:`\beta`. Returns (beta, iterations)."""
    N, p = A.shape
    b = (1 - q) * (A.T @ s)
    x = (1 - q) * s  # feasible: A'x = b exactly
    sl = s - x  # slack of the upper bound
    ridge = 1e-12 * max(1.0, float(np.einsum("ij,ij->", A, A)) / N)
    M = A.T @ (A * s[:, None]) + ridge * np.eye(p)
    beta = scipy.linalg.solve(M, A.T @ (s * y), assume_a="pos")
    r = y - A @ beta
    shift = 1e-3 * max(float(np.mean(np.abs(r))), 1e-12)
    omega = np.maximum(r, 0) + shift  # pairs with sl
    zeta = np.maximum(-r, 0) + shift  # pairs with x
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 (returned)
        rp = b - A.T @ x
        rd = y - A @ beta - omega + zeta
        primal, dual = y @ x, b @ beta + s @ omega
        gap = dual - primal
        if gap <= tol * (1 + abs(dual)) and np.abs(rp).max() <= 1e-8 * (1 + np.abs(b).max()):
            break
        Dinv = omega / sl + zeta / x
        D = 1.0 / Dinv
        M = A.T @ (A * D[:, None])
        M[np.diag_indices(p)] += ridge
        try:
            factor = scipy.linalg.cho_factor(M, check_finite=False)
        except np.linalg.LinAlgError:
            break

        state = (A, factor, D, rp, rd, x, sl, zeta, omega)
        mu = (x @ zeta + sl @ omega) / (2 * N)
        dx, dbeta, dzeta, domega = _ipm_direction(state, -x * zeta, -sl * omega)
        ap, ad = _ipm_steps(state, dx, dzeta, domega)
        mu_aff = ((x + ap * dx) @ (zeta + ad * dzeta) + (sl - ap * dx) @ (omega + ad * domega)) / (
            2 * N
        )
        sigma = (mu_aff / mu) ** 3
        dx, dbeta, dzeta, domega = _ipm_direction(
            state, sigma * mu - x * zeta - dx * dzeta, sigma * mu - sl * omega + dx * domega
        )
        ap, ad = _ipm_steps(state, dx, dzeta, domega)
        ap, ad = 0.99995 * ap, 0.99995 * ad
        x = x + ap * dx
        sl = sl - ap * dx
        beta = beta + ad * dbeta
        zeta = zeta + ad * dzeta
        omega = omega + ad * domega
        x = np.maximum(x, 1e-300)
        sl = np.maximum(sl, 1e-300)
    return beta, iterations


def _ipm_direction(state: tuple, r_xz: np.ndarray, r_sw: np.ndarray) -> tuple[np.ndarray, ...]:
    """Newton direction of the interior-point method for complementarity targets
    ``r_xz`` (x * zeta) and ``r_sw`` (slack * omega), via the p x p normal equations."""
    A, factor, D, rp, rd, x, sl, zeta, omega = state
    rho = rd - r_sw / sl + r_xz / x
    dbeta = scipy.linalg.cho_solve(factor, A.T @ (D * rho) - rp, check_finite=False)
    dx = D * (rho - A @ dbeta)
    dzeta = (r_xz - zeta * dx) / x
    domega = (r_sw + omega * dx) / sl
    return dx, dbeta, dzeta, domega


def _ipm_steps(state: tuple, dx: np.ndarray, dzeta: np.ndarray, domega: np.ndarray):
    """Largest primal and dual steps (at most 1) that keep every variable >= 0."""
    x, sl, zeta, omega = state[5:]
    ap = min(1.0, _max_step(x, dx), _max_step(sl, -dx))
    ad = min(1.0, _max_step(zeta, dzeta), _max_step(omega, domega))
    return ap, ad


def _max_step(v: np.ndarray, dv: np.ndarray) -> float:
    neg = dv < 0
    if not neg.any():
        return math.inf
    return float(np.min(-v[neg] / dv[neg]))


def _exact_from_guess(
    A: np.ndarray, y: np.ndarray, s: np.ndarray, q: float, beta: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, int, int]:
    """Exact LP optimum from a nearly optimal ``beta``: HiGHS on the rows in doubt, every
    other row's loss replaced by its linear piece on the side ``beta`` puts it; repeated
    with more rows until the sides hold at the restricted minimiser (which is then the
    full problem's minimiser). ``keep`` marks rows always kept (the penalty's pseudo-rows).
    Returns (beta, HiGHS iterations, rounds)."""
    N, p = A.shape
    r = y - A @ beta
    order = np.argsort(np.abs(r) * np.where(keep, 0.0, 1.0), kind="stable")
    m = min(N, max(50 * p, 1000, int(keep.sum()) + 20 * p))
    nit = 0
    for rounds in range(1, 30):
        K = np.zeros(N, dtype=bool)
        K[order[:m]] = True
        K |= keep
        # rows whose residual is (nearly) zero are in doubt too
        K |= np.abs(r) <= 1e-9 * (1 + np.abs(y))
        F = ~K
        side = r[F] > 0
        weights = s[F] * np.where(side, q, q - 1)  # loss = weights * (y - a beta) there
        linear = -(A[F].T @ weights)
        result = _highs(A[K], y[K], s[K], q, linear=linear, method="highs")
        nit += int(getattr(result, "nit", 0))
        if result.status == 0:
            new = result.x[:p]
            r_new = y - A @ new
            wrong = F.copy()
            wrong[F] = np.where(side, r_new[F] < 0, r_new[F] > 0)
            if not wrong.any():
                return new, nit, rounds
            r = r_new
            order = np.argsort(np.abs(r) * np.where(keep, 0.0, 1.0), kind="stable")
        if m >= N:
            break
        m = min(N, 2 * m)
    # not settled: the whole LP
    result = _highs(A, y, s, q, method="highs")
    if result.status != 0:
        raise RuntimeError(f"HiGHS failed on the quantile regression LP: {result.message}")
    return result.x[:p], nit + int(getattr(result, "nit", 0)), rounds + 1


def fit_lad(
    X: Any,
    y: Any,
    sample_weight: Any = None,
    quantile: float = 0.5,
    alpha: float = 0.0,
    fit_intercept: bool = True,
    *,
    solver: str = "ipm",
    solver_params: dict | None = None,
) -> tuple[np.ndarray, float, dict[str, Any]]:
    r"""Exact least absolute deviations / quantile regression (the LP solved to optimality).

    Minimises :math:`\frac1S \sum_i s_i \rho_q(y_i - x_i^\top w - b) + \alpha\|w\|_1` (see
    the module notes), the objective of scikit-learn's ``QuantileRegressor``.

    Parameters
    ----------
    X : array-like, shape (n, d)
    y : array-like, shape (n,)
    sample_weight : array-like, shape (n,), optional
        Non-negative weights (rows of weight zero are dropped).
    quantile : float, default 0.5
        In (0, 1); 0.5 is least absolute deviations.
    alpha : float, default 0
        L1 penalty on ``w`` (not on the intercept), on the scale of the *mean* loss.
    fit_intercept : bool, default True
    solver : {"ipm", "highs", "highs-ds", "highs-ipm"}, default "ipm"
        ``"ipm"``: interior point, then the exact restricted LP (see the module notes);
        the others: the whole LP with that SciPy ``linprog`` method.
    solver_params : dict, optional
        Options for ``scipy.optimize.linprog`` (the ``"highs*"`` solvers).

    Returns
    -------
    coef : numpy.ndarray, shape (d,)
    intercept : float
    info : dict
        ``objective`` (the minimum above), ``n_iter`` (interior-point plus simplex
        iterations), ``solver``, and for ``"ipm"`` ``rounds`` (restricted LPs solved).

    Examples
    --------
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> y = 2 * X[:, 0] + 1
    >>> y[3] = 100.0  # an outlier does not move the median line
    >>> coef, intercept, info = fit_lad(X, y)
    >>> round(float(coef[0]), 6), round(intercept, 6)
    (2.0, 1.0)
    """
    q = _check_quantile(quantile)
    alpha = _check_alpha(alpha)
    fit_intercept = _check_bool("fit_intercept", fit_intercept)
    if solver not in QUANTILE_SOLVERS:
        raise ValueError(f"solver must be one of {QUANTILE_SOLVERS}, got {solver!r}")
    X, y, s = _as_arrays(X, y, sample_weight)
    n, d = X.shape
    S = float(s.sum())
    nonzero = s > 0
    X, y, s = X[nonzero], y[nonzero], s[nonzero]
    A = _design(X, fit_intercept)
    n_rows = len(A)
    A, y2, s2 = _with_penalty_rows(A, y, s, d, alpha * S)
    p = A.shape[1]
    info: dict[str, Any] = {"solver": solver}
    if solver == "ipm":
        # p x p products: one BLAS thread is fastest (idle threads spin on a busy machine)
        with threadpool_limits(limits=1):
            guess, ipm_iter = _interior_point(A, y2, s2, q)
            keep = np.zeros(len(A), dtype=bool)
            keep[n_rows:] = True
            beta, lp_iter, rounds = _exact_from_guess(A, y2, s2, q, guess, keep)
        info.update(n_iter=ipm_iter + lp_iter, rounds=rounds)
    else:
        result = _highs(A, y2, s2, q, method=solver, options=solver_params)
        if result.status != 0:
            raise RuntimeError(f"HiGHS failed on the quantile regression LP: {result.message}")
        beta = result.x[:p]
        info.update(n_iter=int(getattr(result, "nit", 0)))
    info["objective"] = _pinball_total(A, y2, s2, q, beta) / S
    coef = beta[:d].copy()
    intercept = float(beta[d]) if fit_intercept else 0.0
    return coef, intercept, info


def fit_quantile_gradient(
    batches: Callable[[], Iterable[tuple[Any, ...]]],
    n_features: int,
    *,
    quantile: float = 0.5,
    alpha: float = 0.0,
    fit_intercept: bool = True,
    epochs: int = 10,
    lr: float = 0.01,
) -> tuple[np.ndarray, float, dict[str, Any]]:
    r"""Approximate quantile regression by minibatch gradient descent, for data that does
    not fit in memory. Always warns: the answer is *not* the LP optimum.

    Runs Adam with a step size decaying as :math:`1/\sqrt{t}` over the epochs on the
    objective of :func:`fit_lad` (subgradients of the pinball loss and the L1 penalty).
    Use :func:`fit_lad` whenever
    the data fits in memory.

    Parameters
    ----------
    batches : callable
        Returns a fresh iterable of ``(X, y)`` or ``(X, y, sample_weight)`` array batches
        each time it is called (once per epoch).
    n_features : int
    quantile, alpha, fit_intercept :
        As for :func:`fit_lad`.
    epochs : int, default 10
    lr : float, default 0.01

    Returns
    -------
    coef, intercept, info
        As :func:`fit_lad`; ``info["objective"]`` is the last epoch's mean objective.

    Warns
    -----
    ApproximateSolutionWarning
        Always.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 2)); y = X @ [1.0, -2.0] + 0.5
    >>> chunks = lambda: ((X[i : i + 500], y[i : i + 500]) for i in range(0, 2000, 500))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     coef, intercept, info = fit_quantile_gradient(chunks, 2, epochs=30, lr=0.05)
    >>> caught[0].category.__name__
    'ApproximateSolutionWarning'
    """
    import torch

    q = _check_quantile(quantile)
    alpha = _check_alpha(alpha)
    w = torch.zeros(n_features, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=fit_intercept)
    params = [w, b] if fit_intercept else [w]
    optimizer = torch.optim.Adam(params, lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1 / math.sqrt(1 + t))
    objective = math.nan
    for _ in range(int(epochs)):
        total, weight = 0.0, 0.0
        for batch in batches():
            Xb = torch.as_tensor(np.asarray(batch[0], dtype=np.float64))
            yb = torch.as_tensor(np.asarray(batch[1], dtype=np.float64)).reshape(-1)
            sb = (
                torch.as_tensor(np.asarray(batch[2], dtype=np.float64))
                if len(batch) > 2
                else torch.ones(len(yb), dtype=torch.float64)
            )
            r = yb - Xb @ w - (b if fit_intercept else 0.0)
            loss = (sb * torch.maximum(q * r, (q - 1) * r)).sum() / sb.sum()
            value = loss + alpha * w.abs().sum()
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            total += float(loss.detach()) * float(sb.sum())
            weight += float(sb.sum())
        schedule.step()
        objective = total / max(weight, 1e-300) + alpha * float(w.detach().abs().sum())
    warnings.warn(
        "quantile regression by minibatch gradient descent is approximate: its objective "
        f"({objective:.6g}) is above the exact LP optimum by an unknown amount; use "
        "fit_lad (or QuantileRegressor) on data that fits in memory",
        ApproximateSolutionWarning,
        stacklevel=2,
    )
    coef = w.detach().numpy().copy()
    intercept = float(b.detach()[0]) if fit_intercept else 0.0
    return coef, intercept, {"objective": objective, "n_iter": int(epochs), "solver": "adam"}


class QuantileRegressor(EstimatorInputMixin, RegressorMixin, BaseEstimator):
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

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> QuantileRegressor:
        """Fit to ``X`` (n, d) and ``y`` (n,) with optional ``sample_weight``; return self.

        Raises
        ------
        ValueError
            ``quantile`` outside (0, 1), ``alpha`` < 0, an unknown ``solver``, or bad data.
        """
        _check_quantile(self.quantile)
        _check_alpha(self.alpha)
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

    def predict(self, X: Any) -> np.ndarray:
        """Predicted ``quantile`` of ``y`` for each row, shape (n,)."""
        check_is_fitted(self, "coef_")
        return self._validate_X_numpy(X, reset=False) @ self.coef_ + self.intercept_

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _target_numpy(y: Any, n: int) -> np.ndarray:
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    y = np.asarray(y)
    if y.dtype == object:
        y = y.astype(np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
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
) -> tuple[float, np.ndarray]:
    """Huber's joint objective in (w, b, sigma) (module notes) and its gradient."""
    d = X.shape[1]
    w, sigma = theta[:d], theta[-1]
    r = y - X @ w - (theta[d] if fit_intercept else 0.0)
    outlier = np.abs(r) > epsilon * sigma
    s_in, s_out = np.where(outlier, 0.0, s), np.where(outlier, s, 0.0)
    f = (
        sigma * s.sum()
        + (s_in @ (r * r)) / sigma
        + s_out @ (2 * epsilon * np.abs(r) - epsilon**2 * sigma)
        + alpha * (w @ w)
    )
    d_r = 2 * s_in * r / sigma + 2 * epsilon * s_out * np.sign(r)  # df / dr_i
    grad = [-(X.T @ d_r) + 2 * alpha * w]
    if fit_intercept:
        grad.append([-d_r.sum()])
    grad.append([s.sum() - (s_in @ (r * r)) / sigma**2 - epsilon**2 * s_out.sum()])
    return float(f), np.concatenate(grad)


class HuberRegressor(EstimatorInputMixin, RegressorMixin, BaseEstimator):
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
        gradient is at most ``tol`` (or when the objective's relative decrease falls below
        about 2e-9, SciPy's default). A ``ConvergenceWarning`` says when neither happened.

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
        alpha = _check_alpha(self.alpha)
        it = self.max_iter
        if isinstance(it, bool) or not isinstance(it, int | np.integer) or it < 1:
            raise ValueError(f"max_iter must be an integer >= 1, got {it!r}")
        tol = self.tol
        if isinstance(tol, bool) or not isinstance(tol, int | float | np.integer | np.floating):
            raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
        if not math.isfinite(float(tol)) or float(tol) < 0:
            raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
        _check_bool("fit_intercept", self.fit_intercept)
        _check_bool("warm_start", self.warm_start)
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
        X_np, y_np, s = _as_arrays(X_np, y_np, sample_weight)
        d = X_np.shape[1]
        fit_intercept = bool(self.fit_intercept)
        theta0 = np.zeros(d + int(fit_intercept) + 1)
        theta0[-1] = 1.0
        if self.warm_start and getattr(self, "coef_", None) is not None:
            if len(self.coef_) == d:
                theta0[:d] = self.coef_
                if fit_intercept:
                    theta0[d] = self.intercept_
                theta0[-1] = self.scale_
        bounds = [(None, None)] * (len(theta0) - 1) + [(10 * np.finfo(np.float64).eps, None)]
        result = scipy.optimize.minimize(
            _huber_objective,
            theta0,
            args=(X_np, y_np, s, epsilon, alpha, fit_intercept),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iter, "gtol": tol},
        )
        theta = result.x
        self.n_iter_ = int(min(result.nit, max_iter))
        self.converged_ = bool(result.success)
        if not result.success:
            g = result.jac.copy()
            at_bound = (theta[-1] <= bounds[-1][0]) & (g[-1] > 0)
            if at_bound:
                g[-1] = 0.0
            warnings.warn(
                f"HuberRegressor did not converge in {result.nit} iterations: the largest "
                f"projected gradient component is {np.abs(g).max():.3g} > tol {tol:g} "
                f"({result.message}); increase max_iter or scale the features",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.coef_ = theta[:d].copy()
        self.intercept_ = float(theta[d]) if fit_intercept else 0.0
        self.scale_ = float(theta[-1])
        residual = np.abs(y_np - X_np @ self.coef_ - self.intercept_)
        self.outliers_ = residual > self.scale_ * epsilon
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predictions ``X @ coef_ + intercept_``, shape (n,)."""
        check_is_fitted(self, "coef_")
        return self._validate_X_numpy(X, reset=False) @ self.coef_ + self.intercept_

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
