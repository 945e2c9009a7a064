"""What every command shares: the parser class and the way results reach the terminal."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from torchlinear._format import escape_control, markdown_table, render_warning
from torchlinear.cli.errors import PROG, rank_label, shorten, spell

__all__ = ["PROG", "Parser", "print_table", "print_warnings"]


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are a single line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table with padded columns (Markdown, but a ``|`` in a cell stays as it is).

    Examples
    --------
    >>> print_table(["method", "time"], [["exact", "0.6 ms"]])
    | method | time   |
    |--------|--------|
    | exact  | 0.6 ms |
    """
    print(markdown_table(headers, rows, escape_pipes=False))


def print_warnings(caught: Iterable[warnings.WarningMessage], command: str | None = None) -> None:
    """Print each distinct warning's first line on stderr (deprecations left out).

    A warning that names parameters (its ``template`` and ``params``, see
    :func:`torchlinear._sklearn_protocol.warn_convergence`) names their flags instead.
    """
    seen = set()
    for w in caught:
        text = render_warning(w.message, lambda param: spell(param, command))
        text = text.splitlines()[0] if text else w.category.__name__
        if text not in seen and not issubclass(w.category, DeprecationWarning):
            seen.add(text)
            text = shorten(escape_control(text))
            print(f"{PROG}: warning{rank_label()}: {text}", file=sys.stderr)
