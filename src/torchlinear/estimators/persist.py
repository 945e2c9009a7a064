"""Model files for fitted estimators: each estimator's own state, written by
:func:`torchlinear.io.save_model` (safetensors weights plus a JSON sidecar).

The sidecar holds the estimator's class, parameters and fitted attributes exactly as
:meth:`~torchlinear.estimators._state.StatefulMixin.get_state` returns them, plus the
caller's metadata; loading builds the estimator back with its class's
:meth:`~torchlinear.estimators._state.StatefulMixin.from_state`. Nothing is unpickled.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from torchlinear import io
from torchlinear._schema import (
    Anything,
    Int,
    ListOf,
    MapOf,
    Maybe,
    Record,
    SchemaError,
    Spec,
    Str,
    Switch,
    check_document,
)
from torchlinear.data.tabular import Task
from torchlinear.engine import History
from torchlinear.estimators._state import LABEL
from torchlinear.estimators.linear import LinearRegression
from torchlinear.estimators.mlp import MLPClassifier, MLPRegressor
from torchlinear.estimators.penalized import ElasticNet, ElasticNetCV, Lasso, LassoCV
from torchlinear.estimators.robust import HuberRegressor, QuantileRegressor
from torchlinear.estimators.softmax import SoftmaxRegression

__all__ = [
    "ESTIMATORS",
    "MODEL_FILE",
    "MODEL_KIND",
    "STATE_VERSION",
    "describe",
    "load_estimator",
    "save_estimator",
]

MODEL_KIND = "torchlinear-model"
"""The ``kind`` of a model sidecar written by :func:`save_estimator`."""

STATE_VERSION = 2
"""Version of the estimator-state layout in the sidecar (``state_version``). Files from
before estimators saved their own state (torchlinear 0.1) have none and are refused."""

#: The estimators a model file may hold, by class name.
ESTIMATORS: dict[str, Any] = {
    cls.__name__: cls
    for cls in (
        LinearRegression,
        SoftmaxRegression,
        MLPRegressor,
        MLPClassifier,
        Lasso,
        ElasticNet,
        LassoCV,
        ElasticNetCV,
        QuantileRegressor,
        HuberRegressor,
    )
}

_DESCRIPTIONS: dict[str, tuple[str, Task]] = {
    "LinearRegression": ("linear", "regression"),
    "SoftmaxRegression": ("softmax", "classification"),
    "MLPRegressor": ("mlp", "regression"),
    "MLPClassifier": ("mlp", "classification"),
    **{
        name: ("linear", "regression")
        for name in ("Lasso", "ElasticNet", "LassoCV", "ElasticNetCV")
        + ("QuantileRegressor", "HuberRegressor")
    },
}
_CHECKPOINT_KIND = "torchlinear-checkpoint"

#: What a model sidecar written by :func:`save_estimator` holds; every field is checked
#: before anything reads it (:func:`load_estimator`). Fields the caller adds are any JSON
#: unless ``load_estimator(metadata=...)`` declares them.
MODEL_FILE: dict[str, Spec] = {
    "format": Str((io.FORMAT_NAME,)),
    "format_version": Int(low=1),
    "library_version": Str(),
    "weights": MapOf(),  # checked against the weights file by torchlinear.io
    "kind": Str((MODEL_KIND,)),
    "state_version": Int(),
    "estimator": Switch("class", lambda: {n: c.state_schema() for n, c in ESTIMATORS.items()}),
    "model": Str(("linear", "softmax", "mlp")),
    "task": Str(("regression", "classification")),
    "feature_names": Maybe(ListOf(Str())),
    "n_features": Int(low=1),
    "classes": ListOf(LABEL, min_len=2),
    "scaler": MapOf(),
    "history": History.SCHEMA,
}
_OPTIONAL = ("classes", "scaler", "history")
#: Tensors that only a summary or intervals read: left in the file until then.
_INFERENCE = frozenset(f"state.{n}" for c in ESTIMATORS.values() for n in c.inference_state)
_REMEDY = "it was edited by hand or written by another program: re-save or re-train the model"


def describe(estimator: Any) -> tuple[str, Task]:
    """``(model, task)`` of a torchlinear estimator, e.g. ``("linear", "regression")``.

    Examples
    --------
    >>> describe(SoftmaxRegression())
    ('softmax', 'classification')
    """
    name = type(estimator).__name__
    if name not in _DESCRIPTIONS:
        raise ValueError(
            f"save_estimator saves torchlinear estimators ({', '.join(ESTIMATORS)}), got {name}"
        )
    return _DESCRIPTIONS[name]


def save_estimator(
    estimator: Any,
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Save a fitted torchlinear estimator as safetensors weights plus a JSON sidecar.

    The sidecar records the estimator's state (class, parameters, fitted attributes),
    its feature names and, for classifiers, its classes; ``metadata`` adds more (e.g.
    metrics). Both files are written atomically (:func:`torchlinear.io.save_model`).

    Parameters
    ----------
    estimator : fitted LinearRegression, SoftmaxRegression, MLPRegressor or MLPClassifier
    path : str or path-like
        A folder (``model.json`` and ``model-<hash>.safetensors`` go in it) or a ``.json``
        path.
    metadata : mapping, optional
        JSON-serialisable extras stored in the sidecar.

    Returns
    -------
    pathlib.Path
        The sidecar's path.

    Examples
    --------
    >>> import tempfile
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = LinearRegression().fit(X, 1.0 + 2.0 * X[:, 0])
    >>> folder = tempfile.mkdtemp()
    >>> _ = save_estimator(model, folder)
    >>> load_estimator(folder).predict(np.array([[10.0]])).round(10)
    array([21.])
    """
    model, task = describe(estimator)
    tensors, state = estimator.get_state()
    names = getattr(estimator, "feature_names_in_", None)
    document: dict[str, Any] = {
        "kind": MODEL_KIND,
        "state_version": STATE_VERSION,
        "estimator": state,
        "model": model,
        "task": task,
        "feature_names": None if names is None else [str(n) for n in names],
        "n_features": int(estimator.n_features_in_),
    }
    if task == "classification":
        document["classes"] = _values(estimator.classes_)
    scaler = getattr(estimator, "standardizer_", None)
    if scaler is not None:
        document["scaler"] = {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()}
    history = getattr(estimator, "history_", None)
    if history is not None:
        document["history"] = history.to_dict()
    extra = dict(metadata or {})
    clash = [k for k in extra if k in document]
    if clash:
        raise ValueError(f"metadata keys {clash} are reserved by save_estimator")
    document.update(extra)
    return io.save_model(path, {f"state.{k}": v for k, v in tensors.items()}, document)


def _values(labels: Any) -> list[Any]:
    """Labels or names as plain Python values, each exactly as it is: never through a
    fixed-width NumPy string, which would drop a trailing NUL character."""
    if isinstance(labels, np.ndarray):
        labels = labels.reshape(-1).tolist()
    return [v.item() if isinstance(v, np.generic) else v for v in labels]


def _same(a: Any, b: Any) -> bool:
    return _values(a) == _values(b)


def _check_consistent(est: Any, meta: Mapping[str, Any], tensors: Mapping[str, Any]) -> None:
    """The sidecar's descriptive fields must agree with the estimator its state rebuilds.

    The architecture comes from the tensors' shapes; every JSON field that repeats it
    (feature names and count, classes, hidden width) is checked against it, so the two can
    never tell different stories.
    """
    described = dict(zip(("model", "task"), describe(est), strict=True))
    for key, value in described.items():
        if meta.get(key, value) != value:
            raise ValueError(f"{key} {meta.get(key)!r} but the state is of a {value} model")
    n_features = int(est.n_features_in_)
    if meta.get("n_features", n_features) != n_features:
        raise ValueError(f"n_features {meta.get('n_features')!r} but the state has {n_features}")
    names = meta.get("feature_names")
    if names is not None:
        if not isinstance(names, list) or len(names) != n_features:
            count = len(names) if isinstance(names, list) else names
            raise ValueError(f"{count} feature names for {n_features} features")
        own = getattr(est, "feature_names_in_", None)
        if own is not None and not _same(own, names):
            raise ValueError("feature_names differ from the estimator's feature_names_in_")
        twice = sorted({repr(n) for n in names if names.count(n) > 1})
        if twice:  # a fit reads each column once
            raise ValueError(f"the feature name(s) {', '.join(twice)} appear more than once")
        target = meta.get("target")
        if isinstance(target, str) and target in names:
            raise ValueError(f"the target {target!r} is also one of the feature names")
    if "classes" in meta and not _same(meta["classes"], getattr(est, "classes_", [])):
        raise ValueError("classes differ from the estimator's classes_")
    hidden = tensors.get("extra.module.hidden.weight")
    if hidden is None:
        hidden = tensors.get("extra.module.module.hidden.weight")
    if hidden is not None and getattr(est, "hidden", None) != hidden.shape[0]:
        raise ValueError(
            f"hidden={getattr(est, 'hidden', None)!r} but the weights have "
            f"{hidden.shape[0]} hidden units"
        )


def load_estimator(
    path: str | os.PathLike[str],
    *,
    with_metadata: bool = False,
    metadata: Mapping[str, Spec] | None = None,
) -> Any | tuple[Any, dict[str, Any]]:
    """Load an estimator saved by :func:`save_estimator`, without unpickling anything.

    Every field of the sidecar is checked against :data:`MODEL_FILE` (and the estimator's
    own state schema) before the estimator is rebuilt, so a file that was edited and
    re-signed is refused in one line naming the field, never half-way through a command.

    The tensors that only a summary or prediction intervals need (a least-squares fit's
    d x d factor and robust covariance meat: ``inference_state``) are checked (hash,
    dtype, shape) but not kept: they are read from the file when first used, so that
    predicting costs the memory of the coefficients alone. The file must then still be
    there, unchanged.

    Parameters
    ----------
    path : str or path-like
        The model's folder or its ``.json`` sidecar.
    with_metadata : bool, default False
        Also return the sidecar's contents.
    metadata : mapping of str to torchlinear._schema.Spec, optional
        What the fields the caller saved (``save_estimator(metadata=...)``) must be, when
        present; checked in the same pass.

    Returns
    -------
    estimator, or (estimator, metadata)
        A fitted estimator on the CPU, ready to ``predict``.

    Raises
    ------
    ValueError
        One line naming the file, when it is missing, truncated, modified, of another
        format version, not a model, or internally inconsistent;
        :class:`torchlinear._schema.SchemaError` (a ``ValueError``) naming the field, when
        a field is not what a fit writes.
    """
    tensors, meta = io.load_model(path, select=lambda name: name not in _INFERENCE)
    where = repr(str(path))
    if meta.get("kind") == _CHECKPOINT_KIND:
        raise ValueError(
            f"{where} is a training checkpoint, not a model; pass the folder the fit wrote "
            "(the one holding model.json)"
        )
    if meta.get("kind") != MODEL_KIND:
        raise ValueError(f"{where} is not a torchlinear model file (it has no model kind)")
    version = meta.get("state_version")
    if version != STATE_VERSION:
        written = meta.get("library_version", "?")
        raise ValueError(
            f"model file {where} has state version {version or 1} (written by torchlinear "
            f"{written}); this torchlinear reads version {STATE_VERSION}: fit the model again"
        )
    fields = {**MODEL_FILE, **(metadata or {})}
    optional = (*_OPTIONAL, *(metadata or {}))
    try:
        check_document(meta, Record(fields, optional=optional, others=Anything()))
    except SchemaError as exc:
        raise exc.located(f"model file {where}", _REMEDY) from None
    state = meta["estimator"]
    try:
        own = {k[6:]: v for k, v in tensors.items() if k.startswith("state.")}
        later = io.DeferredTensors(path, meta, _INFERENCE & set(meta["weights"]["tensors"]))
        est = ESTIMATORS[state["class"]].from_state(own, state, deferred=later.within("state."))
        _check_consistent(est, meta, own)
    except Exception as exc:  # a file's content, whatever it is, is refused in one line
        reason = str(exc).splitlines()[0] if str(exc) else ""
        if not isinstance(exc, ValueError):
            reason = f"{type(exc).__name__}: {reason}"
        raise ValueError(
            f"model file {where} is inconsistent ({reason}); re-save or re-train the model"
        ) from None
    return (est, meta) if with_metadata else est
