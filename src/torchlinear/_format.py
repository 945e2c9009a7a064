"""One way to write numbers and tables, for the terminal and for Markdown.

The command line's metric lines and tables, the fit report and the statistical summary
all format through here, so that the same number reads the same everywhere:

* :func:`format_number`: a float to ``digits`` significant digits (``0`` for zero,
  ``nan``/``inf`` spelled out, scientific notation below 1e-4 and from 10**digits up);
* :func:`format_count` (whole numbers in full), :func:`format_p_value`,
  :func:`format_seconds`;
* :func:`markdown_table` (padded columns, ``|`` escaped) and :func:`text_table` (first
  column left-aligned, the others right-aligned).

Every cell of a rendered table goes through :func:`escape_control`: a column name read
from a user's file cannot move the cursor, clear the screen or reverse the text of a
terminal that shows the table.

This module imports nothing heavy: the command line uses it before torch is loaded.
"""

from __future__ import annotations

import math
import numbers
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "escape_control",
    "figure_text",
    "fill_fields",
    "format_count",
    "free_name",
    "format_number",
    "format_p_value",
    "format_seconds",
    "markdown_table",
    "render_warning",
    "text_table",
]

MISSING = "–"
"""What a table shows for a value that does not exist (``None``)."""


def format_names(names: Sequence[Any], limit: int = 12) -> str:
    """``'a', 'b', 'c'``: at most ``limit`` names, then how many more.

    Examples
    --------
    >>> format_names(["x1", "x2"])
    "'x1', 'x2'"
    >>> format_names([f"c{i}" for i in range(5)], limit=2)
    "'c0', 'c1' and 3 more"
    """
    shown = ", ".join(repr(str(n)) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def format_number(value: Any, digits: int = 6) -> str:
    """A number to ``digits`` significant digits; integers and ``None`` as they are.

    Examples
    --------
    >>> [format_number(v) for v in (0.5, 2.0, -0.0, 1234567.0, 1e-7, float("nan"))]
    ['0.5', '2', '0', '1.23457e+06', '1e-07', 'nan']
    >>> format_number(3.14159265, 3), format_number(42), format_number(None)
    ('3.14', '42', '–')
    """
    if not isinstance(value, float):  # a float (NumPy's float64 too) needs none of these
        if value is None:
            return MISSING
        if isinstance(value, bool | str):
            return str(value)
        if isinstance(value, numbers.Integral):
            return str(int(value))
        value = float(value)
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return f"{value:.{digits}g}"


def format_count(value: Any) -> str:
    """A count, in full when it is whole (``1234567``), else as :func:`format_number`.

    Examples
    --------
    >>> format_count(1234567.0), format_count(12.5)
    ('1234567', '12.5')
    """
    if isinstance(value, numbers.Integral):
        return str(int(value))
    value = float(value)
    return str(int(value)) if value.is_integer() else format_number(value)


def format_p_value(value: Any) -> str:
    """A p-value to three decimals, ``<0.001`` below that.

    Examples
    --------
    >>> format_p_value(0.0312), format_p_value(1e-9), format_p_value(float("nan"))
    ('0.031', '<0.001', 'nan')
    """
    value = float(value)
    if math.isnan(value):
        return "nan"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def format_seconds(seconds: float) -> str:
    """A duration: milliseconds under a second, else seconds.

    Examples
    --------
    >>> format_seconds(0.5), format_seconds(12.345)
    ('500.0 ms', '12.35 s')
    """
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def escape_control(text: object) -> str:
    r"""``str(text)`` with control and format characters written as escapes.

    Terminal escape sequences, line breaks and invisible format characters (such as the
    right-to-left override) in a column name would otherwise act on the terminal or break
    the table's lines; a lone surrogate (a label from a badly decoded string) could not
    be written to it at all.

    Examples
    --------
    >>> escape_control("price\x1b[2J"), escape_control("a\nb"), escape_control("x\u202ey")
    ('price\\x1b[2J', 'a\\nb', 'x\\u202ey')
    >>> escape_control("R² (area)")
    'R² (area)'
    """
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(repr(ch)[1:-1] if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def free_name(name: str, taken: Iterable[Any]) -> str:
    """``name``, or ``(name)``, ``((name))``, ...: the first that is not in ``taken``.

    A row of a table that the library adds beside the user's columns (the intercept's)
    gets a name no column has, so that no two rows read alike.

    Examples
    --------
    >>> free_name("const", ["a", "b"]), free_name("const", ["const", "b"])
    ('const', '(const)')
    """
    taken = {str(t) for t in taken}
    while name in taken:
        name = f"({name})"
    return name


def figure_text(text: object) -> str:
    r"""``text`` (a column name, a class label) as a figure draws it, character for character.

    Control characters are escaped as :func:`escape_control` does (a font has no glyph for
    them), and so is ``$``, which matplotlib would take for the start of a formula: a
    label such as ``$\frac{$`` would make drawing the figure fail.

    Examples
    --------
    >>> figure_text("price in $"), figure_text("a\tb")
    ('price in \\$', 'a\\tb')
    """
    return escape_control(text).replace("$", "\\$")


def _cells(headers: Sequence[Any], rows: Sequence[Sequence[Any]]) -> list[list[str]]:
    table = [[escape_control(c) for c in headers]]
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f"row {i} has {len(row)} cells but there are {len(headers)} headers")
        table.append([escape_control(c) for c in row])
    return table


def markdown_table(
    headers: Sequence[Any], rows: Sequence[Sequence[Any]], *, escape_pipes: bool = True
) -> str:
    """A Markdown table with padded columns (readable as plain text too).

    ``escape_pipes=False`` leaves a ``|`` inside a cell as it is, for a terminal, where
    ``|b − b*|`` reads better than ``\\|b − b*\\|``.

    Examples
    --------
    >>> print(markdown_table(["method", "time"], [["scratch", "1.2 ms"], ["a|b", "3 s"]]))
    | method  | time   |
    |---------|--------|
    | scratch | 1.2 ms |
    | a\\|b    | 3 s    |
    """
    table = _cells(headers, rows)
    if escape_pipes:
        table = [[c.replace("|", "\\|") for c in row] for row in table]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(table[0]), rule, *(line(row) for row in table[1:])])


def text_table(headers: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """An aligned plain-text table: labels on the left, values right-aligned.

    Examples
    --------
    >>> print(text_table(["term", "coefficient"], [["(intercept)", "1"], ["x", "-2.5"]]))
    term         coefficient
    ------------------------
    (intercept)            1
    x                   -2.5
    """
    table = _cells(headers, rows)
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    head = line(table[0])
    return "\n".join([head, "-" * len(head), *(line(row) for row in table[1:])])


def fill_fields(template: str, params: Sequence[str], name: Callable[[str], str]) -> str:
    """``template`` with each ``{param}`` of ``params`` replaced by ``name(param)``; no other
    text is read as a field (a message may hold braces of its own).

    Examples
    --------
    >>> fill_fields("raise {max_iter} {not a field}", ["max_iter"], lambda p: "--epochs")
    'raise --epochs {not a field}'
    """
    for param in params:
        template = template.replace("{" + param + "}", name(param))
    return template


def warn_with_params(
    category: type[Warning], template: str, params: Sequence[str], stacklevel: int = 2
) -> None:
    """Warn with ``category``, whose message names parameters as ``{name}`` fields (each
    listed in ``params``): the text reads them in the library's spelling, and the warning
    keeps ``template`` and ``params`` so that an interface with other spellings (the
    command line's flags) re-spells it with :func:`render_warning`.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_with_params(UserWarning, "ill-conditioned; use {alpha} > 0", ["alpha"])
    >>> str(caught[0].message), render_warning(caught[0].message, lambda p: "--" + p)
    ('ill-conditioned; use alpha > 0', 'ill-conditioned; use --alpha > 0')
    """
    import warnings  # the command line's parsers import this module: nothing heavy here

    warning = category(fill_fields(template, params, str))
    warning.template, warning.params = template, tuple(params)  # type: ignore[attr-defined]
    warnings.warn(warning, stacklevel=stacklevel + 1)


def render_warning(message: Warning | str, name: Callable[[str], str]) -> str:
    """A warning's text with the parameters it names spelled by ``name(param)``: a warning
    made by :func:`warn_with_params` (or
    :func:`torchlinear._sklearn_protocol.warn_convergence`) keeps its ``template`` and
    ``params``; any other is its text as it is.

    Examples
    --------
    >>> render_warning(UserWarning("plain"), str.upper)
    'plain'
    """
    template = getattr(message, "template", None)
    if template is None:
        return str(message)
    return fill_fields(template, getattr(message, "params", ()), name)
