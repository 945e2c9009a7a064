"""Using a saved model: predict and evaluate (its summary: :mod:`torchlinear.workflow.summary`)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchlinear._schema import Anything, Int, ListOf, MapOf, Maybe, Record, Spec, Str
from torchlinear._validation import ParameterError, check_positive_int, resolved_path
from torchlinear.data.design import Design, DesignSource
from torchlinear.data.formats import is_parquet
from torchlinear.data.predictions import PredictionWriter, check_columns
from torchlinear.data.tabular import TabularSource
from torchlinear.estimators.penalized import ElasticNet, Lasso
from torchlinear.estimators.penalized_cv import ElasticNetCV, LassoCV
from torchlinear.estimators.persist import describe, load_estimator
from torchlinear.workflow.metrics import plain, predict_chunk, score_chunks
from torchlinear.workflow.passthrough import KeptColumns
from torchlinear.workflow.sources import (
    Data,
    check_delimiter_applies,
    check_download_applies,
    dataset_key,
    file_columns,
    is_file_like,
    load_dataset,
    select_dataset_columns,
    unknown_data,
)


@dataclass
class PredictResult:
    """What :func:`predict` wrote.

    Attributes
    ----------
    path : pathlib.Path
        The predictions file.
    n_rows : int
        Rows predicted.
    n_dropped : int
        Rows skipped by ``drop_na``.
    columns : list of str
        The columns written.
    """

    path: Path
    n_rows: int
    n_dropped: int
    columns: list[str]


INTERVAL_TYPES = ("prediction", "confidence")
#: The columns :func:`predict` writes besides the kept ones.
PREDICTION_COLUMNS = ("prediction", "lower", "upper")


def model_and_data(
    loaded: tuple[Any, dict[str, Any]],
    data: Any,
    *,
    need_target: bool,
    drop_na: bool,
    delimiter: str | None,
    batch_rows: int | None,
    download: bool,
    keep: Sequence[str] = (),
    weight: str | None = None,
) -> tuple[Any, dict[str, Any], Data, bool]:
    """Load the model, then open ``data`` with the model's columns (others are ignored);
    returns whether the data is a built-in dataset's test split. ``keep`` names columns
    that must be in the file; ``weight`` a file's column of sample weights."""
    est, meta = loaded
    check_delimiter_applies(delimiter, data)
    check_download_applies(download, data)
    file = is_file_like(data)
    if weight is not None and not file:
        raise ParameterError(
            "weight",
            "{param} {value!r}: sample weights are a column of a CSV or Parquet file; "
            "{data!r} is not one",
            value=weight,
            data=str(data),
        )
    if meta.get("design") is not None:
        return design_data(est, meta, data, need_target=need_target, drop_na=drop_na,
                           delimiter=delimiter, batch_rows=batch_rows,
                           weight=weight)  # fmt: skip
    if file:
        resolved = model_file_data(
            est, meta, Path(data), need_target=need_target, drop_na=drop_na,
            delimiter=delimiter, batch_rows=batch_rows, keep=keep, weight=weight,
        )  # fmt: skip
        return est, meta, resolved, False
    if keep:
        raise ParameterError(
            "keep",
            "{param} passes columns of a data file through; {data!r} is not a file",
            value=list(keep),
            data=str(data),
        )
    if isinstance(data, str):
        resolved, test = model_dataset(est, meta, data, batch_rows, download)
        return est, meta, resolved, test
    raise ValueError(f"data must be a file path or a built-in dataset name, got {data!r}")


#: What a fit records in the model file beside the estimator (:func:`torchlinear.workflow.
#: fit`), as predict, evaluate and summary read it; each may be absent (a model saved by
#: ``save_estimator``).
FIT_METADATA: dict[str, Spec] = {
    "target": Maybe(Str()),
    "design": Maybe(Design.SCHEMA),
    "settings": Maybe(
        Record({"sample_weight": Maybe(Str())}, optional=("sample_weight",), others=Anything())
    ),
    "metrics": Maybe(MapOf(Maybe(MapOf()))),
    "data": Maybe(MapOf()),
    "training": Maybe(MapOf()),
    "image_shape": Maybe(ListOf(Int(low=1))),
}


def load_fitted(model_path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """``(estimator, metadata)`` of a saved model, its descriptive metadata checked too.

    The sections that describe the fit (target, design, settings, metrics) are read by
    predict, evaluate and summary: they are checked with the estimator's state, in the
    same pass (:data:`FIT_METADATA`), so that a file edited by hand (and re-hashed) is
    refused in one line rather than failing half-way.
    """
    est, meta = load_estimator(model_path, with_metadata=True, metadata=FIT_METADATA)
    return est, meta


def model_file_data(
    est: Any,
    meta: dict[str, Any],
    path: Path,
    *,
    need_target: bool,
    drop_na: bool,
    delimiter: str | None,
    batch_rows: int | None,
    keep: Sequence[str],
    weight: str | None = None,
) -> Data:
    """A data file read with the model's feature columns (and its target, if needed, and
    its ``weight`` column); the column of weights the model was fitted with is not taken
    for a feature."""
    _, task = describe(est)
    names = meta.get("feature_names")
    target = meta.get("target")
    columns = file_columns(path, delimiter)  # the file's own checks come first
    missing = [c for c in keep if c not in columns]
    if missing:
        shown = ", ".join(repr(c) for c in columns[:12])
        raise ParameterError(
            "keep",
            "{param}: {path} has no column {missing}; its columns are {shown}",
            value=list(keep),
            path=str(path),
            missing=", ".join(repr(c) for c in missing),
            shown=shown,
        )
    if need_target and (target is None or target not in columns):
        shown = ", ".join(repr(c) for c in columns[:12])
        raise ValueError(
            f"{path}: no column {target!r} for the target the model was fitted on "
            f"(evaluate needs the true values); the columns are {shown}"
        )
    fitted_weight = (meta.get("settings") or {}).get("sample_weight")
    not_features = {c for c in (target, weight, fitted_weight) if c is not None}
    if names is None:
        features = [c for c in columns if c not in not_features and c not in keep]
        if len(features) != est.n_features_in_:
            raise ValueError(
                f"{path} has {len(features)} feature column(s) but the model expects "
                f"{est.n_features_in_} (it was saved without feature names)"
            )
    else:  # the model's columns must be there; any others are ignored
        check_columns(names, columns, ignore=list(columns), source=str(path))
        features = list(names)
    source = TabularSource(
        path,
        target if need_target else None,
        features,
        task=task,
        drop_na=drop_na,
        delimiter=delimiter,
        batch_rows=batch_rows,
        weight=weight,
        fixed_features=True,
    )
    return Data(str(path), features, source.target, task, source)


def model_dataset(
    est: Any, meta: dict[str, Any], name: str, batch_rows: int | None, download: bool
) -> tuple[Data, bool]:
    """A built-in dataset (its test split when it has one) with the model's features;
    returns whether it is the test split."""
    _, task = describe(est)
    names = meta.get("feature_names")
    key = dataset_key(name)
    if key is None:
        raise unknown_data(name)
    resolved = load_dataset(key, download)
    if names is not None:
        check_columns(names, resolved.feature_names, source=f"the dataset {key!r}")
        resolved = select_dataset_columns(resolved, None, names)
    elif len(resolved.feature_names) != est.n_features_in_:
        raise ValueError(
            f"the dataset {key!r} has {len(resolved.feature_names)} features but the model "
            f"expects {est.n_features_in_}"
        )
    if resolved.task != task:
        raise ValueError(f"the model is a {task} model but {key!r} is a {resolved.task} dataset")
    test = resolved.X_test is not None
    if test:
        resolved.X, resolved.y = resolved.X_test, resolved.y_test
    if batch_rows is not None:
        resolved.chunk_rows = check_positive_int("batch_rows", batch_rows)
    return resolved, test


def design_data(
    est: Any,
    meta: dict[str, Any],
    data: Any,
    *,
    need_target: bool,
    drop_na: bool,
    delimiter: str | None,
    batch_rows: int | None,
    weight: str | None = None,
) -> tuple[Any, dict[str, Any], Data, bool]:
    """A file read through the design (formula, levels) saved with the model: it needs
    the columns the design reads (others are ignored), text columns included, and the
    ``weight`` column when one is given."""
    _, task = describe(est)
    try:
        spec = Design.from_dict(meta["design"])
    except ValueError as exc:
        raise ValueError(
            f"the model's saved design is inconsistent ({exc}); re-train the model"
        ) from None
    if not is_file_like(data):
        raise ValueError(
            f"the model was fitted through the formula {spec.formula!r}; give it a CSV or "
            f"Parquet file with the columns the formula reads, not {str(data)!r}"
        )
    path = Path(data)
    columns = file_columns(path, delimiter)
    needed = list(spec.variables)
    if need_target:
        needed.append(str(spec.target))
    if weight is not None:
        needed.append(weight)
    missing = [c for c in needed if c not in columns]
    if missing:
        what = " (evaluate needs the true values)" if spec.target in missing else ""
        raise ValueError(
            f"{path} is missing column(s) {', '.join(map(repr, missing))} that the model's "
            f"formula {spec.formula!r} reads{what}"
        )
    source = TabularSource(
        path,
        spec.target if need_target else None,
        spec.variables,
        task=task,
        drop_na=drop_na,
        delimiter=delimiter,
        batch_rows=batch_rows,
        allow_text=True,
        weight=weight,
        fixed_features=True,
        text_features=spec.text_variables,
    )
    wrapped = DesignSource(source, spec)
    resolved = Data(str(path), list(spec.columns), source.target, task, wrapped, design=spec)
    return est, meta, resolved, False


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output_file(
    output: str | os.PathLike[str], data: Any, model_path: str | os.PathLike[str]
) -> Path:
    """Refuse an output path that is the input data or lies in the model's folder.

    Paths are compared after resolving symbolic links, and files by device and inode, so
    a hard link or a symbolic link to the data is caught too.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "data.csv").write_text("x,1")
    >>> check_output_file(folder / "data.csv", folder / "data.csv", folder / "model")
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: output '...data.csv' is the input data file ...
    """
    resolved_path("output", output)
    out = Path(output)
    if out.is_dir():
        raise ParameterError(
            "output", "{param} {path!r} is a folder; give a file name", path=str(out)
        )
    if isinstance(data, str | os.PathLike) and is_file_like(str(data)):
        source = Path(data)
        if _same_file(out, source) or out.resolve() == source.resolve():
            raise ParameterError(
                "output",
                "{param} {path!r} is the input data file {data!r}: writing it would destroy "
                "the data; choose another {param}",
                path=str(out),
                data=str(source),
            )
    model = Path(model_path)
    if not str(model_path).strip() or not model.exists():
        return out  # no model there to protect: loading it says so
    folder = model.resolve() if model.is_dir() else model.resolve().parent
    inside = out.resolve().parent
    hit = inside == folder or folder in inside.parents
    if not hit and out.exists() and folder.is_dir():
        hit = any(_same_file(out, p) for p in folder.iterdir() if p.is_file())
    if hit:
        raise ParameterError(
            "output",
            "{param} {path!r} is inside the model folder {folder!r}: it would change the "
            "model; write the predictions elsewhere",
            path=str(out),
            folder=str(folder),
        )
    return out


def predict(
    model_path: str | os.PathLike[str],
    data: Any,
    output: str | os.PathLike[str],
    *,
    proba: bool = False,
    keep: Sequence[str] | str | None = None,
    interval: float | None = None,
    interval_type: str | None = None,
    drop_na: bool = False,
    delimiter: str | None = None,
    batch_rows: int | None = None,
    download: bool = False,
) -> PredictResult:
    """Predict with a saved model, streaming ``data`` and writing ``output`` atomically.

    Parameters
    ----------
    model_path : str or path-like
        The fit's output folder or its ``model.json``.
    data : str or path-like
        A CSV or Parquet file with the model's feature columns (other columns are
        ignored), or a built-in dataset name (the test split of an image dataset).
    output : str or path-like
        A ``.csv``/``.tsv``/``.txt`` or ``.parquet``/``.pq`` file, one row per input row,
        in order: the ``keep`` columns, then ``prediction``, then ``lower`` and ``upper``
        (with ``interval``) or a ``proba_<class>`` column per class (with ``proba``).
    proba : bool, default False
        Add the class probabilities (classifiers).
    keep : list of str or comma-separated str, optional
        Columns of ``data`` copied into the output, in this order (an ID, a date), so the
        predictions join back without relying on row order. A CSV column is copied as the
        text it holds; a Parquet column keeps its type.
    interval : float, optional
        Add the ``lower`` and ``upper`` bounds of an interval of this level, in (0, 1), as
        statsmodels' ``get_prediction().summary_frame(alpha=1 - interval)`` gives them
        (exact unpenalised least squares only; the model's ``cov_type`` is used).
    interval_type : {"prediction", "confidence"}, optional
        ``"prediction"`` (default): where a new observation falls (``obs_ci_*``);
        ``"confidence"``: where the mean response lies (``mean_ci_*``).
    drop_na : bool, default False
        Skip rows with missing values (the output then has fewer rows than the input).
    delimiter : str, optional
        CSV separator of ``data`` (and of a CSV ``output``).
    batch_rows : int, optional
        Rows per chunk.
    download : bool, default False
        Download missing files of a built-in image dataset.

    Returns
    -------
    PredictResult

    Raises
    ------
    ValueError
        Before anything is written: a ``keep`` column missing from ``data`` or named like
        an output column, ``interval`` outside (0, 1) or on a model without intervals,
        ``proba`` on a regressor.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from torchlinear.workflow import fit
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = fit("diabetes", out=folder)
    >>> preds = pathlib.Path(tempfile.mkdtemp()) / "preds.csv"
    >>> result = predict(folder, "diabetes", preds, interval=0.9)
    >>> result.n_rows, result.columns
    (442, ['prediction', 'lower', 'upper'])
    """
    check_output_file(output, data, model_path)
    loaded = load_fitted(model_path)
    keep_list = _check_keep(keep, proba, interval is not None)
    _check_proba(loaded[0], proba)
    kind = _check_interval(loaded[0], interval, interval_type, loaded[1].get("settings"))
    # one delimiter serves a CSV data file and a CSV output; where only the output is CSV
    # the data is not given it, and where neither is, the data refuses it
    file = is_file_like(data)
    csv_in = file and not is_parquet(data)
    csv_out = not is_parquet(output)
    est, _, resolved, _ = model_and_data(
        loaded,
        data,
        need_target=False,
        drop_na=drop_na,
        delimiter=delimiter if csv_in or not csv_out else None,
        batch_rows=batch_rows,
        download=download,
        keep=keep_list,
    )
    kept = None
    if keep_list:
        source = resolved.source
        assert source is not None
        kept = KeptColumns(
            source.path,
            keep_list,
            resolved.feature_names,
            drop_na=drop_na,
            delimiter=source.delimiter,
            design=resolved.design,
            text=() if resolved.design is None else resolved.design.text_variables,
        )
    try:
        with PredictionWriter(output, delimiter=delimiter if csv_out else None) as writer:
            columns = write_predictions(writer, resolved, est, kept, interval, kind, proba)
            n_rows = writer.n_rows
    finally:
        if kept is not None:
            kept.close()
    return PredictResult(Path(output), n_rows, resolved.n_rows_dropped, columns)


def write_predictions(
    writer: PredictionWriter,
    resolved: Data,
    est: Any,
    kept: KeptColumns | None,
    interval: float | None,
    kind: str,
    proba: bool,
) -> list[str]:
    """Write the kept and output columns of every chunk; returns the columns written."""
    columns: list[str] = []
    for X, _, _ in resolved.chunks():
        chunk: dict[str, Any] = {} if kept is None else kept.take(len(X), X)
        chunk.update(predict_columns(est, X, interval, kind, proba))
        writer.write(chunk)
        columns = list(chunk)
    if kept is not None:
        kept.finish()
    return columns


def predict_columns(
    est: Any, X: Any, interval: float | None, kind: str, proba: bool
) -> dict[str, Any]:
    """The output columns of a chunk: the prediction, its interval, the class
    probabilities."""
    columns: dict[str, Any] = {}
    if interval is not None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature")
            pred, lower, upper = est.predict_interval(X, level=interval, kind=kind)
        columns.update(prediction=pred, lower=lower, upper=upper)
    else:
        columns["prediction"] = predict_chunk(est, X)
    if proba:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature")
            P = est.predict_proba(X)
        for j, c in enumerate(est.classes_):
            columns[f"proba_{class_name(c)}"] = P[:, j]
    return columns


def class_name(label: Any) -> str:
    """A class as its ``proba_<class>`` column names it: spelled as the prediction column
    writes it (``true``/``false`` for a boolean target, as CSV and Parquet readers read).

    Examples
    --------
    >>> [class_name(c) for c in (True, 3, "cat", 2.5)]
    ['true', '3', 'cat', '2.5']
    """
    value = plain(label)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _check_keep(keep: Sequence[str] | str | None, proba: bool, interval: bool) -> list[str]:
    """The ``keep`` columns as a list, refusing duplicates and output names."""
    if keep is None:
        return []
    names = [c.strip() for c in keep.split(",")] if isinstance(keep, str) else list(keep)
    if not names or not all(isinstance(c, str) and c for c in names):
        raise ParameterError(
            "keep", "{param} must name columns (e.g. id,date), got {value!r}", value=keep
        )
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise ParameterError(
            "keep", "{param} names {dupes} twice; name each column once", value=keep,
            dupes=", ".join(map(repr, dupes)),
        )  # fmt: skip
    taken = [c for c in names if c in PREDICTION_COLUMNS or (proba and c.startswith("proba_"))]
    if taken:
        raise ParameterError(
            "keep",
            "{param}: column {taken} has the name of an output column; rename it in the data",
            value=keep,
            taken=", ".join(map(repr, taken)),
        )
    return names


def _check_proba(est: Any, proba: bool) -> None:
    """Class probabilities need a classifier."""
    task = describe(est)[1]
    if proba and task != "classification":
        raise ParameterError(
            "proba",
            "{param}: class probabilities need a classification model; this one is a {task} model",
            value=True,
            task=task,
        )


def model_kind(est: Any, model: str, settings: Mapping[str, Any] | None = None) -> str:
    """What the model is, in a few words: ``least squares``, ``ridge, alpha=0.1``,
    ``huber loss, solver adam``, ``two-layer MLP 10 -> 64 -> 1``...

    A ridge fit made by :func:`~torchlinear.workflow.fit` (``settings``: its recorded
    settings) names its ``alpha`` as given, ElasticNet's, beside the estimator's.
    """
    exact = getattr(est, "solution_", None) is not None
    if model == "mlp":
        # the network's shape as loaded (from its weights), never from the JSON; a
        # standardising wrapper holds the network as its ``module``
        net = est.module_
        while not hasattr(net, "hidden") and hasattr(net, "module"):
            net = net.module
        hidden_w, output_w = net.hidden.weight, net.output.weight
        return f"two-layer MLP {hidden_w.shape[1]} -> {hidden_w.shape[0]} -> {output_w.shape[0]}"
    if model == "linear":
        if isinstance(est, (ElasticNetCV, LassoCV)):  # Lasso's have no l1_ratio: it is 1
            ratio = 1.0 if isinstance(est, LassoCV) else est.l1_ratio_
            return f"elastic net, alpha={est.alpha_:g}, l1_ratio={ratio:g} (by cross-validation)"
        if isinstance(est, ElasticNet):
            ratio = 1.0 if isinstance(est, Lasso) else est.l1_ratio
            return f"elastic net, alpha={est.alpha:g}, l1_ratio={ratio:g}"
        if exact and est.alpha > 0:
            given = (settings or {}).get("alpha") if "ridge_alpha" in (settings or {}) else None
            if isinstance(given, int | float):
                own = f"LinearRegression alpha={est.alpha:g}"
                return f"ridge, alpha={given:g} as ElasticNet's = {own}"
            return f"ridge, alpha={est.alpha:g}"
        if exact:
            return "least squares"
        loss = getattr(est, "loss", "squared")
        return f"{loss} loss, solver {getattr(est, 'solver_', getattr(est, 'solver', '?'))}"
    return f"softmax regression, solver {est.solver_}"


def _check_interval(
    est: Any,
    interval: float | None,
    interval_type: str | None,
    settings: Mapping[str, Any] | None = None,
) -> str:
    """The interval kind, once ``interval`` and the model are checked."""
    if interval_type is not None and interval_type not in INTERVAL_TYPES:
        raise ParameterError(
            "interval_type",
            "{param} must be 'prediction' or 'confidence', got {value!r}",
            value=interval_type,
        )
    if interval is None:
        if interval_type is not None:
            raise ParameterError(
                "interval_type",
                "{param} chooses the kind of interval; give its level with {interval} (e.g. {0})",
                value=interval_type,
                suggestions=[("interval", 0.95)],
            )
        return "prediction"
    if (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not (0 < interval < 1)
    ):
        raise ParameterError(
            "interval",
            "{param} is the interval's level and must lie in (0, 1), e.g. {0}; got {value!r}",
            value=interval,
            suggestions=[("interval", 0.95)],
        )
    model, task = describe(est)
    if getattr(est, "solution_", None) is None or getattr(est, "alpha", 0) != 0:
        what = f"a {task} model ({type(est).__name__}, solver {getattr(est, 'solver_', '?')})"
        if getattr(est, "solution_", None) is not None:
            what = f"a ridge fit ({model_kind(est, 'linear', settings).removeprefix('ridge, ')})"
        raise ParameterError(
            "interval",
            "{param}: intervals need an exact unpenalised least-squares fit; this model is {what}",
            value=interval,
            what=what,
        )
    return interval_type or "prediction"


def evaluate(
    model_path: str | os.PathLike[str],
    data: Any,
    *,
    drop_na: bool = False,
    delimiter: str | None = None,
    batch_rows: int | None = None,
    download: bool = False,
    weight: str | None = None,
) -> dict[str, Any]:
    """Score a saved model on labelled data (streamed, so any size), optionally weighting
    each row by a column of sample weights.

    Regression: ``n``, ``r2``, ``mse``, ``rmse``, ``mae``. Classification: ``n``,
    ``accuracy``, ``log_loss``, ``confusion_matrix`` (rows are true classes, in the order
    of ``classes``), ``classes``, and ``unseen_labels`` when some labels were never seen
    in training (those rows count as errors and are left out of the log-loss).

    Parameters
    ----------
    model_path : str or path-like
        The fit's output folder or its ``model.json``.
    data : str or path-like
        A file with the model's feature columns and its target column (other columns
        are ignored), or a built-in dataset name (the test split of an image dataset).
    drop_na, delimiter, batch_rows, download :
        As for :func:`predict`.
    weight : str, optional
        A column of the file holding sample weights (>= 0): the metrics are weighted as
        scikit-learn's with ``sample_weight`` (``n`` still counts rows).

    Returns
    -------
    dict

    Examples
    --------
    >>> import tempfile
    >>> from torchlinear.workflow import fit
    >>> folder = tempfile.mkdtemp()
    >>> _ = fit("diabetes", out=folder, val_split=0)
    >>> round(evaluate(folder, "diabetes")["r2"], 4)
    0.5177
    """
    est, _, resolved, test = model_and_data(
        load_fitted(model_path),
        data,
        need_target=True,
        drop_na=drop_na,
        delimiter=delimiter,
        batch_rows=batch_rows,
        download=download,
        weight=weight,
    )
    _, task = describe(est)
    result = score_chunks(est, task, resolved.chunks())
    result = {"data": resolved.label + (" (test split)" if test else ""), "task": task, **result}
    if task == "classification":
        result["classes"] = [plain(c) for c in est.classes_.tolist()]
    result["rows_dropped"] = resolved.n_rows_dropped
    if weight is not None:
        result["sample_weight"] = weight
    return result
