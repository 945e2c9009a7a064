"""The columns a :class:`~torchlinear.data.TabularSource` reads, checked when it opens a
file: the features asked for against the header (each named there once, neither the target
nor the weights), then the types of the features, the weights and the target against what
the source and its task can read. Every refusal is one line naming the file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from torchlinear._format import format_names
from torchlinear._validation import ParameterError
from torchlinear.data._parts import is_label_type, is_numeric_type
from torchlinear.data.arrow_numpy import to_numpy
from torchlinear.data.csv_reader import DECIMAL_COMMA, CsvReader
from torchlinear.data.parquet_reader import ParquetReader

if TYPE_CHECKING:
    from torchlinear.data.tabular import Task

__all__ = ["ColumnChecksMixin"]


def decimal_commas(label: str, what: str, verb: str = "holds") -> ValueError:
    """The error for numbers written with decimal commas, ``what`` naming the column(s)
    and a value."""
    return ValueError(
        f"{label}: {what} {verb} numbers written with decimal commas; write them with "
        "decimal points (1.5, not 1,5)"
    )


class ColumnChecksMixin:
    """The choice and the type checks of a :class:`~torchlinear.data.TabularSource`'s
    columns, over the header and types its reader found."""

    label: str
    task: Task
    target: str | None
    weight: str | None
    columns: list[str]
    allow_text: bool
    fixed_features: bool
    text_features: list[str]
    _types: dict[str, pa.DataType]
    _reader: CsvReader | ParquetReader
    _given_text: set[str] | None
    _stray: dict[str, tuple[int, str]]

    def _select(self, features: Sequence[str] | None) -> list[str]:
        """The feature columns asked for, checked against the header and their types."""
        selected = self._selected_names(features)
        self._check_types(selected, features)
        return selected

    def _selected_names(self, features: Sequence[str] | None) -> list[str]:
        """The feature columns: named in the header, once, and not the target."""
        label, target, columns = self.label, self.target, self.columns
        if target is not None and target not in columns:
            raise ValueError(
                f"{label}: no column {target!r} for the target; the columns are "
                f"{format_names(columns)}"
            )
        weight = self.weight
        if weight is not None and weight not in columns:
            raise ValueError(
                f"{label}: no column {weight!r} for the sample weights; the columns are "
                f"{format_names(columns)}"
            )
        if weight is not None and weight == target:
            raise ValueError(f"the weight column {weight!r} is also the target; name another")
        if features is None:
            selected = [c for c in columns if c not in (target, weight)]
            self._refuse_unnamed(selected)
        else:
            selected = list(features)
            if not selected:
                raise ParameterError(
                    "features", "{param} is empty; name at least one feature column", value=[]
                )
            if not all(isinstance(f, str) for f in selected):
                raise ValueError(f"features must be column names (str), got {selected!r}")
            twice = sorted(f for f, times in Counter(selected).items() if times > 1)
            if twice:
                raise ParameterError(
                    "features",
                    "{param} lists {names} more than once",
                    value=selected,
                    names=format_names(twice),
                )
            if target is not None and target in selected:
                raise ParameterError(
                    "features",
                    "the target {target!r} is also listed in {param}; leave it out",
                    value=selected,
                    target=target,
                )
            if weight is not None and weight in selected and self.fixed_features:
                raise ParameterError(
                    "weight",
                    "the column {value!r} ({param}) is one of the model's features, so it "
                    "cannot hold the sample weights; name another column",
                    value=weight,
                )
            if weight is not None and weight in selected:
                raise ParameterError(
                    "features",
                    "the weight column {column!r} ({weight}) is also listed in {param}; leave "
                    "it out",
                    value=selected,
                    column=weight,
                )
            present = set(columns)
            missing = [f for f in selected if f not in present]
            if missing:
                raise ParameterError(
                    "features",
                    "{label}: no column(s) {missing} (asked for in {param}); the columns are "
                    "{columns}",
                    value=selected,
                    label=label,
                    missing=format_names(missing),
                    columns=format_names(columns),
                )
        if not selected:
            raise ValueError(
                f"{label}: no feature columns, the file has only the target column {target!r}"
            )
        wanted = selected + [c for c in (target, weight) if c is not None]
        counts = Counter(columns)
        duplicated = sorted({c for c in wanted if counts[c] > 1})
        if duplicated:
            raise ValueError(
                f"{label}: the column name(s) {format_names(duplicated)} appear more than once in "
                "the header; give every column a unique name"
            )
        return selected

    def _refuse_unnamed(self, selected: list[str]) -> None:
        """Refuse to take a column without a name as a feature by default: it is most
        often a row index saved with the data (pandas' ``to_csv`` writes one so)."""
        unnamed = [i for i, name in enumerate(self.columns, 1) if not name.strip()]
        sample = getattr(self._reader, "sample", None)
        if unnamed == [len(self.columns)] and sample is not None:
            if sample.column(len(self.columns) - 1).null_count == sample.num_rows:
                return  # a delimiter ending every line: the empty column is named later
        if unnamed and any(not name.strip() for name in selected):
            named = [name for name in selected if name.strip()]
            raise ParameterError(
                "features",
                "{label}: column {position} of the header has no name (a row index saved "
                "with the data?); name it in the header, or choose the feature columns"
                + (", e.g. {0}" if named else ""),
                value=None,
                suggestions=[("features", named[:8])] if named else [],
                label=self.label,
                position=unnamed[0],
            )

    def _check_types(self, selected: list[str], features: Sequence[str] | None) -> None:
        """Refuse text feature columns (unless ``allow_text``) and a target of a type the
        task cannot read."""
        label, target = self.label, self.target
        if isinstance(self._reader, CsvReader):
            self._reader.check_utf8([*selected, *(c for c in (target, self.weight) if c)])
        text = [f for f in selected if not is_numeric_type(self._types[f])]
        if self.allow_text:
            other = [f for f in text if not is_label_type(self._types[f])]
            if other:  # lists, structs, dates, bytes: neither numbers nor categories
                rest = [] if self.fixed_features else [f for f in selected if f not in other][:8]
                raise ParameterError(
                    "features",
                    "{label}: feature column(s) {names} hold {types}, neither numbers nor "
                    "text; convert them to numbers or text first"
                    + (", or leave them out, e.g. {0}" if rest else ""),
                    value=features,
                    suggestions=[("features", rest)] if rest else [],
                    label=label,
                    names=format_names(other),
                    types=", ".join(sorted({str(self._types[f]) for f in other})),
                )
            if self._given_text is None:
                self.text_features, text = text, []
                self._stray = self._reader.stray_text(self.text_features)
            else:  # the text columns are known: read them as text, refuse text elsewhere
                self.text_features = [f for f in selected if f in self._given_text]
                text = [f for f in text if f not in self._given_text]
        if text:
            numeric = [f for f in selected if f not in text]
            examples = ", ".join(f"{f!r} ({self._example(f)})" for f in text[:5])
            more = f" and {len(text) - 5} more" if len(text) > 5 else ""
            if DECIMAL_COMMA.search(examples):
                raise decimal_commas(label, f"column(s) {examples}{more}", "hold")
            if self.fixed_features:
                raise ValueError(
                    f"{label}: the model's feature column(s) {examples}{more} hold text, but "
                    "the model was fitted on numbers there; fix those values"
                )
            if not numeric:
                raise ValueError(
                    f"{label}: non-numeric feature column(s) {examples}{more}; encode them as "
                    "numbers (e.g. one-hot) first"
                )
            raise ParameterError(
                "features",
                "{label}: non-numeric feature column(s) {examples}{more}; encode them as "
                "numbers (e.g. one-hot) or leave them out, e.g. {0}",
                value=features,
                suggestions=[("features", numeric[:8])],
                label=label,
                examples=examples,
                more=more,
            )
        for name in (c for c in (self.weight, target) if c is not None):
            if self.task == "regression" or name == self.weight:
                example = self._example(name)
                if not is_numeric_type(self._types[name]) and DECIMAL_COMMA.search(example):
                    what = "the target" if name == target else "the weight column"
                    raise decimal_commas(label, f"{what} {name!r} ({example})")
        if self.weight is not None and not is_numeric_type(self._types[self.weight]):
            raise ValueError(
                f"{label}: the weight column {self.weight!r} is not numeric "
                f"({self._example(self.weight)}); weights are numbers >= 0"
            )
        if target is not None:
            t = self._types[target]
            if self.task == "regression" and not is_numeric_type(t):
                raise ParameterError(
                    "task",
                    "{label}: the target column {target!r} is not numeric ({example}); "
                    "for class labels use {0}",
                    suggestions=[("task", "classification")],
                    label=label,
                    target=target,
                    example=self._example(target),
                )
            if self.task == "classification" and not is_label_type(t):
                raise ValueError(
                    f"{label}: the target column {target!r} has type {t}, which cannot hold "
                    "class labels; use integer or string labels"
                )
            if self.task == "classification" and pa.types.is_floating(t):
                self._check_whole_labels(target)

    def _check_whole_labels(self, target: str) -> None:
        """Refuse class labels that the first rows show with a fractional part: such a
        target is a quantity to regress on, not a set of classes."""
        sample = getattr(self._reader, "sample", None)
        if sample is None:
            return
        values = to_numpy(sample.column(target)).astype(np.float64)
        fractional = np.isfinite(values) & (values != np.round(values))
        if fractional.any():
            row = int(np.argmax(fractional))
            raise ParameterError(
                "task",
                "{label}: the target column {target!r} holds numbers with a fractional part "
                "({example:g} in data row {row}), not class labels; classification needs "
                "whole numbers or text as labels: for a numeric target use {0}",
                value="classification",
                suggestions=[("task", "regression")],
                label=self.label,
                target=target,
                example=float(values[row]),
                row=row + 1,
            )

    def _example(self, name: str) -> str:
        """The first value of a non-numeric column that is not a number, for messages."""
        for row, value in self._reader.not_numbers(name)[:1]:
            return f"{value!r} in data row {row}"
        return f"type {self._types[name]}"
