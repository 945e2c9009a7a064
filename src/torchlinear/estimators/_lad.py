r"""Quantile regression as a linear program, solved to optimality (the LP behind
:class:`~torchlinear.estimators.robust.QuantileRegressor` and ``LinearRegression(loss="l1")``).

For a quantile :math:`q \in (0, 1)`, sample weights :math:`s_i` and
:math:`S = \sum_i s_i`, :func:`fit_lad` minimises

.. math::

    \frac1S \sum_i s_i\, \rho_q(y_i - x_i^\top w - b) + \alpha \|w\|_1,
    \qquad \rho_q(r) = \max(q r, (q - 1) r),

a linear program, with one of two solvers:

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
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
from threadpoolctl import threadpool_limits

from torchlinear._validation import overflow_error

__all__ = [
    "QUANTILE_SOLVERS",
    "as_arrays",
    "check_alpha",
    "check_bool",
    "check_quantile",
    "fit_lad",
]

QUANTILE_SOLVERS = ("ipm", "highs", "highs-ds", "highs-ipm")


def check_quantile(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"quantile must be a number strictly between 0 and 1, got {value!r}")
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"quantile must be strictly between 0 and 1, got {value!r}")
    return float(value)


def check_alpha(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.integer | np.floating)
        or not math.isfinite(float(value))
        or float(value) < 0
    ):
        raise ValueError(f"alpha must be a finite number >= 0, got {value!r}")
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def as_arrays(X: Any, y: Any, sample_weight: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
) -> Any:
    """min linear' beta + sum_i s_i rho_q(y_i - A_i beta) as an LP for HiGHS:
    variables (beta free, u >= 0, v >= 0) with A beta + u - v = y."""
    m, p = A.shape
    c = np.concatenate([np.zeros(p) if linear is None else linear, q * s, (1 - q) * s])
    eye = scipy.sparse.eye(m, format="csc")
    A_eq = scipy.sparse.hstack([scipy.sparse.csc_matrix(A), eye, -eye], format="csc")
    bounds = [(None, None)] * p + [(0, None)] * (2 * m)
    from scipy import optimize  # loaded by the fits that use it (~0.15 s, 16 MB at start-up)

    return optimize.linprog(
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
        raise _lp_failed(result)
    return result.x[:p], nit + int(getattr(result, "nit", 0)), rounds + 1


def _lp_failed(result: Any) -> ValueError:
    """HiGHS could not solve the LP (numerically): one line, with what to try."""
    return ValueError(
        f"the quantile-regression LP could not be solved ({result.message}); the "
        "features are probably on very different scales: rescale them (e.g. to unit "
        "standard deviation) and fit again"
    )


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
    q = check_quantile(quantile)
    alpha = check_alpha(alpha)
    fit_intercept = check_bool("fit_intercept", fit_intercept)
    if solver not in QUANTILE_SOLVERS:
        raise ValueError(f"solver must be one of {QUANTILE_SOLVERS}, got {solver!r}")
    X, y, s = as_arrays(X, y, sample_weight)
    n, d = X.shape
    S = float(s.sum())
    nonzero = s > 0
    X, y, s = X[nonzero], y[nonzero], s[nonzero]
    # with an intercept, centred columns give the same slopes (the intercept absorbs the
    # centre) and keep the LP well scaled when a column is far from 0 (timestamps)
    centre = X.mean(axis=0) if fit_intercept and len(X) else np.zeros(d)
    A = _design(X - centre if fit_intercept else X, fit_intercept)
    with np.errstate(over="ignore", invalid="ignore"):  # the interior point squares them
        squares = np.einsum("i,ij,ij->j", s, A, A), float((s * y) @ y)
    if not (np.isfinite(squares[0]).all() and math.isfinite(squares[1])):
        raise overflow_error()
    n_rows = len(A)
    # weights of mean one: the same minimiser, and the LP solvers' tolerances are absolute
    # (weights of 1e-8 left coefficients 0.8 off, of 1e20 made HiGHS fail)
    mean = float(s.mean())
    s, total = s / mean, S / mean
    A, y2, s2 = _with_penalty_rows(A, y, s, d, alpha * total)
    beta, info = _solve_lp(A, y2, s2, q, n_rows, solver, solver_params)
    info["objective"] = _pinball_total(A, y2, s2, q, beta) / total
    coef = beta[:d].copy()
    intercept = float(beta[d] - centre @ coef) if fit_intercept else 0.0
    return coef, intercept, info


def _solve_lp(
    A: np.ndarray,
    y: np.ndarray,
    s: np.ndarray,
    q: float,
    n_rows: int,
    solver: str,
    solver_params: dict | None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The LP's optimal ``beta`` (rows after ``n_rows`` are the penalty's pseudo-rows) and
    the solver's record (``solver``, ``n_iter``, and ``rounds`` for ``"ipm"``)."""
    info: dict[str, Any] = {"solver": solver}
    if solver == "ipm":
        # p x p products: one BLAS thread is fastest (idle threads spin on a busy machine)
        with threadpool_limits(limits=1):
            guess, ipm_iter = _interior_point(A, y, s, q)
            keep = np.zeros(len(A), dtype=bool)
            keep[n_rows:] = True
            beta, lp_iter, rounds = _exact_from_guess(A, y, s, q, guess, keep)
        info.update(n_iter=ipm_iter + lp_iter, rounds=rounds)
        return beta, info
    result = _highs(A, y, s, q, method=solver, options=solver_params)
    if result.status != 0:
        raise _lp_failed(result)
    info.update(n_iter=int(getattr(result, "nit", 0)))
    return result.x[: A.shape[1]], info
