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

import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from torchlinear._format import format_names
from torchlinear._validation import ParameterError

__all__ = ["MAX_LEVELS", "Design", "DesignSource", "design", "learn_design", "parse_formula"]

MAX_LEVELS = 1000
"""Default limit on the levels of one categorical column (more looks like an identifier)."""

_COUNT_LIMIT = 100_000  # distinct values counted beyond max_levels before giving up
_ANSI = re.compile(r"\x1b\[[0-9;]*m|[\u29da\u29db]")
_C_FACTOR = re.compile(r"^C\(\s*(`[^`]+`|[A-Za-z_][A-Za-z0-9_.]*)\s*(,.*)?\)$", re.S)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_name(name: str) -> str:
    """A column name as a formula spells it: bare if it is an identifier, else in backticks.

    >>> quote_name("area"), quote_name("floor area")
    ('area', '`floor area`')
    """
    return name if _NAME.match(name) else f"`{name}`"


def _bare(expr: str) -> str | None:
    """The column an expression names when it is only a column name, else None."""
    expr = expr.strip()
    if _NAME.match(expr):
        return expr
    if len(expr) > 2 and expr[0] == expr[-1] == "`":
        return expr[1:-1]
    return None


def _formulaic() -> Any:
    import formulaic  # costs about half a second: imported only when a formula is used

    return formulaic


def _syntax_error(formula: str, exc: Exception) -> ValueError:
    text = _ANSI.sub("", str(exc)).strip()
    reason = text.splitlines()[0] if text else type(exc).__name__
    return ParameterError(
        "formula", "{param} {value!r} does not parse: {reason}", value=formula, reason=reason
    )


def _factor_names(formula: Any) -> set[str]:
    """Names a formula's factors read as data (formulaic does not report the arguments of
    its stateful transforms, such as ``center(x)``): every name that is not called and
    not a module (``np.log``)."""
    import ast

    names: set[str] = set()
    for term in formula:
        for factor in term.factors:
            expr = str(factor.expr)
            quoted = _bare(expr)
            if quoted is not None:
                names.add(quoted)
                continue
            try:
                tree = ast.parse(expr, mode="eval")
            except SyntaxError:
                continue
            skip = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                    skip.add(id(node.func))
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                    skip.add(id(node.value))
            names |= {
                node.id
                for node in ast.walk(tree)
                if isinstance(node, ast.Name) and id(node) not in skip
            }
    return names


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into its response and its right-hand side (no data needed).

    ``response`` is the left-hand side as written (``"np.log(y)"``), ``target`` the one
    column it reads, ``rhs`` the right-hand side as written and ``variables`` the columns
    the right-hand side reads (in no particular order).
    """

    text: str
    response: str | None
    target: str | None
    rhs: str
    variables: frozenset[str]


def parse_formula(formula: str) -> ParsedFormula:
    """Check the syntax of ``formula`` and find the columns it reads.

    Raises
    ------
    ValueError
        One line when the formula does not parse, has several parts or a left-hand side
        that reads more than one column.

    Examples
    --------
    >>> parsed = parse_formula("np.log(y) ~ x1 + C(color)")
    >>> parsed.response, parsed.target, sorted(parsed.variables)
    ('np.log(y)', 'y', ['color', 'x1'])
    >>> parse_formula("y ~ x1 +")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: formula 'y ~ x1 +' does not parse: Operator ...
    """
    if not isinstance(formula, str) or not formula.strip():
        raise ParameterError(
            "formula", "{param} must be a formula such as 'y ~ x1 + C(color)', got {value!r}",
            value=formula,
        )  # fmt: skip
    fm = _formulaic()
    try:
        parsed = fm.Formula(formula)
        lhs, rhs = (parsed.lhs, parsed.rhs) if "~" in formula else (None, parsed)
        variables = rhs.required_variables | _factor_names(rhs)
        response_vars = set() if lhs is None else lhs.required_variables | _factor_names(lhs)
    except Exception as exc:  # formulaic raises its own classes, and SyntaxError/ValueError
        raise _syntax_error(formula, exc) from None
    if not isinstance(rhs, fm.formula.SimpleFormula) or (
        lhs is not None and not isinstance(lhs, fm.formula.SimpleFormula)
    ):
        raise ParameterError(
            "formula",
            "{param} {value!r} has several parts; write one 'response ~ terms' formula",
            value=formula,
        )
    response = target = None
    if lhs is not None:
        response = formula.split("~", 1)[0].strip()
        if len(response_vars) != 1:
            raise ParameterError(
                "formula",
                "{param} {value!r}: the left-hand side {response!r} must read exactly one "
                "column (the target)",
                value=formula,
                response=response,
            )
        (target,) = response_vars
    rhs_text = formula.split("~", 1)[1] if "~" in formula else formula
    return ParsedFormula(formula, response, target, rhs_text.strip(), frozenset(variables))


@dataclass
class Design:
    """The fixed model spec: formula, levels of the categorical variables, output columns.

    Build it with :func:`design` (data in memory) or :func:`learn_design` (a file); save
    it with :meth:`to_dict` and restore it with :meth:`from_dict`.

    Attributes
    ----------
    formula : str
        The formula, as given or as generated for automatic one-hot encoding.
    target : str or None
        The column the left-hand side reads.
    response : str or None
        The left-hand side as written (``"y"``, ``"np.log(y)"``).
    variables : list of str
        The raw columns the right-hand side reads.
    levels : dict
        Categorical variable -> its levels, in order (the first is the reference).
    columns : list of str
        The columns of ``X`` (the intercept excluded).
    intercept : bool
        Whether the formula has an intercept (then fitted by the estimator).
    automatic : bool
        True when no formula was given (text columns one-hot encoded).
    """

    formula: str
    target: str | None
    response: str | None
    variables: list[str]
    levels: dict[str, list[Any]]
    columns: list[str] = field(default_factory=list)
    intercept: bool = True
    automatic: bool = False
    _specs: Any = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (stored in a model's sidecar as ``"design"``)."""
        return {
            "formula": self.formula,
            "target": self.target,
            "response": self.response,
            "variables": list(self.variables),
            "levels": {k: list(v) for k, v in self.levels.items()},
            "columns": list(self.columns),
            "intercept": bool(self.intercept),
            "automatic": bool(self.automatic),
        }

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> Design:
        """The design :meth:`to_dict` described; its columns are checked against a rebuild.

        Raises
        ------
        ValueError
            If the entry is malformed or the formula no longer gives the saved columns.
        """
        try:
            spec = cls(
                formula=str(entry["formula"]),
                target=entry.get("target"),
                response=entry.get("response"),
                variables=[str(v) for v in entry["variables"]],
                levels={str(k): list(v) for k, v in dict(entry["levels"]).items()},
                columns=[str(c) for c in entry["columns"]],
                intercept=bool(entry.get("intercept", True)),
                automatic=bool(entry.get("automatic", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the saved design is malformed ({exc!r})") from None
        columns, intercept = spec._build()
        if columns != spec.columns or intercept != spec.intercept:
            raise ValueError(
                f"the saved design {spec.formula!r} gives the columns {format_names(columns)} "
                f"instead of the saved {format_names(spec.columns)}"
            )
        return spec

    @classmethod
    def learn(
        cls,
        parsed: ParsedFormula,
        variables: list[str],
        text: set[str],
        levels: Callable[[list[str]], dict[str, list[Any]]],
        *,
        automatic: bool = False,
    ) -> Design:
        """The design of ``parsed`` over ``variables`` (``text`` are text columns), with
        ``levels(categorical columns)`` giving the levels of the categorical variables."""
        probe = cls(parsed.text, parsed.target, parsed.response, list(variables),
                    {c: ["a"] for c in variables if c in text}, automatic=automatic)  # fmt: skip
        probe._build()  # finds the categorical factors, with placeholder levels
        categorical = sorted({name for _, name in probe._categorical_factors()} | set(text))
        both = probe._numeric_uses(set(categorical) - set(text))
        if both:
            raise ParameterError(
                "formula",
                "{param} {value!r} uses {names} both as numbers and in C(); make a copy of "
                "the column for one of the two uses",
                value=parsed.text,
                names=format_names(sorted(both)),
            )
        found = levels(categorical) if categorical else {}
        result = cls(parsed.text, parsed.target, parsed.response, list(variables), found,
                     automatic=automatic)  # fmt: skip
        result.columns, result.intercept = result._build()
        return result

    def _numeric_uses(self, names: set[str]) -> set[str]:
        """Which of ``names`` (numeric columns used in C()) a numerical factor also reads."""
        if not names:
            return set()
        fm = _formulaic()
        used: set[str] = set()
        for factor, (kind, _) in self._specs[1].encoder_state.items():
            if getattr(kind, "value", kind) == "categorical":
                continue
            try:
                variables = fm.Formula(factor).required_variables
            except Exception:  # an unusual expression: its own name is the best guess
                variables = {factor}
            used |= set(variables) & names
        return used

    # ------------------------------------------------------------ the formulaic spec
    def _prototype(self, with_target: bool) -> Any:
        """A small frame with every level of every categorical variable, from which
        formulaic builds the spec (its encoding depends on the levels only)."""
        import pandas as pd

        n = max([2] + [len(v) for v in self.levels.values()])
        data: dict[str, Any] = {}
        for name in self.variables:
            levels = self.levels.get(name)
            if levels is None:
                data[name] = np.ones(n)
            else:
                codes = np.arange(n) % max(1, len(levels))
                data[name] = pd.Categorical.from_codes(codes, categories=levels)
        if with_target and self.target is not None and self.target not in data:
            data[self.target] = np.ones(n)
        return pd.DataFrame(data)

    def _build(self) -> tuple[list[str], bool]:
        """Build formulaic's spec; return the design columns and whether there is an
        intercept."""
        fm = _formulaic()
        with_target = self.response is not None and self.response != self.target
        formula = self.formula if with_target else self.formula.split("~", 1)[-1]
        proto = self._prototype(with_target)
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                matrices = fm.model_matrix(formula, proto, na_action="ignore")
        except Exception as exc:
            raise _evaluation_error(self.formula, exc) from None
        if with_target:
            rhs = matrices.rhs
            specs = (matrices.model_spec.lhs, matrices.model_spec.rhs)
            if matrices.lhs.shape[1] != 1:
                raise ParameterError(
                    "formula",
                    "{param} {value!r}: the left-hand side {response!r} gives "
                    "{count} columns; it must give one (the target)",
                    value=self.formula,
                    response=self.response,
                    count=matrices.lhs.shape[1],
                )
        else:
            rhs, specs = matrices, (None, matrices.model_spec)
        state = specs[1].transform_state
        if state:
            raise ParameterError(
                "formula",
                "{param} {value!r} uses {names}, which learn(s) from the data; the data is "
                "read in chunks, so compute such columns beforehand",
                value=self.formula,
                names=format_names(sorted(state)),
            )
        self._specs = specs
        names = [str(c) for c in rhs.columns]
        intercept = "Intercept" in names
        return [c for c in names if c != "Intercept"], intercept

    def _categorical_factors(self) -> list[tuple[str, str]]:
        """``(factor, variable)`` for every categorical factor of the built spec."""
        out = []
        for factor, (kind, _) in self._specs[1].encoder_state.items():
            if getattr(kind, "value", kind) != "categorical":
                continue
            name = _bare(factor)
            match = _C_FACTOR.match(factor.strip())
            if name is None and match:
                name = _bare(match.group(1))
            if name is None or name not in self.variables:
                raise ParameterError(
                    "formula",
                    "{param} {value!r}: the categorical factor {factor!r} must be a column "
                    "or C(column); compute its values as a column beforehand",
                    value=self.formula,
                    factor=factor,
                )
            out.append((factor, name))
        return out

    # ------------------------------------------------------------ encoding
    def encode(
        self, table: pa.Table, *, with_target: bool, row_offset: int = 0, label: str = "the data"
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The design matrix (and the response) of one chunk of raw columns.

        Rows with a missing value must have been removed (see :class:`DesignSource`).

        Raises
        ------
        ValueError
            A level the design does not know (naming the column, the level and its row),
            or a non-finite value made by the formula (naming the column and row).
        """
        import pandas as pd

        if self._specs is None:
            self._build()
        data: dict[str, Any] = {}
        for name in self.variables:
            column = table.column(name)
            levels = self.levels.get(name)
            if levels is None:
                data[name] = column.to_numpy(zero_copy_only=False)
                continue
            value_set = pa.array(levels)
            if pa.types.is_floating(column.type) and not pa.types.is_floating(value_set.type):
                value_set = value_set.cast(column.type)
            elif pa.types.is_string(value_set.type) and not pa.types.is_string(column.type):
                column = column.cast(pa.string())
            codes = pc.index_in(column, value_set=value_set)
            unseen = pc.and_(pc.is_null(codes), pc.is_valid(column))
            if pc.any(unseen).as_py():
                row = int(pc.index(unseen, True).as_py())
                value = column[row].as_py()
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                shown = format_names([str(v) for v in levels], 8)
                raise ValueError(
                    f"{label}: column {name!r} has the level {value!r} (data row "
                    f"{row_offset + row + 1}) that the model was not fitted on; its levels "
                    f"are {shown}"
                )
            codes_np = codes.fill_null(-1).to_numpy(zero_copy_only=False)
            data[name] = pd.Categorical.from_codes(codes_np, categories=levels)
        y = None
        if with_target and self.target is not None:
            if self.response is not None and self.response != self.target:
                data[self.target] = table.column(self.target).to_numpy(zero_copy_only=False)
            else:
                y = table.column(self.target).to_numpy(zero_copy_only=False)
        frame = pd.DataFrame(data, copy=False) if data else pd.DataFrame(index=range(len(table)))
        lhs_spec, rhs_spec = self._specs
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # log(0): reported below
                matrix = rhs_spec.get_model_matrix(frame, na_action="ignore")
                if with_target and y is None and lhs_spec is not None:
                    y = lhs_spec.get_model_matrix(frame, na_action="ignore").to_numpy()[:, 0]
        except Exception as exc:
            raise _evaluation_error(self.formula, exc) from None
        names = [str(c) for c in matrix.columns]
        keep = [j for j, c in enumerate(names) if c != "Intercept"]
        X = np.ascontiguousarray(matrix.to_numpy(dtype=np.float64)[:, keep])
        if [names[j] for j in keep] != self.columns:  # pragma: no cover - a formulaic change
            raise RuntimeError(f"formulaic gave the columns {names}, expected {self.columns}")
        if y is not None and y.dtype != object:
            y = np.array(y, dtype=np.float64)  # a copy: Arrow's buffers are read-only
        elif y is not None:
            y = np.array(y)
        return X, y

    def matrices(self, data: Any, *, target: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """``(X, y)`` of data in memory (a pandas DataFrame, pyarrow Table or dict of
        columns); ``y`` is None without a target (or with ``target=False``).

        Raises
        ------
        ValueError
            A missing column, a missing value, an unseen level, a non-finite result.
        """
        table = _as_table(data)
        needed = list(self.variables)
        has_target = target and self.target is not None and self.target in table.column_names
        if target and self.target is not None and not has_target:
            raise ValueError(f"the data has no column {self.target!r} for the target")
        if has_target:
            needed.append(str(self.target))
        _check_present(needed, table.column_names, "the data")
        table = _normalise(table.select(needed), self.levels)
        bad = _missing_mask(table)
        if bad is not None and bad.any():
            row = int(np.argmax(bad))
            raise ValueError(
                f"the data has {int(bad.sum())} row(s) with missing values (first: row "
                f"{row + 1}); drop or fill them first"
            )
        X, y = self.encode(table, with_target=has_target)
        _check_finite(X, self.columns, 0, "the data")
        return X, y


def _as_table(data: Any) -> pa.Table:
    """``data`` as an Arrow table (a pandas DataFrame, a dict of columns, a table)."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "to_arrow") and not isinstance(data, Mapping):  # polars
        return data.to_arrow()
    if isinstance(data, Mapping):
        return pa.table({str(k): np.asarray(v) for k, v in data.items()})
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - a dependency of formulaic
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise ValueError(
        f"data must be a pandas DataFrame, a pyarrow Table or a dict of columns, got "
        f"{type(data).__name__}"
    )


def _evaluation_error(formula: str, exc: Exception) -> ValueError:
    text = _ANSI.sub("", str(exc)).strip()
    reason = text.splitlines()[0] if text else type(exc).__name__
    return ParameterError(
        "formula", "{param} {value!r} cannot be evaluated: {reason}", value=formula, reason=reason
    )


def _check_present(needed: Sequence[str], columns: Sequence[str], label: str) -> None:
    missing = [c for c in needed if c not in columns]
    if missing:
        raise ParameterError(
            "formula",
            "{label} has no column(s) {missing} (read by the formula); the columns are {columns}",
            label=label,
            missing=format_names(missing),
            columns=format_names(list(columns)),
        )


def _normalise(table: pa.Table, levels: Mapping[str, Any]) -> pa.Table:
    """Numbers as float64 (categorical columns keep their type), dictionaries decoded."""
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_large_string(column.type):
            column = column.cast(pa.string())
        numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
        if name not in levels and (numeric or pa.types.is_boolean(column.type)):
            column = column.cast(pa.float64())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _missing_mask(table: pa.Table, names: Sequence[str] | None = None) -> np.ndarray | None:
    """Rows with a null or a non-finite number in the named columns (None if none)."""
    mask = None
    for name in names if names is not None else table.column_names:
        column = table.column(name)
        bad = pc.is_null(column, nan_is_null=True)
        if pa.types.is_floating(column.type):
            bad = pc.or_(bad, pc.fill_null(pc.is_inf(column), True))
        values = bad.to_numpy(zero_copy_only=False)
        if values.any():
            mask = values if mask is None else mask | values
    return mask


def _check_finite(X: np.ndarray, columns: Sequence[str], offset: int, label: str) -> None:
    if X.size and not np.isfinite(X.sum()):
        bad = ~np.isfinite(X)
        j = int(np.argmax(bad.any(axis=0)))
        row = int(np.argmax(bad[:, j]))
        raise ValueError(
            f"{label}: the formula's column {columns[j]!r} is not finite in data row "
            f"{offset + row + 1} (e.g. the log of 0); fix the data or the formula"
        )


# ---------------------------------------------------------------- learning the levels


def _sort_levels(values: set[Any], integer: bool) -> list[Any]:
    if integer:
        return sorted(int(v) for v in values)
    try:
        return sorted(values)
    except TypeError:  # mixed types: by their text
        return sorted(values, key=str)


def _too_many(name: str, count: int, more: bool, max_levels: int, others: Sequence[str]):
    counted = f"more than {count:,}" if more else f"{count:,}"
    return ParameterError(
        "features",
        "column {name!r} has {counted} distinct values, too many levels for a categorical "
        "column (at most {max_levels}, and fewer than half its values): is it an "
        "identifier? Leave it out, e.g. {0}",
        value=None,
        suggestions=[("features", list(others)[:8])],
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


def _automatic_formula(target: str | None, features: Sequence[str], text: set[str]) -> str:
    terms = [f"C({quote_name(c)})" if c in text else quote_name(c) for c in features]
    rhs = " + ".join(terms)
    return rhs if target is None else f"{quote_name(target)} ~ {rhs}"


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
    from torchlinear.data.tabular import TabularSource

    features = list(source.feature_names)
    text = set(source.text_features)
    automatic = formula is None
    if formula is None:
        formula = _automatic_formula(source.target, features, text)
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
    table = _normalise(_as_table(data), {})
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
        formula = _automatic_formula(target, features, text - {target})
        automatic = True
    else:
        automatic = False
    parsed = parse_formula(formula)
    needed = sorted(parsed.variables, key=names.index) if parsed.variables <= set(names) else []
    _check_present(
        sorted(parsed.variables) + ([parsed.target] if parsed.target else []), names, "the data"
    )
    text_used = {c for c in needed if c in text}

    def levels(categorical: list[str]) -> dict[str, list[Any]]:
        integer = [c for c in categorical if c not in text and _is_integral(table.column(c))]
        return collect_levels(iter([table]), categorical, max_levels, integer=integer,
                              others=needed)  # fmt: skip

    return Design.learn(parsed, needed, text_used, levels, automatic=automatic)


def _is_integral(column: pa.ChunkedArray) -> bool:
    values = column.drop_null().to_numpy(zero_copy_only=False)
    return bool(values.dtype.kind == "f" and np.all(np.mod(values[np.isfinite(values)], 1) == 0))


# ---------------------------------------------------------------- streaming a file


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

    # the source's description, unchanged
    def __getattr__(self, name: str) -> Any:
        if name in ("path", "format", "columns", "target", "task", "label", "row_offset",
                    "delimiter", "drop_na", "data_offset", "row_groups", "byte_range"):  # fmt: skip
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

    def iter_chunks(self) -> Iterator[tuple[np.ndarray, Any]]:
        """One pass: ``(X, y)`` per chunk, ``y`` None without a target."""
        spec, source = self.design, self.source
        with_target = source.target is not None
        read = list(spec.variables) + ([source.target] if with_target else [])
        counts: dict[str, list[int]] = {}
        seen = dropped = kept = bad_rows = 0
        for table in source.iter_tables():
            table = table.select(read)
            offset = source.row_offset + seen
            seen += table.num_rows
            bad = _missing_mask(table)
            if bad is not None:
                for name in read:
                    mask = _missing_mask(table, [name])
                    if mask is not None:
                        entry = counts.setdefault(name, [0, offset + int(np.argmax(mask)) + 1])
                        entry[0] += int(mask.sum())
                bad_rows += int(bad.sum())
                if not source.drop_na:
                    continue
                dropped += int(bad.sum())
                table = table.filter(pa.array(~bad))
            if bad_rows and not source.drop_na:
                continue
            if table.num_rows == 0:
                continue
            X, y = spec.encode(table, with_target=with_target, row_offset=offset,
                               label=source.label)  # fmt: skip
            finite = np.isfinite(X).all(axis=1) if X.size else None
            if y is not None and y.dtype == np.float64:
                finite = np.isfinite(y) if finite is None else finite & np.isfinite(y)
            if finite is not None and not finite.all():
                if not source.drop_na:
                    _check_finite(X, spec.columns, offset, source.label)
                    raise ValueError(
                        f"{source.label}: the target {spec.response!r} is not finite in data "
                        f"row {offset + int(np.argmin(finite)) + 1}; fix the data or the formula"
                    )
                dropped += int((~finite).sum())
                X, y = X[finite], None if y is None else y[finite]
            if len(X):
                kept += len(X)
                yield X, y
        source.n_rows = seen
        if bad_rows and not source.drop_na:
            shown = ", ".join(
                f"column {name!r} {count} (first in data row {first})"
                for name, (count, first) in list(counts.items())[:6]
            )
            raise ParameterError(
                "drop_na",
                "{label}: {rows} row(s) have missing or non-finite values (empty, NA, NaN or "
                "inf): {shown}; pass {0} to skip those rows, or fill them in",
                value=False,
                suggestions=[("drop_na", True)],
                label=source.label,
                rows=bad_rows,
                shown=shown,
            )
        self.n_dropped = dropped
        if kept == 0 and source.row_groups is None and source.byte_range is None:
            raise ValueError(
                f"{source.label}: all {seen} data rows have a missing or non-finite value in "
                "the columns the formula reads, so none is left"
            )

    def read_all(self) -> tuple[np.ndarray, Any]:
        """The whole design matrix in memory, ``(X, y)``."""
        Xs, ys = [], []
        for X, y in self.iter_chunks():
            Xs.append(X)
            ys.append(y)
        if not Xs:
            return np.empty((0, self.n_features)), None
        X = np.concatenate(Xs)
        if self.source.target is None:
            return X, None
        return X, np.concatenate(ys)
