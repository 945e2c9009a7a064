r"""L-BFGS for :class:`~torchlinear.SoftmaxRegression`: the objective on standardized
features, its exact gradient and (small problems) Hessian, and the Newton polish.

The objective, the preconditioning and the stopping rules are described in
:mod:`torchlinear.estimators.softmax` ("Solvers").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
import torch

__all__ = ["SoftmaxObjective", "lbfgs_solve"]


class SoftmaxObjective:
    """The penalised cross-entropy of the module notes as a function of the
    standardized-feature parameters ``theta`` (all rows' weights, then the intercepts),
    with its gradient; ``last_value`` is the value at the last point evaluated."""

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        s: np.ndarray,
        per_sample: np.ndarray,
        alpha: float,
        k: int,
        fit_intercept: bool,
        precision: str,
    ) -> None:
        # The two products with X run in ``matmul_dtype``; everything per sample (softmax,
        # log-sum-exp, the weighted sums) runs in float64 (float32 on MPS, which lacks it).
        exact = torch.float32 if X.device.type == "mps" else torch.float64
        self.exact = exact
        self.matmul_dtype = exact if precision == "float64" else torch.float32
        self.n, self.d = X.shape
        self.alpha, self.fit_intercept, self.k = alpha, fit_intercept, k
        self.binary = k == 2
        self.rows = 1 if self.binary else k  # one logit vector for two classes
        mean, scale = _feature_moments(X, s, centre=fit_intercept)
        # Precondition: unit curvature per coordinate at the start, where each logit's
        # curvature is about p(1 - p) at the class frequencies p, plus the penalty's alpha.
        prior = np.bincount(y.cpu().numpy(), per_sample, minlength=k) / per_sample.sum()
        curvature = float(np.mean(prior * (1 - prior)))
        scale = np.sqrt(scale**2 + alpha / curvature)
        self.mean_t = torch.from_numpy(mean).to(X.device, exact)
        self.scale_t = torch.from_numpy(scale).to(X.device, exact)
        self.X = X.to(self.matmul_dtype)
        self.w = torch.from_numpy(per_sample / s.sum()).to(X.device, exact).unsqueeze(1)
        self.y_col = y.unsqueeze(1)
        self.y01 = y.to(exact).unsqueeze(1)
        self.minus_one = torch.full((self.n, 1), -1.0, dtype=exact, device=X.device)
        self.last_value = float("nan")

    def parts(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Standardized-feature parameters (V, c) -> original-scale (W, b)."""
        rows, d = self.rows, self.d
        W = t[: rows * d].view(rows, d) / self.scale_t
        b = t[rows * d :] - W @ self.mean_t if self.fit_intercept else None
        return W, b

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        X, w, exact, matmul_dtype = self.X, self.w, self.exact, self.matmul_dtype
        W, b = self.parts(torch.from_numpy(theta).to(X.device, exact))
        O = (X @ W.T.to(matmul_dtype)).to(exact)
        if b is not None:
            O += b
        if self.binary:
            f = (w * (torch.nn.functional.softplus(O) - self.y01 * O)).sum()
            G = (torch.sigmoid(O) - self.y01) * w
        else:
            Z = O - O.amax(dim=1, keepdim=True)
            log_norm = torch.log(torch.exp(Z).sum(dim=1, keepdim=True))
            f = (w * (log_norm - Z.gather(1, self.y_col))).sum()
            G = torch.exp(Z - log_norm)  # softmax(O)
            G.scatter_add_(1, self.y_col, self.minus_one)  # minus the one-hot labels
            G *= w
        f = f + 0.5 * self.alpha * (W * W).sum()
        g_b = G.sum(dim=0)
        grad_W = (G.T.to(matmul_dtype) @ X).to(exact) + self.alpha * W
        if self.fit_intercept:
            grad_W -= torch.outer(g_b, self.mean_t)
        grad = (
            [(grad_W / self.scale_t).reshape(-1), g_b]
            if self.fit_intercept
            else [(grad_W / self.scale_t).reshape(-1)]
        )
        self.last_value = float(f)  # the line search ends at the accepted point
        return self.last_value, torch.cat(grad).cpu().numpy().astype(np.float64)

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        """The exact Hessian in ``theta``'s order (small problems only)."""
        X, exact, rows, d, n = self.X, self.exact, self.rows, self.d, self.n
        mean_t, scale_t, w = self.mean_t, self.scale_t, self.w
        W, b = self.parts(torch.from_numpy(theta).to(X.device, exact))
        O = X @ W.T + (b if b is not None else 0.0)
        Z = (X - mean_t) / scale_t if self.fit_intercept else X / scale_t
        if self.fit_intercept:
            Z = torch.cat([Z, torch.ones(n, 1, dtype=exact, device=X.device)], dim=1)
        P = torch.sigmoid(O) if self.binary else torch.softmax(O, dim=1)
        p1 = Z.shape[1]
        H = torch.zeros(rows, p1, rows, p1, dtype=exact, device=X.device)
        for a in range(rows):
            for c in range(a, rows):
                if self.binary:
                    curv = P[:, 0] * (1 - P[:, 0])
                else:
                    curv = P[:, a] * (float(a == c) - P[:, c])
                block = Z.T @ (Z * (w[:, 0] * curv).unsqueeze(1))
                H[a, :, c, :] = block
                H[c, :, a, :] = block.T
        ridge = self.alpha / scale_t**2
        for a in range(rows):
            H[a, range(d), a, range(d)] += ridge
        H = H.reshape(rows * p1, rows * p1)
        # theta holds all rows' weights first, then the intercepts: permute to it
        order = [a * p1 + j for a in range(rows) for j in range(d)]
        order += [a * p1 + d for a in range(rows)] if self.fit_intercept else []
        return H[order][:, order].cpu().numpy()


def lbfgs_solve(
    objective: SoftmaxObjective,
    y: torch.Tensor,
    per_sample: np.ndarray,
    tol: float,
    max_iter: int,
) -> tuple[Any, list[float]]:
    """L-BFGS-B from the best constant model, finished on small problems by Newton steps;
    the result and the objective after each iteration."""
    rows, d, n, k = objective.rows, objective.d, objective.n, objective.k
    fit_intercept = objective.fit_intercept
    curve: list[float] = []
    theta0 = np.zeros(rows * d + (rows if fit_intercept else 0))
    if fit_intercept:  # start from the class frequencies (the best constant model)
        theta0[rows * d :] = _prior_logits(y.cpu().numpy(), per_sample, k)
    # In float32 the objective is only known to about 1e-7 relative: stop there.
    exact64 = objective.matmul_dtype == torch.float64
    ftol = 64 * np.finfo(float).eps if exact64 else 1e-9
    rows_d = rows * (d + int(fit_intercept))
    small = exact64 and rows_d <= 2000 and n * rows_d**2 <= 2e9
    # A small problem gets at most 100 L-BFGS iterations before the Newton steps.
    budget = min(max_iter, 100) if small and max_iter > 100 else max_iter
    from scipy import optimize  # loaded by the fits that use it (~0.15 s, 16 MB at start-up)

    result = optimize.minimize(
        objective,
        theta0,
        jac=True,
        method="L-BFGS-B",
        callback=lambda *_: curve.append(objective.last_value),
        options={"maxiter": budget, "gtol": tol, "ftol": ftol, "maxls": 50},
    )
    if small and (budget < max_iter or result.success):
        # Small problem: finish with Newton steps on the exact Hessian, which pin down
        # the ill-conditioned directions that the objective's rounding hides from L-BFGS.
        result = _newton_polish(objective, objective.hessian, result, tol, curve)
    return result, curve


def _feature_moments(X: torch.Tensor, s: np.ndarray, *, centre: bool) -> tuple[np.ndarray, ...]:
    """Weighted mean (zeros unless ``centre``) and scale of each column of ``X``, in float64,
    read in blocks of rows (no float64 copy of ``X``). The scale is the standard deviation
    (the root mean square without centring); a column with none is given scale 1."""
    n, d = X.shape
    weights = torch.from_numpy(s / s.sum()).to(X.device, torch.float64)
    step = max(1, (1 << 22) // max(d, 1))
    mean = torch.zeros(d, dtype=torch.float64, device=X.device)
    if centre:
        for start in range(0, n, step):
            block = X[start : start + step].to(torch.float64)
            mean += weights[start : start + step] @ block
    second = torch.zeros(d, dtype=torch.float64, device=X.device)
    for start in range(0, n, step):
        block = X[start : start + step].to(torch.float64) - mean
        second += weights[start : start + step] @ (block * block)
    scale = torch.sqrt(second)
    size = torch.sqrt(second + mean * mean)
    scale = torch.where(scale > 1e-10 * size, scale, torch.ones_like(scale))
    return mean.cpu().numpy(), scale.cpu().numpy()


def _prior_logits(y_index: np.ndarray, per_sample: np.ndarray, k: int) -> np.ndarray:
    """The intercepts of the best constant model: log class frequencies (weighted, smoothed
    by one half so that no class starts at minus infinity)."""
    counts = np.bincount(y_index, per_sample, minlength=k) + 0.5 * per_sample.mean()
    logits = np.log(counts / counts.sum())
    if k == 2:
        return np.array([logits[1] - logits[0]])
    return logits - logits.mean()


def _newton_polish(objective, hessian, result, tol: float, curve: list[float]):
    """Newton steps with backtracking from ``result.x`` while they make progress, until the
    largest gradient component is at most ``min(tol, 1e-10)`` (at most 50 steps: they are
    cheap, and converge quadratically); returns ``result`` updated (``nit`` counts the
    Newton steps too; ``success`` says whether the criterion, ``tol``, was met)."""
    theta = result.x.copy()
    f, g = objective(theta)
    steps = 0
    goal = min(tol, 1e-10)
    while (steps == 0 or np.max(np.abs(g), initial=0.0) > goal) and steps < 50:
        H = hessian(theta)
        H[np.diag_indices_from(H)] += 1e-13 * max(1.0, float(np.abs(np.diag(H)).max()))
        try:
            step = -scipy.linalg.solve(H, g, assume_a="pos")
        except (np.linalg.LinAlgError, ValueError):
            step = -np.linalg.lstsq(H, g, rcond=None)[0]
        slope = float(g @ step)
        if not slope < 0:
            break
        t, moved = 1.0, False
        while t > 1e-10:
            f_new, g_new = objective(theta + t * step)
            rounding = 1e-15 * abs(f)
            if f_new <= f + 1e-4 * t * slope or (
                f_new <= f + rounding and np.max(np.abs(g_new)) < np.max(np.abs(g))
            ):
                theta, f, g, moved = theta + t * step, f_new, g_new, True
                break
            t /= 2
        if not moved:
            break
        steps += 1
        curve.append(f)
    if steps or np.max(np.abs(g), initial=0.0) <= tol:
        result.x, result.fun, result.jac = theta, f, g
        result.nit = int(result.nit) + steps
        met = bool(np.max(np.abs(g), initial=0.0) <= tol)
        result.success = met or bool(result.success)
        if met:
            result.message = "Newton steps reached the gradient tolerance"
    return result
