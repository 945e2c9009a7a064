"""The ``torchlinear`` command line: argument parsing and printing only.

Every subcommand parses its arguments, calls the library and prints what it returns.
A user mistake (any ``ValueError``/``OSError`` raised by the library at its boundary)
becomes one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

__all__ = ["main", "build_parser"]

PROG = "torchlinear"


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are a single line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


# ---------------------------------------------------------------------------------------
# Subcommands. Each ``_add_<name>`` adds its parser and sets ``run`` to a function that
# takes the parsed namespace and returns the exit code.
# ---------------------------------------------------------------------------------------

SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def subcommand(adder: Callable[[argparse._SubParsersAction], None]):
    """Register a function that adds one subcommand's parser."""
    SUBCOMMANDS.append(adder)
    return adder


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every registered subcommand."""
    parser = _Parser(
        prog=PROG,
        description="Linear neural networks in PyTorch: learn them, then use them.",
    )
    from torchlinear import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for adder in SUBCOMMANDS:
        adder(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Examples
    --------
    >>> main(["--version"])  # doctest: +SKIP
    torchlinear 0.1.0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:
        return _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


# ---------------------------------------------------------------------------------------
# (subcommands are defined below this line, one section each, before main's guard)
# ---------------------------------------------------------------------------------------

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
