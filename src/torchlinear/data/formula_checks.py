"""What a formula may do, checked before formulaic runs it, and formulaic's errors in one line.

formulaic evaluates a formula's factors as Python. :func:`check_evaluable` lets through
columns, arithmetic, formulaic's transforms and NumPy's element-wise functions only (a
formula may come from a model file anyone wrote), and refuses ``lag()``, which needs rows
a chunk does not have; :func:`check_powers` refuses a power of a long sum before formulaic
spends minutes expanding it. :func:`syntax_error` and :func:`evaluation_error` turn
formulaic's exceptions into the one-line errors of the ``formula`` parameter.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import numpy as np

from torchlinear._validation import ParameterError

__all__ = [
    "check_evaluable",
    "check_powers",
    "evaluation_error",
    "load_formulaic",
    "syntax_error",
]

_ANSI = re.compile(r"\x1b\[[0-9;]*m|[\u29da\u29db]")


def load_formulaic() -> Any:
    import formulaic  # costs about half a second: imported only when a formula is used

    return formulaic


def syntax_error(formula: str, exc: Exception) -> ValueError:
    text = _ANSI.sub("", str(exc)).strip()
    reason = text.splitlines()[0] if text else type(exc).__name__
    return ParameterError(
        "formula", "{param} {value!r} does not parse: {reason}", value=formula, reason=reason
    )


_TRANSFORMS = frozenset(
    "C I Q center scale standardize poly bs cr cs cc hashed log log2 log10 exp exp2 exp10 "
    "Treatment Sum Helmert Diff Poly".split()
)
"""formulaic's own functions that a formula may call by name."""
_NUMPY_EXTRA = frozenset({"round", "around", "clip", "where", "pi", "e", "inf", "nan"})
_CONTRASTS = frozenset({"treatment", "sum", "helmert", "diff", "poly", "custom", "SAS"})
_SAFE_NODES = (
    ast.Expression, ast.Call, ast.Name, ast.Attribute, ast.Constant, ast.BinOp, ast.UnaryOp,
    ast.BoolOp, ast.Compare, ast.IfExp, ast.keyword, ast.Tuple, ast.List, ast.Load,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)  # fmt: skip
_BACKTICKS = re.compile(r"`[^`]*`")
_LAG = re.compile(r"(?<![\w.])lag\s*\(")  # formulaic's lag(): the previous row's value


def _allowed_attribute(node: ast.Attribute) -> bool:
    """``np.<element-wise function>`` or ``contr.<contrast>``, nothing else."""
    if not isinstance(node.value, ast.Name) or node.attr.startswith("_"):
        return False
    if node.value.id == "np":
        return node.attr in _NUMPY_EXTRA or isinstance(getattr(np, node.attr, None), np.ufunc)
    return node.value.id == "contr" and node.attr in _CONTRASTS


def _unsafe_part(expr: str) -> str | None:
    """The part of a factor's Python expression that a formula may not evaluate (a call
    of anything but formulaic's transforms and NumPy's element-wise functions, an
    attribute, a subscript, a lambda...), or None when the expression is safe."""
    try:
        tree = ast.parse(_BACKTICKS.sub("quoted_column", expr), mode="eval")
    except SyntaxError:
        return expr
    for node in ast.walk(tree):
        if not isinstance(node, _SAFE_NODES):
            return ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            return node.id
        if isinstance(node, ast.Attribute) and not _allowed_attribute(node):
            return ast.unparse(node)
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id not in _TRANSFORMS:
                return ast.unparse(func)
            if not isinstance(func, ast.Name | ast.Attribute):
                return ast.unparse(func)
    return None


def check_evaluable(formula: str, parsed: Any = None) -> None:
    """Refuse a formula whose factors would run more than arithmetic on columns.

    formulaic evaluates each factor as Python: left alone, a formula read from a model
    file could call any function (open a file, run a program). A factor may use columns,
    numbers and strings, arithmetic and comparisons, formulaic's transforms (``C``,
    ``I``, ``Q``, ``center``...), the contrasts ``contr.*`` and NumPy's element-wise
    functions (``np.log``, ``np.sqrt``, ``np.clip``...).

    Raises
    ------
    ValueError
        Naming the formula and the call or expression refused.

    Examples
    --------
    >>> check_evaluable("np.log(y) ~ x1 * C(color) + I(x2 ** 2)")
    >>> check_evaluable("y ~ {open('f').read()}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: formula "y ~ {open('f').read()}" uses ...
    """
    if parsed is None:
        try:
            parsed = load_formulaic().Formula(formula)
        except Exception as exc:
            raise syntax_error(formula, exc) from None
    sides = [parsed.lhs, parsed.rhs] if hasattr(parsed, "lhs") else [parsed]
    for side in sides:
        for term in side:
            for factor in term.factors:
                if getattr(factor.eval_method, "value", factor.eval_method) != "python":
                    continue
                if _LAG.search(str(factor.expr)):
                    raise ParameterError(
                        "formula",
                        "{param} {value!r} uses lag(), which needs each row's predecessor; "
                        "the data is read in chunks, so compute the lagged column beforehand",
                        value=formula,
                    )
                part = _unsafe_part(str(factor.expr))
                if part is not None:
                    raise ParameterError(
                        "formula",
                        "{param} {value!r} uses {part!r}, which a formula may not evaluate; "
                        "use columns, numbers, arithmetic, C(), I() and NumPy's element-wise "
                        "functions such as np.log, or compute the column beforehand",
                        value=formula,
                        part=part,
                    )


_MAX_POWER_PRODUCTS = 200_000
"""``(a + b + ...)**n`` is expanded as all k**n products before they are simplified: 10**5
takes a second, 7**7 half a minute per parse (and a formula is parsed several times)."""


def check_powers(formula: str) -> None:
    """Refuse a power of a sum whose expansion would take minutes, saying what to write."""
    for match in re.finditer(r"\)\s*(?:\*\*|\^)\s*(\d+)", formula):
        close, depth, start = match.start(), 0, match.start()
        while start >= 0:  # the parenthesis that opens the sum
            depth += {")": 1, "(": -1}.get(formula[start], 0)
            if depth == 0:
                break
            start -= 1
        inner, level, terms = formula[start + 1 : close], 0, 1
        for char in inner:
            level += {"(": 1, ")": -1}.get(char, 0)
            terms += char == "+" and level == 0
        power = int(match.group(1))
        if terms > 1 and terms ** min(power, 64) > _MAX_POWER_PRODUCTS:
            raise ParameterError(
                "formula",
                "{param} {value!r}: ({inner}){op} expands {terms}^{power} products before "
                "simplifying them (minutes of work); write the interactions you mean: "
                "'a * b * c' for all of them, '(a + b + c)**2' for pairs",
                value=formula,
                inner=inner.strip(),
                op=formula[close + 1 : match.end()].replace(" ", ""),
                terms=terms,
                power=power,
            )


def evaluation_error(formula: str, exc: Exception) -> ValueError:
    text = _ANSI.sub("", str(exc)).strip()
    reason = text.splitlines()[0] if text else type(exc).__name__
    return ParameterError(
        "formula", "{param} {value!r} cannot be evaluated: {reason}", value=formula, reason=reason
    )
