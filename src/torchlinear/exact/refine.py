"""Refinement: float64 residual passes, and extended-precision refinement for small data."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import cast

import numpy as np
import torch
from scipy.linalg import solve_triangular

from torchlinear._threads import n_workers, parallel, row_blocks
from torchlinear.exact._linalg import EPS, as_2d, f64
from torchlinear.exact.solution import LstsqSolution

__all__ = ["polish", "refine", "residual_moments"]

#: ``(coef, intercept, shift) -> (sum w (x - shift) r^T, sum w r, sum w r^2)`` over all rows.
Moments = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]
]


def residual_moments(
    X: torch.Tensor,
    Y: torch.Tensor,
    w: torch.Tensor | None,
    coef: torch.Tensor,
    intercept: torch.Tensor,
    shift_x: torch.Tensor,
    chunk_rows: int,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""One pass: :math:`\sum w (x - c) r^\top`, :math:`\sum w r` and :math:`\sum w r^2`
    for the residuals :math:`r = y - b - W^\top x`.

    The residuals are formed from the shifted rows, :math:`r = y - (b + c^\top W) -
    W^\top (x - c)`, which avoids cancellation when the feature means are large.
    """
    n, d = X.shape
    k = coef.shape[1]
    shifted = bool(shift_x.any())

    def run(lo: int, hi: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cf, c = coef.to(device), shift_x.to(device)
        b = intercept.to(device) + c @ cf
        g = torch.zeros(d, k, dtype=torch.float64, device=device)
        g0 = torch.zeros(k, dtype=torch.float64, device=device)
        ss = torch.zeros(k, dtype=torch.float64, device=device)
        for start in range(lo, hi, chunk_rows):
            stop = min(hi, start + chunk_rows)
            Xc = f64(X[start:stop], device)
            if shifted:
                Xc = Xc - c
            r = f64(as_2d(Y[start:stop]), device) - b - Xc @ cf
            wr = r if w is None else r * f64(w[start:stop], device)[:, None]
            g += Xc.T @ wr
            g0 += wr.sum(0)
            ss += (wr * r).sum(0)
        return g, g0, ss

    parts = parallel(run, row_blocks(n, chunk_rows, n_workers(X, device)))
    g = sum((p[0] for p in parts[1:]), parts[0][0])
    g0 = sum((p[1] for p in parts[1:]), parts[0][1])
    ss = sum((p[2] for p in parts[1:]), parts[0][2])
    return g.cpu(), g0.cpu(), ss.cpu()


def refine(sol: LstsqSolution, moments: Moments, max_steps: int = 3) -> LstsqSolution:
    r"""Refine ``sol`` with float64 residual passes over the data (``moments`` makes one).

    Each step solves :math:`(X_c^\top W X_c + \alpha I)\,\delta = X_c^\top W r - \alpha w`
    with the stored factor (the intercept follows from the mean residual). The error
    contracts by about :math:`\kappa(G_s)\varepsilon` per step, to the accuracy of a
    backward-stable solver.
    """
    coef, b = sol.coef.clone(), sol.intercept.clone()
    shift = sol.mean_x if sol.fit_intercept else torch.zeros_like(sol.mean_x)
    steps = passes = 0
    rss = sol.rss
    last = math.inf
    for _ in range(max_steps):
        g, g0, ss = moments(coef, b, shift)
        passes += 1
        rss = ss
        # g = sum w (x - mean) r: with an intercept its equation decouples
        delta = sol.centred_solve(g - sol.alpha * coef)
        if sol.fit_intercept:
            db = g0 / sol.weight_sum - sol.mean_x @ delta
        else:
            db = torch.zeros_like(b)
        size = float(delta.norm() / coef.norm().clamp_min(1e-300))
        if size >= last:  # not contracting: stop at the better iterate
            break
        coef, b = coef + delta, b + db
        steps += 1
        last = size
        if size <= 4 * EPS:
            break
    est = max(EPS * sol.cond, min(sol.est_rel_error, last if steps else sol.est_rel_error))
    return replace(
        sol,
        coef=coef,
        intercept=b,
        rss=rss,
        refinement_steps=steps,
        est_rel_error=est,
        n_passes=sol.n_passes + passes,
    )


# -- extended precision: error-free transformations (Dekker, Knuth; Ogita-Rump-Oishi)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = 134217729.0 * a  # 2**27 + 1
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(
    a: np.ndarray, b: np.ndarray, a_parts: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``a * b`` (broadcast) as ``p + e`` exactly; ``a_parts`` is ``_split(a)`` if known."""
    p = a * b
    ah, al = _split(a) if a_parts is None else a_parts
    bh, bl = _split(b)
    # e = al * bl - (((p - ah * bh) - al * bh) - ah * bl), with two temporaries
    e = ah * bh
    np.subtract(p, e, out=e)
    t = al * bh
    e -= t
    np.multiply(ah, bl, out=t)
    e -= t
    np.multiply(al, bl, out=t)
    np.subtract(t, e, out=e)
    return p, e


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _sum_dd(hi: np.ndarray, lo: np.ndarray, axis: int) -> np.ndarray:
    """Sum ``hi + lo`` along ``axis`` in double-double arithmetic (pairwise, vectorised).

    Each level adds neighbouring pairs with :func:`_two_sum`, carrying the rounding errors
    in ``lo``; the result is accurate to about ``eps * |sum| + eps**2 * sum(|terms|)``.
    """
    hi = np.moveaxis(hi, axis, 0)
    lo = np.moveaxis(lo, axis, 0)
    while hi.shape[0] > 1:
        if hi.shape[0] % 2:
            pad = np.zeros((1, *hi.shape[1:]))
            hi, lo = np.concatenate([hi, pad]), np.concatenate([lo, pad])
        s, e = _two_sum(hi[0::2], hi[1::2])
        hi, lo = s, lo[0::2] + lo[1::2] + e
    return cast(np.ndarray, hi[0] + lo[0])


def _residual_ext(
    X: np.ndarray,
    y: np.ndarray,
    b: float,
    w: np.ndarray,
    X_parts: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``y - b - X w`` in about twice the working precision, as ``hi + lo``."""
    p, e = _two_prod(X, -w, X_parts)
    p, e = p.T.copy(), e.T.sum(0)  # a column at a time, contiguous
    # add the terms one by one, carrying each rounding error (and the products' own) in lo
    hi, lo = _two_sum(y, np.full_like(y, -b))
    lo += e
    for column in p:
        hi, err = _two_sum(hi, column)
        lo += err
    return _two_sum(hi, lo)


def _gram_ext(
    X: np.ndarray, r: np.ndarray, X_parts: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """``X^T r`` with exact products and double-double sums (one value per column)."""
    p, e = _two_prod(X, r[:, None], X_parts)
    return _sum_dd(p, e, axis=0)


def _centred_gradient(
    X: np.ndarray, mean: np.ndarray, pen: float, D: np.ndarray, W: float, fit_intercept: bool
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    r"""``(swr, r_pen) -> -S^{-T} A^T r``: the gradient of the refinement in the centred,
    scaled coordinates, with exact products and double-double sums.

    With an intercept its rows are :math:`\sum \sqrt w\,r / \sqrt W` and
    :math:`(\sum (x_j - \bar x_j) \sqrt w\,r + \sqrt\alpha\, r_{\mathrm{pen}, j}) / D_j`,
    the centred values held exactly as the pairs :math:`x - \bar x = h + l`: formed from
    :math:`X^\top r` instead, the part that matters is lost to its rounding when the
    means are far larger than the spreads (columns such as ``1e15 + k``).
    """
    if not fit_intercept:
        d = X.shape[1]
        Xg = np.vstack([X, pen * np.eye(d)]) if pen > 0 else X  # the penalty rows of X^T r
        Xg_parts = _split(Xg)
        return lambda swr, r_pen: cast(np.ndarray, -_gram_ext(Xg, np.r_[swr, r_pen], Xg_parts) / D)
    hi, lo = _two_sum(X, np.broadcast_to(-mean, X.shape))
    hi_parts = _split(hi)

    def gradient(swr: np.ndarray, r_pen: np.ndarray) -> np.ndarray:
        gc = _gram_ext(hi, swr, hi_parts) + lo.T @ swr
        if pen > 0:
            gc = gc + pen * r_pen
        g0 = _sum_dd(swr, np.zeros_like(swr), axis=0) / math.sqrt(W)
        return cast(np.ndarray, -np.r_[g0, gc / D])

    return gradient


def polish(
    sol: LstsqSolution,
    X: np.ndarray,
    Y: np.ndarray,
    w: np.ndarray | None,
    max_steps: int = 5,
) -> LstsqSolution:
    r"""Refine a full-rank solution (ridge or not) with extended-precision residuals.

    Iterative refinement of the augmented system
    :math:`\begin{pmatrix} I & A \\ A^\top & 0\end{pmatrix}
    \begin{pmatrix} r \\ \theta \end{pmatrix} = \begin{pmatrix} b \\ 0\end{pmatrix}`
    (Björck), with :math:`A = \sqrt w\,[1, X]` (a ridge penalty :math:`\alpha` adds the
    rows :math:`[0, \sqrt\alpha\, I]` with target 0), the thin Householder QR of the centred,
    scaled :math:`B = A S^{-1}` as the approximate solver, and both residuals
    :math:`f = b - r - A\theta`, :math:`g = -A^\top r` computed with error-free
    transformations. The error contracts by about :math:`\kappa(B)\,\varepsilon` per step.
    """
    n, d = X.shape
    k = Y.shape[1]
    fit_intercept = sol.fit_intercept
    sw = np.ones(n) if w is None else np.sqrt(w)
    W = float(n if w is None else w.sum())
    mean = sol.mean_x.numpy() if fit_intercept else np.zeros(d)
    Xc = X - mean
    D = np.sqrt(((sw[:, None] * Xc) ** 2).sum(0))
    if np.any(D == 0):
        return sol
    cols = [sw[:, None] * Xc / D]
    S = np.diag(D)
    if fit_intercept:
        cols.insert(0, (sw / math.sqrt(W))[:, None])
        S = np.zeros((d + 1, d + 1))
        S[0, 0] = math.sqrt(W)
        S[0, 1:] = math.sqrt(W) * mean
        S[1:, 1:] = np.diag(D)
    Bm = np.hstack(cols)
    # a ridge penalty is d more rows, sqrt(alpha) * e_j with target 0 (not on the intercept)
    pen = math.sqrt(sol.alpha)
    m = d if pen > 0 else 0
    if m:
        Bm = np.vstack([Bm, np.hstack([np.zeros((d, int(fit_intercept))), np.diag(pen / D)])])
    Q, R = np.linalg.qr(Bm)
    X_parts = _split(X)  # reused by every exact product with X
    gradient = _centred_gradient(X, mean, pen, D, W, fit_intercept)
    coef = np.empty((d, k))
    intercept = np.zeros(k)
    rss = np.empty(k)
    worst = 0.0
    steps_max = 0
    for t in range(k):
        y = Y[:, t]
        theta = solve_triangular(S, solve_triangular(R, Q.T @ np.r_[sw * y, np.zeros(m)]))
        theta_best, step_best = theta.copy(), math.inf

        def f_ext(theta: np.ndarray, r: np.ndarray, y: np.ndarray = y) -> np.ndarray:
            b0 = float(theta[0]) if fit_intercept else 0.0
            beta = theta[int(fit_intercept) :]
            hi, lo = _residual_ext(X, y, b0, beta, X_parts)
            if w is None:
                s, e = _two_sum(hi, -r[:n])
                f = s + (e + lo)
            else:
                p, ep = _two_prod(sw, hi)
                s, e = _two_sum(p, -r[:n])
                f = s + (e + ep + sw * lo)
            if not m:
                return cast(np.ndarray, f)
            p, ep = _two_prod(np.full(d, pen), beta)  # the penalty rows: 0 - r - pen * beta
            s, e = _two_sum(-p, -r[n:])
            return cast(np.ndarray, np.r_[f, s + (e - ep)])

        r = f_ext(theta, np.zeros(n + m))
        steps = 0
        for _ in range(max_steps):
            f = f_ext(theta, r)
            h = solve_triangular(R, gradient(sw * r[:n], r[n:]), trans="T")
            d1 = Q.T @ f
            dz = solve_triangular(R, d1 - h)
            dtheta = solve_triangular(S, dz)
            size = float(np.linalg.norm(dtheta) / max(cast(float, np.linalg.norm(theta)), 1e-300))
            if size >= step_best:
                break
            theta = theta + dtheta
            r = r + (Q @ h + (f - Q @ d1))
            theta_best, step_best = theta.copy(), size
            steps += 1
            # done when no coefficient (nor the intercept) moved by more than rounding
            if np.all(np.abs(dtheta) <= EPS * np.abs(theta)):
                break
        theta = theta_best
        b0 = float(theta[0]) if fit_intercept else 0.0
        rss[t] = float(np.sum(r[:n] ** 2))  # r is sqrt(w) times the residual, refined
        coef[:, t] = theta[int(fit_intercept) :]
        intercept[t] = b0
        worst = max(worst, step_best)
        steps_max = max(steps_max, steps)
    Rs = torch.from_numpy(R[int(fit_intercept) :, int(fit_intercept) :].copy())
    Dt = torch.from_numpy(D.copy())

    est = max(EPS, min(worst, sol.est_rel_error)) if steps_max else sol.est_rel_error
    return replace(
        sol,
        coef=torch.from_numpy(coef),
        intercept=torch.from_numpy(intercept),
        rss=torch.from_numpy(rss),
        refinement_steps=steps_max,
        est_rel_error=est,
        _scale=Dt,
        _factor_kind="tri",
        _factor=Rs,
        _factor_s=None,
    )
