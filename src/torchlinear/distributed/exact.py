"""Exact least squares over the rows of every rank: :func:`solve_exact` with
:data:`~torchlinear.distributed.collectives.RANKS` as its combine hook."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from torchlinear._validation import check_finite, check_positive_int, check_sample_weight
from torchlinear.data.sharding import shard_source
from torchlinear.distributed.collectives import RANKS
from torchlinear.distributed.group import world_size
from torchlinear.exact import LOCAL, LstsqSolution, default_chunk_rows, solve_exact
from torchlinear.exact.driver import Chunk

__all__ = ["fit_exact_distributed", "local_stream"]


def _as_tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        arr = np.asarray(value)
        if not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
            raise ValueError(f"{name} must be numeric, got values of type {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_complex():
        raise ValueError(f"{name} must be real-valued")
    return t if t.is_floating_point() else t.to(torch.float64)


def _weights(values: Any, n: int) -> torch.Tensor | None:
    """A rank's weights (one rank's may all be zero: only the total must not)."""
    if values is None:
        return None
    return check_sample_weight(_as_tensor(values, "sample_weight"), n, allow_zero_sum=True)


def _checked_chunk(item: Any, checked: bool) -> Chunk:
    if not isinstance(item, list | tuple) or len(item) not in (2, 3):
        raise ValueError("each chunk must be (X, y) or (X, y, sample_weight)")
    X = _as_tensor(item[0], "X")
    y = _as_tensor(item[1], "y")
    y = y.reshape(-1, 1) if y.ndim == 1 else y
    if X.ndim != 2 or y.ndim != 2 or len(y) != len(X):
        raise ValueError(
            f"a chunk has X of shape {tuple(X.shape)} and y of shape {tuple(y.shape)}; "
            "X must be 2-D with one target row per row of X"
        )
    w = None if len(item) == 2 else _weights(item[2], len(X))
    if not checked:
        check_finite("X", X)
        check_finite("y", y)
    return X, y, w


def local_stream(
    data: Any, sample_weight: Any = None, chunk_rows: int | None = None
) -> tuple[Callable[[], Iterable[Chunk]], tuple[int, int] | None, list[str] | None]:
    """This rank's rows as a validated chunk stream: ``(stream, (d, k) or None, names)``.

    ``data`` is ``(X, y)``/``(X, y, w)`` arrays, a
    :class:`~torchlinear.data.tabular.TabularSource` (already restricted to this rank),
    or a callable returning a fresh iterator of chunks.

    Examples
    --------
    >>> X, y = torch.zeros(5, 2), torch.ones(5)
    >>> stream, shape, names = local_stream((X, y), chunk_rows=2)
    >>> [len(c[0]) for c in stream()], shape
    ([2, 2, 1], (2, 1))
    """
    if hasattr(data, "iter_chunks") and hasattr(data, "feature_names"):
        if sample_weight is not None:
            raise ValueError("sample_weight cannot be given with a file source")
        if getattr(data, "task", "regression") != "regression" or data.target is None:
            raise ValueError("an exact fit needs a regression source with a target column")
        names = list(data.feature_names)

        def file_chunks() -> Iterator[Chunk]:
            for chunk in data.iter_chunks():  # (X, y), or (X, y, w) with a weight column
                yield _checked_chunk(chunk, checked=True)

        return file_chunks, (len(names), 1), names
    if isinstance(data, list | tuple) and len(data) in (2, 3):
        if len(data) == 3 and sample_weight is not None:
            raise ValueError("give sample_weight either in data or as an argument, not both")
        X = _as_tensor(data[0], "X")
        y = _as_tensor(data[1], "y")
        if X.ndim != 2:
            raise ValueError(
                f"X must be 2-D (n_samples, n_features), got shape {tuple(X.shape)}; a "
                "rank without rows passes shape (0, n_features)"
            )
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if Y.ndim != 2 or len(Y) != len(X):
            raise ValueError(f"y has shape {tuple(y.shape)} but X has {len(X)} rows")
        w = _weights(data[2] if len(data) == 3 else sample_weight, len(X))
        check_finite("X", X)
        check_finite("y", Y)
        rows = chunk_rows or default_chunk_rows(X.shape[1] + Y.shape[1] + 1)

        def array_chunks() -> Iterator[Chunk]:
            for start in range(0, len(X), rows):
                sl = slice(start, start + rows)
                yield X[sl], Y[sl], None if w is None else w[sl]

        return array_chunks, (X.shape[1], Y.shape[1]), None
    if callable(data):
        if sample_weight is not None:
            raise ValueError("sample_weight cannot be given with a chunk source")

        def user_chunks() -> Iterator[Chunk]:
            for item in data():
                yield _checked_chunk(item, checked=False)

        return user_chunks, None, None
    raise ValueError(
        "data must be this rank's (X, y) or (X, y, sample_weight), a TabularSource, "
        f"or a callable returning an iterator of chunks; got {type(data).__name__}"
    )


def fit_exact_distributed(
    data: Any,
    *,
    sample_weight: Any = None,
    alpha: float = 0.0,
    fit_intercept: bool = True,
    solver: str = "auto",
    shard: bool = True,
    chunk_rows: int | None = None,
    device: str | torch.device | None = None,
    feature_names: Sequence[str] | None = None,
    refine: bool = True,
) -> LstsqSolution:
    r"""Exact weighted least squares / ridge over the rows of every rank.

    Each rank passes over its own rows, accumulating float64 sufficient statistics; the
    ranks combine them (one all-reduce of the Gram statistics, or an all-gather of the
    TSQR factors on the ill-conditioned path) and every rank solves the same system, so all
    ranks return the same solution as the single-process
    :func:`torchlinear.exact.lstsq` of all the rows: both are
    :func:`torchlinear.exact.solve_exact`, with another combine hook. Refinement, when
    the error estimate asks for it, makes residual passes (one all-reduce each), or — for
    small problems — gathers the rows and refines them in extended precision exactly as
    in one process. Without a process group this is simply a streamed exact fit.

    Parameters
    ----------
    data : (X, y), (X, y, sample_weight), TabularSource or callable
        Arrays or tensors are **this rank's rows** (split full data with
        ``X[shard_rows(len(X))]``); a rank without rows passes ``X`` of shape
        ``(0, n_features)``. A :class:`~torchlinear.data.tabular.TabularSource` describes
        the whole file and each rank reads its part (see ``shard``). A callable returns a
        fresh iterator of this rank's ``(X, y)`` / ``(X, y, w)`` chunks on every call.
    sample_weight : array-like, optional
        This rank's non-negative weights (with in-memory ``(X, y)``).
    alpha : float, default 0
        Ridge penalty on the coefficients (never on the intercept).
    fit_intercept : bool, default True
    solver : {"auto", "cholesky", "qr", "svd"}, default "auto"
    shard : bool, default True
        For a TabularSource: read only this rank's part (:func:`shard_source`). With
        ``False`` the source is read whole, as given (e.g. already restricted).
    chunk_rows : int, optional
        Rows per chunk for in-memory data.
    device : str or torch.device, optional
        Where to accumulate (default: the CPU).
    feature_names : sequence of str, optional
        Column names for warnings (a TabularSource supplies its own).
    refine : bool, default True
        Allow refinement passes when the error estimate asks for them.

    Returns
    -------
    LstsqSolution
        The same on every rank.

    Raises
    ------
    ValueError
        On every rank, when any rank's data is invalid (that rank raises its own error,
        the others a ``RankFailedError`` naming it) or the ranks disagree on the columns.

    Examples
    --------
    >>> from torchlinear.data.sharding import shard_rows
    >>> X = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 3.0]], dtype=torch.float64)
    >>> y = X @ torch.tensor([2.0, -1.0], dtype=torch.float64) + 0.5
    >>> part = shard_rows(len(X))  # this rank's rows (all of them in one process)
    >>> sol = fit_exact_distributed((X[part], y[part]))
    >>> [round(v, 10) for v in sol.coef[:, 0].tolist()], round(float(sol.intercept[0]), 10)
    ([2.0, -1.0], 0.5)
    """
    combine = RANKS if world_size() > 1 else LOCAL
    if chunk_rows is not None:
        chunk_rows = check_positive_int("chunk_rows", chunk_rows)
    try:  # a failure on one rank is shared with the others before anyone waits for it
        if shard and hasattr(data, "iter_chunks") and hasattr(data, "restrict"):
            data = shard_source(data)
        stream, shape, names = local_stream(data, sample_weight, chunk_rows)
    except Exception as exc:
        combine.agree(exc, None)
        raise  # unreachable: agree re-raises this rank's error
    return solve_exact(
        stream,
        alpha=alpha,
        fit_intercept=fit_intercept,
        solver=solver,  # type: ignore[arg-type]
        device=device,
        feature_names=feature_names if feature_names is not None else names,
        refine_solution=refine,
        combine=combine,
        shape=shape,
    )
