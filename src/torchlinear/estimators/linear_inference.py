"""Inference from an exact least-squares fit: the summary table, robust (HC) parameter
covariances and prediction intervals of :class:`~torchlinear.LinearRegression`.

The formulas live in :mod:`torchlinear.stats`; the meat of a robust covariance is one more
pass over the rows (:mod:`torchlinear.exact.sandwich`), made after the solve when the fit
asks for it (``cov_type``), or later from the rows an in-memory ``fit`` kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from torchlinear._sklearn_protocol import check_is_fitted
from torchlinear.estimators._base import EstimatorInputMixin
from torchlinear.exact import LstsqSolution
from torchlinear.exact.sandwich import meat_pass
from torchlinear.stats import (
    OLSSummary,
    WeightInfo,
    check_cov_type,
    ols_summary,
    prediction_interval,
)

__all__ = ["ExactInferenceMixin"]


class ExactInferenceMixin(EstimatorInputMixin):
    """``summary`` and ``predict_interval`` of an exact, unpenalised least-squares fit.

    The estimator stores its :class:`~torchlinear.exact.LstsqSolution` in ``solution_``
    (``None`` for other fits); the robust covariance's meat, the rows it can be computed
    from and what the summary needs of the sample weights are kept here.
    """

    # the robust covariance's meat (exact fits), the rows fit() kept for it (never saved),
    # and what the summary needs of the sample weights
    _meat: torch.Tensor | None = None
    _meat_file: Any = None  # the model file the meat is read from when first needed
    _fit_data: Any = None
    _weight_info: WeightInfo | None = None
    _target_names: list[str] | None
    solution_: LstsqSolution | None
    solver_: str

    def _exact_solution(self, what: str) -> LstsqSolution:
        check_is_fitted(self, "coef_")
        sol = getattr(self, "solution_", None)
        if sol is None:
            raise ValueError(
                f"{what} needs an exact least-squares fit; this model was fitted with "
                f"solver_={self.solver_!r}. Refit with solver='auto' (squared loss, l1_ratio=0)"
            )
        return sol

    def _target_index(self, sol: LstsqSolution, target: int | None, what: str) -> int:
        k = sol.coef.shape[1]
        if target is None:
            if k > 1:
                raise ValueError(f"this model has {k} targets; pass target=0..{k - 1} to {what}")
            return 0
        return target

    def summary(
        self,
        target: int | None = None,
        confidence: float = 0.95,
        *,
        cov_type: str | None = None,
        weights: str = "analytic",
        use_t: bool | None = None,
    ) -> OLSSummary:
        """Standard errors, t, p-values, confidence intervals, R², F, ... of the fit.

        Available for exact, unpenalised fits (``alpha=0``). ``print(model.summary())``
        shows the table; ``.to_dict()``/``.to_frame()`` give the numbers. For a
        multi-target fit pass ``target`` (the column index).

        Parameters
        ----------
        target : int, optional
            The target column of a multi-target fit.
        confidence : float, default 0.95
            Level of the confidence intervals.
        cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3"}, optional
            The parameter covariance (default: ``cov_type_``, the fit's). A robust type
            after an in-memory :meth:`fit` is computed from the rows the fit kept (one
            pass); after :meth:`fit_chunks` or loading, the fit must have been made with a
            robust ``cov_type``.
        weights : {"analytic", "frequency"}, default "analytic"
            What the fit's ``sample_weight`` means: inverse variances (statsmodels'
            ``WLS``; scaling every weight changes nothing) or counts of repeated rows
            (statsmodels' ``GLM(freq_weights=)``). See :mod:`torchlinear.stats`.
        use_t : bool, optional
            Student's t or the normal distribution for p-values and intervals (default:
            t for "nonrobust", normal for the HC types, as statsmodels).

        Examples
        --------
        >>> import numpy as np
        >>> from torchlinear import LinearRegression
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 2))
        >>> y = X @ [1.0, -1.0] + rng.normal(size=100) * (1 + np.abs(X[:, 0]))
        >>> s = LinearRegression().fit(X, y).summary(cov_type="HC3")
        >>> s.cov_type, s.std_err.round(3)
        ('HC3', array([0.214, 0.283, 0.246]))
        """
        sol = self._exact_solution("summary()")
        target = self._target_index(sol, target, "summary()")
        cov = getattr(self, "cov_type_", "nonrobust") if cov_type is None else cov_type
        cov = check_cov_type(cov)
        names = self._target_names
        return ols_summary(
            sol,
            target=target,
            feature_names=self._names(),
            target_name=None if names is None or target >= len(names) else names[target],
            confidence=confidence,
            cov_type=cov,
            meat=self._robust_meat(cov),
            weights=weights,
            weight_info=getattr(self, "_weight_info", None),
            use_t=use_t,
        )

    def predict_interval(
        self,
        X: Any,
        level: float = 0.95,
        kind: str = "prediction",
        *,
        target: int | None = None,
        cov_type: str | None = None,
        weights: str = "analytic",
        use_t: bool | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predictions with the interval of a new observation or of the mean.

        The same intervals as statsmodels' ``get_prediction(X).summary_frame(alpha)``:
        ``kind="prediction"`` gives ``obs_ci_lower/upper`` (a new observation of weight
        one), ``kind="confidence"`` the mean's ``mean_ci_lower/upper``; see
        :func:`torchlinear.stats.prediction_interval`.

        Parameters
        ----------
        X : array-like, DataFrame or Tensor, shape (m, d)
        level : float, default 0.95
            Coverage, in (0, 1).
        kind : {"prediction", "confidence"}, default "prediction"
        target, cov_type, weights, use_t :
            As for :meth:`summary`.

        Returns
        -------
        prediction, lower, upper : numpy.ndarray of shape (m,)

        Examples
        --------
        >>> import numpy as np
        >>> from torchlinear import LinearRegression
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
        >>> y = np.array([1.1, 2.9, 5.2, 6.8, 9.1])
        >>> pred, lower, upper = LinearRegression().fit(X, y).predict_interval([[2.0]])
        >>> round(float(lower[0]), 4), round(float(upper[0]), 4)
        (4.3616, 5.6784)
        """
        sol = self._exact_solution("predict_interval()")
        target = self._target_index(sol, target, "predict_interval()")
        cov = getattr(self, "cov_type_", "nonrobust") if cov_type is None else cov_type
        cov = check_cov_type(cov)
        X_t = self._validate_X(X, reset=False)
        return prediction_interval(
            sol,
            X_t,
            target=target,
            level=level,
            kind=kind,
            cov_type=cov,
            meat=self._robust_meat(cov),
            weights=weights,
            weight_info=getattr(self, "_weight_info", None),
            use_t=use_t,
        )

    def _meat_of_data(self) -> torch.Tensor:
        """The robust covariance's meat from the rows kept by :meth:`fit` (one pass)."""
        assert self.solution_ is not None and self._fit_data is not None
        X, Y, w, rows = self._fit_data
        n = X.shape[0]
        step = rows or max(1, (1 << 22) // (8 * (X.shape[1] + 1)))

        def chunks() -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
            for start in range(0, n, step):
                stop = start + step
                yield X[start:stop], Y[start:stop], None if w is None else w[start:stop]

        return meat_pass(self.solution_, chunks(), weighted=w is not None)

    def _stored_meat(self) -> torch.Tensor | None:
        """The meat the fit computed, read from the model file on first use; None if
        there is none."""
        source = getattr(self, "_meat_file", None)
        if getattr(self, "_meat", None) is None and source is not None:
            self._meat = source.read(lambda tensors: tensors["meat"].to(torch.float64))
            self._meat_file = None
        return getattr(self, "_meat", None)

    def _robust_meat(self, cov_type: str) -> torch.Tensor | None:
        """The stored meat, computed now from the kept rows if needed; None if nonrobust."""
        if cov_type == "nonrobust":
            return None
        if self._stored_meat() is None:
            if getattr(self, "_fit_data", None) is None:
                raise ValueError(
                    f"cov_type={cov_type!r} needs the meat matrix of the robust covariance, "
                    "which this model did not keep (fitted with cov_type='nonrobust' by "
                    "partial_fit or fit_chunks, or loaded from a file or a pickle); refit with "
                    f"LinearRegression(cov_type={cov_type!r})"
                )
            self._meat = self._meat_of_data()
        return self._meat
