"""Checks applied at the library's boundary.

Every public entry point (estimators, data generators, readers, the CLI) validates its
arguments here once, so that a user mistake surfaces as a one-line ``ValueError`` that
names the argument, the value and what to do. Inside the library the types are trusted.

A mistake in one argument raises :class:`ParameterError`, a ``ValueError`` that carries
the argument's name (``param``), its value and the settings that would fix it
(``suggestions``) beside the message, so that each interface can name parameters in its
own words: the library as ``val_split`` and ``val_split=0``, the command line as
``--val-split`` and ``--val-split 0`` (see ``docs/errors.md``).
"""

from __future__ import annotations

import math
import numbers
import os
import secrets
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "ParameterError",
    "check_positive_int",
    "check_nonnegative_int",
    "check_positive_float",
    "check_nonnegative_float",
    "check_real",
    "check_fraction",
    "check_seed",
    "check_output_dir",
    "check_finite",
    "overflow_error",
    "check_same_length",
    "as_target_vector",
    "resolve_device",
    "as_feature_matrix",
    "as_target",
]


def _library_name(param: str) -> str:
    return param


def _library_setting(param: str, value: Any) -> str:
    return f"{param}={value!r}"


class ParameterError(ValueError):
    """A wrong value for one parameter, with the message written as a template.

    ``str(error)`` is the message in the library's words. An interface with other names
    for the parameters (the command line's flags) calls :meth:`render` with its own
    spellings; nothing ever parses the text.

    Parameters
    ----------
    param : str
        The parameter at fault, as the function's signature names it.
    template : str
        The message in :meth:`str.format` syntax. Its fields are ``{param}`` (the parameter
        at fault), ``{value}`` (its value; write ``{value!r}`` for the repr), ``{0}``,
        ``{1}``, ... (the suggestions, in order, spelled as settings), a name given in
        ``facts`` (that fact), and any other ``{name}``: the parameter called ``name``.
        Write literal braces doubled.
    value : object, optional
        The value that was refused.
    suggestions : iterable of (str, object), optional
        Settings that would fix the mistake, as ``(parameter, value)`` pairs.
    **facts
        Other things the message shows (counts, paths, column names), kept out of the
        template so that they need no escaping.

    Examples
    --------
    >>> err = ParameterError("val_split", "{param} must lie in [0, 1), got {value!r}; "
    ...                      "pass {0} for no validation rows", value=1.5,
    ...                      suggestions=[("val_split", 0)])
    >>> str(err)
    'val_split must lie in [0, 1), got 1.5; pass val_split=0 for no validation rows'
    >>> err.render(name=lambda p: "--" + p.replace("_", "-"),
    ...            setting=lambda p, v: f"--{p.replace('_', '-')} {v}")
    '--val-split must lie in [0, 1), got 1.5; pass --val-split 0 for no validation rows'
    """

    def __init__(
        self,
        param: str,
        template: str,
        *,
        value: Any = None,
        suggestions: Iterable[tuple[str, Any]] = (),
        **facts: Any,
    ) -> None:
        self.param = param
        self.template = template
        self.value = value
        self.suggestions = tuple((str(p), v) for p, v in suggestions)
        self.facts = facts
        super().__init__(self.render())

    def render(
        self,
        name: Callable[[str], str] = _library_name,
        setting: Callable[[str, Any], str] = _library_setting,
    ) -> str:
        """The message with parameters spelled by ``name(param)`` and the suggestions by
        ``setting(param, value)``; by default the library's spelling."""
        return _Template(self, name, setting).format(self.template)

    def __reduce__(self) -> tuple[Any, ...]:  # keeps the fields across pickling
        return (_rebuild, (self.param, self.template, self.value, self.suggestions, self.facts))


def _rebuild(
    param: str, template: str, value: Any, suggestions: Any, facts: Mapping[str, Any]
) -> ParameterError:
    return ParameterError(param, template, value=value, suggestions=suggestions, **facts)


class _Template(string.Formatter):
    """Fills a :class:`ParameterError` template (the field rules are documented there)."""

    def __init__(
        self,
        error: ParameterError,
        name: Callable[[str], str],
        setting: Callable[[str, Any], str],
    ) -> None:
        self.error, self.name, self.setting = error, name, setting

    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        error = self.error
        if isinstance(key, int):
            return self.setting(*error.suggestions[key])
        if key == "param":
            return self.name(error.param)
        if key == "value":
            return error.value
        if key in error.facts:
            return error.facts[key]
        return self.name(key)


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= 1, else raise :class:`ParameterError`.

    Examples
    --------
    >>> check_positive_int("batch_size", 10)
    10
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ParameterError(name, "{param} must be a positive integer, got {value!r}", value=value)
    return int(value)


def check_nonnegative_int(name: str, value: Any) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= 0, else raise :class:`ParameterError`.

    Examples
    --------
    >>> check_nonnegative_int("epochs", 0)
    0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ParameterError(
            name, "{param} must be a non-negative integer, got {value!r}", value=value
        )
    return int(value)


def check_real(name: str, value: object, requirement: str = "a finite number") -> float:
    """Return ``value`` as a ``float`` if it is a finite real number (not a bool), else
    raise :class:`ParameterError` saying it must be ``requirement``.

    Examples
    --------
    >>> check_real("b", 4)
    4.0
    >>> check_real("b", float("nan"))
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: b must be a finite number, got nan
    """
    if not isinstance(value, bool) and isinstance(value, numbers.Real):
        value = float(value)
        if math.isfinite(value):
            return value
    raise ParameterError(
        name, "{param} must be {requirement}, got {value!r}", value=value, requirement=requirement
    )


def check_positive_float(name: str, value: object) -> float:
    """Return ``value`` as a ``float`` if it is finite and > 0, else raise :class:`ParameterError`.

    Examples
    --------
    >>> check_positive_float("lr", 0.03)
    0.03
    """
    value = check_real(name, value, "a finite number > 0")
    if value <= 0:
        raise ParameterError(
            name, "{param} must be a finite number > 0, got {value!r}", value=value
        )
    return value


def check_nonnegative_float(name: str, value: object) -> float:
    """Return ``value`` as a ``float`` if it is finite and >= 0, else raise :class:`ParameterError`.

    Examples
    --------
    >>> check_nonnegative_float("alpha", 0)
    0.0
    """
    value = check_real(name, value, "a finite number >= 0")
    if value < 0:
        raise ParameterError(
            name, "{param} must be a finite number >= 0, got {value!r}", value=value
        )
    return value


def check_fraction(name: str, value: object, *, inclusive_low: bool = True) -> float:
    """Return ``value`` if it lies in [0, 1) (or (0, 1) with ``inclusive_low=False``).

    Examples
    --------
    >>> check_fraction("val_split", 0.2)
    0.2
    """
    value = check_real(name, value, "a number in [0, 1)")
    low_ok = value >= 0 if inclusive_low else value > 0
    if not (low_ok and value < 1):
        interval = "[0, 1)" if inclusive_low else "(0, 1)"
        raise ParameterError(
            name, "{param} must lie in {interval}, got {value!r}", value=value, interval=interval
        )
    return value


def check_seed(name: str, value: Any) -> int:
    """Return a seed: ``value`` if it is an integer >= 0, a fresh random one for ``None``.

    Examples
    --------
    >>> check_seed("seed", 7)
    7
    >>> 0 <= check_seed("seed", None) < 2**31
    True
    """
    if value is None:
        return secrets.randbelow(2**31)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ParameterError(
            name, "{param} must be a non-negative integer or None, got {value!r}", value=value
        )
    return int(value)


def check_random_state(name: str, value: Any) -> int | None:
    """An estimator's ``random_state`` as a seed: None, an integer >= 0, or a NumPy
    ``RandomState``/``Generator`` (which draws one); anything else is refused.

    Examples
    --------
    >>> check_random_state("random_state", 3), check_random_state("random_state", None)
    (3, None)
    >>> check_random_state("random_state", 1.5)
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: random_state must be None, an integer >= 0 or a numpy RandomState, got 1.5
    """  # noqa: E501
    if value is None:
        return None
    if isinstance(value, np.random.RandomState):
        return int(value.randint(0, 2**31 - 1))
    if isinstance(value, np.random.Generator):
        return int(value.integers(0, 2**31 - 1))
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ParameterError(
            name,
            "{param} must be None, an integer >= 0 or a numpy RandomState, got {value!r}",
            value=value,
        )
    return int(value)


def check_tensor_storage(name: str, tensor: torch.Tensor) -> None:
    """Refuse a tensor without values (device ``meta``) or with a sparse layout.

    Examples
    --------
    >>> check_tensor_storage("X", torch.empty(2, 2, device="meta"))
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: X is a meta tensor (a shape without values); pass a tensor that holds data
    """  # noqa: E501
    if tensor.is_meta:
        raise ParameterError(
            name, "{param} is a meta tensor (a shape without values); pass a tensor that holds data"
        )
    if tensor.layout != torch.strided:
        raise ParameterError(
            name,
            "{param} is a sparse tensor ({layout}); pass a dense one, e.g. {param}.to_dense()",
            layout=str(tensor.layout).removeprefix("torch."),
        )


def resolved_path(name: str, path: str | os.PathLike[str]) -> Path:
    """``path`` with its symbolic links followed; a loop of links is refused naming ``name``.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "a").symlink_to(folder / "b"); (folder / "b").symlink_to(folder / "a")
    >>> resolved_path("out", folder / "a")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: out '...a' is a symbolic link that leads ...
    >>> resolved_path("out", "")
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: out is empty; give a path
    """
    if isinstance(path, str) and not path.strip():  # Path("") would be the current folder
        raise ParameterError(name, "{param} is empty; give a path", value=path)
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError):  # a loop: RuntimeError before Python 3.13, then OSError
        raise ParameterError(
            name,
            "{param} {path!r} is a symbolic link that leads back to itself (a loop); remove "
            "the link or choose another {param}",
            path=str(path),
        ) from None


def check_output_dir(name: str, path: str | os.PathLike[str]) -> Path:
    """Return ``path`` if it is, or can become, a folder we may write in; create nothing.

    A file in the way, or no permission to create the folder in its nearest existing
    ancestor, raises :class:`ParameterError` naming ``name``.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> check_output_dir("out", folder / "run" / "1") == folder / "run" / "1"
    True
    >>> (folder / "taken").write_text("x")
    1
    >>> check_output_dir("out", folder / "taken")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: out '...taken' is a file, not a folder; choose ...
    """
    resolved_path(name, path)
    path = Path(path)
    ancestor = path.absolute()
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor == path.absolute() and not path.is_dir():
        raise ParameterError(
            name, "{param} {path!r} is a file, not a folder; choose a folder path", path=str(path)
        )
    if not ancestor.is_dir():
        raise ParameterError(
            name,
            "{param} {path!r} cannot be created: {ancestor!r} is a file, not a folder; "
            "choose another folder",
            path=str(path),
            ancestor=str(ancestor),
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ParameterError(
            name,
            "{param} {path!r} is not writable (no permission to create files in {ancestor!r}); "
            "choose another folder",
            path=str(path),
            ancestor=str(ancestor),
        )
    return path


def check_finite(name: str, values: np.ndarray | torch.Tensor) -> None:
    """Raise :class:`ParameterError` if ``values`` holds NaN or infinity.

    The message counts the offending entries and names the first one's row (and column
    for 2-D input), so the user can find it in their file.

    Examples
    --------
    >>> import numpy as np
    >>> check_finite("X", np.array([[1.0, 2.0], [3.0, np.nan]]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: X has 1 NaN/inf value(s); the first is at row 1, ...
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
    raise ParameterError(
        name,
        "{param} has {count} NaN/inf value(s); the first is at {where}. Remove or impute them.",
        count=count,
        where=where,
    )


def overflow_error(weighted: bool = False) -> ValueError:
    """The error for data whose squares or sums overflow float64: values near 1e154 or
    beyond, which least squares, the quantile LP's interior point and squared metrics
    cannot hold (``weighted``: or weights that make the weighted sums so large).

    Examples
    --------
    >>> str(overflow_error())[:48]
    'the sums of squares overflow float64 (values of '
    >>> str(overflow_error(weighted=True)).split("; ")[1]
    'rescale X and y, or sample_weight (only their ratios matter), before fitting'
    """
    if weighted:
        return ParameterError(
            "sample_weight",
            "the weighted sums of squares overflow float64 (values of X or y near 1e154, or "
            "{param} so large that weight times square passes 1e308); rescale X and y, or "
            "{param} (only their ratios matter), before fitting",
        )
    return ValueError(
        "the sums of squares overflow float64 (values of X or y near 1e154 or beyond); "
        "rescale X and y before fitting"
    )


def check_same_length(X: Sequence[Any] | np.ndarray | torch.Tensor, y: Any) -> None:
    """Raise :class:`ParameterError` unless ``X`` and ``y`` have the same number of rows.

    Examples
    --------
    >>> check_same_length([[1.0]] * 3, [1.0, 2.0])
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: y has 2 rows but X has 3
    """
    n_x, n_y = len(X), len(y)
    if n_x != n_y:
        raise ParameterError("y", "{param} has {n_y} rows but {X} has {n_x}", n_y=n_y, n_x=n_x)


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
        raise ParameterError(
            name,
            "{param} must have shape (n,) or (n, 1), got {shape}; fit one model per target column",
            shape=tuple(y.shape),
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
        raise ParameterError(
            "device",
            "{param} must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {value!r}",
            value=device,
        ) from exc
    if dev.type not in ("cpu", "cuda", "mps"):  # meta, xpu, hpu, ...: nothing runs there
        raise ParameterError(
            "device",
            "{param} must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {value!r}",
            value=device,
        )
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(
            "device",
            "{param} {value!r} was requested but CUDA is not available; use {0}",
            value=device,
            suggestions=[("device", "cpu")],
        )
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ParameterError(
                "device",
                "{param} {value!r} was requested but MPS is not available; use {0}",
                value=device,
                suggestions=[("device", "cpu")],
            )
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
        raise ParameterError(
            name,
            "{param} has non-numeric column(s) {bad}; encode them as numbers (e.g. one-hot) "
            "or drop them",
            bad=", ".join(map(repr, bad)),
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
    tensor = _real_tensor(X, name)
    if tensor.ndim != 2:
        hint = " (reshape a single feature to (n, 1))" if tensor.ndim == 1 else ""
        raise ParameterError(
            name,
            "{param} must be 2-D (n_samples, n_features), got shape {shape}{hint}",
            shape=tuple(tensor.shape),
            hint=hint,
        )
    if tensor.shape[0] == 0:
        raise ParameterError(name, "{param} has 0 rows; at least one sample is required")
    if tensor.shape[1] == 0:
        raise ParameterError(name, "{param} has 0 columns; at least one feature is required")
    if dtype is None:
        dtype = tensor.dtype if tensor.dtype in (torch.float32, torch.float64) else torch.float64
    tensor = tensor.to(device=device if device is not None else tensor.device, dtype=dtype)
    if not allow_nonfinite:
        check_finite(name, tensor)
    return tensor, feature_names


def _real_tensor(X: Any, name: str) -> torch.Tensor:
    """A tensor (detached) or anything NumPy reads as a real numeric array, as a tensor."""
    if isinstance(X, torch.Tensor):
        check_tensor_storage(name, X)
        tensor = X.detach()
        if tensor.is_complex():
            raise ParameterError(name, "{param} must be real-valued, got a complex tensor")
        return tensor
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            name, "{param} could not be read as a numeric array: {reason}", reason=exc
        ) from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ParameterError(
            name,
            "{param} must be numeric, got values of type {dtype}; "
            "encode text columns as numbers first",
            dtype=arr.dtype,
        )
    if np.iscomplexobj(arr):
        raise ParameterError(name, "{param} must be real-valued, got a complex array")
    return _to_tensor(arr)


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
        check_tensor_storage(name, y)
        t = y.detach()
    else:
        arr = np.asarray(y)
        if not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
            raise ParameterError(
                name, "{param} must be numeric, got values of type {dtype}", dtype=arr.dtype
            )
        t = _to_tensor(arr)
    t = as_target_vector(t, name)
    if dtype is None:
        dtype = t.dtype if t.dtype in (torch.float32, torch.float64) else torch.float64
    t = t.to(device=device if device is not None else t.device, dtype=dtype)
    check_finite(name, t)
    return t


def check_sample_weight(
    sample_weight: Any,
    n: int,
    *,
    device: torch.device | str | None = None,
    allow_zero_sum: bool = False,
) -> torch.Tensor | None:
    """``sample_weight`` as a float64 ``(n,)`` tensor (None stays None), or ``ValueError``.

    The one check of sample weights for every estimator and entry point. A scalar applies
    to every row. Weights must be real, finite, non-negative and not all zero (unless
    ``allow_zero_sum``: one rank's share of the rows may weigh nothing); the message counts
    the offending values and names the first row.

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
            check_tensor_storage("sample_weight", sample_weight)
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
    if not allow_zero_sum and float(t.sum()) <= 0:
        raise ValueError("sample_weight sums to zero; give at least one row a positive weight")
    return t
