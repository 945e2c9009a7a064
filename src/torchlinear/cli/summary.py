"""``torchlinear summary MODEL``: what was fitted, its metrics, its coefficients."""

from __future__ import annotations

import argparse
import json

__all__ = ["PARAMS", "add_parser", "run"]

PARAMS = ("model", "max_rows", "cov_type")
"""The library parameters the command passes to :func:`torchlinear.workflow.model_summary`."""

EXAMPLES = """\
examples:
  torchlinear summary runs/houses
  torchlinear summary runs/houses/model.json --max-rows 20
  torchlinear summary runs/houses --json          (the statistical summary as one JSON object)
  torchlinear summary runs/houses --cov HC1       (a fit made with a robust --cov)
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
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the statistical summary of a least-squares fit as one JSON object",
    )
    parser.add_argument(
        "--cov",
        dest="cov_type",
        metavar="TYPE",
        help="standard errors: nonrobust or HC0..HC3 (default: the fit's --cov; a robust "
        "type needs a fit made with one)",
    )
    parser.set_defaults(run=run, params=PARAMS)


def run(args: argparse.Namespace) -> int:
    """Print the model's description (or its statistical summary as JSON)."""
    # imported when the command runs: building the parser never imports torch (fast --help)
    from torchlinear._validation import check_positive_int
    from torchlinear.workflow import model_summary, summary_json

    if args.json:
        print(json.dumps(summary_json(args.model, cov_type=args.cov_type), indent=2))
        return 0
    max_rows = check_positive_int("max_rows", args.max_rows)
    print(model_summary(args.model, max_rows=max_rows, cov_type=args.cov_type))
    return 0
