"""What every torchlinear estimator checks at its boundary, written once.

The estimators accept NumPy arrays, pandas DataFrames and torch tensors; this mixin turns
``X`` into a 2-D floating tensor, enforces the feature count and feature names seen at
``fit`` time, and words its errors the way scikit-learn's conventions (and its estimator
checks) expect.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from torchlinear._sklearn_protocol import check_is_fitted, is_sparse
from torchlinear._validation import as_feature_matrix, check_finite
from torchlinear.estimators._state import StatefulMixin

__all__ = ["EstimatorInputMixin", "LinearPredictionMixin", "assert_finite", "object_to_float"]


class EstimatorInputMixin(StatefulMixin):
    """Boundary validation of ``X`` shared by the estimators (which also save and restore
    their own state, :class:`~torchlinear.estimators._state.StatefulMixin`)."""

    def _validate_X(
        self,
        X: Any,
        *,
        reset: bool,
        device: torch.device | str | None = None,
        finite: bool = True,
    ) -> torch.Tensor:
        """Check ``X``'s shape, dtype, feature count and names (and, unless
        ``finite=False`` — for callers that detect NaN/inf from their results for free —
        its finiteness, chunk by chunk); record them when ``reset``."""
        if X is None:
            raise ValueError(f"{type(self).__name__} needs X, got None")
        if _is_sparse(X):
            raise TypeError(
                "sparse X is not supported; convert it with X.toarray() if it fits in memory"
            )
        names = _string_columns(X)
        if not isinstance(X, torch.Tensor) and not hasattr(X, "columns"):
            X = np.asarray(X)
        shape = tuple(X.shape)
        if len(shape) == 1:
            raise ValueError(
                f"Expected a 2-D X, got a 1-D array of shape {shape}. Reshape your data "
                "with X.reshape(-1, 1) if it has a single feature or X.reshape(1, -1) if it "
                "is a single sample."
            )
        if len(shape) == 2 and shape[1] == 0:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={shape}) while a minimum of 1 is required."
            )
        if getattr(getattr(X, "dtype", None), "kind", "") == "c" or (
            isinstance(X, torch.Tensor) and X.is_complex()
        ):
            raise ValueError("Complex data not supported: X must hold real numbers")
        if isinstance(X, np.ndarray) and X.dtype == object:
            X = object_to_float(X, "X")
        X_t, _ = as_feature_matrix(X, device=device, allow_nonfinite=True)
        if finite:
            assert_finite("X", X_t)
        self._check_feature_names(names, reset=reset)
        n_features = X_t.shape[1]
        if reset:
            self.n_features_in_ = n_features
        elif n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        return X_t

    def _names(self) -> list[str] | None:
        """``feature_names_in_`` as a list of str (None without names)."""
        names = getattr(self, "feature_names_in_", None)
        return None if names is None else [str(n) for n in names]

    def _validate_X_numpy(self, X: Any, *, reset: bool) -> np.ndarray:
        """:meth:`_validate_X` on the CPU, as a float64 NumPy array."""
        return self._validate_X(X, reset=reset, device="cpu").to(torch.float64).numpy()

    def _use_names(self, feature_names: Sequence[str] | None) -> None:
        """Record column names given beside ``X`` (arrays carry none)."""
        if feature_names is None:
            return
        names = [str(n) for n in feature_names]
        if len(names) != self.n_features_in_:
            raise ValueError(f"{len(names)} feature names for X with {self.n_features_in_} columns")
        self.feature_names_in_ = np.asarray(names, dtype=object)

    def _set_n_features(self, n_features: int, feature_names: Sequence[str] | None) -> None:
        """Record the shape of data the estimator did not see whole (chunks)."""
        self.n_features_in_ = int(n_features)
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._use_names(feature_names)

    def _check_feature_names(self, names: np.ndarray | None, *, reset: bool) -> None:
        if reset:
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return
        fitted = getattr(self, "feature_names_in_", None)
        cls = type(self).__name__
        if fitted is None and names is not None:
            warnings.warn(
                f"X has feature names, but {cls} was fitted without feature names",
                UserWarning,
                stacklevel=3,
            )
        elif fitted is not None and names is None:
            warnings.warn(
                f"X does not have valid feature names, but {cls} was fitted with feature names",
                UserWarning,
                stacklevel=3,
            )
        elif fitted is not None and names is not None and list(fitted) != list(names):
            unexpected = sorted(set(names) - set(fitted))
            missing = sorted(set(fitted) - set(names))
            detail = []
            if unexpected:
                detail.append(f"Feature names unseen at fit time: {unexpected}")
            if missing:
                detail.append(f"Feature names seen at fit time, yet now missing: {missing}")
            if not detail:
                detail.append("Feature names must be in the same order as they were in fit.")
            raise ValueError(
                "The feature names should match those that were passed during fit. "
                + " ".join(detail)
            )


class LinearPredictionMixin(EstimatorInputMixin):
    """``predict`` of a fitted linear model, ``X @ coef_.T + intercept_``, written once.

    The estimator sets ``coef_`` (shape ``(d,)`` for one target, ``(k, d)`` for ``k``)
    and ``intercept_``. A class whose ``fit`` takes scipy.sparse ``X`` sets
    ``_sparse_input = True``; its sparse predictions come from sparse products.
    """

    #: Whether the estimator takes scipy.sparse ``X`` (and says so in its tags).
    _sparse_input = False
    coef_: Any  # set by fit
    intercept_: Any

    def predict(self, X: Any) -> np.ndarray | torch.Tensor:
        """Predictions ``X @ coef_.T + intercept_``.

        A tensor ``X`` gives a tensor on its device, in its floating dtype; anything else
        gives a float64 NumPy array. Shape ``(n,)`` for one target, ``(n, k)`` for ``k``.
        """
        check_is_fitted(self, "coef_")
        if self._sparse_input and is_sparse(X):
            return self._predict_sparse(X)
        X_t = self._validate_X(X, reset=False, finite=False)
        out = self._predict_tensor(X_t)
        if isinstance(X, torch.Tensor):
            return out.to(X_t.dtype)
        return out.cpu().numpy()

    def _predict_sparse(self, X: Any) -> np.ndarray:
        from sklearn.utils.validation import check_array  # X is sparse: SciPy's world

        Xs = check_array(X, accept_sparse=["csr", "csc", "coo"], dtype=np.float64)
        self._check_feature_names(None, reset=False)
        if Xs.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {Xs.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        coef = np.atleast_2d(self.coef_)
        pred = np.asarray(Xs @ coef.T) + np.atleast_1d(self.intercept_)
        return pred[:, 0] if np.ndim(self.coef_) == 1 else pred

    def _predict_tensor(self, X_t: torch.Tensor) -> torch.Tensor:
        """Predictions in float64 on ``X_t``'s device (NaN/inf in ``X_t`` are reported)."""
        dev = X_t.device
        coef = torch.as_tensor(np.atleast_2d(self.coef_), dtype=torch.float64, device=dev)
        b = torch.as_tensor(np.atleast_1d(self.intercept_), dtype=torch.float64, device=dev)
        out = torch.addmm(b, X_t.to(torch.float64), coef.T)
        if not bool(torch.isfinite(out).all()):  # NaN/inf in X always reach the output
            assert_finite("X", X_t)
            raise ValueError(
                "predictions overflow float64; X holds values too large for these coefficients"
            )
        return out[:, 0] if np.ndim(self.coef_) == 1 else out

    def __sklearn_tags__(self) -> Any:  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = self._sparse_input
        return tags


def assert_finite(name: str, X: torch.Tensor) -> None:
    """Raise the boundary's NaN/inf error if ``X`` holds any, scanning ~1M values at a time
    (a whole-array check would allocate temporaries the size of ``X``)."""
    if not X.is_floating_point():
        return
    rows = max(1, (1 << 20) // max(1, X.shape[1] if X.ndim == 2 else 1))
    for start in range(0, X.shape[0], rows):
        if not bool(torch.isfinite(X[start : start + rows]).all()):
            check_finite(name, X)  # counts and locates them


def _string_columns(X: Any) -> np.ndarray | None:
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "dtypes"):
        return None
    names = list(columns)
    if names and all(isinstance(c, str) for c in names):
        return np.asarray(names, dtype=object)
    return None


def _is_sparse(X: Any) -> bool:
    return hasattr(X, "toarray") and hasattr(X, "nnz")


def object_to_float(arr: np.ndarray, name: str) -> np.ndarray:
    """Convert an object array of numbers; report anything else."""
    try:
        return arr.astype(np.float64)
    except TypeError as exc:
        raise TypeError(f"{name} holds a value that is not a number: {exc}") from exc
    except ValueError as exc:
        raise ValueError(
            f"{name} holds a value that is not a number ({exc}); encode it as numbers first"
        ) from exc
