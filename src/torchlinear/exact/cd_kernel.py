r"""The kernel of the exact elastic net: one scaled problem, solved at one ``alpha``.

:class:`ScaledProblem` centres and column-scales one set of
:class:`~torchlinear.exact.GramStats`; :func:`solve_alpha` minimises it at one penalty by
coordinate descent with covariance updates over a working set, an exact active-set step
and gap-safe screening, stopped on the duality gap. The algorithm, its notation and its
stopping rule are described in :mod:`torchlinear.exact.coordinate_descent`, which runs
this kernel along paths of ``alpha`` and cross-validates them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from torchlinear.exact._linalg import ROUNDING_RTOL
from torchlinear.exact.nnqp import default_rtol, solve_nnqp
from torchlinear.exact.stats import GramStats

__all__ = ["CDResult", "ScaledProblem", "solve_alpha", "solve_nonnegative"]

#: Relative gap at which a solution counts as exact when the active-set step cannot apply.
_POLISH_RTOL = 1e-13


@dataclass(frozen=True)
class ScaledProblem:
    r"""The centred, column-scaled quadratic of one set of statistics (float64 NumPy).

    ``gram`` is :math:`Q` (unit diagonal on the non-constant columns, zero rows and columns
    for constant ones), ``xty`` is :math:`q`, ``yty`` is :math:`c/W`, ``scale`` is
    :math:`D` (zero for constant columns), ``x_mean``/``y_mean`` the weighted means (zero
    without an intercept), ``weight_sum`` :math:`W`.
    """

    gram: np.ndarray
    xty: np.ndarray
    yty: float
    scale: np.ndarray
    x_mean: np.ndarray
    y_mean: float
    weight_sum: float
    n_samples: int
    fit_intercept: bool
    raw_xty: np.ndarray = field(repr=False)

    @property
    def n_features(self) -> int:
        return int(self.xty.shape[0])

    @property
    def free(self) -> np.ndarray:
        """Mask of the non-constant columns."""
        return self.scale > 0

    @classmethod
    def from_stats(cls, stats: GramStats, fit_intercept: bool = True) -> ScaledProblem:
        """Centre (if ``fit_intercept``) and scale ``stats`` of a single target."""
        if stats.n_targets != 1:
            raise ValueError(
                f"the penalized solver fits one target at a time; these statistics have "
                f"{stats.n_targets} targets"
            )
        W = float(stats.weight_sum)
        if not W > 0:
            raise ValueError(
                "the statistics hold no rows of positive weight; give at least one row a "
                "positive sample_weight"
            )
        G, B, C, raw = (t.detach().cpu().double().numpy() for t in stats.system(fit_intercept))
        diag = np.diagonal(G).copy()
        # constant: a spread within the rounding of the values (sums of squares, hence squared)
        constant = ~(diag > ROUNDING_RTOL**2 * np.maximum(raw, 0.0)) | ~(diag > 0)
        scale = np.where(constant, 0.0, np.sqrt(np.where(constant, 1.0, diag) / W))
        inv = np.where(constant, 0.0, 1.0 / np.where(constant, 1.0, scale))
        Q = G * inv[:, None] * inv[None, :] / W
        Q[constant, :] = 0.0
        Q[:, constant] = 0.0
        np.fill_diagonal(Q, np.where(constant, 0.0, 1.0))
        raw_xty = B[:, 0] / W
        q = raw_xty * inv
        if fit_intercept:
            mx, my = (t.detach().cpu().double().numpy() for t in stats.means())
            x_mean, y_mean = mx, float(my[0])
        else:
            x_mean, y_mean = np.zeros(stats.n_features), 0.0
        return cls(
            gram=np.ascontiguousarray(Q),
            xty=q,
            yty=max(float(C[0, 0]) / W, 0.0),
            scale=scale,
            x_mean=x_mean,
            y_mean=y_mean,
            weight_sum=W,
            n_samples=int(stats.n_samples),
            fit_intercept=bool(fit_intercept),
            raw_xty=raw_xty,
        )

    def rescale(self, coef: np.ndarray) -> np.ndarray:
        """Scaled ``beta`` from coefficients in the data's units."""
        return np.where(self.scale > 0, np.asarray(coef, dtype=np.float64) * self.scale, 0.0)

    def penalties(self, alpha: float, l1_ratio: float) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature L1 and L2 weights :math:`\\lambda_1, \\lambda_2` of the scaled problem."""
        inv = self.pen_scale
        return (alpha * l1_ratio) * inv, (alpha * (1.0 - l1_ratio)) * (inv * inv)

    @property
    def pen_scale(self) -> np.ndarray:
        """:math:`1/D_j` (1 for constant columns)."""
        cached = self.__dict__.get("_pen_scale")
        if cached is None:
            cached = 1.0 / np.where(self.scale > 0, self.scale, 1.0)
            object.__setattr__(self, "_pen_scale", cached)
        return cached


@dataclass
class _State:
    """Gap and gradient at a point of the scaled problem."""

    u: np.ndarray  # q - Q beta
    primal: float
    gap: float
    gap_lasso: float  # gap to the augmented-lasso dual point (drives screening)
    scale_dual: float


def _evaluate(
    p: ScaledProblem,
    beta: np.ndarray,
    l1: np.ndarray,
    l2: np.ndarray,
    positive: bool,
    pure_l1: bool,
    slack: np.ndarray | float = 0.0,
) -> _State:
    """The gap at ``beta``; ``slack`` widens the dual constraints (by their rounding)."""
    Qb = p.gram @ beta
    u = p.xty - Qb
    qb = float(p.xty @ beta)
    rr = max(p.yty - 2.0 * qb + float(beta @ Qb), 0.0)
    yr = p.yty - qb
    l2b = l2 * beta
    l2bb = float(l2b @ beta)
    primal = 0.5 * rr + float(l1 @ np.abs(beta)) + 0.5 * l2bb
    # augmented lasso: theta = s * [r; -sqrt(l2) beta], |x~_j' theta| <= l1_j
    # (constant columns have u_j = beta_j = 0 and take no part)
    v = u - l2b
    s = _dual_scale(v, l1 + slack, positive)
    d1 = s * yr - 0.5 * s * s * (rr + l2bb)
    gap1 = max(primal - d1, 0.0)
    gap = gap1
    if not pure_l1:  # Fenchel dual of the penalty with nu = r (every l2_j > 0)
        excess = np.maximum((u if positive else np.abs(u)) - l1 - slack, 0.0)
        d2 = yr - 0.5 * rr - 0.5 * float(excess @ (excess / l2))
        gap = min(gap1, max(primal - d2, 0.0))
    return _State(u, primal, gap, gap1, s)


def _dual_scale(v: np.ndarray, bound: np.ndarray, positive: bool) -> float:
    """Largest s in [0, 1] with s * v_j <= bound_j (|s v_j| <= bound_j unless positive)."""
    mag = np.maximum(v, 0.0) if positive else np.abs(v)
    over = mag > bound  # there mag > bound >= 0: no division by zero
    if not over.any():
        return 1.0
    return min(1.0, float((bound[over] / mag[over]).min()))


def _sweep(
    Qw: np.ndarray,
    qw: np.ndarray,
    bw: list[float],
    target: list[float],
    l1w: list[float],
    den: list[float],
    order: Sequence[int],
    positive: bool,
) -> None:
    """One pass of coordinate descent on the working set (``qw`` = ``Q_WW beta_W``,
    updated in place, like ``bw``)."""
    for j in order:
        old = bw[j]
        z = target[j] - qw[j] + old
        lam = l1w[j]
        if z > lam:
            new = (z - lam) / den[j]
        elif z < -lam and not positive:
            new = (z + lam) / den[j]
        else:
            new = 0.0
        if new != old:
            qw += (new - old) * Qw[j]
            bw[j] = new


def _active_set_step(
    p: ScaledProblem,
    idx: np.ndarray,
    bw: np.ndarray,
    qw: np.ndarray,
    l1w: np.ndarray,
    l2w: np.ndarray,
) -> np.ndarray | None:
    """The minimiser on the support of ``bw`` (working-set coordinates ``idx``) with its
    signs fixed, if its signs agree and it does not raise the objective; else None."""
    on = np.flatnonzero(bw)
    if on.size == 0:
        return None
    S = idx[on]
    sign = np.sign(bw[on])
    A = p.gram.take(S, 0).take(S, 1)
    A.flat[:: S.size + 1] += l2w[on]
    rhs = p.xty[S] - l1w[on] * sign
    try:
        x = np.linalg.solve(A, rhs)
    except np.linalg.LinAlgError:
        return None
    if not (np.sign(x) == sign).all():
        return None
    # objectives: x' Q_SS x = x' rhs - l2 x^2, so the l2 terms cancel for x
    qW = p.xty[idx]
    now = 0.5 * (p.yty - 2.0 * float(qW @ bw) + float(bw @ qw)) + float(l1w @ np.abs(bw))
    now += 0.5 * float(l2w @ (bw * bw))
    new = 0.5 * (p.yty - 2.0 * float(p.xty[S] @ x) + float(x @ rhs)) + float(l1w[on] @ np.abs(x))
    if not new <= now + 1e-15 * max(abs(now), p.yty):
        return None
    out = np.zeros(p.n_features)
    out[S] = x
    return out


@dataclass
class CDResult:
    """The minimiser at one ``alpha``: scaled ``beta``, final gap, sweeps, whether the
    criterion was met, and the gradient ``u = q - Q beta`` at ``beta``."""

    beta: np.ndarray
    gap: float
    n_iter: int
    converged: bool
    grad: np.ndarray  # u = q - Q beta at beta


def solve_alpha(
    p: ScaledProblem,
    alpha: float,
    l1_ratio: float,
    beta: np.ndarray,
    *,
    positive: bool,
    tol: float,
    max_iter: int,
    strong: np.ndarray | None,
    rng: np.random.Generator | None,
) -> CDResult:
    """Minimise the scaled problem at one ``alpha`` from ``beta`` (see the module notes;
    with ``positive``, exactly, by :func:`solve_nonnegative`)."""
    l1, l2 = p.penalties(alpha, l1_ratio)
    pure_l1 = l1_ratio == 1.0 or alpha == 0.0
    if positive:
        return solve_nonnegative(p, l1, l2, beta, tol=tol, pure_l1=pure_l1)
    free = p.scale > 0
    beta = np.where(free, beta, 0.0)
    if positive:
        beta = np.maximum(beta, 0.0)
    candidates = free.copy()  # features not (yet) proven zero
    work = (beta != 0) if strong is None else (strong & candidates) | (beta != 0)
    tol_gap = tol * p.yty
    polish_gap = _POLISH_RTOL * p.yty
    n_iter = 0
    converged = False
    stepped = False
    if max_iter > 0 and beta.any():  # warm start: try the previous support's signs first
        idx = np.flatnonzero(beta)
        b = beta[idx]
        better = _active_set_step(p, idx, b, p.gram.take(idx, 0).take(idx, 1) @ b, l1[idx], l2[idx])
        if better is not None:
            beta, stepped, n_iter = better, True, 1
    while True:
        st = _evaluate(p, beta, l1, l2, positive, pure_l1)
        exact = stepped and _kkt_exact(st, beta, l1, l2, candidates, positive)
        if st.gap <= tol_gap or exact:
            converged = True
        if converged and (exact or st.gap <= polish_gap):
            break
        if n_iter >= max_iter:
            break
        bound = l1 * (1 + 1e-12) + 1e-15
        viol = candidates & ~work & ((st.u > bound) if positive else (np.abs(st.u) > bound))
        # gap-safe screening with the augmented-lasso dual point
        radius = math.sqrt(2.0 * st.gap_lasso) * np.sqrt(1.0 + l2)
        corr = st.scale_dual * (st.u - l2 * beta)
        reach = (corr if positive else np.abs(corr)) + radius
        candidates &= ~((reach < l1) & (beta == 0))
        work = (work | viol) & candidates
        if not work.any():
            work = candidates & ((st.u > 0) if positive else (st.u != 0))
            if not work.any():
                break
        idx = np.flatnonzero(work)
        Qw = p.gram.take(idx, 0).take(idx, 1)
        bw = beta[idx].tolist()
        qw = Qw @ beta[idx]
        l1w, l2w = l1[idx], l2[idx]
        order = range(idx.size) if rng is None else rng.permutation(idx.size).tolist()
        _sweep(Qw, qw, bw, p.xty[idx].tolist(), l1w.tolist(), (1.0 + l2w).tolist(), order, positive)
        n_iter += 1
        b = np.asarray(bw)
        better = _active_set_step(p, idx, b, qw, l1w, l2w)
        stepped = better is not None
        if better is not None:
            beta = better
        else:
            beta = np.zeros(p.n_features)
            beta[idx] = b
    return CDResult(beta, st.gap, n_iter, converged, st.u)


def solve_nonnegative(
    p: ScaledProblem,
    l1: np.ndarray,
    l2: np.ndarray,
    beta: np.ndarray,
    *,
    tol: float,
    pure_l1: bool,
) -> CDResult:
    r"""The exact minimiser of the scaled problem with :math:`\beta \ge 0`, from ``beta``.

    With :math:`\beta \ge 0` the L1 term is linear, so the problem is the non-negative
    quadratic program :math:`A = Q + \operatorname{diag}\lambda_2`,
    :math:`b = q - \lambda_1` on the non-constant columns, solved by the active-set method
    of :func:`~torchlinear.exact.nnqp.solve_nnqp` warm-started from ``beta``. The result's
    ``gap`` is the duality gap of the final point, ``n_iter`` the number of passive-set
    solves, and ``converged`` says that the KKT conditions hold to rounding (or, failing
    that, that the gap meets ``tol``).
    """
    free = np.flatnonzero(p.scale > 0)
    A = p.gram[np.ix_(free, free)]
    A.flat[:: free.size + 1] += l2[free]
    res = solve_nnqp(A, p.xty[free] - l1[free], beta[free])
    out = np.zeros(p.n_features)
    out[free] = res.x
    # the dual point's constraints hold to the rounding of the gradient
    slack = default_rtol(free.size) * (np.abs(p.xty) + np.abs(p.gram) @ out + l2 * out)
    st = _evaluate(p, out, l1, l2, True, pure_l1, slack)
    converged = res.converged or st.gap <= tol * p.yty
    return CDResult(out, st.gap, res.n_iter, converged, st.u)


def _kkt_exact(
    st: _State,
    beta: np.ndarray,
    l1: np.ndarray,
    l2: np.ndarray,
    candidates: np.ndarray,
    positive: bool,
) -> bool:
    """Whether the optimality conditions hold to rounding on every remaining feature:
    :math:`u_j - \\lambda_{2j}\\beta_j = \\lambda_{1j}\\operatorname{sign}\\beta_j` on the
    support, :math:`|u_j| \\le \\lambda_{1j}` (:math:`u_j \\le \\lambda_{1j}`) off it."""
    l2b = l2 * beta
    g = st.u - l2b
    off = np.maximum((g if positive else np.abs(g)) - l1, 0.0)
    dev = np.where(beta != 0, np.abs(g - l1 * np.sign(beta)), off)
    ok = dev <= 1e-9 * (np.abs(st.u) + l1 + np.abs(l2b)) + 1e-15
    return bool(ok[candidates].all())
