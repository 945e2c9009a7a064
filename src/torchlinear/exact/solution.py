"""Solving the statistics: Cholesky, triangular or SVD solves, and the solution they give
(the rank and accuracy reports are :mod:`torchlinear.exact.diagnostics`'s)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, cast

import torch

from torchlinear._schema import Bool, Int, ListOf, Num, Record, Str
from torchlinear._threads import small_linalg
from torchlinear.exact._linalg import (
    EPS,
    LANCZOS_ABOVE,
    all_finite,
    cholesky_inplace,
    cholesky_solver,
    collinear_columns,
    min_norm,
    qr_r,
    rank_rtol,
    robust_svd,
    rounding_svd,
    scaled,
    sign_normalise,
    top_eigenvalue,
)
from torchlinear.exact.diagnostics import constant_columns, warn_rank

if TYPE_CHECKING:
    from torchlinear.exact.stats import GramStats, TSQRStats

__all__ = [
    "POLISH_MAX_ELEMENTS",
    "FactorSource",
    "RCOND_CHOLESKY",
    "LstsqSolution",
    "solve_gram",
    "solve_rows",
    "solve_tsqr",
]

#: Cholesky is used when ``lambda_min / lambda_max`` of the centred, scaled Gram is at least this.
RCOND_CHOLESKY: float = 1e-10
#: Problems with at most this many values (rows x (features + targets)) get the
#: extended-precision refinement when they need it; it keeps a thin Q of their size.
POLISH_MAX_ELEMENTS: int = 500_000
#: Estimated relative error above which the solution is refined.
REFINE_ABOVE: float = 1e-13

_FACTOR_KINDS = ("", "chol", "tri", "eig")  # no factor; Cholesky; triangular R; eigenvectors
_STATE_TENSORS = ("coef", "intercept", "rss", "tss", "mean_x", "mean_y")

Solver = Literal["auto", "cholesky", "qr", "svd"]
_SOLVERS = ("auto", "cholesky", "qr", "svd")


class FactorSource(Protocol):
    """Where a solution's factor that stayed in a model file is read from
    (:class:`torchlinear.io.DeferredTensors`): the shapes of its tensors, and ``read``,
    which passes them, by name, to a function and returns what it returns."""

    shapes: Mapping[str, tuple[int, ...]]

    def read(self, use: Callable[[dict[str, torch.Tensor]], Any]) -> Any: ...


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
    centred_tss, constant_coef : torch.Tensor or None
        For an unpenalised fit without an intercept whose columns span the constant (a
        column of ones, or every level of a categorical column), which has an intercept
        after all (statsmodels' implicit constant): the ``(k,)`` total sums of squares
        about the weighted means, and the ``(d,)`` coefficients ``b`` with ``X b = 1``.
        ``None`` otherwise.
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
    centred_tss: torch.Tensor | None = None
    constant_coef: torch.Tensor | None = None
    _scale: torch.Tensor | None = field(default=None, repr=False)
    _factor_kind: str = field(default="", repr=False)
    _factor: torch.Tensor | None = field(default=None, repr=False)
    _factor_s: torch.Tensor | None = field(default=None, repr=False)
    # where a factor left in a model file is read from on first use (from_state)
    _factor_source: FactorSource | None = field(default=None, repr=False, compare=False)

    def to_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """``(tensors, scalars)``: everything, including the stored factor, for a file."""
        self._stored_factor()
        tensors: dict[str, torch.Tensor] = {}
        scalars: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "_factor_source":
                continue
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                tensors[f.name] = value.detach().cpu().contiguous()
            elif isinstance(value, tuple):
                scalars[f.name] = [int(v) for v in value]
            elif value is not None:
                scalars[f.name] = value
        return tensors, scalars

    #: What :meth:`to_state`'s scalars are (checked before :meth:`from_state` reads them).
    STATE: ClassVar[Record] = Record(
        {
            "solver": Str(("cholesky", "qr", "svd")),
            "cond": Num(low=0, nan=True),
            "rank": Int(low=0),
            "n_samples": Int(low=1),
            "weight_sum": Num(low=0, above=True, finite=True),
            "fit_intercept": Bool(),
            "alpha": Num(low=0, finite=True),
            "est_rel_error": Num(nan=True),
            "refinement_steps": Int(low=0),
            "collinear": ListOf(Int(low=0)),
            "n_passes": Int(low=1),
            "_factor_kind": Str(_FACTOR_KINDS),
        },
        optional=("refinement_steps", "collinear", "n_passes", "_factor_kind"),
    )

    @classmethod
    def from_state(
        cls,
        tensors: Mapping[str, torch.Tensor],
        scalars: Mapping[str, Any],
        *,
        factor_source: FactorSource | None = None,
    ) -> LstsqSolution:
        """The solution :meth:`to_state` described (tensors as float64 on the CPU).

        With ``factor_source``, the factor (``_factor``, ``_factor_s``) is not among
        ``tensors``: its shapes are checked now, and it is read from the source, and
        checked, when :meth:`centred_inverse` or :meth:`centred_solve` first needs it.

        Raises
        ------
        ValueError
            When the tensors' shapes, the rank, the columns named collinear or the stored
            factor do not fit together (the scalars' types are :data:`STATE`'s to check).
        """
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "_factor_source":
                continue
            if f.name in tensors:
                kwargs[f.name] = tensors[f.name].to(torch.float64)
            elif f.name in scalars:
                value = scalars[f.name]
                kwargs[f.name] = tuple(value) if f.name == "collinear" else value
        missing = [n for n in _STATE_TENSORS if n not in kwargs]
        if missing:
            raise ValueError(f"the stored solution has no {', '.join(missing)}")
        pending = {} if factor_source is None else dict(factor_source.shapes)
        solution = cls(**kwargs, _factor_source=factor_source if pending else None)
        solution._check_shapes(pending)
        return solution

    def _check_shapes(self, pending: Mapping[str, tuple[int, ...]] | None = None) -> None:
        """Refuse a solution whose parts describe different problems (``pending``: the
        shapes of the parts of the factor still in the file)."""
        if self.coef.ndim != 2:
            raise ValueError(f"the stored coef has shape {list(self.coef.shape)}, not (d, k)")
        d, k = self.coef.shape
        shapes: dict[str, tuple[int, ...]] = {"intercept": (k,), "rss": (k,), "tss": (k,)}
        shapes.update(mean_x=(d,), mean_y=(k,))
        if (self.centred_tss is None) != (self.constant_coef is None):
            raise ValueError("the stored solution has only one of centred_tss, constant_coef")
        if self.centred_tss is not None:
            shapes.update(centred_tss=(k,), constant_coef=(d,))
        kind = self._factor_kind
        if kind:
            shapes["_scale"] = (d,)
        rank = self.rank if kind == "eig" else d
        if kind in ("chol", "tri", "eig"):
            shapes["_factor"] = (d, rank)
        if kind == "eig":
            shapes["_factor_s"] = (rank,)
        got = {
            n: None if getattr(self, n) is None else tuple(getattr(self, n).shape) for n in shapes
        }
        got.update((n, tuple(v)) for n, v in (pending or {}).items() if n in shapes)
        for name, shape in shapes.items():
            if got[name] != shape:
                seen = "none" if got[name] is None else list(got[name] or ())
                raise ValueError(
                    f"the stored {name.lstrip('_')} has shape {seen}, not {list(shape)}"
                )
        for name in ("_factor", "_factor_s"):
            there = getattr(self, name) is not None or name in (pending or {})
            if there and name not in shapes:
                raise ValueError(f"the stored {name.lstrip('_')} does not fit factor kind {kind!r}")
        self._check_pivots()
        if self.rank > d or any(j >= d for j in self.collinear):
            raise ValueError(
                f"the stored solution has rank {self.rank} or collinear columns "
                f"{list(self.collinear)} for {d} columns"
            )

    def _check_pivots(self) -> None:
        kind, factor, s = self._factor_kind, self._factor, self._factor_s
        pivots = s if kind == "eig" else (None if factor is None else factor.diagonal())
        if pivots is not None and not bool((pivots.abs() > 0).all()):
            raise ValueError(f"the stored {kind!r} factor is singular")

    def _stored_factor(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The factor and its singular values, read from the model file on first use."""
        source = self._factor_source
        if source is not None:
            source.read(self._attach_factor)
            self._factor_source = None
        return self._factor, self._factor_s

    def _attach_factor(self, tensors: Mapping[str, torch.Tensor]) -> None:
        factor, s = tensors.get("_factor"), tensors.get("_factor_s")
        self._factor = None if factor is None else factor.to(torch.float64)
        self._factor_s = None if s is None else s.to(torch.float64)
        try:
            self._check_shapes()
        except ValueError:
            self._factor = self._factor_s = None
            raise

    def __getstate__(self) -> dict[str, Any]:
        self._stored_factor()  # a copy holds its factor, not a path to a file
        return dict(self.__dict__)

    @property
    def n_params(self) -> int:
        return self.coef.shape[0] + int(self.fit_intercept)

    def coefficient_error(self) -> float:
        r"""An estimate of the largest relative error of one coefficient or the intercept.

        :attr:`est_rel_error` bounds the error of all the coefficients of the centred,
        column-scaled problem together. One coefficient can be off by far more, relative
        to itself: that of a column which explains little of the target next to the
        others, or the intercept of columns whose means are far from zero. This carries
        the bound back to each coefficient in the data's units and returns the worst.

        Examples
        --------
        >>> from torchlinear.exact import lstsq
        >>> X = torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> X = X * torch.tensor([1e-4, 1e4], dtype=torch.float64)
        >>> sol = lstsq(X, X.sum(1), refine=False)
        >>> sol.coefficient_error() > 1e3 * sol.est_rel_error
        True
        """
        est = self.est_rel_error
        if self._scale is None or not math.isfinite(est) or self.coef.numel() == 0:
            return est
        coef, D = self.coef.cpu(), self._scale.cpu().reshape(-1, 1)
        per = est * (coef * D).norm(dim=0) / D  # a bound on each coefficient's error
        tiny = torch.finfo(torch.float64).tiny
        worst = float((per / coef.abs().clamp_min(tiny)).max())
        if self.fit_intercept:
            shift = self.mean_x.cpu().abs() @ per  # the intercept is mean_y - mean_x @ coef
            worst = max(worst, float((shift / self.intercept.cpu().abs().clamp_min(tiny)).max()))
        return max(est, worst)

    def centred_inverse(self) -> torch.Tensor:
        r""":math:`(X_c^\top W X_c + \alpha I)^{+}` (``d x d``), from the stored factor."""
        with small_linalg(self.coef.shape[0]):
            return self._centred_inverse()

    def centred_solve(self, B: torch.Tensor) -> torch.Tensor:
        r""":math:`(X_c^\top W X_c + \alpha I)^{+} B` (``d x k``) from the stored factor,
        without forming the ``d x d`` inverse (two triangular solves, ``O(d^2 k)``, for a
        Cholesky or QR factor).

        Examples
        --------
        >>> from torchlinear.exact import lstsq
        >>> X = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]], dtype=torch.float64)
        >>> sol = lstsq(X, X[:, 0])
        >>> B = torch.ones(2, 1, dtype=torch.float64)
        >>> bool(torch.allclose(sol.centred_solve(B), sol.centred_inverse() @ B))
        True
        """
        F = self._stored_factor()[0]
        if self._factor_kind not in ("chol", "tri") or F is None or self._scale is None:
            return self.centred_inverse() @ B
        D = self._scale[:, None]
        with small_linalg(self.coef.shape[0]):
            if self._factor_kind == "chol":  # G_s = L L^T
                return _cholesky_solve(F, B / D) / D
            z = torch.linalg.solve_triangular(F.T, B / D, upper=False)  # G_s = R^T R
            return cast(torch.Tensor, torch.linalg.solve_triangular(F, z, upper=True) / D)

    def _centred_inverse(self) -> torch.Tensor:
        F, factor_s = self._stored_factor()
        if F is None or self._scale is None:
            raise ValueError(
                "this solution keeps no factor of the centred Gram matrix (a penalized fit "
                "with fewer rows than columns); refit with alpha=0 for the covariance"
            )
        if self._factor_kind == "chol":
            # L stored row by row is U = L^T stored column by column, as LAPACK wants it
            upper = F.is_contiguous()
            Gs_inv = torch.cholesky_inverse(F.T if upper else F, upper=upper)
        elif self._factor_kind == "tri":
            eye = torch.eye(F.shape[0], dtype=F.dtype)
            Ri = torch.linalg.solve_triangular(F, eye, upper=True)
            Gs_inv = Ri @ Ri.T
        else:
            # the pseudo-inverse in the user's units: with D G_s D = B S^2 B^T, B = D V_r
            # (full column rank) and B = Q T, it is Q (T S^2 T^T)^{-1} Q^T
            assert factor_s is not None
            B = self._scale[:, None] * F
            Q, T = torch.linalg.qr(B)
            Ts = T * factor_s
            Ti = torch.linalg.solve_triangular(Ts, Q.T, upper=True)
            return cast(torch.Tensor, Ti.T @ Ti)
        return scaled(Gs_inv, self._scale, out=Gs_inv)


def _cholesky_solve(L: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``(L L^T)^{-1} B`` for a lower-triangular ``L``, by two triangular solves."""
    z = torch.linalg.solve_triangular(L, B, upper=False)
    return cast(torch.Tensor, torch.linalg.solve_triangular(L.T, z, upper=True))


def _finish(
    coef: torch.Tensor,
    mean_x: torch.Tensor,
    mean_y: torch.Tensor,
    fit_intercept: bool,
) -> torch.Tensor:
    if fit_intercept:
        return mean_y - mean_x @ coef
    return torch.zeros(coef.shape[1], dtype=torch.float64, device=coef.device)


def solve_gram(
    stats: GramStats,
    alpha: float,
    fit_intercept: bool,
    names: Sequence[str] | None,
    allow_fail: bool,
    consume: bool = False,
) -> LstsqSolution | None:
    """Cholesky solve; ``None`` when ill-conditioned and ``allow_fail`` (caller falls back).

    With ``consume``, the statistics' ``d x d`` moments are centred in place (one ``d x d``
    matrix less): only their means and vectors remain usable."""
    with small_linalg(stats.n_features):
        return _solve_gram_impl(stats, alpha, fit_intercept, names, allow_fail, consume)


def _solve_gram_impl(
    stats: GramStats,
    alpha: float,
    fit_intercept: bool,
    names: Sequence[str] | None,
    allow_fail: bool,
    consume: bool,
) -> LstsqSolution | None:
    W = float(stats.weight_sum)
    if W <= 0:
        raise ValueError("all sample weights are zero; give at least one row a positive weight")
    if not all_finite(stats.xtx, stats.xty, stats.yty, stats.sum_x, stats.sum_y):
        raise ValueError(
            "the statistics hold NaN/inf: a chunk contained NaN/inf or values whose squares "
            "overflow float64"
        )
    d, k = stats.n_features, stats.n_targets
    mean_x, mean_y = (t.cpu() for t in stats.means())
    data_mean_x = mean_x
    # about the means, from the sums about the shift (the tss of an implicit intercept)
    centred_tss = (torch.diagonal(stats.yty) - stats.sum_y**2 / W).cpu()
    G, B, C, raw = stats.system(fit_intercept, in_place=consume)
    G, B, C, raw = (t.cpu() for t in (G, B, C, raw))
    diag = torch.diagonal(G).clamp_min(0)
    constant = constant_columns(diag, raw, fit_intercept, mean_x, names, W)
    D = torch.where(constant, torch.ones_like(diag), diag.sqrt())
    Bs = B / D[:, None]
    if bool(constant.any()):
        Bs[constant, :] = 0

    def scaled_system() -> torch.Tensor:
        Gs = scaled(G, D)
        if bool(constant.any()):
            Gs[constant, :] = 0
            Gs[:, constant] = 0
        if alpha > 0:
            Gs.diagonal().add_(alpha / (D * D))
        return Gs

    Gs: torch.Tensor | None = scaled_system()
    assert Gs is not None
    extremes = None
    if d > LANCZOS_ABOVE:  # large: factorised in place, no full eigendecomposition
        top = top_eigenvalue(Gs.numpy().dot, d)
        L, info = cholesky_inplace(Gs)
        Gs = None
        if info == 0 and top is not None:
            inverse_top = top_eigenvalue(cholesky_solver(L), d)
            extremes = None if inverse_top is None else (1.0 / inverse_top, top)
    else:
        U, info_t = torch.linalg.cholesky_ex(Gs, upper=True)
        L, info = U.T, int(info_t)  # row by row: the factor is saved without a copy
    if extremes is None and info == 0:  # (a failed factorisation needs no condition number)
        Gs = scaled_system() if Gs is None else Gs
        evals = torch.linalg.eigvalsh(Gs)
        extremes = (float(evals[0]), float(evals[-1])) if d else (1.0, 1.0)
    lmin, lmax = extremes if extremes is not None else (0.0, 1.0)
    rcond = lmin / lmax if lmax > 0 else 0.0
    if not fit_intercept:
        mean_x, mean_y = torch.zeros_like(mean_x), torch.zeros_like(mean_y)
    ok = info == 0 and rcond >= RCOND_CHOLESKY
    lost = None
    if ok and alpha == 0 and fit_intercept:  # collinear to the rounding of the values?
        tol = rank_rtol(d + 1) * math.sqrt(lmax)
        lost = rounding_svd(L.T, D, (diag, raw), constant, (tol, math.sqrt(lmin)), d)
        ok = lost is None
    collinear: tuple[int, ...] = ()
    factor: tuple[str, torch.Tensor, torch.Tensor | None]
    if not ok and allow_fail:
        return None
    if lost is not None:
        del L
        _, s, V, h, rank = lost
        D = D / h
        c = (V.T @ (B / D[:, None]))[:rank] / s[:rank, None]
        coef = min_norm(V, s, torch.cat([c, torch.zeros(d - rank, k, dtype=c.dtype)]), D, rank)
        cond, solver, est = math.sqrt(1.0 / rcond), "cholesky", math.nan
        collinear = collinear_columns(V, rank, h)
        warn_rank(d, rank, collinear, constant, stats.n_samples, fit_intercept, names)
        factor = ("eig", V[:, :rank].clone(), s[:rank].clone())
    elif ok:
        coef = _cholesky_solve(L, Bs) / D[:, None]
        cond = math.sqrt(1.0 / rcond)
        rank = d
        solver = "cholesky"
        est = EPS / rcond * max(1, d) ** 0.5
        factor = ("chol", L, None)
    else:
        del L
        evals, V = torch.linalg.eigh(scaled_system() if Gs is None else Gs)
        evals, V = evals.flip(0), V.flip(1)
        s = evals.clamp_min(0).sqrt()
        tol = math.sqrt(max(d, 1) * EPS) * float(s[0]) if d else 0.0
        rank = int((s > tol).sum())
        c = (V.T @ Bs)[:rank] / s[:rank, None]
        coef = min_norm(V, s, torch.cat([c, torch.zeros(d - rank, k, dtype=c.dtype)]), D, rank)
        cond = float(s[0] / s[-1]) if float(s[-1]) > 0 else math.inf
        solver = "cholesky"
        collinear = collinear_columns(V, rank)
        est = math.nan if rank < d else EPS * cond * cond
        warn_rank(d, rank, collinear, constant, stats.n_samples, fit_intercept, names, True)
        factor = ("eig", V[:, :rank].clone(), s[:rank].clone())

    intercept = _finish(coef, mean_x, mean_y, fit_intercept)
    rss = torch.diagonal(C - 2 * coef.T @ B + coef.T @ G @ coef).clamp_min(0)
    sol = LstsqSolution(
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
    return _implicit_intercept(sol, data_mean_x, centred_tss)


#: Without an intercept, the columns span the constant when the weighted sum of squares of
#: its residual on them is at most this fraction of the weight sum (rounding: ~eps * cond).
IMPLICIT_CONSTANT_RTOL: float = 1e-9


def _implicit_intercept(
    sol: LstsqSolution, mean_x: torch.Tensor, centred_tss: torch.Tensor
) -> LstsqSolution:
    """``sol`` with its :attr:`~LstsqSolution.centred_tss` when it has no intercept but
    its columns span the constant, and its :attr:`~LstsqSolution.constant_coef`: ``1`` is
    then ``X b`` for ``b = G^+ X^T w``, and the constant's residual
    ``W - (X^T w)^T G^+ (X^T w)`` vanishes (``mean_x``: the columns' weighted means,
    ``G = X^T W X``)."""
    if sol.fit_intercept or sol.alpha != 0 or sol.rank == 0:
        return sol
    s = (sol.weight_sum * mean_x.to(torch.float64)).reshape(-1, 1)
    b = sol.centred_solve(s)
    if sol.weight_sum - float((s * b).sum()) > IMPLICIT_CONSTANT_RTOL * sol.weight_sum:
        return sol
    return replace(sol, centred_tss=centred_tss.clamp_min(0), constant_coef=b[:, 0].clone())


def solve_tsqr(
    stats: TSQRStats,
    alpha: float,
    fit_intercept: bool,
    method: str,
    names: Sequence[str] | None,
) -> LstsqSolution:
    with small_linalg(stats.n_features):
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
    if not all_finite(stats.r):
        raise ValueError(
            "the triangular factor holds NaN/inf: a chunk contained NaN/inf or values whose "
            "squares overflow float64"
        )
    d, k = stats.n_features, stats.n_targets
    R = sign_normalise(stats.r.cpu())
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
        T = sign_normalise(qr_r(shifted[:, 1:]))
        mean_x = torch.zeros(d, dtype=torch.float64)
        mean_y = torch.zeros(k, dtype=torch.float64)
    Rxx, Rxy, Ryy = T[:d, :d], T[:d, d:], T[d:, d:]
    cn2 = (Rxx**2).sum(0)
    mean = cx + R[0, 1 : 1 + d] / sqrtW
    constant = constant_columns(cn2, raw, fit_intercept, mean, names, W)
    D = torch.where(constant, torch.ones_like(cn2), cn2.sqrt())
    Rs = Rxx / D
    Rs[:, constant] = 0
    q = Rxy.clone()
    if alpha > 0:
        aug = torch.zeros(2 * d, d + k, dtype=torch.float64)
        aug[:d, :d] = Rs
        aug[:d, d:] = q
        aug[d:, :d] = torch.diag(math.sqrt(alpha) / D)
        Ta = qr_r(aug)
        Rs, q = Ta[:d, :d], Ta[:d, d:]
    U, s, Vh = robust_svd(Rs)
    V = Vh.T
    smax = float(s[0]) if d else 1.0
    tol = rank_rtol(d + int(fit_intercept)) * smax
    rank = int((s > tol).sum()) if smax > 0 else 0
    cond = float(s[0] / s[-1]) if d and float(s[-1]) > 0 else math.inf
    h = None
    if alpha == 0 and fit_intercept and smax > 0:  # collinear to the rounding of the values?
        smin = float(s[-1]) if rank == d else 0.0
        lost = rounding_svd(Rs, D, (cn2, raw), constant, (tol, smin), rank)
        if lost is not None:
            U, s, V, h, rank = lost
            D = D / h
    collinear: tuple[int, ...] = ()
    factor: tuple[str, torch.Tensor, torch.Tensor | None]
    if method == "qr" and rank == d:
        coef = torch.linalg.solve_triangular(Rs, q, upper=True) / D[:, None]
        solver = "qr"
        factor = ("tri", Rs.clone(), None)
    else:
        c = U.T @ q
        coef = min_norm(V, s, c, D, rank)
        solver = "svd"
        collinear = collinear_columns(V, rank, h)
        warn_rank(d, rank, collinear, constant, stats.n_samples, fit_intercept, names)
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
    sol = LstsqSolution(
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
    # the rows of R below the constant's hold the targets' spread about their means
    return _implicit_intercept(sol, mean, (R[1:, 1 + d :] ** 2).sum(0))


def solve_rows(
    X: torch.Tensor,
    Y: torch.Tensor,
    w: torch.Tensor | None,
    alpha: float,
    fit_intercept: bool,
    names: Sequence[str] | None,
) -> LstsqSolution:
    r"""Few rows, many columns (``n <= d``): the solve from the ``n x n`` side.

    With :math:`A = W^{1/2} X_c` (``n x d``, centred on the weighted means with an
    intercept) and :math:`b = W^{1/2} y_c`, the thin SVD :math:`A = U S V^\top` costs
    :math:`O(n^2 d)` and never forms a ``d x d`` matrix. Without a penalty the coefficients
    are the minimum-norm least-squares solution :math:`A^+ b = V_r S_r^{-1} U_r^\top b`
    (rank ``r``); with ``alpha > 0`` the ridge solution
    :math:`A^\top (A A^\top + \alpha I)^{-1} b = V S (S^2 + \alpha I)^{-1} U^\top b`.

    Examples
    --------
    >>> X = torch.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    >>> y = torch.tensor([[14.0], [2.0]], dtype=torch.float64)
    >>> sol = solve_rows(X, y, None, 0.0, False, None)
    >>> [round(v, 12) for v in sol.coef[:, 0].tolist()]
    [1.0, 2.0, 3.0]
    """
    with small_linalg(X.shape[0]):
        return _solve_rows_impl(X, Y, w, alpha, fit_intercept, names)


def _solve_rows_impl(
    X: torch.Tensor,
    Y: torch.Tensor,
    w: torch.Tensor | None,
    alpha: float,
    fit_intercept: bool,
    names: Sequence[str] | None,
) -> LstsqSolution:
    X = X.to("cpu", torch.float64)
    Y = Y.to("cpu", torch.float64)
    n, d = X.shape
    k = Y.shape[1]
    wt = torch.ones(n, dtype=torch.float64) if w is None else w.to("cpu", torch.float64)
    W = float(wt.sum())
    if W <= 0:
        raise ValueError("all sample weights are zero; give at least one row a positive weight")
    if not all_finite(X, Y, wt):
        raise ValueError("the data holds NaN/inf values; remove or impute them before fitting")
    if fit_intercept:
        mean_x, mean_y = (wt @ X) / W, (wt @ Y) / W
    else:
        mean_x, mean_y = torch.zeros(d, dtype=torch.float64), torch.zeros(k, dtype=torch.float64)
    sw = wt.sqrt()[:, None]
    A = sw * (X - mean_x)
    b = sw * (Y - mean_y)
    raw_sq = ((sw * X) ** 2).sum(0)
    constant = constant_columns((A * A).sum(0), raw_sq, fit_intercept, (wt @ X) / W, names, W)
    A[:, constant] = 0
    U, s, Vh = robust_svd(A)
    m = s.shape[0]
    smax = float(s[0]) if m else 0.0
    rank = int((s > rank_rtol(d + int(fit_intercept)) * smax).sum()) if smax > 0 else 0
    c = U.T @ b
    V = Vh.T
    if alpha > 0:
        coef = V @ (c * (s / (s * s + alpha))[:, None])
        low = alpha + (float(s[-1]) ** 2 if m == d else 0.0)
        cond = math.sqrt((smax**2 + alpha) / low)
        rank = d
        est = EPS * cond
        factor: tuple[str, torch.Tensor | None, torch.Tensor | None] = ("", None, None)
    else:
        coef = V[:, :rank] @ (c[:rank] / s[:rank, None])
        cond = smax / float(s[-1]) if m == d and float(s[-1]) > 0 else math.inf
        est = EPS * cond if rank == d else math.nan
        factor = ("eig", V[:, :rank].clone(), s[:rank].clone())
    warn_rank(d, rank, (), constant, n, fit_intercept, names)
    resid = b - A @ coef
    data_mean_y = (wt @ Y) / W
    sol = LstsqSolution(
        coef=coef,
        intercept=_finish(coef, mean_x, mean_y, fit_intercept),
        solver="svd",
        cond=cond,
        rank=rank,
        n_samples=n,
        weight_sum=W,
        rss=(resid * resid).sum(0),
        tss=(b * b).sum(0),
        mean_x=mean_x,
        mean_y=mean_y,
        fit_intercept=fit_intercept,
        alpha=alpha,
        est_rel_error=est,
        collinear=(),
        _scale=torch.ones(d, dtype=torch.float64),
        _factor_kind=factor[0],
        _factor=factor[1],
        _factor_s=factor[2],
    )
    centred_tss = (wt[:, None] * (Y - data_mean_y) ** 2).sum(0)
    return _implicit_intercept(sol, (wt @ X) / W, centred_tss)
