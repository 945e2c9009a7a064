"""The ``torchlinear`` command line: argument parsing and printing only.

One module per command (:mod:`~torchlinear.cli.demo`, :mod:`~torchlinear.cli.fit`,
:mod:`~torchlinear.cli.predict`, :mod:`~torchlinear.cli.evaluate`,
:mod:`~torchlinear.cli.summary`) adds its parser and holds the ``run`` function that calls
the library and prints what it returns; :mod:`~torchlinear.cli.errors` turns a user
mistake into one line on stderr and exit code 2, in the command line's words.

The parsers import nothing heavy, so that ``torchlinear --help`` and every
``torchlinear <command> --help`` answer at once: the library (torch, NumPy, pyarrow,
scikit-learn, matplotlib: seconds and hundreds of MB) is imported only when a command
actually runs (:func:`import_libraries`, where Ctrl-C stops at once with one line, then
inside each command's ``run`` function). That is the one place where the command
line imports lazily; the option defaults come from modules that import nothing heavy
(:mod:`torchlinear.demos.defaults`).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from torchlinear import __version__
from torchlinear.cli import demo, evaluate, fit, predict, summary
from torchlinear.cli.base import PROG, Parser
from torchlinear.cli.errors import fail, is_user_error

__all__ = ["COMMANDS", "EXIT_PIPE_CLOSED", "build_parser", "main"]

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


_M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Under an address-space limit (``ulimit -v``), let the C allocator keep at most
    ``arenas`` arenas; elsewhere change nothing.

    glibc reserves 64 MB of address space for each arena, and gives one to every thread
    that allocates: the thread pools of torch, pyarrow and polars then spend gigabytes
    of such a limit on reservations they never use, and an ordinary fit aborts inside a
    native library instead of staying within the memory budget (which the limit caps).
    """
    try:
        import resource  # POSIX only

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):
        return
    if soft == resource.RLIM_INFINITY:
        return
    with contextlib.suppress(OSError, AttributeError, TypeError, ValueError):
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, arenas)  # glibc only; else nothing to do


STARTUP_MODULES = {"demo": ("torchlinear.demos",)}
"""What a command imports before it runs (default: :mod:`torchlinear.workflow`)."""


def _exit_interrupted(signum: int, frame: object) -> None:
    sys.stderr.write(f"{PROG}: interrupted\n")
    sys.stderr.flush()
    os._exit(130)


def import_libraries(command: str | None) -> None:
    """Import the libraries ``command`` needs (seconds: torch, NumPy, SciPy, pyarrow), with
    Ctrl-C and SIGTERM meaning "stop now": one line, exit code 130.

    An interrupt inside an import would leave modules half-initialised (and the next use
    of them failing with an unrelated error); nothing has been written yet at this point,
    so stopping at once is safe. The usual handlers are restored afterwards.
    """
    names = STARTUP_MODULES.get(command or "", ("torchlinear.workflow",))
    signals = [getattr(signal, n) for n in ("SIGINT", "SIGTERM") if hasattr(signal, n)]
    try:
        previous = {s: signal.getsignal(s) for s in signals}
        for s in signals:
            if previous[s] is not signal.SIG_IGN:  # nohup and friends keep their choice
                signal.signal(s, _exit_interrupted)
    except ValueError:  # not the main thread: import as usual
        previous = {}
    try:
        for name in names:
            importlib.import_module(name)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


EXIT_PIPE_CLOSED = 141
"""The exit code when the reader of the output went away (``torchlinear summary RUN |
head -1``): 128 + SIGPIPE, what the shell reports for a Unix tool that a closed pipe
stopped. Nothing more is printed; a fit stopped this way leaves no half-written run."""


def _pipe_closed() -> int:
    """Stop quietly: the rest of the output, and Python's final flush of it, go nowhere."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
    return EXIT_PIPE_CLOSED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    A ``ValueError`` or ``OSError`` from the library is the user's mistake: one line on
    stderr, exit code 2. Anything else is a bug and keeps its traceback. Output into a
    pipe that its reader closed (``| head``) ends the command quietly with exit code
    :data:`EXIT_PIPE_CLOSED`, as it ends a Unix tool.

    Examples
    --------
    >>> main(["--version"])  # doctest: +SKIP
    torchlinear 0.1.0
    """
    stop_on_sigterm()
    limit_malloc_arenas()
    args = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "run", None) is None:
            parser.print_help()
            return 2
        import_libraries(args.command)
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's flush at exit
        return code
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM, however early: one line, no traceback
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output has gone: not a mistake
        return _pipe_closed()
    except Exception as exc:
        if not is_user_error(exc):
            raise
        try:
            return fail(exc, getattr(args, "command", None))
        except BrokenPipeError:  # nobody reads stderr either
            return _pipe_closed()
