"""Checks applied at the library's boundary.

Every public entry point (estimators, data generators, readers, the CLI) validates its
arguments here once, so that a user mistake surfaces as a one-line ``ValueError`` that
names the argument, the value and what to do. Inside the library the types are trusted.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "check_positive_int",
    "check_nonnegative_int",
    "check_positive_float",
    "check_nonnegative_float",
    "check_fraction",
    "check_finite",
    "check_same_length",
    "as_target_vector",
    "resolve_device",
    "as_feature_matrix",
    "as_target",
]


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= 1, else raise ``ValueError``.

    Examples
    --------
    >>> check_positive_int("batch_size", 10)
    10
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_nonnegative_int(name: str, value: Any) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= 0, else raise ``ValueError``.

    Examples
    --------
    >>> check_nonnegative_int("epochs", 0)
    0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _as_real(name: str, value: Any, requirement: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {requirement}, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be {requirement}, got {value!r}")
    return value


def check_positive_float(name: str, value: Any) -> float:
    """Return ``value`` as a ``float`` if it is finite and > 0, else raise ``ValueError``.

    Examples
    --------
    >>> check_positive_float("lr", 0.03)
    0.03
    """
    value = _as_real(name, value, "a finite number > 0")
    if value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def check_nonnegative_float(name: str, value: Any) -> float:
    """Return ``value`` as a ``float`` if it is finite and >= 0, else raise ``ValueError``.

    Examples
    --------
    >>> check_nonnegative_float("alpha", 0)
    0.0
    """
    value = _as_real(name, value, "a finite number >= 0")
    if value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def check_fraction(name: str, value: Any, *, inclusive_low: bool = True) -> float:
    """Return ``value`` if it lies in [0, 1) (or (0, 1) with ``inclusive_low=False``).

    Examples
    --------
    >>> check_fraction("val_split", 0.2)
    0.2
    """
    value = _as_real(name, value, "a number in [0, 1)")
    low_ok = value >= 0 if inclusive_low else value > 0
    if not (low_ok and value < 1):
        interval = "[0, 1)" if inclusive_low else "(0, 1)"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return value


def check_finite(name: str, values: np.ndarray | torch.Tensor) -> None:
    """Raise ``ValueError`` if ``values`` holds NaN or infinity.

    The message counts the offending entries and names the first one's row (and column
    for 2-D input), so the user can find it in their file.

    Examples
    --------
    >>> import numpy as np
    >>> check_finite("X", np.array([[1.0, 2.0], [3.0, np.nan]]))
    Traceback (most recent call last):
    ...
    ValueError: X has 1 NaN/inf value(s); the first is at row 1, column 1. Remove or impute them.
    """
    if isinstance(values, torch.Tensor):
        if not (values.is_floating_point() or values.is_complex()):
            return
        bad = ~torch.isfinite(values)
        count = int(bad.sum())
        if count == 0:
            return
        first = tuple(int(i) for i in bad.nonzero()[0].tolist())
    else:
        arr = np.asarray(values)
        if not np.issubdtype(arr.dtype, np.inexact):
            return
        bad = ~np.isfinite(arr)
        count = int(bad.sum())
        if count == 0:
            return
        first = tuple(int(i[0]) for i in np.nonzero(bad))
    where = f"row {first[0]}" if len(first) == 1 else f"row {first[0]}, column {first[1]}"
    raise ValueError(
        f"{name} has {count} NaN/inf value(s); the first is at {where}. Remove or impute them."
    )


def check_same_length(X: Sequence | np.ndarray | torch.Tensor, y: Any) -> None:
    """Raise ``ValueError`` unless ``X`` and ``y`` have the same number of rows.

    Examples
    --------
    >>> check_same_length([[1.0]] * 3, [1.0, 2.0])
    Traceback (most recent call last):
    ...
    ValueError: y has 2 rows but X has 3
    """
    n_x, n_y = len(X), len(y)
    if n_x != n_y:
        raise ValueError(f"y has {n_y} rows but X has {n_x}")


def as_target_vector(y: torch.Tensor, name: str = "y") -> torch.Tensor:
    """Return a regression target as shape ``(n,)``; accept ``(n,)`` or ``(n, 1)``.

    This is the shape guard: inside the library a target is always 1-D, so a ``(n, 1)``
    prediction can never broadcast silently against it into an ``(n, n)`` matrix.

    Examples
    --------
    >>> import torch
    >>> as_target_vector(torch.zeros(4, 1)).shape
    torch.Size([4])
    """
    if y.ndim == 2 and y.shape[1] == 1:
        return y.reshape(-1)
    if y.ndim != 1:
        raise ValueError(
            f"{name} must have shape (n,) or (n, 1), got {tuple(y.shape)}; "
            "fit one model per target column"
        )
    return y


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Return the requested device, or the best available one (cuda, then mps, then cpu).

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available; use 'cpu'")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {device!r} was requested but MPS is not available; use 'cpu'")
    return dev


def _to_tensor(arr: np.ndarray) -> torch.Tensor:
    """Wrap a NumPy array without copying when possible (read-only arrays are copied)."""
    arr = np.ascontiguousarray(arr)
    if not arr.flags.writeable:
        arr = arr.copy()
    return torch.from_numpy(arr)


def _frame_to_numpy(X: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert a pandas DataFrame, naming any non-numeric columns in the error."""
    columns = [str(c) for c in X.columns]
    bad = [c for c, dt in zip(columns, X.dtypes, strict=True) if not _is_numeric_dtype(dt)]
    if bad:
        raise ValueError(
            f"{name} has non-numeric column(s) {', '.join(map(repr, bad))}; "
            "encode them as numbers (e.g. one-hot) or drop them"
        )
    return X.to_numpy(dtype=np.float64), np.asarray(columns, dtype=object)


def _is_numeric_dtype(dtype: Any) -> bool:
    try:
        return np.issubdtype(np.dtype(dtype), np.number) or np.issubdtype(np.dtype(dtype), np.bool_)
    except TypeError:  # pandas extension dtypes
        kind = getattr(dtype, "kind", "O")
        return kind in "biuf"


def as_feature_matrix(
    X: Any,
    *,
    name: str = "X",
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    allow_nonfinite: bool = False,
) -> tuple[torch.Tensor, np.ndarray | None]:
    """Validate a feature matrix and return it as a 2-D floating tensor plus column names.

    Accepts a NumPy array, a pandas DataFrame, a torch tensor (on any device) or nested
    lists. A 1-D input is rejected (reshape it to one column); so are 3-D input, zero
    rows, zero columns, non-numeric DataFrame columns (named in the message) and NaN/inf
    (counted and located).

    Parameters
    ----------
    X : array-like, DataFrame or Tensor
        The features, shape ``(n_samples, n_features)``.
    name : str, default "X"
        The argument's name in error messages.
    dtype : torch.dtype, optional
        The floating dtype to return. By default float32 and float64 inputs keep their
        dtype and anything else (integers, booleans, float16) becomes float64.
    device : torch.device or str, optional
        Where to put the tensor; by default a tensor stays where it is and other inputs
        go to the CPU.
    allow_nonfinite : bool, default False
        Skip the NaN/inf check.

    Returns
    -------
    X : torch.Tensor
        Shape ``(n_samples, n_features)``.
    feature_names : numpy.ndarray of str or None
        The DataFrame's column names, else ``None``.

    Examples
    --------
    >>> X, names = as_feature_matrix([[1, 2], [3, 4]])
    >>> X.dtype, tuple(X.shape), names
    (torch.float64, (2, 2), None)
    """
    feature_names = None
    if hasattr(X, "columns") and hasattr(X, "dtypes"):
        X, feature_names = _frame_to_numpy(X, name)
    if isinstance(X, torch.Tensor):
        tensor = X.detach()
        if tensor.is_complex():
            raise ValueError(f"{name} must be real-valued, got a complex tensor")
    else:
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} could not be read as a numeric array: {exc}") from exc
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
        ):
            raise ValueError(
                f"{name} must be numeric, got values of type {arr.dtype}; "
                "encode text columns as numbers first"
            )
        if np.iscomplexobj(arr):
            raise ValueError(f"{name} must be real-valued, got a complex array")
        tensor = _to_tensor(arr)
    if tensor.ndim != 2:
        hint = " (reshape a single feature to (n, 1))" if tensor.ndim == 1 else ""
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got shape {tuple(tensor.shape)}{hint}"
        )
    if tensor.shape[0] == 0:
        raise ValueError(f"{name} has 0 rows; at least one sample is required")
    if tensor.shape[1] == 0:
        raise ValueError(f"{name} has 0 columns; at least one feature is required")
    if dtype is None:
        dtype = tensor.dtype if tensor.dtype in (torch.float32, torch.float64) else torch.float64
    tensor = tensor.to(device=device if device is not None else tensor.device, dtype=dtype)
    if not allow_nonfinite:
        check_finite(name, tensor)
    return tensor, feature_names


def as_target(
    y: Any,
    *,
    name: str = "y",
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Validate a regression target and return it as a 1-D floating tensor.

    Accepts shape ``(n,)`` or ``(n, 1)`` (a pandas Series/DataFrame, NumPy array, tensor or
    list); anything else, non-numeric values and NaN/inf raise ``ValueError``.

    Examples
    --------
    >>> as_target([[1.0], [2.0]]).shape
    torch.Size([2])
    """
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    if isinstance(y, torch.Tensor):
        t = y.detach()
    else:
        arr = np.asarray(y)
        if not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
            raise ValueError(f"{name} must be numeric, got values of type {arr.dtype}")
        t = _to_tensor(arr)
    t = as_target_vector(t, name)
    if dtype is None:
        dtype = t.dtype if t.dtype in (torch.float32, torch.float64) else torch.float64
    t = t.to(device=device if device is not None else t.device, dtype=dtype)
    check_finite(name, t)
    return t


def check_sample_weight(
    sample_weight: Any, n: int, *, device: torch.device | str | None = None
) -> torch.Tensor | None:
    """``sample_weight`` as a float64 ``(n,)`` tensor (None stays None), or ``ValueError``.

    A scalar applies to every row. Weights must be real, finite, non-negative and not all
    zero; the message counts the offending values and names the first row.

    Examples
    --------
    >>> check_sample_weight([1, 2, 0], 3)
    tensor([1., 2., 0.], dtype=torch.float64)
    >>> check_sample_weight([1.0, -1.0], 2)
    Traceback (most recent call last):
    ...
    ValueError: sample_weight must be >= 0; found 1 negative value(s), the first at row 1
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        t = torch.full((n,), float(sample_weight), dtype=torch.float64)
    else:
        if isinstance(sample_weight, torch.Tensor):
            t = sample_weight.detach()
            numeric = not (t.is_complex() or t.dtype == torch.bool)
        else:
            arr = np.asarray(sample_weight)
            numeric = np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
            t = torch.from_numpy(arr.astype(np.float64)) if numeric else torch.empty(0)
        shape = tuple(t.shape) if numeric else np.shape(sample_weight)
        if len(shape) == 2 and shape[1] == 1:
            t, shape = t.reshape(-1), (shape[0],)
        if len(shape) != 1 or shape[0] != n:
            raise ValueError(f"sample_weight must have shape ({n},) to match X, got {shape}")
        if not numeric:
            raise ValueError("sample_weight must hold real numbers")
        t = t.to(torch.float64)
    if device is not None:
        t = t.to(device)
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        raise ValueError(
            f"sample_weight has {int(bad.sum())} NaN/inf value(s); the first is at row "
            f"{int(torch.nonzero(bad)[0])}. Weights must be finite"
        )
    neg = t < 0
    if bool(neg.any()):
        raise ValueError(
            f"sample_weight must be >= 0; found {int(neg.sum())} negative value(s), the "
            f"first at row {int(torch.nonzero(neg)[0])}"
        )
    if float(t.sum()) <= 0:
        raise ValueError("sample_weight sums to zero; give at least one row a positive weight")
    return t
