r"""Exact lasso and elastic net from sufficient statistics, by coordinate descent.

The problem is scikit-learn's elastic net: with sample weights :math:`s_i` (all one by
default), :math:`W = \sum_i s_i`, :math:`\alpha \ge 0` and :math:`\rho` = ``l1_ratio``,

.. math::

    \min_{w, b}\; \frac{1}{2W} \sum_i s_i (y_i - x_i^\top w - b)^2
    + \alpha\rho \lVert w\rVert_1 + \frac{\alpha(1-\rho)}{2} \lVert w\rVert_2^2
    \quad(\text{and } w \ge 0 \text{ if ``positive``}),

with the intercept :math:`b` never penalised. Everything is solved from a
:class:`~torchlinear.exact.GramStats` (the data are read once):

1. **Centring and scaling.** With the weighted means :math:`\bar x, \bar y`, the centred
   moments :math:`G = X_c^\top S X_c`, :math:`g = X_c^\top S y_c`, :math:`c = y_c^\top S y_c`
   and :math:`D = \operatorname{diag}(\sqrt{G_{jj}/W})`, the variables
   :math:`\beta = D w` turn the data term into
   :math:`\tfrac12 \beta^\top Q \beta - q^\top\beta + \tfrac12 c/W` with
   :math:`Q = D^{-1} G D^{-1} / W` (unit diagonal) and :math:`q = D^{-1} g / W`; the penalty
   becomes per feature, :math:`\lambda_{1j} = \alpha\rho / D_j`,
   :math:`\lambda_{2j} = \alpha(1-\rho)/D_j^2`. Constant columns (:math:`D_j = 0`) get
   :math:`w_j = 0`.
2. **Coordinate descent with covariance updates.** With :math:`u = q - Q\beta` kept up to
   date (one column of :math:`Q` per change), coordinate :math:`j` becomes
   :math:`\beta_j \leftarrow S(u_j + \beta_j, \lambda_{1j}) / (1 + \lambda_{2j})`, :math:`S`
   the soft threshold (one-sided if ``positive``). Sweeps run over a *working set*: the
   support so far and the features kept by the sequential strong rule
   :math:`|u_j(\alpha_{k-1})| \ge 2\lambda_{1j}(\alpha_k) - \lambda_{1j}(\alpha_{k-1})`; after
   each sweep the KKT conditions are checked on *all* features and violators join the set.
3. **Active-set step.** After each sweep, the minimiser of the quadratic on the current
   support with its signs fixed, :math:`(Q_{SS} + \operatorname{diag}\lambda_{2S})\,\beta_S
   = q_S - \lambda_{1S} \operatorname{sign}\beta_S`, is taken when its signs agree (it
   then lowers the objective): once the support is right this is the exact solution.
4. **Duality gap.** From :math:`\beta` alone, the residual's moments
   :math:`\lVert r\rVert^2/W = c/W - 2q^\top\beta + \beta^\top Q\beta` give the primal value
   and a feasible dual point (the residual rescaled into the dual constraints of the
   augmented lasso, or of the Fenchel dual of the penalty: the larger of the two dual
   values is used). The criterion is met when the gap is at most
   ``tol`` :math:`\times\, c/W` — scikit-learn's criterion — or when, after an active-set
   step, the optimality (KKT) conditions hold on every feature to 1e-9 relative (the
   minimiser up to rounding). Beyond the gap criterion the solver keeps polishing (within
   ``max_iter``) until that holds or the gap falls below 1e-13 :math:`\times\, c/W`. The
   gap also drives *gap-safe screening*: a feature with
   :math:`|x_j^\top\theta| + \sqrt{2\,\mathrm{gap}}\,\lVert x_j\rVert < \lambda_{1j}` is zero
   at the optimum and leaves the problem.

If ``max_iter`` sweeps end before the criterion is met, a
:class:`~sklearn.exceptions.ConvergenceWarning` states the final gap and the tolerance.

The path (:func:`enet_path`) runs a decreasing grid of :math:`\alpha` with warm starts;
:func:`alpha_grid` is scikit-learn's grid, computed from the statistics. Cross-validation
from one set of statistics per fold is :func:`fit_cv_from_fold_stats`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from torchlinear._validation import MEMORY_FRACTION, available_memory, check_memory
from torchlinear.exact import GramStats

__all__ = [
    "MEMORY_FRACTION",
    "CVPathResult",
    "EnetPath",
    "ScaledProblem",
    "alpha_grid",
    "available_memory",
    "check_stats_memory",
    "enet_path",
    "fit_cv_from_fold_stats",
]

_RESOLUTION = float(np.finfo(np.float64).resolution)
_CONSTANT_RTOL = 64 * float(np.finfo(np.float64).eps)
#: Relative gap at which a solution counts as exact when the active-set step cannot apply.
_POLISH_RTOL = 1e-13


# ----------------------------------------------------------------------------- memory


def check_stats_memory(
    n_features: int, n_stats: int = 1, *, memory_limit: int | None = None
) -> int:
    """Refuse, before allocating, statistics beyond the memory budget.

    ``n_stats`` sets of ``n_features x n_features`` float64 moments need about
    ``8 * n_features**2 * n_stats`` bytes; the budget is ``memory_limit`` bytes, by default
    :func:`torchlinear._validation.memory_budget` (the one budget of every planned
    allocation). Returns the estimate; beyond the budget, a ``ValueError``
    (:class:`~torchlinear._validation.ParameterError` naming ``memory_limit``).

    Examples
    --------
    >>> check_stats_memory(64, 6)
    196608
    >>> check_stats_memory(100_000, 6, memory_limit=1 << 30)
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: 100,000 features need 480 GB for the penalized \
solver's 6 sets of d x d statistics, above the memory budget of 1.07 GB (memory_limit); \
reduce the number of features or folds, or fit with a gradient solver \
(LinearRegression(solver='adam', l1_ratio=...))
    """
    need = 8 * int(n_features) ** 2 * int(n_stats)
    return check_memory(
        need,
        f"{int(n_features):,} features",
        f"the penalized solver's {int(n_stats)} sets of d x d statistics",
        advice="reduce the number of features or folds, or fit with a gradient solver "
        "(LinearRegression(solver='adam', l1_ratio=...))",
        limit=memory_limit,
    )


# ----------------------------------------------------------------------------- problem


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
        constant = ~(diag > _CONSTANT_RTOL * np.maximum(raw, 0.0)) | ~(diag > 0)
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

    def unscale(self, beta: np.ndarray) -> tuple[np.ndarray, float]:
        """Coefficients and intercept in the data's units from scaled ``beta``."""
        safe = np.where(self.scale > 0, self.scale, 1.0)
        w = np.where(self.scale > 0, beta / safe, 0.0)
        b = self.y_mean - float(self.x_mean @ w) if self.fit_intercept else 0.0
        return w, b

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


def alpha_grid(
    problem: ScaledProblem,
    l1_ratio: float = 1.0,
    *,
    eps: float = 1e-3,
    n_alphas: int = 100,
    positive: bool = False,
) -> np.ndarray:
    r"""scikit-learn's grid: ``n_alphas`` values log-spaced from :math:`\alpha_{\max}` down to
    ``eps`` times it, where :math:`\alpha_{\max} = \max_j |x_{cj}^\top S y_c| / (W\rho)` (the
    smallest :math:`\alpha` with all coefficients zero; the largest positive correlation
    if ``positive``).

    Examples
    --------
    >>> import torch
    >>> X = torch.tensor([[0.0], [1.0], [2.0], [3.0]], dtype=torch.float64)
    >>> p = ScaledProblem.from_stats(GramStats.zeros(1).update(X, 2.0 * X[:, 0]))
    >>> alpha_grid(p, 1.0, n_alphas=3, eps=0.01).round(4).tolist()
    [2.5, 0.25, 0.025]
    """
    if l1_ratio == 0:
        raise ValueError(
            "an automatic alpha grid needs l1_ratio > 0 (alpha_max is infinite for a pure "
            "L2 penalty); pass an explicit list of alphas"
        )
    corr = problem.raw_xty
    top = max(0.0, float(corr.max(initial=0.0))) if positive else float(np.abs(corr).max(initial=0))
    alpha_max = top / l1_ratio
    if alpha_max <= _RESOLUTION:
        return np.full(int(n_alphas), _RESOLUTION)
    return np.geomspace(alpha_max, alpha_max * eps, num=int(n_alphas))


# ----------------------------------------------------------------------------- solver


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
) -> _State:
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
    s = _dual_scale(v, l1, positive)
    d1 = s * yr - 0.5 * s * s * (rr + l2bb)
    gap1 = max(primal - d1, 0.0)
    gap = gap1
    if not pure_l1:  # Fenchel dual of the penalty with nu = r (every l2_j > 0)
        excess = np.maximum((u if positive else np.abs(u)) - l1, 0.0)
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
class _Result:
    beta: np.ndarray
    gap: float
    n_iter: int
    converged: bool
    grad: np.ndarray  # u = q - Q beta at beta


def _solve(
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
) -> _Result:
    """Minimise the scaled problem at one ``alpha`` from ``beta`` (see the module notes)."""
    l1, l2 = p.penalties(alpha, l1_ratio)
    pure_l1 = l1_ratio == 1.0 or alpha == 0.0
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
        if stepped:
            beta = better
        else:
            beta = np.zeros(p.n_features)
            beta[idx] = b
    return _Result(beta, st.gap, n_iter, converged, st.u)


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


# ----------------------------------------------------------------------------- path


@dataclass
class EnetPath:
    """Solutions along a decreasing grid of ``alphas`` (in the data's units).

    ``coefs`` is ``(n_alphas, n_features)``, ``intercepts``/``dual_gaps``/``n_iters``/
    ``converged`` are ``(n_alphas,)``; ``dual_gaps`` are in the objective's units (as
    scikit-learn's ``dual_gap_``).
    """

    alphas: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    dual_gaps: np.ndarray
    n_iters: np.ndarray
    converged: np.ndarray
    l1_ratio: float
    tol: float


def enet_path(
    stats: GramStats | ScaledProblem,
    alphas: Sequence[float] | np.ndarray,
    l1_ratio: float = 1.0,
    *,
    fit_intercept: bool = True,
    positive: bool = False,
    tol: float = 1e-4,
    max_iter: int = 1000,
    coef_init: np.ndarray | None = None,
    selection: str = "cyclic",
    random_state: int | np.random.Generator | None = None,
    warn: bool = True,
) -> EnetPath:
    """Elastic-net solutions for each of ``alphas``, solved in the given order with warm
    starts (pass a decreasing grid; see the module notes for the algorithm).

    Parameters
    ----------
    stats : GramStats or ScaledProblem
        Sufficient statistics of one target (or their scaled problem).
    alphas : sequence of float
        Penalty strengths, each >= 0.
    l1_ratio : float, default 1
        Share of the L1 penalty, in [0, 1].
    fit_intercept : bool, default True
        Centre on the weighted means (ignored if ``stats`` is a ScaledProblem).
    positive : bool, default False
        Constrain the coefficients to be non-negative.
    tol : float, default 1e-4
        Stop when the duality gap is at most ``tol`` times the weighted variance of ``y``
        (``c / W``); solutions are polished beyond it while ``max_iter`` allows.
    max_iter : int, default 1000
        Sweeps of coordinate descent per alpha.
    coef_init : array of shape (n_features,), optional
        Starting coefficients for the first alpha.
    selection : {"cyclic", "random"}, default "cyclic"
        Order of the coordinates within a sweep.
    random_state : int or Generator, optional
        Seed of the random order.
    warn : bool, default True
        Raise a ConvergenceWarning when some alpha stops on ``max_iter``.

    Returns
    -------
    EnetPath

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(200, 3, generator=g, dtype=torch.float64)
    >>> y = X @ torch.tensor([3.0, 0.0, -1.0], dtype=torch.float64) + 1.0
    >>> path = enet_path(GramStats.zeros(3).update(X, y), [0.5, 0.1])
    >>> bool((path.coefs[:, 1] == 0).all()), bool(path.converged.all())
    (True, True)
    """
    p = (
        stats
        if isinstance(stats, ScaledProblem)
        else ScaledProblem.from_stats(stats, fit_intercept)
    )
    if not 0.0 <= float(l1_ratio) <= 1.0:
        raise ValueError(f"l1_ratio must be in [0, 1], got {l1_ratio}")
    grid = np.asarray(alphas, dtype=np.float64).reshape(-1)
    if grid.size == 0:
        raise ValueError("alphas is empty; give at least one penalty strength")
    if np.any(~np.isfinite(grid)) or np.any(grid < 0):
        raise ValueError(f"alphas must be finite and >= 0, got {grid[~(grid >= 0)][:3]}")
    if selection not in ("cyclic", "random"):
        raise ValueError(f"selection must be 'cyclic' or 'random', got {selection!r}")
    rng = None
    if selection == "random":
        rng = (
            random_state
            if isinstance(random_state, np.random.Generator)
            else np.random.default_rng(random_state)
        )
    d = p.n_features
    beta = np.zeros(d) if coef_init is None else p.rescale(np.asarray(coef_init).reshape(d))
    n = grid.size
    coefs, intercepts = np.zeros((n, d)), np.zeros(n)
    gaps, iters, conv = np.zeros(n), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    prev_l1 = None
    u = p.xty - p.gram @ beta
    for k, alpha in enumerate(grid):
        l1 = p.penalties(float(alpha), l1_ratio)[0]
        ref = l1 if prev_l1 is None else prev_l1
        strong = (u if positive else np.abs(u)) >= 2.0 * l1 - ref
        res = _solve(
            p,
            float(alpha),
            float(l1_ratio),
            beta,
            positive=positive,
            tol=tol,
            max_iter=max_iter,
            strong=strong,
            rng=rng,
        )
        beta = res.beta
        u = res.grad
        prev_l1 = l1
        coefs[k] = beta
        gaps[k], iters[k], conv[k] = res.gap, res.n_iter, res.converged
    coefs *= np.where(p.scale > 0, p.pen_scale, 0.0)  # back to the data's units
    if p.fit_intercept:
        intercepts = p.y_mean - coefs @ p.x_mean
    if warn and not conv.all():
        bad = int(np.argmax(np.where(conv, -np.inf, gaps)))
        warnings.warn(
            f"coordinate descent did not converge for {int((~conv).sum())} of {n} alpha(s) "
            f"within max_iter={max_iter} sweeps: duality gap {gaps[bad]:.3g} > tolerance "
            f"{tol * p.yty:.3g} (tol={tol} x var(y)) at alpha={grid[bad]:.4g}; raise max_iter "
            "or tol",
            ConvergenceWarning,
            stacklevel=2,
        )
    return EnetPath(grid, coefs, intercepts, gaps, iters, conv, float(l1_ratio), float(tol))


# ----------------------------------------------------------------------------- CV


@dataclass
class CVPathResult:
    """Cross-validated elastic-net paths.

    Attributes
    ----------
    l1_ratios : ndarray (n_l1,)
    alphas : ndarray (n_l1, n_alphas)
        Each l1_ratio's grid (decreasing).
    mse_path : ndarray (n_l1, n_alphas, n_folds)
        Test mean squared error (weighted by the test rows' sample weights) of every fold.
    alpha, l1_ratio : float
        The pair with the smallest mean test error over folds.
    alpha_1se : float
        The largest alpha of the chosen l1_ratio whose mean error is within one standard
        error (fold standard deviation / sqrt(n_folds)) of the minimum.
    path : EnetPath
        The full-data path of the chosen l1_ratio on its grid (for the coefficient plot).
    coef, intercept, dual_gap, n_iter, converged
        The full-data solution at ``alpha``.
    """

    l1_ratios: np.ndarray
    alphas: np.ndarray
    mse_path: np.ndarray
    alpha: float
    l1_ratio: float
    alpha_1se: float
    best_index: tuple[int, int]
    path: EnetPath
    coef: np.ndarray
    intercept: float
    dual_gap: float
    n_iter: int
    converged: bool

    @property
    def mean_mse(self) -> np.ndarray:
        return np.nanmean(self.mse_path, axis=2)

    @property
    def se_mse(self) -> np.ndarray:
        """Standard error of the mean test error over folds."""
        k = np.sum(np.isfinite(self.mse_path), axis=2)
        sd = np.nanstd(self.mse_path, axis=2, ddof=1) if self.mse_path.shape[2] > 1 else 0.0
        return sd / np.sqrt(np.maximum(k, 1))


def _test_mse(test: GramStats, coefs: np.ndarray, intercepts: np.ndarray) -> np.ndarray:
    """Weighted mean squared error of each (coef, intercept) on the rows of ``test``."""
    W = float(test.weight_sum)
    if not W > 0:
        return np.full(len(intercepts), np.nan)
    G, B, C, _ = (t.detach().cpu().double().numpy() for t in test.system(True))
    mx, my = (t.detach().cpu().double().numpy() for t in test.means())
    quad = np.einsum("ij,jk,ik->i", coefs, G, coefs)
    centred = C[0, 0] - 2.0 * coefs @ B[:, 0] + quad
    offset = my[0] - coefs @ mx - intercepts
    return np.maximum(centred, 0.0) / W + offset * offset


def fit_cv_from_fold_stats(
    train_stats: Sequence[GramStats],
    test_stats: Sequence[GramStats],
    total: GramStats,
    *,
    l1_ratio: float | Sequence[float] = 0.5,
    alphas: int | Sequence[float] = 100,
    eps: float = 1e-3,
    fit_intercept: bool = True,
    positive: bool = False,
    tol: float = 1e-4,
    max_iter: int = 1000,
    selection: str = "cyclic",
    random_state: int | None = None,
) -> CVPathResult:
    """Cross-validate elastic-net paths from per-fold statistics, then fit all the data.

    For each ``l1_ratio``, the grid (``alphas`` values from :func:`alpha_grid` on ``total``
    when an int, else the given values sorted decreasingly) is solved on every fold's
    training statistics and scored on its test statistics; the pair with the smallest mean
    test error wins, and the full-data path of its ``l1_ratio`` gives the coefficients — the
    choices of scikit-learn's ``ElasticNetCV`` (same grid, same folds, same ``alpha_``).

    Parameters
    ----------
    train_stats, test_stats : sequences of GramStats
        Fold k's training and test rows (e.g. ``FoldGramStats.training(k)`` and
        ``.fold(k)``).
    total : GramStats
        All rows.
    l1_ratio : float or sequence of float, default 0.5
    alphas : int or sequence of float, default 100
    eps, fit_intercept, positive, tol, max_iter, selection, random_state
        As in :func:`enet_path` and scikit-learn's ``ElasticNetCV``.

    Returns
    -------
    CVPathResult

    Examples
    --------
    >>> import torch
    >>> from torchlinear.exact.fold_stats import FoldGramStats
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(500, 4, generator=g, dtype=torch.float64)
    >>> y = X @ torch.tensor([2.0, 0.0, 0.0, -1.0], dtype=torch.float64)
    >>> y = y + 0.5 * torch.randn(500, generator=g, dtype=torch.float64)
    >>> folds = FoldGramStats(4, n_splits=5, n_samples=500).update(X, y)
    >>> res = fit_cv_from_fold_stats(
    ...     [folds.training(k) for k in range(5)], folds.folds, folds.total(), l1_ratio=1.0
    ... )
    >>> res.mse_path.shape, bool(res.alpha_1se >= res.alpha), res.l1_ratio
    ((1, 100, 5), True, 1.0)
    """
    ratios = np.atleast_1d(np.asarray(l1_ratio, dtype=np.float64))
    if ratios.size == 0:
        raise ValueError("l1_ratio is empty; give at least one value in [0, 1]")
    for r in ratios:
        if not 0.0 <= r <= 1.0:
            raise ValueError(f"l1_ratio must be in [0, 1], got {r}")
    if len(train_stats) != len(test_stats) or len(train_stats) < 1:
        raise ValueError(
            f"need as many training as test statistics (got {len(train_stats)} and "
            f"{len(test_stats)})"
        )
    full = ScaledProblem.from_stats(total, fit_intercept)
    if isinstance(alphas, int | np.integer) and not isinstance(alphas, bool):
        if alphas < 1:
            raise ValueError(f"alphas must be a positive number of alphas, got {alphas}")
        grids = np.stack(
            [alpha_grid(full, r, eps=eps, n_alphas=alphas, positive=positive) for r in ratios]
        )
    else:
        given = np.asarray(alphas, dtype=np.float64).reshape(-1)
        if given.size == 0:
            raise ValueError("alphas is an empty list; give at least one alpha")
        if np.any(~np.isfinite(given)) or np.any(given < 0):
            raise ValueError(f"alphas must be finite and >= 0, got {alphas!r}")
        grids = np.tile(np.sort(given)[::-1], (ratios.size, 1))
    K = len(train_stats)
    mse = np.full((ratios.size, grids.shape[1], K), np.nan)
    n_bad, worst = 0, 0.0
    opts = dict(
        fit_intercept=fit_intercept,
        positive=positive,
        tol=tol,
        max_iter=max_iter,
        selection=selection,
        random_state=random_state,
        warn=False,
    )
    problems = []
    for k in range(K):
        if float(train_stats[k].weight_sum) > 0 and float(test_stats[k].weight_sum) > 0:
            problems.append((k, ScaledProblem.from_stats(train_stats[k], fit_intercept)))
    if not problems:
        raise ValueError("no fold has both training and test rows of positive weight")
    for i, r in enumerate(ratios):
        for k, prob in problems:
            path = enet_path(prob, grids[i], r, **opts)
            n_bad += int((~path.converged).sum())
            worst = max(worst, float(np.max(np.where(path.converged, 0.0, path.dual_gaps))))
            mse[i, :, k] = _test_mse(test_stats[k], path.coefs, path.intercepts)
    mean = np.nanmean(mse, axis=2)
    flat = int(np.argmin(np.where(np.isfinite(mean), mean, np.inf)))
    bi, bj = divmod(flat, grids.shape[1])
    full_path = enet_path(full, grids[bi], ratios[bi], **opts)
    n_bad += int((~full_path.converged).sum())
    if n_bad:
        warnings.warn(
            f"coordinate descent did not converge for {n_bad} fit(s) of the cross-validated "
            f"paths within max_iter={max_iter} sweeps (largest final duality gap {worst:.3g}); "
            "raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=2,
        )
    counts = np.sum(np.isfinite(mse[bi]), axis=1)
    sd = np.nanstd(mse[bi], axis=1, ddof=1) if mse.shape[2] > 1 else np.zeros(grids.shape[1])
    se = sd[bj] / math.sqrt(max(int(counts[bj]), 1))
    within = np.flatnonzero(mean[bi] <= mean[bi, bj] + (0.0 if not np.isfinite(se) else se))
    alpha_1se = float(np.max(grids[bi, within]))
    return CVPathResult(
        l1_ratios=ratios,
        alphas=grids,
        mse_path=mse,
        alpha=float(grids[bi, bj]),
        l1_ratio=float(ratios[bi]),
        alpha_1se=alpha_1se,
        best_index=(bi, bj),
        path=full_path,
        coef=full_path.coefs[bj].copy(),
        intercept=float(full_path.intercepts[bj]),
        dual_gap=float(full_path.dual_gaps[bj]),
        n_iter=int(full_path.n_iters[bj]),
        converged=bool(full_path.converged[bj]),
    )
