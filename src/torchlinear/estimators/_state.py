"""Estimators save and restore their own fitted state: tensors plus JSON-able metadata.

:meth:`StatefulMixin.get_state` returns ``(tensors, meta)``: every fitted attribute (the
names scikit-learn gives them, ending in ``_``) encoded by its type — arrays and tensors as
float tensors, labels and names as JSON lists with their dtype, numbers and strings as
JSON, a :class:`~torchlinear.engine.History` or :class:`~torchlinear.engine.TrainConfig`
as its dict — plus what the class adds through :meth:`~StatefulMixin._extra_state` (the
exact solution, a network's weights). :meth:`StatefulMixin.from_state` builds the fitted
estimator back from exactly that; nothing outside the estimator sets its attributes, and
nothing is ever unpickled.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from torchlinear._schema import (
    Anything,
    Bool,
    Either,
    Int,
    ListOf,
    MapOf,
    Null,
    Num,
    Record,
    Spec,
    Str,
    Tagged,
)
from torchlinear._sklearn_protocol import check_is_fitted
from torchlinear.engine import History, TrainConfig

if TYPE_CHECKING:
    from torchlinear.io import DeferredTensors

__all__ = ["ATTRIBUTES", "LABEL", "StatefulMixin", "state_params"]

#: Attribute types that are encoded as JSON values.
_PLAIN = (bool, int, float, str, type(None))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def state_params(est: Any) -> dict[str, Any]:
    """The estimator's constructor parameters that JSON can hold (others are left out).

    Examples
    --------
    >>> from torchlinear import LinearRegression
    >>> state_params(LinearRegression(alpha=2.0))["alpha"]
    2.0
    """
    out: dict[str, Any] = {}
    for key, value in est.get_params(deep=False).items():
        value = _plain(value)
        if isinstance(value, torch.device):
            value = str(value)
        if isinstance(value, _PLAIN):
            out[key] = value
        elif isinstance(value, Mapping):  # e.g. class_weight
            out[key] = {str(k): float(v) for k, v in value.items()}
    return out


def _encode(name: str, value: Any, tensors: dict[str, torch.Tensor]) -> dict[str, Any] | None:
    """One attribute as a JSON entry (its tensor goes into ``tensors``); None: not stored."""
    value = _plain(value)
    if isinstance(value, _PLAIN):
        return {"value": value}
    if isinstance(value, torch.device):
        return {"device": str(value)}
    if isinstance(value, History):
        return {"history": value.to_dict()}
    if isinstance(value, TrainConfig):
        return {"config": value.to_dict()}
    if isinstance(value, torch.Tensor):
        tensors[name] = value.detach().cpu().contiguous()
        return {"tensor": name, "kind": "tensor"}
    if isinstance(value, list | tuple) and all(isinstance(_plain(v), _PLAIN) for v in value):
        return {"list": [_plain(v) for v in value]}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            tensors[name] = torch.from_numpy(np.ascontiguousarray(value))
            return {"tensor": name, "kind": "array"}
        values = [_plain(v) for v in value.reshape(-1).tolist()]
        if all(isinstance(v, _PLAIN) for v in values):
            return {"labels": values, "dtype": value.dtype.str, "shape": list(value.shape)}
    return None


def _decode(entry: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> Any:
    if "value" in entry:
        return entry["value"]
    if "device" in entry:
        return torch.device("cpu")  # restored models live on the CPU
    if "history" in entry:
        return History.from_dict(entry["history"])
    if "config" in entry:
        return TrainConfig.from_dict(entry["config"])
    if "tensor" in entry:
        t = tensors[entry["tensor"]]
        return t if entry.get("kind") == "tensor" else t.numpy()
    if "list" in entry:
        return list(entry["list"])
    if "labels" in entry:
        return _decode_labels(entry["labels"], entry["dtype"], entry.get("shape"))
    raise ValueError(f"unknown attribute encoding {sorted(entry)}")


#: One class label or name: a string, a number or a boolean.
LABEL: Spec = Either((Str(), Num(nan=True), Bool()), "a label (a string, a number or a boolean)")


def _entries(**kinds: Spec) -> Tagged:
    """An attribute's entry, in one of the encodings of :func:`_encode` (by its key)."""
    every: dict[str, Spec] = {
        "value": Record({"value": kinds.get("value", Anything())}),
        "list": Record({"list": kinds.get("list", ListOf(LABEL))}),
        "tensor": Record({"tensor": Str(), "kind": Str(("array", "tensor"))}),
        "labels": Record(
            {"labels": ListOf(LABEL), "dtype": Str(), "shape": ListOf(Int(low=0))},
            optional=("shape",),
        ),
        "history": Record({"history": History.SCHEMA}),
        "config": Record({"config": MapOf()}),
        "device": Record({"device": Str()}),
    }
    return Tagged({k: every[k] for k in kinds})


_ARRAY = _entries(tensor=Anything())
_COUNT = _entries(value=Int(low=0))

#: What each fitted attribute a model file may hold must be, as its encoded entry (see
#: :func:`_encode`); an attribute not named here is refused. The names mean the same in
#: every estimator, as in scikit-learn.
ATTRIBUTES: dict[str, Spec] = {
    "coef_": _ARRAY,
    "intercept_": _entries(value=Num(), tensor=Anything()),
    "classes_": _entries(labels=Anything(), tensor=Anything()),
    "feature_names_in_": _entries(labels=Anything()),
    "n_features_in_": _entries(value=Int(low=1)),
    "n_outputs_": _entries(value=Int(low=1)),
    "n_iter_": _COUNT,
    "rank_": _COUNT,
    "cond_": _entries(value=Num(low=0, nan=True)),
    "solver_": _entries(value=Str()),
    "cov_type_": _entries(value=Str(("nonrobust", "HC0", "HC1", "HC2", "HC3"))),
    "converged_": _entries(value=Bool()),
    "alpha_": _entries(value=Num(low=0)),
    "alpha_1se_": _entries(value=Num(low=0)),
    "l1_ratio_": _entries(value=Num(low=0, high=1)),
    "alphas_": _ARRAY,
    "mse_path_": _ARRAY,
    "dual_gap_": _entries(value=Num(nan=True)),
    "objective_": _entries(value=Num(nan=True)),
    "scale_": _entries(value=Num(low=0, nan=True)),
    "outliers_": _ARRAY,
    "class_weight_": _ARRAY,
    "loss_curve_": _entries(list=ListOf(Num(nan=True))),
    "history_": _entries(value=Null(), history=Anything()),
    "train_config_": _entries(config=Anything()),
    "device_": _entries(device=Anything()),
}

_LABEL_KINDS = "biufUSO"
_LABEL_SLACK_BYTES = 1 << 24


def _decode_labels(labels: Any, dtype_spec: Any, shape: Any) -> np.ndarray:
    """Labels saved as a JSON list, checked before any array is allocated.

    The dtype must be one labels can have (bool, integer, float, string or object); a
    string dtype wider than the longest label needs is accepted only while the whole array
    stays small, so a crafted dtype cannot allocate gigabytes.
    """
    if not isinstance(labels, list) or not all(isinstance(v, _PLAIN) for v in labels):
        raise ValueError("labels must be a flat list of numbers or strings")
    if not isinstance(dtype_spec, str) or len(dtype_spec) > 16:
        raise ValueError(f"invalid labels dtype {dtype_spec!r}")
    try:
        dtype = np.dtype(dtype_spec)
    except TypeError as exc:
        raise ValueError(f"invalid labels dtype {dtype_spec!r}") from exc
    if dtype.kind not in _LABEL_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"labels dtype {dtype_spec!r} is not a labels dtype")
    if shape is None:
        shape = [len(labels)]
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError(f"invalid labels shape {shape!r}")
    if int(np.prod(shape, dtype=object)) != len(labels):
        raise ValueError(f"labels shape {shape} does not hold {len(labels)} labels")
    if dtype.kind == "O":
        out = np.empty(len(labels), dtype=object)
        out[:] = labels
        return out.reshape(shape)
    natural = np.asarray(labels)
    if dtype.itemsize > natural.dtype.itemsize and dtype.itemsize * len(labels) > (
        _LABEL_SLACK_BYTES
    ):
        raise ValueError(f"labels dtype {dtype_spec!r} is far wider than {len(labels)} labels need")
    return natural.astype(dtype).reshape(shape)


class StatefulMixin:
    """Save and restore a fitted estimator as ``(tensors, meta)`` (see the module notes)."""

    def _extra_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """State beyond the fitted attributes (private, or needing a special encoding)."""
        return {}, {}

    def _load_extra_state(
        self,
        tensors: Mapping[str, torch.Tensor],
        extra: Mapping[str, Any],
        deferred: DeferredTensors | None = None,
    ) -> None:
        """Restore what :meth:`_extra_state` saved (after the fitted attributes); the
        tensors of :attr:`inference_state` may be in ``deferred`` instead, to be read on
        first use."""

    #: Fitted attributes stored by :meth:`_extra_state` instead of the generic encoding.
    _special_state: tuple[str, ...] = ()

    #: Tensors of the state (names as :meth:`get_state` gives them) that only inference
    #: beyond prediction reads (a summary, intervals): a model file is loaded without
    #: them, and they are read from it when first needed, so predicting with a model
    #: never pays for, say, a d x d factor.
    inference_state: tuple[str, ...] = ()

    #: What :meth:`_extra_state` writes (nothing by default).
    _extra_schema: Spec = Record({})

    @classmethod
    def state_schema(cls) -> Spec:
        """What :meth:`get_state`'s ``meta`` holds, for checking a model file before
        :meth:`from_state` reads it (see :mod:`torchlinear._schema`).

        Examples
        --------
        >>> from torchlinear import LinearRegression
        >>> from torchlinear._schema import check_document
        >>> X = np.array([[0.0], [1.0], [2.0]])
        >>> _, meta = LinearRegression().fit(X, 2 * X[:, 0]).get_state()
        >>> meta["attributes"]["rank_"] = {"value": -1}
        >>> check_document(meta, LinearRegression.state_schema())
        Traceback (most recent call last):
        ...
        torchlinear._schema.SchemaError: 'attributes.rank_.value' must be an integer >= 0, got -1
        """
        return Record(
            {
                "class": Str((cls.__name__,)),
                "params": MapOf(),
                "attributes": Record(ATTRIBUTES, optional=tuple(ATTRIBUTES)),
                "extra": cls._extra_schema,
            }
        )

    def _finish_fit(self) -> None:
        """Complete what a fit left to be computed on first use (nothing by default)."""

    def get_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The fitted state: ``(tensors, meta)``, where ``meta`` is JSON-serialisable.

        Examples
        --------
        >>> from torchlinear import LinearRegression
        >>> X = np.array([[0.0], [1.0], [2.0]])
        >>> tensors, meta = LinearRegression().fit(X, 2 * X[:, 0]).get_state()
        >>> meta["class"], sorted(meta["attributes"])[:3]
        ('LinearRegression', ['coef_', 'cond_', 'cov_type_'])
        """
        check_is_fitted(self)
        self._finish_fit()
        tensors: dict[str, torch.Tensor] = {}
        attributes: dict[str, Any] = {}
        for name, value in vars(self).items():
            if not name.endswith("_") or name.startswith("_") or name in self._special_state:
                continue
            entry = _encode(f"attr.{name}", value, tensors)
            if entry is None:
                raise ValueError(
                    f"{type(self).__name__}.{name} of type {type(value).__name__} cannot be "
                    "saved; use integer, float, string or boolean values"
                )
            attributes[name] = entry
        extra_tensors, extra = self._extra_state()
        tensors.update({f"extra.{k}": v for k, v in extra_tensors.items()})
        meta = {
            "class": type(self).__name__,
            "params": state_params(self),
            "attributes": attributes,
            "extra": extra,
        }
        return tensors, meta

    @classmethod
    def from_state(
        cls,
        tensors: Mapping[str, torch.Tensor],
        meta: Mapping[str, Any],
        *,
        deferred: DeferredTensors | None = None,
    ) -> StatefulMixin:
        """A fitted estimator from :meth:`get_state`'s output (the tensors of
        :attr:`inference_state` may be left in a model file: ``deferred``).

        Raises
        ------
        ValueError
            When ``meta`` describes another class, holds parameters ``fit`` would refuse
            (unknown names, values out of range), or entries that do not fit the tensors,
            so that the restored model cannot predict a row of zeros.

        Examples
        --------
        >>> from torchlinear import LinearRegression
        >>> X = np.array([[0.0], [1.0], [2.0]])
        >>> model = LinearRegression().fit(X, 2 * X[:, 0] + 1)
        >>> LinearRegression.from_state(*model.get_state()).predict([[3.0]]).round(12)
        array([7.])
        """
        if meta.get("class") != cls.__name__:
            raise ValueError(f"the state is of a {meta.get('class')!r}, not a {cls.__name__}")
        params = dict(meta.get("params") or {})
        try:
            est = cls(**params)
        except TypeError:
            unknown = sorted(set(params) - set(cls().get_params(deep=False)))  # type: ignore[attr-defined]
            raise ValueError(f"{cls.__name__} has no parameter(s) {unknown}") from None
        est._check_params()  # the values fit() would accept, or the file is refused
        try:
            for name, entry in (meta.get("attributes") or {}).items():
                if not isinstance(name, str) or not name.endswith("_") or name.startswith("_"):
                    raise ValueError(f"invalid attribute name {name!r}")
                setattr(est, name, _decode(entry, tensors))
            extra_tensors = {k[6:]: v for k, v in tensors.items() if k.startswith("extra.")}
            later = None if deferred is None else deferred.within("extra.")
            est._load_extra_state(extra_tensors, meta.get("extra") or {}, later)
        except (TypeError, KeyError, IndexError, RuntimeError, AttributeError) as exc:
            raise ValueError(f"the state does not fit a {cls.__name__} ({exc})") from None
        est._check_restored()
        return est

    def _check_params(self) -> Any:
        """Check the constructor parameters as ``fit`` does (each estimator defines it)."""

    def _check_restored(self) -> None:
        """Refuse a restored state that cannot predict: one row of zeros must give a finite
        output (and for a classifier one probability per class and a known label), so that
        attributes which contradict each other fail at load time, not at the first
        ``predict``."""
        n = getattr(self, "n_features_in_", None)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n_features_in_ must be a positive integer, got {n!r}")
        coef: Any = getattr(self, "coef_", None)
        intercept: Any = getattr(self, "intercept_", None)
        if coef is not None and (
            np.ndim(coef) not in (1, 2)
            or np.shape(coef)[-1] != n
            or np.shape(intercept) != np.shape(coef)[:-1]
        ):
            raise ValueError(
                f"coef_ of shape {list(np.shape(coef))} and intercept_ of shape "
                f"{list(np.shape(intercept))} do not form a linear model on {n} features"
            )
        row = np.zeros((1, n))
        est: Any = self
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. a row without the feature names
                label = np.asarray(est.predict(row))
                proba = est.predict_proba(row) if hasattr(est, "predict_proba") else label
                out = np.asarray(proba)
        except Exception as exc:  # whatever the contradiction, the state is refused
            reason = f"{type(exc).__name__}: {exc}"
            raise ValueError(f"the restored model cannot predict ({reason})") from None
        classes = getattr(est, "classes_", None)
        # compared as Python values: NumPy would turn a label into a fixed-width string,
        # which drops a trailing NUL character
        if classes is not None and (
            out.shape != (1, len(classes))
            or label.shape != (1,)
            or label.tolist()[0] not in np.asarray(classes).tolist()
        ):
            raise ValueError(f"the restored model predicts none of its {len(classes)} classes")
        if out.dtype.kind != "f" or len(out) != 1 or not np.isfinite(out).all():
            raise ValueError("the restored model predicts no finite numbers for a row of zeros")
