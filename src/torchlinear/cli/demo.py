"""``torchlinear demo [TOPIC]``: the worked examples.

With no topic it runs linear regression three ways (the same as ``demo linreg``);
``demo softmax`` classifies the 8x8 digits. Each topic's options have no argparse default
(``argparse.SUPPRESS``): an option not typed is absent from the namespace, so options
typed before and after the topic combine, and the library's defaults fill in the rest.
The help shows those defaults from :mod:`torchlinear.demos.defaults`, which imports
nothing heavy.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from torchlinear.cli.base import Parser, print_table, print_warnings
from torchlinear.demos.defaults import LINREG_DEFAULTS, SOFTMAX_DEFAULTS

__all__ = ["TOPICS", "add_parser", "run_linreg", "run_softmax"]

LINREG_PARAMS = ("n", "w", "b", "noise", "lr", "batch_size", "epochs", "seed", "out", "device")
SOFTMAX_PARAMS = ("epochs", "lr", "batch_size", "alpha", "test_size", "seed", "out", "device")


def float_list(text: str) -> list[float]:
    """Parse ``"2,-3.4"`` (or one number of a space-separated list) into floats.

    Examples
    --------
    >>> float_list("2,-3.4"), float_list("1.5")
    ([2.0, -3.4], [1.5])
    """
    values = []
    for part in text.split(","):
        try:
            values.append(float(part))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected numbers separated by commas (e.g. --w=2,-3.4), got {text!r}"
            ) from None
    return values


def _option(parser: argparse.ArgumentParser, flag: str, help: str, **kwargs: Any) -> None:
    parser.add_argument(flag, default=argparse.SUPPRESS, help=help, **kwargs)


def add_linreg_options(parser: argparse.ArgumentParser) -> None:
    """The linear-regression demo's options."""
    d = LINREG_DEFAULTS
    w = ",".join(f"{v:g}" for v in d["w"])
    _option(parser, "--n", f"number of examples (default {d['n']})", type=int, metavar="N")
    _option(
        parser,
        "--w",
        "true weights, comma- or space-separated; write a leading negative as --w=-2,3.4 "
        f"(default {w})",
        type=float_list,
        nargs="+",
        metavar="W",
    )
    _option(parser, "--b", f"true bias (default {d['b']:g})", type=float, metavar="B")
    _option(
        parser,
        "--noise",
        f"standard deviation of the label noise (default {d['noise']:g})",
        type=float,
        metavar="SIGMA",
    )
    _common_options(parser, d, "demo", seeds="the data")
    parser.set_defaults(run=run_linreg, params=LINREG_PARAMS)


def _common_options(
    parser: argparse.ArgumentParser, d: Mapping[str, Any], name: str, *, seeds: str
) -> None:
    """Options both demos have: the SGD settings, the seed, the folder, the device."""
    _option(
        parser,
        "--lr",
        f"learning rate of scratch and concise SGD (default {d['lr']:g})",
        type=float,
        metavar="LR",
    )
    _option(
        parser,
        "--batch-size",
        f"minibatch size (default {d['batch_size']})",
        type=int,
        metavar="B",
    )
    _option(
        parser,
        "--epochs",
        f"passes over the data of scratch and concise (default {d['epochs']})",
        type=int,
        metavar="E",
    )
    _option(
        parser,
        "--seed",
        f"seeds {seeds}, the initial parameters and the shuffles (default {d['seed']})",
        type=int,
        metavar="S",
    )
    _option(
        parser,
        "--out",
        f"folder for the figures (default: a new ./runs/{name}-<timestamp>/)",
        metavar="DIR",
    )
    _option(
        parser,
        "--device",
        f"cpu, cuda, cuda:N, mps or auto (default {d['device']})",
        metavar="DEV",
    )
    _option(parser, "--no-progress", "hide the progress bars", action="store_true")


def add_softmax_topic(topics: argparse._SubParsersAction) -> None:
    """``demo softmax``: softmax regression on the 8x8 digits."""
    d = SOFTMAX_DEFAULTS
    parser = topics.add_parser(
        "softmax",
        help="softmax regression on 8x8 digit images: scratch, concise and SoftmaxRegression",
        description=(
            "Softmax regression on scikit-learn's 8x8 digit images (stratified train/test "
            "split with a fixed seed): from scratch, with torch.nn, and with "
            "SoftmaxRegression (L-BFGS). Prints the test accuracy and time of each and "
            "writes the training curves, confusion matrix, misclassified images and weight "
            "templates."
        ),
    )
    _option(
        parser,
        "--alpha",
        f"L2 penalty of SoftmaxRegression (default {d['alpha']:g})",
        type=float,
        metavar="A",
    )
    _option(
        parser,
        "--test-size",
        f"held-out fraction of the images (default {d['test_size']:g})",
        type=float,
        metavar="F",
    )
    _common_options(parser, d, "softmax", seeds="the split")
    parser.set_defaults(run=run_softmax, params=SOFTMAX_PARAMS)


def add_linreg_topic(topics: argparse._SubParsersAction) -> None:
    """``demo linreg``: the same as ``demo`` with no topic."""
    parser = topics.add_parser(
        "linreg",
        help="linear regression from scratch, concise and exact (the default)",
        description="Linear regression three ways on the textbook data; the same as "
        "`torchlinear demo` with no topic.",
    )
    add_linreg_options(parser)


TOPICS: list[Callable[[argparse._SubParsersAction], None]] = [add_linreg_topic, add_softmax_topic]
"""The functions that add one ``torchlinear demo <topic>`` parser each."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``demo`` and its topics."""
    parser = sub.add_parser(
        "demo",
        help="worked examples (default: linear regression from scratch, concise and exact)",
        description=(
            "Run a worked example. With no TOPIC: linear regression on the textbook data "
            "(w = [2, -3.4], b = 4.2), fitted from scratch, with torch.nn and in closed form; "
            "prints a comparison table and writes figures."
        ),
    )
    add_linreg_options(parser)
    topics = parser.add_subparsers(dest="topic", metavar="[TOPIC]", parser_class=Parser)
    for add_topic in TOPICS:
        add_topic(topics)


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def run_linreg(args: argparse.Namespace) -> int:
    """Run the linear-regression demo and print its table."""
    # imported when the command runs: building the parser never imports torch (fast --help)
    from torchlinear.demos import linreg

    kwargs = _given(args, LINREG_PARAMS)
    if "w" in kwargs:
        kwargs["w"] = [v for group in kwargs["w"] for v in group]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = linreg.run_linreg_demo(progress=not getattr(args, "no_progress", False), **kwargs)
    s = result.settings
    print(
        f"Linear regression three ways: n={s['n']}, w*={s['w']}, b*={s['b']:g}, "
        f"noise={s['noise']:g}, lr={s['lr']:g}, batch size {s['batch_size']}, "
        f"{s['epochs']} epoch(s), seed {s['seed']}, device {s['device']}"
    )
    print()
    print_table(*result.table())
    print()
    files = ", ".join(p.name for p in result.figures)
    print(f"Figures written to {result.out_dir}/: {files} (numbers in results.json)")
    print_warnings(caught, "demo")
    return 0


def run_softmax(args: argparse.Namespace) -> int:
    """Run the softmax demo and print its table."""
    # imported when the command runs: building the parser never imports torch (fast --help)
    from torchlinear.demos import softmax

    kwargs = _given(args, SOFTMAX_PARAMS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = softmax.run_softmax_demo(
            progress=not getattr(args, "no_progress", False), **kwargs
        )
    s = result.settings
    print(
        f"Softmax regression on {s['data']}: test size {s['test_size']:g}, seed {s['seed']}; "
        f"scratch/concise: lr={s['lr']:g}, batch size {s['batch_size']}, {s['epochs']} "
        f"epoch(s); SoftmaxRegression: alpha={s['alpha']:g}; device {s['device']}"
    )
    print()
    print_table(*result.table())
    print()
    files = ", ".join(p.name for p in result.figures)
    print(f"Pictures written to {result.out_dir}/: {files} (numbers in results.json)")
    print_warnings(caught, "demo")
    return 0
