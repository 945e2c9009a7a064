"""Mergeable float64 sufficient statistics of least squares: the Gram moments and the
TSQR factor, accumulated chunk by chunk (:class:`GramStats`, :class:`TSQRStats`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, Self, TypeVar

import numpy as np
import torch

from torchlinear._threads import n_workers, parallel, row_blocks
from torchlinear.exact._linalg import (
    add_gram_inplace,
    as_2d,
    f64,
    fold_rows_numpy,
    fold_triangle_numpy,
    qr_r,
    sign_normalise,
    symmetrise_,
    use_numpy,
    weighted_first_moments,
)
from torchlinear.exact.diagnostics import warn_accuracy
from torchlinear.exact.solution import LstsqSolution, solve_gram, solve_tsqr

__all__ = [
    "GramStats",
    "TSQRStats",
    "default_chunk_rows",
    "gram_chunk_rows",
    "gram_pass",
    "joined_chunks",
    "tsqr_pass",
]

_CHUNK_BYTES: int = 1 << 22
#: From this many columns on, small chunks are joined before they update statistics.
JOIN_COLUMNS = 1024
# up to this many columns a chunk's Gram matrix is formed apart (at most 8 MB), then added
_GRAM_TEMPORARY_COLUMNS = JOIN_COLUMNS
M = TypeVar("M", bound="_ShiftedMoments")


def default_chunk_rows(n_columns: int) -> int:
    """Rows per chunk: about 4 MiB of float64, between 1,024 and 65,536 rows.

    Examples
    --------
    >>> default_chunk_rows(64)
    8192
    """
    return int(min(65536, max(1024, _CHUNK_BYTES // (8 * max(1, n_columns)))))


def gram_chunk_rows(n_columns: int) -> int:
    """Rows per Gram chunk: about 2 MiB, so the chunk is still in a core's cache when
    ``X^T [1, y]`` reads it again after the ``syrk``."""
    return int(min(65536, max(1024, (_CHUNK_BYTES // 2) // (8 * max(1, n_columns)))))


_Chunk = tuple[torch.Tensor, torch.Tensor, "torch.Tensor | None"]


def joined_chunks(chunks: Iterable[_Chunk]) -> Iterator[_Chunk]:
    """Chunks ``(X, Y, w)`` (``Y`` 2-D) in order, those of at least :data:`JOIN_COLUMNS`
    columns and fewer than :func:`gram_chunk_rows` rows joined until they have as many.

    A reader keeps a chunk to a few megabytes, so a chunk of thousands of columns has few
    rows; but each update of ``d x d`` statistics costs ``O(d^2)`` besides its rows, and
    BLAS is fastest on many rows at once.

    >>> X, Y = torch.ones(10, 2000), torch.ones(10, 1)
    >>> [len(c[0]) for c in joined_chunks([(X, Y, None)] * 250)]
    [1030, 1030, 440]
    """
    held: list[_Chunk] = []
    rows = 0
    for chunk in chunks:
        X, Y, w = chunk
        want = gram_chunk_rows(1 + X.shape[1] + Y.shape[1])
        if held and not _joinable(held[0], chunk):
            yield _joined(held)
            held, rows = [], 0
        if X.shape[1] < JOIN_COLUMNS or (not held and X.shape[0] >= want):
            yield chunk
            continue
        held.append(chunk)
        rows += X.shape[0]
        if rows >= want:
            yield _joined(held)
            held, rows = [], 0
    if held:
        yield _joined(held)


def _joinable(a: _Chunk, b: _Chunk) -> bool:
    return all(
        (s.shape[1:], s.dtype, s.device) == (t.shape[1:], t.dtype, t.device)
        for s, t in zip(a[:2], b[:2], strict=True)
    ) and (a[2] is None) == (b[2] is None)


def _joined(parts: list[_Chunk]) -> _Chunk:
    if len(parts) == 1:
        return parts[0]
    X = torch.cat([p[0] for p in parts])
    Y = torch.cat([p[1] for p in parts])
    w = None if parts[0][2] is None else torch.cat([p[2] for p in parts])  # type: ignore[misc]
    return X, Y, w


class _ShiftedMoments:
    """What both statistics share: the shapes, the shift and the rows folded in so far.

    Subclasses add their tensors (``_tensor_shapes``), the chunk kernel (``update_chunk``),
    the shift rule (``fix_shift``), the exact change of shift (``reshifted``) and the
    combination of two row sets with a common shift (``_combined``). Each subclass is a
    dataclass whose fields are those below, then its tensors, then ``shift_fixed``.
    """

    n_features: int
    n_targets: int
    shift_x: torch.Tensor
    shift_y: torch.Tensor
    n_samples: int
    weight_sum: torch.Tensor

    shift_fixed: bool

    @classmethod
    def _tensor_shapes(cls, d: int, k: int) -> list[tuple[int, ...]]:
        raise NotImplementedError

    @staticmethod
    def chunk_rows(n_columns: int) -> int:
        """Rows per chunk of a pass over ``n_columns`` columns."""
        raise NotImplementedError

    def fix_shift(self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None) -> None:
        raise NotImplementedError

    def update_chunk(
        self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None, buf: Any
    ) -> Any:
        raise NotImplementedError

    @classmethod
    def zeros(
        cls,
        n_features: int,
        n_targets: int = 1,
        *,
        device: torch.device | str = "cpu",
        shift_x: torch.Tensor | None = None,
        shift_y: torch.Tensor | None = None,
    ) -> Self:
        """Empty statistics; pass ``shift_x``/``shift_y`` (e.g. known means) to fix the
        shift in advance."""
        dev = torch.device(device)
        d, k = int(n_features), int(n_targets)

        def z(*shape: int) -> torch.Tensor:
            return torch.zeros(shape, dtype=torch.float64, device=dev)

        fixed = shift_x is not None or shift_y is not None
        cx = z(d) if shift_x is None else f64(shift_x, dev).reshape(d).clone()
        cy = z(k) if shift_y is None else f64(shift_y, dev).reshape(k).clone()
        tensors = [z(*shape) for shape in cls._tensor_shapes(d, k)]
        return cls(d, k, cx, cy, 0, z(), *tensors, fixed)  # type: ignore[call-arg]

    @property
    def device(self) -> torch.device:
        return self.weight_sum.device

    def update(
        self, X: torch.Tensor, Y: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> Self:
        """Add a chunk of rows (any device, float32 or float64) in place; return ``self``.

        ``Y`` is ``(m,)`` or ``(m, k)``; ``sample_weight`` is ``(m,)`` and non-negative.
        The chunk is converted to float64 a piece at a time (about 2–4 MiB, one block of
        rows per thread), so the extra memory is O(chunk x d).
        """
        Y = as_2d(Y)
        if X.ndim != 2 or X.shape[1] != self.n_features or Y.shape[1] != self.n_targets:
            raise ValueError(
                f"chunk has shape X {tuple(X.shape)}, y {tuple(Y.shape)}; these statistics "
                f"expect {self.n_features} feature(s) and {self.n_targets} target(s)"
            )
        if X.shape[0]:
            _accumulate(self, X, Y, sample_weight, device=self.device)
        return self

    def to(self, device: torch.device | str) -> Self:
        """A copy on ``device``."""
        dev = torch.device(device)
        values = {
            f.name: (v.to(dev) if isinstance(v, torch.Tensor) else v)
            for f in fields(self)  # type: ignore[arg-type]
            for v in [getattr(self, f.name)]
        }
        return type(self)(**values)

    def reshifted(self, shift_x: torch.Tensor, shift_y: torch.Tensor) -> Self:
        raise NotImplementedError

    def _combined(self, other: Self) -> Self:
        raise NotImplementedError

    def merge(self, other: Self) -> Self:
        """The statistics of the union of both row sets (a new object, about ``self``'s
        shift)."""
        if (self.n_features, self.n_targets) != (other.n_features, other.n_targets):
            raise ValueError(
                f"cannot merge statistics of {self.n_features} feature(s)/{self.n_targets} "
                f"target(s) with {other.n_features}/{other.n_targets}"
            )
        if other.n_samples == 0:
            return self.reshifted(self.shift_x, self.shift_y)
        if self.n_samples == 0:
            return other.reshifted(other.shift_x, other.shift_y)
        other = other.to(self.device)
        if not (
            torch.equal(other.shift_x, self.shift_x) and torch.equal(other.shift_y, self.shift_y)
        ):
            other = other.reshifted(self.shift_x, self.shift_y)
        return self._combined(other)

    __add__ = merge


@dataclass
class GramStats(_ShiftedMoments):
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
    def _tensor_shapes(cls, d: int, k: int) -> list[tuple[int, ...]]:
        return [(d,), (k,), (d, d), (d, k), (k, k)]

    chunk_rows = staticmethod(gram_chunk_rows)

    def fix_shift(self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None) -> None:
        mean_x, std_x, W = weighted_first_moments(X, w)
        if W <= 0:
            return
        mean_y, _, _ = weighted_first_moments(Y, w)
        keep = mean_x.abs() > std_x
        self.shift_x = torch.where(keep, mean_x, torch.zeros_like(mean_x)).to(self.device)
        self.shift_y = mean_y.to(self.device)
        self.shift_fixed = True

    def update_chunk(
        self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None, buf: Any
    ) -> Any:
        m = X.shape[0]
        self.n_samples += m
        if self.device.type == "cpu" and use_numpy(X, Y, w):
            return self._update_chunk_numpy(X, Y, w, buf)
        dev = self.device
        A = X.to(device=dev, dtype=torch.float64)
        if bool(self.shift_x.any()):
            A = A - self.shift_x
        Z = torch.empty(m, 1 + self.n_targets, dtype=torch.float64, device=dev)
        torch.sub(f64(Y, dev), self.shift_y, out=Z[:, 1:])
        if w is None:
            Z[:, 0] = 1.0
            self.weight_sum += m
        else:
            wd = f64(w, dev)
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
            column_major = Xn.strides[0] < Xn.strides[1]  # X's layout: no transposing copy
            if buf is None or buf.shape != (m, d) or buf.flags.f_contiguous != column_major:
                buf = np.empty((d, m)).T if column_major else np.empty((m, d))
            A = buf
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
        if d <= _GRAM_TEMPORARY_COLUMNS:
            xtx += A.T @ A  # NumPy dispatches A.T @ A to BLAS syrk (half the flops of gemm)
        else:  # no d x d temporary
            add_gram_inplace(xtx, A)
        AZ = A.T @ Z
        self.sum_x.numpy()[:] += AZ[:, 0]
        self.xty.numpy()[:] += AZ[:, 1:]
        ZZ = Z.T @ Z
        self.sum_y.numpy()[:] += ZZ[0, 1:]
        self.yty.numpy()[:] += ZZ[1:, 1:]
        return buf

    def reshifted(self, shift_x: torch.Tensor, shift_y: torch.Tensor) -> GramStats:
        r"""The same statistics about another shift (exact algebra).

        With :math:`\delta = c_{\text{old}} - c_{\text{new}}`,
        :math:`\sum w (u+\delta)(u+\delta)^\top = S_{uu} + s\delta^\top + \delta s^\top
        + W\delta\delta^\top`, and likewise for the other moments.
        """
        dev = self.device
        cx, cy = f64(shift_x, dev).reshape(-1), f64(shift_y, dev).reshape(-1)
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

    def _combined(self, o: GramStats) -> GramStats:
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

    def means(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Weighted means of the features and targets."""
        W = self.weight_sum
        if float(W) <= 0:
            return self.shift_x.clone(), self.shift_y.clone()
        return self.shift_x + self.sum_x / W, self.shift_y + self.sum_y / W

    def system(
        self, fit_intercept: bool = True, *, in_place: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        r"""Return ``(G, B, C, raw_diag)``: the (centred if ``fit_intercept``) moments.

        ``G`` is :math:`X^\top W X`, ``B`` is :math:`X^\top W Y`, ``C`` is
        :math:`Y^\top W Y` after centring on the weighted means (or about zero), and
        ``raw_diag`` holds :math:`\sum w x_j^2` (to recognise constant columns).
        With ``in_place``, ``G`` is written over :attr:`xtx` instead of a copy of it
        (these statistics are then spent).
        """
        W = self.weight_sum
        sx, sy, cx, cy = self.sum_x, self.sum_y, self.shift_x, self.shift_y
        raw = torch.diagonal(self.xtx) + 2 * cx * sx + W * cx * cx
        G = self.xtx if in_place else self.xtx.clone()  # rank-one updates in place
        if fit_intercept:
            Wd = W if float(W) > 0 else torch.ones_like(W)
            mx, my = sx / Wd, sy / Wd
            G.addr_(sx, mx, alpha=-1)
            B = self.xty - torch.outer(sx, my)
            C = self.yty - torch.outer(sy, my)
        else:
            G.addr_(sx, cx).addr_(cx, sx).addr_(W * cx, cx)
            B = self.xty + torch.outer(sx, cy) + torch.outer(cx, sy) + W * torch.outer(cx, cy)
            C = self.yty + torch.outer(sy, cy) + torch.outer(cy, sy) + W * torch.outer(cy, cy)
        return symmetrise_(G), B, 0.5 * (C + C.T), raw

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
        sol = solve_gram(self, alpha, fit_intercept, feature_names, allow_fail=False)
        assert sol is not None
        warn_accuracy(sol)
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
        R = sign_normalise(qr_r(half.T))
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


@dataclass
class TSQRStats(_ShiftedMoments):
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
    def _tensor_shapes(cls, d: int, k: int) -> list[tuple[int, ...]]:
        return [(1 + d + k, 1 + d + k)]

    chunk_rows = staticmethod(default_chunk_rows)

    def fix_shift(self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None) -> None:
        mean_x, _, W = weighted_first_moments(X, w)
        if W > 0:
            mean_y, _, _ = weighted_first_moments(Y, w)
            self.shift_x, self.shift_y = mean_x.to(self.device), mean_y.to(self.device)
            self.shift_fixed = True

    @property
    def n_columns(self) -> int:
        return 1 + self.n_features + self.n_targets

    def update_chunk(
        self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None, buf: Any
    ) -> Any:
        m, d = X.shape
        self.n_samples += m
        p = self.n_columns
        if self.device.type == "cpu" and use_numpy(X, Y, w):
            if buf is None or buf.shape[0] < m:
                buf = np.empty((max(m, default_chunk_rows(p)), p))
            C = buf[:m]
            C[:, 0] = 1.0
            np.subtract(X.numpy(), self.shift_x.numpy(), out=C[:, 1 : 1 + d])
            np.subtract(as_2d(Y).numpy(), self.shift_y.numpy(), out=C[:, 1 + d :])
            if w is None:
                self.weight_sum += m
            else:
                wn = w.numpy().astype(np.float64, copy=False)
                C *= np.sqrt(wn)[:, None]
                self.weight_sum += float(wn.sum())
            R = np.asfortranarray(self.r.numpy(), dtype=np.float64)
            self.r = torch.from_numpy(fold_rows_numpy(R, C))
        else:
            dev = self.device
            M = torch.empty(m, p, dtype=torch.float64, device=dev)
            M[:, 0] = 1.0
            torch.sub(f64(X, dev), self.shift_x, out=M[:, 1 : 1 + d])
            torch.sub(f64(Y, dev), self.shift_y, out=M[:, 1 + d :])
            if w is not None:
                wd = f64(w, dev)
                M *= wd.sqrt()[:, None]
                self.weight_sum += wd.sum()
            else:
                self.weight_sum += m
            self.r = qr_r(torch.cat([self.r, qr_r(M)]))
        return buf

    def reshifted(self, shift_x: torch.Tensor, shift_y: torch.Tensor) -> TSQRStats:
        """The same factor about another shift: column j gains ``delta_j`` times column 0."""
        dev = self.device
        cx, cy = f64(shift_x, dev).reshape(-1), f64(shift_y, dev).reshape(-1)
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

    def _combined(self, o: TSQRStats) -> TSQRStats:
        if self.device.type == "cpu":
            folded = fold_triangle_numpy(
                np.array(self.r.numpy(), dtype=np.float64, order="F"),  # self is not changed
                np.asfortranarray(np.triu(o.r.numpy()), dtype=np.float64),
                self.n_columns,
            )
            R = sign_normalise(torch.from_numpy(folded))
        else:
            R = sign_normalise(qr_r(torch.cat([self.r, o.r])))
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
        sol = solve_tsqr(self, alpha, fit_intercept, method, feature_names)
        warn_accuracy(sol)
        return sol


def _accumulate(
    stats: M,
    X: torch.Tensor,
    Y: torch.Tensor,
    sample_weight: torch.Tensor | None,
    *,
    device: torch.device | str | None = None,
    chunk_rows: int | None = None,
) -> M:
    """``stats`` updated in place with the statistics of the rows ``X, Y``: the rows are split into
    one contiguous block per thread, each accumulated chunk by chunk about ``stats``' shift
    (fixed from the first chunk if it is not yet), then merged. Rows that make one block
    are accumulated into ``stats`` itself, in place: no ``d x d`` statistics are created
    and merged for each chunk of a stream."""
    Y = as_2d(Y)
    n, d = X.shape
    dev = torch.device(device) if device is not None else X.device
    rows = chunk_rows or stats.chunk_rows(1 + d + Y.shape[1])
    if n == 0:
        return stats
    if not stats.shift_fixed:
        stats.fix_shift(X[:rows], Y[:rows], None if sample_weight is None else sample_weight[:rows])

    def into(part: M, lo: int, hi: int) -> M:
        buf = None
        for start in range(lo, hi, rows):
            stop = min(hi, start + rows)
            w = None if sample_weight is None else sample_weight[start:stop]
            buf = part.update_chunk(X[start:stop], Y[start:stop], w, buf)
        return part

    def run(lo: int, hi: int) -> M:
        part = type(stats).zeros(
            d, Y.shape[1], device=dev, shift_x=stats.shift_x, shift_y=stats.shift_y
        )
        return into(part, lo, hi)

    # many columns: BLAS spreads each chunk over the threads; blocks of rows would each
    # need d x d statistics of their own, merged
    workers = 1 if d >= _GRAM_TEMPORARY_COLUMNS else n_workers(X, dev)
    blocks = row_blocks(n, rows, workers)
    if len(blocks) == 1 and stats.device == dev:
        return into(stats, *blocks[0])
    total = stats
    for part in parallel(run, blocks):
        total = total.merge(part)
    stats.__dict__.update(total.__dict__)
    return stats


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
    Statistics given as ``stats`` are updated in place (and returned).

    Examples
    --------
    >>> X = torch.arange(12, dtype=torch.float64).reshape(6, 2)
    >>> gram_pass(X, X[:, 0], chunk_rows=2).n_samples
    6
    """
    dev = torch.device(device) if device is not None else X.device
    if stats is None:
        stats = GramStats.zeros(X.shape[1], as_2d(Y).shape[1], device=dev)
    return _accumulate(stats, X, Y, sample_weight, device=dev, chunk_rows=chunk_rows)


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

    Statistics given as ``stats`` are updated in place (and returned).

    Examples
    --------
    >>> X = torch.arange(12, dtype=torch.float64).reshape(6, 2)
    >>> tsqr_pass(X, X[:, 0], chunk_rows=2).r.shape
    torch.Size([4, 4])
    """
    dev = torch.device(device) if device is not None else X.device
    if stats is None:
        stats = TSQRStats.zeros(X.shape[1], as_2d(Y).shape[1], device=dev)
    return _accumulate(stats, X, Y, sample_weight, device=dev, chunk_rows=chunk_rows)
