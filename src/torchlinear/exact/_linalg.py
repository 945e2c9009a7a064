"""Small float64 linear-algebra helpers shared by the exact solvers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.linalg import lapack

EPS: float = float(np.finfo(np.float64).eps)


def rank_rtol(n_params: int) -> float:
    return 10.0 * max(n_params, 1) * EPS


def f64(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    return t.to(device=device, dtype=torch.float64)


def as_2d(Y: torch.Tensor) -> torch.Tensor:
    return Y.reshape(-1, 1) if Y.ndim == 1 else Y


def use_numpy(*tensors: torch.Tensor | None) -> bool:
    return all(t is None or t.device.type == "cpu" for t in tensors)


def weighted_first_moments(
    X: torch.Tensor, w: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Weighted column means and standard deviations of a chunk, in float64."""
    if use_numpy(X, w):  # NumPy: no thread team for a small reduction
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


def sign_normalise(R: torch.Tensor) -> torch.Tensor:
    """Flip rows of an upper-triangular factor so its diagonal is non-negative."""
    s = torch.sign(torch.diagonal(R))
    s = torch.where(s == 0, torch.ones_like(s), s)
    return R * s[:, None]


def qr_r(A: torch.Tensor) -> torch.Tensor:
    """The R factor of ``A`` (m x p) as a p x p upper-triangular matrix (zero-padded)."""
    m, p = A.shape
    if m == 0:
        return torch.zeros(p, p, dtype=A.dtype, device=A.device)
    R: torch.Tensor = torch.linalg.qr(A, mode="r")[1]
    if R.shape[0] < p:
        R = torch.cat([R, torch.zeros(p - R.shape[0], p, dtype=R.dtype, device=R.device)])
    return R


def fold_triangle_numpy(R: np.ndarray, B: np.ndarray, trapezoid_rows: int) -> np.ndarray:
    """The R factor of ``[R; B]`` by LAPACK ``tpqrt`` (``R`` upper triangular, p x p;
    ``B`` m x p whose first ``trapezoid_rows`` rows form an upper trapezoid, the rest full).
    Both must be Fortran-ordered float64; they are overwritten."""
    p = R.shape[0]
    a, _b, _t, info = lapack.dtpqrt(trapezoid_rows, min(16, p), R, B, overwrite_a=1, overwrite_b=1)
    if info != 0:  # pragma: no cover - LAPACK argument errors only
        raise RuntimeError(f"LAPACK dtpqrt failed with info={info}")
    return np.triu(a)


def fold_rows_numpy(R: np.ndarray, C: np.ndarray) -> np.ndarray:
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
        return fold_triangle_numpy(R, B, p)
    return fold_triangle_numpy(R, np.asfortranarray(C), 0)


def all_finite(*tensors: torch.Tensor) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def column_names(names: Sequence[str] | None, idx: Sequence[int]) -> str:
    if names is None:
        return ", ".join(f"x{i}" for i in idx)
    return ", ".join(repr(str(names[i])) for i in idx)
