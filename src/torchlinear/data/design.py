r"""Formulas and categorical columns: the model spec that turns raw columns into ``X``.

A :class:`Design` is what a formula such as ``y ~ x1 + np.log(x2) + C(color)`` means for
one data set: the formula (parsed and expanded by `formulaic`_), the levels of every
categorical variable, and the names of the columns of the design matrix. It is learned
once from the data (:func:`learn_design`, :func:`design`) and then fixed: every chunk of
a file, and any new data at prediction time, is encoded by the same spec, so a model
fitted on it can be saved with its :meth:`Design.to_dict` and applied to raw data later.

Without a formula, the text columns of a file are one-hot encoded as statsmodels does by
default: *treatment coding* with the first level in sorted order as the reference, one
column per other level, named like ``C(color)[T.red]``; numeric columns are kept as they
are. The intercept of a formula (``Intercept``, dropped by ``- 1`` or ``0 +``) is the
estimator's intercept, not a column of ``X``.

Streaming
---------
A file is read in chunks, so the levels are collected before the statistics pass: one
cheap pass reads only the categorical columns (:func:`learn_design`). A categorical
column with more than ``max_levels`` distinct values (an identifier, say) is refused.
At prediction time a level that the model never saw is an error naming the column and
the level. Transforms that learn from the data themselves (``center``, ``scale``,
``poly``, splines) would see one chunk at a time and are refused.

The one idiom
-------------
Formulas are given as a ``formula=`` argument everywhere: ``torchlinear fit data.csv
--formula "y ~ ..."`` on the command line, :func:`torchlinear.workflow.fit` with
``formula="y ~ ..."`` in Python, and :func:`design` with ``formula=`` for data in memory
(a pandas DataFrame, a pyarrow Table or a dict of columns) that goes to an estimator.

.. _formulaic: https://matthewwardrop.github.io/formulaic/

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"y": [1.0, 2.0, 4.0, 3.0], "x": [1.0, 2.0, 3.0, 4.0],
...                       "color": ["red", "blue", "green", "red"]})
>>> spec = design(frame, formula="y ~ x + C(color)")
>>> spec.columns
['x', 'C(color)[T.green]', 'C(color)[T.red]']
>>> X, y = spec.matrices(frame)
>>> X.tolist()[0], y.tolist()
([1.0, 0.0, 1.0], [1.0, 2.0, 4.0, 3.0])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from torchlinear._format import format_names
from torchlinear._validation import ParameterError
from torchlinear.data.arrow_numpy import to_arrow, to_numpy
from torchlinear.data.formula import (
    Design,
    as_table,
    check_finite,
    check_present,
    infinite_counts,
    missing_mask,
    normalise,
    parse_automatic,
    parse_formula,
)
from torchlinear.data.formula import (  # importable from here, as before
    ParsedFormula as ParsedFormula,
)
from torchlinear.data.tabular import TabularSource, check_weights

__all__ = [
    "MAX_LEVELS",
    "Design",
    "DesignSource",
    "design",
    "learn_design",
    "parse_formula",
    "rows_kept",
]

MAX_LEVELS = 1000
"""Default limit on the levels of one categorical column (more looks like an identifier)."""

_COUNT_LIMIT = 100_000  # distinct values counted beyond max_levels before giving up


def _sort_levels(values: set[Any], integer: bool) -> list[Any]:
    if integer:
        return sorted(int(v) for v in values)
    try:
        return sorted(values)
    except TypeError:  # mixed types: by their text
        return sorted(values, key=str)


def _too_many(name: str, count: int, more: bool, max_levels: int, others: Sequence[str]):
    counted = f"more than {count:,}" if more else f"{count:,}"
    others = list(others)[:8]
    return ParameterError(
        "features",
        "column {name!r} has {counted} distinct values, too many levels for a categorical "
        "column (at most {max_levels}, and fewer than half its values): is it an "
        "identifier? " + ("Leave it out, e.g. {0}" if others else "Leave it out"),
        value=None,
        suggestions=[("features", others)] if others else [],
        name=name,
        counted=counted,
        max_levels=max_levels,
    )


def collect_levels(
    tables: Iterator[pa.Table],
    names: Sequence[str],
    max_levels: int = MAX_LEVELS,
    *,
    integer: Sequence[str] = (),
    others: Sequence[str] = (),
) -> dict[str, list[Any]]:
    """The sorted distinct values of the ``names`` columns over a stream of tables.

    Nulls are not levels. A column with more than ``max_levels`` distinct values is
    refused, naming the column and how many values it has; so is a column with more than
    20 distinct values that are over half of its values (an identifier).

    >>> t = pa.table({"c": ["b", "a", None, "b"]})
    >>> collect_levels(iter([t, pa.table({"c": ["c"]})]), ["c"])
    {'c': ['a', 'b', 'c']}
    """
    seen: dict[str, set[Any]] = {name: set() for name in names}
    valid = dict.fromkeys(names, 0)
    for table in tables:
        for name in names:
            column = table.column(name)
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            valid[name] += len(column) - column.null_count
            unique = pc.unique(column.drop_null())
            if pa.types.is_floating(unique.type):
                unique = unique.filter(pc.invert(pc.is_nan(unique)))
            seen[name].update(unique.to_pylist())
            if len(seen[name]) > max(_COUNT_LIMIT, max_levels):
                keep = [c for c in others if c != name]
                raise _too_many(name, len(seen[name]), True, max_levels, keep)
    for name, values in seen.items():
        if len(values) > max_levels or (len(values) > 20 and 2 * len(values) > valid[name]):
            raise _too_many(name, len(values), False, max_levels, [c for c in others if c != name])
    return {name: _sort_levels(seen[name], name in integer) for name in names}


def learn_design(
    source: Any,
    formula: str | None = None,
    *,
    max_levels: int = MAX_LEVELS,
) -> Design:
    """The design of a :class:`~torchlinear.data.tabular.TabularSource` opened with
    ``allow_text=True``: one pass over its categorical columns collects their levels.

    Parameters
    ----------
    source : TabularSource
        Its features are the formula's variables (or, without a formula, the columns to
        use); its target the formula's target.
    formula : str, optional
        Without one, numeric columns are used as they are and text columns one-hot
        encoded (treatment coding, the first level in sorted order as the reference).
    max_levels : int, default 1000
        Refuse a categorical column with more distinct values.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from torchlinear.data.tabular import TabularSource
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cars.csv"
    >>> _ = path.write_text("mpg,hp,cyl\\n30,90,4\\n20,150,6\\n15,200,8\\n25,110,4\\n")
    >>> source = TabularSource(path, "mpg", ["hp", "cyl"], allow_text=True)
    >>> learn_design(source, "mpg ~ np.log(hp) + C(cyl)").columns
    ['np.log(hp)', 'C(cyl)[T.6]', 'C(cyl)[T.8]']
    """
    features = list(source.feature_names)
    text = set(source.text_features)
    automatic = formula is None
    if formula is None:
        parsed = parse_automatic(source.target, features, text)
    else:
        parsed = parse_formula(formula)
    types = source.column_types()

    def levels(categorical: list[str]) -> dict[str, list[Any]]:
        if source.row_groups is not None or source.byte_range is not None:  # pragma: no cover
            raise ValueError("learn_design needs the whole file, not a part of it")
        reader = TabularSource(
            source.path,
            None,
            categorical,
            delimiter=source.delimiter,
            allow_text=True,
            batch_rows=max(source.batch_rows, 1 << 16),
        )
        integer = [c for c in categorical if pa.types.is_integer(types[c])]
        found = collect_levels(
            reader.iter_tables(), categorical, max_levels, integer=integer, others=features
        )
        empty = [c for c in categorical if not found[c]]
        if empty:
            raise ValueError(
                f"{source.label}: the categorical column(s) {format_names(empty)} hold no values"
            )
        return found

    return Design.learn(parsed, features, text, levels, automatic=automatic)


def design(
    data: Any, formula: str | None = None, *, target: str | None = None,
    max_levels: int = MAX_LEVELS,
) -> Design:  # fmt: skip
    """Learn the design of data in memory (a pandas DataFrame, pyarrow Table, dict).

    Parameters
    ----------
    data : DataFrame, pyarrow.Table or dict
        The rows, one named column per variable (a dict maps names to sequences).
    formula : str, optional
        ``"y ~ x1 + np.log(x2) + C(color)"``. Without one, every column but ``target`` is
        a feature, text columns one-hot encoded (treatment coding).
    target : str, optional
        The target column when no formula is given.
    max_levels : int, default 1000
        Refuse a categorical column with more distinct values.

    Returns
    -------
    Design
        Apply it with :meth:`Design.matrices`; :attr:`Design.columns` names ``X``'s
        columns (pass them as the estimator's ``feature_names``).

    Examples
    --------
    >>> spec = design({"y": [1.0, 2.0, 3.0], "kind": ["b", "a", "b"]}, target="y")
    >>> spec.formula, spec.columns
    ('y ~ C(kind)', ['C(kind)[T.b]'])
    """
    table = normalise(as_table(data), {})
    names = list(table.column_names)
    text = {
        c
        for c in names
        if not (
            pa.types.is_floating(table.column(c).type) or pa.types.is_boolean(table.column(c).type)
        )
    }
    if formula is None:
        if target is not None and target not in names:
            raise ValueError(f"the data has no column {target!r} for the target")
        features = [c for c in names if c != target]
        parsed = parse_automatic(target, features, text - {target})
        automatic = True
    else:
        parsed = parse_formula(formula)
        automatic = False
    needed = sorted(parsed.variables, key=names.index) if parsed.variables <= set(names) else []
    check_present(
        sorted(parsed.variables) + ([parsed.target] if parsed.target else []), names, "the data"
    )
    text_used = {c for c in needed if c in text}

    def levels(categorical: list[str]) -> dict[str, list[Any]]:
        integer = [c for c in categorical if c not in text and _is_integral(table.column(c))]
        return collect_levels(iter([table]), categorical, max_levels, integer=integer,
                              others=needed)  # fmt: skip

    return Design.learn(parsed, needed, text_used, levels, automatic=automatic)


def _is_integral(column: pa.ChunkedArray) -> bool:
    values = to_numpy(column.drop_null())
    return bool(values.dtype.kind == "f" and np.all(np.mod(values[np.isfinite(values)], 1) == 0))


class DesignSource:
    """A :class:`~torchlinear.data.tabular.TabularSource` read through a :class:`Design`:
    chunks ``(X, y)`` of the design matrix, as the source's own chunks are.

    Rows with a missing value in a column the formula reads (or a non-finite value the
    formula makes) are skipped with the source's ``drop_na``, and otherwise counted per
    column over the whole pass and refused in one line.

    Parameters
    ----------
    source : TabularSource
        Opened with ``allow_text=True``; its features must include the design's variables.
    spec : Design

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from torchlinear.data.tabular import TabularSource
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pets.csv"
    >>> _ = path.write_text("kind,age,price\\ncat,2,10\\ndog,3,20\\ncat,4,12\\n")
    >>> raw = TabularSource(path, "price", allow_text=True)
    >>> source = DesignSource(raw, learn_design(raw))
    >>> source.feature_names
    ['C(kind)[T.dog]', 'age']
    >>> source.read_all()[0].tolist()
    [[0.0, 2.0], [1.0, 3.0], [0.0, 4.0]]
    """

    def __init__(self, source: Any, spec: Design) -> None:
        missing = [v for v in spec.variables if v not in source.feature_names]
        if missing:
            raise ValueError(f"{source.label}: the source does not read {format_names(missing)}")
        self.source = source
        self.design = spec
        self.feature_names = list(spec.columns)
        self.n_dropped: int | None = None
        # a row read becomes a row of the design (and a pandas frame on the way): wide
        # designs are read a few rows at a time
        source.row_bytes = max(source.row_bytes, 24.0 * (len(spec.columns) + 2))

    # the source's description, unchanged
    def __getattr__(self, name: str) -> Any:
        if name in ("path", "format", "columns", "target", "task", "label", "row_offset",
                    "delimiter", "drop_na", "data_offset", "row_groups", "byte_range",
                    "weight"):  # fmt: skip
            return getattr(self.source, name)
        raise AttributeError(name)

    @property
    def n_rows(self) -> int | None:
        return self.source.n_rows

    @property
    def batch_rows(self) -> int:
        return int(self.source.batch_rows)

    @batch_rows.setter
    def batch_rows(self, rows: int) -> None:
        self.source.batch_rows = rows

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def restrict(self, **part: Any) -> DesignSource:
        """This design over a part of the file (see ``TabularSource.restrict``)."""
        return DesignSource(self.source.restrict(**part), self.design)

    def iter_chunks(self) -> Iterator[tuple[Any, ...]]:
        """One pass: ``(X, y)`` per chunk, ``y`` None without a target; ``(X, y, w)`` when
        the source has a weight column."""
        spec, source = self.design, self.source
        with_target = source.target is not None
        weight = getattr(source, "weight", None)
        read = list(spec.variables) + ([source.target] if with_target else [])
        read += [] if weight is None else [weight]
        missing = source.missing_values(None if spec.automatic else spec.formula)
        seen = dropped = kept = 0
        for table in source.iter_tables():
            table = table.select(read)
            offset = source.row_offset + seen
            seen += table.num_rows
            if weight is not None:
                check_weights(to_numpy(table.column(weight)), source.label, weight, offset)
            bad = missing_mask(table)
            if bad is not None:
                masks = [(name, missing_mask(table, [name])) for name in read]
                masks = [(n, m) for n, m in masks if m is not None]
                infinite = infinite_counts(table, [n for n, _ in masks])
                missing.add(masks, bad, offset, infinite)
                if not source.drop_na:
                    continue
                dropped += int(bad.sum())
                table = table.filter(to_arrow(~bad))
            if missing.rows and not source.drop_na:
                continue
            if table.num_rows == 0:
                continue
            X, y = spec.encode(table, with_target=with_target, row_offset=offset,
                               label=source.label)  # fmt: skip
            w = None if weight is None else to_numpy(table.column(weight)).astype(np.float64)
            finite = np.isfinite(X).all(axis=1) if X.size else None
            if y is not None and y.dtype == np.float64:
                finite = np.isfinite(y) if finite is None else finite & np.isfinite(y)
            if finite is not None and not finite.all():
                if not source.drop_na:
                    check_finite(X, spec.columns, offset, source.label)
                    raise ValueError(
                        f"{source.label}: the target {spec.response!r} is not finite in data "
                        f"row {offset + int(np.argmin(finite)) + 1}; fix the data or the formula"
                    )
                dropped += int((~finite).sum())
                X, y = X[finite], None if y is None else y[finite]
                w = None if w is None else w[finite]
            if len(X):
                kept += len(X)
                yield (X, y) if w is None else (X, y, w)
        source.n_rows = seen
        if missing.rows and not source.drop_na:
            raise missing.error(seen)
        self.n_dropped = dropped
        if kept == 0 and source.row_groups is None and source.byte_range is None:
            raise missing.none_left(
                seen,
                f"{source.label}: all {seen} data rows have a missing or non-finite value in "
                "the columns the formula reads, so none is left",
            )

    def read_all(self) -> tuple[Any, ...]:
        """The whole design matrix in memory, ``(X, y)`` (``(X, y, w)`` with weights)."""
        parts = list(self.iter_chunks())
        weighted = getattr(self.source, "weight", None) is not None
        if not parts:
            empty = np.empty((0, self.n_features))
            return (empty, None, np.empty(0)) if weighted else (empty, None)
        X = np.concatenate([p[0] for p in parts])
        y = None if self.source.target is None else np.concatenate([p[1] for p in parts])
        if not weighted:
            return X, y
        return X, y, np.concatenate([p[2] for p in parts])


def rows_kept(spec: Design, table: pa.Table, *, label: str, row_offset: int = 0) -> np.ndarray:
    """Which rows of a chunk of raw columns a :class:`DesignSource` with ``drop_na`` keeps
    (none missing in a column the formula reads, a finite design row), as a boolean mask.

    Examples
    --------
    >>> pets = {"y": [1.0, 2.0, 3.0], "kind": ["cat", "dog", "cat"], "age": [2.0, 3.0, 4.0]}
    >>> spec = design(pets, "y ~ C(kind) + np.log(age)")
    >>> raw = pa.table({"kind": ["cat", None, "dog"], "age": [2.0, 3.0, -1.0]})
    >>> rows_kept(spec, raw, label="pets.csv").tolist()  # a missing kind; log(-1) is NaN
    [True, False, False]
    """
    table = table.select(list(spec.variables))
    keep = np.ones(table.num_rows, dtype=bool)
    bad = missing_mask(table)
    if bad is not None:
        keep &= ~bad
    if keep.any():
        X, _ = spec.encode(table.filter(to_arrow(keep)), with_target=False,
                           row_offset=row_offset, label=label)  # fmt: skip
        index = np.flatnonzero(keep)
        keep[index[~np.isfinite(X).all(axis=1)]] = False
    return keep
