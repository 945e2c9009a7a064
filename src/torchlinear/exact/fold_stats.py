r"""Cross-validation statistics in one pass: one :class:`~torchlinear.exact.GramStats` per fold.

Every row goes to the statistics of its fold as the data stream by; fold :math:`k`'s
training statistics are then *total − fold k* (:func:`subtract_stats`), so K-fold
cross-validation of a whole penalized path costs one read of the data and
:math:`K` sets of :math:`d \times d` moments.

Fold assignment depends only on a row's global number :math:`i` (its position in the whole
data), so the same folds arise in memory, chunk by chunk, and across processes that each
read a range of rows:

* **contiguous** (``cv=K``): scikit-learn's ``KFold(K)`` — fold :math:`f` is a run of
  :math:`\lfloor n/K\rfloor + 1` rows for :math:`f < n \bmod K` and :math:`\lfloor n/K\rfloor`
  rows after. The boundaries depend on the total row count :math:`n`, which must therefore
  be known before the first row is assigned (arrays know it, Parquet keeps it in its
  metadata; a CSV needs a count). Keeping per-block statistics until :math:`n` is known
  does not avoid this: a boundary may fall inside any block, so exact ``KFold`` folds
  would need blocks of one row. Memory: :math:`K` sets of moments, :math:`8Kd^2` bytes.
* **hashed** (:class:`HashedKFold`): row :math:`i` goes to fold
  :math:`h(i \oplus \text{seed}) \bmod K` for a 64-bit mixing hash :math:`h` (SplitMix64's
  finaliser) — a seeded shuffled split that needs no :math:`n`, the choice for streams of
  unknown length. Same memory.

Cancellation: every fold's statistics share one shift (the column means of the first
chunk), so moments are sums about nearly the mean and *total − fold* subtracts numbers of
the size of the spread, not of the mean: data with means of :math:`10^6` lose no more
digits than centred data. Sparse chunks (:func:`sparse_gram_stats`) are accumulated
without densifying ``X`` about a zero shift (centring is then algebraic, as in any sparse
solver).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from torchlinear.exact import GramStats
from torchlinear.exact.coordinate_descent import check_stats_memory

__all__ = [
    "FoldGramStats",
    "HashedKFold",
    "contiguous_fold_ids",
    "hashed_fold_ids",
    "sparse_gram_stats",
    "subtract_stats",
]

_MASK64 = (1 << 64) - 1


def contiguous_fold_ids(rows: np.ndarray, n_samples: int, n_splits: int) -> np.ndarray:
    """Fold of each global row number under scikit-learn's ``KFold(n_splits)`` on
    ``n_samples`` rows (no shuffling).

    Examples
    --------
    >>> contiguous_fold_ids(np.arange(7), 7, 3).tolist()
    [0, 0, 0, 1, 1, 2, 2]
    """
    rows = np.asarray(rows, dtype=np.int64)
    q, r = divmod(int(n_samples), int(n_splits))
    big = r * (q + 1)
    if q == 0:
        return np.minimum(rows, n_splits - 1)
    return np.where(rows < big, rows // (q + 1), r + (rows - big) // q)


def hashed_fold_ids(rows: np.ndarray, n_splits: int, seed: int = 0) -> np.ndarray:
    """Fold of each global row number by a seeded 64-bit hash (SplitMix64's finaliser).

    Examples
    --------
    >>> ids = hashed_fold_ids(np.arange(100_000), 5, seed=1)
    >>> bool(np.bincount(ids).min() > 19_000)
    True
    """
    with np.errstate(over="ignore"):
        z = np.asarray(rows, dtype=np.uint64) + np.uint64(
            (int(seed) * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) & _MASK64
        )
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z % np.uint64(n_splits)).astype(np.int64)


class HashedKFold:
    """A seeded shuffled K-fold split that depends only on row numbers (no row count).

    Usable as the ``cv`` of torchlinear's and scikit-learn's cross-validated estimators.

    Examples
    --------
    >>> cv = HashedKFold(3, seed=0)
    >>> [len(test) for _, test in cv.split(np.zeros((9, 1)))]
    [2, 4, 3]
    """

    def __init__(self, n_splits: int = 5, seed: int = 0) -> None:
        if int(n_splits) < 2:
            raise ValueError(f"n_splits must be at least 2, got {n_splits}")
        self.n_splits = int(n_splits)
        self.seed = int(seed)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return self.n_splits

    def fold_ids(self, rows: np.ndarray) -> np.ndarray:
        return hashed_fold_ids(rows, self.n_splits, self.seed)

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        ids = self.fold_ids(np.arange(X.shape[0]))
        for k in range(self.n_splits):
            yield np.flatnonzero(ids != k), np.flatnonzero(ids == k)

    def __repr__(self) -> str:
        return f"HashedKFold(n_splits={self.n_splits}, seed={self.seed})"


def subtract_stats(total: GramStats, part: GramStats) -> GramStats:
    """Statistics of the rows of ``total`` that are not in ``part`` (``part`` must be a
    subset). ``part`` is first re-expressed about ``total``'s shift (exact algebra); the
    moments then subtract term by term.

    Examples
    --------
    >>> X = torch.arange(10.0, dtype=torch.float64).reshape(5, 2)
    >>> rest = subtract_stats(GramStats.zeros(2).update(X, X[:, 0]),
    ...                       GramStats.zeros(2).update(X[:2], X[:2, 0]))
    >>> rest.n_samples, torch.allclose(rest.means()[0], X[2:].mean(0))
    (3, True)
    """
    if (total.n_features, total.n_targets) != (part.n_features, part.n_targets):
        raise ValueError(
            f"cannot subtract statistics of {part.n_features} feature(s) from statistics of "
            f"{total.n_features}"
        )
    if part.n_samples > total.n_samples:
        raise ValueError(
            f"cannot remove {part.n_samples} rows from statistics of {total.n_samples} rows"
        )
    p = part.to(total.device).reshifted(total.shift_x, total.shift_y)
    return GramStats(
        total.n_features,
        total.n_targets,
        total.shift_x.clone(),
        total.shift_y.clone(),
        total.n_samples - p.n_samples,
        total.weight_sum - p.weight_sum,
        total.sum_x - p.sum_x,
        total.sum_y - p.sum_y,
        total.xtx - p.xtx,
        total.xty - p.xty,
        total.yty - p.yty,
        True,
    )


def sparse_gram_stats(
    X: Any, y: np.ndarray, sample_weight: np.ndarray | None = None, *, shift_y: float = 0.0
) -> GramStats:
    """:class:`GramStats` of a scipy.sparse chunk, without densifying it.

    ``X^T S X`` is a sparse product (densified only as the d x d result); the shift of
    ``X`` is zero and that of ``y`` is ``shift_y``.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> X = sp.csr_array(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]))
    >>> s = sparse_gram_stats(X, np.array([1.0, 2.0, 3.0]))
    >>> s.xtx.tolist(), s.xty[:, 0].tolist()
    ([[10.0, 0.0], [0.0, 4.0]], [10.0, 4.0])
    """
    Xc = sp.csr_array(X, dtype=np.float64)
    m, d = Xc.shape
    yv = np.asarray(y, dtype=np.float64).reshape(m) - float(shift_y)
    w = np.ones(m) if sample_weight is None else np.asarray(sample_weight, np.float64)
    Xw = Xc.multiply(w[:, None]).tocsr() if sample_weight is not None else Xc
    xtx = (Xc.T @ Xw).toarray() if hasattr(Xc.T @ Xw, "toarray") else np.asarray(Xc.T @ Xw)
    xtx = 0.5 * (xtx + xtx.T)
    wy = w * yv
    f = torch.from_numpy

    def t(a: Any) -> torch.Tensor:
        return f(np.ascontiguousarray(np.asarray(a, dtype=np.float64)))

    return GramStats(
        d,
        1,
        torch.zeros(d, dtype=torch.float64),
        torch.tensor([float(shift_y)], dtype=torch.float64),
        m,
        torch.tensor(float(w.sum()), dtype=torch.float64),
        t(Xc.T @ w),
        t([wy.sum()]),
        t(xtx),
        t((Xc.T @ wy).reshape(d, 1)),
        t([[float(wy @ yv)]]),
        True,
    )


def sparse_moments(X: Any, y: np.ndarray, sample_weight: np.ndarray | None = None) -> Any:
    """The residual pass of :func:`~torchlinear.exact.refine.refine` over a scipy.sparse
    ``X`` (one target), without densifying it: a function ``(coef, intercept, shift) ->
    (sum w (x - shift) r^T, sum w r, sum w r^2)`` for ``r = y - intercept - X coef``.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> X = sp.csr_array(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]))
    >>> moments = sparse_moments(X, np.array([1.0, 2.0, 4.0]))
    >>> coef = torch.tensor([[1.0], [1.0]], dtype=torch.float64)
    >>> [t.ravel().tolist() for t in moments(coef, torch.zeros(1), torch.zeros(2))]
    [[3.0, 0.0], [1.0], [1.0]]
    """
    Xc = sp.csr_array(X, dtype=np.float64)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    w = None if sample_weight is None else np.asarray(sample_weight, np.float64)

    def moments(
        coef: torch.Tensor, intercept: torch.Tensor, shift: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        r = yv - float(intercept.reshape(-1)[0]) - Xc @ coef[:, 0].double().numpy()
        wr = r if w is None else w * r
        g = Xc.T @ wr - shift.double().numpy() * wr.sum()
        f = torch.from_numpy
        return f(g.reshape(-1, 1)), f(np.array([wr.sum()])), f(np.array([wr @ r]))

    return moments


class FoldGramStats:
    """K fold statistics filled in one pass over row chunks.

    Parameters
    ----------
    n_features : int
        Columns of ``X``.
    n_splits : int, default 5
        Number of folds.
    n_samples : int, optional
        Total row count; required for contiguous (``KFold``) folds.
    shuffle : bool, default False
        Hashed (seeded, shuffled) folds instead of contiguous ones.
    seed : int, default 0
        Seed of the hashed folds.
    memory_limit : int, optional
        Bytes the statistics may take (see :func:`check_stats_memory`).

    Examples
    --------
    >>> X = torch.randn(100, 3, dtype=torch.float64)
    >>> fs = FoldGramStats(3, n_splits=4, n_samples=100)
    >>> _ = fs.update(X[:30], X[:30, 0]).update(X[30:], X[30:, 0])
    >>> [f.n_samples for f in fs.folds], fs.training(0).n_samples
    ([25, 25, 25, 25], 75)
    """

    def __init__(
        self,
        n_features: int,
        n_splits: int = 5,
        *,
        n_samples: int | None = None,
        shuffle: bool = False,
        seed: int = 0,
        memory_limit: int | None = None,
    ) -> None:
        if int(n_splits) < 2:
            raise ValueError(f"cv must be at least 2 folds, got {n_splits}")
        if not shuffle and n_samples is None:
            raise ValueError(
                "contiguous (KFold) folds need the total number of rows in advance: pass "
                "n_samples, or use hashed folds (shuffle=True / cv=HashedKFold(...)), which "
                "need no row count"
            )
        if n_samples is not None and not shuffle and int(n_samples) < int(n_splits):
            raise ValueError(f"cv={n_splits} folds need at least {n_splits} rows, got {n_samples}")
        check_stats_memory(n_features, int(n_splits) + 2, memory_limit=memory_limit)
        self.n_features = int(n_features)
        self.n_splits = int(n_splits)
        self.n_samples = None if n_samples is None else int(n_samples)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.rows_seen = 0
        self.folds: list[GramStats] = []

    def fold_ids(self, rows: np.ndarray) -> np.ndarray:
        """Fold of each global row number."""
        if self.shuffle:
            return hashed_fold_ids(rows, self.n_splits, self.seed)
        assert self.n_samples is not None
        return contiguous_fold_ids(rows, self.n_samples, self.n_splits)

    def _init_folds(self, X: Any, y: torch.Tensor) -> None:
        if sp.issparse(X):
            cx = torch.zeros(self.n_features, dtype=torch.float64)
        else:
            cx = X[: min(len(X), 4096)].to(torch.float64).mean(0).cpu()
        cy = y[: min(len(y), 4096)].to(torch.float64).mean().reshape(1).cpu()
        self.folds = [
            GramStats.zeros(self.n_features, 1, shift_x=cx, shift_y=cy)
            for _ in range(self.n_splits)
        ]

    def update(
        self,
        X: torch.Tensor | Any,
        y: torch.Tensor,
        sample_weight: torch.Tensor | None = None,
        *,
        row_offset: int | None = None,
        fold_ids: np.ndarray | None = None,
    ) -> FoldGramStats:
        """Add a chunk whose first row has global number ``row_offset`` (default: the rows
        seen so far). ``X`` is a 2-D tensor or a scipy.sparse matrix/array; ``fold_ids``
        (one per row) overrides the assignment rule, e.g. for a user's splitter."""
        start = self.rows_seen if row_offset is None else int(row_offset)
        m = X.shape[0]
        if m == 0:
            return self
        if self.n_samples is not None and not self.shuffle and start + m > self.n_samples:
            raise ValueError(
                f"rows {start}..{start + m - 1} are beyond the n_samples={self.n_samples} "
                "announced for the folds"
            )
        y = y.reshape(-1)
        if not self.folds:
            self._init_folds(X, y)
        if fold_ids is not None:
            ids = np.asarray(fold_ids, dtype=np.int64).reshape(m)
        else:
            ids = self.fold_ids(np.arange(start, start + m))
        pieces: list[tuple[int, slice | np.ndarray]]
        if fold_ids is None and not self.shuffle:  # runs of rows: slice without copying
            cuts = np.flatnonzero(np.diff(ids)) + 1
            bounds = [0, *cuts.tolist(), m]
            pieces = [
                (int(ids[a]), slice(a, b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
            ]
        else:
            pieces = []
            for k in range(self.n_splits):
                idx = np.flatnonzero(ids == k)
                if idx.size:
                    pieces.append((k, idx))
        for k, sel in pieces:
            self._add(k, X, y, sample_weight, sel)
        self.rows_seen = max(self.rows_seen, start + m)
        return self

    def _add(
        self, k: int, X: Any, y: torch.Tensor, w: torch.Tensor | None, sel: slice | np.ndarray
    ) -> None:
        fold = self.folds[k]
        if isinstance(sel, np.ndarray) and not sp.issparse(X):
            index = torch.from_numpy(sel).to(X.device)
            Xk, yk = X.index_select(0, index), y.index_select(0, index.to(y.device))
            wk = None if w is None else w.index_select(0, index.to(w.device))
        else:
            Xk, yk = X[sel], y[sel]
            wk = None if w is None else w[sel]
        if sp.issparse(X):
            part = sparse_gram_stats(
                Xk,
                yk.cpu().double().numpy(),
                None if wk is None else wk.cpu().double().numpy(),
                shift_y=float(fold.shift_y[0]),
            )
            self.folds[k] = fold.merge(part)
        else:
            fold.update(Xk, yk, wk)

    def total(self) -> GramStats:
        """Statistics of all rows seen."""
        if not self.folds:
            raise ValueError("no rows have been added to the fold statistics yet")
        out = self.folds[0]
        for f in self.folds[1:]:
            out = out.merge(f)
        return out

    def training(self, k: int, total: GramStats | None = None) -> GramStats:
        """Statistics of every row outside fold ``k`` (total − fold k)."""
        return subtract_stats(self.total() if total is None else total, self.folds[k])

    def merge(self, other: FoldGramStats) -> FoldGramStats:
        """Fold-wise union with statistics of other rows (e.g. another process's shard)."""
        if (other.n_splits, other.n_features) != (self.n_splits, self.n_features):
            raise ValueError("cannot merge fold statistics of different shapes")
        out = FoldGramStats.__new__(FoldGramStats)
        out.__dict__.update(self.__dict__)
        if not other.folds:
            out.folds = list(self.folds)
        elif not self.folds:
            out.folds = list(other.folds)
        else:
            out.folds = [a.merge(b) for a, b in zip(self.folds, other.folds, strict=True)]
        out.rows_seen = max(self.rows_seen, other.rows_seen)
        return out
