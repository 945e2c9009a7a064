r"""Exact least squares and ridge from streamed sufficient statistics.

The problem, for weights :math:`w_i \ge 0`, targets :math:`y_i \in \mathbb R^k` and an
optional intercept :math:`b`, is

.. math::

    \min_{W, b} \; \sum_i w_i \lVert y_i - W^\top x_i - b \rVert^2
    + \alpha \lVert W \rVert_F^2 ,

with the intercept never penalised. Two mergeable summaries of the data solve it exactly,
each built in one pass over row chunks with float64 accumulation:

* :class:`GramStats` keeps :math:`\sum w`, :math:`\sum w u`, :math:`\sum w v`,
  :math:`\sum w u u^\top`, :math:`\sum w u v^\top`, :math:`\sum w v v^\top` for the shifted
  rows :math:`u = x - c_x`, :math:`v = y - c_y` (the shift, taken from the first chunk,
  keeps the later centring free of cancellation). Centring and column scaling
  :math:`D = \operatorname{diag}(\lVert x_j - \bar x_j \rVert_w)` give
  :math:`G_s = D^{-1} X_c^\top W X_c D^{-1}` with unit diagonal, solved by Cholesky.
  The normal equations square the condition number: the relative error is about
  :math:`\kappa(G_s)\,\varepsilon`.
* :class:`TSQRStats` keeps the triangular factor :math:`R` of
  :math:`\sqrt w\,[\,1,\; x - c_x,\; y - c_y\,]`: each chunk is reduced by a Householder QR
  and stacked under the running :math:`R`, which is factorised again (a "tall-skinny QR").
  Its first row carries the means, the trailing block is the :math:`R` of the centred data
  and its last block the residual, so :math:`\lVert R_{yy} \rVert^2` is the residual sum of
  squares. Householder QR is backward stable: the error is about
  :math:`\varepsilon\,\kappa\,(1 + \kappa\,\lVert r\rVert / (\lVert X\rVert \lVert w\rVert))`.

:func:`lstsq` drives them for data in memory (``solver="auto"``):

1. Gram pass, then Cholesky of :math:`G_s` when its reciprocal condition number
   :math:`\lambda_{\min}/\lambda_{\max}` is at least :data:`RCOND_CHOLESKY` (``1e-10``,
   i.e. :math:`\kappa(X_s) \le 10^5`); when the first chunk is already below it, the Gram
   pass is skipped altogether.
2. Otherwise (or if Cholesky fails) a TSQR pass centred on the exact means; singular values
   of the column-scaled :math:`R` below :math:`10\,p\,\varepsilon\,\sigma_{\max}` mark the
   design as rank deficient, and the SVD then returns the minimum-norm solution (minimum
   norm of the coefficients in the user's units) with a :class:`RankDeficientWarning`
   naming the collinear columns.
3. Accuracy: when the estimated relative error exceeds ``1e-13`` the solution is improved:
   small problems (at most :data:`POLISH_MAX_ELEMENTS` values, no penalty) by iterative
   refinement of the augmented system with residuals in twice the working precision
   (error-free products and sums), which reaches full float64 accuracy while
   :math:`\kappa\,\varepsilon < 1`; larger Cholesky solutions by refinement passes over
   the data (residuals in float64), which bring them to QR accuracy. A remaining estimated
   error above ``1e-8`` raises an :class:`IllConditionedWarning`.

Every path records the solver used, the condition number :math:`\kappa(X_s)` of the centred,
column-scaled design and the error estimate in the returned :class:`LstsqSolution`.
"""

from __future__ import annotations

import contextlib
import math
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

__all__ = [
    "EPS",
    "POLISH_MAX_ELEMENTS",
    "RCOND_CHOLESKY",
    "GramStats",
    "IllConditionedWarning",
    "LstsqSolution",
    "RankDeficientWarning",
    "TSQRStats",
    "default_chunk_rows",
    "gram_pass",
    "lstsq",
    "tsqr_pass",
]

EPS: float = float(np.finfo(np.float64).eps)
#: Cholesky is used when ``lambda_min / lambda_max`` of the centred, scaled Gram is at least this.
RCOND_CHOLESKY: float = 1e-10
#: Problems with at most this many values (rows x (features + targets)) get the
#: extended-precision refinement when they need it; it keeps a thin Q of their size.
POLISH_MAX_ELEMENTS: int = 500_000
#: Estimated relative error above which the solution is refined.
REFINE_ABOVE: float = 1e-13
#: Estimated relative error above which an IllConditionedWarning is raised.
WARN_ABOVE: float = 1e-8
#: A column whose centred norm is below this times its raw norm is constant (to rounding).
_CONSTANT_RTOL: float = 64 * EPS
_CHUNK_BYTES: int = 1 << 22

Solver = Literal["auto", "cholesky", "qr", "svd"]
_SOLVERS = ("auto", "cholesky", "qr", "svd")


class RankDeficientWarning(UserWarning):
    """The design is rank deficient; the minimum-norm solution was returned."""


class IllConditionedWarning(UserWarning):
    """The design is so ill-conditioned that some digits of the solution are lost."""


def default_chunk_rows(n_columns: int) -> int:
    """Rows per chunk: about 4 MiB of float64, between 1,024 and 65,536 rows.

    Examples
    --------
    >>> default_chunk_rows(64)
    8192
    """
    return int(min(65536, max(1024, _CHUNK_BYTES // (8 * max(1, n_columns)))))


def _gram_chunk_rows(n_columns: int) -> int:
    """Rows per Gram chunk: about 2 MiB, so the chunk is still in a core's cache when
    ``X^T [1, y]`` reads it again after the ``syrk``."""
    return int(min(65536, max(1024, (_CHUNK_BYTES // 2) // (8 * max(1, n_columns)))))


def _rank_rtol(n_params: int) -> float:
    return 10.0 * max(n_params, 1) * EPS


# ----------------------------------------------------------------------------- helpers


def _f64(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    return t.to(device=device, dtype=torch.float64)


def _as_2d(Y: torch.Tensor) -> torch.Tensor:
    return Y.reshape(-1, 1) if Y.ndim == 1 else Y


def _use_numpy(*tensors: torch.Tensor | None) -> bool:
    return all(t is None or t.device.type == "cpu" for t in tensors)


def _weighted_first_moments(
    X: torch.Tensor, w: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Weighted column means and standard deviations of a chunk, in float64."""
    if _use_numpy(X, w):  # NumPy: no thread team for a small reduction
        Xn = X.numpy().astype(np.float64, copy=False)
        wn = None if w is None else w.numpy().astype(np.float64, copy=False)
        Wn = float(len(Xn)) if wn is None else float(wn.sum())
        if Wn <= 0:
            z = torch.zeros(Xn.shape[1], dtype=torch.float64)
            return z, z.clone(), 0.0
        with np.errstate(all="ignore"):  # NaN/inf are reported from the statistics
            mean_n = Xn.mean(0) if wn is None else (wn @ Xn) / Wn
            dev2 = (Xn - mean_n) ** 2
            var_n = dev2.mean(0) if wn is None else (wn @ dev2) / Wn
        return torch.from_numpy(mean_n), torch.from_numpy(np.sqrt(np.maximum(var_n, 0))), Wn
    Xd = X.to(torch.float64)
    if w is None:
        W = float(len(Xd))
        mean = Xd.mean(0)
        var = ((Xd - mean) ** 2).mean(0)
    else:
        wd = w.to(device=Xd.device, dtype=torch.float64)
        W = float(wd.sum())
        if W <= 0:
            z = torch.zeros(Xd.shape[1], dtype=torch.float64, device=Xd.device)
            return z, z.clone(), 0.0
        mean = (wd @ Xd) / W
        var = (wd @ (Xd - mean) ** 2) / W
    return mean, var.clamp_min(0).sqrt(), W


def _sign_normalise(R: torch.Tensor) -> torch.Tensor:
    """Flip rows of an upper-triangular factor so its diagonal is non-negative."""
    s = torch.sign(torch.diagonal(R))
    s = torch.where(s == 0, torch.ones_like(s), s)
    return R * s[:, None]


def _qr_r(A: torch.Tensor) -> torch.Tensor:
    """The R factor of ``A`` (m x p) as a p x p upper-triangular matrix (zero-padded)."""
    m, p = A.shape
    if m == 0:
        return torch.zeros(p, p, dtype=A.dtype, device=A.device)
    R = torch.linalg.qr(A, mode="r")[1]
    if R.shape[0] < p:
        R = torch.cat([R, torch.zeros(p - R.shape[0], p, dtype=R.dtype, device=R.device)])
    return R


def _fold_triangle_numpy(R: np.ndarray, B: np.ndarray, trapezoid_rows: int) -> np.ndarray:
    """The R factor of ``[R; B]`` by LAPACK ``tpqrt`` (``R`` upper triangular, p x p;
    ``B`` m x p whose first ``trapezoid_rows`` rows form an upper trapezoid, the rest full).
    Both must be Fortran-ordered float64; they are overwritten."""
    from scipy.linalg import lapack

    p = R.shape[0]
    a, _b, _t, info = lapack.dtpqrt(trapezoid_rows, min(16, p), R, B, overwrite_a=1, overwrite_b=1)
    if info != 0:  # pragma: no cover - LAPACK argument errors only
        raise RuntimeError(f"LAPACK dtpqrt failed with info={info}")
    return np.triu(a)


def _fold_rows_numpy(R: np.ndarray, C: np.ndarray) -> np.ndarray:
    """The R factor of ``[R; C]`` for an upper-triangular ``R`` (p x p) and a C-ordered
    float64 chunk of rows ``C`` (m x p).

    The chunk is reduced to a triangle by Householder QR (``torch.geqrf``, which releases
    the GIL so row blocks run in parallel threads), and the triangle is folded into ``R``
    by ``tpqrt``, which exploits both triangles' zeros.
    """
    m, p = C.shape
    if m >= p:
        a, _tau = torch.geqrf(torch.from_numpy(C))
        B = np.asfortranarray(np.triu(a.numpy()[:p]))
        return _fold_triangle_numpy(R, B, p)
    return _fold_triangle_numpy(R, np.asfortranarray(C), 0)


def _all_finite(*tensors: torch.Tensor) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def _raise_nonfinite(X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None) -> None:
    """Explain why accumulated statistics are not finite (NaN/inf input, or overflow)."""
    from torchlinear._validation import check_finite

    check_finite("X", X)
    check_finite("y", Y)
    if w is not None:
        check_finite("sample_weight", w)
    raise ValueError(
        "the sums of squares overflow float64 (values of X or y near 1e154 or beyond); "
        "rescale X and y before fitting"
    )


def _column_names(names: Sequence[str] | None, idx: Sequence[int]) -> str:
    if names is None:
        return ", ".join(f"x{i}" for i in idx)
    return ", ".join(repr(str(names[i])) for i in idx)


# ----------------------------------------------------------------------------- Gram


@dataclass
class GramStats:
    r"""Mergeable sufficient statistics of weighted least squares (float64).

    For the shifted rows :math:`u = x - c_x`, :math:`v = y - c_y` the object holds
    :math:`n`, :math:`\sum w`, :math:`\sum w u`, :math:`\sum w v`, :math:`\sum w u u^\top`,
    :math:`\sum w u v^\top` and :math:`\sum w v v^\top`. The shift is fixed by the first
    non-empty :meth:`update` (the chunk's weighted mean, for the feature columns whose mean
    exceeds their spread; zero otherwise, which lets float64 CPU chunks be used without a
    copy). Statistics with different shifts merge exactly.

    Build with :meth:`zeros`, fill with :meth:`update` (or ``+``/:meth:`merge` of partial
    results, e.g. across processes), solve with :meth:`solve`.

    Examples
    --------
    >>> X = torch.tensor([[0.0], [1.0], [2.0], [3.0]], dtype=torch.float64)
    >>> y = 1.0 + 2.0 * X[:, 0]
    >>> a = GramStats.zeros(1).update(X[:2], y[:2])
    >>> b = GramStats.zeros(1).update(X[2:], y[2:])
    >>> sol = (a + b).solve()
    >>> round(float(sol.coef[0, 0]), 12), round(float(sol.intercept[0]), 12)
    (2.0, 1.0)
    """

    n_features: int
    n_targets: int
    shift_x: torch.Tensor
    shift_y: torch.Tensor
    n_samples: int
    weight_sum: torch.Tensor
    sum_x: torch.Tensor
    sum_y: torch.Tensor
    xtx: torch.Tensor
    xty: torch.Tensor
    yty: torch.Tensor
    shift_fixed: bool = False

    @classmethod
    def zeros(
        cls,
        n_features: int,
        n_targets: int = 1,
        *,
        device: torch.device | str = "cpu",
        shift_x: torch.Tensor | None = None,
        shift_y: torch.Tensor | None = None,
    ) -> GramStats:
        """Empty statistics; pass ``shift_x``/``shift_y`` to fix the shift in advance."""
        dev = torch.device(device)
        d, k = int(n_features), int(n_targets)

        def z(*shape: int) -> torch.Tensor:
            return torch.zeros(shape, dtype=torch.float64, device=dev)

        fixed = shift_x is not None or shift_y is not None
        cx = z(d) if shift_x is None else _f64(shift_x, dev).reshape(d).clone()
        cy = z(k) if shift_y is None else _f64(shift_y, dev).reshape(k).clone()
        return cls(d, k, cx, cy, 0, z(), z(d), z(k), z(d, d), z(d, k), z(k, k), fixed)

    @property
    def device(self) -> torch.device:
        return self.xtx.device

    def _choose_shift(self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None) -> None:
        mean_x, std_x, W = _weighted_first_moments(X, w)
        if W <= 0:
            return
        mean_y, _, _ = _weighted_first_moments(Y, w)
        keep = mean_x.abs() > std_x
        self.shift_x = torch.where(keep, mean_x, torch.zeros_like(mean_x)).to(self.device)
        self.shift_y = mean_y.to(self.device)
        self.shift_fixed = True

    def update(
        self, X: torch.Tensor, Y: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> GramStats:
        """Add a chunk of rows (any device, float32 or float64) in place; return ``self``.

        ``Y`` is ``(m,)`` or ``(m, k)``; ``sample_weight`` is ``(m,)`` and non-negative.
        The chunk is upcast to float64 piece by piece (about 2 MiB at a time, one block of
        rows per thread), so the extra memory is O(chunk x d).
        """
        Y = _as_2d(Y)
        if X.ndim != 2 or X.shape[1] != self.n_features or Y.shape[1] != self.n_targets:
            raise ValueError(
                f"chunk has shape X {tuple(X.shape)}, y {tuple(Y.shape)}; these statistics "
                f"expect {self.n_features} feature(s) and {self.n_targets} target(s)"
            )
        if X.shape[0] == 0:
            return self
        merged = gram_pass(X, Y, sample_weight, device=self.device, stats=self)
        self.__dict__.update(merged.__dict__)
        return self

    def _update_chunk(
        self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None, buf: Any
    ) -> Any:
        m = X.shape[0]
        self.n_samples += m
        if self.device.type == "cpu" and _use_numpy(X, Y, w):
            return self._update_chunk_numpy(X, Y, w, buf)
        dev = self.device
        A = X.to(device=dev, dtype=torch.float64)
        if bool(self.shift_x.any()):
            A = A - self.shift_x
        Z = torch.empty(m, 1 + self.n_targets, dtype=torch.float64, device=dev)
        torch.sub(_f64(Y, dev), self.shift_y, out=Z[:, 1:])
        if w is None:
            Z[:, 0] = 1.0
            self.weight_sum += m
        else:
            wd = _f64(w, dev)
            sw = wd.sqrt()
            A = A * sw[:, None]
            Z[:, 0] = sw
            Z[:, 1:] *= sw[:, None]
            self.weight_sum += wd.sum()
        self.xtx.addmm_(A.T, A)
        AZ = A.T @ Z
        self.sum_x += AZ[:, 0]
        self.xty += AZ[:, 1:]
        ZZ = Z.T @ Z
        self.sum_y += ZZ[0, 1:]
        self.yty += ZZ[1:, 1:]
        return None

    def _update_chunk_numpy(
        self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None, buf: Any
    ) -> Any:
        with np.errstate(all="ignore"):  # NaN/inf are reported from the statistics
            return self._update_chunk_numpy_impl(X, Y, w, buf)

    def _update_chunk_numpy_impl(
        self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None, buf: Any
    ) -> Any:
        Xn = X.numpy()
        m, d = Xn.shape
        cx = self.shift_x.numpy()
        shifted = bool(cx.any())
        wn = None if w is None else w.numpy().astype(np.float64, copy=False)
        if shifted or Xn.dtype != np.float64 or wn is not None:
            if buf is None or buf.shape[0] < m:
                buf = np.empty((max(m, default_chunk_rows(d)), d))
            A = buf[:m]
            if shifted:
                np.subtract(Xn, cx, out=A)
            else:
                A[...] = Xn
        else:
            A = Xn
        Z = np.empty((m, 1 + self.n_targets))
        np.subtract(Y.numpy(), self.shift_y.numpy(), out=Z[:, 1:])
        if wn is None:
            Z[:, 0] = 1.0
            self.weight_sum += m
        else:
            sw = np.sqrt(wn)
            A *= sw[:, None]
            Z[:, 0] = sw
            Z[:, 1:] *= sw[:, None]
            self.weight_sum += float(wn.sum())
        xtx = self.xtx.numpy()
        xtx += A.T @ A  # NumPy dispatches A.T @ A to BLAS syrk (half the flops of gemm)
        AZ = A.T @ Z
        self.sum_x.numpy()[:] += AZ[:, 0]
        self.xty.numpy()[:] += AZ[:, 1:]
        ZZ = Z.T @ Z
        self.sum_y.numpy()[:] += ZZ[0, 1:]
        self.yty.numpy()[:] += ZZ[1:, 1:]
        return buf

    def to(self, device: torch.device | str) -> GramStats:
        """A copy on ``device``."""
        from dataclasses import fields

        dev = torch.device(device)
        values = {
            f.name: (v.to(dev) if isinstance(v, torch.Tensor) else v)
            for f in fields(self)
            for v in [getattr(self, f.name)]
        }
        return GramStats(**values)

    def reshifted(self, shift_x: torch.Tensor, shift_y: torch.Tensor) -> GramStats:
        r"""The same statistics about another shift (exact algebra).

        With :math:`\delta = c_{\text{old}} - c_{\text{new}}`,
        :math:`\sum w (u+\delta)(u+\delta)^\top = S_{uu} + s\delta^\top + \delta s^\top
        + W\delta\delta^\top`, and likewise for the other moments.
        """
        dev = self.device
        cx, cy = _f64(shift_x, dev).reshape(-1), _f64(shift_y, dev).reshape(-1)
        dx, dy = self.shift_x - cx, self.shift_y - cy
        W = self.weight_sum
        sx, sy = self.sum_x, self.sum_y
        return GramStats(
            self.n_features,
            self.n_targets,
            cx.clone(),
            cy.clone(),
            self.n_samples,
            W.clone(),
            sx + W * dx,
            sy + W * dy,
            self.xtx + torch.outer(sx, dx) + torch.outer(dx, sx) + W * torch.outer(dx, dx),
            self.xty + torch.outer(sx, dy) + torch.outer(dx, sy) + W * torch.outer(dx, dy),
            self.yty + torch.outer(sy, dy) + torch.outer(dy, sy) + W * torch.outer(dy, dy),
            True,
        )

    def merge(self, other: GramStats) -> GramStats:
        """Statistics of the union of both row sets (a new object)."""
        if (self.n_features, self.n_targets) != (other.n_features, other.n_targets):
            raise ValueError(
                f"cannot merge statistics of {self.n_features} feature(s)/{self.n_targets} "
                f"target(s) with {other.n_features}/{other.n_targets}"
            )
        if other.n_samples == 0:
            return self.reshifted(self.shift_x, self.shift_y)
        if self.n_samples == 0:
            return other.reshifted(other.shift_x, other.shift_y)
        o = other.to(self.device).reshifted(self.shift_x, self.shift_y)
        return GramStats(
            self.n_features,
            self.n_targets,
            self.shift_x.clone(),
            self.shift_y.clone(),
            self.n_samples + o.n_samples,
            self.weight_sum + o.weight_sum,
            self.sum_x + o.sum_x,
            self.sum_y + o.sum_y,
            self.xtx + o.xtx,
            self.xty + o.xty,
            self.yty + o.yty,
            True,
        )

    __add__ = merge

    def means(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Weighted means of the features and targets."""
        W = self.weight_sum
        if float(W) <= 0:
            return self.shift_x.clone(), self.shift_y.clone()
        return self.shift_x + self.sum_x / W, self.shift_y + self.sum_y / W

    def system(
        self, fit_intercept: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        r"""Return ``(G, B, C, raw_diag)``: the (centred if ``fit_intercept``) moments.

        ``G`` is :math:`X^\top W X`, ``B`` is :math:`X^\top W Y`, ``C`` is
        :math:`Y^\top W Y` after centring on the weighted means (or about zero), and
        ``raw_diag`` holds :math:`\sum w x_j^2` (to recognise constant columns).
        """
        W = self.weight_sum
        sx, sy, cx, cy = self.sum_x, self.sum_y, self.shift_x, self.shift_y
        raw = torch.diagonal(self.xtx) + 2 * cx * sx + W * cx * cx
        if fit_intercept:
            Wd = W if float(W) > 0 else torch.ones_like(W)
            mx, my = sx / Wd, sy / Wd
            G = self.xtx - torch.outer(sx, mx)
            B = self.xty - torch.outer(sx, my)
            C = self.yty - torch.outer(sy, my)
        else:
            G = self.xtx + torch.outer(sx, cx) + torch.outer(cx, sx) + W * torch.outer(cx, cx)
            B = self.xty + torch.outer(sx, cy) + torch.outer(cx, sy) + W * torch.outer(cx, cy)
            C = self.yty + torch.outer(sy, cy) + torch.outer(cy, sy) + W * torch.outer(cy, cy)
        G = 0.5 * (G + G.T)
        return G, B, 0.5 * (C + C.T), raw

    def solve(
        self,
        *,
        alpha: float = 0.0,
        fit_intercept: bool = True,
        feature_names: Sequence[str] | None = None,
    ) -> LstsqSolution:
        """Solve by Cholesky of the centred, column-scaled Gram matrix.

        If the factorisation fails or the reciprocal condition number is below
        :data:`RCOND_CHOLESKY`, the statistics alone cannot give an accurate answer: the
        solution then comes from an eigendecomposition (minimum norm), with an
        :class:`IllConditionedWarning` or :class:`RankDeficientWarning`. With the data at
        hand, :func:`lstsq` falls back to a QR pass instead.
        """
        sol = _solve_gram(self, alpha, fit_intercept, feature_names, allow_fail=False)
        assert sol is not None
        _warn_accuracy(sol)
        return sol

    def to_tsqr(self) -> TSQRStats:
        """A :class:`TSQRStats` with the same Gram matrix (by Cholesky; loses accuracy if
        ill-conditioned, so prefer accumulating :class:`TSQRStats` directly)."""
        p = 1 + self.n_features + self.n_targets
        M = torch.empty(p, p, dtype=torch.float64, device=self.device)
        M[0, 0] = self.weight_sum
        M[0, 1 : 1 + self.n_features] = self.sum_x
        M[0, 1 + self.n_features :] = self.sum_y
        M[1 : 1 + self.n_features, 1 : 1 + self.n_features] = self.xtx
        M[1 : 1 + self.n_features, 1 + self.n_features :] = self.xty
        M[1 + self.n_features :, 1 + self.n_features :] = self.yty
        M = torch.triu(M) + torch.triu(M, 1).T
        evals, evecs = torch.linalg.eigh(M)
        half = evecs * evals.clamp_min(0).sqrt()
        R = _sign_normalise(_qr_r(half.T))
        return TSQRStats(
            self.n_features,
            self.n_targets,
            self.shift_x.clone(),
            self.shift_y.clone(),
            self.n_samples,
            self.weight_sum.clone(),
            R,
            True,
        )


# ----------------------------------------------------------------------------- TSQR


@dataclass
class TSQRStats:
    r"""Mergeable triangular factor of :math:`\sqrt w\,[1,\; x - c_x,\; y - c_y]`.

    ``r`` is ``(1 + d + k) x (1 + d + k)`` upper triangular with a non-negative diagonal.
    :meth:`update` reduces each chunk by Householder QR and refactorises it stacked under
    the running ``r``; :meth:`merge` stacks two factors (after re-expressing one about the
    other's shift) and refactorises. Everything is one pass, and ``r^T r`` is the Gram
    matrix of the shifted rows with an intercept column.

    Examples
    --------
    >>> X = torch.tensor([[0.0], [1.0], [2.0], [3.0]], dtype=torch.float64)
    >>> y = 1.0 + 2.0 * X[:, 0]
    >>> t = TSQRStats.zeros(1).update(X[:3], y[:3]) + TSQRStats.zeros(1).update(X[3:], y[3:])
    >>> sol = t.solve()
    >>> sol.solver, round(float(sol.coef[0, 0]), 12), round(float(sol.intercept[0]), 12)
    ('qr', 2.0, 1.0)
    """

    n_features: int
    n_targets: int
    shift_x: torch.Tensor
    shift_y: torch.Tensor
    n_samples: int
    weight_sum: torch.Tensor
    r: torch.Tensor
    shift_fixed: bool = False

    @classmethod
    def zeros(
        cls,
        n_features: int,
        n_targets: int = 1,
        *,
        device: torch.device | str = "cpu",
        shift_x: torch.Tensor | None = None,
        shift_y: torch.Tensor | None = None,
    ) -> TSQRStats:
        """Empty factor; pass ``shift_x``/``shift_y`` (e.g. known means) to fix the shift."""
        dev = torch.device(device)
        d, k = int(n_features), int(n_targets)
        p = 1 + d + k
        fixed = shift_x is not None or shift_y is not None
        cx = torch.zeros(d, dtype=torch.float64, device=dev)
        cy = torch.zeros(k, dtype=torch.float64, device=dev)
        if shift_x is not None:
            cx = _f64(shift_x, dev).reshape(d).clone()
        if shift_y is not None:
            cy = _f64(shift_y, dev).reshape(k).clone()
        W = torch.zeros((), dtype=torch.float64, device=dev)
        R = torch.zeros(p, p, dtype=torch.float64, device=dev)
        return cls(d, k, cx, cy, 0, W, R, fixed)

    @property
    def device(self) -> torch.device:
        return self.r.device

    @property
    def n_columns(self) -> int:
        return 1 + self.n_features + self.n_targets

    def update(
        self, X: torch.Tensor, Y: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> TSQRStats:
        """Fold a chunk of rows into the factor in place; return ``self``.

        The chunk is processed ``default_chunk_rows`` rows at a time (float64 copies of
        that size only), one block of rows per thread.
        """
        Y = _as_2d(Y)
        if X.ndim != 2 or X.shape[1] != self.n_features or Y.shape[1] != self.n_targets:
            raise ValueError(
                f"chunk has shape X {tuple(X.shape)}, y {tuple(Y.shape)}; this factor "
                f"expects {self.n_features} feature(s) and {self.n_targets} target(s)"
            )
        if X.shape[0] == 0:
            return self
        merged = tsqr_pass(X, Y, sample_weight, device=self.device, stats=self)
        self.__dict__.update(merged.__dict__)
        return self

    def _update_chunk(
        self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None, buf: Any
    ) -> Any:
        m, d = X.shape
        self.n_samples += m
        p = self.n_columns
        if self.device.type == "cpu" and _use_numpy(X, Y, w):
            if buf is None or buf.shape[0] < m:
                buf = np.empty((max(m, default_chunk_rows(p)), p))
            C = buf[:m]
            C[:, 0] = 1.0
            np.subtract(X.numpy(), self.shift_x.numpy(), out=C[:, 1 : 1 + d])
            np.subtract(_as_2d(Y).numpy(), self.shift_y.numpy(), out=C[:, 1 + d :])
            if w is None:
                self.weight_sum += m
            else:
                wn = w.numpy().astype(np.float64, copy=False)
                C *= np.sqrt(wn)[:, None]
                self.weight_sum += float(wn.sum())
            R = np.asfortranarray(self.r.numpy(), dtype=np.float64)
            self.r = torch.from_numpy(_fold_rows_numpy(R, C))
        else:
            dev = self.device
            M = torch.empty(m, p, dtype=torch.float64, device=dev)
            M[:, 0] = 1.0
            torch.sub(_f64(X, dev), self.shift_x, out=M[:, 1 : 1 + d])
            torch.sub(_f64(Y, dev), self.shift_y, out=M[:, 1 + d :])
            if w is not None:
                wd = _f64(w, dev)
                M *= wd.sqrt()[:, None]
                self.weight_sum += wd.sum()
            else:
                self.weight_sum += m
            self.r = _qr_r(torch.cat([self.r, _qr_r(M)]))
        return buf

    def reshifted(self, shift_x: torch.Tensor, shift_y: torch.Tensor) -> TSQRStats:
        """The same factor about another shift: column j gains ``delta_j`` times column 0."""
        dev = self.device
        cx, cy = _f64(shift_x, dev).reshape(-1), _f64(shift_y, dev).reshape(-1)
        delta = torch.cat([self.shift_x - cx, self.shift_y - cy])
        R = self.r.clone()
        R[:, 1:] += torch.outer(R[:, 0], delta)
        return TSQRStats(
            self.n_features,
            self.n_targets,
            cx.clone(),
            cy.clone(),
            self.n_samples,
            self.weight_sum.clone(),
            R,
            True,
        )

    def merge(self, other: TSQRStats) -> TSQRStats:
        """Factor of the union of both row sets (a new object)."""
        if (self.n_features, self.n_targets) != (other.n_features, other.n_targets):
            raise ValueError(
                f"cannot merge factors of {self.n_features} feature(s)/{self.n_targets} "
                f"target(s) with {other.n_features}/{other.n_targets}"
            )
        if other.n_samples == 0:
            return self.reshifted(self.shift_x, self.shift_y)
        if self.n_samples == 0:
            return other.reshifted(other.shift_x, other.shift_y)
        o = TSQRStats(
            other.n_features,
            other.n_targets,
            other.shift_x.to(self.device),
            other.shift_y.to(self.device),
            other.n_samples,
            other.weight_sum.to(self.device),
            other.r.to(self.device),
            True,
        ).reshifted(self.shift_x, self.shift_y)
        if self.device.type == "cpu":
            folded = _fold_triangle_numpy(
                np.asfortranarray(self.r.numpy(), dtype=np.float64),
                np.asfortranarray(np.triu(o.r.numpy()), dtype=np.float64),
                self.n_columns,
            )
            R = _sign_normalise(torch.from_numpy(folded))
        else:
            R = _sign_normalise(_qr_r(torch.cat([self.r, o.r])))
        return TSQRStats(
            self.n_features,
            self.n_targets,
            self.shift_x.clone(),
            self.shift_y.clone(),
            self.n_samples + o.n_samples,
            self.weight_sum + o.weight_sum,
            R,
            True,
        )

    __add__ = merge

    def solve(
        self,
        *,
        alpha: float = 0.0,
        fit_intercept: bool = True,
        method: Literal["qr", "svd"] = "qr",
        feature_names: Sequence[str] | None = None,
    ) -> LstsqSolution:
        """Solve from the factor: triangular solve (``"qr"``), or the SVD of the scaled
        factor (``"svd"``, always minimum norm). ``"qr"`` switches to the SVD when the
        design is rank deficient, with a :class:`RankDeficientWarning`."""
        sol = _solve_tsqr(self, alpha, fit_intercept, method, feature_names)
        _warn_accuracy(sol)
        return sol


# ----------------------------------------------------------------------------- solution


@dataclass
class LstsqSolution:
    """Result of an exact solve (all tensors float64 on the CPU).

    Attributes
    ----------
    coef : torch.Tensor
        ``(d, k)`` coefficients.
    intercept : torch.Tensor
        ``(k,)`` intercepts (zeros without intercept).
    solver : str
        ``"cholesky"``, ``"qr"`` or ``"svd"``: the path that produced the coefficients.
    cond : float
        2-norm condition number of the centred (with intercept), column-scaled design
        (with the ridge rows for ``alpha > 0``); ``inf`` if singular.
    rank : int
        Numerical rank of that matrix.
    n_samples : int
        Rows seen (including zero-weight rows).
    weight_sum : float
        Sum of the sample weights.
    rss, tss : torch.Tensor
        ``(k,)`` weighted residual and total sums of squares (``tss`` about the mean with an
        intercept, about zero without).
    mean_x, mean_y : torch.Tensor
        Weighted means of the features and targets.
    fit_intercept : bool
    alpha : float
    est_rel_error : float
        Estimated relative error of ``coef`` (``nan`` when rank deficient).
    refinement_steps : int
        Refinement steps applied.
    n_passes : int
        Passes over the data (accumulation, fallback and refinement).
    collinear : tuple of int
        Columns involved in a rank deficiency.
    """

    coef: torch.Tensor
    intercept: torch.Tensor
    solver: str
    cond: float
    rank: int
    n_samples: int
    weight_sum: float
    rss: torch.Tensor
    tss: torch.Tensor
    mean_x: torch.Tensor
    mean_y: torch.Tensor
    fit_intercept: bool
    alpha: float
    est_rel_error: float
    refinement_steps: int = 0
    collinear: tuple[int, ...] = ()
    n_passes: int = 1
    _scale: torch.Tensor | None = field(default=None, repr=False)
    _factor_kind: str = field(default="", repr=False)
    _factor: torch.Tensor | None = field(default=None, repr=False)
    _factor_s: torch.Tensor | None = field(default=None, repr=False)

    @property
    def n_params(self) -> int:
        return self.coef.shape[0] + int(self.fit_intercept)

    def centred_inverse(self) -> torch.Tensor:
        r""":math:`(X_c^\top W X_c + \alpha I)^{+}` (``d x d``), from the stored factor."""
        with _small_linalg(self.coef.shape[0]):
            return self._centred_inverse()

    def _centred_inverse(self) -> torch.Tensor:
        assert self._factor is not None and self._scale is not None
        F = self._factor
        if self._factor_kind == "chol":
            Gs_inv = torch.cholesky_inverse(F)
        elif self._factor_kind == "tri":
            eye = torch.eye(F.shape[0], dtype=F.dtype)
            Ri = torch.linalg.solve_triangular(F, eye, upper=True)
            Gs_inv = Ri @ Ri.T
        else:
            # the pseudo-inverse in the user's units: with D G_s D = B S^2 B^T, B = D V_r
            # (full column rank) and B = Q T, it is Q (T S^2 T^T)^{-1} Q^T
            assert self._factor_s is not None and self._scale is not None
            B = self._scale[:, None] * F
            Q, T = torch.linalg.qr(B)
            Ts = T * self._factor_s
            Ti = torch.linalg.solve_triangular(Ts, Q.T, upper=True)
            return Ti.T @ Ti
        D = self._scale
        return Gs_inv / torch.outer(D, D)

    def covariance_unscaled(self) -> torch.Tensor:
        r"""The unscaled parameter covariance :math:`(A^\top W A)^{+}`, ``A = [1, X]``.

        Parameters are ordered ``[intercept, coef_1, ..., coef_d]`` (no intercept entry
        without one). Multiply by the residual variance for the covariance of the
        estimates.
        """
        C = self.centred_inverse()
        if not self.fit_intercept:
            return C
        d = C.shape[0]
        m = self.mean_x
        Cm = C @ m
        out = torch.empty(d + 1, d + 1, dtype=torch.float64)
        out[0, 0] = 1.0 / self.weight_sum + m @ Cm
        out[0, 1:] = -Cm
        out[1:, 0] = -Cm
        out[1:, 1:] = C
        return out


def _finish(
    coef: torch.Tensor,
    mean_x: torch.Tensor,
    mean_y: torch.Tensor,
    fit_intercept: bool,
) -> torch.Tensor:
    if fit_intercept:
        return mean_y - mean_x @ coef
    return torch.zeros(coef.shape[1], dtype=torch.float64, device=coef.device)


def _constant_columns(
    centred_sq: torch.Tensor, raw_sq: torch.Tensor, fit_intercept: bool
) -> torch.Tensor:
    if fit_intercept:
        return centred_sq <= (_CONSTANT_RTOL**2) * raw_sq
    return centred_sq <= 0


def _min_norm(
    V: torch.Tensor, s: torch.Tensor, c: torch.Tensor, D: torch.Tensor, rank: int
) -> torch.Tensor:
    r"""Minimum-norm coefficients (in the user's units) of a rank-deficient scaled problem.

    The scaled problem has right singular vectors ``V`` (d x d), singular values ``s`` and
    projected right-hand side ``c = U^T q`` (d x k). Its solutions are
    ``w_s = w_p + N z`` with ``N`` the trailing ``d - rank`` columns of ``V``; among them
    ``w = D^{-1} w_s`` of least norm is ``a - P a`` with ``a = D^{-1} w_p`` and ``P`` the
    orthogonal projector onto the range of ``D^{-1} N``.
    """
    Vr = V[:, :rank]
    ws = Vr @ (c[:rank] / s[:rank, None])
    a = ws / D[:, None]
    if rank < V.shape[1]:
        M = V[:, rank:] / D[:, None]
        Qm = torch.linalg.qr(M, mode="reduced")[0]
        a = a - Qm @ (Qm.T @ a)
    return a


def _collinear_columns(V: torch.Tensor, rank: int) -> tuple[int, ...]:
    N = V[:, rank:]
    if N.shape[1] == 0:
        return ()
    strength = N.abs().amax(dim=1)
    return tuple(int(i) for i in torch.nonzero(strength > 1e-6).reshape(-1))


def _rank_message(
    d: int,
    rank: int,
    collinear: Sequence[int],
    constant: Sequence[int],
    n_rows: int,
    fit_intercept: bool,
    names: Sequence[str] | None,
    from_gram: bool = False,
) -> str:
    p = d + int(fit_intercept)
    centred = " after centring" if fit_intercept else ""
    if n_rows < p:
        head = (
            f"X has {n_rows} row(s) but the model has {p} parameters, so the least-squares "
            f"solution is not unique (rank {rank} of {d} columns{centred})"
        )
    elif from_gram:
        head = (
            f"the normal equations are numerically singular (rank {rank} of {d} columns"
            f"{centred} at the precision of the Gram matrix; solver='auto' or 'qr' on data in "
            "memory resolves up to the square root of that precision)"
        )
    else:
        head = f"X is rank deficient: rank {rank} of {d} columns{centred}"
    if n_rows >= p:
        others = [i for i in collinear if i not in set(constant)]
        if others:
            head += f"; collinear columns: {_column_names(names, others)}"
        if constant:
            what = "constant (collinear with the intercept)" if fit_intercept else "all zero"
            head += f"; {what}: {_column_names(names, list(constant))}"
    return (
        head + ". Returning the minimum-norm least-squares solution; drop or combine "
        "the redundant columns, or use alpha > 0."
    )


def _warn_accuracy(sol: LstsqSolution) -> None:
    if sol.rank < sol.coef.shape[0]:
        return
    err = sol.est_rel_error
    if math.isfinite(err) and err > WARN_ABOVE:
        digits = max(0.0, -math.log10(err))
        warnings.warn(
            f"the design is ill-conditioned (condition number {sol.cond:.3g} after "
            f"centring and column scaling); the coefficients have only about {digits:.0f} "
            "correct significant digits. Remove or combine nearly collinear columns, or use "
            "alpha > 0.",
            IllConditionedWarning,
            stacklevel=3,
        )


def _solve_gram(
    stats: GramStats,
    alpha: float,
    fit_intercept: bool,
    names: Sequence[str] | None,
    allow_fail: bool,
) -> LstsqSolution | None:
    """Cholesky solve; ``None`` when ill-conditioned and ``allow_fail`` (caller falls back)."""
    with _small_linalg(stats.n_features):
        return _solve_gram_impl(stats, alpha, fit_intercept, names, allow_fail)


def _solve_gram_impl(
    stats: GramStats,
    alpha: float,
    fit_intercept: bool,
    names: Sequence[str] | None,
    allow_fail: bool,
) -> LstsqSolution | None:
    W = float(stats.weight_sum)
    if W <= 0:
        raise ValueError("all sample weights are zero; give at least one row a positive weight")
    if not _all_finite(stats.xtx, stats.xty, stats.yty, stats.sum_x, stats.sum_y):
        raise ValueError(
            "the statistics hold NaN/inf: a chunk contained NaN/inf or values whose squares "
            "overflow float64"
        )
    d, k = stats.n_features, stats.n_targets
    G, B, C, raw = stats.system(fit_intercept)
    G, B, C, raw = (t.cpu() for t in (G, B, C, raw))
    diag = torch.diagonal(G).clamp_min(0)
    constant = _constant_columns(diag, raw, fit_intercept)
    D = torch.where(constant, torch.ones_like(diag), diag.sqrt())
    Gs = G / torch.outer(D, D)
    Bs = B / D[:, None]
    if bool(constant.any()):
        Gs[constant, :] = 0
        Gs[:, constant] = 0
        Bs[constant, :] = 0
    if alpha > 0:
        Gs = Gs + torch.diag(alpha / (D * D))
    evals = torch.linalg.eigvalsh(Gs)
    lmax = float(evals[-1]) if d else 1.0
    lmin = float(evals[0]) if d else 1.0
    rcond = lmin / lmax if lmax > 0 else 0.0
    L, info = torch.linalg.cholesky_ex(Gs)
    mean_x, mean_y = (t.cpu() for t in stats.means())
    if not fit_intercept:
        mean_x, mean_y = torch.zeros_like(mean_x), torch.zeros_like(mean_y)
    ok = int(info) == 0 and rcond >= RCOND_CHOLESKY
    if not ok and allow_fail:
        return None
    if ok:
        coef = torch.cholesky_solve(Bs, L) / D[:, None]
        cond = math.sqrt(1.0 / rcond)
        rank = d
        solver = "cholesky"
        est = EPS / rcond * max(1, d) ** 0.5
        collinear: tuple[int, ...] = ()
        factor = ("chol", L, None)
    else:
        evals, V = torch.linalg.eigh(Gs)
        evals, V = evals.flip(0), V.flip(1)
        s = evals.clamp_min(0).sqrt()
        tol = math.sqrt(max(d, 1) * EPS) * float(s[0]) if d else 0.0
        rank = int((s > tol).sum())
        c = (V.T @ Bs)[:rank] / s[:rank, None]
        coef = _min_norm(V, s, torch.cat([c, torch.zeros(d - rank, k, dtype=c.dtype)]), D, rank)
        cond = float(s[0] / s[-1]) if float(s[-1]) > 0 else math.inf
        solver = "cholesky"
        collinear = _collinear_columns(V, rank)
        est = math.nan if rank < d else EPS * cond * cond
        if rank < d:
            consts = [int(i) for i in torch.nonzero(constant).reshape(-1)]
            warnings.warn(
                _rank_message(
                    d, rank, collinear, consts, stats.n_samples, fit_intercept, names, True
                ),
                RankDeficientWarning,
                stacklevel=3,
            )
        factor = ("eig", V[:, :rank].clone(), s[:rank].clone())

    intercept = _finish(coef, mean_x, mean_y, fit_intercept)
    rss = torch.diagonal(C - 2 * coef.T @ B + coef.T @ G @ coef).clamp_min(0)
    return LstsqSolution(
        coef=coef,
        intercept=intercept,
        solver=solver,
        cond=cond,
        rank=rank,
        n_samples=stats.n_samples,
        weight_sum=W,
        rss=rss,
        tss=torch.diagonal(C).clamp_min(0).clone(),
        mean_x=mean_x,
        mean_y=mean_y,
        fit_intercept=fit_intercept,
        alpha=alpha,
        est_rel_error=est,
        collinear=collinear,
        _scale=D,
        _factor_kind=factor[0],
        _factor=factor[1],
        _factor_s=factor[2],
    )


def _solve_tsqr(
    stats: TSQRStats,
    alpha: float,
    fit_intercept: bool,
    method: str,
    names: Sequence[str] | None,
) -> LstsqSolution:
    with _small_linalg(stats.n_features):
        return _solve_tsqr_impl(stats, alpha, fit_intercept, method, names)


def _solve_tsqr_impl(
    stats: TSQRStats,
    alpha: float,
    fit_intercept: bool,
    method: str,
    names: Sequence[str] | None,
) -> LstsqSolution:
    W = float(stats.weight_sum)
    if W <= 0:
        raise ValueError("all sample weights are zero; give at least one row a positive weight")
    if not _all_finite(stats.r):
        raise ValueError(
            "the triangular factor holds NaN/inf: a chunk contained NaN/inf or values whose "
            "squares overflow float64"
        )
    d, k = stats.n_features, stats.n_targets
    R = _sign_normalise(stats.r.cpu())
    cx, cy = stats.shift_x.cpu(), stats.shift_y.cpu()
    sqrtW = math.sqrt(W)
    # raw (uncentred) squared norms of the feature columns, to spot constant columns
    colsq = (R[:, 1 : 1 + d] ** 2).sum(0)
    raw = colsq + 2 * cx * sqrtW * R[0, 1 : 1 + d] + W * cx * cx
    if fit_intercept:
        T = R[1:, 1:]
        mean_x = cx + R[0, 1 : 1 + d] / sqrtW
        mean_y = cy + R[0, 1 + d :] / sqrtW
    else:
        shifted = R.clone()
        shifted[:, 1:] += torch.outer(R[:, 0], torch.cat([cx, cy]))
        T = _sign_normalise(_qr_r(shifted[:, 1:]))
        mean_x = torch.zeros(d, dtype=torch.float64)
        mean_y = torch.zeros(k, dtype=torch.float64)
    Rxx, Rxy, Ryy = T[:d, :d], T[:d, d:], T[d:, d:]
    cn2 = (Rxx**2).sum(0)
    constant = _constant_columns(cn2, raw, fit_intercept)
    D = torch.where(constant, torch.ones_like(cn2), cn2.sqrt())
    Rs = Rxx / D
    Rs[:, constant] = 0
    q = Rxy.clone()
    if alpha > 0:
        aug = torch.zeros(2 * d, d + k, dtype=torch.float64)
        aug[:d, :d] = Rs
        aug[:d, d:] = q
        aug[d:, :d] = torch.diag(math.sqrt(alpha) / D)
        Ta = _qr_r(aug)
        Rs, q = Ta[:d, :d], Ta[:d, d:]
    U, s, Vh = torch.linalg.svd(Rs)
    V = Vh.T
    smax = float(s[0]) if d else 1.0
    rank = int((s > _rank_rtol(d + int(fit_intercept)) * smax).sum()) if smax > 0 else 0
    cond = float(s[0] / s[-1]) if d and float(s[-1]) > 0 else math.inf
    collinear: tuple[int, ...] = ()
    if method == "qr" and rank == d:
        coef = torch.linalg.solve_triangular(Rs, q, upper=True) / D[:, None]
        solver = "qr"
        factor = ("tri", Rs.clone(), None)
    else:
        c = U.T @ q
        coef = _min_norm(V, s, c, D, rank)
        solver = "svd"
        collinear = _collinear_columns(V, rank)
        if rank < d:
            consts = [int(i) for i in torch.nonzero(constant).reshape(-1)]
            warnings.warn(
                _rank_message(d, rank, collinear, consts, stats.n_samples, fit_intercept, names),
                RankDeficientWarning,
                stacklevel=3,
            )
        factor = ("eig", V[:, :rank].clone(), s[:rank].clone())

    # residual of any coefficients: ||R_yy||^2 + ||R_xy - R_xx w||^2 (per target)
    rss = (Ryy**2).sum(0) + ((Rxy - Rxx @ coef) ** 2).sum(0)
    tss = (T[:, d:] ** 2).sum(0)
    if rank == d and d:
        z = (coef * D[:, None]).norm(dim=0).clamp_min(1e-300)
        rho = float((rss.sqrt() / (smax * z)).max())
        est = EPS * cond * (1.0 + cond * rho)
    else:
        est = math.nan
    return LstsqSolution(
        coef=coef,
        intercept=_finish(coef, mean_x, mean_y, fit_intercept),
        solver=solver,
        cond=cond,
        rank=rank,
        n_samples=stats.n_samples,
        weight_sum=W,
        rss=rss,
        tss=tss,
        mean_x=mean_x,
        mean_y=mean_y,
        fit_intercept=fit_intercept,
        alpha=alpha,
        est_rel_error=est,
        collinear=collinear,
        _scale=D,
        _factor_kind=factor[0],
        _factor=factor[1],
        _factor_s=factor[2],
    )


# ----------------------------------------------------------------------------- passes


def _row_blocks(n: int, chunk_rows: int, n_workers: int) -> list[tuple[int, int]]:
    """Split ``range(n)`` into up to ``n_workers`` contiguous blocks of whole chunks."""
    n_chunks = -(-n // chunk_rows)
    n_workers = max(1, min(n_workers, n_chunks))
    per = -(-n_chunks // n_workers)
    blocks = []
    for i in range(n_workers):
        lo, hi = i * per * chunk_rows, min(n, (i + 1) * per * chunk_rows)
        if lo < hi:
            blocks.append((lo, hi))
    return blocks


_CAP_LOCK = threading.Lock()
_CAP_DEPTH = 0
_CAP_SAVED: int | None = None
_MAIN_BLAS_DEPTH = 0
_MAIN_BLAS_LIMITER: Any = None
_BLAS_CONTROLLER: Any = None


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """One torch intra-op thread and (from the main thread) one BLAS thread inside the block.

    The passes parallelise over row blocks themselves, and small or memory-bound work
    (a 64 x 64 SVD, a validation scan) is as fast on one thread — while an OpenMP team on a
    busy machine can stall a hundredfold in barrier waits. Re-entrant and safe across
    threads: torch's setting is reference-counted (first in saves, last out restores). The
    NumPy/SciPy OpenBLAS limit is process-wide and OpenBLAS does not reliably take it back
    from other threads, so only the main thread sets and restores it.
    """
    global _CAP_DEPTH, _CAP_SAVED, _MAIN_BLAS_DEPTH, _MAIN_BLAS_LIMITER, _BLAS_CONTROLLER
    is_main = threading.current_thread() is threading.main_thread()
    with _CAP_LOCK:
        if _CAP_DEPTH == 0:
            _CAP_SAVED = torch.get_num_threads()
            torch.set_num_threads(1)
        _CAP_DEPTH += 1
    if is_main:
        if _MAIN_BLAS_DEPTH == 0:
            from threadpoolctl import ThreadpoolController

            if _BLAS_CONTROLLER is None:
                _BLAS_CONTROLLER = ThreadpoolController()
            _MAIN_BLAS_LIMITER = _BLAS_CONTROLLER.limit(limits=1, user_api="blas")
        _MAIN_BLAS_DEPTH += 1
    try:
        yield
    finally:
        if is_main:
            _MAIN_BLAS_DEPTH -= 1
            if _MAIN_BLAS_DEPTH == 0 and _MAIN_BLAS_LIMITER is not None:
                _MAIN_BLAS_LIMITER.restore_original_limits()
                _MAIN_BLAS_LIMITER = None
        with _CAP_LOCK:
            _CAP_DEPTH -= 1
            if _CAP_DEPTH == 0 and _CAP_SAVED is not None:
                torch.set_num_threads(_CAP_SAVED)
                _CAP_SAVED = None


def _torch_threads() -> int:
    """torch's intra-op thread count as the user set it (even inside :func:`single_threaded`)."""
    saved = _CAP_SAVED
    return saved if saved is not None else torch.get_num_threads()


def _small_linalg(size: int) -> contextlib.AbstractContextManager[Any]:
    """Single-threaded dense linear algebra for matrices up to 256 columns."""
    return single_threaded() if size <= 256 else contextlib.nullcontext()


def _parallel(fn: Callable[[int, int], Any], blocks: list[tuple[int, int]]) -> list[Any]:
    """Run ``fn(lo, hi)`` on each block, one thread per block, with single-threaded BLAS
    and torch kernels inside (the blocks are the parallelism)."""
    with single_threaded():
        if len(blocks) == 1:
            return [fn(*blocks[0])]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(blocks)) as ex:
            futures = [ex.submit(fn, lo, hi) for lo, hi in blocks]
            return [f.result() for f in futures]


def _n_workers(X: torch.Tensor, device: torch.device) -> int:
    if device.type != "cpu" or X.device.type != "cpu":
        return 1
    return max(1, _torch_threads())


def gram_pass(
    X: torch.Tensor,
    Y: torch.Tensor,
    sample_weight: torch.Tensor | None = None,
    *,
    chunk_rows: int | None = None,
    device: torch.device | str | None = None,
    stats: GramStats | None = None,
) -> GramStats:
    """Accumulate :class:`GramStats` over the rows of in-memory data, chunk by chunk.

    On the CPU the rows are split into one contiguous block per thread
    (``torch.get_num_threads()``), each accumulated separately and merged.

    Examples
    --------
    >>> X = torch.arange(12, dtype=torch.float64).reshape(6, 2)
    >>> gram_pass(X, X[:, 0], chunk_rows=2).n_samples
    6
    """
    Y = _as_2d(Y)
    n, d = X.shape
    dev = torch.device(device) if device is not None else X.device
    rows = chunk_rows or _gram_chunk_rows(1 + d + Y.shape[1])
    if stats is None:
        stats = GramStats.zeros(d, Y.shape[1], device=dev)
    if n == 0:
        return stats
    if not stats.shift_fixed:
        stats._choose_shift(
            X[:rows], Y[:rows], None if sample_weight is None else sample_weight[:rows]
        )

    def run(lo: int, hi: int) -> GramStats:
        part = GramStats.zeros(
            d, Y.shape[1], device=dev, shift_x=stats.shift_x, shift_y=stats.shift_y
        )
        buf = None
        for start in range(lo, hi, rows):
            stop = min(hi, start + rows)
            w = None if sample_weight is None else sample_weight[start:stop]
            buf = part._update_chunk(X[start:stop], Y[start:stop], w, buf)
        return part

    total = stats
    for part in _parallel(run, _row_blocks(n, rows, _n_workers(X, dev))):
        total = total.merge(part)
    return total


def tsqr_pass(
    X: torch.Tensor,
    Y: torch.Tensor,
    sample_weight: torch.Tensor | None = None,
    *,
    chunk_rows: int | None = None,
    device: torch.device | str | None = None,
    stats: TSQRStats | None = None,
) -> TSQRStats:
    """Accumulate :class:`TSQRStats` over in-memory rows (one block per thread, merged).

    Examples
    --------
    >>> X = torch.arange(12, dtype=torch.float64).reshape(6, 2)
    >>> tsqr_pass(X, X[:, 0], chunk_rows=2).r.shape
    torch.Size([4, 4])
    """
    Y = _as_2d(Y)
    n, d = X.shape
    k = Y.shape[1]
    dev = torch.device(device) if device is not None else X.device
    rows = chunk_rows or default_chunk_rows(1 + d + k)
    if stats is None:
        stats = TSQRStats.zeros(d, k, device=dev)
    if n == 0:
        return stats
    if not stats.shift_fixed:
        w0 = None if sample_weight is None else sample_weight[:rows]
        mean_x, _, W = _weighted_first_moments(X[:rows], w0)
        if W > 0:
            mean_y, _, _ = _weighted_first_moments(Y[:rows], w0)
            stats.shift_x, stats.shift_y = mean_x.to(dev), mean_y.to(dev)
            stats.shift_fixed = True

    def run(lo: int, hi: int) -> TSQRStats:
        part = TSQRStats.zeros(d, k, device=dev, shift_x=stats.shift_x, shift_y=stats.shift_y)
        buf = None
        for start in range(lo, hi, rows):
            stop = min(hi, start + rows)
            w = None if sample_weight is None else sample_weight[start:stop]
            buf = part._update_chunk(X[start:stop], Y[start:stop], w, buf)
        return part

    total = stats
    for part in _parallel(run, _row_blocks(n, rows, _n_workers(X, dev))):
        total = total.merge(part)
    return total


# ----------------------------------------------------------------------------- refinement


def _residual_pass(
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
            Xc = _f64(X[start:stop], device)
            if shifted:
                Xc = Xc - c
            r = _f64(_as_2d(Y[start:stop]), device) - b - Xc @ cf
            wr = r if w is None else r * _f64(w[start:stop], device)[:, None]
            g += Xc.T @ wr
            g0 += wr.sum(0)
            ss += (wr * r).sum(0)
        return g, g0, ss

    parts = _parallel(run, _row_blocks(n, chunk_rows, _n_workers(X, device)))
    g = sum((p[0] for p in parts[1:]), parts[0][0])
    g0 = sum((p[1] for p in parts[1:]), parts[0][1])
    ss = sum((p[2] for p in parts[1:]), parts[0][2])
    return g.cpu(), g0.cpu(), ss.cpu()


def _refine_passes(
    sol: LstsqSolution,
    X: torch.Tensor,
    Y: torch.Tensor,
    w: torch.Tensor | None,
    chunk_rows: int,
    device: torch.device,
    max_steps: int = 3,
) -> LstsqSolution:
    r"""Refine ``sol`` with float64 residual passes over the data.

    Each step solves :math:`(X_c^\top W X_c + \alpha I)\,\delta = X_c^\top W r - \alpha w`
    with the stored factor (the intercept follows from the mean residual). The error
    contracts by about :math:`\kappa(G_s)\varepsilon` per step, to the accuracy of a
    backward-stable solver.
    """
    coef, b = sol.coef.clone(), sol.intercept.clone()
    Cinv = sol.centred_inverse()
    shift = sol.mean_x if sol.fit_intercept else torch.zeros_like(sol.mean_x)
    steps = 0
    rss = sol.rss
    last = math.inf
    for _ in range(max_steps):
        g, g0, ss = _residual_pass(X, Y, w, coef, b, shift, chunk_rows, device)
        rss = ss
        # g = sum w (x - mean) r: with an intercept its equation decouples
        delta = Cinv @ (g - sol.alpha * coef)
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
    return _replace(sol, coef=coef, intercept=b, rss=rss, refinement_steps=steps, est_rel_error=est)


def _replace(sol: LstsqSolution, **changes: Any) -> LstsqSolution:
    from dataclasses import replace

    return replace(sol, **changes)


# -- extended precision: error-free transformations (Dekker, Knuth; Ogita-Rump-Oishi)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = 134217729.0 * a  # 2**27 + 1
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, al * bl - (((p - ah * bh) - al * bh) - ah * bl)


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
    return hi[0] + lo[0]


def _residual_ext(
    X: np.ndarray, y: np.ndarray, b: float, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``y - b - X w`` in about twice the working precision, as ``hi + lo``."""
    n = len(y)
    p, e = _two_prod(X, np.broadcast_to(-w, X.shape))
    terms_hi = np.concatenate([y[:, None], np.full((n, 1), -b), p], axis=1)
    terms_lo = np.concatenate([np.zeros((n, 2)), e], axis=1)
    # row sums as (hi, lo): sum the hi parts pairwise with their errors, then the lo parts
    hi = terms_hi
    lo = terms_lo
    while hi.shape[1] > 1:
        if hi.shape[1] % 2:
            hi = np.concatenate([hi, np.zeros((n, 1))], axis=1)
            lo = np.concatenate([lo, np.zeros((n, 1))], axis=1)
        s, err = _two_sum(hi[:, 0::2], hi[:, 1::2])
        hi, lo = s, lo[:, 0::2] + lo[:, 1::2] + err
    return _two_sum(hi[:, 0], lo[:, 0])


def _gram_ext(X: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``X^T r`` with exact products and double-double sums (one value per column)."""
    p, e = _two_prod(X, r[:, None])
    return _sum_dd(p, e, axis=0)


def _polish(
    sol: LstsqSolution,
    X: np.ndarray,
    Y: np.ndarray,
    w: np.ndarray | None,
    max_steps: int = 5,
) -> LstsqSolution:
    r"""Refine a full-rank unpenalised solution with extended-precision residuals.

    Iterative refinement of the augmented system
    :math:`\begin{pmatrix} I & A \\ A^\top & 0\end{pmatrix}
    \begin{pmatrix} r \\ \theta \end{pmatrix} = \begin{pmatrix} b \\ 0\end{pmatrix}`
    (Björck), with :math:`A = \sqrt w\,[1, X]`, the thin Householder QR of the centred,
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
    Q, R = np.linalg.qr(Bm)
    from scipy.linalg import solve_triangular

    coef = np.empty((d, k))
    intercept = np.zeros(k)
    rss = np.empty(k)
    worst = 0.0
    steps_max = 0
    for t in range(k):
        y = Y[:, t]
        theta = solve_triangular(S, solve_triangular(R, Q.T @ (sw * y)))
        theta_best, step_best = theta.copy(), math.inf

        def f_ext(theta: np.ndarray, r: np.ndarray, y: np.ndarray = y) -> np.ndarray:
            b0 = float(theta[0]) if fit_intercept else 0.0
            hi, lo = _residual_ext(X, y, b0, theta[int(fit_intercept) :])
            if w is None:
                s, e = _two_sum(hi, -r)
                return s + (e + lo)
            p, ep = _two_prod(sw, hi)
            s, e = _two_sum(p, -r)
            return s + (e + ep + sw * lo)

        r = f_ext(theta, np.zeros(n))
        steps = 0
        for _ in range(max_steps):
            f = f_ext(theta, r)
            swr = sw * r
            g = -_gram_ext(X, swr)
            if fit_intercept:
                g = np.concatenate([[-_sum_dd(swr, np.zeros_like(swr), axis=0)], g])
            gz = solve_triangular(S, g, trans="T")
            h = solve_triangular(R, gz, trans="T")
            d1 = Q.T @ f
            dz = solve_triangular(R, d1 - h)
            dtheta = solve_triangular(S, dz)
            size = float(np.linalg.norm(dtheta) / max(np.linalg.norm(theta), 1e-300))
            if size >= step_best:
                break
            theta = theta + dtheta
            r = r + (Q @ h + (f - Q @ d1))
            theta_best, step_best = theta.copy(), size
            steps += 1
            if size <= EPS:
                break
        theta = theta_best
        b0 = float(theta[0]) if fit_intercept else 0.0
        hi, lo = _residual_ext(X, y, b0, theta[int(fit_intercept) :])
        e = hi + lo
        rss[t] = float(np.sum((e * e) * (1.0 if w is None else w)))
        coef[:, t] = theta[int(fit_intercept) :]
        intercept[t] = b0
        worst = max(worst, step_best)
        steps_max = max(steps_max, steps)
    Rs = torch.from_numpy(R[int(fit_intercept) :, int(fit_intercept) :].copy())
    Dt = torch.from_numpy(D.copy())

    est = max(EPS, min(worst, sol.est_rel_error)) if steps_max else sol.est_rel_error
    return _replace(
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


# ----------------------------------------------------------------------------- driver


def _as_tensor(a: Any) -> torch.Tensor:
    """A tensor view of an array (read-only arrays are shared too: they are never written)."""
    if isinstance(a, torch.Tensor):
        return a.detach()
    arr = np.ascontiguousarray(a)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(arr)


def _validate_weights(w: Any, n: int, device: torch.device | None = None) -> torch.Tensor | None:
    if w is None:
        return None
    t = torch.as_tensor(w).detach()
    if t.ndim == 0:
        t = t.expand(n)
    t = t.reshape(-1) if t.ndim == 2 and 1 in t.shape else t
    if t.ndim != 1 or t.shape[0] != n:
        raise ValueError(f"sample_weight must have shape ({n},) to match X, got {tuple(t.shape)}")
    t = t.to(dtype=torch.float64)
    if device is not None:
        t = t.to(device)
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"sample_weight has {bad} NaN/inf value(s); weights must be finite")
    if bool((t < 0).any()):
        first = int(torch.nonzero(t < 0)[0])
        raise ValueError(
            f"sample_weight must be >= 0; found {int((t < 0).sum())} negative value(s), "
            f"the first at row {first}"
        )
    if float(t.sum()) <= 0:
        raise ValueError("sample_weight sums to zero; give at least one row a positive weight")
    return t


def lstsq(
    X: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    *,
    sample_weight: torch.Tensor | np.ndarray | None = None,
    alpha: float = 0.0,
    fit_intercept: bool = True,
    solver: Solver = "auto",
    chunk_rows: int | None = None,
    device: torch.device | str | None = None,
    feature_names: Sequence[str] | None = None,
    refine: bool = True,
) -> LstsqSolution:
    """Exact weighted least squares / ridge for data in memory, processed in row chunks.

    Parameters
    ----------
    X : Tensor or ndarray, shape (n, d)
        Features, float32 or float64, on any device (not copied; chunks are upcast to
        float64 on ``device``). NaN/inf are detected from the accumulated statistics at no
        extra cost and reported (count and first position) as a ``ValueError``.
    y : Tensor or ndarray, shape (n,) or (n, k)
        Targets.
    sample_weight : Tensor or ndarray, shape (n,), optional
        Non-negative weights multiplying the squared residuals.
    alpha : float, default 0
        Ridge penalty on the coefficients (never on the intercept).
    fit_intercept : bool, default True
    solver : {"auto", "cholesky", "qr", "svd"}, default "auto"
        ``"auto"`` as described in the module notes; ``"cholesky"`` the normal equations
        (refined when in memory); ``"qr"`` a single TSQR pass; ``"svd"`` TSQR then the SVD
        of the scaled factor (minimum norm).
    chunk_rows : int, optional
        Rows per chunk (default: about 2 MiB of float64 for the Gram pass, so a chunk is
        read twice from cache, and :func:`default_chunk_rows` for the TSQR pass).
    device : torch.device or str, optional
        Where to compute (default: ``X``'s device).
    feature_names : sequence of str, optional
        Column names for warnings.
    refine : bool, default True
        Allow refinement (extra passes over the data) when the error estimate asks for it.

    Returns
    -------
    LstsqSolution

    Examples
    --------
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]], dtype=torch.float64)
    >>> y = X @ torch.tensor([3.0, -1.0], dtype=torch.float64) + 0.5
    >>> sol = lstsq(X, y)
    >>> sol.solver, [round(v, 10) for v in sol.coef[:, 0].tolist()]
    ('cholesky', [3.0, -1.0])
    >>> round(float(sol.intercept[0]), 10)
    0.5
    """
    if solver not in _SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(map(repr, _SOLVERS))}, got {solver!r}")
    if alpha < 0 or not math.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    Xt, Yt = _as_tensor(X), _as_tensor(y)
    if Xt.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {tuple(Xt.shape)}")
    if not Xt.is_floating_point():
        Xt = Xt.to(torch.float64)
    Yt = _as_2d(Yt)
    if not Yt.is_floating_point():
        Yt = Yt.to(torch.float64)
    n, d = Xt.shape
    if Yt.shape[0] != n:
        raise ValueError(f"y has {Yt.shape[0]} rows but X has {n}")
    k = Yt.shape[1]
    dev = torch.device(device) if device is not None else Xt.device
    w = _validate_weights(sample_weight, n, Xt.device)
    rows = chunk_rows or _gram_chunk_rows(1 + d + k)
    qr_rows = chunk_rows or default_chunk_rows(1 + d + k)
    n_pos = n if w is None else int((w > 0).sum())
    small = n * (1 + d + k) <= POLISH_MAX_ELEMENTS

    sol: LstsqSolution | None = None
    passes = 1
    if solver in ("qr", "svd"):
        t = tsqr_pass(Xt, Yt, w, chunk_rows=qr_rows, device=dev)
        if not _all_finite(t.r):
            _raise_nonfinite(Xt, Yt, w)
        sol = _solve_tsqr(t, alpha, fit_intercept, solver, feature_names)
    elif solver == "cholesky":
        g = gram_pass(Xt, Yt, w, chunk_rows=rows, device=dev)
        if not _all_finite(g.xtx, g.xty, g.yty):
            _raise_nonfinite(Xt, Yt, w)
        sol = _solve_gram(g, alpha, fit_intercept, feature_names, allow_fail=False)
    else:
        # auto: probe the first chunk; a badly conditioned probe goes straight to TSQR
        probe = GramStats.zeros(d, k, device=dev)
        w0 = None if w is None else w[:rows]
        probe.update(Xt[:rows], Yt[:rows], w0)
        if not _all_finite(probe.xtx, probe.xty, probe.yty):
            _raise_nonfinite(Xt[:rows], Yt[:rows], w0)
        go_qr = False
        probe_rows = min(rows, n) if w0 is None else int((w0 > 0).sum())
        if n > rows and probe_rows > d + 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                go_qr = _solve_gram(probe, alpha, fit_intercept, None, allow_fail=True) is None
        if not go_qr:
            g = probe
            if n > rows:
                wr = None if w is None else w[rows:]
                g = gram_pass(Xt[rows:], Yt[rows:], wr, chunk_rows=rows, device=dev, stats=probe)
                if not _all_finite(g.xtx, g.xty, g.yty):
                    _raise_nonfinite(Xt, Yt, w)
            sol = _solve_gram(g, alpha, fit_intercept, feature_names, allow_fail=True)
            shift = g.means()
        else:
            shift = probe.means()
        if sol is None:
            passes += 0 if go_qr else 1
            t = TSQRStats.zeros(d, k, device=dev, shift_x=shift[0], shift_y=shift[1])
            t = tsqr_pass(Xt, Yt, w, chunk_rows=qr_rows, device=dev, stats=t)
            if not _all_finite(t.r):
                _raise_nonfinite(Xt, Yt, w)
            sol = _solve_tsqr(t, alpha, fit_intercept, "qr", feature_names)

    full_rank = sol.rank == d and n_pos >= d + int(fit_intercept)
    if refine and full_rank and sol.est_rel_error > REFINE_ABOVE:
        if small and alpha == 0 and solver != "cholesky":
            Xn = Xt.detach().cpu().to(torch.float64).numpy()
            Yn = Yt.detach().cpu().to(torch.float64).numpy()
            wn = None if w is None else w.cpu().numpy()
            with single_threaded():  # small: one thread is fast and never stalls
                sol = _polish(sol, Xn, Yn, wn)
        elif sol.solver == "cholesky":
            # float64 refinement brings the normal equations to QR accuracy; it cannot
            # improve on a QR solution, so large QR solutions are left as they are
            sol = _refine_passes(sol, Xt, Yt, w, rows, dev)
        passes += sol.refinement_steps
    _warn_accuracy(sol)
    return _replace(sol, n_passes=passes)
