r"""Solving a linear system :math:`A x = b` from first principles.

Fitting a linear model by least squares ends in a linear system (the normal equations
:math:`X^\top X w = X^\top y`), so it pays to know how such systems are solved. This
module writes out the four classical methods, each next to its maths:

* :func:`gaussian_elimination` -- the *direct* method: eliminate the unknowns one column
  at a time (choosing the largest pivot), then back-substitute. Exact in exact arithmetic
  after a fixed number of steps.
* :func:`jacobi` and :func:`gauss_seidel` -- *splitting* iterations: rewrite
  :math:`A x = b` as a fixed point :math:`x = G x + c` and iterate it.
* :func:`conjugate_gradient` -- a *Krylov* method for symmetric positive definite
  matrices: minimise :math:`\tfrac12 x^\top A x - b^\top x` along mutually
  :math:`A`-conjugate directions.

Conventions shared by all four
------------------------------
* ``A`` has shape ``(n, n)``; ``b`` has shape ``(n,)`` or ``(n, k)``. With ``k`` columns
  the ``k`` systems :math:`A x_j = b_j` are solved together and ``x`` has ``b``'s shape.
* The arithmetic is float64 whatever the input dtype, so a residual history shows the
  method and not float32 rounding; ``x`` is returned in the inputs' floating dtype
  (float64 for integer input) on ``A``'s device.
* The *relative residual* of an approximation :math:`x` is

  .. math:: \rho(x) = \frac{\lVert b - A x \rVert_2}{\lVert b \rVert_2},

  and with several right-hand sides it is the largest of the column-wise values (a zero
  column of ``b`` uses the plain norm :math:`\lVert b_j - A x_j \rVert_2`).
* Every solver returns a :class:`SolveResult` ``(x, residuals, iterations, converged)``
  with ``residuals[0]`` the relative residual of the starting point and ``residuals[k]``
  that after ``k`` iterations, so ``len(residuals) == iterations + 1``.
* An iteration that blows up, or a matrix that breaks the method's assumption, raises
  :class:`ConvergenceError` (a ``ValueError``) carrying the history so far in ``.result``;
  an iteration that is merely too slow to reach ``tol`` within ``max_iter`` steps returns
  its last iterate with ``converged=False`` and warns with a :class:`ConvergenceWarning`
  (which carries the same result in ``.result``).

Examples
--------
>>> import torch
>>> A = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
>>> b = torch.tensor([1.0, 2.0], dtype=torch.float64)
>>> for solve in (gaussian_elimination, jacobi, gauss_seidel, conjugate_gradient):
...     result = solve(A, b)
...     print(f"{solve.__name__:20} {[round(v, 8) for v in result.x.tolist()]}")
gaussian_elimination [0.09090909, 0.63636364]
jacobi               [0.09090909, 0.63636364]
gauss_seidel         [0.09090909, 0.63636364]
conjugate_gradient   [0.09090909, 0.63636364]
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np
import torch

from torchlinear._validation import (
    check_finite,
    check_nonnegative_float,
    check_positive_float,
    check_positive_int,
)

__all__ = [
    "SolveResult",
    "ConvergenceError",
    "ConvergenceWarning",
    "gaussian_elimination",
    "jacobi",
    "gauss_seidel",
    "conjugate_gradient",
]

# An iteration whose relative residual exceeds this multiple of max(1, starting residual)
# has left any useful neighbourhood of the solution: we call it divergent and stop.
_DIVERGENCE_FACTOR = 1e8


class SolveResult(NamedTuple):
    """What a solver returns: the solution and how it got there."""

    x: torch.Tensor
    """The solution, with the shape of ``b``."""
    residuals: list[float]
    """Relative residual ``||b - A x||_2 / ||b||_2`` of the starting point, then after each
    iteration (``len(residuals) == iterations + 1``)."""
    iterations: int
    """Number of iterations performed (one elimination pass for the direct method)."""
    converged: bool
    """Whether the last relative residual is at most ``tol``."""


class ConvergenceError(ValueError):
    """An iteration diverged or the matrix broke the method's assumption.

    The partial :class:`SolveResult` (with the residual history up to the failure) is
    available as ``.result``.
    """

    def __init__(self, message: str, result: SolveResult) -> None:
        super().__init__(message)
        self.result = result


class ConvergenceWarning(RuntimeWarning):
    """An iteration stopped at ``max_iter`` before reaching ``tol``.

    The returned :class:`SolveResult` (``converged=False``) is also available as
    ``.result`` on the warning.
    """

    def __init__(self, message: str, result: SolveResult) -> None:
        super().__init__(message)
        self.result = result


# ---------------------------------------------------------------------------------------
# Checks and small helpers shared by the solvers
# ---------------------------------------------------------------------------------------


def _as_float64(value: Any, name: str, device: torch.device | None) -> tuple[torch.Tensor, Any]:
    """Return ``value`` as a float64 tensor and the floating dtype to hand results back in."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
        if tensor.is_complex():
            raise ValueError(f"{name} must be real-valued, got a complex tensor")
        out_dtype = tensor.dtype if tensor.is_floating_point() else torch.float64
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} could not be read as a numeric array: {exc}") from exc
        if np.iscomplexobj(arr):
            raise ValueError(f"{name} must be real-valued, got a complex array")
        if not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
            raise ValueError(f"{name} must be numeric, got values of type {arr.dtype}")
        tensor = torch.from_numpy(np.array(arr, dtype=np.float64))
        out_dtype = torch.float32 if arr.dtype == np.float32 else torch.float64
    return tensor.to(device=device, dtype=torch.float64), out_dtype


def _prepare_system(
    A: Any, b: Any, x0: Any = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.dtype]:
    """Validate ``A``, ``b`` (and ``x0``); return float64 ``A, b, x0`` and the output dtype."""
    A64, a_dtype = _as_float64(A, "A", A.device if isinstance(A, torch.Tensor) else None)
    if A64.ndim != 2 or A64.shape[0] != A64.shape[1]:
        raise ValueError(f"A must be a square matrix of shape (n, n), got shape {tuple(A64.shape)}")
    n = A64.shape[0]
    if n == 0:
        raise ValueError("A is empty (shape (0, 0)); a system needs at least one equation")
    b64, b_dtype = _as_float64(b, "b", A64.device)
    if b64.ndim not in (1, 2) or b64.shape[0] != n or (b64.ndim == 2 and b64.shape[1] == 0):
        raise ValueError(
            f"b must have shape ({n},) or ({n}, k) with k >= 1 to match A of shape ({n}, {n}), "
            f"got shape {tuple(b64.shape)}"
        )
    check_finite("A", A64)
    check_finite("b", b64)
    if x0 is None:
        x64 = torch.zeros_like(b64)
    else:
        x64, _ = _as_float64(x0, "x0", A64.device)
        if x64.shape != b64.shape:
            raise ValueError(
                f"x0 must have the shape of b, {tuple(b64.shape)}, got {tuple(x64.shape)}"
            )
        check_finite("x0", x64)
    out_dtype = torch.promote_types(a_dtype, b_dtype)
    return A64, b64, x64, out_dtype


def _column_norms(b: torch.Tensor) -> torch.Tensor:
    """``||b_j||_2`` per column (a scalar for 1-D ``b``), with zeros replaced by 1."""
    norms = torch.linalg.vector_norm(b, dim=0)
    return torch.where(norms > 0, norms, torch.ones_like(norms))


def _relative_residual(r: torch.Tensor, b_norm: torch.Tensor) -> float:
    """The largest column-wise ``||r_j||_2 / ||b_j||_2``."""
    return float((torch.linalg.vector_norm(r, dim=0) / b_norm).max())


def _format_rows(rows: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(i) for i in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _not_dominant_rows(A: torch.Tensor) -> list[int]:
    """Rows ``i`` where ``|a_ii| <= sum_{j != i} |a_ij|`` (strict dominance fails)."""
    diagonal = A.diagonal().abs()
    off_diagonal = A.abs().sum(dim=1) - diagonal
    return (diagonal <= off_diagonal).nonzero().flatten().tolist()


def _is_symmetric_positive_definite(A: torch.Tensor) -> bool:
    if not torch.allclose(A, A.T, rtol=0.0, atol=1e-12 * float(A.abs().max())):
        return False
    return int(torch.linalg.cholesky_ex(A).info) == 0


def _check_diagonal(A: torch.Tensor, method: str) -> None:
    zero = (A.diagonal() == 0).nonzero().flatten().tolist()
    if zero:
        raise ValueError(
            f"{method} divides by the diagonal of A, but a_ii = 0 in {_format_rows(zero)}; "
            "reorder the equations so the diagonal is non-zero, or use gaussian_elimination"
        )


def _splitting_diagnosis(A: torch.Tensor, method: str) -> str:
    """Explain what the sufficient conditions for a splitting method say about ``A``."""
    rows = _not_dominant_rows(A)
    if not rows:
        return (
            "A is strictly diagonally dominant, so the iteration does converge, "
            "only slowly here: raise max_iter or loosen tol"
        )
    dominance = (
        f"A is not strictly diagonally dominant ({_format_rows(rows)}: "
        "|a_ii| <= sum_{j!=i} |a_ij|)"
    )
    if method == "gauss_seidel":
        if _is_symmetric_positive_definite(A):
            return (
                f"{dominance}, but it is symmetric positive definite, so the iteration does "
                "converge, only slowly here: raise max_iter or loosen tol"
            )
        return (
            f"{dominance} and not symmetric positive definite; either property is sufficient "
            "(neither is necessary) for convergence, so nothing guarantees it here: use "
            "gaussian_elimination, or reorder/rescale the equations to make A dominant"
        )
    return (
        f"{dominance}; dominance is sufficient, not necessary, for convergence, so nothing "
        "guarantees it here: use gaussian_elimination, or reorder/rescale the equations to "
        "make A dominant"
    )


def _finish(
    method: str,
    A: torch.Tensor,
    x: torch.Tensor,
    history: list[float],
    tol: float,
    max_iter: int,
    out_dtype: torch.dtype,
) -> SolveResult:
    """Package an iteration's outcome; warn when it stopped before reaching ``tol``."""
    converged = history[-1] <= tol
    result = SolveResult(x.to(out_dtype), history, len(history) - 1, converged)
    halfway = history[len(history) // 2]
    if method in ("jacobi", "gauss_seidel") and history[-1] > max(history[0], halfway):
        # Not slow but diverging: above its start and still growing when stopped.
        raise ConvergenceError(
            f"{method} is diverging: the relative residual grew from {history[0]:.3g} to "
            f"{history[-1]:.3g} in max_iter={max_iter} iterations; "
            f"{_splitting_diagnosis(A, method)}",
            result,
        )
    if not converged:
        diagnosis = (
            _splitting_diagnosis(A, method)
            if method in ("jacobi", "gauss_seidel")
            else "A is ill-conditioned or nearly so: raise max_iter, loosen tol, or "
            "precondition the system"
        )
        message = (
            f"{method} did not converge: relative residual {history[-1]:.3g} > tol={tol:g} "
            f"after max_iter={max_iter} iterations; {diagnosis}"
        )
        warnings.warn(ConvergenceWarning(message, result), stacklevel=3)
    return result


def _check_divergence(
    method: str,
    A: torch.Tensor,
    x: torch.Tensor,
    history: list[float],
    out_dtype: torch.dtype,
) -> None:
    """Raise :class:`ConvergenceError` once the residual has clearly blown up."""
    latest = history[-1]
    if math.isfinite(latest) and latest <= _DIVERGENCE_FACTOR * max(1.0, history[0]):
        return
    result = SolveResult(x.to(out_dtype), history, len(history) - 1, False)
    raise ConvergenceError(
        f"{method} diverged: the relative residual grew from {history[0]:.3g} to {latest:.3g} "
        f"in {len(history) - 1} iterations; {_splitting_diagnosis(A, method)}",
        result,
    )


# ---------------------------------------------------------------------------------------
# The direct method
# ---------------------------------------------------------------------------------------


def gaussian_elimination(A: Any, b: Any, *, tol: float | None = None) -> SolveResult:
    r"""Solve :math:`A x = b` by Gaussian elimination with partial pivoting.

    **Forward elimination.** For each column :math:`j = 0, \dots, n-1` of the augmented
    matrix :math:`[A \mid b]`:

    1. *Pivot*: among rows :math:`i \ge j`, pick the row :math:`p` with the largest
       :math:`|a_{ij}|` and swap it into row :math:`j`. Dividing by the largest available
       entry keeps every multiplier :math:`|\ell_{ij}| \le 1`, which is what makes the
       method stable in floating point (without it, a tiny pivot such as
       :math:`10^{-20}` swamps the other equations).
    2. *Eliminate*: for every row :math:`i > j`, subtract :math:`\ell_{ij} = a_{ij} /
       a_{jj}` times row :math:`j`, which zeroes :math:`a_{ij}`:

       .. math:: [A \mid b]_{i,:} \leftarrow [A \mid b]_{i,:} - \ell_{ij}\, [A \mid b]_{j,:}.

    After the last column :math:`A` has become an upper-triangular :math:`U` and
    :math:`b` a vector :math:`c` with :math:`U x = c` equivalent to :math:`A x = b`
    (each step is an invertible row operation).

    **Back substitution.** Solve :math:`U x = c` from the last unknown up:

    .. math:: x_i = \Bigl(c_i - \sum_{j > i} u_{ij} x_j\Bigr) \Big/ u_{ii},
              \qquad i = n-1, \dots, 0.

    The cost is about :math:`\tfrac23 n^3` flops for the elimination and :math:`n^2` per
    right-hand side for the substitution.

    **Singular matrices.** If every candidate pivot in column :math:`j` is zero, column
    :math:`j` of the reduced matrix depends on the columns before it: :math:`A` is
    singular and the system has no unique solution. In floating point "zero" means at
    most ``tol * max|a_ij|``.

    Parameters
    ----------
    A : array-like or Tensor, shape (n, n)
        The coefficient matrix.
    b : array-like or Tensor, shape (n,) or (n, k)
        One right-hand side, or ``k`` of them as columns (all eliminated together, as
        with the augmented matrix :math:`[A \mid b_1 \cdots b_k]`).
    tol : float, optional
        Relative pivot tolerance: a pivot with ``|pivot| <= tol * max|a_ij|`` counts as
        zero. Defaults to ``n`` times the float64 machine epsilon.

    Returns
    -------
    SolveResult
        ``x`` with ``b``'s shape; ``residuals == [rho(0), rho(x)]`` (the relative residual
        of the zero start, then of the solution); ``iterations == 1`` (one elimination
        pass); ``converged == True``.

    Raises
    ------
    ValueError
        If ``A`` is not square, ``b`` does not match it, a value is NaN/inf, or ``A`` is
        singular to working precision (the message names the pivot column).

    Examples
    --------
    Two kinds of ticket with unknown prices :math:`x_1, x_2`, and two receipts:
    :math:`3 x_1 + 3.2 x_2 = 118.4` and :math:`3.5 x_1 + 3.6 x_2 = 135.2`.

    >>> import torch
    >>> A = torch.tensor([[3.0, 3.2], [3.5, 3.6]], dtype=torch.float64)
    >>> b = torch.tensor([118.4, 135.2], dtype=torch.float64)
    >>> result = gaussian_elimination(A, b)
    >>> [round(price, 10) for price in result.x.tolist()]
    [16.0, 22.0]
    >>> result.residuals[-1] < 1e-14
    True

    A zero in the corner is no problem: the pivot search swaps the rows first.

    >>> gaussian_elimination([[0.0, 1.0], [2.0, 0.0]], [3.0, 4.0]).x.tolist()
    [2.0, 3.0]
    """
    A, b, _, out_dtype = _prepare_system(A, b)
    n = A.shape[0]
    tol = n * torch.finfo(torch.float64).eps if tol is None else check_nonnegative_float("tol", tol)
    b_norm = _column_norms(b)
    start_residual = _relative_residual(b, b_norm)  # x = 0, so the residual is b itself

    # The augmented matrix [A | B]: the row operations act on both at once.
    B = b.reshape(n, -1)
    M = torch.cat([A, B], dim=1)
    threshold = tol * float(A.abs().max())

    for j in range(n):
        # 1. Partial pivoting: bring the largest |a_ij| (i >= j) into row j.
        p = j + int(M[j:, j].abs().argmax())
        pivot = float(M[p, j])
        if abs(pivot) <= threshold:
            before = {0: "", 1: "after eliminating column 0, "}.get(
                j, f"after eliminating columns 0-{j - 1}, "
            )
            raise ValueError(
                f"A is singular (or numerically singular): no usable pivot in column {j} -- "
                f"{before}the largest candidate |a_ij| for rows i >= {j} is {abs(pivot):.3g} "
                f"<= tol * max|A| = {threshold:.3g}; the system has no unique solution"
            )
        if p != j:
            M[[j, p]] = M[[p, j]]
        # 2. Elimination: row_i <- row_i - l_ij * row_j for every row i below j.
        # (Columns left of j are already zero in these rows, so only columns j: change.)
        multipliers = M[j + 1 :, j] / M[j, j]
        M[j + 1 :, j:] -= torch.outer(multipliers, M[j, j:])

    # Back substitution on U x = c, from the last unknown up.
    U, C = M[:, :n], M[:, n:]
    X = torch.zeros_like(C)
    for i in range(n - 1, -1, -1):
        X[i] = (C[i] - U[i, i + 1 :] @ X[i + 1 :]) / U[i, i]

    x = X.reshape(b.shape)
    history = [start_residual, _relative_residual(b - A @ x, b_norm)]
    return SolveResult(x.to(out_dtype), history, 1, True)


# ---------------------------------------------------------------------------------------
# Splitting iterations
# ---------------------------------------------------------------------------------------


def jacobi(
    A: Any,
    b: Any,
    *,
    x0: Any = None,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> SolveResult:
    r"""Solve :math:`A x = b` by Jacobi iteration.

    Split :math:`A = D + R` into its diagonal :math:`D` and the off-diagonal rest
    :math:`R`. Then :math:`A x = b` reads :math:`D x = b - R x`, a fixed-point equation
    that suggests the iteration

    .. math::

        x^{(k+1)} = D^{-1}\bigl(b - R\, x^{(k)}\bigr), \qquad\text{that is}\qquad
        x^{(k+1)}_i = \frac{1}{a_{ii}}\Bigl(b_i - \sum_{j \ne i} a_{ij}\, x^{(k)}_j\Bigr).

    Each new component uses only the previous iterate, so a sweep is one matrix-vector
    product and the :math:`n` updates could run in parallel.

    **When does it converge?** The error :math:`e^{(k)} = x^{(k)} - x` obeys
    :math:`e^{(k+1)} = -D^{-1} R\, e^{(k)}`, so the iteration converges from every start
    exactly when the spectral radius :math:`\rho(D^{-1} R) < 1`, and the error shrinks
    roughly by that factor per sweep. A simple *sufficient* (not necessary) condition is
    strict diagonal dominance by rows, :math:`|a_{ii}| > \sum_{j \ne i} |a_{ij}|` for all
    :math:`i`, since then :math:`\lVert D^{-1} R \rVert_\infty < 1`. When
    :math:`\rho(D^{-1} R) > 1` the iterates grow without bound.

    Parameters
    ----------
    A : array-like or Tensor, shape (n, n)
        The coefficient matrix; its diagonal must be non-zero.
    b : array-like or Tensor, shape (n,) or (n, k)
        The right-hand side(s).
    x0 : array-like or Tensor, optional
        Starting point with ``b``'s shape; zeros by default.
    tol : float, default 1e-10
        Stop when the relative residual :math:`\lVert b - A x\rVert / \lVert b\rVert`
        is at most ``tol``.
    max_iter : int, default 1000
        Maximum number of sweeps.

    Returns
    -------
    SolveResult
        ``(x, residuals, iterations, converged)``.

    Raises
    ------
    ValueError
        On invalid input, or a zero on the diagonal.
    ConvergenceError
        If the iteration diverges: the residual grows past ``1e8`` times its start (or
        overflows), or is above its start and still growing when ``max_iter`` is reached.
        The message says whether ``A`` is diagonally dominant and in which rows it is not.

    Warns
    -----
    ConvergenceWarning
        If ``tol`` is not reached within ``max_iter`` sweeps (``converged=False``).

    Examples
    --------
    >>> import torch
    >>> A = torch.tensor([[10.0, -1.0, 2.0], [-1.0, 11.0, -1.0], [2.0, -1.0, 10.0]])
    >>> b = torch.tensor([6.0, 25.0, -11.0])
    >>> result = jacobi(A, b)
    >>> result.converged, [round(v, 6) for v in result.x.tolist()]
    (True, [1.043269, 2.269231, -1.081731])
    """
    A, b, x, out_dtype = _prepare_system(A, b, x0)
    tol = check_positive_float("tol", tol)
    max_iter = check_positive_int("max_iter", max_iter)
    _check_diagonal(A, "jacobi")

    d = A.diagonal()
    R = A - torch.diag(d)
    d = d.reshape(-1, *([1] * (b.ndim - 1)))  # broadcast over the columns of b
    b_norm = _column_norms(b)
    history = [_relative_residual(b - A @ x, b_norm)]

    for _ in range(max_iter):
        if history[-1] <= tol:
            break
        x = (b - R @ x) / d  # x_i <- (b_i - sum_{j != i} a_ij x_j) / a_ii, all i at once
        history.append(_relative_residual(b - A @ x, b_norm))
        _check_divergence("jacobi", A, x, history, out_dtype)
    return _finish("jacobi", A, x, history, tol, max_iter, out_dtype)


def gauss_seidel(
    A: Any,
    b: Any,
    *,
    x0: Any = None,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> SolveResult:
    r"""Solve :math:`A x = b` by Gauss--Seidel iteration.

    Jacobi's update for :math:`x_i` ignores that :math:`x_0, \dots, x_{i-1}` have already
    been improved in the same sweep. Gauss--Seidel uses them at once:

    .. math::

        x^{(k+1)}_i = \frac{1}{a_{ii}}\Bigl(b_i - \sum_{j < i} a_{ij}\, x^{(k+1)}_j
                                             - \sum_{j > i} a_{ij}\, x^{(k)}_j\Bigr),
        \qquad i = 0, \dots, n-1.

    In matrix form, with :math:`A = L + D + U` (strictly lower, diagonal, strictly upper),
    one sweep solves the triangular system :math:`(D + L)\, x^{(k+1)} = b - U x^{(k)}`.
    The updates are sequential (row :math:`i` needs rows :math:`< i`), and it needs
    only one vector of storage: each new value overwrites the old one.

    **When does it converge?** The error obeys :math:`e^{(k+1)} = -(D + L)^{-1} U\,
    e^{(k)}`, so it converges from every start exactly when
    :math:`\rho\bigl((D + L)^{-1} U\bigr) < 1`. Two *sufficient* (not necessary)
    conditions: :math:`A` strictly diagonally dominant by rows, or :math:`A` symmetric
    positive definite. For many matrices (e.g. dominant tridiagonal ones) it converges
    about twice as fast as Jacobi.

    Parameters
    ----------
    A : array-like or Tensor, shape (n, n)
        The coefficient matrix; its diagonal must be non-zero.
    b : array-like or Tensor, shape (n,) or (n, k)
        The right-hand side(s).
    x0 : array-like or Tensor, optional
        Starting point with ``b``'s shape; zeros by default.
    tol : float, default 1e-10
        Stop when the relative residual is at most ``tol``.
    max_iter : int, default 1000
        Maximum number of sweeps.

    Returns
    -------
    SolveResult
        ``(x, residuals, iterations, converged)``.

    Raises
    ------
    ValueError
        On invalid input, or a zero on the diagonal.
    ConvergenceError
        If the iteration diverges (as for :func:`jacobi`); the message says whether ``A``
        is diagonally dominant (and in which rows it is not) or symmetric positive
        definite.

    Warns
    -----
    ConvergenceWarning
        If ``tol`` is not reached within ``max_iter`` sweeps (``converged=False``).

    Examples
    --------
    >>> import torch
    >>> A = torch.tensor([[10.0, -1.0, 2.0], [-1.0, 11.0, -1.0], [2.0, -1.0, 10.0]])
    >>> b = torch.tensor([6.0, 25.0, -11.0])
    >>> fast, slow = gauss_seidel(A, b), jacobi(A, b)
    >>> fast.iterations < slow.iterations
    True
    """
    A, b, x, out_dtype = _prepare_system(A, b, x0)
    tol = check_positive_float("tol", tol)
    max_iter = check_positive_int("max_iter", max_iter)
    _check_diagonal(A, "gauss_seidel")

    n = A.shape[0]
    x = x.clone()
    b_norm = _column_norms(b)
    history = [_relative_residual(b - A @ x, b_norm)]

    for _ in range(max_iter):
        if history[-1] <= tol:
            break
        for i in range(n):
            # x[:i] already holds this sweep's values, x[i + 1:] the previous sweep's.
            x[i] = (b[i] - A[i, :i] @ x[:i] - A[i, i + 1 :] @ x[i + 1 :]) / A[i, i]
        history.append(_relative_residual(b - A @ x, b_norm))
        _check_divergence("gauss_seidel", A, x, history, out_dtype)
    return _finish("gauss_seidel", A, x, history, tol, max_iter, out_dtype)


# ---------------------------------------------------------------------------------------
# Krylov: conjugate gradients
# ---------------------------------------------------------------------------------------


def conjugate_gradient(
    A: Any,
    b: Any,
    *,
    x0: Any = None,
    tol: float = 1e-10,
    max_iter: int | None = None,
) -> SolveResult:
    r"""Solve :math:`A x = b` for symmetric positive definite :math:`A` by conjugate gradients.

    For symmetric positive definite (SPD) :math:`A`, the solution is the unique minimiser
    of the quadratic

    .. math:: f(x) = \tfrac12\, x^\top A x - b^\top x, \qquad \nabla f(x) = A x - b = -r,

    so the residual :math:`r = b - A x` is the steepest-descent direction. Conjugate
    gradients (Hestenes and Stiefel, 1952) instead search along directions
    :math:`p_0, p_1, \dots` that are mutually *A-conjugate*
    (:math:`p_i^\top A p_j = 0` for :math:`i \ne j`), each the new residual made
    conjugate to the previous direction. Starting from :math:`r_0 = p_0 = b - A x_0`:

    .. math::

        \alpha_k &= \frac{r_k^\top r_k}{p_k^\top A p_k}
            &&\text{(exact line search along } p_k\text{)} \\
        x_{k+1} &= x_k + \alpha_k p_k, \qquad r_{k+1} = r_k - \alpha_k A p_k \\
        \beta_k &= \frac{r_{k+1}^\top r_{k+1}}{r_k^\top r_k}, \qquad
        p_{k+1} = r_{k+1} + \beta_k p_k .

    After :math:`k` steps :math:`x_k` minimises the :math:`A`-norm of the error over
    :math:`x_0 + \operatorname{span}\{r_0, A r_0, \dots, A^{k-1} r_0\}`, so in exact
    arithmetic CG finishes in at most :math:`n` steps -- in fact in at most as many steps
    as :math:`A` has distinct eigenvalues. In floating point the directions slowly lose
    conjugacy and a few extra steps may be needed; the error falls at least like
    :math:`\bigl((\sqrt\kappa - 1)/(\sqrt\kappa + 1)\bigr)^k` with :math:`\kappa` the
    condition number of :math:`A`. Each step costs one product :math:`A p_k`.

    **What SPD buys.** Symmetry makes the short two-term recurrence produce conjugate
    directions; positive definiteness makes the curvature :math:`p_k^\top A p_k > 0`, so
    :math:`\alpha_k` is a minimum rather than a maximum. A non-symmetric :math:`A` is
    refused up front; a curvature :math:`p_k^\top A p_k \le 0` proves :math:`A` is not
    positive definite and stops the iteration.

    The residual history uses the recursively updated :math:`r_k` (equal to
    :math:`b - A x_k` in exact arithmetic), as CG itself does. With several right-hand
    sides each column runs its own recurrence; a column that has reached ``tol`` stops
    moving.

    Parameters
    ----------
    A : array-like or Tensor, shape (n, n)
        A symmetric positive definite matrix.
    b : array-like or Tensor, shape (n,) or (n, k)
        The right-hand side(s).
    x0 : array-like or Tensor, optional
        Starting point with ``b``'s shape; zeros by default.
    tol : float, default 1e-10
        Stop when the relative residual is at most ``tol``.
    max_iter : int, optional
        Maximum number of steps; ``10 * n`` by default.

    Returns
    -------
    SolveResult
        ``(x, residuals, iterations, converged)``.

    Raises
    ------
    ValueError
        On invalid input, or if ``A`` is not symmetric.
    ConvergenceError
        If a non-positive curvature :math:`p^\top A p \le 0` is met (``A`` is not
        positive definite) or the iteration overflows.

    Warns
    -----
    ConvergenceWarning
        If ``tol`` is not reached within ``max_iter`` steps (``converged=False``).

    Examples
    --------
    A 2 x 2 SPD system is solved in (at most) two steps:

    >>> import torch
    >>> A = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    >>> result = conjugate_gradient(A, torch.tensor([1.0, 2.0], dtype=torch.float64))
    >>> result.iterations, result.converged
    (2, True)
    """
    A, b, x, out_dtype = _prepare_system(A, b, x0)
    tol = check_positive_float("tol", tol)
    n = A.shape[0]
    max_iter = 10 * n if max_iter is None else check_positive_int("max_iter", max_iter)

    asymmetry = (A - A.T).abs()
    scale = float(A.abs().max())
    if float(asymmetry.max()) > 100 * n * torch.finfo(out_dtype).eps * scale:
        i, j = (int(v) for v in divmod(int(asymmetry.argmax()), n))
        raise ValueError(
            "conjugate_gradient needs a symmetric positive definite A, but A is not "
            f"symmetric: a[{i}, {j}] = {float(A[i, j]):.6g} while a[{j}, {i}] = "
            f"{float(A[j, i]):.6g}; use gaussian_elimination, or apply CG to the normal "
            "equations A^T A x = A^T b"
        )

    b_norm = _column_norms(b)
    r = b - A @ x  # residual r_0
    p = r.clone()  # first search direction p_0 = r_0
    rr = (r * r).sum(dim=0)  # r_k^T r_k, one value per column of b
    history = [_relative_residual(r, b_norm)]

    for k in range(max_iter):
        if history[-1] <= tol:
            break
        active = torch.linalg.vector_norm(r, dim=0) / b_norm > tol  # columns still moving
        Ap = A @ p
        curvature = (p * Ap).sum(dim=0)  # p_k^T A p_k
        if bool((active & (curvature <= 0)).any()):
            worst = float(torch.where(active, curvature, torch.inf).min())
            result = SolveResult(x.to(out_dtype), history, len(history) - 1, False)
            raise ConvergenceError(
                f"conjugate_gradient met a non-positive curvature p^T A p = {worst:.3g} <= 0 "
                f"at iteration {k + 1}, so A is symmetric but not positive definite; CG needs "
                "a symmetric positive definite matrix: use gaussian_elimination",
                result,
            )
        zero = torch.zeros_like(rr)
        alpha = torch.where(active, rr / curvature, zero)  # exact line search
        x = x + alpha * p
        r = r - alpha * Ap
        rr_next = (r * r).sum(dim=0)
        beta = torch.where(active, rr_next / rr, zero)
        p = r + beta * p  # next direction, A-conjugate to the previous ones
        rr = rr_next
        history.append(_relative_residual(r, b_norm))
        if not math.isfinite(history[-1]):
            result = SolveResult(x.to(out_dtype), history, len(history) - 1, False)
            raise ConvergenceError(
                f"conjugate_gradient overflowed at iteration {k + 1}; A is too badly scaled or "
                "not positive definite: use gaussian_elimination",
                result,
            )
    return _finish("conjugate_gradient", A, x, history, tol, max_iter, out_dtype)
