"""The fits of :class:`~torchlinear.LinearRegression` other than the exact least-squares
solve: least absolute deviations (the quantile LP), the elastic net by coordinate descent
(from in-memory rows, a stream or sparse statistics) and gradient training (in memory or on
chunks). Each stores coefficients without an exact solution (``solution_`` is None)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from torchlinear._validation import check_random_state, resolve_device
from torchlinear.engine import History, TrainConfig
from torchlinear.estimators._base import assert_finite
from torchlinear.estimators._gradient import (
    FitOptions,
    GradientFit,
    check_convergence,
    fit_gradient,
    fit_gradient_chunks,
)
from torchlinear.estimators._linear_params import DEFAULT_EPOCHS
from torchlinear.estimators.robust import fit_lad
from torchlinear.exact import GramStats, LstsqSolution, gram_pass
from torchlinear.exact.coordinate_descent import enet_path
from torchlinear.exact.driver import LOCAL, Combine

__all__ = ["IterativeFitMixin"]


class IterativeFitMixin:
    """The LAD, coordinate-descent and gradient fits of
    :class:`~torchlinear.LinearRegression`, which sets the parameters below."""

    loss: str
    fit_intercept: bool
    device: Any
    random_state: Any
    progress: bool
    _single: bool
    coef_: Any
    intercept_: Any
    solution_: LstsqSolution | None
    solver_: str
    cond_: float
    n_iter_: int
    converged_: bool
    dual_gap_: float
    history_: History
    train_config_: TrainConfig
    _compute_device: Callable[[torch.Tensor], torch.device]

    def _store_coef(self, coef: np.ndarray, intercept: np.ndarray, solver: str) -> None:
        """Store a fit without an exact solution: ``coef`` ``(k, d)`` and ``intercept``
        ``(k,)`` (as ``(d,)`` and a float for one target), the solver; forget the rest."""
        self.__dict__.pop("_deferred_solve", None)
        if self._single:
            self.coef_ = coef[0].copy()
            self.intercept_ = float(intercept[0])
        else:
            self.coef_ = coef
            self.intercept_ = intercept
        self.solver_ = solver
        self.cond_ = math.nan
        if hasattr(self, "rank_"):
            del self.rank_
        self.solution_ = None
        for stale in ("history_", "train_config_"):
            if hasattr(self, stale):
                delattr(self, stale)

    def _fit_lad(
        self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None, params: dict[str, Any]
    ) -> None:
        """Least absolute deviations solved to the LP optimum (:func:`fit_lad`).

        Dividing this estimator's objective by twice the weight sum gives the quantile loss
        at 0.5 (half the absolute residual) plus ``alpha * l1_ratio / (2 sum(w))`` times the
        L1 norm: scikit-learn's ``QuantileRegressor`` objective.
        """
        if Y.shape[1] != 1:
            raise ValueError(
                f"loss='l1' with {Y.shape[1]} targets: fit one target at a time, or use "
                "solver='sgd' or 'adam'"
            )
        total = float(X.shape[0]) if w is None else float(w.sum())
        coef, intercept, info = fit_lad(
            X.detach().cpu().to(torch.float64).numpy(),
            Y[:, 0].detach().cpu().to(torch.float64).numpy(),
            sample_weight=None if w is None else w.cpu().numpy(),
            quantile=0.5,
            alpha=params["alpha"] * params["l1_ratio"] / (2 * total),
            fit_intercept=bool(self.fit_intercept),
        )
        self._store_coef(np.atleast_2d(coef), np.array([float(intercept)]), "lad")
        self.n_iter_ = int(info.get("n_iter", 0))
        self.converged_ = True

    def _fit_coordinate_descent(
        self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None, params: dict[str, Any]
    ) -> None:
        """The exact elastic net from the statistics (:mod:`torchlinear.exact.coordinate_descent`).

        This estimator's penalty is on the *sum* of the weighted squared losses, so
        scikit-learn's ``ElasticNet(alpha=alpha / sum(w))`` minimises the same objective.
        """
        if Y.shape[1] != 1:
            raise ValueError(
                f"an L1 penalty with {Y.shape[1]} targets: fit one target at a time, or use "
                "solver='sgd' or 'adam'"
            )
        stats = gram_pass(X, Y, w, device=self._compute_device(X))
        if not all(bool(torch.isfinite(t).all()) for t in (stats.xtx, stats.xty, stats.yty)):
            assert_finite("X", X)
            assert_finite("y", Y)
        self._store_coordinate_descent(stats, params)

    def _store_coordinate_descent(self, stats: GramStats, params: dict[str, Any]) -> None:
        """Solve the (non-negative) elastic net from ``stats``; store the fit."""
        total = float(stats.weight_sum)
        path = enet_path(
            stats,
            [params["alpha"] / total],
            params["l1_ratio"],
            fit_intercept=bool(self.fit_intercept),
            positive=params["positive"],
            tol=params["tol"],
            max_iter=params["max_iter"] or 1000,
        )
        self._store_coef(path.coefs[:1].copy(), np.array([float(path.intercepts[0])]), "cd")
        self.n_iter_ = int(path.n_iters[0])
        self.converged_ = bool(path.converged[0])
        self.dual_gap_ = float(path.dual_gaps[0])

    def _train_config(self, params: dict[str, Any], device: torch.device) -> TrainConfig:
        optimizer = params["optimizer"]
        seed = check_random_state("random_state", self.random_state)
        return TrainConfig(
            epochs=params["max_iter"] or DEFAULT_EPOCHS[optimizer],
            batch_size=params["batch_size"],
            lr=params["lr"],
            optimizer=optimizer,
            tol=params["tol"] if params["tol"] > 0 else None,
            seed=seed,
            device=str(device),
            progress=bool(self.progress),
        )

    def _fit_gradient(
        self,
        X: torch.Tensor,
        Y: torch.Tensor,
        w: torch.Tensor | None,
        params: dict[str, Any],
        options: FitOptions,
    ) -> None:
        total = float(X.shape[0]) if w is None else float(w.sum())
        dev = self._compute_device(X)
        target = Y[:, 0] if self._single else Y
        fit = fit_gradient(
            X.to(dev),
            target.to(device=dev, dtype=X.dtype),
            sample_weight=None if w is None else w.to(device=dev, dtype=X.dtype),
            loss=self.loss,
            delta=params["delta"],
            alpha=params["alpha"] / total,
            l1_ratio=params["l1_ratio"],
            standardize=True if params["alpha"] == 0 else "center",
            fit_intercept=bool(self.fit_intercept),
            config=options.config(self._train_config(params, dev)),
            val_data=options.val_data,
            metrics=options.metrics,
            callbacks=options.callbacks,
        )
        self._store_gradient_fit(fit, params["optimizer"])

    def _fit_gradient_chunks(
        self,
        chunks: Callable[[], Iterable[tuple[Any, ...]]],
        n_features: int,
        params: dict[str, Any],
        options: FitOptions,
        combine: Combine,
    ) -> None:
        if combine is not LOCAL:
            raise ValueError(
                "gradient training on chunks takes each process's data as a whole; "
                "pass combine=LOCAL"
            )
        device = resolve_device(self.device)
        fit = fit_gradient_chunks(
            chunks,
            n_features=n_features,
            loss=self.loss,
            delta=params["delta"],
            alpha=params["alpha"],
            penalty_on_sum=True,
            l1_ratio=params["l1_ratio"],
            standardize=True if params["alpha"] == 0 else "center",
            fit_intercept=bool(self.fit_intercept),
            config=options.config(self._train_config(params, device)),
            val_chunks=options.val_data,
            metrics=options.metrics,
            callbacks=options.callbacks,
        )
        self._store_gradient_fit(fit, params["optimizer"])

    def _store_gradient_fit(self, fit: GradientFit, optimizer: str) -> None:
        assert fit.coef is not None
        coef = fit.coef.detach().to(torch.float64).cpu().numpy()
        k = coef.shape[0]
        intercept = (
            np.zeros(k)
            if fit.intercept is None
            else fit.intercept.detach().to(torch.float64).cpu().numpy()
        )
        self._store_coef(coef, intercept, optimizer)
        self.n_iter_ = len(fit.history)
        self.history_ = fit.history
        self.train_config_ = fit.config
        self.converged_ = check_convergence(fit.history, fit.config, optimizer)
