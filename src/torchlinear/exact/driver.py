r"""The exact solve: one driver for every entry point.

:func:`solve_exact` takes a re-iterable stream of row chunks and a :class:`Combine` hook
and does, in order:

0. **Few rows, many columns.** In one process the rows are kept (float64 copies, within
   the memory budget) while they number no more than the columns; a stream that ends
   there is solved from the ``n x n`` side (:func:`~torchlinear.exact.solution.solve_rows`:
   the thin SVD of the centred rows, minimum-norm or ridge) without any ``d x d`` matrix.
   Otherwise the ``d x d`` statistics below are checked against
   :func:`~torchlinear._memory.memory_budget` (:func:`exact_memory`) before they are
   allocated, and the kept rows are the first ones accumulated.
1. **Statistics pass.** :class:`~torchlinear.exact.GramStats` of every chunk in float64
   (``solver="qr"``/``"svd"``: the TSQR factor instead). With ``solver="auto"`` in one
   process the first rows are probed first: when they are already too ill-conditioned for
   the normal equations, the Gram pass is skipped. Small data (at most
   :data:`~torchlinear.exact.POLISH_MAX_ELEMENTS` values) is kept for step 4.
2. **Combine.** ``combine.gram`` (or ``combine.tsqr``) turns this process's statistics into
   those of all the rows: the identity in one process, an all-reduce across ranks.
3. **Condition test and solve.** Cholesky of the centred, column-scaled Gram matrix when
   its reciprocal condition number is at least
   :data:`~torchlinear.exact.RCOND_CHOLESKY`; otherwise a second pass accumulates the TSQR
   factor centred on the exact means and solves by QR (by SVD when rank deficient, with a
   :class:`~torchlinear.exact.RankDeficientWarning`).
4. **Refinement**, when the error estimate exceeds ``1e-13``: small problems (judged
   coefficient by coefficient) are refined in memory with residuals in twice the working
   precision (the rows of every rank are gathered, in rank order; no further pass over the
   stream); larger Cholesky solutions by float64 residual passes over
   the stream (one more pass each, combined by ``combine.sum``).
5. **Warning** (:class:`~torchlinear.exact.IllConditionedWarning`) when the estimate of
   the remaining relative error is above ``1e-8``.

:func:`lstsq` (arrays in memory), :class:`~torchlinear.LinearRegression`, the command line
(file sources) and ``torchrun`` (:mod:`torchlinear.distributed`) all call
:func:`solve_exact`; they differ only in their stream and their ``combine``.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import torch

from torchlinear._memory import check_memory, memory_budget
from torchlinear._threads import single_threaded
from torchlinear._validation import (
    check_finite,
    check_nonnegative_float,
    check_sample_weight,
    overflow_error,
)
from torchlinear.exact._linalg import all_finite, as_2d
from torchlinear.exact.diagnostics import warn_accuracy
from torchlinear.exact.refine import Moments, polish, refine, residual_moments
from torchlinear.exact.solution import (
    POLISH_MAX_ELEMENTS,
    REFINE_ABOVE,
    LstsqSolution,
    solve_gram,
    solve_rows,
    solve_tsqr,
)
from torchlinear.exact.stats import (
    GramStats,
    TSQRStats,
    default_chunk_rows,
    gram_chunk_rows,
    joined_chunks,
)

__all__ = [
    "LOCAL",
    "Chunk",
    "ChunkStream",
    "Combine",
    "SmallData",
    "Solver",
    "exact_memory",
    "lstsq",
    "solve_exact",
    "solve_statistics",
]

Solver = Literal["auto", "cholesky", "qr", "svd"]
SOLVERS: tuple[str, ...] = ("auto", "cholesky", "qr", "svd")

#: ``(X, Y, sample_weight)``: ``X`` is ``(m, d)``, ``Y`` is ``(m, k)``, weights ``(m,)`` or None.
Chunk = tuple[torch.Tensor, torch.Tensor, "torch.Tensor | None"]
#: Called once per pass; returns a fresh iterable over the same chunks, in the same order.
ChunkStream = Callable[[], Iterable[Chunk]]


class Combine:
    """How one process's statistics become those of all the rows (here: the identity).

    :mod:`torchlinear.distributed` overrides every method with a collective, so the same
    driver runs in one process and across ranks. Every rank calls the methods in the same
    order.
    """

    #: Whether this process holds all the rows (allows decisions on local data alone).
    local: bool = True

    def agree(self, error: BaseException | None, shape: tuple[int, int] | None) -> tuple[int, int]:
        """Raise ``error`` (on every rank, if any failed); return the common ``(d, k)``."""
        if error is not None:
            raise error
        if shape is None:
            raise ValueError("the data is empty: there are no rows to fit")
        return shape

    def gram(self, stats: GramStats) -> GramStats:
        """The Gram statistics of all the rows."""
        return stats

    def tsqr(self, stats: TSQRStats) -> TSQRStats:
        """The TSQR factor of all the rows."""
        return stats

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise sum of ``values`` over the processes (float64, on the CPU)."""
        return values

    def rows(self, part: Chunk) -> Chunk:
        """All the rows (every process's ``part``, in rank order)."""
        return part


#: The single-process :class:`Combine`.
LOCAL = Combine()

#: ``d x d`` float64 matrices the exact solve holds at its peak: the statistics, their
#: centred and scaled copies, the factor and the eigen/singular vectors of a fallback.
EXACT_MATRICES = 6


def exact_memory(n_features: int, n_targets: int = 1) -> int:
    """Bytes the exact solver plans for its ``d x d`` statistics and factorizations.

    Examples
    --------
    >>> round(exact_memory(20_000) / 1e9, 1)
    19.2
    """
    p = int(n_features) + int(n_targets) + 1
    return 8 * EXACT_MATRICES * p * p


def check_exact_memory(n_features: int, n_targets: int, rows_kept: int = 0) -> None:
    """Refuse (one line, before allocating) a problem whose statistics exceed the budget;
    with ``rows_kept``, the rows kept while fewer than the columns may take the budget
    instead, so the smaller of the two is what is refused."""
    need = exact_memory(n_features, n_targets)
    if rows_kept:
        need = min(need, 8 * rows_kept * (n_features + n_targets + 1))
    check_memory(
        need,
        f"{n_features:,} columns",
        "the exact solver's d x d statistics and factorizations"
        + (f" (or {rows_kept:,} rows kept while fewer than the columns)" if rows_kept else ""),
        advice="fit by gradient descent ({0}) or select fewer columns ({features})",
        suggestions=[("solver", "sgd")],
    )


class SmallData:
    """The rows of a small problem (at most :data:`POLISH_MAX_ELEMENTS` values), kept for
    extended-precision refinement; forgotten as soon as the data grows past that.

    Examples
    --------
    >>> keep = SmallData()
    >>> keep.add(torch.ones(3, 2), torch.ones(3, 1), None)
    >>> keep.values, keep.arrays(2, 1)[0].shape
    (12, torch.Size([3, 2]))
    """

    def __init__(self) -> None:
        self.parts: list[Chunk] | None = []
        self.values = 0
        self.weighted = False

    def add(self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None) -> None:
        """Keep a float64 copy of the chunk on the CPU (while the data stays small)."""
        self.values += X.shape[0] * (1 + X.shape[1] + Y.shape[1])
        if self.parts is not None and self.values > POLISH_MAX_ELEMENTS:
            self.parts = None
        if self.parts is not None:
            ones = torch.ones(X.shape[0], dtype=torch.float64)
            self.parts.append(
                (
                    X.detach().to("cpu", torch.float64, copy=True),
                    as_2d(Y).detach().to("cpu", torch.float64, copy=True),
                    ones if w is None else w.detach().to("cpu", torch.float64, copy=True),
                )
            )
            self.weighted = self.weighted or w is not None

    def arrays(self, d: int, k: int) -> Chunk:
        """All the kept rows: ``(X, Y, w)`` (``w`` None when no chunk had weights)."""
        parts = self.parts or []
        X = torch.cat([p[0] for p in parts]) if parts else torch.zeros(0, d, dtype=torch.float64)
        Y = torch.cat([p[1] for p in parts]) if parts else torch.zeros(0, k, dtype=torch.float64)
        if not self.weighted:
            return X, Y, None
        return X, Y, torch.cat([p[2] for p in parts])  # type: ignore[misc]


def _chunks(stream: ChunkStream, join: bool = False) -> Iterator[Chunk]:
    """The stream's chunks with ``Y`` as 2-D; empty chunks are skipped. With ``join`` (a
    pass into ``d x d`` statistics), small chunks of many columns are joined
    (:func:`~torchlinear.exact.stats.joined_chunks`)."""
    chunks = ((X, as_2d(Y), w) for X, Y, w in stream() if X.shape[0])
    return joined_chunks(chunks) if join else chunks


def _explain_nonfinite(stream: ChunkStream) -> None:
    """Locate a NaN/inf in the stream (global row numbers), or report an overflow."""
    offset, weighted = 0, False
    for X, Y, w in _chunks(stream):
        weighted = weighted or w is not None
        for name, values in (("X", X), ("y", Y), ("sample_weight", w)):
            if values is None:
                continue
            try:
                check_finite(name, values)
            except ValueError as exc:
                if offset == 0:
                    raise
                raise ValueError(f"{exc} (row numbers counted from {offset})") from None
        offset += X.shape[0]
    raise overflow_error(weighted)


def _rows_while_wide(chunks: Iterator[Chunk]) -> tuple[list[Chunk], bool]:
    """Read chunks while the rows number no more than the columns (float64 copies on the
    CPU, within the memory budget); returns (the chunks read, whether the stream ended).
    The chunk that takes the rows past the columns ends the list uncopied: it is the next
    one consumed."""
    kept: list[Chunk] = []
    n = 0
    budget = memory_budget()
    for X, Y, w in chunks:
        d, k = X.shape[1], Y.shape[1]
        n += X.shape[0]
        if n > d:
            kept.append((X, Y, w))
            return kept, False
        if 8 * n * (d + k + 1) > budget:
            check_exact_memory(d, k, n)
        kept.append(
            (
                X.detach().to("cpu", torch.float64, copy=True),
                Y.detach().to("cpu", torch.float64, copy=True),
                None if w is None else w.detach().to("cpu", torch.float64, copy=True),
            )
        )
    return kept, True


def _drained(items: list[Chunk]) -> Iterator[Chunk]:
    """The items in order, each let go by the list as it is handed on (rows kept while
    they were fewer than the columns are not held through the whole pass)."""
    items.reverse()
    while items:
        yield items.pop()


def _solve_wide(
    kept: list[Chunk],
    stream: ChunkStream,
    alpha: float,
    alpha_per_weight: bool,
    fit_intercept: bool,
    feature_names: Sequence[str] | None,
) -> LstsqSolution:
    """The ``n <= d`` solve of the rows read by :func:`_rows_while_wide` (``alpha`` per
    unit of their total weight with ``alpha_per_weight``)."""
    X = torch.cat([c[0] for c in kept])
    Y = torch.cat([c[1] for c in kept])
    w = None
    if any(c[2] is not None for c in kept):
        w = torch.cat(
            [torch.ones(len(c[0]), dtype=torch.float64) if c[2] is None else c[2] for c in kept]
        )
    if not all_finite(X, Y, *([] if w is None else [w])):
        _explain_nonfinite(stream)
    if w is not None and float(w.sum()) <= 0:
        raise ValueError("all sample weights are zero; give at least one row a positive weight")
    if alpha_per_weight:
        alpha *= float(len(X) if w is None else w.sum())
    sol = solve_rows(X, Y, w, alpha, fit_intercept, feature_names)
    warn_accuracy(sol)
    return sol


def _first_pass(
    chunks: Iterable[Chunk],
    make: Callable[[int, int], Any],
    keep: SmallData,
    probe: Callable[[GramStats], bool] | None,
    probe_rows: Callable[[int, int], int],
) -> tuple[Any, GramStats | None, int]:
    """One pass into ``make(d, k)``; returns (statistics, stopping probe or None, rows with
    positive weight). With ``probe``, the first rows are accumulated and tested first, and
    the pass stops early when ``probe`` says the normal equations will not do."""
    stats = None
    positive = 0
    first = True
    for X, Y, w in chunks:
        if stats is None:
            stats = make(X.shape[1], Y.shape[1])
        if first and probe is not None and isinstance(stats, GramStats):
            m = min(X.shape[0], probe_rows(X.shape[1], Y.shape[1]))
            w0 = None if w is None else w[:m]
            stats.update(X[:m], Y[:m], w0)
            pos0 = m if w0 is None else int((w0 > 0).sum())
            finite = all_finite(stats.xtx, stats.xty, stats.yty)
            if finite and pos0 > X.shape[1] + 1 and probe(stats):
                return stats, stats, 0
            keep.add(X[:m], Y[:m], w0)
            positive += pos0
            X, Y, w = X[m:], Y[m:], None if w is None else w[m:]
        first = False
        stats.update(X, Y, w)
        keep.add(X, Y, w)
        positive += X.shape[0] if w is None else int((w > 0).sum())
    return stats, None, positive


def _checked(make: Callable[[int, int], Any]) -> Callable[[int, int], Any]:
    """``make`` after the memory check of its ``d x d`` statistics."""

    def checked(d: int, k: int) -> Any:
        check_exact_memory(d, k)
        return make(d, k)

    return checked


def solve_exact(
    stream: ChunkStream,
    *,
    alpha: float = 0.0,
    fit_intercept: bool = True,
    solver: Solver = "auto",
    device: torch.device | str | None = None,
    feature_names: Sequence[str] | None = None,
    refine_solution: bool = True,
    combine: Combine = LOCAL,
    shape: tuple[int, int] | None = None,
    alpha_per_weight: bool = False,
) -> LstsqSolution:
    """Exact weighted least squares / ridge of the rows of ``stream`` (see the module notes).

    Parameters
    ----------
    stream : callable
        Returns a fresh iterable of ``(X, y, sample_weight)`` chunks on every call (one
        call per pass); ``y`` is ``(m,)`` or ``(m, k)``, ``sample_weight`` ``(m,)`` or None.
        Chunks may be float32 or float64, on any device; they are validated by the caller
        (NaN/inf are reported from the statistics, at no extra cost).
    alpha : float, default 0
        Ridge penalty on the coefficients (never on the intercept).
    fit_intercept : bool, default True
    solver : {"auto", "cholesky", "qr", "svd"}, default "auto"
        ``"cholesky"`` forces the normal equations, ``"qr"`` one TSQR pass, ``"svd"`` the
        minimum-norm SVD of the TSQR factor.
    device : torch.device or str, optional
        Where the statistics are accumulated (default: the CPU).
    feature_names : sequence of str, optional
        Column names for warnings.
    refine_solution : bool, default True
        Allow refinement (extra passes) when the error estimate asks for it.
    combine : Combine, default LOCAL
        The statistics of all processes (the identity in one process).
    shape : (int, int), optional
        ``(n_features, n_targets)`` when known, for a process whose stream is empty.
    alpha_per_weight : bool, default False
        ``alpha`` is per unit of sample weight (scikit-learn's ``ElasticNet`` convention
        with ``l1_ratio=0``, a penalty on the *mean* squared loss over two): the ridge
        penalty solved is ``alpha`` times the total weight of all the rows, known once
        they are combined. The solution's ``alpha`` is that ridge penalty.

    Returns
    -------
    LstsqSolution
        ``n_passes`` counts the passes over the stream.

    Examples
    --------
    >>> X = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 3.0]], dtype=torch.float64)
    >>> y = X @ torch.tensor([2.0, -1.0], dtype=torch.float64) + 0.5
    >>> halves = lambda: [(X[:2], y[:2], None), (X[2:], y[2:], None)]
    >>> sol = solve_exact(halves)
    >>> [round(v, 12) for v in sol.coef[:, 0].tolist()], round(float(sol.intercept[0]), 12)
    ([2.0, -1.0], 0.5)
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(map(repr, SOLVERS))}, got {solver!r}")
    run = _Run(
        stream,
        check_nonnegative_float("alpha", alpha),
        alpha_per_weight,
        fit_intercept,
        solver,
        torch.device(device) if device is not None else torch.device("cpu"),
        feature_names,
        combine,
    )
    keep = SmallData()
    stats: Any = None
    stopped: GramStats | None = None
    positive = 0
    error: BaseException | None = None
    try:
        opened = run.opening_pass(keep)
        if isinstance(opened, LstsqSolution):
            return opened
        stats, stopped, positive = opened
    except Exception as exc:  # shared with the other ranks before anyone waits on them
        error = exc
    local_shape = None if stats is None else (stats.n_features, stats.n_targets)
    d, k = combine.agree(error, local_shape or shape)
    if stopped is not None:  # the probe: straight to QR, centred on the probe's means
        keep = SmallData()
        sol, positive = run.qr_after_probe(stopped, d, k, keep)
    elif run.qr_first:
        sol = run.solve_qr(stats, d, k)
    else:
        sol = run.solve_normal_equations(stats, d, k)
    counts = combine.sum(torch.tensor([float(positive), float(keep.values)], dtype=torch.float64))
    n_positive, n_values = int(counts[0]), int(counts[1])

    def rows() -> Chunk:
        return combine.rows(keep.arrays(d, k))

    more = _moments(stream, combine, run.device)
    return _improve(sol, n_positive, n_values, rows, more, refine_solution, solver)


@dataclass
class _Run:
    """One exact solve's settings, and its steps after the opening pass."""

    stream: ChunkStream
    alpha: float
    alpha_per_weight: bool
    fit_intercept: bool
    solver: Solver
    device: torch.device
    names: Sequence[str] | None
    combine: Combine

    @property
    def qr_first(self) -> bool:
        return self.solver in ("qr", "svd")

    def ridge(self, stats: GramStats | TSQRStats) -> float:
        """The ridge penalty: ``alpha``, or ``alpha`` per unit of the rows' total weight."""
        return self.alpha * float(stats.weight_sum) if self.alpha_per_weight else self.alpha

    def probe(self, stats: GramStats) -> bool:
        """Whether the normal equations of the first rows already lose too much."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return (
                solve_gram(
                    stats, self.ridge(stats), self.fit_intercept, self.names, allow_fail=True
                )
                is None
            )

    def opening_pass(self, keep: SmallData) -> LstsqSolution | tuple[Any, GramStats | None, int]:
        """The first pass: the statistics (Gram, or TSQR for ``solver="qr"/"svd"``), or
        the solution itself when all the rows fit on the ``n x n`` side (``n <= d``)."""
        kind = TSQRStats if self.qr_first else GramStats

        def make(d: int, k: int) -> Any:
            return kind.zeros(d, k, device=self.device)

        chunks: Iterable[Chunk] = _chunks(self.stream, join=True)
        if self.combine.local:  # few rows, many columns: the n x n side, no d x d statistics
            kept, ended = _rows_while_wide(iter(chunks))
            if ended and kept:
                return _solve_wide(
                    kept,
                    self.stream,
                    self.alpha,
                    self.alpha_per_weight,
                    self.fit_intercept,
                    self.names,
                )
            chunks = itertools.chain(_drained(kept), chunks)
        use_probe = self.solver == "auto" and self.combine.local
        return _first_pass(
            chunks, _checked(make), keep, self.probe if use_probe else None, _probe_rows
        )

    def qr_after_probe(
        self, stopped: GramStats, d: int, k: int, keep: SmallData
    ) -> tuple[LstsqSolution, int]:
        """After the probe gave up on the normal equations: one TSQR pass centred on the
        probe's means (the rows kept again for refinement); the solution and the rows
        with a positive weight."""
        mean_x, mean_y = stopped.means()
        qr = TSQRStats.zeros(d, k, device=self.device, shift_x=mean_x, shift_y=mean_y)
        positive = 0
        for X, Y, w in _chunks(self.stream, join=True):
            qr.update(X, Y, w)
            keep.add(X, Y, w)
            positive += X.shape[0] if w is None else int((w > 0).sum())
        total = self.combine.tsqr(qr)
        _check_rows(total, self.stream)
        sol = solve_tsqr(total, self.ridge(total), self.fit_intercept, "qr", self.names)
        return replace(sol, n_passes=1), positive

    def solve_qr(self, stats: TSQRStats | None, d: int, k: int) -> LstsqSolution:
        """``solver="qr"/"svd"``: the combined TSQR factor of the first pass."""
        total = self.combine.tsqr(
            stats if stats is not None else TSQRStats.zeros(d, k, device=self.device)
        )
        _check_rows(total, self.stream)
        sol = solve_tsqr(total, self.ridge(total), self.fit_intercept, self.solver, self.names)
        return replace(sol, n_passes=1)

    def solve_normal_equations(self, stats: GramStats | None, d: int, k: int) -> LstsqSolution:
        """The combined Gram statistics solved by Cholesky; when they lose too much
        (``solver="auto"``), a second pass: TSQR about the exact means."""
        total = self.combine.gram(
            stats if stats is not None else GramStats.zeros(d, k, device=self.device)
        )
        _check_rows(total, self.stream)
        alpha = self.ridge(total)
        cholesky = self.solver == "cholesky"
        # the statistics are not used again: their d x d moments become the centred ones
        sol = solve_gram(
            total, alpha, self.fit_intercept, self.names, allow_fail=not cholesky, consume=True
        )
        if sol is not None:
            return replace(sol, n_passes=1)
        mean_x, mean_y = total.means()
        qr = TSQRStats.zeros(d, k, device=self.device, shift_x=mean_x, shift_y=mean_y)
        error: BaseException | None = None
        try:
            for X, Y, w in _chunks(self.stream, join=True):
                qr.update(X, Y, w)
        except Exception as exc:  # shared with the other ranks before anyone waits on them
            error = exc
        self.combine.agree(error, (d, k))
        sol = solve_tsqr(self.combine.tsqr(qr), alpha, self.fit_intercept, "qr", self.names)
        return replace(sol, n_passes=2)


def _probe_rows(d: int, k: int) -> int:
    """Rows of the first chunk of statistics the probe looks at."""
    return max(gram_chunk_rows(1 + d + k), 2 * (d + 2))


RSS_CANCELS = 1e-5
"""Below this fraction of the total sum of squares (an R² above 0.99999), the residual sum
of squares of a Gram solution, ``C - 2 b'B + b'G b``, has lost more than ~5e-11 of its
relative accuracy to cancellation; it is then taken from the residuals themselves."""


def _rss_cancels(sol: LstsqSolution) -> bool:
    """Whether ``sol``'s residual sum of squares is too small to be read off the Gram
    statistics (the standard errors, intervals and tests of the summary depend on it)."""
    return sol.solver == "cholesky" and bool((sol.rss < RSS_CANCELS * sol.tss).any())


def _improve(
    sol: LstsqSolution,
    n_positive: int,
    n_values: int,
    rows: Callable[[], Chunk] | None,
    moments: Moments | None,
    allowed: bool,
    solver: str,
    per_coefficient: bool = True,
) -> LstsqSolution:
    """Refine when the error estimate asks for it (step 4), then warn (step 5)."""
    d = sol.coef.shape[0]
    full_rank = sol.rank == d and n_positive >= d + int(sol.fit_intercept)
    small = n_values <= POLISH_MAX_ELEMENTS and rows is not None
    polishable = small and (solver != "cholesky" or _rss_cancels(sol))
    # rows in memory are polished cheaply, so each coefficient is judged on its own
    error = sol.coefficient_error() if polishable and per_coefficient else sol.est_rel_error
    if allowed and full_rank and (error > REFINE_ABOVE or _rss_cancels(sol)):
        if polishable:
            assert rows is not None
            X, Y, w = rows()
            with single_threaded():  # small: one thread is fast and never stalls
                # on the rows kept in memory: no further pass over the stream
                sol = polish(sol, X.numpy(), Y.numpy(), None if w is None else w.numpy())
        elif sol.solver == "cholesky" and moments is not None:
            # float64 refinement brings the normal equations to QR accuracy; it cannot
            # improve on a QR solution, so large QR solutions are left as they are
            sol = refine(sol, moments)
    warn_accuracy(sol)
    return sol


def solve_statistics(
    stats: GramStats | TSQRStats,
    *,
    alpha: float = 0.0,
    fit_intercept: bool = True,
    solver: Solver = "auto",
    feature_names: Sequence[str] | None = None,
    small: SmallData | None = None,
    per_coefficient: bool = True,
    moments: Moments | None = None,
) -> LstsqSolution:
    """Solve statistics accumulated chunk by chunk when the data cannot be read again.

    Steps 3 to 5 of :func:`solve_exact` without passes over the data: the Gram
    statistics are solved by Cholesky (an ill-conditioned Gram matrix by its
    eigendecomposition, with a warning), a TSQR factor by QR (``solver="svd"``: the
    minimum-norm SVD). When ``small`` still holds every row, the solution is refined in
    extended precision exactly as :func:`solve_exact` refines it; with
    ``per_coefficient=False`` only when the coefficients as a whole need it (what the
    warnings judge), not for one coefficient alone (see
    :meth:`~torchlinear.exact.LstsqSolution.coefficient_error`). When the data can be read
    after all (e.g. a sparse matrix in memory), ``moments`` makes a residual pass over it
    (see :func:`~torchlinear.exact.refine.refine`) for the float64 refinement.

    Examples
    --------
    >>> X = torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.float64)
    >>> stats = TSQRStats.zeros(1).update(X, 3 * X[:, 0] + 1)
    >>> [round(v, 12) for v in solve_statistics(stats).coef[:, 0].tolist()]
    [3.0]
    """
    if isinstance(stats, GramStats):
        sol = solve_gram(stats, alpha, fit_intercept, feature_names, allow_fail=False)
        assert sol is not None
    else:
        method = "svd" if solver == "svd" else "qr"
        sol = solve_tsqr(stats, alpha, fit_intercept, method, feature_names)
    d, k = stats.n_features, stats.n_targets
    keep = small if small is not None and small.parts is not None else None
    n_positive = stats.n_samples
    if keep is not None:
        X, _, w = keep.arrays(d, k)
        n_positive = len(X) if w is None else int((w > 0).sum())
    values = keep.values if keep is not None else POLISH_MAX_ELEMENTS + 1
    rows = None if keep is None else (lambda: keep.arrays(d, k))
    return _improve(sol, n_positive, values, rows, moments, True, solver, per_coefficient)


def _check_rows(stats: GramStats | TSQRStats, stream: ChunkStream) -> None:
    if stats.n_samples == 0:
        raise ValueError("the data is empty: there are no rows to fit")
    finite = (
        all_finite(stats.xtx, stats.xty, stats.yty, stats.sum_x, stats.sum_y)
        if isinstance(stats, GramStats)
        else all_finite(stats.r)
    )
    if not finite:
        _explain_nonfinite(stream)
    if float(stats.weight_sum) <= 0:
        raise ValueError("all sample weights are zero; give at least one row a positive weight")


def _moments(stream: ChunkStream, combine: Combine, device: torch.device) -> Moments:
    """One residual pass over the stream, summed over the processes."""

    def moments(
        coef: torch.Tensor, intercept: torch.Tensor, shift: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        d, k = coef.shape
        total = torch.zeros(d * k + 2 * k, dtype=torch.float64)
        for X, Y, w in _chunks(stream):
            rows = default_chunk_rows(1 + d + k)
            g, g0, ss = residual_moments(X, Y, w, coef, intercept, shift, rows, device)
            total += torch.cat([g.reshape(-1), g0, ss])
        total = combine.sum(total)
        return total[: d * k].reshape(d, k), total[d * k : d * k + k], total[d * k + k :]

    return moments


def _as_tensor(a: Any) -> torch.Tensor:
    """A tensor view of an array (read-only arrays are shared too: they are never written)."""
    if isinstance(a, torch.Tensor):
        return a.detach()
    arr = np.ascontiguousarray(a)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(arr)


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
    """Exact weighted least squares / ridge for data in memory (:func:`solve_exact`).

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
        See :func:`solve_exact`.
    chunk_rows : int, optional
        Stream the rows in chunks of this many (default: one chunk, accumulated by one
        block of rows per thread).
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
    Xt, Yt = _as_tensor(X), _as_tensor(y)
    if Xt.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {tuple(Xt.shape)}")
    if not Xt.is_floating_point():
        Xt = Xt.to(torch.float64)
    Yt = as_2d(Yt)
    if not Yt.is_floating_point():
        Yt = Yt.to(torch.float64)
    n = Xt.shape[0]
    if Yt.shape[0] != n:
        raise ValueError(f"y has {Yt.shape[0]} rows but X has {n}")
    w = check_sample_weight(sample_weight, n, device=Xt.device)
    rows = chunk_rows or max(n, 1)

    def stream() -> Iterator[Chunk]:
        for start in range(0, n, rows):
            stop = start + rows
            yield Xt[start:stop], Yt[start:stop], None if w is None else w[start:stop]

    return solve_exact(
        stream,
        alpha=alpha,
        fit_intercept=fit_intercept,
        solver=solver,
        device=device if device is not None else Xt.device,
        feature_names=feature_names,
        refine_solution=refine,
        shape=(Xt.shape[1], Yt.shape[1]),
    )
