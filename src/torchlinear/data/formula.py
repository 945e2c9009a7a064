r"""Formulas and the :class:`Design` they mean for one data set: parsing, building, encoding.

:func:`parse_formula` checks a formula such as ``y ~ x1 + np.log(x2) + C(color)`` and finds
the columns it reads, without any data. A :class:`Design` fixes what the formula means once
the levels of its categorical variables are known: formulaic's spec is built from a small
prototype frame holding every level, and :meth:`Design.encode` then turns any chunk of raw
columns into the same design matrix. Learning the levels from data, and streaming a file
through a design, is :mod:`torchlinear.data.design`'s part; what a formula may evaluate is
checked by :mod:`torchlinear.data.formula_checks`.

Examples
--------
>>> parsed = parse_formula("y ~ x + C(color)")
>>> spec = Design.learn(parsed, ["x", "color"], {"color"}, lambda names: {"color": ["b", "r"]})
>>> spec.columns
['x', 'C(color)[T.r]']
>>> import pyarrow as pa
>>> X, y = spec.matrices(pa.table({"y": [1.0, 2.0], "x": [3.0, 4.0], "color": ["r", "b"]}))
>>> X.tolist(), y.tolist()
([[3.0, 1.0], [4.0, 0.0]], [1.0, 2.0])
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from torchlinear._format import format_names
from torchlinear._memory import check_memory
from torchlinear._schema import Bool, Either, ListOf, MapOf, Maybe, Num, Record, Str
from torchlinear._validation import ParameterError
from torchlinear.data.csv_reader import is_number
from torchlinear.data.formula_checks import (
    check_evaluable,
    check_powers,
    evaluation_error,
    load_formulaic,
    syntax_error,
)
from torchlinear.data.onehot import OneHotPlan

__all__ = [
    "Design",
    "ParsedFormula",
    "automatic_formula",
    "parse_automatic",
    "parse_formula",
    "quote_name",
    "split_sides",
]

_C_FACTOR = re.compile(r"^C\(\s*(`[^`]+`|[A-Za-z_][A-Za-z0-9_.]*)\s*(,.*)?\)$", re.S)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")  # \Z: "x\n" is not a bare name


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


def split_sides(formula: str) -> tuple[str | None, str]:
    """``(left-hand side or None, right-hand side)`` of a formula, split at its first
    ``~`` outside backticks (a quoted column name may hold one).

    >>> split_sides("`a~b` ~ x"), split_sides("`x~` + z")
    (('`a~b`', 'x'), (None, '`x~` + z'))
    """
    quoted = False
    for i, ch in enumerate(formula):
        if ch == "`":
            quoted = not quoted
        elif ch == "~" and not quoted:
            return formula[:i].strip() or None, formula[i + 1 :].strip()
    return None, formula.strip()


def _factor_names(formula: Any) -> set[str]:
    """Names a formula's factors read as data (formulaic does not report the arguments of
    its stateful transforms, such as ``center(x)``): every name that is not called and
    not a module (``np.log``)."""
    names: set[str] = set()
    for term in formula:
        for factor in term.factors:
            expr = str(factor.expr)
            if getattr(factor.eval_method, "value", None) == "lookup":
                names.add(expr)  # a column's name, as it is (spaces, '#' and all)
                continue
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
    check_powers(formula)
    fm = load_formulaic()
    try:
        parsed = fm.Formula(formula)
    except Exception as exc:  # formulaic raises its own classes, and SyntaxError/ValueError
        raise syntax_error(formula, exc) from None
    # "~ a" parses as one side (no response), "y ~ a | b" as several parts
    lhs, rhs = getattr(parsed, "lhs", None), getattr(parsed, "rhs", parsed)
    if not isinstance(rhs, fm.formula.SimpleFormula) or (
        lhs is not None and not isinstance(lhs, fm.formula.SimpleFormula)
    ):
        raise ParameterError(
            "formula",
            "{param} {value!r} has several parts; write one 'response ~ terms' formula",
            value=formula,
        )
    check_evaluable(formula, parsed)
    try:
        variables = rhs.required_variables | _factor_names(rhs)
        response_vars = set() if lhs is None else lhs.required_variables | _factor_names(lhs)
    except Exception as exc:
        raise syntax_error(formula, exc) from None
    response = target = None
    if lhs is not None:
        response = split_sides(formula)[0]
        if len(response_vars) != 1:
            raise ParameterError(
                "formula",
                "{param} {value!r}: the left-hand side {response!r} must read exactly one "
                "column (the target)",
                value=formula,
                response=response,
            )
        (target,) = response_vars
    return ParsedFormula(formula, response, target, split_sides(formula)[1], frozenset(variables))


def automatic_formula(target: str | None, features: Sequence[str], text: set[str]) -> str:
    """The formula of a design without one: the ``text`` columns in ``C()``, the other
    features as they are.

    >>> automatic_formula("y", ["x", "kind"], {"kind"})
    'y ~ x + C(kind)'
    """
    terms = [f"C({quote_name(c)})" if c in text else quote_name(c) for c in features]
    rhs = " + ".join(terms)
    return rhs if target is None else f"{quote_name(target)} ~ {rhs}"


def parse_automatic(target: str | None, features: Sequence[str], text: set[str]) -> ParsedFormula:
    """What :func:`parse_formula` finds in :func:`automatic_formula`, without parsing it
    (formulaic takes time that grows with the square of the terms).

    Raises
    ------
    ValueError
        Naming the first column whose name holds a backtick or a backslash: a formula
        cannot quote it (formulaic's quotes have no escape), so it must be renamed.

    >>> parse_automatic("y", ["x", "kind"], {"kind"}).variables == {"x", "kind"}
    True
    """
    names = [*([] if target is None else [target]), *features]
    bad = next((n for n in names if "`" in n or "\\" in n), None)
    if bad is not None:
        raise ValueError(
            f"the column name {bad!r} cannot be written in the formula that one-hot encodes "
            f"the text column(s) {format_names(sorted(text))} (a formula cannot quote a "
            "backtick or a backslash); rename the column"
        )
    formula = automatic_formula(target, features, text)
    response = None if target is None else quote_name(target)
    return ParsedFormula(formula, response, target, split_sides(formula)[1], frozenset(features))


_GROUP_VARIABLES = 64  # variables of a design without a formula built by formulaic at once


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
    _plan: OneHotPlan | None = field(default=None, repr=False, compare=False)

    @property
    def text_variables(self) -> list[str]:
        """The categorical variables whose levels are text (the others hold numbers)."""
        return [
            name
            for name, levels in self.levels.items()
            if levels and all(isinstance(v, str) for v in levels)
        ]

    #: What :meth:`to_dict` writes (checked before :meth:`from_dict` reads a saved one).
    SCHEMA: ClassVar[Record] = Record(
        {
            "formula": Str(),
            "target": Maybe(Str()),
            "response": Maybe(Str()),
            "variables": ListOf(Str()),
            "levels": MapOf(
                ListOf(Either((Str(), Num(), Bool()), "a level (a string or a number)"))
            ),
            "columns": ListOf(Str()),
            "intercept": Bool(),
            "automatic": Bool(),
        },
        optional=("target", "response", "intercept", "automatic"),
    )

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
        if automatic:  # the text columns in C(), nothing else: no probe needed
            categorical, both = sorted(text), set()
        else:
            probe = cls(parsed.text, parsed.target, parsed.response, list(variables),
                        {c: ["a"] for c in variables if c in text})  # fmt: skip
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
        fm = load_formulaic()
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

    def _prototype(self, with_target: bool) -> Any:
        """A small frame with every level of every categorical variable, from which
        formulaic builds the spec (its encoding depends on the levels only)."""
        # formulaic works on pandas frames; pandas (about 0.3 s) only with a formula
        import pandas as pd

        n = max([2] + [len(v) for v in self.levels.values()])
        width = len(self.variables) + sum(len(v) for v in self.levels.values())
        check_memory(  # formulaic builds the prototype's design matrix, n rows by ~width
            3 * 8 * n * width,
            f"{width - len(self.variables):,} levels of categorical columns",
            "encoding the formula",
            advice="give the categorical columns fewer levels ({max_levels})",
        )
        data: dict[str, Any] = {}
        for j, name in enumerate(self.variables):
            levels = self.levels.get(name)
            if levels is None:  # distinct numbers: the direct encoding is checked on them
                data[name] = 1.0 + j * n + np.arange(n) if self.automatic else np.ones(n)
            else:
                codes = np.arange(n) % max(1, len(levels))
                data[name] = pd.Categorical.from_codes(codes, categories=levels)
        if with_target and self.target is not None and self.target not in data:
            data[self.target] = np.ones(n)
        return pd.DataFrame(data)

    def _build(self) -> tuple[list[str], bool]:
        """Build the spec; return the design columns and whether there is an intercept."""
        plain = self.response is None or self.response == self.target
        if self.automatic and plain:
            text = set(self.levels)
            if self.formula == automatic_formula(self.target, self.variables, text):
                built = self._build_in_groups()
                if built is not None:
                    return built
        return self._build_formulaic()

    def _build_in_groups(self) -> tuple[list[str], bool] | None:
        """A design without a formula, built by formulaic a group of variables at a time
        (its time grows with the square of the terms): the columns of a sum of terms are
        those of each term in turn. The design is then written directly
        (:mod:`torchlinear.data.onehot`), checked group by group; None if a group is not
        such a design (formulaic's whole spec is then built)."""
        columns: list[str] = []
        terms: list[tuple[str, int | None]] = []
        for lo in range(0, len(self.variables), _GROUP_VARIABLES):
            group = self.variables[lo : lo + _GROUP_VARIABLES]
            levels = {v: self.levels[v] for v in group if v in self.levels}
            formula = automatic_formula(None, group, set(levels))
            part = Design(formula, None, None, list(group), levels, automatic=True)
            names, intercept = part._build_formulaic()
            if not intercept or part._plan is None:
                return None
            columns += names
            terms += part._plan.terms
        self._specs = None
        self._plan = OneHotPlan(terms)
        return columns, True

    def _build_formulaic(self) -> tuple[list[str], bool]:
        """Build formulaic's spec of the whole formula; return the design columns and
        whether there is an intercept."""
        fm = load_formulaic()
        with_target = self.response is not None and self.response != self.target
        formula = self.formula if with_target else split_sides(self.formula)[1]
        check_evaluable(formula)  # a saved design is read from a file: never run its code
        proto = self._prototype(with_target)
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                matrices = fm.model_matrix(formula, proto, na_action="ignore")
        except Exception as exc:
            raise evaluation_error(self.formula, exc) from None
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
            self._check_numeric_response(specs[0])
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
        self._plan = None
        if self.automatic and intercept and not with_target:
            self._plan = self._direct_plan(proto, rhs, names)
        return [c for c in names if c != "Intercept"], intercept

    def _check_numeric_response(self, spec: Any) -> None:
        """Refuse a left-hand side that encodes the target as categories (``C(cyl)``):
        its levels would be learned from a prototype, not the data, and no regression
        fits a category; the column itself is the target of a classification."""
        kinds = [str(getattr(kind, "value", kind)) for kind, *_ in spec.encoder_state.values()]
        if "categorical" in kinds:
            raise ParameterError(
                "formula",
                "{param} {value!r}: the left-hand side {response!r} encodes the target as "
                "categories, which a regression cannot fit; to classify it, write the "
                "column {target!r} on the left with {0}",
                value=self.formula,
                suggestions=[("task", "classification")],
                response=self.response,
                target=self.target,
            )

    def _direct_plan(self, proto: Any, rhs: Any, names: list[str]) -> OneHotPlan | None:
        """The direct encoding of this design, if it gives formulaic's matrix of the
        prototype exactly (see :mod:`torchlinear.data.onehot`)."""
        terms = [(v, len(self.levels[v]) if v in self.levels else None) for v in self.variables]
        values = {
            v: proto[v].cat.codes.to_numpy() if v in self.levels else proto[v].to_numpy()
            for v in self.variables
        }
        keep = [j for j, c in enumerate(names) if c != "Intercept"]
        expected = rhs.to_numpy(dtype=np.float64)[:, keep]
        return OneHotPlan.checked(terms, values, len(proto), expected)

    def _categorical_factors(self) -> list[tuple[str, str]]:
        """``(factor, variable)`` for every categorical factor of the built spec."""
        out = []
        for factor, (kind, _) in self._specs[1].encoder_state.items():
            if getattr(kind, "value", kind) != "categorical":
                continue
            name = factor if factor in self.variables else _bare(factor)
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
        # formulaic works on pandas frames; pandas (about 0.3 s) only with a formula
        import pandas as pd

        if self._specs is None and self._plan is None:
            self._build()
        data: dict[str, Any] = {}
        # numbers and categories are written straight into X, without a pandas frame
        kinds = [table.column(v).type for v in self.variables if v not in self.levels]
        direct = self._plan is not None and all(
            pa.types.is_floating(t) or pa.types.is_integer(t) for t in kinds
        )
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
                raise _unseen_level(label, name, column[row].as_py(), row_offset + row, levels)
            codes_np = codes.fill_null(-1).to_numpy(zero_copy_only=False)
            data[name] = codes_np if direct else pd.Categorical.from_codes(codes_np, levels)
        y = None
        if with_target and self.target is not None:
            if self.response is not None and self.response != self.target:
                data[self.target] = table.column(self.target).to_numpy(zero_copy_only=False)
            else:
                y = table.column(self.target).to_numpy(zero_copy_only=False)
        if direct and self._plan is not None:
            return self._plan.encode(data, len(table)), _response(y)
        if self._specs is None:  # built in groups, but these columns need formulaic
            self._build_formulaic()
        frame = pd.DataFrame(data, copy=False) if data else pd.DataFrame(index=range(len(table)))
        lhs_spec, rhs_spec = self._specs
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # log(0): reported below
                matrix = rhs_spec.get_model_matrix(frame, na_action="ignore")
                if with_target and y is None and lhs_spec is not None:
                    y = lhs_spec.get_model_matrix(frame, na_action="ignore").to_numpy()[:, 0]
        except Exception as exc:
            raise evaluation_error(self.formula, exc) from None
        names = [str(c) for c in matrix.columns]
        keep = [j for j, c in enumerate(names) if c != "Intercept"]
        X = np.ascontiguousarray(matrix.to_numpy(dtype=np.float64)[:, keep])
        if [names[j] for j in keep] != self.columns:  # pragma: no cover - a formulaic change
            raise RuntimeError(f"formulaic gave the columns {names}, expected {self.columns}")
        return X, _response(y)

    def matrices(self, data: Any, *, target: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """``(X, y)`` of data in memory (a pandas DataFrame, pyarrow Table or dict of
        columns); ``y`` is None without a target (or with ``target=False``).

        Raises
        ------
        ValueError
            A missing column, a missing value, an unseen level, a non-finite result.
        """
        table = as_table(data)
        needed = list(self.variables)
        has_target = target and self.target is not None and self.target in table.column_names
        if target and self.target is not None and not has_target:
            raise ValueError(f"the data has no column {self.target!r} for the target")
        if has_target:
            needed.append(str(self.target))
        check_present(needed, table.column_names, "the data")
        table = normalise(table.select(needed), self.levels)
        bad = missing_mask(table)
        if bad is not None and bad.any():
            row = int(np.argmax(bad))
            raise ValueError(
                f"the data has {int(bad.sum())} row(s) with missing values (first: row "
                f"{row + 1}); drop or fill them first"
            )
        X, y = self.encode(table, with_target=has_target)
        check_finite(X, self.columns, 0, "the data")
        return X, y


def _response(y: Any) -> np.ndarray | None:
    """The response as a NumPy array of its own (Arrow's buffers are read-only)."""
    if y is None:
        return None
    return np.array(y, dtype=np.float64) if y.dtype != object else np.array(y)


def as_table(data: Any) -> pa.Table:
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
        # formulaic works on pandas frames; pandas (about 0.3 s) only with a formula
        import pandas as pd
    except ImportError:  # pragma: no cover - a dependency of formulaic
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise ValueError(
        f"data must be a pandas DataFrame, a pyarrow Table or a dict of columns, got "
        f"{type(data).__name__}"
    )


def check_present(needed: Sequence[str], columns: Sequence[str], label: str) -> None:
    missing = [c for c in needed if c not in columns]
    if missing:
        raise ParameterError(
            "formula",
            "{label} has no column(s) {missing} (read by the formula); the columns are {columns}",
            label=label,
            missing=format_names(missing),
            columns=format_names(list(columns)),
        )


def _unseen_level(label: str, name: str, value: Any, row: int, levels: list[Any]) -> ValueError:
    """A value of a categorical column that is none of the model's levels: a number
    where the model learned text is said so."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    shown = format_names([str(v) for v in levels], 8)
    text_levels = all(isinstance(v, str) and not is_number(v) for v in levels)
    if text_levels and is_number(value):
        return ValueError(
            f"{label}: column {name!r} holds the number {value} (data row {row + 1}), but the "
            f"model was fitted on it as a text column with the levels {shown}; give it those "
            "values, as in the data the model was fitted on"
        )
    return ValueError(
        f"{label}: column {name!r} has the level {value!r} (data row {row + 1}) that the "
        f"model was not fitted on; its levels are {shown}: give it one of them, or fit the "
        "model on data that has this level"
    )


def normalise(table: pa.Table, levels: Mapping[str, Any]) -> pa.Table:
    """Numbers as float64 (categorical columns keep their type), dictionaries decoded."""
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_large_string(column.type):
            column = column.cast(pa.string())
        numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
        if name not in levels and (numeric or pa.types.is_boolean(column.type)):
            column = column.cast(pa.float64(), safe=False)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def missing_mask(table: pa.Table, names: Sequence[str] | None = None) -> np.ndarray | None:
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


def infinite_counts(table: pa.Table, names: Sequence[str]) -> dict[str, int]:
    """How many cells of each named floating-point column are infinite (when any)."""
    out = {}
    for name in names:
        column = table.column(name)
        if pa.types.is_floating(column.type):
            count = pc.sum(pc.is_inf(column)).as_py() or 0
            if count:
                out[name] = int(count)
    return out


def check_finite(X: np.ndarray, columns: Sequence[str], offset: int, label: str) -> None:
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, or 1e308 + 1e308
        total = X.sum() if X.size else 0.0
    bad = None if np.isfinite(total) else ~np.isfinite(X)
    if bad is not None and bad.any():  # a sum of large finite values may overflow alone
        j = int(np.argmax(bad.any(axis=0)))
        row = int(np.argmax(bad[:, j]))
        raise ValueError(
            f"{label}: the formula's column {columns[j]!r} is not finite in data row "
            f"{offset + row + 1} (e.g. the log of 0); fix the data or the formula"
        )
