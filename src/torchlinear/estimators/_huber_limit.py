r"""The limit of Huber's joint objective as the scale falls to zero, solved exactly.

Behind :class:`~torchlinear.estimators.robust.HuberRegressor`. With residuals
:math:`r_i = y_i - a_i^\top\beta` (:math:`a_i` a row of the standardized design and
:math:`\beta` its coefficients, intercept last), the joint objective
:math:`F(\beta, \sigma) = \sum_i s_i (\sigma + \sigma H_\varepsilon(r_i/\sigma)) + \alpha
\|w\|^2` is convex, and as :math:`\sigma \to 0^+` it tends to

.. math::

    G(\beta) = 2\varepsilon \sum_i s_i |r_i| + \alpha \|w\|^2,

weighted least absolute deviations (a ridge penalty added when :math:`\alpha > 0`). Because
:math:`H_\varepsilon(z) \ge 2\varepsilon|z| - \varepsilon^2`, the infimum of :math:`F` is
reached there when :math:`\varepsilon = 1`, and often for :math:`\varepsilon` near 1 or few
rows per coefficient; L-BFGS-B then drives :math:`\sigma` towards 0 and stalls in a
non-smooth valley.

:func:`solve_limit` minimises :math:`G` exactly: for :math:`\alpha = 0` by the linear
program of :func:`~torchlinear.estimators._lad.fit_lad`; for :math:`\alpha > 0` by
Newton's method on the Huber-smoothed :math:`G` (the objective at a fixed scale
:math:`\mu`, piecewise quadratic, so that Newton ends in finitely many steps) for
decreasing :math:`\mu`. Either guess then only has to tell which rows the minimiser
interpolates (:math:`Z`, :math:`r_i = 0`) and the sign of every other residual: the
optimality conditions with that pattern are linear, and are solved exactly.

:func:`certify` checks any point against them: it looks for multipliers
:math:`g_i \in [-1, 1]` of the rows of :math:`Z` with

.. math::

    \sum_{i \in Z} s_i g_i a_i = \tfrac{\alpha}{\varepsilon} P\beta
    - \sum_{i \notin Z} s_i \operatorname{sign}(r_i) a_i

(:math:`P\beta` the penalized part), which proves :math:`\beta` minimises :math:`G`.
With them, the derivative of :math:`F` at :math:`(\beta, 0^+)` along any direction that
raises :math:`\sigma` by 1 is at least

.. math::

    c = (1 - \varepsilon^2) \sum_{i \notin Z} s_i + \sum_{i \in Z} s_i (1 - \varepsilon^2 g_i^2)

(minimise :math:`2\varepsilon g_i u + H_\varepsilon(u)` over the row's change :math:`u`),
so :math:`c \ge 0` proves that no scale :math:`\sigma > 0` does better: :math:`G(\beta)` is
the infimum of :math:`F`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from torchlinear.estimators._lad import fit_lad

__all__ = ["Design", "LimitPoint", "certify", "solve_limit"]

_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Design:
    """The standardized design ``a_i = ((x_i - center) / spread, 1)`` (the 1 with an
    intercept), used through products so that ``X`` is never copied whole."""

    X: np.ndarray
    center: np.ndarray
    spread: np.ndarray
    fit_intercept: bool

    @property
    def p(self) -> int:
        return self.X.shape[1] + int(self.fit_intercept)

    def original(self, beta: np.ndarray) -> tuple[np.ndarray, float]:
        """The coefficients and intercept of the original features."""
        coef = beta[: self.X.shape[1]] / self.spread
        return coef, float(beta[-1] - self.center @ coef) if self.fit_intercept else 0.0

    def predict(self, beta: np.ndarray) -> np.ndarray:
        coef, intercept = self.original(beta)
        return self.X @ coef + intercept

    def rounding(self, beta: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per row, a bound of the rounding error of its residual (a multiple of the
        magnitudes summed in it)."""
        coef, intercept = self.original(beta)
        return 1024 * _EPS * (np.abs(y) + np.abs(self.X) @ np.abs(coef) + abs(intercept))

    def transpose_times(self, u: np.ndarray) -> np.ndarray:
        """``A.T @ u``."""
        total = u.sum()
        head = (self.X.T @ u - self.center * total) / self.spread
        return np.append(head, total) if self.fit_intercept else head

    def rows(self, idx: np.ndarray) -> np.ndarray:
        head = (self.X[idx] - self.center) / self.spread
        return np.hstack([head, np.ones((len(head), 1))]) if self.fit_intercept else head

    def penalty(self) -> np.ndarray:
        """The diagonal ``P`` with ``alpha * beta @ (P * beta) = alpha * ||w||^2``."""
        P = 1.0 / self.spread**2
        return np.append(P, 0.0) if self.fit_intercept else P


@dataclass(frozen=True)
class LimitPoint:
    """A minimiser of the limit objective ``G`` and what is proven about it."""

    beta: np.ndarray
    """Coefficients of the standardized design (intercept last)."""
    objective: float
    """``G(beta)``."""
    zero: np.ndarray
    """Rows interpolated (residual zero up to rounding)."""
    optimal: bool
    """Multipliers were found: ``beta`` minimises ``G``."""
    slope: float
    """The lower bound ``c`` of the derivative of ``F`` along the scale (NaN unless
    ``optimal``); ``c >= 0`` makes ``G(beta)`` the infimum of ``F``."""


def certify(
    design: Design, y: np.ndarray, s: np.ndarray, epsilon: float, alpha: float, beta: np.ndarray
) -> LimitPoint:
    """Check ``beta`` against the optimality conditions of ``G`` (module notes): find the
    multipliers of the interpolated rows, and from them the slope ``c``."""
    r = y - design.predict(beta)
    zero = (np.abs(r) <= design.rounding(beta, y)) & (s > 0)
    other = ~zero & (s > 0)
    rhs = (alpha / epsilon) * design.penalty() * beta - design.transpose_times(
        np.where(other, s * np.sign(r), 0.0)
    )
    idx = np.flatnonzero(zero)
    root = np.sqrt(s[idx])
    M = design.rows(idx).T * root  # (p, |Z|): the least-norm sum_i s_i g_i^2 is sought
    # the equation holds to rounding, relative to the size of its terms (standardized
    # columns: sum_i s_i |a_ij| <= S)
    scale = float(s.sum() + np.abs(rhs).max())
    g = np.zeros(0)
    optimal = False
    if len(idx):
        u = scipy.linalg.lstsq(M, rhs, lapack_driver="gelsd")[0]
        g = u / root
        optimal = bool(np.abs(M @ u - rhs).max() <= 1e-9 * scale and np.abs(g).max() <= 1 + 1e-9)
    else:
        optimal = bool(np.abs(rhs).max() <= 1e-9 * scale)
    slope = float("nan")
    if optimal:
        g = np.clip(g, -1.0, 1.0)
        slope = float((1 - epsilon**2) * s[other].sum() + s[idx] @ (1 - epsilon**2 * g * g))
    objective = float(2 * epsilon * (s @ np.abs(r)) + alpha * beta @ (design.penalty() * beta))
    return LimitPoint(beta, objective, zero, optimal, slope)


def _finish(
    design: Design,
    y: np.ndarray,
    s: np.ndarray,
    epsilon: float,
    alpha: float,
    zero: np.ndarray,
    sign: np.ndarray,
) -> np.ndarray | None:
    """The exact minimiser of ``G`` if it interpolates the rows ``zero`` and the others'
    residuals have the signs ``sign``: the optimality conditions for that pattern, solved
    as a linear system (None when it is too large to form)."""
    idx = np.flatnonzero(zero)
    A_Z = design.rows(idx)
    p = design.p
    if alpha == 0:
        return scipy.linalg.lstsq(A_Z, y[idx], lapack_driver="gelsd")[0]
    if len(idx) > 4000:
        return None
    # 2 alpha P beta - 2 eps A_Z' lam = 2 eps A_O' (s sign),  A_Z beta = y_Z
    q = design.transpose_times(np.where(zero, 0.0, s * sign))
    K = np.zeros((p + len(idx), p + len(idx)))
    K[:p, :p] = np.diag((alpha / epsilon) * design.penalty())
    K[:p, p:] = -A_Z.T
    K[p:, :p] = A_Z
    solution = scipy.linalg.lstsq(K, np.concatenate([q, y[idx]]), lapack_driver="gelsd")[0]
    return solution[:p]


def _smoothed(
    design: Design,
    y: np.ndarray,
    s: np.ndarray,
    epsilon: float,
    alpha: float,
    mu: float,
    beta: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray]:
    """``G`` smoothed at scale ``mu`` (Huber's function, threshold ``epsilon * mu``), its
    gradient and the mask of rows on its quadratic piece."""
    r = y - design.predict(beta)
    inner = np.abs(r) <= epsilon * mu
    P = design.penalty()
    f = (s @ np.where(inner, r * r / mu, 2 * epsilon * np.abs(r) - epsilon**2 * mu)) + alpha * (
        beta @ (P * beta)
    )
    slope = np.where(inner, 2 * r / mu, 2 * epsilon * np.sign(r))
    grad = -design.transpose_times(s * slope) + 2 * alpha * P * beta
    return float(f), grad, inner


def _newton(
    design: Design,
    y: np.ndarray,
    s: np.ndarray,
    epsilon: float,
    alpha: float,
    mu: float,
    beta: np.ndarray,
) -> np.ndarray:
    """The minimiser of the smoothed ``G`` at scale ``mu``, by Newton's method with
    backtracking (exact once the quadratic piece is found; ``alpha > 0``)."""
    P = design.penalty()
    f, grad, inner = _smoothed(design, y, s, epsilon, alpha, mu, beta)
    for _ in range(100):
        idx = np.flatnonzero(inner & (s > 0))
        lent = len(idx) < design.p
        weights = np.where(inner, 2 / mu, 0.0) * s
        if lent:
            # too few rows on the quadratic piece to curve every direction: the others
            # lend the curvature of the quadratic above 2 eps |r| that touches it at their
            # residual, 2 eps / |r| (reweighted least squares; the backtracking keeps
            # every step a decrease)
            r = np.abs(y - design.predict(beta))
            weights = np.where(inner, weights, 2 * epsilon * s / np.maximum(r, epsilon * mu))
            idx = np.flatnonzero(s > 0)
        H = np.diag(2 * alpha * P)
        for start in range(0, len(idx), 8192):  # the rows in blocks: X is not copied whole
            rows = idx[start : start + 8192]
            A_I = design.rows(rows)
            H += (A_I.T * weights[rows]) @ A_I
        H[np.diag_indices_from(H)] += 1e-14 * max(float(np.trace(H)), 1e-300)
        step = -scipy.linalg.solve(H, grad, assume_a="pos")
        t, decrease = 1.0, float(grad @ step)
        if decrease >= 0:
            break
        while True:
            f_new, grad_new, inner_new = _smoothed(
                design, y, s, epsilon, alpha, mu, beta + t * step
            )
            if f_new <= f + 1e-4 * t * decrease:
                break
            t /= 2
            if t < 1e-12:  # no decrease along the step (rounding): the minimiser
                return beta
        beta = beta + t * step
        same = bool((inner_new == inner).all())
        f, grad, inner = f_new, grad_new, inner_new
        exact = t == 1.0 and same and not lent  # the minimum of the quadratic piece
        if exact or np.abs(t * step).max() <= 1e-15 * (1 + np.abs(beta).max()):
            break
    return beta


def _pattern_start(
    design: Design,
    y: np.ndarray,
    s: np.ndarray,
    epsilon: float,
    alpha: float,
    mu: float,
    beta: np.ndarray,
    inner: np.ndarray,
) -> np.ndarray:
    """A start for Newton's method at the scale ``mu``: the minimiser of the smoothed
    ``G`` with the rows ``inner`` on the quadratic piece and every other residual keeping
    the sign it has at ``beta``, when it is lower than ``beta`` (after the scale shrinks,
    the rows that were inside usually all start outside, where Newton's step is blind)."""
    r = y - design.predict(beta)
    idx = np.flatnonzero(inner & (s > 0))
    A_I = design.rows(idx)
    P = design.penalty()
    H = (2 / mu) * (A_I.T * s[idx]) @ A_I + np.diag(2 * alpha * P)
    H[np.diag_indices_from(H)] += 1e-14 * max(float(np.trace(H)), 1e-300)
    rhs = (2 / mu) * A_I.T @ (s[idx] * y[idx]) + 2 * epsilon * design.transpose_times(
        np.where(inner, 0.0, s * np.sign(r))
    )
    candidate = scipy.linalg.solve(H, rhs, assume_a="pos")
    before = _smoothed(design, y, s, epsilon, alpha, mu, beta)[0]
    after = _smoothed(design, y, s, epsilon, alpha, mu, candidate)[0]
    return candidate if after < before else beta


def solve_limit(
    design: Design,
    y: np.ndarray,
    s: np.ndarray,
    epsilon: float,
    alpha: float,
    start: np.ndarray,
) -> LimitPoint:
    """Minimise the limit objective ``G`` (module notes) exactly, from the point ``start``
    (coefficients of the standardized design), and certify the answer."""
    if alpha == 0:
        coef, intercept, _ = fit_lad(
            design.X, y, s, quantile=0.5, alpha=0.0, fit_intercept=design.fit_intercept
        )
        guess = coef * design.spread
        if design.fit_intercept:
            guess = np.append(guess, intercept + design.center @ coef)
        return _polish(design, y, s, epsilon, alpha, guess)
    beta = start
    r = y - design.predict(beta)
    mu = float(s @ np.abs(r) / s.sum()) / epsilon  # from the mean absolute residual
    floor = float(np.abs(y).max()) * _EPS
    best = certify(design, y, s, epsilon, alpha, beta)
    inner = None
    while mu > floor:
        if inner is not None:  # the last pattern's minimiser at the new scale
            beta = _pattern_start(design, y, s, epsilon, alpha, mu, beta, inner)
        beta = _newton(design, y, s, epsilon, alpha, mu, beta)
        inner = _smoothed(design, y, s, epsilon, alpha, mu, beta)[2]
        point = _polish(design, y, s, epsilon, alpha, beta, mu)
        if point.objective < best.objective or point.optimal and not best.optimal:
            best = point
        if best.optimal:
            return best
        mu /= 2
    return best


def _polish(
    design: Design,
    y: np.ndarray,
    s: np.ndarray,
    epsilon: float,
    alpha: float,
    guess: np.ndarray,
    mu: float | None = None,
) -> LimitPoint:
    """Solve the optimality conditions with the pattern of ``guess`` (rows within
    ``epsilon * mu`` of the fit, or within a millionth of the residuals' scale, taken as
    interpolated) and certify the better of the two points."""
    r = y - design.predict(guess)
    if mu is None:
        mu = 1e-7 * float(np.abs(r).max()) + float(design.rounding(guess, y).max())
    zero = (np.abs(r) <= epsilon * mu) & (s > 0)
    first = certify(design, y, s, epsilon, alpha, guess)
    if first.optimal:
        return first
    beta = _finish(design, y, s, epsilon, alpha, zero, np.sign(r))
    if beta is None:
        return first
    second = certify(design, y, s, epsilon, alpha, beta)
    if second.optimal or second.objective < first.objective:
        return second
    return first
