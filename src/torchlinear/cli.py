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

# --- demo -------------------------------------------------------------------------------
# ``torchlinear demo [TOPIC] [options]``: worked examples. With no topic it runs linear
# regression three ways (the same as ``torchlinear demo linreg``). Further topics register
# a function that adds their sub-parser with ``@demo_topic``.

DEMO_TOPICS: list[Callable[[argparse._SubParsersAction], None]] = []


def demo_topic(adder: Callable[[argparse._SubParsersAction], None]):
    """Register a function that adds one ``torchlinear demo <topic>`` parser."""
    DEMO_TOPICS.append(adder)
    return adder


def _float_list(text: str) -> list[float]:
    """Parse ``"2,-3.4"`` (or one number of a space-separated list) into floats."""
    values = []
    for part in text.split(","):
        try:
            values.append(float(part))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected numbers separated by commas (e.g. --w=2,-3.4), got {text!r}"
            ) from None
    return values


def _add_linreg_demo_options(parser: argparse.ArgumentParser) -> None:
    """The linear-regression demo's options (no argparse defaults: see ``_run_linreg_demo``)."""
    from torchlinear.demos.linreg import DEFAULTS as defaults

    w_default = ",".join(f"{v:g}" for v in defaults["w"])
    sup = argparse.SUPPRESS
    parser.add_argument(
        "--n",
        type=int,
        default=sup,
        metavar="N",
        help=f"number of examples (default {defaults['n']})",
    )
    parser.add_argument(
        "--w",
        type=_float_list,
        nargs="+",
        default=sup,
        metavar="W",
        help=f"true weights, comma- or space-separated; write a leading negative as "
        f"--w=-2,3.4 (default {w_default})",
    )
    parser.add_argument(
        "--b",
        type=float,
        default=sup,
        metavar="B",
        help=f"true bias (default {defaults['b']:g})",
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=sup,
        metavar="SIGMA",
        help=f"standard deviation of the label noise (default {defaults['noise']:g})",
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=sup,
        metavar="LR",
        help=f"learning rate of scratch and concise SGD (default {defaults['lr']:g})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=sup,
        metavar="B",
        help=f"minibatch size (default {defaults['batch_size']})",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=sup,
        metavar="E",
        help=f"passes over the data (default {defaults['epochs']})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=sup,
        metavar="S",
        help=f"seeds the data, the initial parameters and the shuffles "
        f"(default {defaults['seed']})",
    )
    parser.add_argument(
        "--out",
        default=sup,
        metavar="DIR",
        help="folder for the figures (default: a new ./runs/demo-<timestamp>/)",
    )
    parser.add_argument(
        "--device",
        default=sup,
        metavar="DEV",
        help=f"cpu, cuda, cuda:N, mps or auto (default {defaults['device']})",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        default=sup,
        help="hide the per-epoch progress bars",
    )
    parser.set_defaults(run=_run_linreg_demo)


def _run_linreg_demo(args: argparse.Namespace) -> int:
    import warnings

    from torchlinear.demos.linreg import run_linreg_demo

    # Options not given are absent from the namespace (argparse.SUPPRESS), so options typed
    # before and after the topic combine, and the library's defaults fill in the rest.
    names = ["n", "w", "b", "noise", "lr", "batch_size", "epochs", "seed", "out", "device"]
    kwargs = {name: getattr(args, name) for name in names if hasattr(args, name)}
    if "w" in kwargs:
        kwargs["w"] = [v for group in kwargs["w"] for v in group]
    progress = not getattr(args, "no_progress", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = run_linreg_demo(progress=progress, **kwargs)
        except ValueError as exc:
            # name the option as typed: "batch_size must be …" -> "--batch-size must be …"
            message = str(exc)
            first = message.split(" ", 1)[0]
            if first in names:
                message = "--" + first.replace("_", "-") + message[len(first) :]
            raise ValueError(message) from None
    s = result.settings
    print(
        f"Linear regression three ways: n={s['n']}, w*={s['w']}, b*={s['b']:g}, "
        f"noise={s['noise']:g}, lr={s['lr']:g}, batch size {s['batch_size']}, "
        f"{s['epochs']} epoch(s), seed {s['seed']}, device {s['device']}"
    )
    print()
    headers, rows = result.table()
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print()
    files = ", ".join(p.name for p in result.figures)
    print(f"Figures written to {result.out_dir}/: {files} (numbers in results.json)")
    for warning in caught:
        print(f"{PROG}: warning: {str(warning.message).splitlines()[0]}", file=sys.stderr)
    return 0


@subcommand
def _add_demo(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="worked examples (default: linear regression from scratch, concise and exact)",
        description=(
            "Run a worked example. With no TOPIC: linear regression on the textbook data "
            "(w = [2, -3.4], b = 4.2), fitted from scratch, with torch.nn and in closed form; "
            "prints a comparison table and writes figures."
        ),
    )
    _add_linreg_demo_options(parser)
    topics = parser.add_subparsers(dest="topic", metavar="[TOPIC]", parser_class=_Parser)
    for adder in DEMO_TOPICS:
        adder(topics)


@demo_topic
def _add_linreg_topic(topics: argparse._SubParsersAction) -> None:
    parser = topics.add_parser(
        "linreg",
        help="linear regression from scratch, concise and exact (the default)",
        description="Linear regression three ways on the textbook data; the same as "
        "`torchlinear demo` with no topic.",
    )
    _add_linreg_demo_options(parser)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
