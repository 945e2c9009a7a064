r"""Lasso and elastic net with ``alpha`` (and ``l1_ratio``) chosen by cross-validation.

:class:`LassoCV` and :class:`ElasticNetCV` are scikit-learn's, solved exactly: every fold's
statistics come from one pass over the data (:mod:`torchlinear.exact.fold_stats`), and
every path is solved from them in :math:`d \times d` space
(:func:`torchlinear.exact.coordinate_descent.fit_cv_from_fold_stats`). The objective and
the single-fit estimators are described in :mod:`torchlinear.estimators.penalized`.
"""

from __future__ import annotations

import numbers
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from torchlinear._validation import ParameterError
from torchlinear.estimators._penalized_base import (
    PenalizedBase,
    check_alpha,
    check_common,
    check_l1_ratio,
    check_n_features,
    checked_stats,
    chunk_parts,
)
from torchlinear.exact import GramStats
from torchlinear.exact.coordinate_descent import (
    CVPathResult,
    check_stats_memory,
    fit_cv_from_fold_stats,
)
from torchlinear.exact.driver import LOCAL, Combine
from torchlinear.exact.fold_stats import FoldGramStats, HashedKFold, subtract_stats

__all__ = ["ElasticNetCV", "LassoCV"]


def _resolve_cv(cv: Any, n: int) -> tuple[str, Any]:
    """("contiguous", K), ("hashed", HashedKFold) or ("splits", splitter)."""
    if cv is None:
        cv = 5
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        K = int(cv)
        if K < 2:
            raise ValueError(f"cv must be at least 2 folds, got cv={cv}")
        if K > n:
            raise ValueError(f"cv={cv} folds need at least {cv} rows, but X has n_samples={n}")
        return "contiguous", K
    if isinstance(cv, HashedKFold):
        return "hashed", cv
    if (splits := _kfold_splits(cv)) is not None:
        return _resolve_cv(splits, n)
    if isinstance(cv, bool | float | str):
        raise ValueError(f"cv must be an int >= 2, a splitter or an iterable of splits, got {cv!r}")
    from sklearn.model_selection import check_cv  # cv is a splitter or a list of splits

    return "splits", check_cv(cv)


def _kfold_splits(cv: Any) -> int | None:
    """The fold count of scikit-learn's ``KFold`` without shuffling (contiguous folds),
    None for anything else. Nothing is a ``KFold`` unless scikit-learn's model selection
    is loaded: it is not imported to find out."""
    model_selection = sys.modules.get("sklearn.model_selection")
    if model_selection is None or not isinstance(cv, model_selection.KFold) or cv.shuffle:
        return None
    return int(cv.n_splits)


class _CVBase(PenalizedBase):
    # the constructor's parameters, stored by each subclass's __init__
    alphas: Any
    cv: Any
    eps: Any
    fit_intercept: Any
    max_iter: Any
    positive: Any
    random_state: Any
    selection: Any
    tol: Any

    #: The cross-validation record is a diagnostic of the fit; model files keep the model.
    _special_state = ("cv_results_",)

    def _ratios(self) -> list[float]:
        raise NotImplementedError

    def _check_cv_params(self) -> None:
        check_common(self)
        ratios = self._ratios()
        if len(ratios) == 0:
            raise ValueError("l1_ratio is an empty list; give at least one value in [0, 1]")
        for r in ratios:
            check_l1_ratio(r)
        a = self.alphas
        automatic = isinstance(a, numbers.Integral) and not isinstance(a, bool)
        if automatic and 0.0 in ratios:
            raise ParameterError(
                "l1_ratio",
                "{param} 0 (ridge) has no automatic alpha grid (its largest useful alpha is "
                "infinite): give {param} > 0, or the alphas to try, e.g. {0}",
                value=ratios,
                suggestions=[("alphas", [0.1, 1, 10])],
            )
        if isinstance(self.eps, bool) or not isinstance(self.eps, numbers.Real) or self.eps <= 0:
            raise ValueError(f"eps must be a number > 0, got {self.eps!r}")
        if automatic:
            if a < 1:
                raise ValueError(f"alphas must be at least 1 (number of alphas), got {a}")
        else:
            arr = np.asarray(a, dtype=object).reshape(-1) if a is not None else np.asarray([])
            if arr.size == 0:
                raise ValueError(
                    f"alphas must be a number of alphas or a non-empty list, got {a!r}"
                )
            for i, v in enumerate(arr):
                check_alpha(v, f"alphas[{i}]")

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _CVBase:
        """Cross-validate the paths (one pass of statistics per fold) and fit all rows.

        ``cv``: ``None`` (5) or an int K means scikit-learn's contiguous ``KFold(K)``;
        :class:`~torchlinear.exact.fold_stats.HashedKFold` a seeded shuffled split; any
        other splitter or iterable of (train, test) index arrays is used as given.
        """

        self._check_cv_params()
        Xv, y_t, w = self._validate_xy(X, y, sample_weight, reset=True)
        n, d = Xv.shape
        kind, spec = _resolve_cv(self.cv, n)
        if kind == "splits":
            splits = list(spec.split(np.zeros((n, 1)), y_t.numpy()))
            train, test, total = self._split_stats(Xv, y_t, w, splits)
            checked_stats(total, Xv)
        else:
            K = spec if kind == "contiguous" else spec.n_splits
            folds = FoldGramStats(
                d,
                K,
                n_samples=n if kind == "contiguous" else None,
                shuffle=kind == "hashed",
                seed=0 if kind == "contiguous" else spec.seed,
            )
            folds.update(Xv, y_t, w)
            total = checked_stats(folds.total(), Xv)
            train, test = [folds.training(k, total) for k in range(K)], folds.folds
        return self._finish(train, test, total)

    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, *, n_samples: int | None = None
    ) -> _CVBase:
        """Add a chunk of rows to the fold statistics and cross-validate on all rows so far.

        Rows are numbered in the order they arrive. Contiguous folds (``cv`` an int or
        None) need the total row count: pass ``n_samples`` with the first chunk. Without
        it, the folds are hashed from the row numbers (``HashedKFold(K, seed=0)``, a
        seeded shuffled split) with a warning. The model is fitted once at least two folds
        hold rows.
        """
        self._check_cv_params()
        folds: FoldGramStats | None = getattr(self, "_folds", None)
        Xv, y_t, w = self._validate_xy(X, y, sample_weight, reset=folds is None)
        if folds is None:
            cv = 5 if self.cv is None else self.cv
            if (splits := _kfold_splits(cv)) is not None:
                cv = splits
            if isinstance(cv, HashedKFold):
                folds = FoldGramStats(Xv.shape[1], cv.n_splits, shuffle=True, seed=cv.seed)
            elif isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
                if cv < 2:
                    raise ValueError(f"cv must be at least 2 folds, got cv={cv}")
                if n_samples is None:
                    warnings.warn(
                        f"partial_fit without n_samples cannot place contiguous KFold({cv}) "
                        f"folds; using hashed folds HashedKFold({cv}, seed=0) instead (pass "
                        "n_samples with the first chunk for contiguous folds)",
                        UserWarning,
                        stacklevel=2,
                    )
                    folds = FoldGramStats(Xv.shape[1], int(cv), shuffle=True, seed=0)
                else:
                    folds = FoldGramStats(Xv.shape[1], int(cv), n_samples=int(n_samples))
            else:
                raise ValueError(
                    "partial_fit needs cv to be an int, None, KFold without shuffling or "
                    f"HashedKFold, got {self.cv!r}"
                )
            self._folds = folds
        folds.update(Xv, y_t, w)
        checked_stats(folds.total(), Xv)
        filled = [k for k, f in enumerate(folds.folds) if float(f.weight_sum) > 0]
        if len(filled) >= 2:
            total = folds.total()
            train = [folds.training(k, total) for k in range(folds.n_splits)]
            self._finish(train, folds.folds, total)
        return self

    def fit_chunks(
        self,
        chunks: Callable[[], Iterable[tuple[Any, ...]]],
        *,
        n_features: int,
        n_samples: int | None = None,
        feature_names: Sequence[str] | None = None,
        combine: Combine = LOCAL,
    ) -> _CVBase:
        """Cross-validate on data read in chunks, in ONE pass into per-fold statistics.

        Every row goes to its fold's statistics by its global row number (the 4th item of
        a chunk, else its position in the stream), so the folds are the same in memory,
        chunk by chunk and across ranks.

        Parameters
        ----------
        chunks : callable
            Returns an iterable of ``(X, y)``, ``(X, y, sample_weight)`` or
            ``(X, y, sample_weight, rows)`` chunks (validated already). Called once.
        n_features : int
            Columns of ``X``.
        n_samples : int, optional
            For contiguous folds (``cv`` an int or None): the rows are numbered
            ``0 .. n_samples - 1`` and fold k is ``KFold(cv)``'s k-th run of them. Not
            needed with ``cv=HashedKFold(...)``.
        feature_names : sequence of str, optional
        combine : Combine, default LOCAL
            :data:`torchlinear.distributed.RANKS` in a process group: every fold's
            statistics are all-reduced over the ranks.

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 3))
        >>> y = X @ np.array([1.0, 0.0, -2.0]) + rng.normal(size=200)
        >>> halves = lambda: [(X[:120], y[:120]), (X[120:], y[120:])]
        >>> streamed = LassoCV(cv=4).fit_chunks(halves, n_features=3, n_samples=200)
        >>> streamed.alpha_ == LassoCV(cv=4).fit(X, y).alpha_
        True
        """
        self._check_cv_params()
        d = check_n_features(n_features)
        K, shuffle, seed = _stream_fold_layout(self.cv, n_samples)
        folds = FoldGramStats(
            d,
            K,
            n_samples=None if shuffle or n_samples is None else int(n_samples),
            shuffle=shuffle,
            seed=seed,
        )
        error: BaseException | None = None
        try:
            _read_folds(chunks, folds, n_samples)
        except Exception as exc:  # shared with the other ranks before anyone waits
            error = exc
        combine.agree(error, (d, 1))
        parts = folds.folds or [GramStats.zeros(d) for _ in range(K)]
        if not combine.local:
            parts = [combine.gram(f) for f in parts]
        total = parts[0]
        for f in parts[1:]:
            total = total.merge(f)
        total = checked_stats(total, None)
        train = [subtract_stats(total, f) for f in parts]
        self._set_n_features(d, None if feature_names is None else list(feature_names))
        return self._finish(train, parts, total)

    def _split_stats(
        self, X: Any, y: torch.Tensor, w: torch.Tensor | None, splits: list
    ) -> tuple[list[GramStats], list[GramStats], GramStats]:
        check_stats_memory(X.shape[1], 2 * len(splits) + 1)
        total = self._gram(X, y, w)
        train, test = [], []
        for tr, te in splits:
            tr, te = np.asarray(tr), np.asarray(te)
            train.append(self._gram(*_rows(X, y, w, tr)))
            test.append(self._gram(*_rows(X, y, w, te)))
        return train, test, total

    def _finish(
        self, train: Sequence[GramStats], test: Sequence[GramStats], total: GramStats
    ) -> _CVBase:
        ratios = self._ratios()
        alphas = self.alphas
        if not (isinstance(alphas, numbers.Integral) and not isinstance(alphas, bool)):
            alphas = [float(a) for a in np.asarray(alphas, dtype=np.float64).reshape(-1)]
        res = fit_cv_from_fold_stats(
            train,
            test,
            total,
            l1_ratio=ratios,
            alphas=alphas,
            eps=float(self.eps),
            fit_intercept=bool(self.fit_intercept),
            positive=bool(self.positive),
            tol=float(self.tol),
            max_iter=int(self.max_iter),
            selection=self.selection,
            random_state=self.random_state,
        )
        self._stats = total
        self.cv_results_: CVPathResult = res
        self.alpha_ = res.alpha
        self.alpha_1se_ = res.alpha_1se
        if isinstance(self.alphas, numbers.Integral) and not isinstance(self.alphas, bool):
            self.alphas_ = res.alphas if len(ratios) > 1 else res.alphas[0]
        else:
            self.alphas_ = res.alphas[0]
        self.mse_path_ = np.squeeze(res.mse_path)
        self.coef_ = res.coef
        self.intercept_ = res.intercept
        self.dual_gap_ = res.dual_gap
        self.n_iter_ = res.n_iter
        self.converged_ = res.converged
        return self


def _stream_fold_layout(cv: Any, n_samples: int | None) -> tuple[int, bool, int]:
    """``(K, shuffled, seed)`` of the folds of a stream: hashed (``HashedKFold``) or
    contiguous (an int, None or an unshuffled ``KFold``: they need ``n_samples``)."""
    spec = 5 if cv is None else cv
    if (splits := _kfold_splits(spec)) is not None:
        spec = splits
    if isinstance(spec, HashedKFold):
        return spec.n_splits, True, spec.seed
    if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        K = int(spec)
        if K < 2:
            raise ValueError(f"cv must be at least 2 folds, got cv={spec}")
        if n_samples is None:
            raise ValueError(
                f"contiguous KFold({K}) folds need the total row count: pass n_samples, "
                "or use cv=HashedKFold(...) (seeded shuffled folds)"
            )
        if int(n_samples) < K:
            raise ValueError(f"cv={K} folds need at least {K} rows, but n_samples={n_samples}")
        return K, False, 0
    raise ValueError(
        "fit_chunks needs cv to be an int, None, KFold without shuffling or "
        f"HashedKFold, got {cv!r}"
    )


def _read_folds(
    chunks: Callable[[], Iterable[tuple[Any, ...]]], folds: FoldGramStats, n_samples: int | None
) -> None:
    """Add every chunk's rows to their folds' statistics, by global row number (the 4th
    item of a chunk, else the position in the stream)."""
    seen = 0
    for item in chunks():
        X, y, w, rows = chunk_parts(item)
        m = X.shape[0]
        if rows is None:
            rows = np.arange(seen, seen + m, dtype=np.int64)
        seen += m
        if m == 0:
            continue
        if not folds.shuffle and (rows.min() < 0 or rows.max() >= folds.n_samples):
            raise ValueError(
                f"row numbers {rows.min()}..{rows.max()} fall outside the "
                f"n_samples={n_samples} rows the folds were laid out for"
            )
        folds.update(X, y, w, fold_ids=folds.fold_ids(rows))


def _rows(
    X: Any, y: torch.Tensor, w: torch.Tensor | None, idx: np.ndarray
) -> tuple[Any, torch.Tensor, torch.Tensor | None]:
    if sp.issparse(X):
        Xi = X[idx]
    else:
        Xi = X.index_select(0, torch.from_numpy(idx).to(X.device))
    t = torch.from_numpy(idx)
    return Xi, y.index_select(0, t), None if w is None else w.index_select(0, t)


class ElasticNetCV(_CVBase):
    r"""Elastic net with ``alpha`` (and ``l1_ratio``) chosen by K-fold cross-validation.

    scikit-learn's ``ElasticNetCV``: for each ``l1_ratio``, a grid of ``alphas`` (an int:
    that many values log-spaced from :math:`\alpha_{\max}` down to ``eps`` times it) is
    solved on every fold's training rows and scored by the (sample-weighted) mean squared
    error on its test rows; the pair with the lowest mean error over folds is refitted on
    all rows. Here every fold's statistics come from one pass over the data, and all paths
    are solved in :math:`d \times d` space.

    Parameters
    ----------
    l1_ratio : float or list of float, default 0.5
    eps : float, default 1e-3
    alphas : int or array-like, default 100
        Number of alphas on the automatic grid, or the alphas themselves.
    fit_intercept : bool, default True
    precompute : "auto", bool or array, default "auto"
        Accepted for compatibility.
    max_iter : int, default 1000
    tol : float, default 1e-4
    cv : int, splitter or iterable, optional
        ``None`` is 5; an int K is contiguous ``KFold(K)`` (same folds as scikit-learn);
        :class:`~torchlinear.exact.fold_stats.HashedKFold` is a seeded shuffled split that
        also works on streams of unknown length.
    copy_X : bool, default True
        Accepted for compatibility.
    verbose : bool or int, default 0
        Accepted for compatibility.
    n_jobs : int, optional
        Accepted for compatibility.
    positive : bool, default False
    random_state : int, optional
    selection : {"cyclic", "random"}, default "cyclic"

    Attributes
    ----------
    alpha_ : float
    l1_ratio_ : float
    alpha_1se_ : float
        Largest alpha (of the chosen l1_ratio) within one standard error of the best.
    alphas_ : ndarray of shape (n_alphas,) or (n_l1_ratio, n_alphas)
    mse_path_ : ndarray of shape (n_l1_ratio, n_alphas, n_folds), squeezed
    coef_, intercept_, dual_gap_, n_iter_, converged_
        Of the final fit on all rows.
    cv_results_ : CVPathResult
        Everything above plus the full-data path (for the plots).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 5))
    >>> y = X @ np.array([2.0, 0.0, 0.0, -1.0, 0.0]) + rng.normal(size=300)
    >>> model = ElasticNetCV(l1_ratio=[0.5, 1.0], cv=5).fit(X, y)
    >>> model.mse_path_.shape, model.l1_ratio_, round(model.alpha_, 4)
    ((2, 100, 5), 1.0, 0.0267)
    """

    def __init__(
        self,
        *,
        l1_ratio: float | Sequence[float] = 0.5,
        eps: float = 1e-3,
        alphas: int | Sequence[float] = 100,
        fit_intercept: bool = True,
        precompute: Any = "auto",
        max_iter: int = 1000,
        tol: float = 1e-4,
        cv: Any = None,
        copy_X: bool = True,
        verbose: Any = 0,
        n_jobs: int | None = None,
        positive: bool = False,
        random_state: Any = None,
        selection: str = "cyclic",
    ) -> None:
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.copy_X = copy_X
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection

    def _ratios(self) -> list[float]:
        return [float(r) for r in np.atleast_1d(np.asarray(self.l1_ratio, dtype=np.float64))]

    def _finish(self, train: Any, test: Any, total: GramStats) -> ElasticNetCV:
        super()._finish(train, test, total)
        self.l1_ratio_ = self.cv_results_.l1_ratio
        return self


class LassoCV(_CVBase):
    r"""Lasso with ``alpha`` chosen by K-fold cross-validation (scikit-learn's ``LassoCV``).

    As :class:`ElasticNetCV` with ``l1_ratio=1`` (and no ``l1_ratio_`` attribute).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4))
    >>> y = X @ np.array([1.0, 0.0, 0.0, 3.0]) + rng.normal(size=300)
    >>> model = LassoCV(cv=5).fit(X, y)
    >>> model.alphas_.shape, model.mse_path_.shape
    ((100,), (100, 5))
    """

    def __init__(
        self,
        *,
        eps: float = 1e-3,
        alphas: int | Sequence[float] = 100,
        fit_intercept: bool = True,
        precompute: Any = "auto",
        max_iter: int = 1000,
        tol: float = 1e-4,
        copy_X: bool = True,
        cv: Any = None,
        verbose: Any = False,
        n_jobs: int | None = None,
        positive: bool = False,
        random_state: Any = None,
        selection: str = "cyclic",
    ) -> None:
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.copy_X = copy_X
        self.cv = cv
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection

    def _ratios(self) -> list[float]:
        return [1.0]
