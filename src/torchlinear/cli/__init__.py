"""The ``torchlinear`` command line: argument parsing and printing only.

One module per command (:mod:`~torchlinear.cli.demo`, :mod:`~torchlinear.cli.fit`,
:mod:`~torchlinear.cli.predict`, :mod:`~torchlinear.cli.evaluate`,
:mod:`~torchlinear.cli.summary`) adds its parser and holds the ``run`` function that calls
the library and prints what it returns; :mod:`~torchlinear.cli.errors` turns a user
mistake into one line on stderr and exit code 2, in the command line's words.

The parsers import nothing heavy, so that ``torchlinear --help`` and every
``torchlinear <command> --help`` answer at once: the library (torch, NumPy, pyarrow,
scikit-learn, matplotlib: seconds and hundreds of MB) is imported inside each command's
``run`` function, when the command actually runs. That is the one place where the command
line imports lazily; the option defaults come from modules that import nothing heavy
(:mod:`torchlinear.demos.defaults`).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Sequence

from torchlinear import __version__
from torchlinear.cli import demo, evaluate, fit, predict, summary
from torchlinear.cli.base import PROG, Parser
from torchlinear.cli.errors import fail, is_user_error

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = (demo, fit, predict, evaluate, summary)
"""The command modules, in the order ``--help`` lists them; each has ``add_parser``."""


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every command.

    Examples
    --------
    >>> args = build_parser().parse_args(["summary", "runs/houses", "--max-rows", "5"])
    >>> args.command, args.model, args.max_rows
    ('summary', 'runs/houses', 5)
    """
    parser = Parser(
        prog=PROG,
        description="Linear neural networks in PyTorch: learn them, then use them.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """Make SIGTERM stop a command as Ctrl-C does: one line and exit code 130, and during
    gradient training a checkpoint first (in the main thread; elsewhere nothing changes)."""
    if hasattr(signal, "SIGTERM"):
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, _terminated)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    A ``ValueError`` or ``OSError`` from the library is the user's mistake: one line on
    stderr, exit code 2. Anything else is a bug and keeps its traceback.

    Examples
    --------
    >>> main(["--version"])  # doctest: +SKIP
    torchlinear 0.1.0
    """
    stop_on_sigterm()
    args = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "run", None) is None:
            parser.print_help()
            return 2
        return int(args.run(args) or 0)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM, however early: one line, no traceback
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not is_user_error(exc):
            raise
        return fail(exc, getattr(args, "command", None))
