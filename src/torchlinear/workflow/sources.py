"""Opening the data of a run: a CSV or Parquet file, a built-in dataset, or a source."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from torchlinear import datasets
from torchlinear._validation import (
    ParameterError,
    check_positive_int,
)
from torchlinear.data.design import MAX_LEVELS, DesignSource, learn_design, parse_formula
from torchlinear.data.formats import COMPRESSIONS, FORMATS, is_parquet
from torchlinear.data.tabular import TabularSource, Task
from torchlinear.datasets import DATASETS


@dataclass
class Data:
    """The data of a command, whatever its origin, as chunks of NumPy ``(X, y, w)``
    (``w`` the sample weights of a file's weight column, or None)."""

    label: str
    feature_names: list[str]
    target: str | None
    task: Task
    source: Any = None  # TabularSource
    X: np.ndarray | None = None  # a built-in dataset, in memory
    y: np.ndarray | None = None
    X_test: np.ndarray | None = None  # a built-in test split
    y_test: np.ndarray | None = None
    image_shape: tuple[int, ...] | None = None
    chunk_rows: int = 65536
    kind: str = "file"  # "file" or "dataset"
    dropped_total: int | None = None  # rows skipped by drop_na on every rank together
    design: Any = None  # the Design of a formula or of text columns (data.design)

    @property
    def fit_intercept(self) -> bool:
        return True if self.design is None else bool(self.design.intercept)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float64) if self.X is None else self.X.dtype

    @property
    def n_rows_dropped(self) -> int:
        if self.dropped_total is not None:
            return self.dropped_total
        if self.source is None:
            return 0
        return int(self.source.n_dropped or 0)

    @property
    def weight(self) -> str | None:
        """The column of sample weights, if any."""
        return getattr(self.source, "weight", None)

    def chunks(self) -> Iterator[tuple[np.ndarray, Any, np.ndarray | None]]:
        """One pass over the rows, in order, as ``(X, y, w)``."""
        if self.source is not None:
            for chunk in self.source.iter_chunks():
                yield chunk[0], chunk[1], chunk[2] if len(chunk) > 2 else None
            return
        assert self.X is not None
        for start in range(0, len(self.X), self.chunk_rows):
            stop = start + self.chunk_rows
            yield self.X[start:stop], None if self.y is None else self.y[start:stop], None

    def read_all(self) -> tuple[np.ndarray, Any, np.ndarray | None]:
        """All rows in memory, as ``(X, y, w)``."""
        if self.source is not None:
            X, y, *w = self.source.read_all()
            return X, y, w[0] if w else None
        assert self.X is not None
        return self.X, self.y, None

    def estimated_bytes(self) -> int:
        """The size of the data as float64 in memory (for files: an estimate)."""
        d = len(self.feature_names) + 1
        if self.X is not None:
            return int(len(self.X) * d * 8)
        source = self.source
        if source.n_rows is not None:
            return int(source.n_rows * d * 8)
        size = source.path.stat().st_size  # a CSV cell is about as long as a float64
        if getattr(source, "compression", None) is not None:
            size *= 10  # numeric text compresses about this much
        return int(size * d / max(1, len(source.columns)))


def dataset_key(name: str) -> str | None:
    key = str(name).strip().lower().replace("_", "-")
    key = {"cifar-10": "cifar10", "fashionmnist": "fashion-mnist"}.get(key, key)
    return key if key in DATASETS else None


def load_dataset(key: str, download: bool) -> Data:
    if key == "synthetic":
        s = datasets.synthetic()
        X, y = s.X.numpy(), s.y.numpy()
        names = [f"x{j}" for j in range(X.shape[1])]
        return Data(key, names, "y", "regression", X=X, y=y, kind="dataset")
    if key == "diabetes":
        t = datasets.diabetes()
        return Data(
            key,
            list(t.feature_names),
            "progression",
            "regression",
            X=t.X.numpy(),
            y=t.y.numpy(),
            kind="dataset",
        )
    loader = {"mnist": datasets.mnist, "fashion-mnist": datasets.fashion_mnist}
    loader["cifar10"] = datasets.cifar10
    if key == "digits":
        images = datasets.digits(flatten=True)
    else:
        images = loader[key](download=download, flatten=True)
    classes = np.asarray(images.classes, dtype=object)
    X, X_test = images.X_train.numpy(), images.X_test.numpy()
    names = [f"pixel{j}" for j in range(X.shape[1])]
    return Data(
        key,
        names,
        "label",
        "classification",
        X=X,
        y=classes[images.y_train.numpy()],
        X_test=X_test,
        y_test=classes[images.y_test.numpy()],
        image_shape=tuple(images.image_shape),
        kind="dataset",
    )


def select_dataset_columns(data: Data, target: str | None, features: Sequence[str] | None):
    if target is not None and target != data.target:
        raise ParameterError(
            "target",
            "{param}: the built-in dataset {name!r} has the target column {actual!r}, not "
            "{value!r}; leave out {param}",
            value=target,
            name=data.label,
            actual=data.target,
        )
    if features is None:
        return data
    features = list(features)
    unknown = [f for f in features if f not in data.feature_names]
    if unknown:
        raise ParameterError(
            "features",
            "{param}: the dataset {name!r} has no column(s) {unknown}; its features are {columns}",
            value=features,
            name=data.label,
            unknown=", ".join(map(repr, unknown)),
            columns=some_columns(data.feature_names),
        )
    index = [data.feature_names.index(f) for f in features]
    data.feature_names = features
    assert data.X is not None  # a built-in dataset is in memory
    data.X = np.ascontiguousarray(data.X[:, index])
    if data.X_test is not None:
        data.X_test = np.ascontiguousarray(data.X_test[:, index])
    data.image_shape = None
    return data


def is_file_like(data: Any) -> bool:
    """Whether ``data`` names a data file: a path object, or a string that exists, has a
    data file's suffix or holds a folder separator (else it may name a built-in dataset).

    Examples
    --------
    >>> is_file_like(Path("x")), is_file_like("sales.csv"), is_file_like("diabetes")
    (True, True, False)
    """
    if isinstance(data, os.PathLike):
        return True
    if not isinstance(data, str) or not data.strip():
        return False  # Path("") would be the current folder
    path = Path(data)
    suffix = path.suffix.lower()
    return path.exists() or suffix in FORMATS or suffix in COMPRESSIONS or os.sep in str(data)


def file_columns(path: Path, delimiter: str | None) -> list[str]:
    """The columns of a data file, after the reader's checks of the file itself (exists,
    format, not empty, header, delimiter); the types of the columns do not matter here."""
    probe = TabularSource.__new__(TabularSource)
    try:
        TabularSource.__init__(probe, path, delimiter=delimiter)
    except ValueError:
        if not hasattr(probe, "_types"):  # the file itself is unreadable: say so
            raise
    return list(probe.columns)


def unknown_data(data: Any) -> ValueError:
    close = difflib.get_close_matches(str(data).lower(), DATASETS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(
        f"{str(data)!r} is not a file and not a built-in dataset{hint}; give a CSV or "
        f"Parquet file, or one of {', '.join(DATASETS)}"
    )


def peek_task(path: Any, target: str, features: Any, delimiter: Any) -> Task:
    """Regression for a numeric target column, classification for text or booleans.

    Decided from the types inferred when the file is opened (its header and first rows),
    without reading the data; the real pass reports any problem with the file properly. A
    text target that holds numbers but for a few cells (a typo such as ``17.5x``) is
    refused, naming the cell: taken for class labels, it would make a class of each value.
    """

    def opened(task: Task) -> TabularSource:
        return TabularSource(
            path,
            target,
            features,
            task=task,
            drop_na=True,
            delimiter=delimiter,
            batch_rows=1,  # no chunk is read: its types are all that is looked at
            allow_text=True,
        )

    try:
        source = opened("regression")
    except ValueError as exc:  # not numbers: class labels, unless a few typos made them text
        if isinstance(exc, ParameterError) and exc.param == "memory_limit":
            raise  # beyond the budget whatever the target holds: not a sign of labels
        try:
            labels = opened("classification")
        except ValueError:
            return "classification"
        labels.check_stray_target()
        return "classification"
    kind = source.column_types().get(target)
    if kind is not None and pa.types.is_boolean(kind):
        return "classification"
    return "regression"


FILE_CHUNK_BYTES = 16 << 20
"""Bytes of float64 per chunk read from a file when the user gives no ``batch_rows``."""


def check_delimiter_applies(delimiter: str | None, data: Any) -> None:
    """Refuse a delimiter where there is no CSV text for it to separate (a Parquet file, a
    built-in dataset) rather than ignore it.

    Examples
    --------
    >>> check_delimiter_applies(";", "sales.csv")
    >>> check_delimiter_applies(";", "sales.parquet")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: delimiter ';' separates the fields of CSV ...
    """
    if delimiter is None or not isinstance(data, str | os.PathLike):
        return
    if is_parquet(data):
        what = f"{os.fspath(data)} is a Parquet file"
    elif isinstance(data, str) and not is_file_like(data):
        what = f"{data!r} is a built-in dataset"
    else:
        return
    raise ParameterError(
        "delimiter",
        "{param} {value!r} separates the fields of CSV text; {what}, which has none: leave "
        "out {param}",
        value=delimiter,
        what=what,
    )


def check_download_applies(download: bool, data: Any) -> None:
    """Refuse ``download`` for data that is a file of the user's own: only the files of a
    built-in image dataset are fetched, so it would be ignored.

    Examples
    --------
    >>> check_download_applies(True, "fashion_mnist")
    >>> check_download_applies(True, "sales.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: download fetches the files of a built-in ...
    """
    if not download:
        return
    if isinstance(data, TabularSource):
        data = data.path
    if is_file_like(data):
        raise ParameterError(
            "download",
            "{param} fetches the files of a built-in image dataset; {data} is a file of "
            "your own: leave out {param}",
            value=True,
            data=os.fspath(data),
        )


def open_data(
    data: Any,
    target: str | None,
    features: Sequence[str] | None,
    task: Task | None,
    *,
    drop_na: bool,
    delimiter: str | None,
    batch_rows: int | None,
    download: bool,
    need_target: bool = True,
    formula: str | None = None,
    max_levels: int | None = None,
    weight: str | None = None,
) -> Data:
    """The data of a fit: a file (read through ``formula``, or with its text columns
    one-hot encoded), an open :class:`~torchlinear.data.tabular.TabularSource`, or a
    built-in dataset; ``weight`` names a file's column of sample weights."""
    check_delimiter_applies(delimiter, data)
    check_download_applies(download, data)
    if weight is not None and isinstance(data, str) and not is_file_like(data):
        raise ParameterError(
            "weight",
            "{param} {value!r}: sample weights are a column of a CSV or Parquet file; the "
            "built-in dataset {data!r} has none",
            value=weight,
            data=data,
        )
    if formula is not None:
        return open_formula_data(
            data, formula, target, features, task, drop_na=drop_na, delimiter=delimiter,
            batch_rows=batch_rows, max_levels=max_levels, weight=weight,
        )  # fmt: skip
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    if isinstance(data, TabularSource):
        if target is not None and target != data.target:
            raise ValueError(
                f"target {target!r} differs from the source's target {data.target!r}; "
                "leave target out when passing a TabularSource"
            )
        if need_target and data.target is None:
            raise ValueError("the TabularSource has no target column; open it with target=...")
        if weight is not None and weight != data.weight:
            raise ValueError(
                f"weight {weight!r} differs from the source's weight column {data.weight!r}; "
                "open the TabularSource with weight=... and leave weight out here"
            )
        return Data(str(data.path), list(data.feature_names), data.target, data.task, data)
    if is_file_like(data):
        return open_file(
            Path(data), target, features, task, drop_na=drop_na, delimiter=delimiter,
            batch_rows=batch_rows, need_target=need_target, max_levels=max_levels,
            weight=weight,
        )  # fmt: skip
    if isinstance(data, str):
        return open_dataset(data, target, features, task, batch_rows, download)
    raise ValueError(
        f"data must be a file path, a built-in dataset name or a TabularSource, got "
        f"{type(data).__name__}"
    )


def open_file(
    path: Path,
    target: str | None,
    features: Sequence[str] | None,
    task: Task | None,
    *,
    drop_na: bool,
    delimiter: str | None,
    batch_rows: int | None,
    need_target: bool,
    max_levels: int | None,
    weight: str | None = None,
) -> Data:
    """A CSV or Parquet file; its task, unless given, from the target column's type."""
    if need_target and target is None:
        raise ValueError(
            f"target: name the target column; {path} has the columns "
            f"{some_columns(file_columns(path, delimiter))}"
        )
    if task is None and target is not None:
        task = peek_task(path, target, features, delimiter)
    source = TabularSource(
        path,
        target,
        features,
        task=task or "regression",
        drop_na=drop_na,
        delimiter=delimiter,
        batch_rows=batch_rows,
        allow_text=True,
        weight=weight,
    )
    if batch_rows is None:  # a pass over a file: larger chunks, fewer calls per row
        width = source.n_features + (target is not None) + (weight is not None)
        source.batch_rows = max(1, FILE_CHUNK_BYTES // (8 * width))
    if source.text_features:  # one-hot encoded, as statsmodels' C(column)
        source.check_stray_text()  # unless a typo made a column of numbers text
        return with_design(source, None, max_levels)
    return Data(str(path), list(source.feature_names), target, source.task, source)


def open_dataset(
    name: str,
    target: str | None,
    features: Sequence[str] | None,
    task: Task | None,
    batch_rows: int | None,
    download: bool,
) -> Data:
    """A built-in dataset, by name."""
    key = dataset_key(name)
    if key is None:
        raise unknown_data(name)
    resolved = load_dataset(key, download)
    if task is not None and task != resolved.task:
        raise ParameterError(
            "task",
            "{param}: the built-in dataset {name!r} is a {kind} dataset, not {value}; "
            "leave out {param}",
            value=task,
            name=key,
            kind=resolved.task,
        )
    if batch_rows is not None:
        resolved.chunk_rows = check_positive_int("batch_rows", batch_rows)
    return select_dataset_columns(resolved, target, features)


def some_columns(columns: Sequence[str]) -> str:
    """The first twelve column names, and how many more there are."""
    shown = ", ".join(repr(c) for c in columns[:12])
    return shown + ("" if len(columns) <= 12 else f" and {len(columns) - 12} more")


def with_design(source: Any, formula: str | None, max_levels: int | None) -> Data:
    """``source`` read through the design of ``formula`` (or of its text columns)."""
    limit = MAX_LEVELS if max_levels is None else check_positive_int("max_levels", max_levels)
    spec = learn_design(source, formula, max_levels=limit)
    wrapped = DesignSource(source, spec)
    return Data(
        str(source.path), list(spec.columns), source.target, source.task, wrapped, design=spec
    )


def open_formula_data(
    data: Any,
    formula: str,
    target: str | None,
    features: Any,
    task: Task | None,
    *,
    drop_na: bool,
    delimiter: str | None,
    batch_rows: int | None,
    max_levels: int | None,
    weight: str | None = None,
) -> Data:
    """A file read through ``formula``: its target is the left-hand side's column, its
    features the columns the right-hand side reads (and ``weight`` its sample weights)."""
    if features is not None:
        raise ParameterError(
            "features",
            "{param} and {formula} both choose the columns; leave out {param}",
            value=features,
        )
    if not is_file_like(data):
        raise ParameterError(
            "formula",
            "{param} applies to CSV and Parquet files; {data!r} is not one",
            value=formula,
            data=str(data),
        )
    parsed = parse_formula(formula)
    path = Path(data)
    response, variables = formula_columns(
        parsed, formula, target, path, file_columns(path, delimiter)
    )
    if task is None:
        task = peek_task(path, response, variables or None, delimiter)
    if task == "classification" and parsed.response != parsed.target:
        raise ParameterError(
            "formula",
            "{param} {value!r}: a classification target is a column, not the expression "
            "{response!r}",
            value=formula,
            response=parsed.response,
        )
    source = TabularSource(
        path,
        parsed.target,
        variables or None,
        task=task,
        drop_na=drop_na,
        delimiter=delimiter,
        batch_rows=batch_rows,
        allow_text=True,
        weight=weight,
    )
    if not variables:
        raise ParameterError(
            "formula", "{param} {value!r} reads no column besides the target", value=formula
        )
    if batch_rows is None:
        source.batch_rows = max(1, FILE_CHUNK_BYTES // (8 * (len(variables) + 8)))
    return with_design(source, formula, max_levels)


def formula_columns(
    parsed: Any, formula: str, target: str | None, path: Path, columns: list[str]
) -> tuple[str, list[str]]:
    """The formula's target column and the columns of ``path`` its right-hand side reads,
    once the formula, ``target`` and the file agree."""
    if parsed.target is None:
        raise ParameterError(
            "formula",
            "{param} {value!r} has no left-hand side; write the target first, as in 'y ~ x1 + x2'",
            value=formula,
        )
    if target is not None and target != parsed.target:
        raise ParameterError(
            "target",
            "{param} {value!r} differs from the formula's target {actual!r}; leave out {param}",
            value=target,
            actual=parsed.target,
        )
    needed = sorted(parsed.variables) + [parsed.target]
    missing = [c for c in needed if c not in columns]
    if missing:
        raise ParameterError(
            "formula",
            "{param} {value!r} reads the column(s) {missing}, which {path} does not have; "
            "its columns are {shown}",
            value=formula,
            missing=", ".join(repr(c) for c in missing),
            path=str(path),
            shown=some_columns(columns),
        )
    if parsed.target in parsed.variables:
        raise ParameterError(
            "formula",
            "{param} {value!r} reads the target {name!r} on the right-hand side too",
            value=formula,
            name=parsed.target,
        )
    return parsed.target, [c for c in columns if c in parsed.variables and c != parsed.target]
