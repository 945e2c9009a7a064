r"""Non-negative quadratic programs on the statistics, solved exactly by an active set.

The problem is

.. math::

    \min_{x \ge 0}\; f(x) = \tfrac12 x^\top A x - b^\top x

with :math:`A` symmetric positive semi-definite. Every non-negative least-squares problem
is one: with :math:`x \ge 0` an L1 penalty is linear, so the non-negative elastic net of
:mod:`torchlinear.exact.coordinate_descent` has :math:`A = Q + \operatorname{diag}\lambda_2`
and :math:`b = q - \lambda_1`. Only :math:`A` and :math:`b` are needed, never the rows.

The method is Lawson and Hanson's, written on the Gram matrix. A *passive set* :math:`P`
holds the free coordinates, the others are zero, and :math:`x` is kept feasible and
minimal on :math:`P`: :math:`A_{PP} x_P = b_P`. With the gradient
:math:`g = b - A x`, the optimality (KKT) conditions are :math:`g_P = 0` and
:math:`g_j \le 0` off :math:`P`. While some :math:`g_j > 0` off :math:`P`, the largest
(relative to :math:`\sqrt{A_{jj}}`) joins :math:`P`, and the minimiser :math:`z` of
:math:`f` on the new :math:`P` is computed; if some :math:`z_i \le 0`, :math:`x` moves
towards :math:`z` until the first coordinate reaches zero, that coordinate leaves
:math:`P`, and :math:`z` is recomputed. Each outer step strictly lowers :math:`f` and no
passive set repeats, so the method ends in finitely many steps at the exact minimiser.

Numerics. :math:`A_{PP}` is held as its Cholesky factor, bordered by one row when a
coordinate joins and recomputed when one leaves; each solve takes one step of iterative
refinement. A coordinate whose Schur complement
:math:`A_{jj} - A_{jP} A_{PP}^{-1} A_{Pj}` is within the rounding of :math:`A_{jj}`
(a column collinear with, or a duplicate of, the passive columns) does not join: in exact
arithmetic its gradient is then zero, so :math:`f` cannot fall further along it, and the
passive system stays non-singular (the solution chosen among the minimisers puts no weight
on such a column). Gradients count as positive only above their rounding,
``rtol`` :math:`\times (|b_j| + (|A|\,x)_j)`, and a coordinate that joins but would get no
positive value from the solve (a rounding artefact) is set aside until the passive set
shrinks. The result reports the largest violation of the KKT conditions relative to that
scale, and whether the method ended with all of them met to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from torchlinear._threads import single_threaded
from torchlinear.exact._linalg import EPS

__all__ = ["NNQPResult", "default_rtol", "kkt_violation", "solve_nnqp"]


@dataclass(frozen=True)
class NNQPResult:
    """The minimiser ``x`` (``>= 0``), the number of passive-set solves ``n_iter``, the
    largest KKT violation relative to its rounding scale (``kkt``; 0 at an exact
    minimiser), and ``converged``: the method ended with every condition met to rounding."""

    x: np.ndarray
    n_iter: int
    kkt: float
    converged: bool


def default_rtol(n: int) -> float:
    """Relative rounding of gradients and Schur complements of an ``n``-variable problem."""
    return 10.0 * max(int(n), 1) * EPS


def kkt_violation(A: np.ndarray, b: np.ndarray, x: np.ndarray) -> float:
    r"""Largest violation of the KKT conditions of :math:`\min_{x\ge0} \tfrac12 x^\top Ax -
    b^\top x` at ``x``, each relative to its rounding scale :math:`|b_j| + (|A||x|)_j`:
    :math:`|g_j|` where :math:`x_j > 0`, :math:`\max(g_j, 0)` where :math:`x_j = 0`, and
    :math:`\max(-x_j, 0)`.

    >>> A = np.array([[2.0, 0.0], [0.0, 1.0]])
    >>> kkt_violation(A, np.array([2.0, -1.0]), np.array([1.0, 0.0]))
    0.0
    >>> kkt_violation(A, np.array([2.0, 1.0]), np.array([1.0, 0.0]))
    1.0
    """
    g = b - A @ x
    scale = np.abs(b) + np.abs(A) @ np.abs(x)
    dev = np.where(x > 0, np.abs(g), np.maximum(g, 0.0)) + np.maximum(-x, 0.0)
    ok = scale > 0
    if not ok.any():
        return 0.0
    return float(np.max(dev[ok] / scale[ok], initial=0.0))


class _Passive:
    """The passive set (in order of entry) and the lower Cholesky factor ``L`` of ``A_PP``."""

    def __init__(self, A: np.ndarray) -> None:
        self.A = A
        self.idx: list[int] = []
        self.L = np.zeros((0, 0))

    def border(self, j: int, rtol: float) -> tuple[np.ndarray, float] | None:
        """The new row of ``L`` if ``j`` joined, or None when its Schur complement is not
        above ``rtol`` times ``A_jj`` (``j`` is collinear with the passive columns)."""
        a_jj = float(self.A[j, j])
        if not a_jj > 0:
            return None
        ell = np.zeros(0)
        if self.idx:
            ell, _ = lapack.dtrtrs(self.L, self.A[self.idx, j], lower=1)
        schur = a_jj - float(ell @ ell)
        if not schur > rtol * a_jj:
            return None
        return ell, float(np.sqrt(schur))

    def add(self, j: int, row: tuple[np.ndarray, float]) -> None:
        ell, pivot = row
        k = len(self.idx)
        L = np.zeros((k + 1, k + 1))
        L[:k, :k] = self.L
        L[k, :k] = ell
        L[k, k] = pivot
        self.L = L
        self.idx.append(j)

    def pop(self) -> None:
        """Take back the coordinate that joined last."""
        self.idx.pop()
        self.L = self.L[:-1, :-1]

    def factor(self, idx: list[int], rtol: float) -> list[int]:
        """Make ``idx`` the passive set and factor its block; the coordinates whose pivot is
        not above ``rtol`` times their diagonal (collinear with those before them) are left
        out and returned."""
        self.idx, self.L = [], np.zeros((0, 0))
        if not idx:
            return []
        block = self.A[np.ix_(idx, idx)]
        L, info = lapack.dpotrf(block, lower=1, clean=1)
        if info == 0 and (np.diagonal(L) ** 2 > rtol * np.diagonal(block)).all():
            self.idx, self.L = list(idx), L
            return []
        dropped = []
        for j in idx:  # one at a time, leaving out the collinear ones
            row = self.border(j, rtol)
            if row is None:
                dropped.append(j)
            else:
                self.add(j, row)
        return dropped

    def solve(self, b: np.ndarray) -> np.ndarray:
        """The minimiser on the passive set, ``A_PP^{-1} b_P``, refined once."""
        if not self.idx:
            return np.zeros(0)
        rhs = b[self.idx]
        z, _ = lapack.dpotrs(self.L, rhs, lower=1)
        r = rhs - self.A[np.ix_(self.idx, self.idx)] @ z
        dz, _ = lapack.dpotrs(self.L, r, lower=1)
        return np.asarray(z + dz)


def _start(A: np.ndarray, x0: np.ndarray | None, rtol: float) -> tuple[np.ndarray, _Passive]:
    """A feasible start: ``x0`` clipped at zero on a passive set of its support, less any
    coordinate collinear with those before it (set to zero)."""
    n = A.shape[0]
    x = np.zeros(n) if x0 is None else np.maximum(np.asarray(x0, dtype=np.float64), 0.0)
    x = np.where(np.isfinite(x), x, 0.0)
    passive = _Passive(A)
    x[passive.factor(np.flatnonzero(x > 0).tolist(), rtol)] = 0.0
    return x, passive


def _descend(
    x: np.ndarray, passive: _Passive, b: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, int]:
    """Lawson and Hanson's inner loop: from a feasible ``x`` with support in the passive set
    and the minimiser ``z`` on it, move towards ``z``, dropping the coordinates that reach
    zero, until the minimiser on the passive set is positive; return it and the solves."""
    solves = 0
    while True:
        idx = np.asarray(passive.idx, dtype=np.intp)
        xp = x[idx]
        bad = z <= 0
        if not bad.any():
            x = np.zeros_like(x)
            x[idx] = z
            return x, solves
        # largest step t in [0, 1] with x + t (z - x) >= 0
        denom = xp[bad] - z[bad]
        ratios = np.where(denom > 0, xp[bad] / np.where(denom > 0, denom, 1.0), 0.0)
        t = float(min(max(ratios.min(), 0.0), 1.0))
        step = xp + t * (z - xp)
        hit = np.zeros(idx.size, dtype=bool)
        hit[np.flatnonzero(bad)[ratios <= t]] = True
        hit |= step <= 0
        x = np.zeros_like(x)
        x[idx] = np.where(hit, 0.0, step)
        # a block of a positive definite block: only rounding can make a pivot vanish
        x[passive.factor(idx[~hit].tolist(), 0.0)] = 0.0
        z = passive.solve(b)
        solves += 1


def _objective(A: np.ndarray, b: np.ndarray, x: np.ndarray, idx: list[int]) -> float:
    xp = x[idx]
    return 0.5 * float(xp @ (A[np.ix_(idx, idx)] @ xp)) - float(b[idx] @ xp)


def _enter(
    x: np.ndarray, passive: _Passive, b: np.ndarray, j: int
) -> tuple[np.ndarray, int] | None:
    """Let ``j`` join the passive set and descend; None (and the passive set as it was)
    when ``j`` is singular with the passive columns, would get no positive value, or the
    objective would not fall below its value at ``x``."""
    row = passive.border(j, 0.0)
    if row is None:
        return None
    before = (list(passive.idx), passive.L)
    f_old = _objective(passive.A, b, x, passive.idx)
    passive.add(j, row)
    z = passive.solve(b)
    if z[-1] > 0:
        y, solves = _descend(x, passive, b, z)
        if _objective(passive.A, b, y, passive.idx) < f_old:
            return y, solves
    passive.idx, passive.L = before
    return None


def solve_nnqp(
    A: np.ndarray,
    b: np.ndarray,
    x0: np.ndarray | None = None,
    *,
    rtol: float | None = None,
    max_iter: int | None = None,
) -> NNQPResult:
    r"""Minimise :math:`\tfrac12 x^\top A x - b^\top x` over :math:`x \ge 0` (see the module
    notes for the method).

    Parameters
    ----------
    A : ndarray of shape (n, n)
        Symmetric positive semi-definite (singular allowed: collinear or duplicated columns).
    b : ndarray of shape (n,)
    x0 : ndarray of shape (n,), optional
        A starting point (clipped at zero); its support is the first passive set.
    rtol : float, optional
        Relative rounding of gradients and Schur complements (default ``10 n eps``).
    max_iter : int, optional
        Most outer steps (default ``3 n + 10``; the method needs about as many steps as
        the minimiser has positive coordinates).

    Returns
    -------
    NNQPResult

    Examples
    --------
    >>> A = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> res = solve_nnqp(A, np.array([1.0, -1.0]))
    >>> res.x.tolist(), res.converged
    ([0.5, 0.0], True)
    """
    A = np.ascontiguousarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    n = b.size
    rtol = default_rtol(n) if rtol is None else float(rtol)
    limit = 3 * n + 10 if max_iter is None else int(max_iter)
    with single_threaded():  # small factors and products: a busy OpenMP team only stalls
        return _active_set(A, b, x0, rtol, limit)


def _active_set(
    A: np.ndarray, b: np.ndarray, x0: np.ndarray | None, rtol: float, limit: int
) -> NNQPResult:
    """Lawson and Hanson's outer loop (see :func:`solve_nnqp`)."""
    n = b.size
    x, passive = _start(A, x0, rtol)
    n_iter = 0
    if passive.idx:
        x, solves = _descend(x, passive, b, passive.solve(b))
        n_iter += 1 + solves
    root = np.sqrt(np.maximum(np.diagonal(A), 0.0))
    aside = np.zeros(n, dtype=bool)
    done = False
    for _ in range(limit):
        on = np.asarray(passive.idx, dtype=np.intp)
        g = b - A[:, on] @ x[on]
        scale = np.abs(b) + np.abs(A[:, on]) @ x[on]
        cand = ~aside & (g > rtol * scale) & (root > 0)
        cand[on] = False
        if not cand.any():
            done = True
            break
        j = int(np.argmax(np.where(cand, g / np.where(root > 0, root, 1.0), -np.inf)))
        size = len(passive.idx)
        step = _enter(x, passive, b, j)
        n_iter += 1
        if step is None:  # the gain along j is rounding: set it aside
            aside[j] = True
            continue
        x, solves = step
        n_iter += solves
        if len(passive.idx) <= size:  # the passive set shrank: try the set-aside ones again
            aside[:] = False
    return NNQPResult(x, n_iter, kkt_violation(A, b, x), done)
