"""The scikit-learn estimator protocol, implemented without importing scikit-learn.

Importing scikit-learn loads SciPy's statistics and pandas: about 2 s and 140 MB, more than
half of what a command-line fit costs before it reads its first row. The estimators
therefore implement the protocol scikit-learn documents for third-party estimators —
``get_params``/``set_params``, ``__sklearn_tags__``, ``score``, metadata requests — in
plain Python, and import scikit-learn only where one of its objects is the answer:

* inside ``__sklearn_tags__`` and ``get_metadata_routing``, which only scikit-learn calls
  (so it is already imported);
* when ``score`` is called, when sparse input or a cross-validation splitter is given
  (scikit-learn validates them), and when a convergence or data-conversion warning or a
  not-fitted error is raised: users filter and catch scikit-learn's own classes, so the
  warnings and the error are scikit-learn's.

A command-line fit, evaluation or prediction reaches none of these unless it warns.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from torchlinear._format import warn_with_params

__all__ = [
    "BaseEstimator",
    "ClassifierMixin",
    "RegressorMixin",
    "check_class_labels",
    "check_is_fitted",
    "is_sparse",
    "target_vector",
    "warn_convergence",
]

#: Arguments of a method that are data, not metadata (scikit-learn's convention).
_DATA_ARGUMENTS = frozenset({"self", "X", "y", "Y", "Xt", "yt"})
#: The methods whose metadata a meta-estimator can route (scikit-learn's simple methods).
_ROUTED_METHODS = (
    "fit",
    "partial_fit",
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "score",
    "split",
    "transform",
    "inverse_transform",
)


class BaseEstimator:
    """Parameters, representation, tags and metadata requests of an estimator.

    The constructor's arguments are the parameters: ``__init__`` stores each under its own
    name and does nothing else, so :func:`sklearn.base.clone` rebuilds an estimator from
    ``get_params()``.
    """

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The constructor's parameter names, sorted (``*args`` is not allowed)."""
        init = cls.__init__
        if init is object.__init__:
            return []
        names = []
        for p in inspect.signature(init).parameters.values():
            if p.kind == p.VAR_POSITIONAL:
                raise RuntimeError(
                    f"{cls.__name__}.__init__ takes *args; estimator parameters must be "
                    "named in the signature"
                )
            if p.name != "self" and p.kind != p.VAR_KEYWORD:
                names.append(p.name)
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's parameters; with ``deep``, those of nested estimators too, as
        ``name__parameter``."""
        params: dict[str, Any] = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            params[name] = value
        return params

    def set_params(self, **params: Any) -> Any:
        """Set parameters (``name__parameter`` reaches a nested estimator); returns self."""
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, nests, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {self}. Valid parameters "
                    f"are: {self._get_param_names()!r}."
                )
            if nests:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        """``Name(p=value, ...)`` with the parameters that differ from the defaults."""
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.default is not p.empty
        }
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params(deep=False).items()
            if name not in defaults or not _same_default(value, defaults[name])
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import Tags, TargetTags  # only scikit-learn calls this

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=None,
            regressor_tags=None,
            classifier_tags=None,
        )

    # --- metadata routing (scikit-learn's ``set_{method}_request``) -------------------

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for method in _ROUTED_METHODS:
            if _metadata_of(cls, method) and f"set_{method}_request" not in cls.__dict__:
                setattr(cls, f"set_{method}_request", _request_setter(method))

    def get_metadata_routing(self) -> Any:
        """The metadata each method consumes, and what was requested with
        ``set_{method}_request`` (a :class:`sklearn.utils.metadata_routing.MetadataRequest`)."""
        from sklearn.utils.metadata_routing import MetadataRequest  # scikit-learn calls this

        request = MetadataRequest(owner=type(self).__name__)
        chosen = self.__dict__.get("_metadata_request", {})
        for method in _ROUTED_METHODS:
            for param in _metadata_of(type(self), method):
                alias = chosen.get(method, {}).get(param)
                getattr(request, method).add_request(param=param, alias=alias)
        return request


def _same_default(value: Any, default: Any) -> bool:
    if repr(value) == repr(default):
        return True
    return _is_nan(value) and _is_nan(default)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def _metadata_of(cls: type, method: str) -> list[str]:
    """The metadata arguments of ``cls.method`` (named arguments that are not data)."""
    function = getattr(cls, method, None)
    if not callable(function):
        return []
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in parameters
        if p.name not in _DATA_ARGUMENTS and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _request_setter(method: str) -> Any:
    def set_request(self: BaseEstimator, **requests: bool | str | None) -> BaseEstimator:
        # scikit-learn only when asked (see the module docstring)
        from sklearn import get_config

        if not get_config().get("enable_metadata_routing", False):
            raise RuntimeError(
                "This method is only available when metadata routing is enabled: "
                "sklearn.set_config(enable_metadata_routing=True)"
            )
        known = _metadata_of(type(self), method)
        unknown = sorted(set(requests) - set(known))
        if unknown:
            raise TypeError(
                f"{type(self).__name__}.set_{method}_request got unexpected argument(s) "
                f"{unknown}; {method} takes {known}"
            )
        for param, alias in requests.items():
            if not (alias is None or isinstance(alias, bool) or str(alias).isidentifier()):
                raise ValueError(
                    f"the request for {param!r} must be True, False, None or an identifier, "
                    f"got {alias!r}"
                )
        chosen = self.__dict__.get("_metadata_request")
        if not isinstance(chosen, _Requests):
            chosen = self.__dict__["_metadata_request"] = _Requests()
        chosen.setdefault(method, {}).update(requests)
        return self

    set_request.__name__ = set_request.__qualname__ = f"set_{method}_request"
    set_request.__doc__ = (
        f"Request metadata passed to ``{method}`` by a meta-estimator (scikit-learn's "
        "metadata routing, which must be enabled): ``True`` to receive it, ``False`` not "
        "to, a string to receive it under another name; returns self."
    )
    return set_request


class _Requests(dict):
    """The metadata requests set on an estimator, ``{method: {param: alias}}``;
    :func:`sklearn.base.clone` hands a copy to the clone, as it does scikit-learn's own."""

    def __sklearn_clone__(self) -> _Requests:
        return _Requests({method: dict(chosen) for method, chosen in self.items()})


class RegressorMixin:
    """A regressor: R² as ``score``, and the regressor tags."""

    def __sklearn_tags__(self) -> Any:
        return _kind_tags(super().__sklearn_tags__(), "regressor")  # type: ignore[misc]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Coefficient of determination R² of ``self.predict(X)`` against ``y``."""
        return _score(self, X, y, sample_weight, "r2_score")


class ClassifierMixin:
    """A classifier: accuracy as ``score``, and the classifier tags."""

    def __sklearn_tags__(self) -> Any:
        return _kind_tags(super().__sklearn_tags__(), "classifier")  # type: ignore[misc]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of ``self.predict(X)`` against ``y`` (weighted by ``sample_weight``)."""
        return _score(self, X, y, sample_weight, "accuracy_score")


def _kind_tags(tags: Any, kind: str) -> Any:
    """``tags`` of a regressor or classifier (a target is required)."""
    from sklearn.utils import ClassifierTags, RegressorTags  # only scikit-learn calls this

    tags.estimator_type = kind
    if kind == "regressor":
        tags.regressor_tags = RegressorTags()
    else:
        tags.classifier_tags = ClassifierTags()
    tags.target_tags.required = True
    return tags


def _score(est: Any, X: Any, y: Any, sample_weight: Any, metric: str) -> float:
    """scikit-learn's ``metric`` of ``est.predict(X)`` against ``y``."""
    from sklearn import metrics  # scoring is for Python callers

    return float(getattr(metrics, metric)(y, est.predict(X), sample_weight=sample_weight))


def check_is_fitted(estimator: Any, attribute: str | None = None) -> None:
    """Raise scikit-learn's ``NotFittedError`` unless ``estimator`` is fitted: it has
    ``attribute`` or, without one, any public attribute ending in ``_``."""
    if attribute is not None:
        fitted = hasattr(estimator, attribute)
    elif hasattr(estimator, "__sklearn_is_fitted__"):
        fitted = bool(estimator.__sklearn_is_fitted__())
    else:
        fitted = any(k.endswith("_") and not k.startswith("__") for k in vars(estimator))
    if not fitted:
        from sklearn.exceptions import NotFittedError  # the error callers catch

        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator."
        )


def warn_convergence(message: str, stacklevel: int = 2, *, params: Sequence[str] = ()) -> None:
    """Warn with scikit-learn's ``ConvergenceWarning`` (the class users filter on).

    ``message`` may name parameters as ``{name}`` fields, each listed in ``params`` (the
    advice "raise {max_iter}"): the warning reads them in the library's spelling, and keeps
    the template so that a caller with other spellings (the command line's flags) can
    re-spell it with :func:`torchlinear._format.render_warning`. Nothing else in the message
    is a field.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_convergence("stopped after 5 steps; raise {max_iter}", params=["max_iter"])
    >>> str(caught[0].message)
    'stopped after 5 steps; raise max_iter'
    >>> from torchlinear._format import render_warning
    >>> render_warning(caught[0].message, lambda p: "--epochs")
    'stopped after 5 steps; raise --epochs'
    """
    # scikit-learn only when a fit warns (see the module docstring)
    from sklearn.exceptions import ConvergenceWarning

    warn_with_params(ConvergenceWarning, message, params, stacklevel=stacklevel + 1)


def is_sparse(X: Any) -> bool:
    """Whether ``X`` is a scipy.sparse matrix or array (without importing scipy.sparse:
    nothing can be one unless it is loaded)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(X))


def target_vector(y: Any, *, stacklevel: int = 2) -> Any:
    """``y`` as a 1-D NumPy array: ``(n,)`` as it is; ``(n, 1)`` flattened with
    scikit-learn's ``DataConversionWarning``; any other shape refused."""
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if arr.ndim == 1:
        return arr
    if arr.ndim == 2 and arr.shape[1] == 1:
        from sklearn.exceptions import DataConversionWarning  # the class users filter on

        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the "
            "shape of y to (n_samples,), for example using ravel().",
            DataConversionWarning,
            stacklevel=stacklevel + 1,
        )
        return arr.ravel()
    raise ValueError(f"y should be a 1d array, got an array of shape {arr.shape} instead.")


def check_class_labels(y: Any) -> None:
    """Refuse targets that are not class labels: non-finite numbers, and numbers with a
    fractional part (a regression target), in the words scikit-learn's checks expect."""
    kind = y.dtype.kind
    if kind == "c":
        raise ValueError("Complex data not supported: class labels must be real or strings")
    if kind == "f":
        if not np.isfinite(y).all():
            raise ValueError("Input y contains NaN or infinity.")
        fractional = y != np.round(y)
        if fractional.any():
            row = int(np.argmax(fractional))
            raise ValueError(
                f"Unknown label type: continuous. y holds numbers with a fractional part "
                f"({float(y[row]):g} at row {row}), not class labels; a classifier needs "
                "whole numbers or strings as labels: for a continuous target use a regressor"
            )
    if kind == "O":
        types = {type(v) for v in y.tolist()}
        if len(types) > 1 and not all(issubclass(t, int | float | bool) for t in types):
            raise ValueError(
                "Unknown label type: mixed. The labels mix types "
                f"({', '.join(sorted(t.__name__ for t in types))}); make them all strings "
                "or all numbers"
            )
