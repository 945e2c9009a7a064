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

**Positive fits** take another route. With :math:`\beta \ge 0` the L1 term is linear, so
the problem is the non-negative quadratic program
:math:`\min_{\beta\ge0} \tfrac12\beta^\top(Q + \operatorname{diag}\lambda_2)\beta
- (q - \lambda_1)^\top\beta`, which the active-set method of
:mod:`torchlinear.exact.nnqp` solves exactly in finitely many steps, warm-started from the
previous :math:`\alpha`'s solution along a path (coordinate descent can stall on such
problems, on strongly correlated columns, far from the optimum with a small gap relative
to :math:`c/W`). The reported gap is the duality gap of its final point (the dual
constraints taken to the rounding of the gradient), ``n_iter`` counts its passive-set
solves, and ``converged`` says that the KKT conditions hold to rounding (or the gap meets
``tol``); ``max_iter``, ``selection`` and the screening rules do not apply.

The kernel (the scaled problem and the solve at one :math:`\alpha`) lives in
:mod:`torchlinear.exact.cd_kernel`. The path (:func:`enet_path`) runs a decreasing grid of
:math:`\alpha` with warm starts;
:func:`alpha_grid` is scikit-learn's grid, computed from the statistics. Cross-validation
from one set of statistics per fold is :func:`fit_cv_from_fold_stats`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from torchlinear._memory import MEMORY_FRACTION, available_memory, check_memory
from torchlinear._sklearn_protocol import warn_convergence
from torchlinear.exact import GramStats
from torchlinear.exact.cd_kernel import ScaledProblem, solve_alpha

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


def check_stats_memory(
    n_features: int, n_stats: int = 1, *, memory_limit: int | None = None
) -> int:
    """Refuse, before allocating, statistics beyond the memory budget.

    ``n_stats`` sets of ``n_features x n_features`` float64 moments need about
    ``8 * n_features**2 * n_stats`` bytes; the budget is ``memory_limit`` bytes, by default
    :func:`torchlinear._memory.memory_budget` (the one budget of every planned
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
    grid = _check_path_args(l1_ratio, alphas, selection)
    rng = None
    if selection == "random":
        rng = (
            random_state
            if isinstance(random_state, np.random.Generator)
            else np.random.default_rng(random_state)
        )
    d = p.n_features
    beta = np.zeros(d) if coef_init is None else p.rescale(np.asarray(coef_init).reshape(d))
    path = _run_path(p, grid, float(l1_ratio), beta, positive, tol, max_iter, rng)
    if warn and not path.converged.all():
        _warn_path(path, max_iter, tol, p.yty)
    return path


def _check_path_args(
    l1_ratio: float, alphas: Sequence[float] | np.ndarray, selection: str
) -> np.ndarray:
    """The grid of ``alphas`` as a float64 vector, after checking the path's arguments."""
    if not 0.0 <= float(l1_ratio) <= 1.0:
        raise ValueError(f"l1_ratio must be in [0, 1], got {l1_ratio}")
    grid = np.asarray(alphas, dtype=np.float64).reshape(-1)
    if grid.size == 0:
        raise ValueError("alphas is empty; give at least one penalty strength")
    if np.any(~np.isfinite(grid)) or np.any(grid < 0):
        raise ValueError(f"alphas must be finite and >= 0, got {grid[~(grid >= 0)][:3]}")
    if selection not in ("cyclic", "random"):
        raise ValueError(f"selection must be 'cyclic' or 'random', got {selection!r}")
    return grid


def _run_path(
    p: ScaledProblem,
    grid: np.ndarray,
    l1_ratio: float,
    beta: np.ndarray,
    positive: bool,
    tol: float,
    max_iter: int,
    rng: np.random.Generator | None,
) -> EnetPath:
    """Solve ``p`` at each alpha of ``grid`` in turn, warm-started from ``beta`` and each
    previous solution, with the sequential strong rule; coefficients in the data's units."""
    d, n = p.n_features, grid.size
    coefs, intercepts = np.zeros((n, d)), np.zeros(n)
    gaps, iters, conv = np.zeros(n), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    prev_l1 = None
    u = p.xty - p.gram @ beta
    for k, alpha in enumerate(grid):
        l1 = p.penalties(float(alpha), l1_ratio)[0]
        ref = l1 if prev_l1 is None else prev_l1
        strong = (u if positive else np.abs(u)) >= 2.0 * l1 - ref
        res = solve_alpha(
            p,
            float(alpha),
            l1_ratio,
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
    return EnetPath(grid, coefs, intercepts, gaps, iters, conv, l1_ratio, float(tol))


def _warn_path(path: EnetPath, max_iter: int, tol: float, yty: float) -> None:
    """The ConvergenceWarning of a path some of whose alphas stopped on ``max_iter``."""
    grid, conv, gaps = path.alphas, path.converged, path.dual_gaps
    bad = int(np.argmax(np.where(conv, -np.inf, gaps)))
    warn_convergence(
        f"coordinate descent did not converge for {int((~conv).sum())} of {grid.size} "
        f"alpha(s) within {max_iter} sweeps ({{max_iter}}): duality gap {gaps[bad]:.3g} > "
        f"tolerance {tol * yty:.3g} (tol={tol} x var(y)) at alpha={grid[bad]:.4g}; raise "
        "{max_iter} or tol",
        stacklevel=3,
        params=("max_iter",),
    )


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

    @classmethod
    def chosen(
        cls,
        ratios: np.ndarray,
        grids: np.ndarray,
        mse: np.ndarray,
        best: tuple[int, int],
        alpha_1se: float,
        path: EnetPath,
    ) -> CVPathResult:
        """The record of the pair ``best`` (l1_ratio index, alpha index), with the
        full-data ``path`` of its l1_ratio."""
        bi, bj = best
        return cls(
            l1_ratios=ratios,
            alphas=grids,
            mse_path=mse,
            alpha=float(grids[bi, bj]),
            l1_ratio=float(ratios[bi]),
            alpha_1se=alpha_1se,
            best_index=(bi, bj),
            path=path,
            coef=path.coefs[bj].copy(),
            intercept=float(path.intercepts[bj]),
            dual_gap=float(path.dual_gaps[bj]),
            n_iter=int(path.n_iters[bj]),
            converged=bool(path.converged[bj]),
        )

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
    ratios = _check_ratios(l1_ratio)
    if len(train_stats) != len(test_stats) or len(train_stats) < 1:
        raise ValueError(
            f"need as many training as test statistics (got {len(train_stats)} and "
            f"{len(test_stats)})"
        )
    full = ScaledProblem.from_stats(total, fit_intercept)
    n_alphas = int(alphas) if isinstance(alphas, int | np.integer) else len(alphas)
    check_memory(  # the grids and test errors, and one fold's path of coefficients at a time
        8 * max(n_alphas, 1) * (ratios.size * (len(train_stats) + 1) + len(full.xty) + 8),
        f"{n_alphas:,} alphas",
        "the cross-validated paths",
        advice="use fewer alphas ({n_alphas})",
    )
    grids = _cv_grids(full, ratios, alphas, eps, positive)
    opts: dict[str, Any] = dict(fit_intercept=fit_intercept, positive=positive, tol=tol)
    opts.update(max_iter=max_iter, selection=selection, random_state=random_state, warn=False)
    mse, n_bad, worst = _fold_errors(train_stats, test_stats, ratios, grids, fit_intercept, opts)
    mean = np.nanmean(mse, axis=2)
    flat = int(np.argmin(np.where(np.isfinite(mean), mean, np.inf)))
    bi, bj = divmod(flat, grids.shape[1])
    full_path = enet_path(full, grids[bi], ratios[bi], **opts)
    n_bad += int((~full_path.converged).sum())
    if n_bad:
        warn_convergence(
            f"coordinate descent did not converge for {n_bad} fit(s) of the cross-validated "
            f"paths within {max_iter} sweeps ({{max_iter}}; largest final duality gap "
            f"{worst:.3g}); raise {{max_iter}} or tol",
            stacklevel=2,
            params=("max_iter",),
        )
    alpha_1se = _alpha_1se(mse[bi], mean[bi], grids[bi], bj)
    return CVPathResult.chosen(ratios, grids, mse, (bi, bj), alpha_1se, full_path)


def _check_ratios(l1_ratio: float | Sequence[float]) -> np.ndarray:
    ratios = np.atleast_1d(np.asarray(l1_ratio, dtype=np.float64))
    if ratios.size == 0:
        raise ValueError("l1_ratio is empty; give at least one value in [0, 1]")
    for r in ratios:
        if not 0.0 <= r <= 1.0:
            raise ValueError(f"l1_ratio must be in [0, 1], got {r}")
    return ratios


def _cv_grids(
    full: ScaledProblem,
    ratios: np.ndarray,
    alphas: int | Sequence[float],
    eps: float,
    positive: bool,
) -> np.ndarray:
    """Each l1_ratio's decreasing grid, ``(n_l1, n_alphas)``: :func:`alpha_grid` on all the
    data for a number of alphas, else the given alphas sorted decreasingly."""
    if isinstance(alphas, int | np.integer) and not isinstance(alphas, bool):
        if alphas < 1:
            raise ValueError(f"alphas must be a positive number of alphas, got {alphas}")
        return np.stack(
            [alpha_grid(full, r, eps=eps, n_alphas=alphas, positive=positive) for r in ratios]
        )
    given = np.asarray(alphas, dtype=np.float64).reshape(-1)
    if given.size == 0:
        raise ValueError("alphas is an empty list; give at least one alpha")
    if np.any(~np.isfinite(given)) or np.any(given < 0):
        raise ValueError(f"alphas must be finite and >= 0, got {alphas!r}")
    return np.tile(np.sort(given)[::-1], (ratios.size, 1))


def _fold_errors(
    train_stats: Sequence[GramStats],
    test_stats: Sequence[GramStats],
    ratios: np.ndarray,
    grids: np.ndarray,
    fit_intercept: bool,
    opts: dict[str, Any],
) -> tuple[np.ndarray, int, float]:
    """Test errors ``(n_l1, n_alphas, n_folds)`` of every fold's paths (NaN for a fold
    without training or test weight), the number of unconverged fits and their largest gap."""
    K = len(train_stats)
    mse = np.full((ratios.size, grids.shape[1], K), np.nan)
    n_bad, worst = 0, 0.0
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
    return mse, n_bad, worst


def _alpha_1se(mse: np.ndarray, mean: np.ndarray, grid: np.ndarray, best: int) -> float:
    """The largest alpha of ``grid`` whose mean error is within one standard error (over
    the folds of ``mse``, ``(n_alphas, n_folds)``) of the error at ``best``."""
    counts = np.sum(np.isfinite(mse), axis=1)
    sd = np.nanstd(mse, axis=1, ddof=1) if mse.shape[1] > 1 else np.zeros(grid.shape[0])
    se = sd[best] / math.sqrt(max(int(counts[best]), 1))
    within = np.flatnonzero(mean <= mean[best] + (0.0 if not np.isfinite(se) else se))
    return float(np.max(grid[within]))
