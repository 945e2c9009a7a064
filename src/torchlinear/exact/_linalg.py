"""Small float64 linear-algebra helpers shared by the exact solvers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import numpy as np
import torch
from scipy.linalg import blas, lapack

EPS: float = float(np.finfo(np.float64).eps)
_TINY_SQ: float = float(np.finfo(np.float64).tiny)


#: Values agree to their own rounding when they differ by at most this much relative to
#: their magnitude (a few units in the last place). A column whose root mean square about
#: its mean is at most this times its root mean square is constant; a combination of
#: columns that small next to the columns' magnitudes is a collinearity. The test is made
#: on these two scales because centring is exact: the centred values of ``1e15 + k`` are
#: ``k``, which no relative tolerance on the centred scale alone should take for zero.
ROUNDING_RTOL: float = 3 * EPS


def rank_rtol(n_params: int) -> float:
    return 10.0 * max(n_params, 1) * EPS


def constant_to_rounding(centred_sq: torch.Tensor, raw_sq: torch.Tensor) -> torch.Tensor:
    """Mask of the columns whose spread is within the rounding of their values.

    ``centred_sq`` and ``raw_sq`` are the (weighted) sums of squares of each column about
    its mean and about zero.

    Examples
    --------
    >>> raw = torch.tensor([2e30, 2e30, 1.0], dtype=torch.float64)  # 1e15 + k, 2 rows
    >>> constant_to_rounding(torch.tensor([50.0, 1e-2, 0.0], dtype=torch.float64), raw)
    tensor([False,  True,  True])
    """
    return centred_sq <= (ROUNDING_RTOL * ROUNDING_RTOL) * raw_sq


def rounding_weights(centred_sq: torch.Tensor, raw_sq: torch.Tensor, tol: float) -> torch.Tensor:
    r"""Column weights ``h`` (at most 1) that put the rounding of the values on the scale
        of a rank decision.

        A rank decision counts the singular values of the centred design with unit columns
        :math:`X_s` below ``tol`` (its solver's rounding). The values themselves are known to
        :data:`ROUNDING_RTOL` times their magnitude, so a direction is also lost when
        :math:`\lVert X_c v
    Vert \le` :data:`ROUNDING_RTOL` :math:`\lVert N v
    Vert` (``N``
        the columns' root sums of squares about zero). With
        :math:`h_j = \min(1, \mathrm{tol}\,D_j / (\mathrm{ROUNDING\_RTOL}\,N_j))` (``D`` the
        centred norms), the singular values of :math:`X_s \operatorname{diag}(h)` below
        ``tol`` count both: ``h`` is 1 for a column whose mean is not far larger than its
        spread, and shrinks a column that is a large offset plus a small spread.
    """
    ratio = (centred_sq / raw_sq.clamp_min(_TINY_SQ)).clamp_min(0).sqrt()
    return (ratio * (tol / ROUNDING_RTOL)).clamp_max(1.0)


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
    Both must be Fortran-ordered float64; they are overwritten, and the factor is
    written over ``R`` (its strict lower triangle zeroed, column by column: no ``p x p``
    copy)."""
    p = R.shape[0]
    a, _b, _t, info = lapack.dtpqrt(trapezoid_rows, min(16, p), R, B, overwrite_a=1, overwrite_b=1)
    if info != 0:  # pragma: no cover - LAPACK argument errors only
        raise RuntimeError(f"LAPACK dtpqrt failed with info={info}")
    for j in range(p - 1):  # a contiguous piece of a Fortran-ordered column each
        a[j + 1 :, j] = 0.0
    return cast(np.ndarray, a)


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


def symmetrise_(M: torch.Tensor, step: int = 512) -> torch.Tensor:
    """``M`` made exactly symmetric in place, ``(M + M^T) / 2``, a block of rows at a
    time (no ``d x d`` temporary); returns ``M``.

    >>> symmetrise_(torch.tensor([[1.0, 2.0], [4.0, 3.0]])).tolist()
    [[1.0, 3.0], [3.0, 3.0]]
    """
    d = M.shape[0]
    for lo in range(0, d, step):
        hi = min(d, lo + step)
        block = M[lo:hi, lo:hi]
        block.copy_((block + block.T) * 0.5)
        upper, lower = M[lo:hi, hi:], M[hi:, lo:hi]
        mean = (upper + lower.T) * 0.5
        upper.copy_(mean)
        lower.copy_(mean.T)
    return M


def scaled(
    G: torch.Tensor, D: torch.Tensor, out: torch.Tensor | None = None, step: int = 512
) -> torch.Tensor:
    """``G / outer(D, D)``, a block of rows at a time (no ``d x d`` temporary), into
    ``out`` (which may be ``G``) or a new tensor.

    >>> scaled(torch.ones(2, 2), torch.tensor([1.0, 2.0])).tolist()
    [[1.0, 0.5], [0.5, 0.25]]
    """
    out = torch.empty_like(G) if out is None else out
    for lo in range(0, G.shape[0], step):
        hi = lo + step
        torch.div(G[lo:hi], torch.outer(D[lo:hi], D), out=out[lo:hi])
    return out


def add_gram_inplace(G: np.ndarray, A: np.ndarray) -> None:
    """``G += A.T @ A`` in place, for a C-ordered float64 ``G`` (``d x d``) and a chunk
    of rows ``A`` (``m x d``), without a ``d x d`` temporary.

    Few rows (under 512) go to an in-place ``gemm``; more to BLAS ``syrk`` (half the
    flops) on one triangle, copied onto the other afterwards.

    >>> G = np.ones((3, 3)); A = np.arange(6.0).reshape(2, 3)
    >>> add_gram_inplace(G, A); bool(np.array_equal(G, 1 + A.T @ A))
    True
    """
    if A.shape[0] < 512:
        torch.from_numpy(G).addmm_(torch.from_numpy(A).T, torch.from_numpy(A))
        return
    # G.T is Fortran-ordered: BLAS updates it in place (its lower triangle, G's upper)
    if A.flags.f_contiguous:
        out = blas.dsyrk(1.0, A, beta=1.0, c=G.T, trans=1, lower=1, overwrite_c=1)
    else:
        out = blas.dsyrk(1.0, A.T, beta=1.0, c=G.T, trans=0, lower=1, overwrite_c=1)
    if not np.shares_memory(out, G):  # pragma: no cover - BLAS made a copy after all
        G[...] = out.T
    step = 256
    for lo in range(0, G.shape[0], step):  # the upper triangle onto the lower
        hi = lo + step
        G[hi:, lo:hi] = G[lo:hi, hi:].T
        block = G[lo:hi, lo:hi]
        block[...] = np.triu(block) + np.triu(block, 1).T


#: Above this many columns, the extreme eigenvalues of a Gram matrix that has a Cholesky
#: factor come from Lanczos iterations (:func:`top_eigenvalue` of it and of its inverse)
#: rather than a full eigenvalue decomposition (whose tridiagonal reduction then takes
#: longer than the factorisation and the solve together).
LANCZOS_ABOVE = 2048


def cholesky_inplace(S: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The lower Cholesky factor ``L`` of a symmetric positive definite C-ordered float64
    CPU tensor, written over it (no ``d x d`` copy), and LAPACK's ``info`` (0: success;
    otherwise ``S`` holds no factor).

    >>> S = torch.tensor([[4.0, 2.0], [2.0, 5.0]], dtype=torch.float64)
    >>> L, info = cholesky_inplace(S)
    >>> L.tolist(), info, L is S
    ([[2.0, 0.0], [1.0, 2.0]], 0, True)
    """
    A = S.numpy().T  # S stored row by row is S^T = S stored column by column
    factor, info = lapack.dpotrf(A, lower=0, clean=1, overwrite_a=1)  # A = U^T U, U over A
    if not np.shares_memory(factor, A):  # pragma: no cover - LAPACK made a copy after all
        A[...] = factor
    return S, int(info)  # U stored column by column is L = U^T stored row by row


def top_eigenvalue(apply: Callable[[np.ndarray], np.ndarray], d: int) -> float | None:
    """The largest eigenvalue of a symmetric positive definite ``d x d`` operator (``apply``
    multiplies a vector by it) by Lanczos iterations (ARPACK), to a relative accuracy of
    ``1e-8``, always from the same start; ``None`` if they do not converge.

    >>> A = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 0.0], [0.0, 0.0, 1.0]])
    >>> bool(np.isclose(top_eigenvalue(A.dot, 3), np.linalg.eigvalsh(A)[-1]))
    True
    """
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    if d < 3:  # ARPACK needs a few more dimensions than eigenvalues
        return float(np.linalg.eigvalsh(np.column_stack([apply(e) for e in np.eye(d)]))[-1])
    start = np.random.default_rng(0).standard_normal(d)
    op = LinearOperator((d, d), matvec=apply, dtype=np.float64)
    try:
        value = eigsh(op, k=1, which="LA", tol=1e-8, v0=start, maxiter=300,
                      return_eigenvectors=False)  # fmt: skip
    except ArpackNoConvergence:
        return None
    top = float(value[0])
    return top if top > 0 else None


def cholesky_solver(L: torch.Tensor) -> Callable[[np.ndarray], np.ndarray]:
    """``v -> (L L^T)^{-1} v`` for a lower-triangular CPU ``L``, by two triangular solves.

    >>> L = torch.tensor([[2.0, 0.0], [1.0, 2.0]], dtype=torch.float64)
    >>> cholesky_solver(L)(np.array([4.0, 5.0])).tolist()
    [0.625, 0.75]
    """
    from scipy.linalg import solve_triangular

    Un = np.asfortranarray(L.cpu().numpy().T)  # U = L^T as LAPACK reads it: no copy a step

    def inverse(v: np.ndarray) -> np.ndarray:
        z = solve_triangular(Un, v, trans="T", check_finite=False)  # L z = v
        return cast(np.ndarray, solve_triangular(Un, z, check_finite=False))  # L^T x = z

    return inverse


def all_finite(*tensors: torch.Tensor) -> bool:
    """Whether every value is finite; a large tensor is looked at a block of rows at a
    time (the test makes temporaries the size of what it reads)."""
    for t in tensors:
        if t.ndim < 2 or t.numel() <= 1 << 20:
            if not bool(torch.isfinite(t).all()):
                return False
            continue
        step = max(1, (1 << 20) // max(1, t[0].numel()))
        if not all(bool(torch.isfinite(t[i : i + step]).all()) for i in range(0, len(t), step)):
            return False
    return True


def column_names(names: Sequence[str] | None, idx: Sequence[int]) -> str:
    if names is None:
        return ", ".join(f"x{i}" for i in idx)
    return ", ".join(repr(str(names[i])) for i in idx)


def robust_svd(A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The thin SVD of ``A``; when LAPACK's divide-and-conquer driver (torch's) fails to
    converge, which it can on large matrices with many repeated singular values, the
    slower QR-iteration driver ``gesvd`` (SciPy's), which does not have that failure."""
    try:
        U, s, Vh = torch.linalg.svd(A, full_matrices=False)
        return U, s, Vh
    except torch.linalg.LinAlgError:
        from scipy import linalg

        U, s, Vh = linalg.svd(A.cpu().numpy(), full_matrices=False, lapack_driver="gesvd")
        return tuple(torch.from_numpy(a).to(A.device) for a in (U, s, Vh))  # type: ignore[return-value]


def rounding_svd(
    Xs: torch.Tensor,
    D: torch.Tensor,
    sums_sq: tuple[torch.Tensor, torch.Tensor],
    constant: torch.Tensor,
    tols: tuple[float, float],
    rank: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int] | None:
    """``(U, s, V, h, rank)`` of ``Xs diag(h)`` (see
    :func:`rounding_weights`; ``sums_sq`` holds the centred and
    raw sums of squares) when the rounding of the values leaves fewer than ``rank``
    singular values above ``tol``; ``None`` when it does not. ``tols`` is ``tol`` and a
    lower bound of the singular values of ``Xs`` (none is lost when their product with
    the smallest ``h`` is above ``tol``: no second SVD then)."""
    tol, smin = tols
    h = rounding_weights(*sums_sq, tol)
    h = torch.where(constant, torch.ones_like(h), h)  # (zeroed already)
    lowest = float(h.min()) if h.numel() else 1.0
    if lowest >= 1 or smin * lowest > tol:
        return None
    U, s, Vh = robust_svd(Xs * h)
    kept = int((s > tol).sum())
    if kept >= rank:
        return None
    return U, s, Vh.T, h, kept


def min_norm(
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


def collinear_columns(V: torch.Tensor, rank: int, h: torch.Tensor | None = None) -> tuple[int, ...]:
    """The columns in the null space ``V[:, rank:]`` (of ``Xs diag(h)`` when ``h`` is given:
    its vectors are then read as ``h * v``, on the scale of the centred unit columns)."""
    N = V[:, rank:]
    if N.shape[1] == 0:
        return ()
    if h is not None:
        N = h[:, None] * N
        N = N / N.norm(dim=0).clamp_min(_TINY_SQ)
    strength = N.abs().amax(dim=1)
    return tuple(int(i) for i in torch.nonzero(strength > 1e-6).reshape(-1))
