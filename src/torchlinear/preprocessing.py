r"""Feature standardization, fitted in one pass over memory or over streamed chunks.

.. math::

    z_{ij} = \frac{x_{ij} - \mu_j}{s_j}, \qquad
    \mu_j = \frac{\sum_i w_i x_{ij}}{\sum_i w_i}, \qquad
    s_j = \sqrt{\frac{\sum_i w_i (x_{ij} - \mu_j)^2}{\sum_i w_i}}

(the population standard deviation, as scikit-learn's ``StandardScaler``). Columns whose
spread is zero (to rounding) get ``s_j = 1``, so they map to zero instead of NaN.

Chunks are merged with the pairwise update of Chan, Golub and LeVeque, accumulated in
float64 whatever the input dtype, so a file read in pieces gives the same mean and scale
as the whole matrix at once.

A linear model fitted on ``z``, :math:`\hat y = W z + b`, is the model

.. math::

    \hat y = (W \oslash s)\, x + \big(b - W (\mu \oslash s)\big)

on the original features; :meth:`Standardizer.coef_to_original` does this mapping.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["Standardizer"]

# A column counts as constant when its standard deviation is below this fraction of |mean|
# (rounding in the float64 accumulation leaves ~1e-16 relative noise on exact constants).
_RELATIVE_ZERO = 1e-10


def _as_float_tensor(X: Any, name: str) -> torch.Tensor:
    t = X.detach() if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got {tuple(t.shape)}")
    return t


class Standardizer:
    """Centre and scale features; remember the statistics for predict time.

    Parameters
    ----------
    with_mean : bool, default True
        Subtract the mean. Turn it off for models without an intercept, which cannot
        absorb the shift.
    with_std : bool, default True
        Divide by the standard deviation.

    Attributes
    ----------
    mean_ : torch.Tensor
        Per-feature (weighted) mean, float64, shape ``(d,)`` (zeros if ``with_mean=False``).
    scale_ : torch.Tensor
        Per-feature divisor, float64, shape ``(d,)``: the standard deviation, or 1 for
        constant columns and when ``with_std=False``.
    var_ : torch.Tensor
        Per-feature (weighted, population) variance, float64.
    n_samples_seen_ : float
        Sum of the sample weights seen (the row count without weights).

    Examples
    --------
    >>> X = torch.tensor([[1.0, 5.0], [3.0, 5.0]])
    >>> s = Standardizer().fit(X)
    >>> s.transform(X)
    tensor([[-1.,  0.],
            [ 1.,  0.]])
    >>> s.coef_to_original(torch.tensor([[2.0, 7.0]]), torch.tensor([1.0]))
    (tensor([[2., 7.]]), tensor([-38.]))
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = with_mean
        self.with_std = with_std
        self._reset()

    def _reset(self) -> None:
        self.n_samples_seen_ = 0.0
        self._mean: torch.Tensor | None = None
        self._m2: torch.Tensor | None = None

    def fit(self, X: Any, sample_weight: Any = None) -> Standardizer:
        """Compute the statistics of ``X`` (n, d), optionally weighted; return ``self``."""
        self._reset()
        return self.partial_fit(X, sample_weight)

    def partial_fit(self, X: Any, sample_weight: Any = None) -> Standardizer:
        """Merge one chunk of rows into the running statistics; return ``self``.

        Examples
        --------
        >>> X = torch.randn(100, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> s = Standardizer()
        >>> for chunk in X.split(7):
        ...     _ = s.partial_fit(chunk)
        >>> torch.allclose(s.mean_, X.mean(0)) and torch.allclose(s.var_, X.var(0, correction=0))
        True
        """
        X = _as_float_tensor(X, "X")
        if X.shape[0] == 0:
            return self
        x = X.to(torch.float64)
        if self._mean is not None and x.shape[1] != self._mean.shape[0]:
            raise ValueError(
                f"X has {x.shape[1]} columns but the standardizer was fitted on "
                f"{self._mean.shape[0]}; every chunk must have the same columns"
            )
        if sample_weight is None:
            w_sum = float(x.shape[0])
            mean_b = x.mean(dim=0)
            m2_b = ((x - mean_b) ** 2).sum(dim=0)
        else:
            w = torch.as_tensor(sample_weight).to(device=x.device, dtype=torch.float64)
            w = w.reshape(-1)
            if w.shape[0] != x.shape[0]:
                raise ValueError(f"sample_weight has {w.shape[0]} rows but X has {x.shape[0]}")
            if bool((w < 0).any()):
                raise ValueError("sample_weight must be non-negative")
            w_sum = float(w.sum())
            if w_sum == 0:
                return self
            mean_b = (w @ x) / w_sum
            m2_b = w @ ((x - mean_b) ** 2)
        if self._mean is None:
            self._mean, self._m2, self.n_samples_seen_ = mean_b, m2_b, w_sum
            return self
        total = self.n_samples_seen_ + w_sum
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (w_sum / total)
        self._m2 = self._m2 + m2_b + delta**2 * (self.n_samples_seen_ * w_sum / total)
        self.n_samples_seen_ = total
        return self

    def _check_fitted(self) -> None:
        if self._mean is None:
            raise ValueError("this Standardizer is not fitted yet; call fit(X) first")

    @property
    def var_(self) -> torch.Tensor:
        self._check_fitted()
        return self._m2 / self.n_samples_seen_

    @property
    def mean_(self) -> torch.Tensor:
        self._check_fitted()
        return self._mean if self.with_mean else torch.zeros_like(self._mean)

    @property
    def scale_(self) -> torch.Tensor:
        self._check_fitted()
        if not self.with_std:
            return torch.ones_like(self._mean)
        std = self.var_.sqrt()
        constant = std <= _RELATIVE_ZERO * self._mean.abs()
        constant |= std == 0
        return torch.where(constant, torch.ones_like(std), std)

    @property
    def n_features_in_(self) -> int:
        self._check_fitted()
        return int(self._mean.shape[0])

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Return ``(X - mean_) / scale_`` in ``X``'s dtype and device.

        The arithmetic is done in float64 and rounded once at the end, so a float32
        column far from zero (say around 1e4) keeps its full relative precision.
        """
        X = _as_float_tensor(X, "X")
        self._check_width(X)
        mean = self.mean_.to(device=X.device)
        scale = self.scale_.to(device=X.device)
        return ((X.to(torch.float64) - mean) / scale).to(X.dtype)

    def fit_transform(self, X: Any, sample_weight: Any = None) -> torch.Tensor:
        """Fit on ``X`` and return it standardized."""
        return self.fit(X, sample_weight).transform(X)

    def inverse_transform(self, Z: torch.Tensor) -> torch.Tensor:
        """Return ``Z * scale_ + mean_``, undoing :meth:`transform`."""
        Z = _as_float_tensor(Z, "Z")
        self._check_width(Z)
        mean = self.mean_.to(device=Z.device)
        scale = self.scale_.to(device=Z.device)
        return (Z.to(torch.float64) * scale + mean).to(Z.dtype)

    def _check_width(self, X: torch.Tensor) -> None:
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} columns but the standardizer was fitted on "
                f"{self.n_features_in_}"
            )

    def coef_to_original(
        self, coef: torch.Tensor, intercept: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Map a linear model on standardized features to the original features.

        Parameters
        ----------
        coef : torch.Tensor
            Shape ``(k, d)`` (or ``(d,)``), weights on the standardized features.
        intercept : torch.Tensor or None
            Shape ``(k,)`` (or scalar); ``None`` for a model without intercept (which
            requires ``with_mean=False``).

        Returns
        -------
        coef, intercept : torch.Tensor
            ``coef / scale_`` and ``intercept - coef @ (mean_ / scale_)``, in ``coef``'s dtype.
        """
        scale = self.scale_.to(device=coef.device, dtype=torch.float64)
        mean = self.mean_.to(device=coef.device, dtype=torch.float64)
        c64 = coef.to(torch.float64)
        new_coef = c64 / scale
        if intercept is None:
            if self.with_mean and bool((mean != 0).any()):
                raise ValueError(
                    "a model without intercept cannot absorb centring; use with_mean=False"
                )
            return new_coef.to(coef.dtype), None
        new_intercept = intercept.to(torch.float64) - new_coef @ mean
        return new_coef.to(coef.dtype), new_intercept.to(intercept.dtype)

    def coef_to_standardized(
        self, coef: torch.Tensor, intercept: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Inverse of :meth:`coef_to_original`: express original-scale weights on ``z``."""
        scale = self.scale_.to(device=coef.device, dtype=torch.float64)
        mean = self.mean_.to(device=coef.device, dtype=torch.float64)
        c64 = coef.to(torch.float64)
        new_coef = c64 * scale
        if intercept is None:
            return new_coef.to(coef.dtype), None
        new_intercept = intercept.to(torch.float64) + c64 @ mean
        return new_coef.to(coef.dtype), new_intercept.to(intercept.dtype)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Return the fitted state as plain tensors (for safetensors files).

        Examples
        --------
        >>> s = Standardizer().fit(torch.tensor([[0.0], [2.0]]))
        >>> t = Standardizer.from_state_dict(s.state_dict())
        >>> t.mean_, t.scale_
        (tensor([1.], dtype=torch.float64), tensor([1.], dtype=torch.float64))
        """
        self._check_fitted()
        return {
            "mean": self._mean.detach().cpu().clone(),
            "m2": self._m2.detach().cpu().clone(),
            "n_samples_seen": torch.tensor(self.n_samples_seen_, dtype=torch.float64),
            "flags": torch.tensor([self.with_mean, self.with_std], dtype=torch.uint8),
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> Standardizer:
        """Restore the state written by :meth:`state_dict`; return ``self``."""
        missing = {"mean", "m2", "n_samples_seen", "flags"} - set(state)
        if missing:
            raise ValueError(f"standardizer state is missing {sorted(missing)}")
        self._mean = state["mean"].to(torch.float64)
        self._m2 = state["m2"].to(torch.float64)
        self.n_samples_seen_ = float(state["n_samples_seen"])
        self.with_mean, self.with_std = (bool(v) for v in state["flags"].tolist())
        return self

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> Standardizer:
        """Build a fitted standardizer from :meth:`state_dict` output."""
        return cls().load_state_dict(state)

    def __repr__(self) -> str:
        fitted = "unfitted" if self._mean is None else f"{self.n_features_in_} features"
        return f"Standardizer(with_mean={self.with_mean}, with_std={self.with_std}; {fitted})"
