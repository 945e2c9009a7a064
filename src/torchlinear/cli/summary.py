"""``torchlinear summary MODEL``: what was fitted, its metrics, its coefficients."""

from __future__ import annotations

import argparse

__all__ = ["PARAMS", "add_parser", "run"]

PARAMS = ("model", "max_rows")
"""The library parameters the command passes to :func:`torchlinear.workflow.model_summary`."""

EXAMPLES = """\
examples:
  torchlinear summary runs/houses
  torchlinear summary runs/houses/model.json --max-rows 20
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``summary``."""
    parser = sub.add_parser(
        "summary",
        help="describe a fitted model: settings, metrics, coefficients or statistical summary",
        description="Describe a model written by `torchlinear fit`: what was fitted, its "
        "metrics, and the statistical summary (standard errors, t, p-values, confidence "
        "intervals; as statsmodels' OLS) of an unpenalised least-squares fit, else the "
        "coefficient table.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="the fit's folder or its model.json")
    parser.add_argument(
        "--max-rows", type=int, default=50, metavar="N", help="features shown at most (50)"
    )
    parser.set_defaults(run=run, params=PARAMS)


def run(args: argparse.Namespace) -> int:
    """Print the model's description."""
    from torchlinear._validation import check_positive_int
    from torchlinear.workflow import model_summary

    print(model_summary(args.model, max_rows=check_positive_int("max_rows", args.max_rows)))
    return 0
